package cht

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Sentinels for errors.Is. The concrete errors are *StatusError and
// *UnreachableError.
var (
	// ErrUnauthorized matches a 401 (wrong or missing credentials) or 403
	// (authenticated, but not allowed: an offline user, or not a member of
	// the database) answer.
	ErrUnauthorized = errors.New("cht: unauthorized")
	// ErrNotFound matches a 404 answer.
	ErrNotFound = errors.New("cht: not found")
	// ErrUnreachable matches a request that got no HTTP answer: connection
	// refused, DNS failure, TLS failure, or no answer within cfg.Timeout.
	ErrUnreachable = errors.New("cht: unreachable")
)

// maxErrorBody is how much of an error response body StatusError keeps.
const maxErrorBody = 1024

// StatusError is a non-2xx answer from CHT or CouchDB.
type StatusError struct {
	// Op names the operation and its identifiers ("fetch target docs 2024-06").
	Op         string
	StatusCode int
	// Body is the answer's body cut to about 1 KiB. A CouchDB error body
	// {"error": "unauthorized", "reason": "Name or password is incorrect."}
	// is summarised as "unauthorized: Name or password is incorrect.".
	Body string
	// Code is the CouchDB "error" member ("not_found", "unauthorized"), when
	// the body had one.
	Code string
}

// Error reads like
// "cht: fetch target docs 2024-06: status 401: unauthorized: Name or password is incorrect.".
// It never contains headers or credentials.
func (e *StatusError) Error() string {
	var b strings.Builder
	b.WriteString("cht: ")
	b.WriteString(e.Op)
	b.WriteString(": status ")
	b.WriteString(strconv.Itoa(e.StatusCode))
	if e.Body != "" {
		b.WriteString(": ")
		b.WriteString(e.Body)
	}
	switch e.StatusCode {
	case 401:
		b.WriteString(" (check cht.username and cht.password)")
	case 403:
		b.WriteString(" (the user may not read this database: use an online CHT user)")
	}
	return b.String()
}

// Is makes errors.Is(err, ErrUnauthorized) true for 401 and 403, and
// errors.Is(err, ErrNotFound) true for 404.
func (e *StatusError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.StatusCode == 401 || e.StatusCode == 403
	case ErrNotFound:
		return e.StatusCode == 404
	}
	return false
}

// UnreachableError is a request that got no HTTP answer. Its message reads
// "cht: <op>: <url>: unreachable: <cause>", with the URL's credentials and
// query removed. Unwrap gives the cause (a *net.OpError, a *net.DNSError,
// context.DeadlineExceeded, …).
type UnreachableError struct {
	Op  string
	URL string // scheme, host and path; no credentials, no query
	Err error
	msg string // the cause's text, redacted
}

func (e *UnreachableError) Error() string {
	return "cht: " + e.Op + ": " + e.URL + ": unreachable: " + e.msg
}

// Unwrap returns the cause.
func (e *UnreachableError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUnreachable) true.
func (e *UnreachableError) Is(target error) bool { return target == ErrUnreachable }

// summariseBody turns an error body into a short readable string: a CouchDB
// or CHT JSON error becomes "error: reason", anything else is cut to
// maxErrorBody bytes on a rune boundary.
func summariseBody(body []byte) (summary, code string) {
	var couch struct {
		Error  json.RawMessage `json:"error"`
		Reason json.RawMessage `json:"reason"`
	}
	if json.Unmarshal(body, &couch) == nil {
		errText, errOK := jsonString(couch.Error)
		reason, _ := jsonString(couch.Reason)
		if errOK && errText != "" {
			summary = errText
			if reason != "" && reason != errText {
				summary += ": " + reason
			}
			return truncate(summary, maxErrorBody), errText
		}
	}
	s := strings.Join(strings.Fields(string(body)), " ")
	return truncate(s, maxErrorBody), ""
}

// truncate cuts s to at most n bytes without splitting a rune, marking the
// cut with "…".
func truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
