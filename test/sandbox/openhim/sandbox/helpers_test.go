package sandbox

import (
	"encoding/json"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testNow is the sandbox clock's start in tests.
var testNow = time.Date(2025, 1, 10, 9, 15, 0, 0, time.UTC)

const (
	rootUser = DefaultRootUser
	rootPass = DefaultRootPassword
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a sandbox behind real HTTP servers.
type env struct {
	t      *testing.T
	s      *Server
	clock  *clock
	api    *httptest.Server
	router *httptest.Server
}

func newEnv(t *testing.T, edit ...func(*Options)) *env {
	t.Helper()
	c := &clock{t: testNow}
	opts := Options{Now: c.Now}
	for _, f := range edit {
		f(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e := &env{t: t, s: s, clock: c}
	e.api = httptest.NewServer(s.APIHandler())
	t.Cleanup(e.api.Close)
	e.router = httptest.NewServer(s.RouterHandler())
	t.Cleanup(e.router.Close)
	return e
}

// resp is an HTTP answer.
type resp struct {
	status int
	header http.Header
	body   string
}

func (r resp) ctype() string { return r.header.Get("Content-Type") }

// call makes a request to base+path; hdr alternates names and values.
func call(t *testing.T, method, url, body string, hdr ...string) resp {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if strings.EqualFold(hdr[i], "Host") {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Add(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp{res.StatusCode, res.Header, string(b)}
}

// apiCall calls the core API as root with a JSON body.
func (e *env) apiCall(method, path, body string) resp {
	e.t.Helper()
	return call(e.t, method, e.api.URL+path, body, "Content-Type", "application/json", "Authorization", basic(rootUser, rootPass))
}

func basic(user, pass string) string {
	req, _ := http.NewRequest("GET", "http://x", nil)
	req.SetBasicAuth(user, pass)
	return req.Header.Get("Authorization")
}

// register posts a registration document and expects 201.
func (e *env) register(doc string) {
	e.t.Helper()
	if r := e.apiCall("POST", "/mediators", doc); r.status != http.StatusCreated {
		e.t.Fatalf("POST /mediators = %d %q; want 201", r.status, r.body)
	}
}

// mediatorDoc is a registration document (OpenHIM mediator developer guide) with the version and
// extra top-level fields given.
func mediatorDoc(version string, extra ...string) string {
	fields := []string{
		`"urn":"urn:mediator:test"`,
		`"version":"` + version + `"`,
		`"name":"Test Mediator"`,
		`"endpoints":[{"name":"Test","type":"http","host":"mediator","port":8544,"primary":true}]`,
	}
	fields = append(fields, extra...)
	return "{" + strings.Join(fields, ",") + "}"
}

// fullConfigDefs are the configDefs of OpenHIM mediator developer guide.
const fullConfigDefs = `"configDefs":[
 {"param":"registryUrl","displayName":"Registry URL","type":"string"},
 {"param":"registryPassword","displayName":"Registry password","type":"password"},
 {"param":"mode","displayName":"Mode","type":"option","values":["strict","lenient"]},
 {"param":"timeoutSeconds","displayName":"Timeout (s)","type":"number"},
 {"param":"cacheEnabled","displayName":"Cache","type":"bool"},
 {"param":"codeMap","displayName":"Code map","type":"map"},
 {"param":"notes","displayName":"Notes","type":"bigstring"},
 {"param":"passwords","displayName":"Passwords","type":"password","array":true},
 {"param":"auth","displayName":"Auth","type":"struct","template":[{"param":"user","type":"string"},{"param":"password","type":"password"}]},
 {"param":"upstreams","displayName":"Upstreams","type":"struct","array":true,
  "template":[{"param":"host","type":"string"},{"param":"weight","type":"number"}]}]`

// upstreamRequest is what a route received.
type upstreamRequest struct {
	Method, Path, RawQuery, Host string
	Header                       http.Header
	Body                         string
}

// upstream is a fake mediator: it records requests and answers with fn.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []upstreamRequest
}

func newUpstream(t *testing.T, fn http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, upstreamRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Host, r.Header.Clone(), string(b)})
		u.mu.Unlock()
		fn(w, r)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) requests() []upstreamRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]upstreamRequest(nil), u.reqs...)
}

func (u *upstream) last(t *testing.T) upstreamRequest {
	t.Helper()
	rs := u.requests()
	if len(rs) == 0 {
		t.Fatal("the upstream received no request")
	}
	return rs[len(rs)-1]
}

// hostPort returns the upstream's host and port.
func (u *upstream) hostPort() (string, int) {
	host, p, _ := net.SplitHostPort(u.Listener.Addr().String())
	port, _ := strconv.Atoi(p)
	return host, port
}

// answer returns a handler answering status, content type and body.
func answer(status int, contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// envelope answers a mediator envelope.
func envelope(body string) http.HandlerFunc {
	return answer(http.StatusOK, "application/json+openhim; charset=utf-8", body)
}

func ptr[T any](v T) *T { return &v }

// publicChannel adds a public channel on urlPattern routing to u.
func (e *env) publicChannel(name, pattern string, u *upstream, edit ...func(*Channel)) Channel {
	e.t.Helper()
	host, port := u.hostPort()
	ch := Channel{
		Name: name, URLPattern: pattern, Methods: []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"},
		AuthType: "public", Routes: []Route{{Name: name + " route", Host: host, Port: port, Primary: true}},
	}
	for _, f := range edit {
		f(&ch)
	}
	if err := e.s.AddChannel(ch); err != nil {
		e.t.Fatalf("AddChannel: %v", err)
	}
	return ch
}

// onlyTx returns the only stored transaction.
func (e *env) onlyTx() Transaction {
	e.t.Helper()
	txs := e.s.Transactions()
	if len(txs) != 1 {
		e.t.Fatalf("stored %d transactions; want 1", len(txs))
	}
	return txs[0]
}

func mustJSON(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("invalid JSON %q: %v", s, err)
	}
	return v
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
