package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/openhim"
)

func basic(user, pass string) map[string]string {
	return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))}
}

func TestBasicAuth(t *testing.T) {
	const user, pass = "openhim-route", "c0rrect-h0rse"
	tests := []struct {
		name     string
		username string
		password string
		hdr      map[string]string
		want     int
	}{
		{"none configured, none sent", "", "", nil, 200},
		{"none configured, some sent", "", "", basic("x", "y"), 200},
		{"configured, right", user, pass, basic(user, pass), 200},
		{"configured, wrong password", user, pass, basic(user, "wrong"), 401},
		{"configured, wrong user", user, pass, basic("root", pass), 401},
		{"configured, password prefix", user, pass, basic(user, pass[:5]), 401},
		{"configured, none sent", user, pass, nil, 401},
		{"configured, bearer", user, pass, map[string]string{"Authorization": "Bearer " + pass}, 401},
		{"only a password configured", "", pass, basic("", pass), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp := &fakeExporter{}
			h, _ := testServer(t, exp, func(o *Options) { o.Username, o.Password = tt.username, tt.password })
			for _, target := range []string{"/export?dataSet=VMuFODsyWaO", "/dataValueSets?dataSet=VMuFODsyWaO&period=202406"} {
				rec := do(h, "GET", target, nil, tt.hdr)
				env := checkEnvelope(t, rec)
				if rec.Code != tt.want {
					t.Errorf("GET %s = %d; want %d", target, rec.Code, tt.want)
				}
				if tt.want == 401 {
					if got := rec.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, "Basic ") {
						t.Errorf("WWW-Authenticate = %q; want a Basic challenge", got)
					}
					if env.Status != openhim.StatusCompleted {
						t.Errorf("status = %q; want Completed", env.Status)
					}
				}
			}
			if tt.want == 401 && len(exp.exportCalls())+exp.previewCalls() != 0 {
				t.Errorf("the exporter ran for an unauthorized request")
			}
		})
	}
}

func TestRequestID(t *testing.T) {
	h, logs := testServer(t, &fakeExporter{}, nil)

	rec := do(h, "GET", "/export?dataSet=VMuFODsyWaO", nil, map[string]string{"X-Request-ID": "req-42.a:b_c"})
	if got := rec.Header().Get("X-Request-ID"); got != "req-42.a:b_c" {
		t.Errorf("X-Request-ID = %q; want the inbound one echoed", got)
	}
	if !strings.Contains(logs.String(), `"request_id":"req-42.a:b_c"`) {
		t.Errorf("logs lack the request id:\n%s", logs)
	}

	for _, bad := range []string{"", "has space", strings.Repeat("a", 200), "quote\"d"} {
		rec := do(h, "GET", "/health", nil, map[string]string{"X-Request-ID": bad})
		got := rec.Header().Get("X-Request-ID")
		if got == "" || got == bad || len(got) != 24 {
			t.Errorf("inbound X-Request-ID %q: answered %q; want a generated id", bad, got)
		}
	}
	a := do(h, "GET", "/health", nil, nil).Header().Get("X-Request-ID")
	b := do(h, "GET", "/health", nil, nil).Header().Get("X-Request-ID")
	if a == b {
		t.Errorf("two requests got the same generated id %q", a)
	}
}

func TestAccessLog(t *testing.T) {
	h, logs := testServer(t, &fakeExporter{}, nil)
	do(h, "GET", "/export?dataSet=VMuFODsyWaO&period=202406", nil, map[string]string{"X-OpenHIM-TransactionID": "tx123"})
	var entry map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "request" {
			entry = m
		}
	}
	if entry == nil {
		t.Fatalf("no access log line in:\n%s", logs)
	}
	for k, want := range map[string]any{
		"method": "GET", "path": "/export", "status": float64(200), "component": "httpapi",
		"openhim_transaction": "tx123", "query": "dataSet=VMuFODsyWaO&period=202406",
	} {
		if entry[k] != want {
			t.Errorf("access log %s = %v; want %v", k, entry[k], want)
		}
	}
	for _, k := range []string{"duration", "request_id"} {
		if _, ok := entry[k]; !ok {
			t.Errorf("access log lacks %s: %v", k, entry)
		}
	}
}

func TestRecover(t *testing.T) {
	exp := &fakeExporter{
		exportFn: func(context.Context, export.ExportRequest) (*export.Report, error) {
			panic("boom with https://admin:hunter2@dhis2.example.org")
		},
		previewFn: func(context.Context, export.Request) (*export.Preview, error) { panic("pull boom") },
	}
	h, logs := testServer(t, exp, nil)
	for _, target := range []string{"/export?dataSet=VMuFODsyWaO", "/dataValueSets?dataSet=VMuFODsyWaO&period=202406"} {
		rec := do(h, "GET", target, nil, map[string]string{"X-Request-ID": "panic-1"})
		env := checkEnvelope(t, rec)
		if rec.Code != 500 || env.Status != openhim.StatusFailed {
			t.Errorf("GET %s after a panic = %d %q; want 500 Failed", target, rec.Code, env.Status)
		}
		msg := errorMessage(t, env)
		if strings.Contains(msg, "boom") || !strings.Contains(msg, "panic-1") {
			t.Errorf("message = %q; want a generic message with the request id", msg)
		}
	}
	l := logs.String()
	if !strings.Contains(l, `"level":"ERROR"`) || !strings.Contains(l, "boom") || !strings.Contains(l, "pull boom") || !strings.Contains(l, "goroutine") {
		t.Errorf("the panics and their stacks are not logged at Error:\n%s", l)
	}
	if strings.Contains(l, "hunter2") {
		t.Errorf("the log holds a URL password:\n%s", l)
	}
}

func TestBodyLimit(t *testing.T) {
	exp := &fakeExporter{}
	h, _ := testServer(t, exp, func(o *Options) { o.MaxBodyBytes = 10 })

	rec := do(h, "POST", "/export?dataSet=VMuFODsyWaO", strings.NewReader("0123456789"), nil)
	checkEnvelope(t, rec)
	if rec.Code != 200 {
		t.Errorf("a body at the limit: %d; want 200", rec.Code)
	}

	// Declared length over the limit.
	rec = do(h, "POST", "/export?dataSet=VMuFODsyWaO", strings.NewReader("0123456789a"), nil)
	env := checkEnvelope(t, rec)
	if rec.Code != 413 || env.Status != openhim.StatusCompleted {
		t.Errorf("a body over the limit: %d %q; want 413 Completed", rec.Code, env.Status)
	}
	// Undeclared length (chunked) over the limit.
	req := httptest.NewRequest("POST", "/export?dataSet=VMuFODsyWaO", io.MultiReader(strings.NewReader("01234"), strings.NewReader("56789ab")))
	req.ContentLength = -1
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	checkEnvelope(t, rec)
	if rec.Code != 413 {
		t.Errorf("a chunked body over the limit: %d; want 413", rec.Code)
	}
	if n := len(exp.exportCalls()); n != 1 {
		t.Errorf("Export called %d times; want only for the body within the limit", n)
	}

	// Default: 1 MiB.
	h, _ = testServer(t, &fakeExporter{}, nil)
	rec = do(h, "POST", "/export?dataSet=VMuFODsyWaO", strings.NewReader(strings.Repeat("x", DefaultMaxBodyBytes+1)), nil)
	if rec.Code != 413 {
		t.Errorf("a body over 1 MiB: %d; want 413", rec.Code)
	}
}

// TestClientDisconnectCancelsWork sends requests through a real server and
// cancels them while the exporter works: the context the exporter got must
// be canceled.
func TestClientDisconnectCancelsWork(t *testing.T) {
	for _, target := range []string{"/export?dataSet=VMuFODsyWaO", "/export", "/dataValueSets?dataSet=VMuFODsyWaO&period=202406"} {
		t.Run(target, func(t *testing.T) {
			started := make(chan struct{}, 1)
			ended := make(chan error, 1)
			wait := func(ctx context.Context) error {
				started <- struct{}{}
				select {
				case <-ctx.Done():
					ended <- ctx.Err()
					return ctx.Err()
				case <-time.After(10 * time.Second):
					ended <- nil
					return nil
				}
			}
			exp := &fakeExporter{
				dataSets: []string{"VMuFODsyWaO"},
				exportFn: func(ctx context.Context, r export.ExportRequest) (*export.Report, error) {
					if err := wait(ctx); err != nil {
						return nil, err
					}
					return successReport(r), nil
				},
				previewFn: func(ctx context.Context, r export.Request) (*export.Preview, error) {
					if err := wait(ctx); err != nil {
						return nil, err
					}
					return samplePreview(r), nil
				},
			}
			h, logs := testServer(t, exp, nil)
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)

			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+target, nil)
			done := make(chan error, 1)
			go func() {
				resp, err := srv.Client().Do(req)
				if err == nil {
					resp.Body.Close()
				}
				done <- err
			}()
			select {
			case <-started:
			case <-time.After(5 * time.Second):
				t.Fatal("the exporter was not called")
			}
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("client error = %v; want context.Canceled", err)
			}
			select {
			case err := <-ended:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("the exporter's context ended with %v; want context.Canceled", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the exporter's context was not canceled after the client went away")
			}
			// The access log records 499 once the handler is done.
			deadline := time.Now().Add(5 * time.Second)
			for !strings.Contains(logs.String(), `"status":499`) {
				if time.Now().After(deadline) {
					t.Fatalf("no 499 in the access log:\n%s", logs)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// TestPullCoalesces: 50 identical concurrent pulls build once; a different
// pull builds on its own.
func TestPullCoalesces(t *testing.T) {
	release := make(chan struct{})
	exp := &fakeExporter{previewFn: func(ctx context.Context, r export.Request) (*export.Preview, error) {
		<-release
		return samplePreview(r), nil
	}}
	h, _ := testServer(t, exp, withRecorder)
	const n = 50
	target := "/dataValueSets?dataSet=VMuFODsyWaO&period=202406&orgUnit=ouDistrict1"
	var wg sync.WaitGroup
	recs := make([]*httptest.ResponseRecorder, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs[i] = do(h, "GET", target, nil, nil)
		}()
	}
	srv := serverOf(t, h)
	key := pullKey(export.Request{DataSet: "VMuFODsyWaO", Period: mustMonth(t, "202406"), OrgUnit: "ouDistrict1"})
	deadline := time.Now().Add(5 * time.Second)
	for srv.pulls.waiting(key) < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d pulls are waiting", srv.pulls.waiting(key), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	wg.Wait()
	if got := exp.previewCalls(); got != 1 {
		t.Errorf("Preview called %d times for %d identical concurrent pulls; want 1", got, n)
	}
	first := checkEnvelope(t, recs[0]).Response.Body
	for i, rec := range recs {
		env := checkEnvelope(t, rec)
		if rec.Code != 200 || env.Response.Body != first || len(env.Orchestrations) != 1 {
			t.Errorf("pull %d = %d, %d orchestrations, body %.80s", i, rec.Code, len(env.Orchestrations), env.Response.Body)
		}
	}
	// Once done, the next pull builds again.
	do(h, "GET", target, nil, nil)
	if got := exp.previewCalls(); got != 2 {
		t.Errorf("Preview calls after a later pull = %d; want 2", got)
	}
}

// TestPullCoalesced_oneClientLeaves: a client leaving does not cancel a
// build another client still waits for.
func TestPullCoalesced_oneClientLeaves(t *testing.T) {
	release := make(chan struct{})
	var buildCtx context.Context
	var mu sync.Mutex
	exp := &fakeExporter{previewFn: func(ctx context.Context, r export.Request) (*export.Preview, error) {
		mu.Lock()
		buildCtx = ctx
		mu.Unlock()
		<-release
		return samplePreview(r), ctx.Err()
	}}
	h, _ := testServer(t, exp, nil)
	srv := serverOf(t, h)
	target := "/dataValueSets?dataSet=VMuFODsyWaO&period=202406"
	key := pullKey(export.Request{DataSet: "VMuFODsyWaO", Period: mustMonth(t, "202406")})

	ctx1, cancel1 := context.WithCancel(context.Background())
	r1 := make(chan int, 1)
	go func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", target, nil).WithContext(ctx1))
		r1 <- rec.Code
	}()
	waitFor(t, func() bool { return srv.pulls.waiting(key) == 1 })
	r2 := make(chan *httptest.ResponseRecorder, 1)
	go func() { r2 <- do(h, "GET", target, nil, nil) }()
	waitFor(t, func() bool { return srv.pulls.waiting(key) == 2 })
	cancel1()
	if code := <-r1; code != StatusClientClosedRequest {
		t.Errorf("the client that left got %d; want 499", code)
	}
	mu.Lock()
	err := buildCtx.Err()
	mu.Unlock()
	if err != nil {
		t.Errorf("the build was canceled (%v) while a client still waits", err)
	}
	close(release)
	if rec := <-r2; rec.Code != 200 {
		t.Errorf("the client that stayed got %d; want 200", rec.Code)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// serverOf digs the *server out of the engine's handlers, for tests that
// watch the coalescer.
func serverOf(t *testing.T, h http.Handler) *server {
	t.Helper()
	s, ok := servers.Load(h)
	if !ok {
		t.Fatal("no server registered for the handler")
	}
	return s.(*server)
}

// TestNoSecretInLogs sends a known password as inbound basic auth (right
// and wrong), in a password query parameter and inside an upstream error's
// URL, and fails if it shows up in any log line or answer.
func TestNoSecretInLogs(t *testing.T) {
	const secret = "Sup3r-S3cret-Pa55"
	exp := &fakeExporter{exportFn: func(context.Context, export.ExportRequest) (*export.Report, error) {
		return nil, fmt.Errorf("dhis2: push data values: Post \"https://admin:%s@dhis2.example.org/api/dataValueSets?token=%s\": connection refused", secret, secret)
	}}
	h, logs := testServer(t, exp, func(o *Options) { o.Username, o.Password = "openhim", secret })
	var answers strings.Builder
	for _, r := range []struct {
		target string
		hdr    map[string]string
	}{
		{"/export?dataSet=VMuFODsyWaO", basic("openhim", secret)},
		{"/export?dataSet=VMuFODsyWaO", basic("openhim", secret+"x")},
		{"/export?dataSet=VMuFODsyWaO", basic("root", secret)},
		{"/export?password=" + secret, basic("openhim", secret)},
		{"/nowhere?token=" + secret, basic("openhim", secret)},
		{"/health?password=" + secret, nil},
	} {
		rec := do(h, "GET", r.target, nil, r.hdr)
		answers.WriteString(rec.Body.String())
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("the secret is in the logs:\n%s", logs)
	}
	if strings.Contains(answers.String(), secret) {
		t.Errorf("the secret is in an answer:\n%s", answers.String())
	}
	if !strings.Contains(logs.String(), "REDACTED") {
		t.Errorf("expected redaction markers in the logs:\n%s", logs)
	}
}
