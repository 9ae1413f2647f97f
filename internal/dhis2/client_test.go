package dhis2

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/config"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*config.DHIS2)
		wantErr string
	}{
		{name: "ok", mod: func(*config.DHIS2) {}},
		{name: "token only", mod: func(c *config.DHIS2) { c.Username, c.Password, c.Token = "", "", config.Secret(testToken) }},
		{name: "no url", mod: func(c *config.DHIS2) { c.URL = " " }, wantErr: "dhis2: url: required"},
		{name: "bad url", mod: func(c *config.DHIS2) { c.URL = "http://a b:" + testPassword + "@x/%zz" }, wantErr: "not a valid URL"},
		{name: "credentials in url", mod: func(c *config.DHIS2) { c.URL = "https://admin:" + testPassword + "@dhis2.example.org" },
			wantErr: "must not contain credentials"},
		{name: "scheme", mod: func(c *config.DHIS2) { c.URL = "ftp://dhis2.example.org" }, wantErr: "scheme must be http or https"},
		{name: "no host", mod: func(c *config.DHIS2) { c.URL = "https:///dhis" }, wantErr: "no host"},
		{name: "query", mod: func(c *config.DHIS2) { c.URL = "https://dhis2.example.org/?x=1" }, wantErr: "query or fragment"},
		{name: "api suffix", mod: func(c *config.DHIS2) { c.URL = "https://dhis2.example.org/dhis/api/" }, wantErr: "the part before /api"},
		{name: "no credentials", mod: func(c *config.DHIS2) { c.Username, c.Password = "", "" }, wantErr: "no credentials"},
		{name: "chunk size", mod: func(c *config.DHIS2) { c.ChunkSize = 0 }, wantErr: "chunk size 0"},
		{name: "poll interval", mod: func(c *config.DHIS2) { c.Async, c.AsyncPollInterval = true, 0 }, wantErr: "async poll interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig("https://dhis2.example.org/dhis/")
			tt.mod(&cfg)
			_, err := New(cfg, nil, nil)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New() = %v; want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New() = %v; want an error containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), testPassword) {
				t.Errorf("New() error %q shows the password", err)
			}
		})
	}
}

func TestClient_headers(t *testing.T) {
	tests := []struct {
		name     string
		mod      func(*config.DHIS2)
		wantAuth string
	}{
		{name: "basic", mod: func(*config.DHIS2) {},
			wantAuth: "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+testPassword))},
		{name: "token wins over basic", mod: func(c *config.DHIS2) { c.Token = config.Secret(testToken) },
			wantAuth: "ApiToken " + testToken},
		{name: "token given with its prefix", mod: func(c *config.DHIS2) { c.Token = config.Secret("ApiToken " + testToken) },
			wantAuth: "ApiToken " + testToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got http.Header
			var path string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, path = r.Header.Clone(), r.URL.Path
				writeJSON(w, 200, readTestdata(t, "systeminfo-2.40.json"))
			}))
			t.Cleanup(srv.Close)
			cfg := testConfig(srv.URL + "/dhis/")
			tt.mod(&cfg)
			c, _ := newTestClient(t, cfg, nil)
			if _, err := c.SystemInfo(context.Background()); err != nil {
				t.Fatal(err)
			}
			if a := got.Get("Authorization"); a != tt.wantAuth {
				t.Errorf("Authorization = %q; want %q", a, tt.wantAuth)
			}
			if ua := got.Get("User-Agent"); ua != "cht-dhis2-mediator" {
				t.Errorf("User-Agent = %q", ua)
			}
			if a := got.Get("Accept"); a != "application/json" {
				t.Errorf("Accept = %q", a)
			}
			if path != "/dhis/api/system/info" {
				t.Errorf("path = %q; want /dhis/api/system/info (context path kept)", path)
			}
		})
	}
}

func TestClient_SystemInfo(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		writeJSON(w, 200, readTestdata(t, "systeminfo-2.40.json"))
	}))
	t.Cleanup(srv.Close)
	c, _ := newTestClient(t, testConfig(srv.URL), nil)
	for range 3 {
		info, err := c.SystemInfo(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want := SystemInfo{Version: "2.40.3", Major: 2, Minor: 40, Patch: 3, Revision: "a1b2c3d", Calendar: "iso8601",
			ServerDate: time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)}
		if info != want {
			t.Errorf("SystemInfo() = %+v; want %+v", info, want)
		}
		if info.Family() != "2.38" || !info.AtLeast(40) || info.AtLeast(41) {
			t.Errorf("Family() = %q, AtLeast(40) = %v, AtLeast(41) = %v", info.Family(), info.AtLeast(40), info.AtLeast(41))
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("GET /api/system/info called %d times; want 1 (cached)", n)
	}
}

func TestClient_SystemInfo_badVersion(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, []byte(`{"version":"banana"}`))
	}))
	t.Cleanup(srv.Close)
	c, _ := newTestClient(t, testConfig(srv.URL), nil)
	_, err := c.SystemInfo(context.Background())
	if err == nil || !strings.Contains(err.Error(), `dhis2: system info: unrecognised DHIS2 version "banana"`) {
		t.Errorf("SystemInfo() = %v; want unrecognised version", err)
	}
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in                          string
		major, minor, patch, hotfix int
		wantErr                     bool
	}{
		{in: "2.40.3", major: 2, minor: 40, patch: 3},
		{in: "2.41-SNAPSHOT", major: 2, minor: 41},
		{in: "2.39.1.1", major: 2, minor: 39, patch: 1, hotfix: 1},
		{in: "v2.42.0", major: 2, minor: 42},
		{in: "41.8.1", major: 2, minor: 41, patch: 8, hotfix: 1},
		{in: "2.36.13", major: 2, minor: 36, patch: 13},
		{in: " 2.43.0 ", major: 2, minor: 43},
		{in: "2.38.4.3-EMBARGOED", major: 2, minor: 38, patch: 4, hotfix: 3},
		{in: "", wantErr: true},
		{in: "2", wantErr: true},
		{in: "3.0", wantErr: true},
		{in: "2.x", wantErr: true},
		{in: "2..1", wantErr: true},
		{in: "2.40.1.2.3", wantErr: true},
		{in: "2.-4", wantErr: true},
		{in: "SNAPSHOT", wantErr: true},
	}
	for _, tt := range tests {
		major, minor, patch, hotfix, err := ParseVersion(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("ParseVersion(%q) = %d.%d.%d.%d, nil; want an error", tt.in, major, minor, patch, hotfix)
			}
			continue
		}
		if err != nil || major != tt.major || minor != tt.minor || patch != tt.patch || hotfix != tt.hotfix {
			t.Errorf("ParseVersion(%q) = %d.%d.%d.%d, %v; want %d.%d.%d.%d", tt.in, major, minor, patch, hotfix, err,
				tt.major, tt.minor, tt.patch, tt.hotfix)
		}
	}
}

func TestSystemInfo_Family(t *testing.T) {
	for v, want := range map[string]string{"2.30.0": "2.36", "2.36.13": "2.36", "2.37.9": "2.37", "2.38.1": "2.38",
		"2.41.2": "2.38", "2.42.0": "2.38", "2.43.0": "2.43", "2.44.1": "2.43"} {
		var s SystemInfo
		s.Major, s.Minor, s.Patch, s.Hotfix, _ = ParseVersion(v)
		if got := s.Family(); got != want {
			t.Errorf("SystemInfo{%s}.Family() = %q; want %q", v, got, want)
		}
	}
}

func TestParseServerDate(t *testing.T) {
	tests := map[string]time.Time{
		"2024-03-01T10:00:00.000":       time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC),
		"2024-03-01T10:00:00":           time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC),
		"2024-03-01T10:00:00.000+0200":  time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC),
		"2024-03-01T10:00:00Z":          time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC),
		"2024-03-01":                    time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC),
		"":                              {},
		"yesterday":                     {},
		"2024-03-01T10:00:00.000+02:00": time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC),
	}
	for in, want := range tests {
		if got := parseServerDate(in); !got.Equal(want) {
			t.Errorf("parseServerDate(%q) = %v; want %v", in, got, want)
		}
	}
}

func TestClient_statusErrors(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		ctype   string
		body    string
		token   bool
		wantErr string
		is      error
	}{
		{name: "401 basic", status: 401, body: `{"httpStatusCode":401,"status":"ERROR","message":"Unauthorized"}`,
			wantErr: "dhis2: system info: status 401: DHIS2 refused the username and password (dhis2.username, dhis2.password): Unauthorized", is: ErrUnauthorized},
		{name: "401 token", status: 401, token: true, body: `{"httpStatusCode":401,"status":"ERROR","message":"Unauthorized"}`,
			wantErr: "status 401: DHIS2 refused the API token", is: ErrUnauthorized},
		{name: "401 html", status: 401, ctype: "text/html", body: `<html>login</html>`,
			wantErr: "status 401: DHIS2 refused the username and password (dhis2.username, dhis2.password): an HTML page", is: ErrUnauthorized},
		// dhis2.url pointing at CHT's CouchDB: its error shape, not DHIS2's.
		{name: "401 couchdb", status: 401, body: `{"error":"unauthorized","reason":"Name or password is incorrect."}`,
			wantErr: "status 401: the server at dhis2.url answers like CouchDB (CHT's database), not DHIS2: set dhis2.url to the DHIS2 base URL", is: ErrUnauthorized},
		{name: "404 couchdb", status: 404, body: `{"error":"not_found","reason":"Database does not exist."}`,
			wantErr: "status 404: the server at dhis2.url answers like CouchDB"},
		{name: "302 to login", status: 302, body: ``, wantErr: "status 302: DHIS2 redirected"},
		{name: "403", status: 403, body: `{"httpStatusCode":403,"message":"Access denied"}`, wantErr: "status 403: the DHIS2 user lacks an authority or access: Access denied", is: ErrForbidden},
		{name: "413", status: 413, ctype: "text/html", body: `<html>413 Request Entity Too Large</html>`, wantErr: "lower dhis2.chunk_size"},
		{name: "500", status: 500, body: string(readTestdata(t, "webmessage-500.json")), wantErr: "status 500: Could not open JPA EntityManager"},
		{name: "200 html", status: 200, ctype: "text/html", body: `<html>login</html>`, wantErr: `dhis2: system info: status 200: an HTML page instead of a DHIS2 API answer (a login page?`},
		{name: "200 empty", status: 200, body: ``, wantErr: `dhis2: system info: decode answer: empty body`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.status == 302 {
					http.Redirect(w, r, "/dhis-web-commons/security/login.action", http.StatusFound)
					return
				}
				ct := tt.ctype
				if ct == "" {
					ct = "application/json"
				}
				w.Header().Set("Content-Type", ct)
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			t.Cleanup(srv.Close)
			cfg := testConfig(srv.URL)
			if tt.token {
				cfg.Token = config.Secret(testToken)
			}
			c, _ := newTestClient(t, cfg, nil)
			_, err := c.SystemInfo(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("SystemInfo() = %v; want an error containing %q", err, tt.wantErr)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
			if tt.status != 200 {
				var se *StatusError
				if !errors.As(err, &se) || se.StatusCode != tt.status || se.Op != "system info" {
					t.Errorf("error %#v; want *StatusError{Op: system info, StatusCode: %d}", err, tt.status)
				}
			}
		})
	}
}

func TestClient_unreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more: connection refused
	c, _ := newTestClient(t, testConfig(url+"/dhis"), nil)
	_, err := c.SystemInfo(context.Background())
	want := "dhis2: system info: " + url + "/dhis/api/system/info: unreachable: "
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("SystemInfo() = %v; want an error starting %q", err, want)
	}
	if strings.Contains(err.Error(), `Get "`) {
		t.Errorf("error %q quotes the *url.Error", err)
	}
}

// A lookup of many ids has a query of hundreds of characters: the error
// quotes scheme, host and path only.
func TestClient_unreachableShortURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, _ := newTestClient(t, testConfig(url), nil)
	ids := make([]string, 60)
	for i := range ids {
		ids[i] = fmt.Sprintf("ou%09d", i)
	}
	_, err := c.OrgUnits(context.Background(), ids)
	if err == nil || !strings.Contains(err.Error(), url+"/api/organisationUnits: unreachable") {
		t.Fatalf("OrgUnits() = %v; want the URL without its query", err)
	}
	if strings.Contains(err.Error(), "?") || strings.Contains(err.Error(), "ou000000001") || len(err.Error()) > 300 {
		t.Errorf("error quotes the query (%d characters): %v", len(err.Error()), err)
	}
}

func TestClient_timeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	cfg := testConfig(srv.URL)
	cfg.Timeout = 50 * time.Millisecond
	c, _ := newTestClient(t, cfg, &http.Client{})
	_, err := c.SystemInfo(context.Background())
	if err == nil || !strings.Contains(err.Error(), "timed out after 50ms") || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("SystemInfo() = %v; want timed out after 50ms, wrapping context.DeadlineExceeded", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	cfg.Timeout = time.Minute
	c, _ = newTestClient(t, cfg, &http.Client{})
	_, err = c.SystemInfo(ctx)
	if err == nil || !strings.Contains(err.Error(), ": the caller's deadline passed: ") || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("SystemInfo(deadline) = %v; want the caller's deadline passed", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	c, _ = newTestClient(t, cfg, &http.Client{})
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	_, err = c.SystemInfo(ctx)
	if err == nil || !strings.Contains(err.Error(), ": canceled: ") || !errors.Is(err, context.Canceled) {
		t.Errorf("SystemInfo(canceled) = %v; want canceled, wrapping context.Canceled", err)
	}
}

func TestExcerpt(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 10, "abc"},
		{"a\n  b\tc", 10, "a b c"},
		{"abcdef", 3, "abc…"},
		{"héllo", 2, "h…"},
		{"\xff\xfe", 10, "\uFFFD"},
	}
	for _, tt := range tests {
		if got := excerpt([]byte(tt.in), tt.n); got != tt.want {
			t.Errorf("excerpt(%q, %d) = %q; want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestPushError(t *testing.T) {
	cause := errors.New("dhis2: post data values: http://x/api/dataValueSets: unreachable: connection refused")
	e := &PushError{Chunk: 3, Chunks: 3, First: 10000, Last: 14999, Sent: 10000, Total: 15000, Err: cause}
	want := "dhis2: post data values: http://x/api/dataValueSets: unreachable: connection refused; push stopped at chunk 3 of 3 (values 10000-14999): 10000 of 15000 values in 2 chunks were sent and answered before, the outcome of chunk 3 is unknown"
	if e.Error() != want {
		t.Errorf("Error() =\n%s\nwant\n%s", e.Error(), want)
	}
	if !errors.Is(e, cause) {
		t.Error("PushError does not unwrap to its cause")
	}
}

func TestClient_answerCutOff(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer conn.Close()
		_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"version\":")
		_ = buf.Flush()
	}))
	t.Cleanup(srv.Close)
	c, _ := newTestClient(t, testConfig(srv.URL), nil)
	_, err := c.SystemInfo(context.Background())
	want := "dhis2: system info: " + srv.URL + "/api/system/info: answer cut off: status 200, reading the body: unexpected EOF"
	if err == nil || err.Error() != want {
		t.Errorf("SystemInfo() = %v;\nwant %s", err, want)
	}
}

func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"2.40.3", "2.41-SNAPSHOT", "2.39.1.1", "41.8.1", "v2.42.0", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		major, minor, patch, hotfix, err := ParseVersion(s)
		if err != nil {
			return
		}
		if major != 2 || minor < 0 || patch < 0 || hotfix < 0 {
			t.Errorf("ParseVersion(%q) = %d.%d.%d.%d", s, major, minor, patch, hotfix)
		}
	})
}
