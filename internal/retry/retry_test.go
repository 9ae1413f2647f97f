package retry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// script serves the statuses in order (the last one forever) and records
// the bodies it received.
type script struct {
	mu       sync.Mutex
	statuses []int
	headers  map[int]http.Header // by call index (0-based)
	bodies   []string
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	i := len(s.bodies)
	s.bodies = append(s.bodies, string(b))
	code := s.statuses[min(i, len(s.statuses)-1)]
	h := s.headers[i]
	s.mu.Unlock()
	for k, v := range h {
		w.Header()[k] = v
	}
	w.WriteHeader(code)
	_, _ = io.WriteString(w, http.StatusText(code))
}

func (s *script) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.bodies)
}

// newTestTransport returns a Transport with policy p whose waits are
// recorded instead of slept, and a log of JSON lines.
func newTestTransport(p Policy) (*Transport, *[]time.Duration, *bytes.Buffer) {
	var logs bytes.Buffer
	tr := New("cht", p, nil, slog.New(slog.NewJSONHandler(&logs, nil)))
	var waits []time.Duration
	tr.jitter = func(d time.Duration) time.Duration { return d }
	tr.sleep = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return ctx.Err()
	}
	return tr, &waits, &logs
}

var testPolicy = Policy{Attempts: 3, InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, Budget: time.Minute}

func TestTransport_statuses(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		mark      bool // Idempotency-Key: nil
		statuses  []int
		retryHdr  string // Retry-After of the first answer
		wantCalls int
		wantCode  int
		wantWaits []time.Duration
	}{
		{name: "503 then 200", method: "GET", statuses: []int{503, 200}, wantCalls: 2, wantCode: 200, wantWaits: []time.Duration{100 * time.Millisecond}},
		{name: "500 twice then 200", method: "GET", statuses: []int{500, 500, 200}, wantCalls: 3, wantCode: 200, wantWaits: []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}},
		{name: "502 every time: last answer returned", method: "GET", statuses: []int{502}, wantCalls: 3, wantCode: 502, wantWaits: []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}},
		{name: "504 then 200", method: "HEAD", statuses: []int{504, 200}, wantCalls: 2, wantCode: 200, wantWaits: []time.Duration{100 * time.Millisecond}},
		{name: "400 never retried", method: "GET", statuses: []int{400, 200}, wantCalls: 1, wantCode: 400},
		{name: "401 never retried", method: "GET", statuses: []int{401, 200}, wantCalls: 1, wantCode: 401},
		{name: "404 never retried", method: "GET", statuses: []int{404, 200}, wantCalls: 1, wantCode: 404},
		{name: "409 never retried", method: "POST", mark: true, statuses: []int{409, 200}, wantCalls: 1, wantCode: 409},
		{name: "408 retried", method: "GET", statuses: []int{408, 200}, wantCalls: 2, wantCode: 200, wantWaits: []time.Duration{100 * time.Millisecond}},
		{name: "429 with Retry-After", method: "GET", statuses: []int{429, 200}, retryHdr: "3", wantCalls: 2, wantCode: 200, wantWaits: []time.Duration{3 * time.Second}},
		{name: "503 with Retry-After 0", method: "GET", statuses: []int{503, 200}, retryHdr: "0", wantCalls: 2, wantCode: 200, wantWaits: []time.Duration{0}},
		{name: "503 with Retry-After past the budget", method: "GET", statuses: []int{503, 200}, retryHdr: "120", wantCalls: 1, wantCode: 503},
		{name: "429 with an unreadable Retry-After", method: "GET", statuses: []int{429, 200}, retryHdr: "soon", wantCalls: 2, wantCode: 200, wantWaits: []time.Duration{100 * time.Millisecond}},
		{name: "501 never retried", method: "GET", statuses: []int{501, 200}, wantCalls: 1, wantCode: 501},
		{name: "POST not marked is never retried", method: "POST", statuses: []int{503, 200}, wantCalls: 1, wantCode: 503},
		{name: "POST marked idempotent is retried", method: "POST", mark: true, statuses: []int{503, 200}, wantCalls: 2, wantCode: 200, wantWaits: []time.Duration{100 * time.Millisecond}},
		{name: "PUT not marked is never retried", method: "PUT", statuses: []int{500, 200}, wantCalls: 1, wantCode: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &script{statuses: tt.statuses}
			if tt.retryHdr != "" {
				s.headers = map[int]http.Header{0: {"Retry-After": {tt.retryHdr}}}
			}
			srv := httptest.NewServer(s)
			t.Cleanup(srv.Close)
			tr, waits, _ := newTestTransport(testPolicy)
			tr.next = srv.Client().Transport
			var body io.Reader
			if tt.method == "POST" || tt.method == "PUT" {
				body = strings.NewReader(`{"keys":["a","b"]}`)
			}
			req, _ := http.NewRequest(tt.method, srv.URL+"/medic/_all_docs", body)
			if tt.mark {
				req.Header["Idempotency-Key"] = nil
			}
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantCode || s.calls() != tt.wantCalls {
				t.Errorf("status %d after %d calls; want %d after %d", resp.StatusCode, s.calls(), tt.wantCode, tt.wantCalls)
			}
			if got := *waits; !equalDurations(got, tt.wantWaits) {
				t.Errorf("waits = %v; want %v", got, tt.wantWaits)
			}
			if body != nil {
				for i, b := range s.bodies {
					if b != `{"keys":["a","b"]}` {
						t.Errorf("body of call %d = %q; want the request's body replayed", i+1, b)
					}
				}
			}
		})
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestTransport_connectionRefused(t *testing.T) {
	tr, waits, logs := newTestTransport(testPolicy)
	_, err := (&http.Client{Transport: tr}).Get("http://" + closedAddr(t) + "/medic")
	var re *Error
	if !errors.As(err, &re) || re.Attempts != 3 {
		t.Fatalf("Get = %v; want an *Error after 3 attempts", err)
	}
	if !strings.Contains(err.Error(), "after 3 attempts: ") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("error %q; want it to name the attempts and the cause", err)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Errorf("error %v does not unwrap to the *net.OpError", err)
	}
	if len(*waits) != 2 {
		t.Errorf("waits = %v; want 2", *waits)
	}
	// Each retry is logged at Warn with the attempt and the error, and the
	// giving up once.
	var retries, gaveUp int
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["level"] != "WARN" || m["component"] != "retry" || m["upstream"] != "cht" {
			t.Errorf("log line %s; want WARN with component retry and upstream cht", line)
		}
		switch m["msg"] {
		case "retrying a call":
			retries++
			if m["attempt"] != float64(retries) || !strings.Contains(m["err"].(string), "connection refused") {
				t.Errorf("retry log %s; want attempt %d and the error", line, retries)
			}
		case "giving up on a call":
			gaveUp++
			if m["attempts"] != float64(3) {
				t.Errorf("giving up log %s; want attempts 3", line)
			}
		}
	}
	if retries != 2 || gaveUp != 1 {
		t.Errorf("%d retry and %d giving-up logs; want 2 and 1:\n%s", retries, gaveUp, logs)
	}
}

func TestTransport_budget(t *testing.T) {
	s := &script{statuses: []int{503}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	p := testPolicy
	p.Attempts = 10
	p.Budget = 350 * time.Millisecond
	tr, waits, _ := newTestTransport(p)
	tr.next = srv.Client().Transport
	clock := time.Unix(0, 0)
	tr.now = func() time.Time { return clock }
	tr.sleep = func(_ context.Context, d time.Duration) error {
		*waits = append(*waits, d)
		clock = clock.Add(d)
		return nil
	}
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// Waits 100ms and 200ms fit in 350ms; the next (400ms) would start at 700ms.
	if s.calls() != 3 || resp.StatusCode != 503 {
		t.Errorf("%d calls, status %d; want 3 calls within the budget, the last answer 503", s.calls(), resp.StatusCode)
	}
}

func TestTransport_budgetZeroMeansNoRetry(t *testing.T) {
	s := &script{statuses: []int{503, 200}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	p := testPolicy
	p.Budget = 0
	tr, _, _ := newTestTransport(p)
	tr.next = srv.Client().Transport
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if s.calls() != 1 {
		t.Errorf("%d calls; want 1", s.calls())
	}
}

func TestTransport_respectsContext(t *testing.T) {
	s := &script{statuses: []int{503}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	tr := New("dhis2", Policy{Attempts: 5, InitialBackoff: time.Hour, MaxBackoff: time.Hour, Budget: 2 * time.Hour}, srv.Client().Transport, nil)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	start := time.Now()
	_, err := (&http.Client{Transport: tr}).Do(req)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Do = %v; want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Do returned after %v; want soon after the cancellation", d)
	}
	if s.calls() != 1 {
		t.Errorf("%d calls; want 1", s.calls())
	}
}

func TestTransport_noRetryPastTheDeadline(t *testing.T) {
	s := &script{statuses: []int{503, 200}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	tr := New("dhis2", Policy{Attempts: 3, InitialBackoff: time.Minute, MaxBackoff: time.Minute, Budget: time.Hour}, srv.Client().Transport, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || s.calls() != 1 {
		t.Errorf("status %d after %d calls; want the 503 at once: the wait ends after the deadline", resp.StatusCode, s.calls())
	}
}

// A body without GetBody cannot be replayed: one try.
func TestTransport_bodyWithoutGetBody(t *testing.T) {
	s := &script{statuses: []int{503, 200}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	tr, _, _ := newTestTransport(testPolicy)
	tr.next = srv.Client().Transport
	req, _ := http.NewRequest(http.MethodPost, srv.URL, io.NopCloser(strings.NewReader("x")))
	req.Header["Idempotency-Key"] = nil
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if s.calls() != 1 {
		t.Errorf("%d calls; want 1", s.calls())
	}
}

// The Idempotency-Key mark with a nil value never reaches the server.
func TestTransport_markNotSent(t *testing.T) {
	var saw atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, ok := r.Header["Idempotency-Key"]
		saw.Store(ok)
	}))
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("x"))
	req.Header["Idempotency-Key"] = nil
	resp, err := (&http.Client{Transport: New("cht", testPolicy, srv.Client().Transport, nil)}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if saw.Load() {
		t.Error("the server received an Idempotency-Key header")
	}
}

func TestIsIdempotent(t *testing.T) {
	tests := []struct {
		method string
		header string
		want   bool
	}{
		{"GET", "", true}, {"HEAD", "", true}, {"OPTIONS", "", true}, {"", "", true},
		{"POST", "", false}, {"PUT", "", false}, {"DELETE", "", false}, {"PATCH", "", false},
		{"POST", "Idempotency-Key", true}, {"POST", "X-Idempotency-Key", true}, {"PUT", "Idempotency-Key", true},
	}
	for _, tt := range tests {
		req := &http.Request{Method: tt.method, Header: http.Header{}}
		if tt.header != "" {
			req.Header[tt.header] = nil
		}
		if got := IsIdempotent(req); got != tt.want {
			t.Errorf("IsIdempotent(%s, %q) = %t; want %t", tt.method, tt.header, got, tt.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", -1}, {"x", -1}, {"-3", -1}, {"0", 0}, {"7", 7 * time.Second}, {" 2 ", 2 * time.Second},
		{"999999999999", 24 * time.Hour},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v; want %v", tt.in, got, tt.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	tr := New("cht", Policy{Attempts: 10, InitialBackoff: 500 * time.Millisecond, MaxBackoff: 3 * time.Second, Budget: time.Minute}, nil, nil)
	for attempt, want := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second} {
		for range 50 {
			got := tr.backoff(attempt + 1)
			if got < want/2 || got >= want {
				t.Fatalf("backoff(%d) = %v; want in [%v, %v)", attempt+1, got, want/2, want)
			}
		}
	}
}

func TestPolicyDefaults(t *testing.T) {
	got := New("cht", Policy{}, nil, nil).Policy()
	want := Policy{Attempts: DefaultAttempts, InitialBackoff: DefaultInitialBackoff, MaxBackoff: DefaultMaxBackoff}
	if got != want {
		t.Errorf("Policy() = %+v; want %+v", got, want)
	}
}
