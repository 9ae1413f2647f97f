package httpapi

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

// HeaderRequestID carries the request ID, in and out.
const HeaderRequestID = "X-Request-ID"

// Keys of values set on the gin context.
const (
	keyRequestID = "request_id"
	keyLogger    = "logger"
)

// maxRequestIDLen bounds an inbound request ID; a longer or odd one is
// replaced by a generated one.
const maxRequestIDLen = 128

// requestID takes X-Request-ID from the request, or generates one, echoes it
// in the answer and puts it into the request's logger.
func (s *server) requestID(c *gin.Context) {
	id := c.GetHeader(HeaderRequestID)
	if !validRequestID(id) {
		id = newRequestID()
	}
	c.Set(keyRequestID, id)
	log := s.log.With("request_id", id)
	if tx := c.GetHeader("X-OpenHIM-TransactionID"); tx != "" && validRequestID(tx) {
		log = log.With("openhim_transaction", tx)
	}
	c.Set(keyLogger, log)
	c.Header(HeaderRequestID, id)
	c.Next()
}

func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:", r)
		if !ok {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand documents it)
	return hex.EncodeToString(b[:])
}

// reqLog returns the request's logger, with its request ID.
func (s *server) reqLog(c *gin.Context) *slog.Logger {
	if l, ok := c.Get(keyLogger); ok {
		if log, ok := l.(*slog.Logger); ok {
			return log
		}
	}
	return s.log
}

// Caps of what the access log copies from a request: whatever a client
// sends, one line stays small.
const (
	maxLoggedPath   = 256
	maxLoggedQuery  = 512
	maxLoggedMethod = 16
)

// accessLog logs every request once it is answered: method, path, status,
// duration, request ID, and the query with secret-looking parameters
// redacted. Method, path and query are cut to a few hundred bytes (with the
// full length said), and an unauthenticated request's query is not logged
// at all: nobody can grow the log by sending long requests. Never headers,
// so never Authorization.
func (s *server) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	status := c.Writer.Status()
	attrs := []any{
		"method", capped(c.Request.Method, maxLoggedMethod),
		"path", capped(c.Request.URL.Path, maxLoggedPath),
		"status", status,
		"duration", time.Since(start),
		"bytes", max(c.Writer.Size(), 0),
		"remote", c.ClientIP(),
	}
	if raw := c.Request.URL.RawQuery; raw != "" {
		if status == http.StatusUnauthorized {
			attrs = append(attrs, "query_bytes", len(raw))
		} else {
			attrs = append(attrs, "query", capped(redactQuery(capped(raw, 4*maxLoggedQuery)), maxLoggedQuery))
		}
	}
	if c.Request.URL.Path == "/metrics" && status == http.StatusOK {
		// A scrape every few seconds would drown the log.
		s.reqLog(c).Debug("request", attrs...)
		return
	}
	s.reqLog(c).Info("request", attrs...)
}

// capped returns s cut to at most n bytes, on a UTF-8 boundary, saying how
// long it was when cut.
func capped(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return fmt.Sprintf("%s…(%d bytes)", s[:i], len(s))
}

// secretParams are query parameter names whose values are never logged
// (compared case-insensitively).
var secretParams = []string{"password", "passwd", "pwd", "pass", "token", "access_token", "api_key", "apikey", "apitoken", "secret"}

// redactQuery returns raw with the values of secret parameters replaced by
// REDACTED. An unparseable query is not logged at all.
func redactQuery(raw string) string {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return "(unparseable)"
	}
	for k := range q {
		for _, secret := range secretParams {
			if strings.EqualFold(k, secret) {
				for i := range q[k] {
					q[k][i] = "REDACTED"
				}
			}
		}
	}
	return q.Encode()
}

// recover turns a panic in a handler into a 500 envelope with a generic
// message, and logs the panic with its stack at Error.
// http.ErrAbortHandler is re-panicked: net/http uses it to abort silently.
func (s *server) recover(c *gin.Context) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if r == http.ErrAbortHandler {
			panic(r)
		}
		id := c.GetString(keyRequestID)
		s.reqLog(c).Error("panic while handling a request", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		if !c.Writer.Written() {
			s.writeError(c, http.StatusInternalServerError, true,
				"internal error: the mediator's log has the details under request_id "+id, "", nil, nil)
		}
		c.Abort()
	}()
	c.Next()
}

// basicAuth checks the inbound basic auth credentials, when configured. The
// user and password are compared in constant time (as SHA-256 digests, so
// their lengths do not leak either).
func (s *server) basicAuth(c *gin.Context) {
	if s.username == "" && s.password == "" {
		c.Next()
		return
	}
	user, pass, ok := c.Request.BasicAuth()
	wantUser, wantPass := sha256.Sum256([]byte(s.username)), sha256.Sum256([]byte(s.password))
	gotUser, gotPass := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
	match := subtle.ConstantTimeCompare(gotUser[:], wantUser[:]) & subtle.ConstantTimeCompare(gotPass[:], wantPass[:])
	if !ok || match != 1 {
		reason := "wrong credentials"
		if !ok {
			reason = "no basic auth credentials"
		}
		s.reqLog(c).Warn("unauthorized request", "reason", reason)
		c.Header("WWW-Authenticate", `Basic realm="cht-dhis2-mediator", charset="UTF-8"`)
		s.writeError(c, http.StatusUnauthorized, false,
			"unauthorized: "+reason+" (the OpenHIM route must send server.username and server.password as basic auth)", "", nil, nil)
		c.Abort()
		return
	}
	c.Next()
}

// limitBody answers 413 to a body larger than maxBody, whether it declares
// its length or not. A body within the limit is read and replayed, so no
// handler can be made to read more.
func (s *server) limitBody(c *gin.Context) {
	body := c.Request.Body
	if body == nil || body == http.NoBody {
		c.Next()
		return
	}
	tooLarge := func() {
		s.writeError(c, http.StatusRequestEntityTooLarge, false,
			fmt.Sprintf("request body larger than %d bytes: parameters go in the query string", s.maxBody), "", nil, nil)
		c.Abort()
	}
	if c.Request.ContentLength > s.maxBody {
		tooLarge()
		return
	}
	b, err := io.ReadAll(io.LimitReader(body, s.maxBody+1))
	_ = body.Close()
	switch {
	case err != nil:
		// The client's own body could not be read (too slow, cut off): the
		// client's mistake, which a retry by OpenHIM cannot fix. 408 for a
		// read that timed out, else 400; Completed, no error member.
		code := http.StatusBadRequest
		if isTimeout(err) {
			code = http.StatusRequestTimeout
		}
		s.reqLog(c).Info("request body unreadable", "status", code, "err", err)
		c.Set(keyAnswerAnyway, true)
		s.writeError(c, code, false, "read request body: "+err.Error(), "", nil, nil)
		c.Abort()
		return
	case int64(len(b)) > s.maxBody:
		tooLarge()
		return
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(b))
	c.Next()
}

// isTimeout reports whether err is a timeout (a read deadline passed).
func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &t) && t.Timeout()
}

// noRoute answers an unknown path.
func (s *server) noRoute(c *gin.Context) {
	s.writeError(c, http.StatusNotFound, false,
		fmt.Sprintf("no endpoint %s %s: use POST or GET /export, GET /dataValueSets, GET /health", c.Request.Method, c.Request.URL.Path), "", nil, nil)
}

// noMethod answers a known path with a method it does not take; gin has set
// the Allow header.
func (s *server) noMethod(c *gin.Context) {
	allow := c.Writer.Header().Get("Allow")
	s.writeError(c, http.StatusMethodNotAllowed, false,
		fmt.Sprintf("method %s is not allowed on %s: use %s", c.Request.Method, c.Request.URL.Path, allow), "", nil, nil)
}
