package sandbox

import (
	"crypto/rand"
	"crypto/sha512"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of core (OpenHIM core config/default.json; OpenHIM core src/middleware/router.js; OpenHIM core src/utils.js, core:config/default.json).
const (
	DefaultRootUser      = "root@openhim.org"
	DefaultRootPassword  = "openhim-password"
	DefaultRouterTimeout = 60 * time.Second
	DefaultAuthWindow    = 10 * time.Second
	DefaultMaxBodiesSize = 15 << 20 // api.maxBodiesSizeMB
	DefaultAPIMaxPayload = 50 << 20 // api.maxPayloadSizeMB
	truncateAppend       = "\n[truncated ...]"
	passwordMask         = "**********"
)

// Options configures a Server.
type Options struct {
	// RootUser and RootPassword are the admin user created at start-up
	// (default root@openhim.org / openhim-password). It has both a local
	// password and a legacy token passport, as core's root has.
	RootUser, RootPassword string
	// Now is the server clock (default time.Now). Times are stored with
	// millisecond precision, as MongoDB stores them.
	Now func() time.Time
	// Logger receives one line per request and lifecycle events; default:
	// discard.
	Logger *slog.Logger
	// RouterTimeout is router.timeout, used for routes of channels without
	// a timeout (default 60s).
	RouterTimeout time.Duration
	// TokenAuth also accepts the legacy token authentication (auth-*
	// headers) on the API, as api.authenticationTypes containing "token"
	// does. Basic auth is always accepted.
	TokenAuth bool
	// AuthWindow is api.authWindowSeconds for token auth (default 10s).
	AuthWindow time.Duration
	// MaxBodiesSize is api.maxBodiesSizeMB in bytes (default 15 MiB): the
	// running total of bodies stored for one transaction (OpenHIM core src/utils.js).
	MaxBodiesSize int
	// APIMaxPayload is api.maxPayloadSizeMB in bytes (default 50 MiB):
	// larger JSON bodies on the API answer 413.
	APIMaxPayload int
	// RouteTLS is the TLS configuration for secured routes (default: the
	// system roots). Core presents its keystore certificate and trusts the
	// route's cert; tests give the CA of their TLS mediator here.
	RouteTLS *tls.Config
}

// Server is an in-memory OpenHIM core: the core API (APIHandler) and the
// HTTP router (RouterHandler).
type Server struct {
	opts  Options
	now   func() time.Time
	log   *slog.Logger
	start time.Time
	down  atomic.Bool

	idRand    [5]byte
	idCounter atomic.Uint32
	client    *http.Client // router → routes

	mu            sync.Mutex
	users         []*docRec
	passports     []*docRec
	mediators     []*mediatorRec
	channels      []*docRec
	clients       []*docRec
	contactGroups []*docRec
	txs           []*Transaction
	retryQueue    []retryEntry // transactions queued for auto-retry
	requests      []RecordedRequest
	rootEmail     string
	rootPassword  string
}

// docRec is a stored document: its id and its cast fields.
type docRec struct {
	id  string
	doc *object
}

// mediatorRec is a stored mediator and the sandbox's counters.
type mediatorRec struct {
	docRec
	heartbeats, registrations, writes int
}

// New returns a Server with the root user and nothing else.
func New(opts Options) (*Server, error) {
	if opts.RootUser == "" {
		opts.RootUser = DefaultRootUser
	}
	if opts.RootPassword == "" {
		opts.RootPassword = DefaultRootPassword
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.RouterTimeout <= 0 {
		opts.RouterTimeout = DefaultRouterTimeout
	}
	if opts.AuthWindow <= 0 {
		opts.AuthWindow = DefaultAuthWindow
	}
	if opts.MaxBodiesSize <= 0 {
		opts.MaxBodiesSize = DefaultMaxBodiesSize
	}
	if opts.APIMaxPayload <= 0 {
		opts.APIMaxPayload = DefaultAPIMaxPayload
	}
	s := &Server{opts: opts, log: opts.Logger, rootEmail: opts.RootUser, rootPassword: opts.RootPassword}
	s.now = func() time.Time { return opts.Now().UTC().Truncate(time.Millisecond) }
	s.start = s.now()
	if _, err := rand.Read(s.idRand[:]); err != nil {
		return nil, fmt.Errorf("seed ids: %w", err)
	}
	tr := &http.Transport{
		Proxy:              nil,
		DisableCompression: true, // core forwards Accept-Encoding and decompresses itself
		DisableKeepAlives:  true, // agent: false
		TLSClientConfig:    opts.RouteTLS,
	}
	s.client = &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	// The root user: admin, a local password and a token passport.
	salt := randomHex(16)
	user := newObject()
	user.set("firstname", "Super")
	user.set("surname", "User")
	user.set("email", opts.RootUser)
	user.set("groups", []any{"admin"})
	user.set("provider", "local")
	s.users = append(s.users, &docRec{id: s.newID(), doc: user})
	pp := newObject()
	pp.set("protocol", "token")
	pp.set("email", opts.RootUser)
	pp.set("passwordAlgorithm", "sha512")
	pp.set("passwordSalt", salt)
	pp.set("passwordHash", sha512Hex(salt+opts.RootPassword))
	s.passports = append(s.passports, &docRec{id: s.newID(), doc: pp})
	return s, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func sha512Hex(s string) string {
	sum := sha512.Sum512([]byte(s))
	return hex.EncodeToString(sum[:])
}

// newID returns a MongoDB ObjectId: seconds, a per-server random part and a
// counter, as 24 hex digits.
func (s *Server) newID() string {
	var b [12]byte
	binary.BigEndian.PutUint32(b[0:4], uint32(s.opts.Now().Unix()))
	copy(b[4:9], s.idRand[:])
	c := s.idCounter.Add(1)
	b[9], b[10], b[11] = byte(c>>16), byte(c>>8), byte(c)
	return hex.EncodeToString(b[:])
}

// SetDown simulates core being down (true) or back (false). While down,
// both handlers drop every request: they hijack the connection and close it
// without answering, so the client sees a connection-level failure (EOF /
// connection reset), as with a core process that died mid-request. Where
// the connection cannot be hijacked (HTTP/2, httptest.ResponseRecorder)
// they answer 503 "Service Unavailable" instead. Stored state is kept.
// Refusing connections outright (core not listening) is the test's job:
// close the listener.
func (s *Server) SetDown(down bool) { s.down.Store(down) }

// drop answers a request while down; it returns the status written (0 when
// the connection was dropped).
func drop(w http.ResponseWriter) int {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return 0
		}
	}
	http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
	return http.StatusServiceUnavailable
}

// Requests returns the API calls seen, oldest first, with Authorization
// headers redacted.
func (s *Server) Requests() []RecordedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]RecordedRequest, len(s.requests))
	for i, r := range s.requests {
		r.Header = cloneHeader(r.Header)
		r.Body = slices.Clone(r.Body)
		out[i] = r
	}
	return out
}

func cloneHeader(h map[string][]string) map[string][]string {
	out := make(map[string][]string, len(h))
	for k, v := range h {
		out[k] = slices.Clone(v)
	}
	return out
}

func redactHeader(h http.Header) map[string][]string {
	out := cloneHeader(h)
	for k, vs := range out {
		if strings.EqualFold(k, "Authorization") {
			for i, v := range vs {
				scheme, _, _ := strings.Cut(v, " ")
				vs[i] = scheme + " <redacted>"
			}
		}
	}
	return out
}

// decodeDoc converts a stored document into one of the public types.
// Values that do not fit a Go field (a fractional port) are left zero.
func decodeDoc(doc *object, v any) {
	b, err := doc.MarshalJSON()
	if err != nil {
		return
	}
	var ute *json.UnmarshalTypeError
	if err := json.Unmarshal(b, v); err != nil && !errors.As(err, &ute) {
		return
	}
}

// withID returns the document as core's API shows it: _id first, __v last.
func withID(r *docRec) *object {
	out := newObject()
	out.set("_id", r.id)
	for _, k := range r.doc.keys {
		out.set(k, r.doc.vals[k])
	}
	out.set("__v", 0.0)
	return out
}

// Mediators returns the stored mediators in registration order.
func (s *Server) Mediators() []Mediator {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Mediator, 0, len(s.mediators))
	for _, m := range s.mediators {
		out = append(out, m.public())
	}
	return out
}

// Mediator returns the stored mediator with that urn.
func (s *Server) Mediator(urn string) (Mediator, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.findMediator(urn); m != nil {
		return m.public(), true
	}
	return Mediator{}, false
}

func (m *mediatorRec) public() Mediator {
	var out Mediator
	decodeDoc(m.doc, &out)
	out.ID = m.id
	out.Config = nil
	if cfg, ok := m.doc.get("config"); ok {
		b, _ := marshalJS(cfg)
		out.ConfigJSON = b
		if o, ok := cfg.(*object); ok {
			out.Config, _ = plain(o).(map[string]any)
		}
	}
	if t, ok := m.doc.vals["_configModifiedTS"].(jsDate); ok {
		tt := time.Time(t)
		out.ConfigModifiedTS = &tt
	}
	if t, ok := m.doc.vals["_lastHeartbeat"].(jsDate); ok {
		tt := time.Time(t)
		out.LastHeartbeat = &tt
	}
	if u, ok := m.doc.vals["_uptime"].(float64); ok {
		out.Uptime = &u
	}
	out.Heartbeats, out.Registrations, out.Writes = m.heartbeats, m.registrations, m.writes
	return out
}

func (s *Server) findMediator(urn string) *mediatorRec {
	for _, m := range s.mediators {
		if u, _ := m.doc.vals["urn"].(string); u == urn {
			return m
		}
	}
	return nil
}

// DeleteMediator removes a mediator, as the console's delete button does;
// its next heartbeat answers 404.
func (s *Server) DeleteMediator(urn string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mediators = slices.DeleteFunc(s.mediators, func(m *mediatorRec) bool {
		u, _ := m.doc.vals["urn"].(string)
		return u == urn
	})
}

// SetConfig does what the console's config dialog does: PUT
// /mediators/:urn/config with cfg (masked passwords restored, validated
// against the stored configDefs). The error carries core's message.
func (s *Server) SetConfig(urn string, cfg map[string]any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rep := s.setConfig(urn, fromPlain(cfg))
	if rep.status != http.StatusOK {
		return fmt.Errorf("set config of %s: %d %s", urn, rep.status, rep.body)
	}
	return nil
}

// Channels returns the stored channels in insertion order.
func (s *Server) Channels() []Channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Channel, len(s.channels))
	for i, r := range s.channels {
		out[i] = channelOf(r)
	}
	return out
}

func channelOf(r *docRec) Channel {
	var ch Channel
	decodeDoc(r.doc, &ch)
	ch.ID = r.id
	return ch
}

// Clients returns the stored clients in insertion order.
func (s *Server) Clients() []Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Client, len(s.clients))
	for i, r := range s.clients {
		decodeDoc(r.doc, &out[i])
		out[i].ID = r.id
	}
	return out
}

// Transactions returns the stored transactions, oldest first.
func (s *Server) Transactions() []Transaction {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Transaction, len(s.txs))
	for i, tx := range s.txs {
		out[i] = cloneTx(tx)
	}
	return out
}

// Transaction returns one stored transaction.
func (s *Server) Transaction(id string) (Transaction, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tx := s.findTx(id); tx != nil {
		return cloneTx(tx), true
	}
	return Transaction{}, false
}

func (s *Server) findTx(id string) *Transaction {
	for _, tx := range s.txs {
		if tx.ID == id {
			return tx
		}
	}
	return nil
}

func cloneTx(tx *Transaction) Transaction {
	b, _ := json.Marshal(tx)
	var out Transaction
	_ = json.Unmarshal(b, &out)
	return out
}

// readAll reads at most limit bytes; tooBig reports a longer body.
func readAll(r io.Reader, limit int) (b []byte, tooBig bool, err error) {
	b, err = io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if len(b) > limit {
		return b[:limit], true, err
	}
	return b, false, err
}
