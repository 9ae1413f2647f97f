// Package breaker puts a circuit breaker (sony/gobreaker v2) in front of an
// upstream's http.Client, as an http.RoundTripper: one breaker per upstream
// (cht, dhis2, openhim), shared by every call to it.
//
// A call fails when it gets no answer (connection refused or reset, DNS or
// TLS failure, a timeout) or a 5xx answer; a 5xx answer still reaches the
// caller. A 1xx–4xx answer is a success: the upstream is up, the request is
// at fault. A call the caller cancelled (context.Canceled) counts neither
// way. After Settings.Failures consecutive failures the breaker opens: for
// Settings.OpenFor every call fails at once with an *OpenError (which wraps
// ErrOpen). Then it is half-open: Settings.HalfOpenRequests probes go
// through and further calls fail at once, as gobreaker does, until the
// probes' success closes the breaker (a failure opens it again). Every
// state change is logged once, at Warn. Every state change is logged once, at Warn.
//
// The outcome of a 2xx answer is known when its body has been read to the
// end or closed (an answer cut off mid-body is a failure), so callers must
// close response bodies, as net/http requires anyway.
package breaker

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
)

// Defaults for zero Settings fields.
const (
	DefaultFailures         = 5
	DefaultOpenFor          = 30 * time.Second
	DefaultHalfOpenRequests = 1
)

// States of a breaker, as State and /health report them.
const (
	StateClosed   = "closed"
	StateHalfOpen = "half-open"
	StateOpen     = "open"
)

// ErrOpen is wrapped by every error of a call the breaker refused. The
// error also wraps gobreaker.ErrOpenState (open) or
// gobreaker.ErrTooManyRequests (half-open, the probes in flight). Test
// with errors.Is.
var ErrOpen = errors.New("circuit breaker open")

// Settings configure one breaker.
type Settings struct {
	// Failures is the number of consecutive failures that opens the
	// breaker; DefaultFailures when 0.
	Failures int
	// OpenFor is how long an open breaker refuses calls before it lets
	// probes through; DefaultOpenFor when 0.
	OpenFor time.Duration
	// HalfOpenRequests is the number of probes a half-open breaker lets
	// through; their success closes it. DefaultHalfOpenRequests when 0.
	HalfOpenRequests int
}

func (s Settings) withDefaults() Settings {
	if s.Failures <= 0 {
		s.Failures = DefaultFailures
	}
	if s.OpenFor <= 0 {
		s.OpenFor = DefaultOpenFor
	}
	if s.HalfOpenRequests <= 0 {
		s.HalfOpenRequests = DefaultHalfOpenRequests
	}
	return s
}

// OpenError is the error of a call the breaker refused. Its message names
// the upstream, why the breaker is open and when it lets a call through:
// "cht: circuit breaker open after 5 consecutive failures (last: status
// 503); next try in 27s".
type OpenError struct {
	// Name is the upstream: "cht", "dhis2", "openhim".
	Name string
	// State is StateOpen, or StateHalfOpen when the probes were in flight.
	State string
	// Failures is the number of consecutive failures so far.
	Failures int
	// Last describes the last failure: "status 503", "dial tcp …:
	// connection refused". It never holds a URL or a header.
	Last string
	// RetryIn is the time left until the breaker lets a probe through (0
	// when half-open).
	RetryIn time.Duration

	cause []error // gobreaker's error
}

var _ error = (*OpenError)(nil)

// Error implements error.
func (e *OpenError) Error() string {
	var b strings.Builder
	b.WriteString(e.Name)
	b.WriteString(": circuit breaker ")
	if e.State == StateHalfOpen {
		b.WriteString("half-open")
	} else {
		b.WriteString("open")
	}
	if e.Failures > 0 {
		fmt.Fprintf(&b, " after %d consecutive failure", e.Failures)
		if e.Failures > 1 {
			b.WriteByte('s')
		}
	}
	if e.Last != "" {
		b.WriteString(" (last: ")
		b.WriteString(e.Last)
		b.WriteByte(')')
	}
	if e.State == StateHalfOpen {
		b.WriteString("; a probe is in flight, try again in a moment")
	} else {
		b.WriteString("; next try in ")
		b.WriteString(roundDuration(e.RetryIn).String())
	}
	return b.String()
}

// Upstream names the upstream whose breaker refused the call.
func (e *OpenError) Upstream() string { return e.Name }

// NotSent is true: a refused call never left the mediator, so nothing of
// it can have been written upstream. Clients that cannot import this
// package test for it with errors.As and interface{ NotSent() bool }.
func (e *OpenError) NotSent() bool { return true }

// Unwrap makes errors.Is work with ErrOpen, gobreaker.ErrOpenState or
// gobreaker.ErrTooManyRequests.
func (e *OpenError) Unwrap() []error { return append([]error{ErrOpen}, e.cause...) }

// roundDuration rounds d up to a readable precision: whole seconds from
// 10 s, tenths of seconds from 1 s, milliseconds below.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d <= 0:
		return 0
	case d >= 10*time.Second:
		return (d + time.Second - 1).Truncate(time.Second)
	case d >= time.Second:
		return (d + 100*time.Millisecond - 1).Truncate(100 * time.Millisecond)
	default:
		return (d + time.Millisecond - 1).Truncate(time.Millisecond)
	}
}

// Status is a breaker's state for /health.
type Status struct {
	State string `json:"state"`
	// ConsecutiveFailures counts the failures since the last success.
	ConsecutiveFailures int `json:"consecutive_failures"`
	// LastFailure describes the last failure, while ConsecutiveFailures > 0.
	LastFailure string `json:"last_failure,omitempty"`
	// NextTry is when an open breaker lets a probe through.
	NextTry *time.Time `json:"next_try,omitempty"`
}

// Breaker is the circuit breaker of one upstream. It is safe for
// concurrent use; Transport puts it in front of a RoundTripper.
type Breaker struct {
	name     string
	settings Settings
	log      *slog.Logger
	cb       *gobreaker.TwoStepCircuitBreaker[struct{}]
	now      func() time.Time

	// mu guards the fields below. It is never held while calling into cb:
	// cb calls onStateChange with its own lock held.
	mu       sync.Mutex
	streak   int    // consecutive failures since the last success
	last     string // the last failure
	lastErr  error  // the last failure, for the state change log
	openedAt time.Time
}

// Outcomes of a call, as reported to gobreaker.
var (
	errFailure = errors.New("upstream failure")
	errIgnored = errors.New("cancelled by the caller")
)

// New returns the breaker of upstream name with s (zero fields take the
// defaults). log may be nil.
func New(name string, s Settings, log *slog.Logger) *Breaker {
	s = s.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Breaker{
		name:     name,
		settings: s,
		log:      log.With("component", "breaker", "upstream", name),
		now:      time.Now,
	}
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        name,
		MaxRequests: uint32(s.HalfOpenRequests),
		Timeout:     s.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= uint32(s.Failures)
		},
		OnStateChange: b.onStateChange,
		IsSuccessful:  func(err error) bool { return err == nil },
		IsExcluded:    func(err error) bool { return errors.Is(err, errIgnored) },
	})
	return b
}

// Name is the upstream's name.
func (b *Breaker) Name() string { return b.name }

// Settings returns the breaker's settings, defaults filled in.
func (b *Breaker) Settings() Settings { return b.settings }

// State is StateClosed, StateHalfOpen or StateOpen. An open breaker whose
// OpenFor has passed reports (and becomes) half-open.
func (b *Breaker) State() string { return stateName(b.cb.State()) }

// Status returns the breaker's state for /health.
func (b *Breaker) Status() Status {
	st := Status{State: b.State()}
	b.mu.Lock()
	defer b.mu.Unlock()
	st.ConsecutiveFailures = b.streak
	if b.streak > 0 {
		st.LastFailure = b.last
	}
	if st.State == StateOpen {
		next := b.openedAt.Add(b.settings.OpenFor).UTC()
		st.NextTry = &next
	}
	return st
}

func stateName(s gobreaker.State) string {
	switch s {
	case gobreaker.StateOpen:
		return StateOpen
	case gobreaker.StateHalfOpen:
		return StateHalfOpen
	default:
		return StateClosed
	}
}

// onStateChange runs inside gobreaker, its lock held.
func (b *Breaker) onStateChange(_ string, from, to gobreaker.State) {
	b.mu.Lock()
	if to == gobreaker.StateOpen {
		b.openedAt = b.now()
	}
	streak, lastErr := b.streak, b.lastErr
	b.mu.Unlock()

	attrs := []any{"from", stateName(from), "to", stateName(to)}
	switch to {
	case gobreaker.StateOpen:
		attrs = append(attrs, "consecutive_failures", streak, "open_for", b.settings.OpenFor.String(), "err", lastErr)
		b.log.Warn("circuit breaker opened: calls fail at once until the open interval has passed", attrs...)
	case gobreaker.StateHalfOpen:
		attrs = append(attrs, "probes", b.settings.HalfOpenRequests)
		b.log.Warn("circuit breaker half-open: letting probes through", attrs...)
	default:
		b.log.Warn("circuit breaker closed: the upstream answers again", attrs...)
	}
}

// openError describes a refusal by gobreaker (err) at the current time.
func (b *Breaker) openError(state string, causes ...error) *OpenError {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := &OpenError{Name: b.name, State: state, Failures: b.streak, Last: b.last, cause: causes}
	if state == StateOpen {
		e.RetryIn = max(b.openedAt.Add(b.settings.OpenFor).Sub(b.now()), 0)
	}
	return e
}

// report records the outcome of an allowed call and hands it to gobreaker.
// failure describes a failure; ignored marks a call the caller cancelled.
func (b *Breaker) report(done func(error), failure string, cause error, ignored bool) {
	switch {
	case ignored:
		done(errIgnored)
		return
	case failure != "":
		b.mu.Lock()
		b.streak++
		b.last, b.lastErr = failure, cause
		if b.lastErr == nil {
			b.lastErr = errors.New(failure)
		}
		b.mu.Unlock()
		done(errFailure)
	default:
		b.mu.Lock()
		b.streak, b.last, b.lastErr = 0, "", nil
		b.mu.Unlock()
		done(nil)
	}
}

// Registry holds the breakers of an application, one per upstream, for its
// whole life: a configuration rebuilt with the same breaker settings gets
// the same breaker, with its state. It is safe for concurrent use.
type Registry struct {
	log *slog.Logger

	mu       sync.Mutex
	breakers map[string]*Breaker
}

// NewRegistry returns an empty registry. log may be nil.
func NewRegistry(log *slog.Logger) *Registry {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Registry{log: log, breakers: map[string]*Breaker{}}
}

// For returns the breaker of upstream name. It is the one returned before
// for that name unless s differs from its settings: then a new breaker,
// closed, replaces it (calls in flight on the old one finish there).
func (r *Registry) For(name string, s Settings) *Breaker {
	s = s.withDefaults()
	r.mu.Lock()
	defer r.mu.Unlock()
	if b, ok := r.breakers[name]; ok {
		if b.settings == s {
			return b
		}
		r.log.Info("circuit breaker settings changed; starting a new, closed breaker", "component", "breaker", "upstream", name,
			"failures", s.Failures, "open_for", s.OpenFor.String(), "half_open_requests", s.HalfOpenRequests)
	}
	b := New(name, s, r.log)
	r.breakers[name] = b
	return b
}

// States returns the state of every breaker, by upstream.
func (r *Registry) States() map[string]string {
	out := map[string]string{}
	for name, b := range r.snapshot() {
		out[name] = b.State()
	}
	return out
}

// Statuses returns the status of every breaker, by upstream, for /health.
func (r *Registry) Statuses() map[string]Status {
	out := map[string]Status{}
	for name, b := range r.snapshot() {
		out[name] = b.Status()
	}
	return out
}

func (r *Registry) snapshot() map[string]*Breaker {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.breakers)
}

// Plan returns the breaker For(name, s) would return, without installing
// it: the registered one when its settings are s, else a new, closed one.
// A configuration that may still be refused plans its breakers, and
// installs them (Install) only once it is accepted, so a refused one
// changes nothing.
func (r *Registry) Plan(name string, s Settings) *Breaker {
	s = s.withDefaults()
	r.mu.Lock()
	defer r.mu.Unlock()
	if b, ok := r.breakers[name]; ok && b.settings == s {
		return b
	}
	return New(name, s, r.log)
}

// Install makes each of bs the breaker of its name, replacing (and
// logging) one with other settings.
func (r *Registry) Install(bs ...*Breaker) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range bs {
		if old, ok := r.breakers[b.name]; ok && old != b {
			r.log.Info("circuit breaker settings changed; starting a new, closed breaker", "component", "breaker", "upstream", b.name,
				"failures", b.settings.Failures, "open_for", b.settings.OpenFor.String(), "half_open_requests", b.settings.HalfOpenRequests)
		}
		r.breakers[b.name] = b
	}
}
