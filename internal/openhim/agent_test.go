package openhim

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/config"
)

// scriptCore is a Core whose answers a test scripts.
type scriptCore struct {
	mu           sync.Mutex
	registerErrs []error // answered in order, then nil
	registerErr  error   // answered when registerErrs is used up, if set
	registers    int
	beat         func(n int) (map[string]any, error) // n counts from 1
	beats        int
	uptimes      []time.Duration
	block        chan struct{} // when set, Register waits for it, ignoring ctx
}

func (s *scriptCore) Register(ctx context.Context, reg Registration) error {
	s.mu.Lock()
	block := s.block
	s.mu.Unlock()
	if block != nil {
		<-block
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.registers++
	if len(s.registerErrs) > 0 {
		err := s.registerErrs[0]
		s.registerErrs = s.registerErrs[1:]
		return err
	}
	return s.registerErr
}

func (s *scriptCore) Heartbeat(ctx context.Context, urn string, uptime time.Duration, wantConfig bool) (map[string]any, error) {
	s.mu.Lock()
	s.beats++
	n := s.beats
	s.uptimes = append(s.uptimes, uptime)
	beat := s.beat
	s.mu.Unlock()
	if !wantConfig {
		panic("the agent must ask for the config on every heartbeat")
	}
	if beat == nil {
		return nil, nil
	}
	return beat(n)
}

func (s *scriptCore) counts() (registers, beats int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.registers, s.beats
}

// logRecorder is a slog.Handler that keeps every record.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.records = append(l.records, r)
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// count returns how many records have level and message.
func (l *logRecorder) count(level slog.Level, msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.records {
		if r.Level == level && r.Message == msg {
			n++
		}
	}
	return n
}

// eventually polls cond until it holds or 5 s passed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func startAgent(t *testing.T, core Core, opts AgentOptions) (*Agent, *logRecorder) {
	t.Helper()
	logs := &logRecorder{}
	if opts.Interval == 0 {
		opts.Interval = 5 * time.Millisecond
	}
	if opts.MinBackoff == 0 {
		opts.MinBackoff = time.Millisecond
	}
	if opts.MaxBackoff == 0 {
		opts.MaxBackoff = 4 * time.Millisecond
	}
	opts.Logger = slog.New(logs)
	a := NewAgent(core, Registration{URN: "urn:mediator:test", Version: "1.0.0"}, opts)
	a.Start(context.Background())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.Stop(ctx); err != nil {
			t.Errorf("Stop() = %v", err)
		}
	})
	return a, logs
}

var errDown = &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}

func TestAgent_registersWhenCoreComesUp(t *testing.T) {
	core := &scriptCore{registerErrs: []error{errDown, errDown, &StatusError{Op: "register", StatusCode: 503}, &StatusError{Op: "register", StatusCode: 503}}}
	start := time.Now().Add(-time.Hour)
	a, logs := startAgent(t, core, AgentOptions{Start: start})
	eventually(t, "registration and two heartbeats", func() bool {
		_, beats := core.counts()
		return a.Status().Registered && beats >= 2
	})
	if regs, _ := core.counts(); regs != 5 {
		t.Errorf("Register called %d times; want 5 (4 failures, then success)", regs)
	}
	if n := logs.count(slog.LevelWarn, "cannot register with OpenHIM core; retrying"); n != 2 {
		t.Errorf("%d Warn records for 4 failures of 2 kinds; want 2", n)
	}
	if n := logs.count(slog.LevelInfo, "registered with OpenHIM core"); n != 1 {
		t.Errorf("%d Info records for the registration; want 1", n)
	}
	st := a.Status()
	if st.LastError != "" || st.LastHeartbeat.IsZero() {
		t.Errorf("Status() = %+v; want no error and a heartbeat time", st)
	}
	core.mu.Lock()
	up := core.uptimes[0]
	core.mu.Unlock()
	if up < time.Hour {
		t.Errorf("uptime sent = %s; want at least 1h (from AgentOptions.Start)", up)
	}
}

func TestAgent_reregistersAfter404(t *testing.T) {
	core := &scriptCore{beat: func(n int) (map[string]any, error) {
		if n == 3 {
			return nil, &StatusError{Op: "heartbeat", StatusCode: 404, sentinel: ErrNotRegistered}
		}
		return nil, nil
	}}
	a, logs := startAgent(t, core, AgentOptions{})
	eventually(t, "a second registration and more heartbeats", func() bool {
		regs, beats := core.counts()
		return regs == 2 && beats >= 5
	})
	if !a.Status().Registered {
		t.Errorf("Status().Registered = false after registering again")
	}
	if n := logs.count(slog.LevelWarn, "OpenHIM core does not know the mediator; registering again"); n != 1 {
		t.Errorf("%d Warn records for the 404; want 1", n)
	}
}

func TestAgent_config(t *testing.T) {
	cfgA := map[string]any{"cht": map[string]any{"url": "https://a"}}
	cfgB := map[string]any{"cht": map[string]any{"url": "https://b"}}
	core := &scriptCore{beat: func(n int) (map[string]any, error) {
		switch {
		case n == 1:
			return nil, nil // "OK": nothing stored yet
		case n <= 4:
			return cfgA, nil // core answers every config:true beat
		default:
			return cfgB, nil
		}
	}}
	var mu sync.Mutex
	var got []string
	_, logs := startAgent(t, core, AgentOptions{OnConfig: func(c map[string]any) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, c["cht"].(map[string]any)["url"].(string))
		return nil
	}})
	eventually(t, "8 heartbeats", func() bool { _, beats := core.counts(); return beats >= 8 })
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got[:min(len(got), 2)], []string{"https://a", "https://b"}) || len(got) != 2 {
		t.Errorf("OnConfig got %v; want [https://a https://b]: once per change", got)
	}
	if n := logs.count(slog.LevelInfo, "config applied"); n != 2 {
		t.Errorf("%d \"config applied\" records; want 2", n)
	}
}

// A config the mediator cannot use is refused as a whole; the old one stays.
func TestAgent_badConfigKeepsOld(t *testing.T) {
	base := config.Default()
	base.CHT.URL = "https://cht.local"
	good := map[string]any{"cht": map[string]any{"url": "https://cht.console", "page_size": 200.0}}
	bad := map[string]any{"cht": map[string]any{"url": "https://cht.other", "page_size": 0.0}}
	core := &scriptCore{beat: func(n int) (map[string]any, error) {
		if n <= 2 {
			return good, nil
		}
		return bad, nil
	}}
	var mu sync.Mutex
	current := base
	_, logs := startAgent(t, core, AgentOptions{OnConfig: func(m map[string]any) error {
		c, err := base.ApplyConsole(m)
		if err != nil {
			return err
		}
		mu.Lock()
		current = c
		mu.Unlock()
		return nil
	}})
	eventually(t, "6 heartbeats", func() bool { _, beats := core.counts(); return beats >= 6 })
	mu.Lock()
	defer mu.Unlock()
	if current.CHT.URL != "https://cht.console" || current.CHT.PageSize != 200 {
		t.Errorf("config in use: url %s page_size %d; want the last good one (https://cht.console, 200)", current.CHT.URL, current.CHT.PageSize)
	}
	if n := logs.count(slog.LevelError, "config from OpenHIM refused"); n != 1 {
		t.Errorf("%d Error records for the refused config; want 1", n)
	}
}

func TestAgent_logsOncePerStateChange(t *testing.T) {
	core := &scriptCore{beat: func(n int) (map[string]any, error) {
		switch {
		case n <= 6:
			return nil, errDown
		case n <= 8:
			return nil, nil
		case n <= 12:
			return nil, &StatusError{Op: "heartbeat", StatusCode: 401, sentinel: ErrUnauthorized}
		}
		return nil, nil
	}}
	a, logs := startAgent(t, core, AgentOptions{})
	eventually(t, "14 heartbeats", func() bool { _, beats := core.counts(); return beats >= 14 })
	if n := logs.count(slog.LevelWarn, "heartbeat to OpenHIM core failed"); n != 2 {
		t.Errorf("%d Warn records for 10 failed heartbeats in 2 runs; want 2", n)
	}
	if n := logs.count(slog.LevelInfo, "heartbeat recovered"); n != 2 {
		t.Errorf("%d \"heartbeat recovered\" records; want 2", n)
	}
	if st := a.Status(); !st.Registered || st.LastError != "" {
		t.Errorf("Status() = %+v; want registered, no error", st)
	}
}

func TestAgent_statusShowsFailure(t *testing.T) {
	core := &scriptCore{registerErr: &StatusError{Op: "register", StatusCode: 401, Body: "Unauthorized", sentinel: ErrUnauthorized}}
	a, _ := startAgent(t, core, AgentOptions{})
	eventually(t, "a failed registration", func() bool { return a.Status().LastError != "" })
	if st := a.Status(); st.Registered || st.LastError != "openhim: register: status 401: Unauthorized (OpenHIM core refused the credentials: check openhim.username and openhim.password, and openhim.auth=token for cores before 8)" {
		t.Errorf("Status() = %+v", st)
	}
}

func TestAgent_stopWhileBackingOff(t *testing.T) {
	core := &scriptCore{registerErr: errDown}
	logs := &logRecorder{}
	a := NewAgent(core, Registration{URN: "urn:x"}, AgentOptions{MinBackoff: time.Hour, Logger: slog.New(logs)})
	a.Start(context.Background())
	eventually(t, "a failed registration", func() bool { regs, _ := core.counts(); return regs >= 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := a.Stop(ctx); err != nil {
		t.Fatalf("Stop() = %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Stop() while backing off took %s", d)
	}
	if err := a.Stop(ctx); err != nil {
		t.Errorf("second Stop() = %v; want nil", err)
	}
	if regs, _ := core.counts(); regs != 1 {
		t.Errorf("Register called %d times; want 1", regs)
	}
}

func TestAgent_stopBeforeStart(t *testing.T) {
	core := &scriptCore{}
	a := NewAgent(core, Registration{URN: "urn:x"}, AgentOptions{})
	if err := a.Stop(context.Background()); err != nil {
		t.Fatalf("Stop() before Start() = %v", err)
	}
	a.Start(context.Background())
	if err := a.Stop(context.Background()); err != nil {
		t.Errorf("Stop() = %v", err)
	}
	if regs, _ := core.counts(); regs != 0 {
		t.Errorf("Start() after Stop() registered %d times; want 0", regs)
	}
}

// Stop respects its context when the goroutine cannot finish in time.
func TestAgent_stopDeadline(t *testing.T) {
	release := make(chan struct{})
	core := &scriptCore{block: release}
	a := NewAgent(core, Registration{URN: "urn:x"}, AgentOptions{})
	a.Start(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := a.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop() with a stuck call = %v; want the deadline", err)
	}
	close(release)
	if err := a.Stop(context.Background()); err != nil {
		t.Errorf("Stop() after the call returned = %v", err)
	}
}

func TestAgent_parentContextEnds(t *testing.T) {
	core := &scriptCore{}
	a := NewAgent(core, Registration{URN: "urn:x"}, AgentOptions{Interval: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	a.Start(ctx)
	eventually(t, "heartbeats", func() bool { _, beats := core.counts(); return beats >= 2 })
	cancel()
	select {
	case <-a.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the agent did not end with its context")
	}
}

// The agent and the client against the fake core over HTTP: core answers
// 503 at first, then accepts; its stored config (mediator.json's default,
// then one set "from the console") reaches OnConfig.
func TestAgent_withFakeCore(t *testing.T) {
	core := newFakeCore(t)
	core.set(func(f *fakeCore) { f.down = true })
	client := newTestClient(t, testCfg(core.srv.URL))
	reg := testRegistration(t)
	var mu sync.Mutex
	var delivered []map[string]any
	logs := &logRecorder{}
	a := NewAgent(client, reg, AgentOptions{
		Interval: 5 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		Logger: slog.New(logs),
		OnConfig: func(m map[string]any) error {
			mu.Lock()
			delivered = append(delivered, m)
			mu.Unlock()
			return nil
		},
	})
	a.Start(context.Background())
	t.Cleanup(func() { _ = a.Stop(context.Background()) })
	eventually(t, "a failed registration", func() bool { return a.Status().LastError != "" })
	core.set(func(f *fakeCore) { f.down = false })
	eventually(t, "the default config", func() bool { mu.Lock(); defer mu.Unlock(); return len(delivered) == 1 })
	core.set(func(f *fakeCore) {
		f.config = map[string]any{"cht": map[string]any{"url": "https://cht.console"}, "dhis2": map[string]any{}}
	})
	eventually(t, "the console config", func() bool { mu.Lock(); defer mu.Unlock(); return len(delivered) == 2 })
	mu.Lock()
	defer mu.Unlock()
	if !jsonEqual(delivered[0], reg.Config) {
		t.Errorf("first config = %v; want mediator.json's default", delivered[0])
	}
	base := config.Default()
	if c, err := base.ApplyConsole(delivered[1]); err != nil || c.CHT.URL != "https://cht.console" {
		t.Errorf("ApplyConsole(delivered) = %v, %v", c.CHT.URL, err)
	}
	if n := logs.count(slog.LevelWarn, "cannot register with OpenHIM core; retrying"); n != 1 {
		t.Errorf("%d Warn records while core was down; want 1", n)
	}
}
