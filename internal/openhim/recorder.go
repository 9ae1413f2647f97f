package openhim

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/redact"
)

// DefaultBodyBudget bounds the bytes of all orchestration bodies of one
// Recorder together. Core stores at most 15 MiB of bodies per transaction,
// counting the request and the mediator's response too, and cuts the rest
// (OpenHIM core src/utils.js); orchestration bodies are never culled.
const DefaultBodyBudget = 8 << 20

// Recorder collects the orchestrations of one inbound request: every call
// made through a transport of NewTransport with a context that carries the
// recorder (WithRecorder). It is safe for concurrent use. The zero value is
// ready to use.
type Recorder struct {
	// BodyBudget bounds the bytes of all bodies of Orchestrations together,
	// spent in call order; later bodies are cut. 0 means DefaultBodyBudget,
	// a negative value no bound.
	BodyBudget int

	mu    sync.Mutex
	calls []*call
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder { return &Recorder{} }

type recorderKey struct{}

// WithRecorder returns a context whose outbound calls are recorded by r.
func WithRecorder(ctx context.Context, r *Recorder) context.Context {
	return context.WithValue(ctx, recorderKey{}, r)
}

// RecorderFrom returns the recorder of ctx, or nil.
func RecorderFrom(ctx context.Context) *Recorder {
	r, _ := ctx.Value(recorderKey{}).(*Recorder)
	return r
}

func (r *Recorder) add(c *call) {
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
}

// Orchestrations returns the recorded calls in the order they were made,
// with bodies cut and secrets redacted. A response body still being read
// shows what was read so far.
//
// Grouping: every call is its own orchestration (so each page keeps its
// status and timing) named "<upstream>: <METHOD> <path>"; when a name
// occurs more than once (paged reads such as CHT's _all_docs, owner batches,
// DHIS2 push chunks) those orchestrations get that name as their group, so
// the console shows them together.
func (r *Recorder) Orchestrations() []Orchestration {
	r.mu.Lock()
	calls := make([]*call, len(r.calls))
	copy(calls, r.calls)
	budget := r.BodyBudget
	r.mu.Unlock()
	if budget == 0 {
		budget = DefaultBodyBudget
	}
	var b *int
	if budget > 0 {
		b = &budget
	}
	out := make([]Orchestration, 0, len(calls))
	names := map[string]int{}
	for _, c := range calls {
		o := c.snapshot(b)
		names[o.Name]++
		out = append(out, o)
	}
	for i := range out {
		if out[i].Group == "" && names[out[i].Name] > 1 {
			out[i].Group = out[i].Name
		}
	}
	return out
}

// NewTransport returns a RoundTripper that records every call made with a
// context carrying a Recorder as an orchestration named
// "<upstream>: <METHOD> <path>" (upstream "CHT", "DHIS2"), and passes calls
// without one straight to next (http.DefaultTransport when nil).
//
// Bodies are kept up to bodyLimit bytes each and cut with a "…[cut N
// bytes]" marker. The request body is read through GetBody (or teed when
// there is none), never consumed; the response body is teed while the
// caller reads it, so the caller still gets all of it, only bodyLimit bytes
// are kept, and a body closed before its end is recorded as read so far.
//
// Redacted: the Authorization, Proxy-Authorization, Cookie and Set-Cookie
// headers and headers and query parameters whose names say password, token,
// secret, key, auth…, as "<redacted>"; and, by the rules of package redact,
// the given credentials (configured passwords and tokens, also URL- and
// JSON-escaped, and basic-auth pairs in base64), HTTP credentials after
// their scheme word and URL userinfo wherever they appear in paths, query
// strings, header values, bodies and error messages. A short password is
// redacted only as a whole word, so it never mangles a path.
func NewTransport(next http.RoundTripper, upstream string, bodyLimit int, creds ...redact.Credential) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &transport{next: next, upstream: upstream, limit: max(bodyLimit, 0), scrub: newScrubber(creds)}
}

type transport struct {
	next     http.RoundTripper
	upstream string
	limit    int
	scrub    *scrubber
}

var _ http.RoundTripper = (*transport)(nil)

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := RecorderFrom(req.Context())
	if rec == nil {
		return t.next.RoundTrip(req)
	}
	keep := t.limit + t.scrub.maxLen
	host, port := req.URL.Hostname(), req.URL.Port()
	if port == "" {
		port = "80"
		if req.URL.Scheme == "https" {
			port = "443"
		}
	}
	path := t.scrub.string(req.URL.EscapedPath())
	c := &call{limit: t.limit, scrub: t.scrub, req: capture{keep: keep}}
	c.orch = Orchestration{
		Name: fmt.Sprintf("%s: %s %s", t.upstream, req.Method, path),
		Request: OrchestrationRequest{
			Host:        host,
			Port:        port,
			Path:        path,
			QueryString: t.scrub.query(req.URL.RawQuery),
			Method:      req.Method,
			Headers:     t.scrub.headers(req.Header),
			Timestamp:   time.Now(),
		},
	}
	out := req
	switch {
	case req.Body == nil || req.Body == http.NoBody:
		c.req.eof = true
	case req.GetBody != nil:
		c.req.copyFrom(req)
	default:
		out = req.Clone(req.Context())
		out.Body = &teeBody{rc: req.Body, c: c, cp: &c.req}
	}
	rec.add(c)

	resp, err := t.next.RoundTrip(out)
	if err != nil {
		c.mu.Lock()
		c.orch.Error = &Error{Message: t.scrub.errorMessage(err)}
		c.mu.Unlock()
		return nil, err
	}
	c.mu.Lock()
	c.orch.Response = &OrchestrationResponse{
		Status:    resp.StatusCode,
		Headers:   t.scrub.headers(resp.Header),
		Timestamp: time.Now(),
	}
	c.resp = &capture{keep: keep}
	if resp.Body == nil || resp.Body == http.NoBody || resp.ContentLength == 0 || req.Method == http.MethodHead {
		c.resp.eof = true
	}
	c.mu.Unlock()
	if resp.Body != nil && resp.Body != http.NoBody {
		resp.Body = &teeBody{rc: resp.Body, c: c, cp: c.resp}
	}
	return resp, nil
}

// CloseIdleConnections passes the call on, so http.Client's works.
func (t *transport) CloseIdleConnections() {
	if ci, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// call is one recorded call. Its captures are written by whoever reads the
// bodies, so every field is guarded by mu.
type call struct {
	limit int
	scrub *scrubber

	mu   sync.Mutex
	orch Orchestration
	req  capture
	resp *capture // nil until the response arrived
}

func (c *call) snapshot(budget *int) Orchestration {
	c.mu.Lock()
	defer c.mu.Unlock()
	o := c.orch
	o.Request.Body = c.req.render(c.limit, c.scrub, budget)
	if c.orch.Response != nil {
		r := *c.orch.Response
		r.Body = c.resp.render(c.limit, c.scrub, budget)
		o.Response = &r
	}
	if c.orch.Error != nil {
		e := *c.orch.Error
		o.Error = &e
	}
	return o
}

// capture keeps the first keep bytes of a body and counts all of it.
type capture struct {
	keep  int
	buf   []byte
	total int64
	eof   bool // the whole body went through
}

func (cp *capture) write(p []byte) {
	if room := cp.keep - len(cp.buf); room > 0 {
		if cp.buf == nil {
			cp.buf = make([]byte, 0, min(cp.keep, max(len(p), 512)))
		}
		cp.buf = append(cp.buf, p[:min(room, len(p))]...)
	}
	cp.total += int64(len(p))
}

// copyFrom reads a copy of the request body through GetBody.
func (cp *capture) copyFrom(req *http.Request) {
	rc, err := req.GetBody()
	if err != nil {
		return
	}
	defer rc.Close()
	buf := make([]byte, cp.keep)
	n, err := io.ReadFull(rc, buf)
	cp.write(buf[:n])
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		cp.eof = true
	case err != nil:
	case req.ContentLength > 0:
		cp.total = req.ContentLength
		cp.eof = true
	default:
		rest, err := io.Copy(io.Discard, rc)
		cp.total += rest
		cp.eof = err == nil
	}
}

const (
	cutMarker    = "…[cut %d bytes]"
	unreadMarker = "…[not read to the end]"
)

// render returns the kept body as a string: scrubbed, valid UTF-8, at most
// limit bytes (less when the budget is spent), with markers.
func (cp *capture) render(limit int, sc *scrubber, budget *int) string {
	if cp == nil {
		return ""
	}
	s := sc.string(strings.ToValidUTF8(string(cp.buf), "\uFFFD"))
	n := min(limit, len(s))
	if budget != nil {
		n = min(n, max(*budget, 0))
		*budget -= n
	}
	n = runeStart(s, n)
	out := s[:n]
	if n < len(s) || int64(len(cp.buf)) < cp.total {
		out += fmt.Sprintf(cutMarker, max(cp.total-int64(n), 1))
	}
	if !cp.eof {
		out += unreadMarker
	}
	return out
}

// teeBody records what is read through it.
type teeBody struct {
	rc io.ReadCloser
	c  *call
	cp *capture
}

func (b *teeBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.c.mu.Lock()
	b.cp.write(p[:n])
	if errors.Is(err, io.EOF) {
		b.cp.eof = true
	}
	b.c.mu.Unlock()
	return n, err
}

func (b *teeBody) Close() error { return b.rc.Close() }

// redacted replaces a value that must not be recorded.
const redacted = "<redacted>"

// alwaysRedacted are headers never recorded.
var alwaysRedacted = map[string]bool{
	"Authorization":       true,
	"Proxy-Authorization": true,
	"Cookie":              true,
	"Set-Cookie":          true,
}

// sensitiveName reports whether a header or query parameter name suggests a
// credential: password, token, secret, key, auth, session, signature….
// CouchDB's startkey, endkey and keys are not credentials; key is redacted.
func sensitiveName(name string) bool {
	parts := strings.FieldsFunc(strings.ToLower(name), func(r rune) bool {
		return r == '_' || r == '-' || r == '.' || r == ' ' || r == '[' || r == ']'
	})
	for _, p := range parts {
		switch p {
		case "key", "auth", "authorization", "authentication", "session", "sessionid", "sid",
			"signature", "sig", "cookie", "credential", "credentials", "jwt", "bearer", "pwd", "pass", "otp":
			return true
		}
		for _, w := range []string{"passw", "secret", "token", "apikey", "passphrase"} {
			if strings.Contains(p, w) {
				return true
			}
		}
	}
	return false
}

// scrubber redacts credentials.
type scrubber struct {
	r      *redact.Redactor
	maxLen int // the longest secret form: what a cut body must keep to be redacted whole
}

func newScrubber(creds []redact.Credential) *scrubber {
	sc := &scrubber{r: redact.New(creds...)}
	for _, c := range creds {
		if c.Secret == "" {
			continue
		}
		// The longest form: the base64 of user:secret, or an escaped secret
		// (at most three bytes per byte).
		sc.maxLen = max(sc.maxLen, 3*len(c.Secret), base64.StdEncoding.EncodedLen(len(c.Username)+1+len(c.Secret)))
	}
	return sc
}

func (sc *scrubber) string(s string) string {
	if sc == nil || s == "" {
		return s
	}
	return sc.r.String(s)
}

// query redacts sensitive parameters of a raw query string, keeping the
// order and encoding of the others, then scrubs secrets.
func (sc *scrubber) query(raw string) string {
	if raw == "" {
		return ""
	}
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		k, _, hasValue := strings.Cut(p, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		if hasValue && sensitiveName(name) {
			parts[i] = k + "=" + redacted
		}
	}
	return sc.string(strings.Join(parts, "&"))
}

func (sc *scrubber) headers(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, vs := range h {
		if vs == nil {
			continue // never sent (net/http's Idempotency-Key convention)
		}
		ck := http.CanonicalHeaderKey(k)
		if alwaysRedacted[ck] || sensitiveName(ck) {
			out[ck] = redacted
			continue
		}
		out[ck] = sc.string(strings.Join(vs, ", "))
	}
	return out
}

// errorMessage is the message of a transport error, with the query of a
// URL in it redacted and secrets scrubbed.
func (sc *scrubber) errorMessage(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.User = nil
			u.RawQuery = sc.query(u.RawQuery)
			return sc.string(fmt.Sprintf("%s %q: %v", ue.Op, u.String(), ue.Err))
		}
	}
	return sc.string(err.Error())
}
