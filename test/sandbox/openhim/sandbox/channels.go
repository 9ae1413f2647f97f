package sandbox

// Channels and clients (OpenHIM core src/model/channels.js; OpenHIM core src/middleware/basicAuthentication.js): storage, the API's channel checks,
// request matching and client authentication on the router.

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// dupKeyError is MongoDB's unique index violation.
func dupKeyError(collection, index, key, value string) error {
	return &jsError{"MongoServerError", fmt.Sprintf(`E11000 duplicate key error collection: openhim.%s index: %s dup key: { %s: "%s" }`,
		collection, index, key, value)}
}

// insertChannel saves a new channel (mongoose validation and the unique
// name index; none of the API's channel checks).
func (s *Server) insertChannel(v any) (*docRec, error) {
	doc, err := castInsert("Channel", channelFields, v, s.newID)
	if err != nil {
		return nil, err
	}
	name, _ := doc.vals["name"].(string)
	if s.channelByName(name) != nil {
		return nil, dupKeyError("channels", "name_1", "name", name)
	}
	r := &docRec{id: s.newID(), doc: doc}
	s.channels = append(s.channels, r)
	s.log.Info("channel added", "name", name)
	return r, nil
}

func (s *Server) channelByName(name string) *docRec {
	for _, c := range s.channels {
		if c.doc.vals["name"] == name {
			return c
		}
	}
	return nil
}

func (s *Server) channelByID(id string) *docRec {
	for _, c := range s.channels {
		if c.id == id {
			return c
		}
	}
	return nil
}

// insertClient saves a new client (mongoose validation, unique clientID).
func (s *Server) insertClient(v any) (*docRec, error) {
	doc, err := castInsert("Client", clientFields, v, s.newID)
	if err != nil {
		return nil, err
	}
	id, _ := doc.vals["clientID"].(string)
	if s.clientByClientID(id) != nil {
		return nil, dupKeyError("clients", "clientID_1", "clientID", id)
	}
	r := &docRec{id: s.newID(), doc: doc}
	s.clients = append(s.clients, r)
	return r, nil
}

func (s *Server) clientByClientID(id string) *docRec {
	for _, c := range s.clients {
		if c.doc.vals["clientID"] == id {
			return c
		}
	}
	return nil
}

func (s *Server) clientByID(id string) *docRec {
	for _, c := range s.clients {
		if c.id == id {
			return c
		}
	}
	return nil
}

func isRouteEnabled(r Route) bool { return r.Status == "" || r.Status == "enabled" }

func numberOfPrimaryRoutes(routes []Route) int {
	n := 0
	for _, r := range routes {
		if isRouteEnabled(r) && r.Primary {
			n++
		}
	}
	return n
}

var pathTransformRE = regexp.MustCompile(`s/.*/.*`)

// channelAPIChecks are the checks of POST /channels (core:src/api/channels.js)
// that /metadata and /mediators/:urn/channels skip. The wording of the
// messages other than the primary-route ones is approximate.
func channelAPIChecks(ch Channel) string {
	for _, r := range ch.Routes {
		if (r.Path != "" && r.PathTransform != "") || (r.PathTransform != "" && !pathTransformRE.MatchString(r.PathTransform)) {
			return "Channel cannot have both path and pathTransform. pathTransform must be of the form s/from/to[/g]"
		}
	}
	if ch.Priority != nil && *ch.Priority < 1 {
		return "Channel priority cannot be below 1 (= Highest priority)"
	}
	if len(ch.Methods) > 0 {
		if t := ch.Type; t != "" && t != "http" {
			return "Channel method can't be defined if channel type is not http"
		}
		var repeated []string
		for i, m := range ch.Methods {
			if slices.Contains(ch.Methods[:i], m) && !slices.Contains(repeated, m) {
				repeated = append(repeated, m)
			}
		}
		if len(repeated) > 0 {
			return "Channel methods can't be repeated. Repeated methods are " + strings.Join(repeated, ", ")
		}
	}
	if ch.Timeout != nil && *ch.Timeout <= 0 {
		return "Channel timeout should be a positive number"
	}
	if ch.MaxBodyAgeDays != nil {
		if (ch.RequestBody == nil || !*ch.RequestBody) && (ch.ResponseBody == nil || !*ch.ResponseBody) {
			return "Cannot set maxBodyAgeDays with request and response body both disabled"
		}
		if *ch.MaxBodyAgeDays < 1 || *ch.MaxBodyAgeDays > 36500 {
			return "maxBodyAgeDays must be between 1 and 36500"
		}
	}
	switch n := numberOfPrimaryRoutes(ch.Routes); {
	case n == 0:
		return "Channel must have a primary route"
	case n > 1:
		return "Channel cannot have a multiple primary routes"
	}
	return ""
}

// addChannelAPI is POST /channels.
func (s *Server) addChannelAPI(body any) reply {
	doc, err := castInsert("Channel", channelFields, body, s.newID)
	if err != nil {
		return text(http.StatusBadRequest, "Could not add channel via the API: "+errString(err))
	}
	var ch Channel
	decodeDoc(doc, &ch)
	if msg := channelAPIChecks(ch); msg != "" {
		return text(http.StatusBadRequest, msg)
	}
	if _, err := s.insertChannel(body); err != nil {
		return text(http.StatusBadRequest, "Could not add channel via the API: "+errString(err))
	}
	return text(http.StatusCreated, "Channel successfully created")
}

func (s *Server) postChannel(c *apiCtx) reply {
	if !c.isAdmin() {
		return c.notAdmin("addChannel")
	}
	return s.addChannelAPI(c.body)
}

func (s *Server) getChannels(c *apiCtx) reply {
	out := []any{}
	for _, ch := range s.channels {
		if c.isAdmin() || s.userMayView(c, ch) {
			out = append(out, withID(ch))
		}
	}
	return koaBody(http.StatusOK, out)
}

func (s *Server) userMayView(c *apiCtx, ch *docRec) bool {
	groups := arrayFrom(c.user.doc.vals["groups"])
	for _, g := range arrayFrom(ch.doc.vals["txViewAcl"]) {
		if slices.Contains(groups, g) {
			return true
		}
	}
	return false
}

func (s *Server) getChannel(c *apiCtx) reply {
	ch := s.channelByID(c.params[0])
	if ch == nil {
		return text(http.StatusNotFound, fmt.Sprintf("We could not find a channel with Id:'%s'.", c.params[0]))
	}
	if !c.isAdmin() && !s.userMayView(c, ch) {
		return c.notAdmin("getChannel")
	}
	return koaBody(http.StatusOK, withID(ch))
}

func (s *Server) getClients(c *apiCtx) reply {
	if !c.isAdmin() {
		return c.notAdmin("getClients")
	}
	out := []any{}
	for _, cl := range s.clients {
		out = append(out, withID(cl))
	}
	return koaBody(http.StatusOK, out)
}

// postClient is POST /clients; on master a clientID may not equal a role
// name (a role is a name in some channel's allow list or client's roles).
func (s *Server) postClient(c *apiCtx) reply {
	if !c.isAdmin() {
		return c.notAdmin("addClient")
	}
	return s.addClientAPI(c.body)
}

func (s *Server) addClientAPI(body any) reply {
	if id, ok := get(body, "clientID").(string); ok && s.isRole(id) {
		return text(http.StatusConflict, fmt.Sprintf("A role name conflicts with clientID '%s'. A role name cannot be the same as a clientID.", id))
	}
	r, err := s.insertClient(body)
	if err != nil {
		return text(http.StatusBadRequest, "Could not add client via the API: "+errString(err))
	}
	return text(http.StatusCreated, fmt.Sprintf("Client successfully created with id %s", r.id))
}

func (s *Server) isRole(name string) bool {
	for _, c := range s.clients {
		if slices.Contains(arrayFrom(c.doc.vals["roles"]), any(name)) {
			return true
		}
	}
	return false
}

// compiledPattern compiles a urlPattern as JavaScript's RegExp would; a
// pattern Go's RE2 cannot compile (lookarounds, backreferences) matches
// nothing.
func (s *Server) compiledPattern(p string) *regexp.Regexp {
	re, err := regexp.Compile(p)
	if err != nil {
		s.log.Warn("channel urlPattern not supported by the sandbox (RE2 syntax)", "pattern", p, "err", err)
		return nil
	}
	return re
}

// channelsInPriorityOrder: channels with a priority first (1 = highest),
// then those without, each in insertion order (OpenHIM core src/model/channels.js).
func (s *Server) channelsInPriorityOrder() []*docRec {
	out := slices.Clone(s.channels)
	slices.SortStableFunc(out, func(a, b *docRec) int {
		pa, oka := a.doc.vals["priority"].(float64)
		pb, okb := b.doc.vals["priority"].(float64)
		switch {
		case oka && okb:
			return cmpFloat(pa, pb)
		case oka:
			return -1
		case okb:
			return 1
		}
		return 0
	})
	return out
}

// matchChannel is core's request matching: the first enabled channel, in
// priority order, whose urlPattern (unanchored) matches the path, whose
// methods list the method (an empty list matches nothing, 7.0.1+), and
// whose matchContentTypes (if any) contain the request's content type.
func (s *Server) matchChannel(path, method, contentType string) *docRec {
	ct := strings.TrimSpace(strings.Split(contentType, ";")[0])
	for _, r := range s.channelsInPriorityOrder() {
		ch := channelOf(r)
		if ch.Status != "" && ch.Status != "enabled" {
			continue
		}
		re := s.compiledPattern(ch.URLPattern)
		if re == nil || !re.MatchString(path) {
			continue
		}
		if !slices.Contains(ch.Methods, method) {
			continue
		}
		if len(ch.MatchContentTypes) > 0 && (contentType == "" || !slices.Contains(ch.MatchContentTypes, ct)) {
			continue
		}
		return r
	}
	return nil
}

// authenticateClient is basic client authentication (OpenHIM core src/middleware/basicAuthentication.js): a node
// hash algorithm compares hex(hash(password + passwordSalt)); bcrypt and
// other algorithms are not supported by the sandbox (the client is then
// unauthenticated).
func (s *Server) authenticateClient(r *http.Request) *docRec {
	id, password, ok := parseBasic(r.Header.Get("Authorization"))
	if !ok {
		return nil
	}
	c := s.clientByClientID(id)
	if c == nil {
		return nil
	}
	algo, _ := c.doc.vals["passwordAlgorithm"].(string)
	want, _ := c.doc.vals["passwordHash"].(string)
	salt, _ := c.doc.vals["passwordSalt"].(string)
	if algo == "" || want == "" {
		return nil
	}
	h := nodeHash(algo)
	if h == nil {
		s.log.Warn("client password algorithm not supported by the sandbox", "client", id, "algorithm", algo)
		return nil
	}
	h.Write([]byte(password + salt))
	if subtle.ConstantTimeCompare([]byte(hex.EncodeToString(h.Sum(nil))), []byte(want)) == 1 {
		return c
	}
	return nil
}

func nodeHash(name string) hash.Hash {
	switch strings.ToLower(name) {
	case "md5":
		return md5.New()
	case "sha1":
		return sha1.New()
	case "sha224":
		return sha256.New224()
	case "sha256":
		return sha256.New()
	case "sha384":
		return sha512.New384()
	case "sha512":
		return sha512.New()
	}
	return nil
}

// ClientWithPassword returns a client that authenticates with Basic auth as
// clientID:password, hashed as the console does: sha512, a 16-byte random
// hex salt, hex(sha512(password + salt)).
func ClientWithPassword(clientID, name, password string, roles ...string) Client {
	salt := randomHex(16)
	sum := sha512.Sum512([]byte(password + salt))
	return Client{
		ClientID: clientID, Name: name, Roles: roles,
		PasswordAlgorithm: "sha512", PasswordSalt: salt, PasswordHash: hex.EncodeToString(sum[:]),
	}
}

// authorised is core's channel authorisation (OpenHIM core src/middleware/basicAuthentication.js): the IP whitelist
// (if any) and then a public channel, or a client role or clientID in allow.
func authorised(ch Channel, client *docRec, ip string) bool {
	if len(ch.Whitelist) > 0 && !slices.Contains(ch.Whitelist, ip) {
		return false
	}
	if ch.AuthType == "public" {
		return true
	}
	if client == nil {
		return false
	}
	for _, role := range arrayFrom(client.doc.vals["roles"]) {
		if slices.Contains(ch.Allow, jsString(role)) {
			return true
		}
	}
	id, _ := client.doc.vals["clientID"].(string)
	return slices.Contains(ch.Allow, id)
}

// AddChannel adds a channel as POST /channels does (mongoose validation,
// unique name, and the API checks: one enabled primary route, path vs
// pathTransform, priority, methods, timeout). Use ImportMetadata to add a
// channel without the API checks.
func (s *Server) AddChannel(ch Channel) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch.ID = ""
	rep := s.addChannelAPI(fromPlain(ch))
	if rep.status != http.StatusCreated {
		return fmt.Errorf("add channel %q: %d %s", ch.Name, rep.status, rep.body)
	}
	return nil
}

// AddClient adds a client as POST /clients does. See ClientWithPassword.
func (s *Server) AddClient(c Client) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.ID = ""
	rep := s.addClientAPI(fromPlain(c))
	if rep.status != http.StatusCreated {
		return fmt.Errorf("add client %q: %d %s", c.ClientID, rep.status, rep.body)
	}
	return nil
}
