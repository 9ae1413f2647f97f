package breaker

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/testutil"
)

// upstream answers with the status in code (200 when 0), after delay.
type upstream struct {
	code  atomic.Int32
	delay atomic.Int64
	calls atomic.Int32
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.calls.Add(1)
	if d := time.Duration(u.delay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	code := int(u.code.Load())
	if code == 0 {
		code = 200
	}
	w.WriteHeader(code)
	_, _ = io.WriteString(w, `{"ok":true}`)
}

// newClient returns a client whose transport is breaker b in front of the
// test server of u, and b's log.
func newClient(t *testing.T, s Settings) (*http.Client, *Breaker, *upstream, string, *testutil.SyncBuffer) {
	t.Helper()
	u := &upstream{}
	srv := httptest.NewServer(u)
	t.Cleanup(srv.Close)
	logs := &testutil.SyncBuffer{}
	b := New("cht", s, slog.New(slog.NewJSONHandler(logs, nil)))
	return &http.Client{Transport: NewTransport(b, srv.Client().Transport)}, b, u, srv.URL, logs
}

func get(t *testing.T, c *http.Client, url string) (int, error) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func TestTransport_opensAfterConsecutiveFailures(t *testing.T) {
	c, b, u, url, logs := newClient(t, Settings{Failures: 3, OpenFor: time.Minute})
	u.code.Store(503)
	for i := range 3 {
		code, err := get(t, c, url)
		if err != nil || code != 503 {
			t.Fatalf("call %d = %d, %v; want the 503 to reach the caller", i+1, code, err)
		}
	}
	if got := b.State(); got != StateOpen {
		t.Fatalf("State() = %q after 3 failures; want open", got)
	}
	start := time.Now()
	_, err := get(t, c, url)
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("a refused call took %v; want at once", d)
	}
	if u.calls.Load() != 3 {
		t.Errorf("the upstream got %d calls; want 3: an open breaker sends none", u.calls.Load())
	}
	if !errors.Is(err, ErrOpen) || !errors.Is(err, gobreaker.ErrOpenState) {
		t.Errorf("error %v; want it to wrap ErrOpen and gobreaker.ErrOpenState", err)
	}
	var oe *OpenError
	if !errors.As(err, &oe) || oe.Upstream() != "cht" {
		t.Fatalf("error %v; want an *OpenError of cht", err)
	}
	msg := oe.Error()
	for _, want := range []string{"cht: circuit breaker open after 3 consecutive failures", "(last: status 503)", "; next try in "} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q; want it to contain %q", msg, want)
		}
	}
	if oe.RetryIn <= 55*time.Second || oe.RetryIn > time.Minute {
		t.Errorf("RetryIn = %v; want just under a minute", oe.RetryIn)
	}
	st := b.Status()
	if st.State != StateOpen || st.ConsecutiveFailures != 3 || st.LastFailure != "status 503" || st.NextTry == nil {
		t.Errorf("Status() = %+v", st)
	}
	// The state change is logged once, at Warn, with component and err.
	var opened int
	for _, l := range logs.Lines(t) {
		if l["to"] == StateOpen {
			opened++
			if l["level"] != "WARN" || l["component"] != "breaker" || l["upstream"] != "cht" || l["err"] != "status 503" {
				t.Errorf("log %v; want WARN with component breaker, upstream cht and err", l)
			}
		}
	}
	if opened != 1 {
		t.Errorf("%d logs of the breaker opening; want 1", opened)
	}
}

func TestTransport_classification(t *testing.T) {
	tests := []struct {
		name        string
		call        func(t *testing.T, c *http.Client, u *upstream, url string)
		wantStreak  int
		wantFailure string
	}{
		{"200 is a success", func(t *testing.T, c *http.Client, u *upstream, url string) { get(t, c, url) }, 0, ""},
		{"404 is no failure", func(t *testing.T, c *http.Client, u *upstream, url string) { u.code.Store(404); get(t, c, url) }, 0, ""},
		{"401 is no failure", func(t *testing.T, c *http.Client, u *upstream, url string) { u.code.Store(401); get(t, c, url) }, 0, ""},
		{"429 is no failure", func(t *testing.T, c *http.Client, u *upstream, url string) { u.code.Store(429); get(t, c, url) }, 0, ""},
		{"500 is a failure", func(t *testing.T, c *http.Client, u *upstream, url string) { u.code.Store(500); get(t, c, url) }, 1, "status 500"},
		{"504 is a failure", func(t *testing.T, c *http.Client, u *upstream, url string) { u.code.Store(504); get(t, c, url) }, 1, "status 504"},
		{"a timeout is a failure", func(t *testing.T, c *http.Client, u *upstream, url string) {
			u.delay.Store(int64(time.Second))
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if _, err := c.Do(req); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Do = %v; want a deadline", err)
			}
		}, 1, "context deadline exceeded"},
		{"the caller's cancellation is neither", func(t *testing.T, c *http.Client, u *upstream, url string) {
			u.delay.Store(int64(time.Second))
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if _, err := c.Do(req); !errors.Is(err, context.Canceled) {
				t.Errorf("Do = %v; want canceled", err)
			}
		}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, b, u, url, _ := newClient(t, Settings{Failures: 5, OpenFor: time.Minute})
			tt.call(t, c, u, url)
			st := b.Status()
			if st.ConsecutiveFailures != tt.wantStreak || !strings.Contains(st.LastFailure, tt.wantFailure) || st.State != StateClosed {
				t.Errorf("Status() = %+v; want %d failures, last %q, closed", st, tt.wantStreak, tt.wantFailure)
			}
		})
	}
}

func TestTransport_connectionRefusedCounts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	b := New("dhis2", Settings{Failures: 2, OpenFor: time.Minute}, nil)
	c := &http.Client{Transport: NewTransport(b, nil)}
	for range 2 {
		if _, err := c.Get("http://" + addr); err == nil || errors.Is(err, ErrOpen) {
			t.Fatalf("Get = %v; want a connection error", err)
		}
	}
	_, err = c.Get("http://" + addr)
	if !errors.Is(err, ErrOpen) || !strings.Contains(err.Error(), "dhis2: circuit breaker open after 2 consecutive failures (last: dial tcp") {
		t.Errorf("Get = %v; want the open breaker naming dhis2 and the connection error", err)
	}
}

// A success resets the count: failures must be consecutive.
func TestTransport_successResets(t *testing.T) {
	c, b, u, url, _ := newClient(t, Settings{Failures: 3, OpenFor: time.Minute})
	for range 5 {
		u.code.Store(500)
		get(t, c, url)
		get(t, c, url)
		u.code.Store(200)
		get(t, c, url)
	}
	if b.State() != StateClosed {
		t.Errorf("State() = %q; want closed: never 3 failures in a row", b.State())
	}
}

func TestTransport_halfOpenThenClosed(t *testing.T) {
	c, b, u, url, logs := newClient(t, Settings{Failures: 1, OpenFor: 100 * time.Millisecond})
	u.code.Store(502)
	get(t, c, url)
	if _, err := get(t, c, url); !errors.Is(err, ErrOpen) {
		t.Fatalf("second call = %v; want refused", err)
	}
	u.code.Store(200)
	time.Sleep(150 * time.Millisecond)
	if code, err := get(t, c, url); err != nil || code != 200 {
		t.Fatalf("probe = %d, %v; want 200", code, err)
	}
	if b.State() != StateClosed {
		t.Errorf("State() = %q after a good probe; want closed", b.State())
	}
	var changes []string
	for _, l := range logs.Lines(t) {
		if to, ok := l["to"].(string); ok {
			changes = append(changes, l["from"].(string)+"→"+to)
		}
	}
	if got, want := strings.Join(changes, " "), "closed→open open→half-open half-open→closed"; got != want {
		t.Errorf("state changes logged: %q; want %q", got, want)
	}
}

func TestTransport_halfOpenThenOpenAgain(t *testing.T) {
	c, b, u, url, _ := newClient(t, Settings{Failures: 2, OpenFor: 100 * time.Millisecond})
	u.code.Store(500)
	get(t, c, url)
	get(t, c, url)
	time.Sleep(150 * time.Millisecond)
	if code, err := get(t, c, url); err != nil || code != 500 {
		t.Fatalf("probe = %d, %v; want the 500", code, err)
	}
	_, err := get(t, c, url)
	if !errors.Is(err, ErrOpen) || !strings.Contains(err.Error(), "after 3 consecutive failures") {
		t.Errorf("after a failed probe: %v; want open again after 3 consecutive failures", err)
	}
	if b.State() != StateOpen {
		t.Errorf("State() = %q; want open", b.State())
	}
}

// While a half-open breaker's probe is in flight, other calls fail at once
// (gobreaker's ErrTooManyRequests, named as half-open); after the good
// probe, calls go through again.
func TestTransport_halfOpenRefusesDuringTheProbe(t *testing.T) {
	c, b, u, url, _ := newClient(t, Settings{Failures: 1, OpenFor: 20 * time.Millisecond})
	u.code.Store(500)
	get(t, c, url)
	u.code.Store(200)
	u.delay.Store(int64(300 * time.Millisecond))
	time.Sleep(40 * time.Millisecond)
	probe := make(chan error, 1)
	go func() {
		code, err := get(t, c, url)
		if err == nil && code != 200 {
			err = errors.New(http.StatusText(code))
		}
		probe <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for u.calls.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // until the probe reached the upstream
	}
	start := time.Now()
	_, err := get(t, c, url)
	if !errors.Is(err, ErrOpen) || !errors.Is(err, gobreaker.ErrTooManyRequests) {
		t.Errorf("a call during the probe = %v; want ErrOpen and ErrTooManyRequests", err)
	}
	if err != nil && !strings.Contains(err.Error(), "cht: circuit breaker half-open") {
		t.Errorf("error %q; want it to name cht and the half-open state", err)
	}
	if took := time.Since(start); took > 200*time.Millisecond {
		t.Errorf("the refusal took %v; want it at once", took)
	}
	if err := <-probe; err != nil {
		t.Fatalf("probe: %v", err)
	}
	u.delay.Store(0)
	if code, err := get(t, c, url); err != nil || code != 200 {
		t.Errorf("after the good probe: %d, %v; want 200", code, err)
	}
	if b.State() != StateClosed {
		t.Errorf("State() = %q; want closed", b.State())
	}
}

// A 2xx answer cut off mid-body is a failure; one closed early is not.
func TestTransport_bodyOutcome(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		_, _ = io.WriteString(w, `{"rows":[`)
		if r.URL.Query().Get("cut") == "" {
			_, _ = io.WriteString(w, strings.Repeat(" ", 991))
			return
		}
		if hj, ok := w.(http.Hijacker); ok {
			w.(http.Flusher).Flush()
			conn, _, _ := hj.Hijack()
			conn.Close()
		}
	}))
	t.Cleanup(srv.Close)
	b := New("cht", Settings{Failures: 5, OpenFor: time.Minute}, nil)
	c := &http.Client{Transport: NewTransport(b, srv.Client().Transport)}

	resp, err := c.Get(srv.URL + "?cut=1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Fatal("reading a cut body succeeded")
	}
	resp.Body.Close()
	if st := b.Status(); st.ConsecutiveFailures != 1 {
		t.Errorf("after a cut body: %+v; want 1 failure", st)
	}

	resp, err = c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	_, _ = resp.Body.Read(buf)
	resp.Body.Close()
	if st := b.Status(); st.ConsecutiveFailures != 0 {
		t.Errorf("after a body closed early: %+v; want the failures reset", st)
	}
}

func TestOpenError_message(t *testing.T) {
	tests := []struct {
		e    OpenError
		want string
	}{
		{OpenError{Name: "cht", State: StateOpen, Failures: 5, RetryIn: 26*time.Second + 300*time.Millisecond},
			"cht: circuit breaker open after 5 consecutive failures; next try in 27s"},
		{OpenError{Name: "dhis2", State: StateOpen, Failures: 1, Last: "status 503", RetryIn: 1234 * time.Millisecond},
			"dhis2: circuit breaker open after 1 consecutive failure (last: status 503); next try in 1.3s"},
		{OpenError{Name: "openhim", State: StateOpen, Failures: 2, RetryIn: 120500 * time.Microsecond},
			"openhim: circuit breaker open after 2 consecutive failures; next try in 121ms"},
		{OpenError{Name: "cht", State: StateHalfOpen, Failures: 3, cause: []error{gobreaker.ErrTooManyRequests}},
			"cht: circuit breaker half-open after 3 consecutive failures; a probe is in flight, try again in a moment"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q; want %q", got, tt.want)
		}
	}
}

func TestRegistry(t *testing.T) {
	r := NewRegistry(nil)
	s := Settings{Failures: 2, OpenFor: time.Second}
	a := r.For("cht", s)
	if r.For("cht", s) != a {
		t.Error("For with the same settings returned a new breaker")
	}
	if r.For("cht", Settings{Failures: 2, OpenFor: time.Second, HalfOpenRequests: 1}) != a {
		t.Error("For with the same settings, defaults spelt out, returned a new breaker")
	}
	if r.For("dhis2", s) == a {
		t.Error("two upstreams share a breaker")
	}
	b := r.For("cht", Settings{Failures: 3, OpenFor: time.Second})
	if b == a || b.Settings().Failures != 3 {
		t.Errorf("For with new settings kept the old breaker")
	}
	if got := r.States(); len(got) != 2 || got["cht"] != StateClosed || got["dhis2"] != StateClosed {
		t.Errorf("States() = %v", got)
	}
	if got := r.Statuses(); len(got) != 2 || got["cht"].State != StateClosed {
		t.Errorf("Statuses() = %v", got)
	}
}

func TestSettingsDefaults(t *testing.T) {
	got := New("x", Settings{}, nil).Settings()
	want := Settings{Failures: DefaultFailures, OpenFor: DefaultOpenFor, HalfOpenRequests: DefaultHalfOpenRequests}
	if got != want {
		t.Errorf("Settings() = %+v; want %+v", got, want)
	}
}
