package dhis2

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Compare with errors.Is.
var (
	// ErrUnauthorized means DHIS2 refused the configured credentials
	// (HTTP 401). The credentials themselves never appear in any error.
	ErrUnauthorized = errors.New("dhis2: credentials refused")
	// ErrForbidden means DHIS2 accepted the credentials but the user lacks
	// an authority or access (HTTP 403), for example F_DATAVALUE_ADD.
	ErrForbidden = errors.New("dhis2: access denied")
	// ErrDataSetNotFound means GET /api/dataSets/{id} answered 404: the data
	// set does not exist or the user cannot see it.
	ErrDataSetNotFound = errors.New("dhis2: data set not found")
)

// maxErrorBody is how much of a response body a StatusError keeps.
const maxErrorBody = 1024

// StatusError is an answer from DHIS2 with a non-2xx status that is not an
// import summary (a 409 that carries an import summary is a result, not an
// error; see ParseImportResponse).
type StatusError struct {
	// Op names the call: "system info", "metadata aB3dE5gH7jK",
	// "push data values", …
	Op string
	// StatusCode is the HTTP status.
	StatusCode int
	// Body is the WebMessage "message" when the body is a DHIS2 WebMessage,
	// else the start of the body, at most 1 KiB. Never headers.
	Body string

	// hint explains a status in words (401: which credentials were refused).
	hint string
}

var _ error = (*StatusError)(nil)

// Error implements error: "dhis2: <op>: status <code>[: <hint>][: <body>]".
func (e *StatusError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "dhis2: %s: status %d", e.Op, e.StatusCode)
	if e.hint != "" {
		b.WriteString(": ")
		b.WriteString(e.hint)
	}
	if e.Body != "" {
		b.WriteString(": ")
		b.WriteString(e.Body)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrUnauthorized) true for 401 and
// errors.Is(err, ErrForbidden) true for 403.
func (e *StatusError) Unwrap() error {
	switch e.StatusCode {
	case 401:
		return ErrUnauthorized
	case 403:
		return ErrForbidden
	}
	return nil
}

// PushError is returned by PushDataValues when a chunk could not be pushed
// or its answer could not be read (network failure, timeout, a non-import
// answer such as 500 or 413, an unreadable body). The push stops there. The
// chunks answered before it may have written data: their merged result is
// returned next to this error, and Answered/Sent say how much that was.
type PushError struct {
	// Chunk is the 1-based number of the chunk that failed; Chunks is the
	// number of chunks the push was split into.
	Chunk, Chunks int
	// First and Last are the indexes into the pushed values of the failed
	// chunk's first and last value.
	First, Last int
	// Sent is the number of values in the chunks DHIS2 answered before the
	// failure; Total is the number of values of the whole push.
	Sent, Total int
	// NotSent is true when the push stopped before the failed chunk was
	// sent (the context was done); then nothing of it was written.
	NotSent bool
	// Err is the cause.
	Err error
}

var _ error = (*PushError)(nil)

// Error implements error.
func (e *PushError) Error() string {
	outcome := fmt.Sprintf("the outcome of chunk %d is unknown", e.Chunk)
	if e.NotSent {
		outcome = fmt.Sprintf("chunk %d was not sent", e.Chunk)
	}
	return fmt.Sprintf("%v; push stopped at chunk %d of %d (values %d-%d): %d of %d values in %d chunks were sent and answered before, %s",
		e.Err, e.Chunk, e.Chunks, e.First, e.Last, e.Sent, e.Total, e.Chunk-1, outcome)
}

// Unwrap returns the cause.
func (e *PushError) Unwrap() error { return e.Err }

// excerpt returns at most n bytes of b as a printable one-line string, cut
// on a UTF-8 boundary, with "…" when cut.
func excerpt(b []byte, n int) string {
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	cut := false
	if len(s) > n {
		i := n
		for i > 0 && !utf8RuneStart(s[i]) {
			i--
		}
		s = s[:i]
		cut = true
	}
	s = strings.Join(strings.Fields(s), " ")
	if cut {
		s += "…"
	}
	return s
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
