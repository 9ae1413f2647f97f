package openhim

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/config"
)

const (
	testUser     = "root@openhim.org"
	testPassword = "openhim-Pa55-known"
)

func testCfg(url string) config.OpenHIM {
	c := config.Default().OpenHIM
	c.URL = url
	c.Username = testUser
	c.Password = testPassword
	c.Timeout = 5 * time.Second
	return c
}

func newTestClient(t *testing.T, cfg config.OpenHIM) *Client {
	t.Helper()
	c, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	return c
}

// fakeCore is an httptest OpenHIM core API that checks what core checks and
// answers like core (OpenHIM core src/koaMiddleware.js; OpenHIM core src/api/mediators.js).
type fakeCore struct {
	t   *testing.T
	srv *httptest.Server

	mu          sync.Mutex
	registered  map[string]Registration
	registers   int
	heartbeats  []map[string]any
	config      map[string]any // stored config; nil: none
	beatAnswer  func(w http.ResponseWriter) bool
	registerErr int // status to answer registrations with, 0: accept
	down        bool
}

func newFakeCore(t *testing.T) *fakeCore {
	f := &fakeCore{t: t, registered: map[string]Registration{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /mediators", f.register)
	mux.HandleFunc("POST /mediators/{urn}/heartbeat", f.heartbeat)
	f.srv = httptest.NewServer(f.auth(mux))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeCore) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		down := f.down
		f.mu.Unlock()
		if down {
			http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
			return
		}
		u, p, ok := r.BasicAuth()
		if !ok || u != testUser || p != testPassword {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		if r.Header.Get("User-Agent") != UserAgent {
			f.t.Errorf("User-Agent = %q; want %q", r.Header.Get("User-Agent"), UserAgent)
		}
		next.ServeHTTP(w, r)
	})
}

func (f *fakeCore) register(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		http.Error(w, "Could not add Mediator via the API: ValidationError: URN is required", 400) // koa-bodyparser left the body empty
		return
	}
	var reg Registration
	if err := json.NewDecoder(r.Body).Decode(&reg); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.registers++
	if f.registerErr != 0 {
		http.Error(w, "Could not add Mediator via the API: ValidationError: refused with "+testPassword, f.registerErr)
		return
	}
	if reg.URN == "" {
		http.Error(w, "Could not add Mediator via the API: ValidationError: URN is required", 400)
		return
	}
	if !ValidVersion(reg.Version) {
		http.Error(w, "Could not add Mediator via the API: ValidationError: Version is required. Must be in SemVer form x.y.z", 400)
		return
	}
	f.registered[reg.URN] = reg
	if f.config == nil && reg.Config != nil {
		f.config = reg.Config
	}
	w.WriteHeader(http.StatusCreated)
}

func (f *fakeCore) heartbeat(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	_ = json.NewDecoder(r.Body).Decode(&body)
	f.mu.Lock()
	f.heartbeats = append(f.heartbeats, body)
	_, known := f.registered[r.PathValue("urn")]
	answer := f.beatAnswer
	cfg := f.config
	f.mu.Unlock()
	if !known {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if body["uptime"] == nil {
		http.Error(w, "Bad Request", 400)
		return
	}
	if answer != nil && answer(w) {
		return
	}
	switch {
	case body["config"] != true:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(200)
	case cfg == nil:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "OK")
	default:
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_ = json.NewEncoder(w).Encode(cfg)
	}
}

func (f *fakeCore) set(fn func(f *fakeCore)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func testRegistration(t *testing.T) Registration {
	t.Helper()
	reg, err := LoadRegistrationFile(mediatorJSON, "1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func TestClient_Register(t *testing.T) {
	core := newFakeCore(t)
	c := newTestClient(t, testCfg(core.srv.URL+"/"))
	reg := testRegistration(t)
	if err := c.Register(context.Background(), reg); err != nil {
		t.Fatalf("Register() = %v", err)
	}
	core.mu.Lock()
	got := core.registered[reg.URN]
	core.mu.Unlock()
	if got.Version != "1.2.3" || got.Name != reg.Name || len(got.Endpoints) != 4 || got.Config["cht"] == nil {
		t.Errorf("core stored %+v", got)
	}

	core.set(func(f *fakeCore) { f.registerErr = 400 })
	err := c.Register(context.Background(), reg)
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 400 || se.Op != "register" {
		t.Fatalf("Register() with core answering 400 = %v; want a *StatusError 400", err)
	}
	if !strings.HasPrefix(err.Error(), "openhim: register: status 400: Could not add Mediator via the API") {
		t.Errorf("Register() error = %q", err)
	}
	if strings.Contains(err.Error(), testPassword) {
		t.Errorf("Register() error shows the password: %q", err)
	}
}

func TestClient_RegisterUnauthorized(t *testing.T) {
	core := newFakeCore(t)
	cfg := testCfg(core.srv.URL)
	cfg.Password = "wrong-password"
	c := newTestClient(t, cfg)
	err := c.Register(context.Background(), testRegistration(t))
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("Register() = %v; want ErrUnauthorized", err)
	}
	if err.Error() != "openhim: register: status 401: Unauthorized (OpenHIM core refused the credentials: check openhim.username and openhim.password, and openhim.auth=token for cores before 8)" {
		t.Errorf("Register() error = %q", err)
	}
}

func TestClient_Heartbeat(t *testing.T) {
	core := newFakeCore(t)
	c := newTestClient(t, testCfg(core.srv.URL))
	reg := testRegistration(t)
	ctx := context.Background()

	if _, err := c.Heartbeat(ctx, reg.URN, time.Second, true); !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("Heartbeat() before registration = %v; want ErrNotRegistered", err)
	}
	reg.Config = nil
	if err := c.Register(ctx, reg); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		wantConfig bool
		setup      func(f *fakeCore)
		want       map[string]any
		wantErr    string
	}{
		{name: "empty body", wantConfig: false, want: nil},
		{name: "OK: no config stored", wantConfig: true, want: nil},
		{name: "config", wantConfig: true, setup: func(f *fakeCore) {
			f.config = map[string]any{"cht": map[string]any{"url": "https://cht.example.org"}}
		}, want: map[string]any{"cht": map[string]any{"url": "https://cht.example.org"}}},
		{name: "empty config", wantConfig: true, setup: func(f *fakeCore) { f.config = map[string]any{} }, want: map[string]any{}},
		{name: "not an object", wantConfig: true, setup: func(f *fakeCore) {
			f.beatAnswer = func(w http.ResponseWriter) bool {
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `["x"]`)
				return true
			}
		}, wantErr: `openhim: heartbeat: the answer is neither empty, OK nor a JSON object: ["x"]`},
		{name: "500", wantConfig: true, setup: func(f *fakeCore) {
			f.beatAnswer = func(w http.ResponseWriter) bool {
				http.Error(w, "Could not process mediator heartbeat", 500)
				return true
			}
		}, wantErr: "openhim: heartbeat: status 500: Could not process mediator heartbeat"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core.set(func(f *fakeCore) { f.config, f.beatAnswer = nil, nil })
			if tt.setup != nil {
				core.set(tt.setup)
			}
			got, err := c.Heartbeat(ctx, reg.URN, 90*time.Second+500*time.Millisecond, tt.wantConfig)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Heartbeat() error = %v; want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Heartbeat() = %v", err)
			}
			if (got == nil) != (tt.want == nil) || !jsonEqual(got, tt.want) {
				t.Errorf("Heartbeat() = %#v; want %#v", got, tt.want)
			}
			core.mu.Lock()
			last := core.heartbeats[len(core.heartbeats)-1]
			core.mu.Unlock()
			if last["uptime"] != float64(90) {
				t.Errorf("heartbeat uptime = %v; want 90 (seconds)", last["uptime"])
			}
			if _, has := last["config"]; has != tt.wantConfig {
				t.Errorf("heartbeat body %v; want config:true only when asked", last)
			}
		})
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// The legacy token auth against a fake core that checks it as core's
// token.js does: a token passport with sha512(salt + password), auth-token =
// sha512(passwordHash + auth-salt + auth-ts), auth-ts within 10 s of core's
// clock.
func TestClient_tokenAuth(t *testing.T) {
	const userSalt = "e2b3f1c0a9d84c7f"
	coreClock := time.Now().Add(time.Hour) // core's clock is an hour ahead
	var requests int
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authenticate/{email}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("email") != testUser {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "" {
			t.Errorf("GET /authenticate sent credentials")
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"salt": userSalt, "ts": coreClock.UTC().Format(time.RFC3339Nano)})
	})
	mux.HandleFunc("POST /mediators", func(w http.ResponseWriter, r *http.Request) {
		requests++
		if r.Header.Get("Authorization") != "" {
			t.Errorf("token request also sent Authorization: core 8 ignores Basic then")
		}
		ts := r.Header.Get("auth-ts")
		at, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || at.Sub(coreClock).Abs() > 10*time.Second {
			t.Errorf("auth-ts %q is not within 10 s of core's clock %s", ts, coreClock)
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		passhash := TokenPasshash(userSalt, testPassword)
		if r.Header.Get("auth-username") != testUser || r.Header.Get("auth-token") != TokenAuth(passhash, r.Header.Get("auth-salt"), ts) {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		w.WriteHeader(201)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	cfg := testCfg(srv.URL)
	cfg.Auth = "token"
	c := newTestClient(t, cfg)
	for range 2 {
		if err := c.Register(context.Background(), testRegistration(t)); err != nil {
			t.Fatalf("Register() with token auth = %v", err)
		}
	}
	if requests != 2 {
		t.Errorf("core got %d registrations; want 2", requests)
	}

	cfg.Username = "v8-user@example.org"
	c = newTestClient(t, cfg)
	err := c.Register(context.Background(), testRegistration(t))
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "use openhim.auth basic") {
		t.Errorf("Register() for a user without token passport = %v; want a hint to use basic auth", err)
	}
}

// A vector computed outside Go: printf '%s' <salt><password> | sha512sum, then
// printf '%s' <passhash><auth-salt><auth-ts> | sha512sum.
func TestTokenAuth_vector(t *testing.T) {
	passhash := TokenPasshash("e2b3f1c0a9d84c7f", "openhim-password")
	if want := "327d5088554e7c083a9c4d7f580a065c8ea174431335c9faca31b5c8ab00873f6d79db7df83aca3613d2a487c086298ce83905260690e99f8b967aab25e2e5e9"; passhash != want {
		t.Errorf("TokenPasshash() = %s; want %s", passhash, want)
	}
	token := TokenAuth(passhash, "0f1e2d3c4b5a6978", "2024-01-02T03:04:05.000Z")
	if want := "2a00dc15ee16ccad69d085bb3c384bbab5bd612beee21fae58cf9245026193c106a965416bcb94de631c8d57ffd0720be246b8223a220efccb66f033fbf0b394"; token != want {
		t.Errorf("TokenAuth() = %s; want %s", token, want)
	}
	// The headers the client sends, with a fixed clock and salt.
	c := newTestClient(t, testCfg("https://core.test"))
	c.auth = "token"
	c.token = &tokenState{passhash: passhash}
	c.now = func() time.Time { return time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC) }
	c.newSalt = func() string { return "0f1e2d3c4b5a6978" }
	req := httptest.NewRequest("POST", "https://core.test/mediators", nil)
	if err := c.authenticate(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	for h, want := range map[string]string{"auth-username": testUser, "auth-ts": "2024-01-02T03:04:05.000Z", "auth-salt": "0f1e2d3c4b5a6978", "auth-token": token} {
		if got := req.Header.Get(h); got != want {
			t.Errorf("header %s = %q; want %q", h, got, want)
		}
	}
}

func TestClient_basicAuthHeader(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Authorization")
		w.WriteHeader(201)
	}))
	t.Cleanup(srv.Close)
	c := newTestClient(t, testCfg(srv.URL))
	if err := c.Register(context.Background(), testRegistration(t)); err != nil {
		t.Fatal(err)
	}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(testUser+":"+testPassword))
	if got != want {
		t.Errorf("Authorization = %q; want %q", got, want)
	}
}

func TestNew_invalid(t *testing.T) {
	tests := []struct {
		name string
		mod  func(c *config.OpenHIM)
		want string
	}{
		{"credentials in URL", func(c *config.OpenHIM) { c.URL = "https://root:" + testPassword + "@core:8080" }, "openhim: url: must not contain credentials"},
		{"scheme", func(c *config.OpenHIM) { c.URL = "ftp://core" }, "scheme must be http or https"},
		{"no password", func(c *config.OpenHIM) { c.Password = "" }, "openhim: password: required"},
		{"no username", func(c *config.OpenHIM) { c.Username = "" }, "openhim: username: required"},
		{"auth", func(c *config.OpenHIM) { c.Auth = "oauth" }, `openhim: auth "oauth"`},
		{"ca and insecure", func(c *config.OpenHIM) { c.TLSCAFile, c.TLSInsecureSkipVerify = "/x.pem", true }, "cannot be true together"},
		{"missing ca file", func(c *config.OpenHIM) { c.TLSCAFile = "/nonexistent/ca.pem" }, "openhim: read tls_ca_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testCfg("https://core:8080")
			tt.mod(&cfg)
			_, err := New(cfg, nil, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New() = %v; want %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), testPassword) {
				t.Errorf("New() error shows the password: %v", err)
			}
		})
	}
}

func TestClient_TLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := testRegistration(t)

	cfg := testCfg(srv.URL)
	if err := newTestClient(t, cfg).Register(context.Background(), reg); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Register() to a self-signed core without trust = %v; want a certificate error", err)
	}
	cfg.TLSCAFile = caFile
	if err := newTestClient(t, cfg).Register(context.Background(), reg); err != nil {
		t.Errorf("Register() trusting tls_ca_file = %v", err)
	}
	cfg.TLSCAFile = ""
	cfg.TLSInsecureSkipVerify = true
	if err := newTestClient(t, cfg).Register(context.Background(), reg); err != nil {
		t.Errorf("Register() with tls_insecure_skip_verify = %v", err)
	}
	cfg.TLSInsecureSkipVerify = false
	cfg.TLSCAFile = notPEM
	if _, err := New(cfg, nil, nil); err == nil || !strings.Contains(err.Error(), "no PEM certificate found") {
		t.Errorf("New() with a file without PEM = %v", err)
	}
	tc, err := TLSConfig(testCfg(srv.URL))
	if err != nil || tc.InsecureSkipVerify || tc.MinVersion != 0x0303 {
		t.Errorf("TLSConfig(default) = %+v, %v; want verification on, TLS 1.2+", tc, err)
	}
}

func TestClient_timeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	cfg := testCfg(srv.URL)
	cfg.Timeout = 50 * time.Millisecond
	c, err := New(cfg, &http.Client{}, nil) // the per-call timeout, not http.Client's
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Heartbeat(context.Background(), "urn:x", 0, true)
	if err == nil || err.Error() != "openhim: heartbeat: no answer within 50ms" {
		t.Errorf("Heartbeat() = %v; want the per-call timeout", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("Heartbeat() took %s", time.Since(start))
	}
}
