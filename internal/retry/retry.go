// Package retry retries an upstream's idempotent HTTP calls, as an
// http.RoundTripper: jittered exponential backoff, a Retry-After that wins,
// a bound on tries and a time budget, and the caller's context respected
// throughout.
//
// Only idempotent calls are retried: GET, HEAD, OPTIONS and TRACE, and
// requests marked idempotent with an Idempotency-Key or X-Idempotency-Key
// header. That is net/http's own convention (see http.Transport): a client
// marks a POST that only reads, or that writes the same thing however often
// it is sent, with
//
//	req.Header["Idempotency-Key"] = nil // idempotent; nothing is sent
//
// which no other package needs to be imported for. A request with a body is
// retried only when it has GetBody (http.NewRequest sets it for
// bytes.Reader, bytes.Buffer and strings.Reader bodies).
//
// Retried: no answer (connection refused or reset, an answer cut off, a
// transport timeout) unless the caller's context ended or the error cannot
// change (a bad certificate, an unknown host); 408, 429, and 5xx answers
// except 501 and 505. Never another 4xx. Every retry is logged at Warn with
// the attempt and the error; a call that still fails returns its last
// answer, or an *Error that names the number of attempts.
package retry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults for zero Policy fields.
const (
	DefaultAttempts       = 3
	DefaultInitialBackoff = 500 * time.Millisecond
	DefaultMaxBackoff     = 10 * time.Second
)

// Policy is the retry policy of one upstream.
type Policy struct {
	// Attempts is the number of tries in all; 1 turns retries off,
	// DefaultAttempts when 0.
	Attempts int
	// InitialBackoff is the first wait, doubled for each later one, with
	// jitter; DefaultInitialBackoff when 0.
	InitialBackoff time.Duration
	// MaxBackoff bounds a computed wait; DefaultMaxBackoff when 0. A
	// Retry-After answer header wins over the computed wait.
	MaxBackoff time.Duration
	// Budget: no retry starts later than Budget after the first try
	// started. 0 allows no retry.
	Budget time.Duration
}

func (p Policy) withDefaults() Policy {
	if p.Attempts <= 0 {
		p.Attempts = DefaultAttempts
	}
	if p.InitialBackoff <= 0 {
		p.InitialBackoff = DefaultInitialBackoff
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = DefaultMaxBackoff
	}
	p.MaxBackoff = max(p.MaxBackoff, p.InitialBackoff)
	return p
}

// Error is the error of a call that got no answer in Attempts tries. It
// reads "after 3 attempts: <the last try's error>" and unwraps to the last
// try's error.
type Error struct {
	Attempts int
	Err      error
}

var _ error = (*Error)(nil)

func (e *Error) Error() string { return fmt.Sprintf("after %d attempts: %v", e.Attempts, e.Err) }

// Unwrap returns the last try's error.
func (e *Error) Unwrap() error { return e.Err }

// Transport is an http.RoundTripper that retries idempotent calls to Next.
type Transport struct {
	name   string
	next   http.RoundTripper
	policy Policy
	log    *slog.Logger

	// jitter and sleep are replaced in tests.
	jitter func(time.Duration) time.Duration
	sleep  func(ctx context.Context, d time.Duration) error
	now    func() time.Time
}

var _ http.RoundTripper = (*Transport)(nil)

// New returns a Transport for upstream name ("cht", "dhis2": it names the
// upstream in logs) that sends calls to next (http.DefaultTransport when
// nil) with policy p (zero fields take the defaults). log may be nil.
func New(name string, p Policy, next http.RoundTripper, log *slog.Logger) *Transport {
	if next == nil {
		next = http.DefaultTransport
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Transport{
		name:   name,
		next:   next,
		policy: p.withDefaults(),
		log:    log.With("component", "retry", "upstream", name),
		jitter: jitter,
		sleep:  sleep,
		now:    time.Now,
	}
}

// Policy returns the transport's policy, defaults filled in.
func (t *Transport) Policy() Policy { return t.policy }

// IsIdempotent reports whether req may be sent more than once: GET, HEAD,
// OPTIONS and TRACE, or a request with an Idempotency-Key or
// X-Idempotency-Key header (even a nil one, which is not sent).
func IsIdempotent(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	if _, ok := req.Header["Idempotency-Key"]; ok {
		return true
	}
	_, ok := req.Header["X-Idempotency-Key"]
	return ok
}

// replayable reports whether req's body can be sent again.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.policy.Attempts <= 1 || !IsIdempotent(req) {
		return t.next.RoundTrip(req)
	}
	if !replayable(req) {
		t.log.Debug("not retrying a call whose body cannot be replayed (no GetBody)", "method", req.Method, "path", req.URL.Path)
		return t.next.RoundTrip(req)
	}
	ctx := req.Context()
	start := t.now()
	budgetEnd := start.Add(t.policy.Budget)
	for attempt := 1; ; attempt++ {
		r := req
		if attempt > 1 {
			var err error
			if r, err = rewind(req); err != nil {
				return nil, &Error{Attempts: attempt - 1, Err: err}
			}
		}
		resp, err := t.next.RoundTrip(r)
		if attempt >= t.policy.Attempts {
			return t.final(req, resp, err, attempt)
		}
		why, retryAfter, ok := t.retryable(ctx, resp, err)
		if !ok {
			return t.final(req, resp, err, attempt)
		}
		wait := t.backoff(attempt)
		if retryAfter >= 0 {
			wait = retryAfter
		}
		if t.now().Add(wait).After(budgetEnd) {
			t.log.Warn("not retrying: the next try would start after the retry budget", "method", req.Method, "path", req.URL.Path,
				"attempt", attempt, "wait", wait.String(), "budget", t.policy.Budget.String(), "err", why)
			return t.final(req, resp, err, attempt)
		}
		if dl, ok := ctx.Deadline(); ok && t.now().Add(wait).After(dl) {
			t.log.Warn("not retrying: the next try would start after the call's deadline", "method", req.Method, "path", req.URL.Path,
				"attempt", attempt, "wait", wait.String(), "err", why)
			return t.final(req, resp, err, attempt)
		}
		if resp != nil {
			discard(resp.Body)
		}
		t.log.Warn("retrying a call", "method", req.Method, "path", req.URL.Path,
			"attempt", attempt, "attempts", t.policy.Attempts, "wait", wait.String(), "err", why)
		if err := t.sleep(ctx, wait); err != nil {
			return nil, &Error{Attempts: attempt, Err: fmt.Errorf("waiting to retry: %w", err)}
		}
	}
}

// final returns the last try's outcome: its answer as is, or its error
// wrapped in an *Error naming the attempts when there was more than one.
func (t *Transport) final(req *http.Request, resp *http.Response, err error, attempts int) (*http.Response, error) {
	if attempts == 1 {
		return resp, err
	}
	if err != nil {
		t.log.Warn("giving up on a call", "method", req.Method, "path", req.URL.Path, "attempts", attempts, "err", describe(err))
		return nil, &Error{Attempts: attempts, Err: err}
	}
	if c := resp.StatusCode; c >= 500 || c == http.StatusTooManyRequests || c == http.StatusRequestTimeout {
		t.log.Warn("giving up on a call", "method", req.Method, "path", req.URL.Path, "attempts", attempts, "err", "status "+strconv.Itoa(c))
	}
	return resp, nil
}

// rewind returns a copy of req with a fresh body.
func rewind(req *http.Request) (*http.Request, error) {
	r := req.Clone(req.Context())
	if req.Body != nil && req.Body != http.NoBody {
		body, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("replay request body: %w", err)
		}
		r.Body = body
	}
	return r, nil
}

// retryable decides whether a try's outcome is worth another: why describes
// it, retryAfter is the wait an answer asked for (-1: none).
func (t *Transport) retryable(ctx context.Context, resp *http.Response, err error) (why string, retryAfter time.Duration, ok bool) {
	if ctx.Err() != nil {
		return "", -1, false
	}
	if err != nil {
		return describe(err), -1, retryableError(err)
	}
	code := resp.StatusCode
	why = "status " + strconv.Itoa(code)
	switch {
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		return why, parseRetryAfter(resp.Header.Get("Retry-After"), t.now()), true
	case code == http.StatusRequestTimeout:
		return why, -1, true
	case code == http.StatusNotImplemented || code == http.StatusHTTPVersionNotSupported:
		return why, -1, false
	case code >= 500:
		return why, parseRetryAfter(resp.Header.Get("Retry-After"), t.now()), true
	}
	return why, -1, false
}

// retryableError reports whether a try that got no answer may succeed when
// tried again: not for errors that will not change.
func retryableError(err error) bool {
	var (
		certErr    *tls.CertificateVerificationError
		unknownCA  x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		invalidErr x509.CertificateInvalidError
		dnsErr     *net.DNSError
	)
	switch {
	case errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalidErr):
		return false
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return false
	case strings.Contains(err.Error(), "unsupported protocol scheme"):
		return false
	}
	return true
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date. It
// returns -1 when there is none or it cannot be read.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return -1
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return -1
		}
		if n > int64(24*time.Hour/time.Second) {
			n = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(n) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0)
	}
	return -1
}

// backoff is the wait after try attempt (1-based): InitialBackoff doubled
// attempt-1 times, at most MaxBackoff, jittered.
func (t *Transport) backoff(attempt int) time.Duration {
	d := t.policy.InitialBackoff
	for i := 1; i < attempt && d < t.policy.MaxBackoff; i++ {
		d *= 2
	}
	return t.jitter(min(d, t.policy.MaxBackoff))
}

// jitter returns a random duration in [d/2, d).
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half)
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// discard drains a little of a body so its connection can be reused, and
// closes it.
func discard(rc io.ReadCloser) {
	if rc == nil {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(rc, 64<<10))
	_ = rc.Close()
}

// describe is a transport error's text without the URL a *url.Error
// quotes.
func describe(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}
