// Package cht is the mediator's client for the Community Health Toolkit: it
// reads app settings, the month's target documents, the contacts that carry
// DHIS2 org unit mappings, and the owners of target documents from a CHT
// instance or its CouchDB (or any CouchDB-compatible server such as
// pouchdb-server), and converts the wire JSON into the aggregate package's
// domain types.
//
// Reads are paged and decoded as streams, following the CouchDB pagination
// recipe (limit=n+1, the extra row starts the next page): each answer is
// validated and split into rows as it arrives (rowscan.go) and each row
// decoded in one pass, so memory is bounded by a few pages, not by a month;
// a large month's target docs are read by several ranges at once. Target
// documents come from user devices and are decoded leniently: a malformed
// document or entry is marked (aggregate.TargetDoc.Malformed,
// aggregate.Target.Invalid), never fatal.
//
// The documents are described in the CHT docs (targets, contacts) and the
// endpoints are CouchDB's (_all_docs, views) behind CHT's API.
package cht

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/config"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/redact"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/redirect"
)

// UserAgent is sent with every request.
const UserAgent = "cht-dhis2-mediator"

// Defaults used when a config.CHT field is zero (config.Default() sets them
// all; these only protect a hand-built config).
const (
	defaultDatabase    = "medic"
	defaultTimeout     = 60 * time.Second
	defaultPageSize    = 1000
	defaultBatchSize   = 500
	defaultConcurrency = 4
	defaultLocale      = "en"
)

// drainLimit bounds how much of an unread body is drained so that the
// connection can be reused; a bigger rest is dropped with the connection.
const drainLimit = 256 << 10

// Client reads from one CHT instance. It is safe for concurrent use.
type Client struct {
	base        *url.URL // no userinfo, query or fragment
	db          string
	username    string
	password    config.Secret
	timeout     time.Duration
	pageSize    int
	batchSize   int
	concurrency int
	locale      string
	hc          *http.Client
	log         *slog.Logger

	settingsSource atomic.Int32 // which settings endpoint answered, see settings.go
	fallbackOnce   sync.Once    // logs the contacts fallback once
	skipModeOnce   sync.Once    // logs the view paging fallback once
}

// New returns a client for cfg. hc is the upstream's *http.Client (its
// transport may hold breakers and recorders); nil means a plain client with
// cfg.Timeout. log may be nil.
//
// cfg.URL must be an absolute http or https URL. Credentials are sent as a
// basic auth header, never in URLs: when cfg.URL carries user:password@ and
// cfg.Username is empty they are moved into the header, and in every case
// removed from the URL.
func New(cfg config.CHT, hc *http.Client, log *slog.Logger) (*Client, error) {
	if cfg.URL == "" {
		return nil, errors.New("cht: url is empty")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		// url.Parse errors quote the input, which may hold a password.
		return nil, errors.New("cht: url is not a valid URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("cht: url must be an absolute http or https URL, got scheme %q", u.Scheme)
	}
	c := &Client{
		db:          orString(cfg.Database, defaultDatabase),
		username:    cfg.Username,
		password:    cfg.Password,
		timeout:     cfg.Timeout,
		pageSize:    cfg.PageSize,
		batchSize:   cfg.BatchSize,
		concurrency: cfg.Concurrency,
		locale:      orString(cfg.Locale, defaultLocale),
		hc:          hc,
		log:         log,
	}
	if u.User != nil && c.username == "" {
		c.username = u.User.Username()
		if pw, ok := u.User.Password(); ok {
			c.password = config.Secret(pw)
		}
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	c.base = u
	if c.timeout <= 0 {
		c.timeout = defaultTimeout
	}
	if c.pageSize < 1 {
		c.pageSize = defaultPageSize
	}
	if c.batchSize < 1 {
		c.batchSize = defaultBatchSize
	}
	if c.concurrency < 1 {
		c.concurrency = defaultConcurrency
	}
	if c.hc == nil {
		c.hc = &http.Client{Timeout: c.timeout, CheckRedirect: redirect.Policy("cht")}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("component", "cht")
	return c, nil
}

func orString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// endpoint is the base URL joined with path segments, each escaped.
func (c *Client) endpoint(segments ...string) *url.URL {
	esc := make([]string, len(segments))
	for i, s := range segments {
		esc[i] = url.PathEscape(s)
	}
	return c.base.JoinPath(esc...)
}

// dbEndpoint is endpoint under the database.
func (c *Client) dbEndpoint(segments ...string) *url.URL {
	return c.endpoint(append([]string{c.db}, segments...)...)
}

// request is one outbound call.
type request struct {
	op     string // for errors: "fetch target docs 2024-06"
	method string
	u      *url.URL
	body   []byte // JSON; nil for none
}

// callbackError carries an error returned by a caller's fn through do
// unchanged.
type callbackError struct{ err error }

func (e callbackError) Error() string { return e.err.Error() }
func (e callbackError) Unwrap() error { return e.err }

// do sends r with a per-call timeout derived from ctx and hands a 2xx answer
// to read. A non-2xx answer is a *StatusError, no answer an
// *UnreachableError, the caller's cancellation wraps ctx.Err(), and an error
// read returns wrapped in callbackError is returned as is.
func (c *Client) do(ctx context.Context, r request, read func(*http.Response) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cht: %s: %w", r.op, err)
	}
	callCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(callCtx, r.method, r.u.String(), body)
	if err != nil {
		return fmt.Errorf("cht: %s: build request: %w", r.op, err)
	}
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set("Accept", "application/json")
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	markIdempotent(req)
	if c.username != "" {
		req.SetBasicAuth(c.username, c.password.Reveal())
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		return c.transportError(ctx, callCtx, r, err)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
		_ = resp.Body.Close()
	}()
	c.log.Debug("cht response", "op", r.op, "method", r.method, "path", r.u.Path,
		"status", resp.StatusCode, "duration", time.Since(start))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4*maxErrorBody))
		summary, code := summariseBody(b)
		return &StatusError{Op: r.op, StatusCode: resp.StatusCode, Body: c.redact(summary), Code: code}
	}
	err = read(resp)
	if err == nil {
		return nil
	}
	if cb, ok := errors.AsType[callbackError](err); ok {
		return cb.err
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("cht: %s: %w", r.op, ctxErr)
	}
	if callCtx.Err() != nil {
		cause := fmt.Errorf("no complete answer within %s: %w", c.timeout, context.DeadlineExceeded)
		return c.unreachable(r, cause)
	}
	return fmt.Errorf("cht: %s: %w", r.op, err)
}

// transportError classifies an error from http.Client.Do.
func (c *Client) transportError(ctx, callCtx context.Context, r request, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("cht: %s: %w", r.op, ctxErr)
	}
	cause := err
	if ue, ok := errors.AsType[*url.Error](err); ok {
		cause = ue.Err // drop the URL: it is reported redacted instead
	}
	if callCtx.Err() != nil {
		cause = fmt.Errorf("no answer within %s: %w", c.timeout, cause)
	}
	return c.unreachable(r, cause)
}

func (c *Client) unreachable(r request, cause error) *UnreachableError {
	u := *r.u
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return &UnreachableError{Op: r.op, URL: u.String(), Err: cause, msg: c.redact(cause.Error())}
}

// redact removes credentials from s by the rules of package redact (the
// configured password, the basic pair in base64, any "Basic …", URL
// userinfo): a backstop for text that comes from elsewhere (an error body
// that echoes the request headers, a transport's error).
func (c *Client) redact(s string) string {
	return redact.New(redact.Credential{Username: c.username, Secret: c.password.Reveal()}).String(s)
}
