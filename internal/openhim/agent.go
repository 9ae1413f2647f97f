package openhim

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Defaults of AgentOptions.
const (
	DefaultInterval   = 10 * time.Second
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = 60 * time.Second
)

// Core is the part of Client the Agent uses; tests replace it.
type Core interface {
	Register(ctx context.Context, reg Registration) error
	Heartbeat(ctx context.Context, urn string, uptime time.Duration, wantConfig bool) (map[string]any, error)
}

var _ Core = (*Client)(nil)

// AgentOptions configure an Agent.
type AgentOptions struct {
	// Interval is the time between two heartbeats; DefaultInterval when 0.
	// Core shows a mediator as down after 60 s without one.
	Interval time.Duration
	// Start is when the process started, for the uptime sent with each
	// heartbeat; the time of NewAgent when zero.
	Start time.Time
	// OnConfig receives a config delivered by core, in the shape of
	// mediator.json's "config" (typically: base.ApplyConsole(cfg)). It is
	// called from the agent's goroutine when a delivery differs from the
	// previous one (core answers every heartbeat with the whole config). An
	// error refuses the config: it is logged and the mediator keeps its old
	// one. May be nil.
	OnConfig func(map[string]any) error
	// Logger may be nil.
	Logger *slog.Logger
	// MinBackoff and MaxBackoff bound the jittered exponential backoff
	// between registration attempts; DefaultMinBackoff and
	// DefaultMaxBackoff when 0.
	MinBackoff, MaxBackoff time.Duration
}

// AgentStatus is the agent's state, for /health.
type AgentStatus struct {
	// Registered is true once core accepted the registration, until a
	// heartbeat answers 404.
	Registered bool `json:"registered"`
	// LastHeartbeat is when core last accepted a heartbeat (zero: never).
	LastHeartbeat time.Time `json:"last_heartbeat"`
	// LastError is the last failure, empty after a success.
	LastError string `json:"last_error,omitempty"`
}

// Agent keeps the mediator registered with core: it registers (retrying
// with jittered exponential backoff while core is unreachable or refuses),
// then sends a heartbeat with "config": true every Interval, hands delivered
// configs to OnConfig, and registers again when core forgets the mediator
// (heartbeat 404). Failures are logged at Warn once per change of state, not
// on every beat.
type Agent struct {
	core Core
	reg  Registration
	opts AgentOptions
	log  *slog.Logger

	// now and jitter are replaced in tests.
	now    func() time.Time
	jitter func(d time.Duration) time.Duration

	startOnce, stopOnce sync.Once
	cancel              context.CancelFunc
	done                chan struct{}

	mu         sync.Mutex
	status     AgentStatus
	failing    string // kind of the current failure, "" when healthy
	lastConfig [sha256.Size]byte
	hasConfig  bool
}

// NewAgent returns an agent that registers reg with core. Call Start, and
// Stop when done.
func NewAgent(core Core, reg Registration, opts AgentOptions) *Agent {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	opts.MaxBackoff = max(opts.MaxBackoff, opts.MinBackoff)
	if opts.Start.IsZero() {
		opts.Start = time.Now()
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Agent{
		core:   core,
		reg:    reg,
		opts:   opts,
		log:    log.With("component", "openhim", "urn", reg.URN),
		now:    time.Now,
		jitter: fullJitter,
		done:   make(chan struct{}),
	}
}

// Start runs the agent in a goroutine until ctx is done or Stop is called.
// Calls after the first do nothing.
func (a *Agent) Start(ctx context.Context) {
	a.startOnce.Do(func() {
		ctx, cancel := context.WithCancel(ctx)
		a.mu.Lock()
		a.cancel = cancel
		a.mu.Unlock()
		go func() {
			defer close(a.done)
			a.run(ctx)
		}()
	})
}

// Stop stops the agent and waits for its goroutine, or until ctx is done.
// It may be called more than once, and before Start.
func (a *Agent) Stop(ctx context.Context) error {
	a.stopOnce.Do(func() {
		// Never started: make a later Start do nothing and Stop not wait.
		a.startOnce.Do(func() { close(a.done) })
		a.mu.Lock()
		cancel := a.cancel
		a.mu.Unlock()
		if cancel != nil {
			cancel()
		}
	})
	select {
	case <-a.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("openhim: stop agent: %w", context.Cause(ctx))
	}
}

// Status returns the agent's state.
func (a *Agent) Status() AgentStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.status
}

func (a *Agent) run(ctx context.Context) {
	for {
		if !a.register(ctx) {
			return
		}
		if !a.beat(ctx) {
			return
		}
	}
}

// register registers until it succeeds (true) or ctx is done (false).
func (a *Agent) register(ctx context.Context) bool {
	backoff := a.opts.MinBackoff
	for {
		err := a.core.Register(ctx, a.reg)
		if ctx.Err() != nil {
			return false
		}
		if err == nil {
			a.mu.Lock()
			a.status.Registered = true
			a.status.LastError = ""
			a.failing = ""
			a.mu.Unlock()
			a.log.Info("registered with OpenHIM core", "version", a.reg.Version)
			return true
		}
		var se *StatusError
		if errors.As(err, &se) && se.StatusCode == http.StatusBadRequest {
			// Core refused the document itself: retrying soon will not help,
			// but an operator may fix core's stored state; keep trying slowly.
			a.fail("register 400", "OpenHIM core refused the registration", err, slog.LevelError)
			backoff = a.opts.MaxBackoff
		} else {
			a.fail("register "+failureKind(err), "cannot register with OpenHIM core; retrying", err, slog.LevelWarn)
		}
		if !a.sleep(ctx, a.jitter(backoff)) {
			return false
		}
		backoff = min(backoff*2, a.opts.MaxBackoff)
	}
}

// beat sends heartbeats until core forgets the mediator (true: register
// again) or ctx is done (false).
func (a *Agent) beat(ctx context.Context) bool {
	ticker := time.NewTicker(a.opts.Interval)
	defer ticker.Stop()
	for {
		cfg, err := a.core.Heartbeat(ctx, a.reg.URN, a.now().Sub(a.opts.Start), true)
		if ctx.Err() != nil {
			return false
		}
		switch {
		case errors.Is(err, ErrNotRegistered):
			a.mu.Lock()
			a.status.Registered = false
			a.status.LastError = err.Error()
			a.failing = "" // registration logs its own failures
			a.mu.Unlock()
			a.log.Warn("OpenHIM core does not know the mediator; registering again")
			return true
		case err != nil:
			a.fail("heartbeat "+failureKind(err), "heartbeat to OpenHIM core failed", err, slog.LevelWarn)
		default:
			a.mu.Lock()
			recovered := a.failing != ""
			a.status.LastHeartbeat = a.now()
			a.status.LastError = ""
			a.failing = ""
			a.mu.Unlock()
			if recovered {
				a.log.Info("heartbeat recovered")
			}
			if cfg != nil {
				a.applyConfig(cfg)
			}
		}
		select {
		case <-ctx.Done():
			return false
		case <-ticker.C:
		}
	}
}

// applyConfig hands a delivered config to OnConfig unless it is the same as
// the previous delivery.
func (a *Agent) applyConfig(cfg map[string]any) {
	raw, err := json.Marshal(cfg) // map keys are sorted: equal configs, equal bytes
	if err != nil {
		a.log.Error("config from OpenHIM refused", "err", err)
		return
	}
	sum := sha256.Sum256(raw)
	a.mu.Lock()
	same := a.hasConfig && sum == a.lastConfig
	a.lastConfig, a.hasConfig = sum, true
	a.mu.Unlock()
	if same || a.opts.OnConfig == nil {
		return
	}
	if err := a.opts.OnConfig(cfg); err != nil {
		a.log.Error("config from OpenHIM refused", "err", err)
		return
	}
	a.log.Info("config applied")
}

// fail records a failure and logs it when its kind differs from the
// current one, so a core that stays down is logged once, not every beat.
func (a *Agent) fail(kind, msg string, err error, level slog.Level) {
	a.mu.Lock()
	changed := a.failing != kind
	a.failing = kind
	a.status.LastError = err.Error()
	a.mu.Unlock()
	if changed {
		a.log.Log(context.Background(), level, msg, "err", err)
	} else {
		a.log.Debug(msg, "err", err)
	}
}

// failureKind classifies an error for log deduplication: a status code, or
// "unreachable" for network errors and timeouts.
func failureKind(err error) string {
	var se *StatusError
	if errors.As(err, &se) {
		return fmt.Sprintf("status %d", se.StatusCode)
	}
	return "unreachable"
}

// sleep waits d or until ctx is done (false).
func (a *Agent) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// fullJitter returns a random duration in [d/2, d).
func fullJitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half)
}
