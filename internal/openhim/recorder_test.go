package openhim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/redact"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Known secrets: a test fails if any of them shows in the orchestrations.
var knownSecrets = []string{"cht-Pa55word", "d2pat_Tok3n&x=\"q\"", "dhis2/pass word"}

// knownCredentials are knownSecrets as configured credentials.
func knownCredentials() []redact.Credential {
	out := make([]redact.Credential, len(knownSecrets))
	for i, s := range knownSecrets {
		out[i] = redact.Credential{Secret: s}
	}
	return out
}

func recordingClient(upstream string, limit int) *http.Client {
	return &http.Client{Transport: NewTransport(nil, upstream, limit, knownCredentials()...)}
}

// assertNoSecret fails if a known secret, in any encoding, is in the JSON
// core would get.
func assertNoSecret(t *testing.T, orchs []Orchestration) {
	t.Helper()
	out, err := json.Marshal(orchs)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range knownSecrets {
		quoted, _ := json.Marshal(s)
		for _, form := range []string{s, url.QueryEscape(s), url.PathEscape(s), strings.Trim(string(quoted), `"`)} {
			if bytes.Contains(out, []byte(form)) {
				t.Errorf("orchestrations contain secret %q (as %q):\n%s", s, form, out)
			}
		}
	}
}

func TestTransport_records(t *testing.T) {
	var gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Add("Set-Cookie", "AuthSession=abc")
		w.Header().Set("X-Echo", "token "+knownSecrets[1])
		w.WriteHeader(http.StatusConflict)
		_, _ = io.WriteString(w, `{"status":"WARNING","echo":"`+knownSecrets[0]+`"}`)
	}))
	t.Cleanup(srv.Close)
	rec := NewRecorder()
	ctx := WithRecorder(context.Background(), rec)
	reqBody := `{"dataValues":[],"password":"` + knownSecrets[2] + `"}`
	q := "importStrategy=CREATE_AND_UPDATE&password=" + url.QueryEscape(knownSecrets[0]) + "&api_key=abc&startkey=%22x%22&Token=t&dryRun=true"
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/api/dataValueSets?"+q, strings.NewReader(reqBody))
	req.SetBasicAuth("admin", knownSecrets[2])
	req.Header.Set("Cookie", "SESSION=1")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Api-Key", "k")
	resp, err := recordingClient("DHIS2", 1024).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if gotBody != reqBody || !strings.Contains(string(body), knownSecrets[0]) {
		t.Errorf("recording changed the bodies: server got %q, client got %q", gotBody, body)
	}

	orchs := rec.Orchestrations()
	if len(orchs) != 1 {
		t.Fatalf("%d orchestrations; want 1", len(orchs))
	}
	o := orchs[0]
	u, _ := url.Parse(srv.URL)
	if o.Name != "DHIS2: POST /api/dataValueSets" || o.Group != "" {
		t.Errorf("name %q group %q", o.Name, o.Group)
	}
	rq := o.Request
	if rq.Host != u.Hostname() || rq.Port != u.Port() || rq.Path != "/api/dataValueSets" || rq.Method != "POST" || rq.Timestamp.IsZero() {
		t.Errorf("request = %+v", rq)
	}
	if want := "importStrategy=CREATE_AND_UPDATE&password=<redacted>&api_key=<redacted>&startkey=%22x%22&Token=<redacted>&dryRun=true"; rq.QueryString != want {
		t.Errorf("querystring = %q; want %q", rq.QueryString, want)
	}
	for h, want := range map[string]string{"Authorization": "<redacted>", "Cookie": "<redacted>", "X-Api-Key": "<redacted>", "Content-Type": "application/json"} {
		if rq.Headers[h] != want {
			t.Errorf("request header %s = %q; want %q", h, rq.Headers[h], want)
		}
	}
	if rq.Body != `{"dataValues":[],"password":"<redacted>"}` {
		t.Errorf("request body = %q", rq.Body)
	}
	if o.Response == nil || o.Response.Status != 409 || o.Response.Timestamp.Before(rq.Timestamp) {
		t.Fatalf("response = %+v", o.Response)
	}
	if o.Response.Headers["Set-Cookie"] != "<redacted>" || o.Response.Headers["X-Echo"] != "token <redacted>" || o.Response.Headers["Content-Type"] != "application/json" {
		t.Errorf("response headers = %v", o.Response.Headers)
	}
	if o.Response.Body != `{"status":"WARNING","echo":"<redacted>"}` {
		t.Errorf("response body = %q", o.Response.Body)
	}
	assertNoSecret(t, orchs)
}

func TestTransport_withoutRecorder(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	t.Cleanup(srv.Close)
	tr := NewTransport(nil, "CHT", 10)
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := resp.Body.(*teeBody); ok {
		t.Errorf("a call without a recorder was teed")
	}
	resp.Body.Close()
	if RecorderFrom(context.Background()) != nil {
		t.Errorf("RecorderFrom(empty context) != nil")
	}
}

func TestTransport_cutsBodies(t *testing.T) {
	long := strings.Repeat("é", 40) // 80 bytes
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, long)
	}))
	t.Cleanup(srv.Close)
	rec := NewRecorder()
	ctx := WithRecorder(context.Background(), rec)
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/x", strings.NewReader(strings.Repeat("a", 100)))
	resp, err := recordingClient("CHT", 11).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	o := rec.Orchestrations()[0]
	if want := "aaaaaaaaaaa…[cut 89 bytes]"; o.Request.Body != want {
		t.Errorf("request body = %q; want %q", o.Request.Body, want)
	}
	// 11 bytes end inside a 2-byte rune: cut before it.
	if want := "ééééé…[cut 70 bytes]"; o.Response.Body != want {
		t.Errorf("response body = %q; want %q", o.Response.Body, want)
	}
}

// A request body without GetBody is teed as the transport sends it.
func TestTransport_requestBodyWithoutGetBody(t *testing.T) {
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		w.WriteHeader(204)
	}))
	t.Cleanup(srv.Close)
	rec := NewRecorder()
	body := "streamed " + knownSecrets[0] + " body"
	req, _ := http.NewRequestWithContext(WithRecorder(context.Background(), rec), "PUT", srv.URL+"/db/doc", io.NopCloser(strings.NewReader(body)))
	if req.GetBody != nil {
		t.Fatal("the test needs a body without GetBody")
	}
	resp, err := recordingClient("CHT", 1000).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if string(got) != body {
		t.Errorf("server got %q; want %q", got, body)
	}
	o := rec.Orchestrations()[0]
	if o.Request.Body != "streamed <redacted> body" {
		t.Errorf("request body = %q", o.Request.Body)
	}
	if o.Response.Status != 204 || o.Response.Body != "" {
		t.Errorf("response = %+v", o.Response)
	}
	assertNoSecret(t, rec.Orchestrations())
}

// A secret across the cut is still redacted, not half shown.
func TestTransport_secretAcrossTheCut(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "0123456789"+knownSecrets[0]+strings.Repeat("z", 50))
	}))
	t.Cleanup(srv.Close)
	rec := NewRecorder()
	req, _ := http.NewRequestWithContext(WithRecorder(context.Background(), rec), "GET", srv.URL, nil)
	resp, err := recordingClient("CHT", 14).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	got := rec.Orchestrations()[0].Response.Body
	if !strings.HasPrefix(got, "0123456789<red") || strings.Contains(got, "cht-") {
		t.Errorf("response body = %q; want the secret redacted before the cut", got)
	}
}

// A huge streamed response reaches the caller whole while the recorder keeps
// only the limit.
func TestTransport_streamingNotBuffered(t *testing.T) {
	const size = 8 << 20
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("x"), 32<<10)
		for sent := 0; sent < size; sent += len(chunk) {
			_, _ = w.Write(chunk)
		}
	}))
	t.Cleanup(srv.Close)
	rec := NewRecorder()
	req, _ := http.NewRequestWithContext(WithRecorder(context.Background(), rec), "GET", srv.URL+"/medic/_all_docs?limit=1000", nil)
	resp, err := recordingClient("CHT", 4096).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != size {
		t.Fatalf("caller read %d bytes, %v; want %d", n, err, size)
	}
	rec.mu.Lock()
	c := rec.calls[0]
	rec.mu.Unlock()
	c.mu.Lock()
	kept, total := cap(c.resp.buf), c.resp.total
	c.mu.Unlock()
	if kept > 4096+64 || total != size {
		t.Errorf("recorder kept %d bytes of %d; want at most the limit", kept, total)
	}
	if got := rec.Orchestrations()[0].Response.Body; !strings.HasSuffix(got, fmt.Sprintf("…[cut %d bytes]", size-4096)) || len(got) > 4200 {
		t.Errorf("response body ends %q", got[max(0, len(got)-40):])
	}
}

// A caller that closes the body before its end gets it recorded as read.
func TestTransport_closeWithoutEOF(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("y", 100000))
	}))
	t.Cleanup(srv.Close)
	rec := NewRecorder()
	req, _ := http.NewRequestWithContext(WithRecorder(context.Background(), rec), "GET", srv.URL, nil)
	resp, err := recordingClient("CHT", 1000).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	if err := resp.Body.Close(); err != nil {
		t.Fatal(err)
	}
	if got := rec.Orchestrations()[0].Response.Body; got != "yyyyyyyyyy…[not read to the end]" {
		t.Errorf("response body = %q", got)
	}
	// A body nobody read or closed yet shows as unread too.
	req, _ = http.NewRequestWithContext(WithRecorder(context.Background(), rec), "HEAD", srv.URL, nil)
	resp, err = recordingClient("CHT", 1000).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if got := rec.Orchestrations()[1].Response.Body; got != "" {
		t.Errorf("HEAD response body = %q; want empty", got)
	}
}

func TestTransport_transportError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	addr := srv.URL
	srv.Close() // nothing listens any more
	rec := NewRecorder()
	req, _ := http.NewRequestWithContext(WithRecorder(context.Background(), rec), "GET", addr+"/medic/_all_docs?password="+url.QueryEscape(knownSecrets[0]), nil)
	if _, err := recordingClient("CHT", 100).Do(req); err == nil {
		t.Fatal("Do() to a closed server = nil error")
	}
	o := rec.Orchestrations()[0]
	if o.Response != nil || o.Error == nil || o.Error.Message == "" || o.Request.Timestamp.IsZero() {
		t.Errorf("orchestration = %+v; want an error, no response, a request timestamp", o)
	}
	assertNoSecret(t, rec.Orchestrations())
}

func TestScrubber_errorMessage(t *testing.T) {
	sc := newScrubber(knownCredentials())
	err := &url.Error{Op: "Get", URL: "http://u:" + knownSecrets[0] + "@cht/medic?token=abc&keys=1", Err: errors.New("refused " + knownSecrets[2])}
	got := sc.errorMessage(err)
	if want := `Get "http://cht/medic?token=<redacted>&keys=1": refused <redacted>`; got != want {
		t.Errorf("errorMessage() = %q; want %q", got, want)
	}
}

func TestSensitiveName(t *testing.T) {
	for name, want := range map[string]bool{
		"password": true, "PASSWORD": true, "passwd": true, "new_password": true, "token": true, "access_token": true,
		"api_key": true, "apikey": true, "key": true, "secret": true, "client_secret": true, "auth": true,
		"auth-token": true, "auth-ts": true, "X-Api-Key": true, "Authorization": true, "session": true,
		"startkey": false, "endkey": false, "keys": false, "startkey_docid": false, "limit": false,
		"include_docs": false, "dataSet": false, "period": false, "orgUnit": false, "author": false,
	} {
		if got := sensitiveName(name); got != want {
			t.Errorf("sensitiveName(%q) = %v; want %v", name, got, want)
		}
	}
}

// Paged reads: repeated names are grouped; calls are in call order.
func TestRecorder_groups(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "{}") }))
	t.Cleanup(srv.Close)
	rec := NewRecorder()
	ctx := WithRecorder(context.Background(), rec)
	hc := recordingClient("CHT", 100)
	for _, p := range []string{"/medic/_design/medic-client/_view/x", "/medic/_all_docs?startkey=a", "/medic/_all_docs?startkey=b", "/medic/_all_docs?startkey=c"} {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+p, nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	orchs := rec.Orchestrations()
	var got []string
	for _, o := range orchs {
		got = append(got, o.Name+"|"+o.Group+"|"+o.Request.QueryString)
	}
	want := []string{
		"CHT: GET /medic/_design/medic-client/_view/x||",
		"CHT: GET /medic/_all_docs|CHT: GET /medic/_all_docs|startkey=a",
		"CHT: GET /medic/_all_docs|CHT: GET /medic/_all_docs|startkey=b",
		"CHT: GET /medic/_all_docs|CHT: GET /medic/_all_docs|startkey=c",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("orchestrations:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Owner batches run concurrently: every call is recorded once, safely.
func TestRecorder_concurrent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	rec := NewRecorder()
	ctx := WithRecorder(context.Background(), rec)
	hc := recordingClient("CHT", 64)
	var wg sync.WaitGroup
	const n = 40
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/medic/_all_docs", strings.NewReader(fmt.Sprintf(`{"keys":["%d"]}`, i)))
			resp, err := hc.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
		})
		if i%10 == 0 {
			_ = rec.Orchestrations() // read while others write
		}
	}
	wg.Wait()
	orchs := rec.Orchestrations()
	if len(orchs) != n {
		t.Fatalf("%d orchestrations; want %d", len(orchs), n)
	}
	seen := map[string]bool{}
	for _, o := range orchs {
		if o.Request.Body != o.Response.Body || o.Group != "CHT: POST /medic/_all_docs" {
			t.Errorf("orchestration %+v", o)
		}
		seen[o.Request.Body] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct bodies; want %d", len(seen), n)
	}
}

func TestRecorder_bodyBudget(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("b", 100))
	}))
	t.Cleanup(srv.Close)
	rec := &Recorder{BodyBudget: 250}
	ctx := WithRecorder(context.Background(), rec)
	for range 4 {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
		resp, err := recordingClient("DHIS2", 1000).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	var got []string
	for _, o := range rec.Orchestrations() {
		got = append(got, o.Response.Body)
	}
	want := []string{strings.Repeat("b", 100), strings.Repeat("b", 100), strings.Repeat("b", 50) + "…[cut 50 bytes]", "…[cut 100 bytes]"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("bodies = %q; want %q", got, want)
	}
}

// What core needs (OpenHIM core src/middleware/router.js): every orchestration has a name and a
// request with a timestamp, bodies are strings, the field is "querystring",
// the port a string.
func TestOrchestration_JSONShape(t *testing.T) {
	o := Orchestration{Name: "CHT: GET /", Request: OrchestrationRequest{Port: "443", Timestamp: time.Date(2025, 1, 10, 9, 15, 2, 481e6, time.UTC)}}
	out, _ := json.Marshal(o)
	var m map[string]any
	_ = json.Unmarshal(out, &m)
	req := m["request"].(map[string]any)
	for _, k := range []string{"host", "port", "path", "querystring", "method", "headers", "body", "timestamp"} {
		if _, ok := req[k]; !ok {
			t.Errorf("request has no %q: %s", k, out)
		}
	}
	if req["port"] != "443" || req["body"] != "" || req["timestamp"] != "2025-01-10T09:15:02.481Z" {
		t.Errorf("request = %s", out)
	}
	if _, ok := m["response"]; ok {
		t.Errorf("an orchestration without a response has one: %s", out)
	}
}

// A one-character password must not mangle the audit trail: the path and
// headers are recorded as they were, while the basic pair it forms is still
// redacted wherever a server echoes it.
func TestTransport_shortSecretKeepsTheAuditTrail(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"echo":"`+r.Header.Get("Authorization")+`"}`)
	}))
	t.Cleanup(srv.Close)
	hc := &http.Client{Transport: NewTransport(nil, "CHT", 4096, redact.Credential{Username: "medic", Secret: "a"})}
	rec := NewRecorder()
	req, _ := http.NewRequestWithContext(WithRecorder(context.Background(), rec), http.MethodGet, srv.URL+"/api/v1/settings", nil)
	req.SetBasicAuth("medic", "a")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	o := rec.Orchestrations()[0]
	if o.Request.Path != "/api/v1/settings" || o.Response.Headers["Content-Type"] != "application/json" {
		t.Errorf("recorded path %q, content type %q; want them untouched", o.Request.Path, o.Response.Headers["Content-Type"])
	}
	if strings.Contains(o.Response.Body, "bWVkaWM6YQ") || !strings.Contains(o.Response.Body, "Basic <redacted>") {
		t.Errorf("echoed credentials recorded: %s", o.Response.Body)
	}
}
