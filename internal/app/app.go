// Package app builds the mediator from its configuration: the upstream HTTP
// clients, the CHT and DHIS2 clients and the export service. It is the only
// package that knows every other one; main and the end-to-end tests use it.
package app

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/breaker"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/cht"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/config"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/dhis2"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/redact"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/redirect"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/retry"
)

// Version is the program's version, set by main from its build flags.
var Version = "0.0.0-dev"

var (
	_ export.CHTSource   = (*cht.Client)(nil)
	_ export.DHIS2Target = (*dhis2.Client)(nil)
)

// Upstream names, as breakers, retries and logs know them.
const (
	upstreamCHT     = "cht"
	upstreamDHIS2   = "dhis2"
	upstreamOpenHIM = "openhim"
)

// baseTransport returns the http.Transport of one upstream: its own
// connection pool and connection timeouts. The wait for an answer is
// bounded by each call's context (the clients' per-call timeout) and the
// http.Client's Timeout, not by a ResponseHeaderTimeout: one equal to them
// would race them and replace their message, which names the timeout, with
// net/http's "timeout awaiting response headers".
//
// Its read buffer is 64 KiB instead of net/http's 4 KiB. CouchDB streams
// _all_docs and views in chunks of about 1.5 KB (its chunked_response_buffer
// setting, 1490 bytes by default, COUCHDB-2724), and with a 4 KiB buffer
// the body is read from the socket 4 KiB at a time: one system call per
// two or three chunks. A 50 000-CHW preview against a server sending 2 KB
// chunks took 0.685 s and 0.76 s of CPU with 4 KiB, 0.655 s and 0.70 s
// with 64 KiB; against one sending 64 KB chunks, 0.555 s against 0.530 s
// (interleaved runs, medians). It costs 64 KiB per pooled connection.
func baseTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          32,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ReadBufferSize:        64 << 10,
	}
}

// upstreamClient returns the http.Client of one upstream. Its transport
// stack is, outermost first:
//
//	record (the orchestration recorder; left out when nil)
//	→ circuit breaker b (one per upstream, shared by every client of it)
//	→ retry of idempotent calls with policy rp
//	→ http.Transport
//
// So a call is recorded once, counts once for the breaker however often it
// was tried, and an open breaker answers before any try. timeout bounds a
// whole call, retries included.
//
// Redirects are followed only to the same scheme, host and port
// (redirect.Policy): credentials and bodies never go anywhere else.
func upstreamClient(timeout time.Duration, b *breaker.Breaker, rp config.Retry, log *slog.Logger, record func(http.RoundTripper) http.RoundTripper) *http.Client {
	var rt http.RoundTripper = baseTransport()
	rt = retry.New(b.Name(), retryPolicy(rp), rt, log)
	rt = breaker.NewTransport(b, rt)
	if record != nil {
		rt = record(rt)
	}
	// The clients bound every call with a context deadline of timeout,
	// which names the cause ("no answer within 1m"); the client's own
	// Timeout is only a backstop for a call that escapes it, so it must not
	// race that deadline.
	return &http.Client{Transport: rt, Timeout: timeout + rp.Budget + backstopSlack, CheckRedirect: redirect.Policy(b.Name())}
}

// backstopSlack keeps http.Client.Timeout behind the per-call deadline.
const backstopSlack = 30 * time.Second

// breakerSettings converts a breaker section of the config.
func breakerSettings(c config.Breaker) breaker.Settings {
	return breaker.Settings{Failures: c.Failures, OpenFor: c.OpenFor, HalfOpenRequests: c.HalfOpenRequests}
}

// retryPolicy converts a retry section of the config. A zero section (a
// hand-built config) means no retries.
func retryPolicy(c config.Retry) retry.Policy {
	if c == (config.Retry{}) {
		return retry.Policy{Attempts: 1}
	}
	return retry.Policy{Attempts: c.Attempts, InitialBackoff: c.InitialBackoff, MaxBackoff: c.MaxBackoff, Budget: c.Budget}
}

// NewExportService builds the export service and the clients it needs from
// cfg. It needs the CHT keys; with withDHIS2 it also needs the DHIS2 keys
// and can push, without it only preview. Its breakers are its own.
func NewExportService(cfg config.Config, log *slog.Logger, withDHIS2 bool) (*export.Service, error) {
	if err := cfg.RequireCHT(); err != nil {
		return nil, err
	}
	breakers := breaker.NewRegistry(log)
	chtClient, err := newCHTClient(cfg, breakers.For, log, nil)
	if err != nil {
		return nil, err
	}
	opts := export.Options{Locale: cfg.CHT.Locale, Logger: log, Data: dataOptions(cfg.DHIS2), MinReady: cfg.Export.MinReady}
	if withDHIS2 {
		if opts.DHIS2, err = newDHIS2Client(cfg, breakers.For, log, nil); err != nil {
			return nil, err
		}
	}
	return export.New(chtClient, opts)
}

// NewDHIS2Client builds the DHIS2 client from cfg, with a breaker of its
// own.
func NewDHIS2Client(cfg config.Config, log *slog.Logger) (*dhis2.Client, error) {
	return newDHIS2Client(cfg, breaker.NewRegistry(log).For, log, nil)
}

// breakerFor returns the breaker of an upstream with given settings
// (Registry.For, or Registry.Plan for a config that may still be refused).
type breakerFor func(name string, s breaker.Settings) *breaker.Breaker

// newCHTClient builds the CHT client of cfg with the CHT breaker of
// breakers; record, when not nil, wraps its transport stack.
func newCHTClient(cfg config.Config, breakers breakerFor, log *slog.Logger, record func(http.RoundTripper) http.RoundTripper) (*cht.Client, error) {
	b := breakers(upstreamCHT, breakerSettings(cfg.CHT.Breaker))
	c, err := cht.New(cfg.CHT, upstreamClient(cfg.CHT.Timeout, b, cfg.CHT.Retry, log, record), log)
	if err != nil {
		return nil, fmt.Errorf("build CHT client: %w", err)
	}
	return c, nil
}

// newDHIS2Client builds the DHIS2 client of cfg with the DHIS2 breaker of
// breakers; record, when not nil, wraps its transport stack.
func newDHIS2Client(cfg config.Config, breakers breakerFor, log *slog.Logger, record func(http.RoundTripper) http.RoundTripper) (*dhis2.Client, error) {
	if err := cfg.RequireDHIS2(); err != nil {
		return nil, err
	}
	b := breakers(upstreamDHIS2, breakerSettings(cfg.DHIS2.Breaker))
	c, err := dhis2.New(cfg.DHIS2, upstreamClient(cfg.DHIS2.Timeout, b, cfg.DHIS2.Retry, log, record), log)
	if err != nil {
		return nil, fmt.Errorf("build DHIS2 client: %w", err)
	}
	return c, nil
}

// NewLogger builds the program's logger from the log section: JSON lines
// for log collectors, or text for people ("auto": text when w is a
// terminal, JSON otherwise). Durations are written with their unit
// ("1m30s"), in both formats; text lines carry the time of day only.
// Every line is redacted with r (nil: the rules that need no configured
// secret).
func NewLogger(cfg config.Log, w io.Writer, r *redact.Redactor) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level))
	text := cfg.Format == "text" || (cfg.Format == "auto" && isTerminal(w))
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		switch {
		case a.Value.Kind() == slog.KindDuration:
			a.Value = slog.StringValue(a.Value.Duration().String())
		case text && len(groups) == 0 && a.Key == slog.TimeKey && a.Value.Kind() == slog.KindTime:
			a.Value = slog.StringValue(a.Value.Time().Format(time.TimeOnly))
		}
		return a
	}}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if text {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(redact.NewHandler(h, r))
}

// NewRedactor returns the redactor of cfg's credentials: every password
// and token, with the user names of the basic-auth pairs.
func NewRedactor(cfgs ...config.Config) *redact.Redactor {
	return redact.New(credentials(cfgs...)...)
}

// credentials lists the credentials of cfgs.
func credentials(cfgs ...config.Config) []redact.Credential {
	var out []redact.Credential
	for _, cfg := range cfgs {
		out = append(out,
			redact.Credential{Username: cfg.CHT.Username, Secret: cfg.CHT.Password.Reveal()},
			redact.Credential{Username: cfg.DHIS2.Username, Secret: cfg.DHIS2.Password.Reveal()},
			redact.Credential{Secret: cfg.DHIS2.Token.Reveal()},
			redact.Credential{Username: cfg.OpenHIM.Username, Secret: cfg.OpenHIM.Password.Reveal()},
			redact.Credential{Username: cfg.Server.Username, Secret: cfg.Server.Password.Reveal()},
		)
		// A password in a URL's userinfo (cht.url may carry one).
		for _, raw := range []string{cfg.CHT.URL, cfg.DHIS2.URL, cfg.OpenHIM.URL} {
			if u, err := url.Parse(raw); err == nil && u.User != nil {
				if pw, ok := u.User.Password(); ok {
					out = append(out, redact.Credential{Username: u.User.Username(), Secret: pw})
				}
			}
		}
	}
	return out
}

// dataOptions are the export's data management settings of the dhis2
// section.
func dataOptions(c config.DHIS2) export.DataOptions {
	return export.DataOptions{CompleteRegistration: c.CompleteRegistration, DeleteStale: c.DeleteStale, OverwriteOthers: c.OverwriteOthers}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
