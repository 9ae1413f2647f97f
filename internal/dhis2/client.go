// Package dhis2 is the mediator's client of the DHIS2 Web API: system info,
// the metadata of a data set (converted into validate.Metadata), and the push
// of aggregate data values with POST /api/dataValueSets, whose answer it
// reads in every version family (dhis2-core DataValueSetController and WebMessageUtils) into one ImportResult.
//
// Every call looks the same: a per-call timeout (dhis2.timeout) derived from
// the caller's context, User-Agent and Accept headers, a personal access
// token ("Authorization: ApiToken …") or basic auth, and non-2xx answers as
// a *StatusError. Credentials never go into URLs or error messages.
package dhis2

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/config"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/redact"
)

// UserAgent is sent with every request.
const UserAgent = "cht-dhis2-mediator"

const (
	// maxBody bounds how much of an answer is read: metadata of a large data
	// set or an import summary with thousands of conflicts fit easily.
	maxBody = 64 << 20
	// maxEmptyPolls is how many polls of an async task may find no
	// notification at all before the task is given up as unknown.
	maxEmptyPolls = 150
	// maxSummaryPolls is how many times the summary of a completed async
	// task is asked for before giving up.
	maxSummaryPolls = 10
)

// Client talks to one DHIS2 instance. It is safe for concurrent use.
type Client struct {
	cfg  config.DHIS2
	base *url.URL // the DHIS2 base URL (scheme, host, context path)
	hc   *http.Client
	log  *slog.Logger

	// now is the clock of the metadata cache; replaced in tests.
	now func() time.Time
	// sleep waits d or until ctx is done; replaced in tests.
	sleep func(ctx context.Context, d time.Duration) error
	// maxEmptyPolls and maxSummaryPolls bound async polling.
	maxEmptyPolls, maxSummaryPolls int

	infoMu sync.Mutex
	info   *SystemInfo
	infoAt time.Time // when info was read, for ServerNow

	meMu sync.Mutex
	me   *User

	mdMu    sync.Mutex
	mdCache map[string]mdEntry
	mdGroup singleflight.Group
}

// New returns a client of the DHIS2 at cfg.URL (the part before /api, with
// or without a trailing slash, possibly with a context path such as /dhis).
// With hc nil the client uses its own http.Client with cfg.Timeout, which
// does not follow redirects (DHIS2 redirects to its login page when no
// credentials were sent). log may be nil.
func New(cfg config.DHIS2, hc *http.Client, log *slog.Logger) (*Client, error) {
	base, err := parseBaseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if !cfg.Token.IsSet() && cfg.Username == "" {
		return nil, errors.New("dhis2: no credentials: set dhis2.token, or dhis2.username and dhis2.password")
	}
	if cfg.ChunkSize <= 0 {
		return nil, fmt.Errorf("dhis2: chunk size %d: must be at least 1", cfg.ChunkSize)
	}
	if cfg.Async && cfg.AsyncPollInterval <= 0 {
		return nil, fmt.Errorf("dhis2: async poll interval %s: must be positive", cfg.AsyncPollInterval)
	}
	if hc == nil {
		hc = &http.Client{
			Timeout: cfg.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{
		cfg:             cfg,
		base:            base,
		hc:              hc,
		log:             log.With("component", "dhis2"),
		now:             time.Now,
		sleep:           sleep,
		maxEmptyPolls:   maxEmptyPolls,
		maxSummaryPolls: maxSummaryPolls,
		mdCache:         make(map[string]mdEntry),
	}, nil
}

// parseBaseURL checks the configured DHIS2 URL. Credentials in it are
// refused, so that they can never leak through a URL.
func parseBaseURL(raw string) (*url.URL, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, errors.New("dhis2: url: required")
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		// url.Parse quotes the input, which may hold credentials.
		return nil, errors.New("dhis2: url: not a valid URL")
	}
	if u.User != nil {
		return nil, errors.New("dhis2: url: must not contain credentials; set dhis2.username and dhis2.password, or dhis2.token")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("dhis2: url %s: scheme must be http or https", u.Redacted())
	}
	if u.Host == "" {
		return nil, fmt.Errorf("dhis2: url %s: no host", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("dhis2: url %s: must not have a query or fragment", u.Redacted())
	}
	p := strings.TrimRight(u.Path, "/")
	if p == "/api" || strings.HasSuffix(p, "/api") {
		return nil, fmt.Errorf("dhis2: url %s: give the part before /api", u.Redacted())
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	u.Path, u.RawPath = p, ""
	return u, nil
}

// endpoint returns base/api/<elem…>?query. Each elem is one path segment
// and is escaped here.
func (c *Client) endpoint(query url.Values, elem ...string) *url.URL {
	segs := make([]string, 0, len(elem)+1)
	segs = append(segs, "api")
	for _, e := range elem {
		segs = append(segs, url.PathEscape(e))
	}
	u := c.base.JoinPath(segs...)
	if len(query) > 0 {
		u.RawQuery = query.Encode()
	}
	return u
}

// response is an answer read in full.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request and reads the answer in full, whatever its status.
// Errors are about transport only: the caller judges the status.
func (c *Client) do(ctx context.Context, op, method string, u *url.URL, body []byte) (response, error) {
	callCtx := ctx
	if c.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		callCtx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(callCtx, method, u.String(), rd)
	if err != nil {
		return response{}, fmt.Errorf("dhis2: %s: build request: %w", op, err)
	}
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	markIdempotent(req)
	c.authorize(req)

	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		return response{}, c.transportError(ctx, callCtx, op, u, err)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
		_ = resp.Body.Close()
	}()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return response{}, c.transportError(ctx, callCtx, op, u, &readError{status: resp.StatusCode, err: err})
	}
	if len(b) > maxBody {
		return response{}, fmt.Errorf("dhis2: %s: %s: answer larger than %d bytes", op, shortURL(u), maxBody)
	}
	// Scrub secrets before anything can quote the body: a server that
	// echoes credentials must not get them into errors or logs, not even
	// in part.
	b = c.redactBytes(b)
	c.log.Debug("dhis2 call", "op", op, "method", method, "path", u.Path,
		"status", resp.StatusCode, "bytes", len(b), "duration", time.Since(start))
	return response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// authorize puts the credentials on the request: a personal access token
// (DHIS2 2.37+, DHIS2 Web API docs, authentication) when set, else basic auth.
func (c *Client) authorize(req *http.Request) {
	if c.cfg.Token.IsSet() {
		tok := strings.TrimSpace(c.cfg.Token.Reveal())
		if !strings.HasPrefix(tok, "ApiToken ") {
			tok = "ApiToken " + tok
		}
		req.Header.Set("Authorization", tok)
		return
	}
	req.SetBasicAuth(c.cfg.Username, c.cfg.Password.Reveal())
}

// transportError describes a request that got no (complete) answer:
// "dhis2: <op>: <url>: unreachable: <cause>", or "timed out" or "canceled".
// The URL never carries credentials; the cause is stripped of *url.Error
// (which quotes the URL) and of any secret.
func (c *Client) transportError(ctx, callCtx context.Context, op string, u *url.URL, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	what := "unreachable"
	var re *readError
	switch {
	case errors.As(err, &re) && ctx.Err() == nil && callCtx.Err() == nil:
		what = "answer cut off"
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		what = "the caller's deadline passed"
	case ctx.Err() != nil:
		what = "canceled"
	case callCtx.Err() != nil:
		what = fmt.Sprintf("timed out after %s", c.cfg.Timeout)
	case isTimeout(err):
		what = "timed out"
	}
	return &redactedError{
		msg: c.redact(fmt.Sprintf("dhis2: %s: %s: %s: %v", op, shortURL(u), what, err)),
		err: err,
	}
}

// shortURL is u for an error message: scheme, host and path, without
// credentials or query (a metadata query can run to hundreds of characters
// of ids and says nothing about why the server could not be reached).
func shortURL(u *url.URL) string {
	s := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return s.String()
}

// readError is a failure to read an answer whose status line arrived.
type readError struct {
	status int
	err    error
}

func (e *readError) Error() string {
	return fmt.Sprintf("status %d, reading the body: %v", e.status, e.err)
}
func (e *readError) Unwrap() error { return e.err }

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// redactedError has a message scrubbed of secrets and keeps the cause for
// errors.Is and errors.As.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redact removes credentials from s by the rules of package redact (the
// configured password and token, the basic pair in base64, any "Basic …" or
// "ApiToken …", URL userinfo): a backstop, as nothing should ever have put
// them there, except a server that echoes the request headers.
func (c *Client) redact(s string) string {
	return c.redactor().String(s)
}

// redactBytes removes the configured secrets (only: the body is parsed
// next, and the rest of it must stay as DHIS2 sent it) from a body.
func (c *Client) redactBytes(b []byte) []byte {
	s := string(b)
	if out := c.redactor().Secrets(s); out != s {
		return []byte(out)
	}
	return b
}

func (c *Client) redactor() *redact.Redactor {
	return redact.New(redact.Credential{Username: c.cfg.Username, Secret: c.cfg.Password.Reveal()}, redact.Credential{Secret: c.cfg.Token.Reveal()})
}

// statusError builds the *StatusError of a non-2xx answer, with a hint for
// the statuses that have a likely cause.
func (c *Client) statusError(op string, r response) *StatusError {
	e := newStatusError(op, r.status, r.body, nil)
	e.Body = c.redact(e.Body)
	if isHTML(r) {
		e.Body = "an HTML page, not a DHIS2 API answer"
	}
	if looksLikeCouchDB(r) {
		e.hint = "the server at dhis2.url answers like CouchDB (CHT's database), not DHIS2: set dhis2.url to the DHIS2 base URL, the part before /api"
		return e
	}
	switch r.status {
	case http.StatusUnauthorized:
		if c.cfg.Token.IsSet() {
			e.hint = "DHIS2 refused the API token (dhis2.token; personal access tokens need DHIS2 2.37+, and 2.37 must enable them in dhis.conf)"
		} else {
			e.hint = "DHIS2 refused the username and password (dhis2.username, dhis2.password)"
		}
	case http.StatusForbidden:
		e.hint = "the DHIS2 user lacks an authority or access"
	case http.StatusFound, http.StatusSeeOther, http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		e.hint = "DHIS2 redirected (to its login page when no credentials were accepted; check dhis2.url and the credentials)"
		e.Body = ""
	case http.StatusRequestEntityTooLarge:
		e.hint = "the body is too large (a reverse proxy limit?): lower dhis2.chunk_size"
	}
	return e
}

// htmlAnswer describes a 2xx HTML answer: a login page after a redirect,
// or a URL that is not DHIS2's API.
const htmlAnswer = "an HTML page instead of a DHIS2 API answer (a login page? check dhis2.url and the credentials)"

// looksLikeCouchDB tells a CouchDB (or PouchDB Server) answer: its Server
// header, or its error body {"error": "…", "reason": "…"}. DHIS2's errors
// are WebMessages with httpStatus and message instead.
func looksLikeCouchDB(r response) bool {
	if s := strings.ToLower(r.header.Get("Server")); strings.Contains(s, "couchdb") || strings.Contains(s, "pouchdb") {
		return true
	}
	var body struct {
		Error  *string `json:"error"`
		Reason *string `json:"reason"`
	}
	return json.Unmarshal(r.body, &body) == nil && body.Error != nil && body.Reason != nil
}

func isHTML(r response) bool {
	ct := r.header.Get("Content-Type")
	if strings.HasPrefix(ct, "text/html") {
		return true
	}
	t := bytes.TrimSpace(r.body)
	return len(t) > 0 && t[0] == '<'
}

// getJSON GETs u and decodes a 2xx JSON answer into v.
func (c *Client) getJSON(ctx context.Context, op string, u *url.URL, v any) (response, error) {
	r, err := c.do(ctx, op, http.MethodGet, u, nil)
	if err != nil {
		return r, err
	}
	if r.status < 200 || r.status > 299 {
		return r, c.statusError(op, r)
	}
	if isHTML(r) {
		return r, fmt.Errorf("dhis2: %s: status %d: %s", op, r.status, htmlAnswer)
	}
	if err := decodeJSON(r.body, v); err != nil {
		return r, &redactedError{msg: c.redact(fmt.Sprintf("dhis2: %s: %v", op, err)), err: err}
	}
	return r, nil
}

// decodeJSON decodes body into v, saying what the body was when it can't.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errors.New("decode answer: empty body")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("decode answer: %w; %s", err, quoteBody(body))
	}
	return nil
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
