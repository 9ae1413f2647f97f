package sandbox

import (
	"bytes"
	"compress/gzip"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestRouter_forwarding(t *testing.T) {
	tests := []struct {
		name       string
		route      func(*Route)
		method     string
		target     string // path and query sent by the client
		body       string
		hdr        []string
		wantPath   string
		wantQuery  string
		wantBody   string
		wantAuth   string // Authorization the route receives
		wantHeader map[string]string
	}{
		{name: "original path and query", method: "GET", target: "/export/extra?period=202401&dataSet=a%20b",
			wantPath: "/export/extra", wantQuery: "period=202401&dataSet=a%20b"},
		{name: "route path replaces the path", route: func(r *Route) { r.Path = "/fixed" }, method: "GET", target: "/export/x?q=1",
			wantPath: "/fixed", wantQuery: "q=1"},
		{name: "pathTransform", route: func(r *Route) { r.PathTransform = "s/export/api\\/v2/" }, method: "GET", target: "/export/export",
			wantPath: "/api/v2/export"},
		{name: "pathTransform global with group", route: func(r *Route) { r.PathTransform = "s/(e)x/$1X/g" }, method: "GET", target: "/export/ex",
			wantPath: "/eXport/eX"},
		{name: "POST body", method: "POST", target: "/export", body: `{"a":1}`, hdr: []string{"Content-Type", "application/json"},
			wantPath: "/export", wantBody: `{"a":1}`, wantHeader: map[string]string{"Content-Type": "application/json"}},
		{name: "PUT body", method: "PUT", target: "/export", body: "x", wantPath: "/export", wantBody: "x"},
		{name: "PATCH body", method: "PATCH", target: "/export", body: "x", wantPath: "/export", wantBody: "x"},
		{name: "DELETE body dropped", method: "DELETE", target: "/export", body: "x", wantPath: "/export", wantBody: ""},
		{name: "Authorization removed", method: "GET", target: "/export", hdr: []string{"Authorization", "Bearer client-token"},
			wantPath: "/export", wantAuth: ""},
		{name: "Authorization forwarded", route: func(r *Route) { r.ForwardAuthHeader = true }, method: "GET", target: "/export",
			hdr: []string{"Authorization", "Bearer client-token"}, wantPath: "/export", wantAuth: "Bearer client-token"},
		{name: "route credentials", route: func(r *Route) { r.Username, r.Password = "med", "pw" }, method: "GET", target: "/export",
			hdr: []string{"Authorization", "Bearer client-token"}, wantPath: "/export", wantAuth: basic("med", "pw")},
		{name: "forwarded client header wins over route credentials", route: func(r *Route) {
			r.Username, r.Password, r.ForwardAuthHeader = "med", "pw", true
		}, method: "GET", target: "/export", hdr: []string{"Authorization", "Bearer client-token"}, wantPath: "/export", wantAuth: "Bearer client-token"},
		{name: "client headers and proxy headers", method: "GET", target: "/export",
			hdr:      []string{"X-Custom", "1", "X-Forwarded-For", "10.0.0.1", "X-OpenHIM-TransactionID", "inbound", "Host", "him.example.org:5001"},
			wantPath: "/export", wantHeader: map[string]string{"X-Custom": "1", "X-Forwarded-For": "10.0.0.1, 127.0.0.1", "X-Forwarded-Host": "him.example.org:5001"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			u := newUpstream(t, answer(200, "text/plain", "ok"))
			e.publicChannel("Export", "^/export", u, func(c *Channel) {
				if tt.route != nil {
					tt.route(&c.Routes[0])
				}
			})
			r := call(t, tt.method, e.router.URL+tt.target, tt.body, tt.hdr...)
			if r.status != 200 {
				t.Fatalf("client got %d %q", r.status, r.body)
			}
			got := u.last(t)
			tx := e.onlyTx()
			if got.Method != tt.method || got.Path != tt.wantPath || got.RawQuery != tt.wantQuery || got.Body != tt.wantBody {
				t.Errorf("route got %s %s ?%s body %q; want %s %s ?%s body %q", got.Method, got.Path, got.RawQuery, got.Body,
					tt.method, tt.wantPath, tt.wantQuery, tt.wantBody)
			}
			if a := got.Header.Get("Authorization"); a != tt.wantAuth {
				t.Errorf("route Authorization = %q; want %q", a, tt.wantAuth)
			}
			if host, port := u.hostPort(); got.Host != net.JoinHostPort(host, strconv.Itoa(port)) {
				t.Errorf("route Host = %q; want the route's address (client Host removed)", got.Host)
			}
			if id := got.Header.Get("X-OpenHIM-TransactionID"); id != tx.ID || len(got.Header.Values("X-OpenHIM-TransactionID")) != 1 {
				t.Errorf("X-OpenHIM-TransactionID = %v; want exactly %s", got.Header.Values("X-OpenHIM-TransactionID"), tx.ID)
			}
			for k, v := range tt.wantHeader {
				if got.Header.Get(k) != v {
					t.Errorf("route header %s = %q; want %q", k, got.Header.Get(k), v)
				}
			}
			if tx.Request.Querystring != tt.wantQuery || tx.Request.Method != tt.method {
				t.Errorf("stored request %+v", tx.Request)
			}
		})
	}
}

func TestRouter_timeoutsAndConnectionErrors(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.RouterTimeout = 5 * time.Second })
	slow := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	})
	e.publicChannel("Slow", "^/slow$", slow, func(c *Channel) { c.Timeout = ptr(100) })
	start := time.Now()
	r := call(t, "GET", e.router.URL+"/slow", "")
	if r.status != 500 || r.body != "An internal server error occurred" || time.Since(start) > time.Second {
		t.Errorf("slow route: %d %q after %v; want 500 within the channel timeout", r.status, r.body, time.Since(start))
	}
	tx := e.onlyTx()
	if tx.Status != "Failed" || !tx.AutoRetry || tx.Error == nil || tx.Error.Message != "Request took longer than 100ms" {
		t.Errorf("stored %+v error %+v", tx, tx.Error)
	}
	if len(tx.Orchestrations) != 1 || tx.Orchestrations[0].Error == nil || tx.Orchestrations[0].Response != nil {
		t.Errorf("core orchestration %+v; want one with an error", tx.Orchestrations)
	}

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	_, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	if err := e.s.AddChannel(Channel{Name: "Down", URLPattern: "^/down$", Methods: []string{"GET"}, AuthType: "public",
		Routes: []Route{{Name: "r", Host: "127.0.0.1", Port: port, Primary: true}}}); err != nil {
		t.Fatal(err)
	}
	r = call(t, "GET", e.router.URL+"/down", "")
	txs := e.s.Transactions()
	last := txs[len(txs)-1]
	if r.status != 500 || last.Status != "Failed" || last.Error.Message != "connect ECONNREFUSED "+addr {
		t.Errorf("refused: %d, stored %s %+v", r.status, last.Status, last.Error)
	}
}

func TestRouter_matchingAndAuthorisation(t *testing.T) {
	e := newEnv(t)
	u := newUpstream(t, answer(200, "text/plain", "ok"))
	host, port := u.hostPort()
	route := []Route{{Name: "r", Host: host, Port: port, Primary: true}}
	if err := e.s.AddClient(ClientWithPassword("emr", "Clinic EMR", "emr-pass", "emr-role")); err != nil {
		t.Fatal(err)
	}
	if err := e.s.AddClient(ClientWithPassword("other", "Other", "other-pass", "other-role")); err != nil {
		t.Fatal(err)
	}
	chans := []Channel{
		{Name: "Private role", URLPattern: "^/role$", Methods: []string{"GET"}, Allow: []string{"emr-role"}, Routes: route},
		{Name: "Private id", URLPattern: "^/id$", Methods: []string{"GET"}, Allow: []string{"emr"}, Routes: route},
		{Name: "Public", URLPattern: "^/public$", Methods: []string{"GET"}, AuthType: "public", Routes: route},
		{Name: "No methods", URLPattern: "^/nomethods$", AuthType: "public", Routes: route},
		{Name: "Disabled", URLPattern: "^/disabled$", Methods: []string{"GET"}, AuthType: "public", Status: "disabled", Routes: route},
		{Name: "Whitelist", URLPattern: "^/white$", Methods: []string{"GET"}, AuthType: "public", Whitelist: []string{"10.9.9.9"}, Routes: route},
		{Name: "Unanchored", URLPattern: "sub", Methods: []string{"GET"}, AuthType: "public", Routes: route},
		{Name: "Low priority", URLPattern: "^/prio$", Methods: []string{"GET"}, AuthType: "public", Routes: route},
		{Name: "High priority", URLPattern: "^/prio$", Methods: []string{"GET"}, AuthType: "public", Priority: ptr(1), Routes: route},
		{Name: "JSON only", URLPattern: "^/ct$", Methods: []string{"POST"}, AuthType: "public", MatchContentTypes: []string{"application/json"}, Routes: route},
	}
	for _, c := range chans {
		if err := e.s.AddChannel(c); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, method, path string
		hdr                []string
		want               int
		wantChannel        string
	}{
		{"no channel", "GET", "/nothing", nil, 404, ""},
		{"method not listed", "POST", "/public", nil, 404, ""},
		{"empty methods match nothing", "GET", "/nomethods", nil, 404, ""},
		{"disabled", "GET", "/disabled", nil, 404, ""},
		{"private without credentials", "GET", "/role", nil, 401, ""},
		{"private wrong password", "GET", "/role", []string{"Authorization", basic("emr", "bad")}, 401, ""},
		{"private other role", "GET", "/role", []string{"Authorization", basic("other", "other-pass")}, 401, ""},
		{"private by role", "GET", "/role", []string{"Authorization", basic("emr", "emr-pass")}, 200, "Private role"},
		{"private by clientID", "GET", "/id", []string{"Authorization", basic("emr", "emr-pass")}, 200, "Private id"},
		{"public", "GET", "/public", nil, 200, "Public"},
		{"public with bad credentials", "GET", "/public", []string{"Authorization", basic("emr", "bad")}, 200, "Public"},
		{"whitelist", "GET", "/white", nil, 401, ""},
		{"unanchored pattern", "GET", "/a/sub/b", nil, 200, "Unanchored"},
		{"priority first", "GET", "/prio", nil, 200, "High priority"},
		{"content type matched", "POST", "/ct", []string{"Content-Type", "application/json; charset=utf-8"}, 200, "JSON only"},
		{"content type not matched", "POST", "/ct", []string{"Content-Type", "text/plain"}, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := len(e.s.Transactions())
			r := call(t, tt.method, e.router.URL+tt.path, "", tt.hdr...)
			if r.status != tt.want {
				t.Fatalf("%s %s = %d %q; want %d", tt.method, tt.path, r.status, r.body, tt.want)
			}
			txs := e.s.Transactions()
			switch tt.want {
			case 401:
				if r.body != "Unauthorized" || r.header.Get("WWW-Authenticate") != "Basic" {
					t.Errorf("401 = %q, WWW-Authenticate %q", r.body, r.header.Get("WWW-Authenticate"))
				}
			case 404:
				if r.body != "Not Found" {
					t.Errorf("404 body %q", r.body)
				}
			}
			if tt.wantChannel == "" {
				if len(txs) != n {
					t.Error("a transaction was recorded for a refused request")
				}
				return
			}
			tx := txs[len(txs)-1]
			var name string
			for _, c := range e.s.Channels() {
				if c.ID == tx.ChannelID {
					name = c.Name
				}
			}
			if name != tt.wantChannel {
				t.Errorf("routed through %q; want %q", name, tt.wantChannel)
			}
			if strings.HasPrefix(tt.name, "private") {
				client := u.last(t).Header.Get("X-OpenHIM-ClientID")
				if client != "emr" || tx.ClientID == "" {
					t.Errorf("X-OpenHIM-ClientID %q, stored clientID %q", client, tx.ClientID)
				}
			}
		})
	}
}

func TestAddChannel_apiChecks(t *testing.T) {
	e := newEnv(t)
	r := func(name string, primary bool) Route { return Route{Name: name, Host: "h", Port: 1, Primary: primary} }
	tests := []struct {
		ch   Channel
		want string
	}{
		{Channel{Name: "a", URLPattern: "^/a$", Routes: []Route{r("x", false)}}, "Channel must have a primary route"},
		{Channel{Name: "a", URLPattern: "^/a$", Routes: []Route{r("x", true), r("y", true)}}, "Channel cannot have a multiple primary routes"},
		{Channel{Name: "a", URLPattern: "^/a$", Routes: []Route{{Name: "x", Primary: true, Path: "/p", PathTransform: "s/a/b"}}},
			"Channel cannot have both path and pathTransform. pathTransform must be of the form s/from/to[/g]"},
		{Channel{Name: "a", Routes: []Route{r("x", true)}}, "Could not add channel via the API: ValidationError: Channel validation failed: urlPattern: Path `urlPattern` is required."},
		{Channel{Name: "a", URLPattern: "^/a$", Methods: []string{"GET", "GET"}, Routes: []Route{r("x", true)}},
			"Channel methods can't be repeated. Repeated methods are GET"},
		{Channel{Name: "a", URLPattern: "^/a$", Routes: []Route{r("x", true)}}, ""},
		{Channel{Name: "a", URLPattern: "^/b$", Routes: []Route{r("x", true)}}, `E11000 duplicate key error collection: openhim.channels index: name_1 dup key: { name: "a" }`},
	}
	for _, tt := range tests {
		err := e.s.AddChannel(tt.ch)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("AddChannel(%+v) = %v; want nil", tt.ch, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("AddChannel(%+v) = %v; want %q", tt.ch, err, tt.want)
		}
	}
	if err := e.s.AddClient(Client{ClientID: "c"}); err == nil || !strings.Contains(err.Error(), "Client validation failed: name: Path `name` is required.") {
		t.Errorf("AddClient without name = %v", err)
	}
}

func TestRouter_nonPrimaryRoutes(t *testing.T) {
	e := newEnv(t)
	primary := newUpstream(t, answer(200, "text/plain", "primary"))
	failing := newUpstream(t, answer(503, "text/plain", "unavailable"))
	after := newUpstream(t, answer(200, "text/plain", "after"))
	skipped := newUpstream(t, answer(200, "text/plain", "skipped"))
	ph, pp := primary.hostPort()
	fh, fp := failing.hostPort()
	ah, ap := after.hostPort()
	sh, sp := skipped.hostPort()
	if err := e.s.AddChannel(Channel{Name: "Fan", URLPattern: "^/fan$", Methods: []string{"POST"}, AuthType: "public",
		Routes: []Route{
			{Name: "primary", Host: ph, Port: pp, Primary: true},
			{Name: "audit", Host: fh, Port: fp, Path: "/copy"},
			{Name: "after", Host: ah, Port: ap, WaitPrimaryResponse: true, StatusCodesCheck: "404,2**"},
			{Name: "skipped", Host: sh, Port: sp, WaitPrimaryResponse: true, StatusCodesCheck: "3**,200"}, // the wildcard decides at once,
			{Name: "off", Host: sh, Port: sp, Status: "disabled"},
		}}); err != nil {
		t.Fatal(err)
	}
	r := call(t, "POST", e.router.URL+"/fan", "body")
	if r.status != 200 || r.body != "primary" {
		t.Fatalf("client got %d %q", r.status, r.body)
	}
	tx := e.onlyTx()
	if tx.Status != "Completed with error(s)" {
		t.Errorf("status = %q; want Completed with error(s)", tx.Status)
	}
	if len(tx.Routes) != 2 || len(skipped.requests()) != 0 || failing.last(t).Path != "/copy" || failing.last(t).Body != "body" {
		t.Errorf("routes %+v; skipped got %d requests", tx.Routes, len(skipped.requests()))
	}
	for _, rr := range tx.Routes {
		if rr.Request == nil || rr.Response == nil || (rr.Name == "audit" && (rr.Response.Status != 503 || rr.Response.Body != "unavailable")) {
			t.Errorf("route result %+v", rr)
		}
	}
}

func TestRouter_gzipAndPassThrough(t *testing.T) {
	e := newEnv(t)
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write([]byte(`{"plain":true}`))
		zw.Close()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("X-Upstream", "yes")
		w.WriteHeader(404)
		w.Write(b.Bytes())
	})
	e.publicChannel("Zip", "^/zip$", u)
	r := call(t, "GET", e.router.URL+"/zip", "", "Accept-Encoding", "gzip")
	if r.status != 404 || r.body != `{"plain":true}` || r.header.Get("Content-Encoding") != "" ||
		r.ctype() != "application/json; charset=utf-8" || r.header.Get("X-Upstream") != "yes" {
		t.Errorf("client got %d %q %v", r.status, r.body, r.header)
	}
	if got := u.last(t).Header.Get("Accept-Encoding"); got != "gzip" {
		t.Errorf("route Accept-Encoding = %q; want the client's", got)
	}
	tx := e.onlyTx()
	if tx.Status != "Completed" || tx.Response.Body != `{"plain":true}` || tx.Response.Headers["x-openhim-transactionid"] != tx.ID {
		t.Errorf("stored %s %+v", tx.Status, tx.Response)
	}
}

func TestRouter_securedRoute(t *testing.T) {
	u := httptest.NewUnstartedServer(answer(200, "text/plain", "over tls"))
	u.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted case fails the handshake
	u.StartTLS()
	t.Cleanup(u.Close)
	pool := x509.NewCertPool()
	pool.AddCert(u.Certificate())
	host, p, _ := net.SplitHostPort(u.Listener.Addr().String())
	port, _ := strconv.Atoi(p)
	for _, tc := range []struct {
		name string
		tls  *tls.Config
		want int
	}{
		{"trusted", &tls.Config{RootCAs: pool}, 200},
		{"untrusted", nil, 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(o *Options) { o.RouteTLS = tc.tls })
			if err := e.s.AddChannel(Channel{Name: "TLS", URLPattern: "^/tls$", Methods: []string{"GET"}, AuthType: "public",
				Routes: []Route{{Name: "r", Host: host, Port: port, Secured: true, Primary: true}}}); err != nil {
				t.Fatal(err)
			}
			if r := call(t, "GET", e.router.URL+"/tls", ""); r.status != tc.want {
				t.Errorf("secured route = %d %q; want %d", r.status, r.body, tc.want)
			}
		})
	}
}
