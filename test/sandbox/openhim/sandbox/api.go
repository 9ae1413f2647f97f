package sandbox

// The core API (OpenHIM core src/koaMiddleware.js; OpenHIM core src/api/authentication.js): body parsing as koa-bodyparser does it,
// authentication (basic, and legacy token when enabled), the routes, and
// Koa's way of writing bodies.

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// reply is an API answer.
type reply struct {
	status int
	ctype  string // "" → no Content-Type header
	body   []byte
}

const (
	ctText = "text/plain; charset=utf-8"
	ctHTML = "text/html; charset=utf-8"
	ctJSON = "application/json; charset=utf-8"
)

func text(status int, s string) reply { return reply{status, ctText, []byte(s)} }

// statusOnly is a Koa response whose handler set a status and no body:
// Koa answers the status message as text ("OK", "Created", "Not Found").
func statusOnly(status int) reply { return text(status, http.StatusText(status)) }

var htmlStart = regexp.MustCompile(`^\s*<`)

// koaBody is what Koa sends for `ctx.body = v` with status 200 (OpenHIM core src/api/mediators.js):
// strings as text (html when they start with "<"), null as an empty body
// without Content-Type, undefined as "OK", anything else as JSON.
func koaBody(status int, v any) reply {
	switch x := v.(type) {
	case undef:
		return statusOnly(status)
	case nil:
		return reply{status: status}
	case string:
		if htmlStart.MatchString(x) {
			return reply{status, ctHTML, []byte(x)}
		}
		return text(status, x)
	}
	b, err := marshalJS(v)
	if err != nil {
		return text(http.StatusInternalServerError, "Internal Server Error")
	}
	return reply{status, ctJSON, b}
}

func jsonReply(status int, v any) reply {
	b, err := json.Marshal(v)
	if err != nil {
		return text(http.StatusInternalServerError, "Internal Server Error")
	}
	return reply{status, ctJSON, b}
}

// apiCtx is one API request.
type apiCtx struct {
	r      *http.Request
	body   any      // ctx.request.body
	params []string // path parameters, decoded
	user   *docRec  // ctx.authenticated
	after  func()   // run after the state lock is released, before answering
}

func (c *apiCtx) email() string { s, _ := c.user.doc.vals["email"].(string); return s }

func (c *apiCtx) isAdmin() bool {
	for _, g := range arrayFrom(c.user.doc.vals["groups"]) {
		if g == "admin" {
			return true
		}
	}
	return false
}

// notAdmin is the 403 of core ≤ 8.5.0 (OpenHIM core src/api/authorisation.js) for a handler.
func (c *apiCtx) notAdmin(action string) reply {
	return text(http.StatusForbidden, fmt.Sprintf("User %s is not an admin, API access to %s denied.", c.email(), action))
}

type apiRoute struct {
	method  string
	pattern []string // segments; ":x" is a parameter
	public  bool
	handle  func(*Server, *apiCtx) reply
}

func route(method, pattern string, h func(*Server, *apiCtx) reply) apiRoute {
	return apiRoute{method: method, pattern: strings.Split(strings.Trim(pattern, "/"), "/"), handle: h}
}

func publicRoute(method, pattern string, h func(*Server, *apiCtx) reply) apiRoute {
	r := route(method, pattern, h)
	r.public = true
	return r
}

var apiRoutes = []apiRoute{
	publicRoute("GET", "/heartbeat", (*Server).getHeartbeat),
	publicRoute("GET", "/authenticate/:email", (*Server).getAuthenticate),
	route("GET", "/mediators", (*Server).getMediators),
	route("POST", "/mediators", (*Server).postMediator),
	route("GET", "/mediators/:urn", (*Server).getMediator),
	route("DELETE", "/mediators/:urn", (*Server).deleteMediator),
	route("POST", "/mediators/:urn/heartbeat", (*Server).postHeartbeat),
	route("PUT", "/mediators/:urn/config", (*Server).putConfig),
	route("POST", "/mediators/:urn/channels", (*Server).postMediatorChannels),
	route("GET", "/channels", (*Server).getChannels),
	route("POST", "/channels", (*Server).postChannel),
	route("GET", "/channels/:id", (*Server).getChannel),
	route("POST", "/channels/:id/trigger", (*Server).postTrigger),
	route("GET", "/clients", (*Server).getClients),
	route("POST", "/clients", (*Server).postClient),
	route("GET", "/transactions", (*Server).getTransactions),
	route("GET", "/transactions/:id", (*Server).getTransaction),
	route("PUT", "/transactions/:id", (*Server).putTransaction),
	route("POST", "/tasks", (*Server).postTask),
	route("GET", "/metadata", (*Server).getMetadata),
	route("POST", "/metadata", (*Server).postMetadata),
	route("POST", "/metadata/validate", (*Server).postMetadataValidate),
}

// matchRoute finds the route for a request path, like koa-route (a
// trailing slash is optional); parameters are path-unescaped.
func matchRoute(method, escapedPath string) (r *apiRoute, params []string) {
	p := strings.TrimSuffix(strings.TrimPrefix(escapedPath, "/"), "/")
	segs := strings.Split(p, "/")
	for i := range apiRoutes {
		rt := &apiRoutes[i]
		if rt.method != method || len(rt.pattern) != len(segs) {
			continue
		}
		var ps []string
		ok := true
		for j, pat := range rt.pattern {
			if strings.HasPrefix(pat, ":") {
				v, err := url.PathUnescape(segs[j])
				if err != nil || segs[j] == "" {
					ok = false
					break
				}
				ps = append(ps, v)
			} else if pat != segs[j] {
				ok = false
				break
			}
		}
		if ok {
			return rt, ps
		}
	}
	return nil, nil
}

// APIHandler returns the core API (https :8080 in core; plain HTTP here —
// wrap it in httptest.NewTLSServer to test TLS handling).
func (s *Server) APIHandler() http.Handler { return http.HandlerFunc(s.serveAPI) }

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	rec := RecordedRequest{
		Time: s.now(), Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery,
		Header: redactHeader(r.Header),
	}
	raw, tooBig, _ := readAll(r.Body, s.opts.APIMaxPayload)
	rec.Body = raw
	var rep reply
	if s.down.Load() {
		rec.Status = drop(w)
		s.record(rec)
		s.log.Debug("api request dropped (down)", "method", r.Method, "path", rec.Path)
		return
	}
	rep = s.api(r, raw, tooBig)
	rec.Status = rep.status
	s.record(rec)
	s.log.Debug("api request", "method", r.Method, "path", rec.Path, "status", rep.status)
	h := w.Header()
	if rep.ctype != "" {
		h.Set("Content-Type", rep.ctype)
	} else {
		h["Content-Type"] = nil // no sniffing
	}
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body)
}

func (s *Server) record(rec RecordedRequest) {
	s.mu.Lock()
	s.requests = append(s.requests, rec)
	s.mu.Unlock()
}

func (s *Server) api(r *http.Request, raw []byte, tooBig bool) reply {
	body, errRep := parseAPIBody(r, raw, tooBig)
	if errRep != nil {
		return *errRep
	}
	rt, params := matchRoute(r.Method, r.URL.EscapedPath())
	c := &apiCtx{r: r, body: body, params: params}
	s.mu.Lock()
	rep := s.dispatch(c, rt)
	s.mu.Unlock()
	if c.after != nil {
		c.after() // work that routes requests (reruns, polls) runs unlocked
	}
	return rep
}

func (s *Server) dispatch(c *apiCtx, rt *apiRoute) reply {
	if rt != nil && rt.public {
		return rt.handle(s, c)
	}
	c.user = s.authenticate(c.r)
	if c.user == nil {
		return statusOnly(http.StatusUnauthorized) // "Unauthorized", no detail (OpenHIM core src/api/authentication.js)
	}
	if rt == nil {
		return statusOnly(http.StatusNotFound)
	}
	return rt.handle(s, c)
}

// jsonTypes are koa-bodyparser's default JSON types.
var jsonTypes = []string{"application/json", "application/json-patch+json", "application/vnd.api+json",
	"application/csp-report", "application/scim+json"}

var strictJSON = regexp.MustCompile(`^[\x20\x09\x0a\x0d]*[\[{]`)

// parseAPIBody is koa-bodyparser with core's settings: JSON (strict: an
// object or an array) and urlencoded forms are parsed; any other content
// type leaves the body {} (OpenHIM core src/koaMiddleware.js). Parse errors answer 400 with the
// parser's message, a JSON body over api.maxPayloadSizeMB 413.
func parseAPIBody(r *http.Request, raw []byte, tooBig bool) (any, *reply) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	mt = strings.ToLower(mt)
	for _, t := range jsonTypes {
		if mt != t {
			continue
		}
		if tooBig {
			rep := text(http.StatusRequestEntityTooLarge, "request entity too large")
			return nil, &rep
		}
		if strings.TrimSpace(string(raw)) == "" {
			return newObject(), nil
		}
		if !strictJSON.Match(raw) {
			rep := text(http.StatusBadRequest, "invalid JSON, only supports object and array")
			return nil, &rep
		}
		v, err := parseJSON(raw)
		if err != nil {
			rep := text(http.StatusBadRequest, err.Error())
			return nil, &rep
		}
		return v, nil
	}
	if mt == "application/x-www-form-urlencoded" {
		vals, err := url.ParseQuery(string(raw))
		if err != nil {
			rep := text(http.StatusBadRequest, err.Error())
			return nil, &rep
		}
		o := newObject()
		for _, kv := range strings.Split(string(raw), "&") {
			k, _, _ := strings.Cut(kv, "=")
			k, err := url.QueryUnescape(k)
			if err != nil || o.has(k) {
				continue
			}
			if vs := vals[k]; len(vs) == 1 {
				o.set(k, vs[0])
			} else {
				arr := make([]any, len(vs))
				for i, v := range vs {
					arr[i] = v
				}
				o.set(k, arr)
			}
		}
		return o, nil
	}
	return newObject(), nil
}

// authenticate is core's API authentication (OpenHIM core src/api/authentication.js): with token auth
// enabled, any auth-* header makes the request a token request; otherwise
// Basic is tried when the Authorization header contains "Basic".
func (s *Server) authenticate(r *http.Request) *docRec {
	if s.opts.TokenAuth {
		for k := range r.Header {
			if strings.HasPrefix(strings.ToLower(k), "auth-") {
				return s.tokenAuth(r)
			}
		}
	}
	if strings.Contains(r.Header.Get("Authorization"), "Basic") {
		email, password, ok := parseBasic(r.Header.Get("Authorization"))
		if !ok {
			return nil
		}
		return s.checkPassword(email, password)
	}
	return nil
}

var basicRE = regexp.MustCompile(`^ *(?:[Bb][Aa][Ss][Ii][Cc]) +([A-Za-z0-9._~+/-]+=*) *$`)

// parseBasic is the basic-auth module: user and password split at the
// first colon.
func parseBasic(h string) (user, password string, ok bool) {
	m := basicRE.FindStringSubmatch(h)
	if m == nil {
		return "", "", false
	}
	b, err := base64.StdEncoding.DecodeString(m[1])
	if err != nil {
		return "", "", false
	}
	user, password, ok = strings.Cut(string(b), ":")
	return user, password, ok
}

func (s *Server) findUser(email string, fold bool) *docRec {
	for _, u := range s.users {
		e, _ := u.doc.vals["email"].(string)
		if e == email || (fold && strings.EqualFold(e, email)) {
			return u
		}
	}
	return nil
}

func (s *Server) tokenPassport(email string) *docRec {
	for _, p := range s.passports {
		e, _ := p.doc.vals["email"].(string)
		proto, _ := p.doc.vals["protocol"].(string)
		if proto == "token" && strings.EqualFold(e, email) {
			return p
		}
	}
	return nil
}

// checkPassword is Basic auth: the user by exact email; the root user's
// password, or for other users sha512(passwordSalt + password) against
// their token passport (users whose only password is a bcrypt local
// passport cannot log in to the sandbox).
func (s *Server) checkPassword(email, password string) *docRec {
	u := s.findUser(email, false)
	if u == nil {
		return nil
	}
	if email == s.rootEmail {
		if subtle.ConstantTimeCompare([]byte(password), []byte(s.rootPassword)) == 1 {
			return u
		}
		return nil
	}
	p := s.tokenPassport(email)
	if p == nil {
		return nil
	}
	salt, _ := p.doc.vals["passwordSalt"].(string)
	hash, _ := p.doc.vals["passwordHash"].(string)
	if subtle.ConstantTimeCompare([]byte(sha512Hex(salt+password)), []byte(hash)) == 1 {
		return u
	}
	return nil
}

// tokenAuth checks auth-username, auth-ts, auth-salt and auth-token:
// auth-token = hex(sha512(passwordHash + auth-salt + auth-ts)), auth-ts
// within AuthWindow of the server clock (OpenHIM core src/api/authentication.js).
func (s *Server) tokenAuth(r *http.Request) *docRec {
	email, ts := r.Header.Get("auth-username"), r.Header.Get("auth-ts")
	salt, token := r.Header.Get("auth-salt"), r.Header.Get("auth-token")
	if email == "" || ts == "" || salt == "" || token == "" {
		return nil
	}
	u := s.findUser(email, true)
	p := s.tokenPassport(email)
	if u == nil || p == nil {
		return nil
	}
	t, ok := parseJSDate(ts)
	if !ok {
		return nil
	}
	if d := s.now().Sub(t); d > s.opts.AuthWindow || d < -s.opts.AuthWindow {
		return nil
	}
	hash, _ := p.doc.vals["passwordHash"].(string)
	if subtle.ConstantTimeCompare([]byte(sha512Hex(hash+salt+ts)), []byte(strings.ToLower(token))) != 1 {
		return nil
	}
	return u
}

// getAuthenticate is GET /authenticate/:email (public): the token salt and
// the server time; 404 for users without a token passport.
func (s *Server) getAuthenticate(c *apiCtx) reply {
	email := jsUnescape(c.params[0])
	u, p := s.findUser(email, true), s.tokenPassport(email)
	if u == nil || p == nil {
		return text(http.StatusNotFound, fmt.Sprintf("Could not find user by email %s", email))
	}
	o := newObject()
	o.set("salt", p.doc.vals["passwordSalt"])
	o.set("ts", isoTime(s.now()))
	return koaBody(http.StatusOK, o)
}

// getHeartbeat is GET /heartbeat (public, OpenHIM core src/api/heartbeat.js): core's uptime and
// each mediator's uptime, or null when it has not heart-beat within 60 s.
func (s *Server) getHeartbeat(c *apiCtx) reply {
	now := s.now()
	meds := newObject()
	for _, m := range s.mediators {
		urn, _ := m.doc.vals["urn"].(string)
		var up any
		if last, ok := m.doc.vals["_lastHeartbeat"].(jsDate); ok && now.Sub(time.Time(last)) < time.Minute {
			up = m.doc.vals["_uptime"]
			if isNullish(up) {
				up = nil
			}
		}
		meds.set(urn, up)
	}
	o := newObject()
	o.set("master", now.Sub(s.start).Seconds())
	o.set("mediators", meds)
	o.set("now", float64(now.UnixMilli()))
	return koaBody(http.StatusOK, o)
}
