package openhim

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/config"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/redact"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/redirect"
)

// UserAgent is sent with every request to core.
const UserAgent = "cht-dhis2-mediator"

const (
	// maxAnswer bounds how much of an answer of core is read. A config
	// delivered by a heartbeat is a few KiB.
	maxAnswer = 4 << 20
	// maxErrorBody is how much of a body a StatusError keeps.
	maxErrorBody = 1024
)

// Sentinel errors. Compare with errors.Is.
var (
	// ErrNotRegistered means core does not know the mediator's urn (a
	// heartbeat answered 404, e.g. after the mediator was deleted in the
	// console): register again.
	ErrNotRegistered = errors.New("openhim: mediator not registered")
	// ErrUnauthorized means core refused the credentials (401). Core sends
	// no detail; the credentials never appear in an error.
	ErrUnauthorized = errors.New("openhim: credentials refused")
	// ErrForbidden means the user is authenticated but lacks the permission
	// (403): in core ≤ 8.5 the user must be in group admin.
	ErrForbidden = errors.New("openhim: permission denied")
)

// StatusError is a non-2xx answer of core's API.
type StatusError struct {
	// Op names the call: "register", "heartbeat", "authenticate".
	Op string
	// StatusCode is the HTTP status.
	StatusCode int
	// Body is the start of core's answer (at most 1 KiB, on one line, with
	// the configured password scrubbed). Never headers.
	Body string

	sentinel error
}

var _ error = (*StatusError)(nil)

// Error implements error: "openhim: <op>: status <code>[: <body>]".
func (e *StatusError) Error() string {
	s := fmt.Sprintf("openhim: %s: status %d", e.Op, e.StatusCode)
	if e.Body != "" {
		s += ": " + e.Body
	}
	switch e.StatusCode {
	case 401:
		// Core answers a bare 401 for an unknown user and a wrong password
		// alike (src/api/authentication.js).
		s += " (OpenHIM core refused the credentials: check openhim.username and openhim.password, and openhim.auth=token for cores before 8)"
	case 403:
		s += " (the OpenHIM user openhim.username may not manage mediators: give it the admin role)"
	}
	return s
}

// Unwrap makes errors.Is work with ErrUnauthorized (401), ErrForbidden (403)
// and ErrNotRegistered (404 on a heartbeat).
func (e *StatusError) Unwrap() error { return e.sentinel }

// Client calls core's API: registration and heartbeats. It is safe for
// concurrent use.
type Client struct {
	base     *url.URL
	hc       *http.Client
	username string
	password config.Secret
	auth     string
	timeout  time.Duration
	log      *slog.Logger

	// now is the clock of token auth; newSalt makes auth-salt values.
	// Both are replaced in tests.
	now     func() time.Time
	newSalt func() string

	tokenMu sync.Mutex
	token   *tokenState
}

// tokenState is what GET /authenticate/:email gave for the legacy token
// auth: the password hash and the offset of core's clock from ours.
type tokenState struct {
	passhash string
	offset   time.Duration
}

// New returns a client of core's API at cfg.URL with cfg.Username and
// cfg.Password, using basic auth, or the legacy token auth when cfg.Auth is
// "token" (OpenHIM core src/api/authentication.js). With hc nil the client has its own http.Client with
// cfg.Timeout whose transport trusts the system roots plus cfg.TLSCAFile, or
// anything when cfg.TLSInsecureSkipVerify; a given hc is used as it is.
// Every call is also bounded by cfg.Timeout. log may be nil.
func New(cfg config.OpenHIM, hc *http.Client, log *slog.Logger) (*Client, error) {
	base, err := parseBaseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.Username == "" {
		return nil, errors.New("openhim: username: required (set openhim.username)")
	}
	if !cfg.Password.IsSet() {
		return nil, errors.New("openhim: password: required (set openhim.password or MEDIATOR_OPENHIM_PASSWORD)")
	}
	auth := cfg.Auth
	if auth == "" {
		auth = "basic"
	}
	if auth != "basic" && auth != "token" {
		return nil, fmt.Errorf("openhim: auth %q: must be basic or token", cfg.Auth)
	}
	if hc == nil {
		if hc, err = HTTPClient(cfg); err != nil {
			return nil, err
		}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{
		base:     base,
		hc:       hc,
		username: cfg.Username,
		password: cfg.Password,
		auth:     auth,
		timeout:  cfg.Timeout,
		log:      log.With("component", "openhim"),
		now:      time.Now,
		newSalt:  randomSalt,
	}, nil
}

// HTTPClient returns the http.Client New uses when given none: timeout
// cfg.Timeout, and a transport of its own whose TLS trusts the system roots
// plus cfg.TLSCAFile, or anything when cfg.TLSInsecureSkipVerify. The
// caller may wrap its Transport (a circuit breaker) and pass it to New.
func HTTPClient(cfg config.OpenHIM) (*http.Client, error) {
	tc, err := TLSConfig(cfg)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	tr.MaxIdleConnsPerHost = 2
	// Core's root credentials go to core only: a redirect elsewhere (another
	// port, http:// from https://) is refused.
	return &http.Client{Transport: tr, Timeout: cfg.Timeout, CheckRedirect: redirect.Policy("openhim")}, nil
}

// TLSConfig returns the TLS configuration for core's API: the system roots
// plus the CAs in cfg.TLSCAFile, or no verification at all when
// cfg.TLSInsecureSkipVerify (core's default certificate is self-signed for
// CN=localhost, OpenHIM core config/default.json).
func TLSConfig(cfg config.OpenHIM) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLSCAFile != "" && cfg.TLSInsecureSkipVerify {
		return nil, errors.New("openhim: tls_insecure_skip_verify cannot be true together with tls_ca_file")
	}
	if cfg.TLSInsecureSkipVerify {
		tc.InsecureSkipVerify = true //nolint:gosec // explicit operator choice for test deployments
		return tc, nil
	}
	if cfg.TLSCAFile != "" {
		pem, err := os.ReadFile(cfg.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("openhim: read tls_ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("openhim: tls_ca_file %s: no PEM certificate found", cfg.TLSCAFile)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// parseBaseURL checks core's API URL. Credentials in it are refused, so they
// can never leak through a URL.
func parseBaseURL(raw string) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, errors.New("openhim: url: required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("openhim: url: not a valid URL")
	}
	if u.User != nil {
		return nil, errors.New("openhim: url: must not contain credentials; set openhim.username and openhim.password")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("openhim: url %s: scheme must be http or https", u.Redacted())
	}
	if u.Host == "" {
		return nil, fmt.Errorf("openhim: url %s: no host", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("openhim: url %s: must not have a query or fragment", u.Redacted())
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// Register sends the registration document (POST /mediators). Core answers
// 201 also when nothing changed: a registration with the same or a lower
// version than the stored one is a silent no-op (OpenHIM core src/api/mediators.js).
func (c *Client) Register(ctx context.Context, reg Registration) error {
	body, err := json.Marshal(reg)
	if err != nil {
		return fmt.Errorf("openhim: register: encode: %w", err)
	}
	status, answer, err := c.do(ctx, "register", http.MethodPost, "/mediators", body)
	if err != nil {
		return err
	}
	if status/100 != 2 {
		return c.statusError("register", status, answer)
	}
	return nil
}

// Heartbeat tells core the mediator is alive (POST /mediators/:urn/heartbeat
// with the uptime in seconds), asking for the config when wantConfig. It
// returns the config core delivered, or nil when it delivered none: an
// empty body, or "OK" (no config stored). A delivered config is the whole
// config, to replace the previous one. A 404 is an error wrapping
// ErrNotRegistered: register again.
func (c *Client) Heartbeat(ctx context.Context, urn string, uptime time.Duration, wantConfig bool) (map[string]any, error) {
	payload := map[string]any{"uptime": math.Floor(max(uptime, 0).Seconds())}
	if wantConfig {
		payload["config"] = true
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("openhim: heartbeat: encode: %w", err)
	}
	status, answer, err := c.do(ctx, "heartbeat", http.MethodPost, "/mediators/"+url.PathEscape(urn)+"/heartbeat", body)
	if err != nil {
		return nil, err
	}
	if status/100 != 2 {
		return nil, c.statusError("heartbeat", status, answer)
	}
	trimmed := bytes.TrimSpace(answer)
	if len(trimmed) == 0 || string(trimmed) == "OK" {
		return nil, nil
	}
	var cfg map[string]any
	if err := json.Unmarshal(trimmed, &cfg); err != nil || cfg == nil {
		return nil, fmt.Errorf("openhim: heartbeat: the answer is neither empty, OK nor a JSON object: %s", excerpt(c.scrub(trimmed), 64))
	}
	return cfg, nil
}

// do sends one request to core and reads the answer.
func (c *Client) do(ctx context.Context, op, method, path string, body []byte) (int, []byte, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, c.timeout, fmt.Errorf("openhim: %s: no answer within %s", op, c.timeout))
		defer cancel()
	}
	u := *c.base
	path, u.RawQuery, _ = strings.Cut(path, "?")
	u.Path = c.base.Path + path
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return 0, nil, fmt.Errorf("openhim: %s: %w", op, err)
	}
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set("Accept", "application/json, text/plain")
	if body != nil {
		// Without it koa-bodyparser leaves the body empty (OpenHIM core src/koaMiddleware.js).
		req.Header.Set("Content-Type", "application/json")
	}
	if err := c.authenticate(ctx, req); err != nil {
		return 0, nil, fmt.Errorf("openhim: %s: %w", op, err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
				return 0, nil, cause // our own per-call timeout, which names the call
			}
		}
		return 0, nil, fmt.Errorf("openhim: %s: %w", op, err)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
		_ = resp.Body.Close()
	}()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return 0, nil, fmt.Errorf("openhim: %s: read answer: %w", op, err)
	}
	if resp.StatusCode == http.StatusUnauthorized && c.auth == "token" {
		c.resetToken() // the password or its salt may have changed
	}
	return resp.StatusCode, answer, nil
}

func (c *Client) statusError(op string, status int, body []byte) *StatusError {
	e := &StatusError{Op: op, StatusCode: status, Body: excerpt(c.scrub(body), maxErrorBody)}
	switch {
	case status == http.StatusUnauthorized:
		e.sentinel = ErrUnauthorized
	case status == http.StatusForbidden:
		e.sentinel = ErrForbidden
	case status == http.StatusNotFound && op == "heartbeat":
		e.sentinel = ErrNotRegistered
	}
	return e
}

// scrub removes credentials from a body core sent back: the configured
// password, the basic pair in base64 and any "Basic …" (package redact).
func (c *Client) scrub(b []byte) []byte {
	return redact.New(redact.Credential{Username: c.username, Secret: c.password.Reveal()}).Bytes(b)
}

// authenticate sets the credentials on req: basic auth, or the token
// headers. Never both: in core 8 any auth-* header makes a request a token
// request (OpenHIM core src/api/authentication.js).
func (c *Client) authenticate(ctx context.Context, req *http.Request) error {
	if c.auth != "token" {
		req.SetBasicAuth(c.username, c.password.Reveal())
		return nil
	}
	st, err := c.tokenState(ctx)
	if err != nil {
		return err
	}
	ts := c.now().Add(st.offset).UTC().Format("2006-01-02T15:04:05.000Z")
	salt := c.newSalt()
	req.Header.Set("auth-username", c.username)
	req.Header.Set("auth-ts", ts)
	req.Header.Set("auth-salt", salt)
	req.Header.Set("auth-token", TokenAuth(st.passhash, salt, ts))
	return nil
}

// TokenPasshash is the password hash of the legacy token auth:
// hex(sha512(salt + password)), salt being the user's salt from
// GET /authenticate/:email (OpenHIM core src/api/authentication.js).
func TokenPasshash(userSalt, password string) string {
	h := sha512.Sum512([]byte(userSalt + password))
	return hex.EncodeToString(h[:])
}

// TokenAuth is the auth-token header of the legacy token auth:
// hex(sha512(passhash + auth-salt + auth-ts)), as core's token.js computes
// it.
func TokenAuth(passhash, authSalt, authTS string) string {
	h := sha512.Sum512([]byte(passhash + authSalt + authTS))
	return hex.EncodeToString(h[:])
}

// tokenState returns the cached token state, fetching the user's salt with
// GET /authenticate/:email (no credentials) the first time.
func (c *Client) tokenState(ctx context.Context) (*tokenState, error) {
	c.tokenMu.Lock()
	defer c.tokenMu.Unlock()
	if c.token != nil {
		return c.token, nil
	}
	u := *c.base
	u.Path = c.base.Path + "/authenticate/" + url.PathEscape(c.username)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set("Accept", "application/json")
	sent := c.now()
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("authenticate: read answer: %w", err)
	}
	received := c.now()
	if resp.StatusCode == http.StatusNotFound {
		return nil, &StatusError{Op: "authenticate", StatusCode: 404,
			Body: "user unknown or without a token passport (users created in core 8 have none: use openhim.auth basic)", sentinel: ErrUnauthorized}
	}
	if resp.StatusCode/100 != 2 {
		return nil, c.statusError("authenticate", resp.StatusCode, answer)
	}
	var a struct {
		Salt string `json:"salt"`
		TS   string `json:"ts"`
	}
	if err := json.Unmarshal(answer, &a); err != nil || a.Salt == "" {
		return nil, errors.New("authenticate: the answer has no salt")
	}
	st := &tokenState{passhash: TokenPasshash(a.Salt, c.password.Reveal())}
	// auth-ts must lie within core's window (10 s) of core's clock: follow
	// core's clock as the Java engine does.
	if serverTS, err := time.Parse(time.RFC3339Nano, a.TS); err == nil {
		mid := sent.Add(received.Sub(sent) / 2)
		st.offset = serverTS.Sub(mid)
		if st.offset.Abs() > 5*time.Second {
			c.log.Warn("clock differs from OpenHIM core's; following core's clock for token auth", "offset", st.offset.Round(time.Second).String())
		}
	}
	c.token = st
	return st, nil
}

func (c *Client) resetToken() {
	c.tokenMu.Lock()
	c.token = nil
	c.tokenMu.Unlock()
}

func randomSalt() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// excerpt returns at most n bytes of b as a printable one-line string, cut
// on a UTF-8 boundary, with "…" when cut.
func excerpt(b []byte, n int) string {
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	cut := false
	if len(s) > n {
		s = s[:runeStart(s, n)]
		cut = true
	}
	s = strings.Join(strings.Fields(s), " ")
	if cut {
		s += "…"
	}
	return s
}

// runeStart returns the largest i ≤ n at which a rune of s starts.
func runeStart(s string, n int) int {
	if n >= len(s) {
		return len(s)
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return n
}

// UpdateTransaction sends the final state of a transaction that an
// asynchronous export answered at once (PUT /transactions/:id, core's
// src/api/transactions.js updateTransaction): update holds the fields to
// set (status, response, orchestrations, properties, error). Core stores
// them as given, and an update with an error member marks the transaction
// for auto-retry and queues it (unless the channel's autoRetryMaxAttempts
// is reached). Core answers 200 with a sentence; in core 8.5.0 only an
// admin may update (403 otherwise), later cores ask for the
// channel-manage-all or channel-manage-specified permission.
func (c *Client) UpdateTransaction(ctx context.Context, id string, update any) error {
	body, err := json.Marshal(update)
	if err != nil {
		return fmt.Errorf("openhim: update transaction: encode: %w", err)
	}
	status, answer, err := c.do(ctx, "update transaction", http.MethodPut, "/transactions/"+url.PathEscape(id), body)
	if err != nil {
		return err
	}
	if status/100 != 2 {
		return c.statusError("update transaction "+id, status, answer)
	}
	return nil
}

// TransactionSummary is what ListTransactions returns of a transaction.
type TransactionSummary struct {
	ID         string         `json:"_id"`
	Status     string         `json:"status"`
	Properties map[string]any `json:"properties"`
}

// ListTransactions returns the newest transactions (at most limit) with
// the given status and property (GET /transactions?filters=…, core's
// src/api/transactions.js getTransactions: filters is a JSON object whose
// properties member matches one property).
func (c *Client) ListTransactions(ctx context.Context, status, property, value string, limit int) ([]TransactionSummary, error) {
	filters, err := json.Marshal(map[string]any{"status": status, "properties": map[string]string{property: value}})
	if err != nil {
		return nil, fmt.Errorf("openhim: list transactions: encode: %w", err)
	}
	q := url.Values{"filters": {string(filters)}, "filterLimit": {fmt.Sprint(limit)}, "filterPage": {"0"}}
	code, answer, err := c.do(ctx, "list transactions", http.MethodGet, "/transactions?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	if code/100 != 2 {
		return nil, c.statusError("list transactions", code, answer)
	}
	var out []TransactionSummary
	if err := json.Unmarshal(answer, &out); err != nil {
		return nil, fmt.Errorf("openhim: list transactions: the answer is not a JSON array: %s", excerpt(c.scrub(answer), 64))
	}
	return out, nil
}
