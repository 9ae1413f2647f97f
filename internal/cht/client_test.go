package cht

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/config"
)

const testPassword = "Tr1cky-p@ss:word/42"

func TestNew(t *testing.T) {
	tests := []struct {
		name     string
		url      string
		username string
		wantErr  string
		wantBase string
		wantUser string
		wantPass string
	}{
		{name: "empty url", url: "", wantErr: "cht: url is empty"},
		{name: "not http", url: "ftp://cht.example.org", wantErr: `cht: url must be an absolute http or https URL, got scheme "ftp"`},
		{name: "relative", url: "cht.example.org/medic", wantErr: "absolute http or https"},
		{name: "unparsable", url: "http://a b:" + testPassword + "@x:bad/", wantErr: "cht: url is not a valid URL"},
		{name: "plain", url: "https://cht.example.org", wantBase: "https://cht.example.org"},
		{name: "path prefix and junk", url: "https://example.org/cht/?x=1#top", wantBase: "https://example.org/cht/"},
		{name: "userinfo moves to the header", url: "http://admin:" + "pw%21@localhost:5984", wantBase: "http://localhost:5984", wantUser: "admin", wantPass: "pw!"},
		{name: "username wins over userinfo", url: "http://admin:pw@localhost:5984", username: "reader", wantBase: "http://localhost:5984", wantUser: "reader", wantPass: testPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.URL = tt.url
			cfg.Username = tt.username
			if tt.username != "" {
				cfg.Password = testPassword
			}
			c, err := New(cfg, nil, nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New(%q) error = %v; want %q", tt.url, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), testPassword) {
					t.Errorf("New error %q shows the password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New(%q) = %v", tt.url, err)
			}
			if got := c.base.String(); got != tt.wantBase {
				t.Errorf("base = %q; want %q", got, tt.wantBase)
			}
			if c.username != tt.wantUser || c.password.Reveal() != tt.wantPass {
				t.Errorf("credentials = %q/%q; want %q/%q", c.username, c.password.Reveal(), tt.wantUser, tt.wantPass)
			}
		})
	}
}

func TestNew_defaults(t *testing.T) {
	c, err := New(config.CHT{URL: "http://localhost:5984"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.db != "medic" || c.timeout != defaultTimeout || c.pageSize != defaultPageSize ||
		c.batchSize != defaultBatchSize || c.concurrency != defaultConcurrency || c.locale != "en" {
		t.Errorf("defaults = db %q timeout %v page %d batch %d conc %d locale %q", c.db, c.timeout, c.pageSize, c.batchSize, c.concurrency, c.locale)
	}
	if c.hc == nil || c.hc.Timeout != defaultTimeout {
		t.Errorf("default http client = %+v; want one with timeout %v", c.hc, defaultTimeout)
	}
}

func TestEndpoint_escapes(t *testing.T) {
	cfg := testConfig()
	cfg.URL = "https://example.org/cht/"
	cfg.Database = "a/b$c"
	c, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := c.dbEndpoint("messages-e n?x").String()
	want := "https://example.org/cht/a%2Fb$c/messages-e%20n%3Fx"
	if got != want {
		t.Errorf("dbEndpoint = %q; want %q", got, want)
	}
}

func TestClient_headers(t *testing.T) {
	f := newFakeCouch(t)
	f.user, f.password = "reader", testPassword
	f.put("messages-en", map[string]any{"generic": map[string]string{"a": "A"}})
	cfg := testConfig()
	cfg.Username, cfg.Password = "reader", testPassword
	c, srv := f.start(cfg)
	if _, err := c.Translations(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Owners(context.Background(), []string{"x"}); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	if len(reqs) != 2 {
		t.Fatalf("server saw %d requests; want 2", len(reqs))
	}
	for _, r := range reqs {
		if got := r.Header.Get("User-Agent"); got != UserAgent {
			t.Errorf("%s %s User-Agent = %q; want %q", r.Method, r.Path, got, UserAgent)
		}
		if got := r.Header.Get("Accept"); got != "application/json" {
			t.Errorf("%s %s Accept = %q", r.Method, r.Path, got)
		}
		req := &http.Request{Header: r.Header}
		u, p, ok := req.BasicAuth()
		if !ok || u != "reader" || p != testPassword {
			t.Errorf("%s %s basic auth = %q/%q/%v", r.Method, r.Path, u, p, ok)
		}
		if strings.Contains(r.Path+r.Raw, "reader") {
			t.Errorf("credentials in the URL: %s?%s", r.Path, r.Raw)
		}
	}
	if got := reqs[1].Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("POST Content-Type = %q", got)
	}
	_ = srv
}

func TestClient_noAuthHeaderWithoutUsername(t *testing.T) {
	f := newFakeCouch(t)
	f.put("messages-en", map[string]any{})
	c, _ := f.start(testConfig())
	if _, err := c.Translations(context.Background(), "en"); err != nil {
		t.Fatal(err)
	}
	if h := f.requests()[0].Header.Get("Authorization"); h != "" {
		t.Errorf("Authorization = %q; want none", h)
	}
}

// TestClient_errorsLeakNoSecret runs every call into failures with a known
// password and checks that no error shows it.
func TestClient_errorsLeakNoSecret(t *testing.T) {
	f := newFakeCouch(t)
	f.user, f.password = "reader", "the-right-one"
	cfg := testConfig()
	cfg.Username, cfg.Password = "reader", testPassword
	c, srv := f.start(cfg)

	// A closed port, with the password also in the URL's userinfo.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	down := testConfig()
	down.URL = "http://reader:" + strings.ReplaceAll(testPassword, "/", "%2F") + "@" + addr
	down.Timeout = 2 * time.Second
	dc, err := New(down, nil, nil)
	if err != nil {
		t.Fatal(err)
	}

	calls := map[string]func(*Client) error{
		"settings": func(c *Client) error { _, err := c.Settings(context.Background()); return err },
		"target docs": func(c *Client) error {
			_, err := c.TargetDocs(context.Background(), "2024-06", func(aggregate.TargetDoc) error { return nil })
			return err
		},
		"contacts": func(c *Client) error {
			return c.Contacts(context.Background(), func(aggregate.Contact) error { return nil })
		},
		"owners":       func(c *Client) error { _, err := c.Owners(context.Background(), []string{"p1"}); return err },
		"translations": func(c *Client) error { _, err := c.Translations(context.Background(), "en"); return err },
	}
	for name, call := range calls {
		t.Run(name+"/unauthorized", func(t *testing.T) {
			err := call(c)
			if !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("error = %v; want ErrUnauthorized", err)
			}
			assertNoSecret(t, err)
		})
		t.Run(name+"/refused", func(t *testing.T) {
			err := call(dc)
			if !errors.Is(err, ErrUnreachable) {
				t.Fatalf("error = %v; want ErrUnreachable", err)
			}
			if !strings.Contains(err.Error(), "http://"+addr+"/") {
				t.Errorf("error %q does not name the URL", err)
			}
			assertNoSecret(t, err)
		})
	}
	_ = srv
}

func assertNoSecret(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	for _, s := range []string{testPassword, "reader:", "Authorization", "Basic "} {
		if strings.Contains(msg, s) {
			t.Errorf("error %q contains %q", msg, s)
		}
	}
}

func TestStatusError(t *testing.T) {
	tests := []struct {
		name      string
		err       *StatusError
		want      string
		unauthzd  bool
		notFound  bool
		wantCodeT string
	}{
		{name: "401", err: &StatusError{Op: "fetch target docs 2024-06", StatusCode: 401, Body: "unauthorized: Name or password is incorrect."},
			want: "cht: fetch target docs 2024-06: status 401: unauthorized: Name or password is incorrect. (check cht.username and cht.password)", unauthzd: true},
		{name: "403", err: &StatusError{Op: "fetch contacts", StatusCode: 403}, want: "cht: fetch contacts: status 403 (the user may not read this database: use an online CHT user)", unauthzd: true},
		{name: "404", err: &StatusError{Op: "fetch settings", StatusCode: 404, Body: "not_found: missing"}, want: "cht: fetch settings: status 404: not_found: missing", notFound: true},
		{name: "500", err: &StatusError{Op: "fetch owners", StatusCode: 500}, want: "cht: fetch owners: status 500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q; want %q", got, tt.want)
			}
			if got := errors.Is(tt.err, ErrUnauthorized); got != tt.unauthzd {
				t.Errorf("errors.Is(ErrUnauthorized) = %v; want %v", got, tt.unauthzd)
			}
			if got := errors.Is(tt.err, ErrNotFound); got != tt.notFound {
				t.Errorf("errors.Is(ErrNotFound) = %v; want %v", got, tt.notFound)
			}
			if errors.Is(tt.err, ErrUnreachable) {
				t.Errorf("errors.Is(ErrUnreachable) = true")
			}
		})
	}
}

func TestSummariseBody(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		want     string
		wantCode string
	}{
		{name: "couchdb", body: `{"error":"unauthorized","reason":"Name or password is incorrect."}`, want: "unauthorized: Name or password is incorrect.", wantCode: "unauthorized"},
		{name: "same reason", body: `{"error":"not_found","reason":"not_found"}`, want: "not_found", wantCode: "not_found"},
		{name: "cht api", body: `{"code":403,"error":"Insufficient privileges"}`, want: "Insufficient privileges", wantCode: "Insufficient privileges"},
		{name: "error object", body: `{"error":{"message":"x"}}`, want: `{"error":{"message":"x"}}`},
		{name: "html", body: "<html>\n <body>502 Bad Gateway</body>\n</html>\n", want: "<html> <body>502 Bad Gateway</body> </html>"},
		{name: "empty", body: "", want: ""},
		{name: "long", body: strings.Repeat("é", 600), want: strings.Repeat("é", 512) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, code := summariseBody([]byte(tt.body))
			if got != tt.want || code != tt.wantCode {
				t.Errorf("summariseBody(%.40q) = %q, %q; want %q, %q", tt.body, got, code, tt.want, tt.wantCode)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	cfg := testConfig()
	cfg.URL = "http://localhost"
	cfg.Username, cfg.Password = "u", testPassword
	c, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := c.redact(`Get "https://u:xyz@host/medic": echo ` + testPassword)
	want := `Get "https://u:<redacted>@host/medic": echo <redacted>`
	if got != want {
		t.Errorf("redact = %q; want %q", got, want)
	}
}

func TestClient_perCallTimeout(t *testing.T) {
	f := newFakeCouch(t)
	f.delay = 300 * time.Millisecond
	cfg := testConfig()
	cfg.Timeout = 50 * time.Millisecond
	c, _ := f.start(cfg)
	_, err := c.Settings(context.Background())
	if !errors.Is(err, ErrUnreachable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v; want ErrUnreachable wrapping context.DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "no answer within 50ms") {
		t.Errorf("error %q does not name the timeout", err)
	}
}

func TestClient_cancelledBeforeCall(t *testing.T) {
	f := newFakeCouch(t)
	c, _ := f.start(testConfig())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Settings(ctx)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrUnreachable) {
		t.Fatalf("error = %v; want context.Canceled, not unreachable", err)
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("server saw %d requests; want 0", n)
	}
}
