package httpapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
)

// statusFor maps an error of the Exporter (or of reading the request) to the
// HTTP status of the answer; envelopeStatus gives its OpenHIM status. It is
// the only place that decides this:
//
//	nil                                        200
//	an error with HTTPStatus() int             that status (the mediator not configured: 503)
//	ErrShutdown (as a context's cause)         503  the mediator stopped the work at shutdown
//	export.IsInputError                        400  the request names something CHT or DHIS2 lacks
//	*http.MaxBytesError                        413
//	context.Canceled                           499  the client went away; nobody reads the answer
//	an upstream error (CHT, DHIS2, breaker)    502  see isUpstream
//	context.DeadlineExceeded (not upstream)    504
//	anything else                              500
//
// Canceled is checked before upstream errors: a CHT read cut short because
// the client disconnected is the client's doing, not CHT's. Upstream errors
// are checked before DeadlineExceeded: an upstream's own timeout is an
// upstream failure.
func statusFor(err error) int {
	var tooLarge *http.MaxBytesError
	var typed interface{ HTTPStatus() int }
	switch {
	case err == nil:
		return http.StatusOK
	case errors.As(err, &typed) && typed.HTTPStatus() >= 400:
		return typed.HTTPStatus()
	case errors.Is(err, ErrShutdown):
		return http.StatusServiceUnavailable
	case export.IsInputError(err):
		return http.StatusBadRequest
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, context.Canceled):
		return StatusClientClosedRequest
	case isUpstream(err):
		return http.StatusBadGateway
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	default:
		return http.StatusInternalServerError
	}
}

// upstreamPackages are the packages whose errors are upstream failures. This
// package may not import them (internal/app/deps_test.go), so their errors
// are recognised by their type's package and by the prefix every one of
// their messages starts with ("cht: fetch target docs 2024-06: status 503",
// "dhis2: push data values: …").
var upstreamPackages = []string{"cht", "dhis2", "breaker"}

// isUpstream reports whether err, or any error it wraps, is a failure of an
// upstream: an error with an Upstream() string method, an error type of the
// cht, dhis2 or breaker package, an error text starting with "cht: ",
// "dhis2: " or "breaker: ", a *url.Error or a net.Error (no answer).
func isUpstream(err error) bool {
	found := false
	walk(err, func(e error) bool {
		if upstreamNode(e) {
			found = true
		}
		return !found
	})
	return found
}

func upstreamNode(e error) bool {
	if u, ok := e.(interface{ Upstream() string }); ok && u.Upstream() != "" {
		return true
	}
	switch e.(type) {
	case *url.Error:
		return true
	case net.Error:
		// context.DeadlineExceeded is a net.Error too, but not an upstream's.
		return e != context.DeadlineExceeded
	}
	t := reflect.TypeOf(e)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	msg := e.Error()
	for _, pkg := range upstreamPackages {
		if strings.HasSuffix(t.PkgPath(), "/internal/"+pkg) || strings.HasPrefix(msg, pkg+": ") {
			return true
		}
	}
	return false
}

// walk calls fn for err and every error it wraps (Unwrap() error and
// Unwrap() []error), depth first, while fn returns true.
func walk(err error, fn func(error) bool) bool {
	for err != nil {
		if !fn(err) {
			return false
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if !walk(e, fn) {
					return false
				}
			}
			return true
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		default:
			return true
		}
	}
	return true
}
