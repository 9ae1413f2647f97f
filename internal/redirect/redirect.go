// Package redirect is the redirect policy of every outbound HTTP client
// (CHT, DHIS2, OpenHIM core): credentials and request bodies are sent only
// to the origin they were configured for.
//
// Go's http.Client keeps the Authorization header on a redirect to the same
// host name whatever the port or scheme, so by default a CHT answering 302
// to another port, or a TLS upstream redirecting to http://, would receive
// the credentials (in cleartext in the second case), and a 307 would replay
// a whole push there. The policy here follows a redirect only to the same
// scheme, host and port, and refuses any other with an error that names the
// redirect.
package redirect

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// MaxRedirects bounds a chain of followed same-origin redirects.
const MaxRedirects = 10

// Error is a refused redirect.
type Error struct {
	// Name names the upstream ("cht", "dhis2", "openhim").
	Name string
	// Status is the redirecting answer's status (301, 302, 307, …).
	Status int
	// Method is the method of the redirected request.
	Method string
	// From and To are the redirecting URL and the redirect target, without
	// userinfo or query.
	From, To string
	// Reason says why the redirect was refused.
	Reason string
}

func (e *Error) Error() string {
	status := ""
	if e.Status != 0 {
		status = fmt.Sprintf(" %d", e.Status)
	}
	return fmt.Sprintf("%s: redirect refused: %s %s answered%s to %s, %s; credentials and request bodies are sent only to %s",
		e.Name, e.Method, e.From, status, e.To, e.Reason, origin(e.From))
}

// Upstream names the upstream whose answer was refused (an upstream
// failure, as far as the mediator's status mapping is concerned).
func (e *Error) Upstream() string { return e.Name }

// ErrRefused is matched by every *Error (errors.Is).
var ErrRefused = errors.New("redirect refused")

// Is makes errors.Is(err, ErrRefused) true.
func (e *Error) Is(target error) bool { return target == ErrRefused }

// Policy returns an http.Client CheckRedirect for upstream: a redirect to
// the same scheme, host and port as the request that started the chain is
// followed (at most MaxRedirects times); any other is refused with an
// *Error.
func Policy(upstream string) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) == 0 {
			return nil
		}
		first := via[0]
		prev := via[len(via)-1]
		e := &Error{Name: upstream, Method: prev.Method, From: clean(prev.URL), To: clean(req.URL)}
		if req.Response != nil {
			e.Status = req.Response.StatusCode
		}
		switch {
		case !strings.EqualFold(req.URL.Scheme, first.URL.Scheme):
			e.Reason = fmt.Sprintf("another scheme (%s, not %s)", req.URL.Scheme, first.URL.Scheme)
		case !strings.EqualFold(req.URL.Hostname(), first.URL.Hostname()):
			e.Reason = "another host"
		case port(req.URL) != port(first.URL):
			e.Reason = fmt.Sprintf("another port (%s, not %s)", port(req.URL), port(first.URL))
		case len(via) >= MaxRedirects:
			e.Reason = fmt.Sprintf("after %d redirects", len(via))
		default:
			return nil
		}
		return e
	}
}

// port is u's port, or its scheme's default.
func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

// clean is u without userinfo, query or fragment.
func clean(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment = nil, "", false, "", ""
	return c.String()
}

// origin is scheme://host:port of a URL string.
func origin(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	return strings.ToLower(u.Scheme) + "://" + net.JoinHostPort(u.Hostname(), port(u))
}
