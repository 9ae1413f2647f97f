package breaker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/sony/gobreaker/v2"
)

// Transport is an http.RoundTripper that sends each call through Breaker
// to Next (http.DefaultTransport when nil).
type Transport struct {
	Breaker *Breaker
	Next    http.RoundTripper
}

var _ http.RoundTripper = (*Transport)(nil)

// NewTransport returns a Transport of b in front of next.
func NewTransport(b *Breaker, next http.RoundTripper) *Transport {
	return &Transport{Breaker: b, Next: next}
}

// RoundTrip implements http.RoundTripper. A refused call returns an
// *OpenError at once (after closing the request body); an allowed one is
// sent to Next and its outcome reported to the breaker (see Classify).
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	b := t.Breaker
	done, err := b.allow()
	if err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	next := t.Next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(req)
	if err != nil {
		failure, ignored := Classify(req.Context(), nil, err)
		b.report(done, failure, err, ignored)
		return nil, err
	}
	failure, _ := Classify(req.Context(), resp, nil)
	if failure != "" || resp.StatusCode/100 != 2 || resp.Body == nil || resp.Body == http.NoBody || req.Method == http.MethodHead {
		b.report(done, failure, nil, false)
		return resp, nil
	}
	// A 2xx answer: its outcome is known once its body is read or closed.
	resp.Body = &trackedBody{rc: resp.Body, ctx: req.Context(), b: b, done: done}
	return resp, nil
}

// CloseIdleConnections passes the call on, so http.Client's works.
func (t *Transport) CloseIdleConnections() {
	next := t.Next
	if next == nil {
		next = http.DefaultTransport
	}
	if ci, ok := next.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// allow asks gobreaker for a call. Its refusals are gobreaker's own: open,
// or half-open with its probes already in flight (gobreaker.ErrTooManyRequests);
// both fail at once.
func (b *Breaker) allow() (func(error), error) {
	done, err := b.cb.Allow()
	switch {
	case err == nil:
		return done, nil
	case errors.Is(err, gobreaker.ErrTooManyRequests):
		return nil, b.openError(StateHalfOpen, err)
	default:
		return nil, b.openError(StateOpen, err)
	}
}

// Classify judges a call's outcome for a breaker: failure describes a
// failure ("status 503", the transport error's text) and is empty for a
// success; ignored is true for a call the caller cancelled, which counts
// neither way.
//
// Failures: no answer (connection refused or reset, DNS and TLS errors, a
// timeout or deadline, an answer cut off) and 5xx answers. Successes: 1xx
// to 4xx answers: the upstream answered, the request was at fault.
func Classify(ctx context.Context, resp *http.Response, err error) (failure string, ignored bool) {
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(ctx.Err(), context.Canceled) {
			return "", true
		}
		return describe(err), false
	}
	if resp != nil && resp.StatusCode >= 500 {
		return fmt.Sprintf("status %d", resp.StatusCode), false
	}
	return "", false
}

// describe is a short description of a transport error: its text without
// the URL a *url.Error quotes.
func describe(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	s := err.Error()
	const maxLen = 200
	if len(s) > maxLen {
		s = strings.ToValidUTF8(s[:maxLen], "") + "…"
	}
	return s
}

// trackedBody reports a 2xx call's outcome when its body is read to the
// end (success), fails (failure, unless the caller cancelled) or is closed
// (success: the caller had what it wanted).
type trackedBody struct {
	rc   io.ReadCloser
	ctx  context.Context
	b    *Breaker
	done func(error)
	once sync.Once
}

func (tb *trackedBody) Read(p []byte) (int, error) {
	n, err := tb.rc.Read(p)
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		tb.finish("", nil, false)
	default:
		failure, ignored := Classify(tb.ctx, nil, err)
		tb.finish(failure, err, ignored)
	}
	return n, err
}

func (tb *trackedBody) Close() error {
	err := tb.rc.Close()
	tb.finish("", nil, false)
	return err
}

func (tb *trackedBody) finish(failure string, cause error, ignored bool) {
	tb.once.Do(func() { tb.b.report(tb.done, failure, cause, ignored) })
}
