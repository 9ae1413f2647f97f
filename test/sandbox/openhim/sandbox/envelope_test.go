package sandbox

import (
	"net/http"
	"strings"
	"testing"
)

const okOrch = `{"name":"CHT targets","request":{"host":"cht","port":"5984","path":"/medic/_all_docs","querystring":"limit=100",
  "method":"GET","headers":{"Accept":"application/json"},"body":"","timestamp":"2025-01-10T09:15:01.100Z"},
  "response":{"status":200,"headers":{"Content-Type":"application/json"},"body":"{\"rows\":[]}","timestamp":"2025-01-10T09:15:01.200Z"}}`

// envl builds an envelope: status ("" = none), response JSON, orchestrations JSON.
func envl(status, response, orchs string, extra ...string) string {
	parts := []string{`"x-mediator-urn":"urn:mediator:test"`}
	if status != "" {
		parts = append(parts, `"status":"`+status+`"`)
	}
	if response != "" {
		parts = append(parts, `"response":`+response)
	}
	if orchs != "" {
		parts = append(parts, `"orchestrations":`+orchs)
	}
	parts = append(parts, extra...)
	return "{" + strings.Join(parts, ",") + "}"
}

func res(status, body string) string {
	return `{"status":` + status + `,"headers":{"Content-Type":"application/json"},"body":` + body + `,"timestamp":"2025-01-10T09:15:02.000Z"}`
}

// TestEnvelope covers OpenHIM core src/middleware/router.js (parsing and hard failures) and OpenHIM core src/middleware/messageStore.js
// (status rules).
func TestEnvelope(t *testing.T) {
	const ise = "An internal server error occurred"
	tests := []struct {
		name        string
		ctype       string
		status      int // outer HTTP status of the mediator
		body        string
		wantStatus  int
		wantBody    string
		wantCT      string
		wantTx      string // transaction status
		wantStored  bool   // response, orchestrations, properties stored
		wantOrchs   int    // stored orchestrations (mediator's + core's)
		wantRetry   bool
		wantErrPart string // in transaction error message
	}{
		{name: "successful", ctype: "application/json+openhim", status: 200,
			body:       envl("Successful", res("200", `"{\"ok\":true}"`), "["+okOrch+"]", `"properties":{"dataSet":"a"}`),
			wantStatus: 200, wantBody: `{"ok":true}`, wantCT: "application/json; charset=utf-8", wantTx: "Successful", wantStored: true, wantOrchs: 2},
		{name: "content type with parameters", ctype: "application/json+openhim; charset=utf-8", status: 200,
			body: envl("", res("200", `"x"`), ""), wantStatus: 200, wantBody: "x", wantTx: "Successful", wantStored: true, wantOrchs: 1},
		{name: "outer status ignored", ctype: "application/json+openhim", status: 500,
			body: envl("", res("201", `"x"`), ""), wantStatus: 201, wantBody: "x", wantTx: "Successful", wantStored: true, wantOrchs: 1},
		{name: "numeric string status", ctype: "application/json+openhim", status: 200,
			body: envl("", res(`"202"`, `"x"`), ""), wantStatus: 202, wantBody: "x", wantTx: "Successful", wantStored: true, wantOrchs: 1},
		{name: "4xx computed Completed", ctype: "application/json+openhim", status: 400,
			body: envl("", res("400", `"bad"`), ""), wantStatus: 400, wantBody: "bad", wantTx: "Completed", wantStored: true, wantOrchs: 1},
		{name: "5xx computed Failed", ctype: "application/json+openhim", status: 502,
			body: envl("", res("502", `"down"`), ""), wantStatus: 502, wantBody: "down", wantTx: "Failed", wantStored: true, wantOrchs: 1},
		{name: "3xx computed Completed", ctype: "application/json+openhim", status: 200,
			body: envl("", res("304", `""`), ""), wantStatus: 304, wantBody: "", wantTx: "Completed", wantStored: true, wantOrchs: 1},
		{name: "mediator status overrides", ctype: "application/json+openhim", status: 200,
			body: envl("Completed with error(s)", res("200", `"x"`), ""), wantStatus: 200, wantBody: "x", wantTx: "Completed with error(s)", wantStored: true, wantOrchs: 1},
		{name: "unknown status written unchecked", ctype: "application/json+openhim", status: 200,
			body: envl("Done", res("200", `"x"`), ""), wantStatus: 200, wantBody: "x", wantTx: "Done", wantStored: true, wantOrchs: 1},
		{name: "error flags auto-retry", ctype: "application/json+openhim", status: 502,
			body:       envl("Failed", res("502", `"x"`), "", `"error":{"message":"DHIS2 unreachable","stack":"s"}`),
			wantStatus: 502, wantBody: "x", wantTx: "Failed", wantStored: true, wantOrchs: 1, wantRetry: true, wantErrPart: "DHIS2 unreachable"},
		{name: "plain JSON passes through", ctype: "application/json", status: 201, body: `{"a":1}`,
			wantStatus: 201, wantBody: `{"a":1}`, wantCT: "application/json; charset=utf-8", wantTx: "Successful", wantStored: true, wantOrchs: 1},
		{name: "plain 500 passes through", ctype: "text/plain", status: 500, body: "boom",
			wantStatus: 500, wantBody: "boom", wantTx: "Failed", wantStored: true, wantOrchs: 1},
		{name: "envelope not JSON", ctype: "application/json+openhim", status: 200, body: `{"response":`,
			wantStatus: 500, wantBody: ise, wantTx: "Failed", wantStored: true, wantOrchs: 1, wantRetry: true, wantErrPart: "Unexpected end of JSON input"},
		{name: "missing response", ctype: "application/json+openhim", status: 200, body: envl("Successful", "", "["+okOrch+"]"),
			wantStatus: 500, wantBody: ise, wantTx: "Successful", wantStored: true, wantOrchs: 2, wantRetry: true,
			wantErrPart: "Cannot read properties of undefined (reading 'status')"},
		{name: "non-numeric response status", ctype: "application/json+openhim", status: 200, body: envl("", res(`"OK"`, `"x"`), ""),
			wantStatus: 500, wantBody: ise, wantTx: "Failed", wantStored: true, wantOrchs: 1, wantRetry: true, wantErrPart: "status code must be a number"},
		{name: "non-string orchestration body", ctype: "application/json+openhim", status: 200,
			body:       envl("Successful", res("200", `"x"`), `[{"name":"o","request":{"body":{"a":1},"timestamp":"2025-01-10T09:15:01Z"}}]`),
			wantStatus: 500, wantBody: "Internal Server Error", wantTx: "Successful", wantStored: false},
		{name: "numeric orchestration response body", ctype: "application/json+openhim", status: 200,
			body:       envl("Successful", res("200", `"x"`), `[{"name":"o","request":{"timestamp":"2025-01-10T09:15:01Z"},"response":{"status":200,"body":5}}]`),
			wantStatus: 500, wantBody: "Internal Server Error", wantTx: "Successful", wantStored: false},
		{name: "orchestrations not an array", ctype: "application/json+openhim", status: 200,
			body:       envl("Successful", res("200", `"x"`), okOrch),
			wantStatus: 500, wantBody: "Internal Server Error", wantTx: "Successful", wantStored: false},
		{name: "orchestration without name", ctype: "application/json+openhim", status: 200,
			body:       envl("Successful", res("200", `"x"`), `[{"request":{"timestamp":"2025-01-10T09:15:01Z"}}]`),
			wantStatus: 200, wantBody: "x", wantTx: "Successful", wantStored: false},
		{name: "orchestration request without timestamp", ctype: "application/json+openhim", status: 200,
			body:       envl("Successful", res("200", `"x"`), `[{"name":"o","request":{"path":"/x"}}]`),
			wantStatus: 200, wantBody: "x", wantTx: "Successful", wantStored: false},
		{name: "orchestration without request is stored", ctype: "application/json+openhim", status: 200,
			body:       envl("Successful", res("200", `"x"`), `[{"name":"o"}]`),
			wantStatus: 200, wantBody: "x", wantTx: "Successful", wantStored: true, wantOrchs: 2},
		{name: "orchestration status not a number", ctype: "application/json+openhim", status: 200,
			body:       envl("Successful", res("200", `"x"`), `[{"name":"o","request":{"timestamp":"2025-01-10T09:15:01Z"},"response":{"status":"OK"}}]`),
			wantStatus: 200, wantBody: "x", wantTx: "Successful", wantStored: false},
		{name: "response body object sent as JSON", ctype: "application/json+openhim", status: 200,
			body: `{"response":{"status":200,"body":{"a":1}}}`, wantStatus: 200, wantBody: `{"a":1}`, wantCT: "application/json; charset=utf-8",
			wantTx: "Successful", wantStored: true, wantOrchs: 1},
		{name: "null body is 204", ctype: "application/json+openhim", status: 200,
			body: `{"response":{"status":200,"headers":{"Content-Type":"text/plain"},"body":null}}`, wantStatus: 204, wantBody: "",
			wantTx: "Successful", wantStored: true, wantOrchs: 1},
		{name: "no content type header", ctype: "application/json+openhim", status: 200,
			body: `{"response":{"status":200,"headers":{},"body":"plain"}}`, wantStatus: 200, wantBody: "plain", wantCT: "text/plain; charset=utf-8",
			wantTx: "Successful", wantStored: true, wantOrchs: 1},
		{name: "invalid header name", ctype: "application/json+openhim", status: 200,
			body: `{"response":{"status":200,"headers":{"Bad Name":"x"},"body":"plain"}}`, wantStatus: 500, wantBody: ise,
			wantTx: "Failed", wantStored: true, wantOrchs: 1, wantRetry: true, wantErrPart: "Header name must be a valid HTTP token"},
		{name: "invalid response timestamp", ctype: "application/json+openhim", status: 200,
			body: `{"response":{"status":200,"body":"x","timestamp":"yesterday"}}`, wantStatus: 200, wantBody: "x",
			wantTx: "Successful", wantStored: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			u := newUpstream(t, answer(tt.status, tt.ctype, tt.body))
			e.publicChannel("Export", "^/export$", u)
			r := call(t, "GET", e.router.URL+"/export", "")
			if r.status != tt.wantStatus || r.body != tt.wantBody {
				t.Errorf("client got %d %q; want %d %q", r.status, r.body, tt.wantStatus, tt.wantBody)
			}
			if tt.wantCT != "" && r.ctype() != tt.wantCT {
				t.Errorf("client Content-Type %q; want %q", r.ctype(), tt.wantCT)
			}
			tx := e.onlyTx()
			if tx.Status != tt.wantTx {
				t.Errorf("transaction status %q; want %q", tx.Status, tt.wantTx)
			}
			if stored := tx.Response != nil; stored != tt.wantStored {
				t.Errorf("response stored = %v; want %v", stored, tt.wantStored)
			}
			if tt.wantStored && len(tx.Orchestrations) != tt.wantOrchs {
				t.Errorf("stored %d orchestrations; want %d: %s", len(tx.Orchestrations), tt.wantOrchs, jsonString(tx.Orchestrations))
			}
			if !tt.wantStored && len(tx.Orchestrations) != 0 {
				t.Errorf("orchestrations stored although the update failed: %s", jsonString(tx.Orchestrations))
			}
			if tx.AutoRetry != tt.wantRetry {
				t.Errorf("autoRetry %v; want %v", tx.AutoRetry, tt.wantRetry)
			}
			switch {
			case tt.wantErrPart == "" && tx.Error != nil:
				t.Errorf("error %+v; want none", tx.Error)
			case tt.wantErrPart != "" && (tx.Error == nil || !strings.Contains(tx.Error.Message, tt.wantErrPart)):
				t.Errorf("error %+v; want it to contain %q", tx.Error, tt.wantErrPart)
			}
			if tt.wantStored && len(tx.Orchestrations) > 0 {
				core := tx.Orchestrations[len(tx.Orchestrations)-1]
				if core.Name != "Export route" || core.Response == nil || core.Response.Body != tt.body {
					t.Errorf("core's orchestration %s; want the route call with the raw answer", jsonString(core))
				}
			}
		})
	}
}

func TestEnvelope_storedDetails(t *testing.T) {
	e := newEnv(t)
	u := newUpstream(t, envelope(envl("Successful", res("200", `{"a":1}`), `[{"name":"o","request":{"queryString":"a=1","port":5984,"timestamp":"2025-01-10T09:15:01Z"}}]`)))
	e.publicChannel("Export", "^/export$", u)
	call(t, "GET", e.router.URL+"/export", "")
	tx := e.onlyTx()
	o := tx.Orchestrations[0]
	if o.Request.Querystring != "" || o.Request.Port != "5984" {
		t.Errorf("orchestration request %+v; want queryString dropped and port cast to a string", o.Request)
	}
	if tx.Response.Body != "[object Object]" {
		t.Errorf("stored body %q; want [object Object]", tx.Response.Body)
	}
}

func TestEnvelope_headers(t *testing.T) {
	e := newEnv(t)
	u := newUpstream(t, envelope(`{"response":{"status":201,"headers":{"Content-Type":"application/fhir+json","Content-Length":"999",
		"Content-Encoding":"br","X-Thing":["a","b"],"set-cookie":["sid=abc; Path=/; HttpOnly","lang=en"]},"body":"{}"}}`))
	e.publicChannel("Export", "^/export$", u)
	r := call(t, "GET", e.router.URL+"/export", "")
	if r.status != 201 || r.ctype() != "application/fhir+json" || r.header.Get("Content-Encoding") != "" ||
		r.header.Get("Content-Length") != "2" || strings.Join(r.header.Values("X-Thing"), ",") != "a,b" {
		t.Errorf("client got %d %v", r.status, r.header)
	}
	if got := strings.Join(r.header.Values("Set-Cookie"), " | "); got != "sid=abc; path=/ | lang=en" {
		t.Errorf("Set-Cookie = %q", got)
	}
	if r.header.Get("X-OpenHIM-TransactionID") != e.onlyTx().ID {
		t.Error("no X-OpenHIM-TransactionID on the client response")
	}

	// Without response.headers core adds no transaction id header.
	u2 := newUpstream(t, envelope(`{"response":{"status":200,"body":"x"}}`))
	e.publicChannel("NoHeaders", "^/noheaders$", u2)
	if r := call(t, "GET", e.router.URL+"/noheaders", ""); r.header.Get("X-OpenHIM-TransactionID") != "" {
		t.Error("X-OpenHIM-TransactionID added without response.headers")
	}

	// A location with a 3xx redirects (Koa replaces the body).
	u3 := newUpstream(t, envelope(`{"response":{"status":303,"headers":{"location":"/next"},"body":"ignored"}}`))
	e.publicChannel("Redirect", "^/redirect$", u3)
	req, _ := http.NewRequest("GET", e.router.URL+"/redirect", nil)
	req.Header.Set("Accept", "application/json")
	res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 303 || res.Header.Get("Location") != "/next" {
		t.Errorf("redirect = %d %v", res.StatusCode, res.Header)
	}
}

func TestBodyLimits(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxBodiesSize = 10 })
	u := newUpstream(t, envelope(envl("Successful", res("200", `"response-body"`), "")))
	e.publicChannel("Export", "^/export$", u)
	call(t, "POST", e.router.URL+"/export", "0123456789ABCDEF")
	tx := e.onlyTx()
	if tx.Request.Body != "0123456789"+truncateAppend || tx.CanRerun {
		t.Errorf("request body %q canRerun %v; want cut and not rerunnable", tx.Request.Body, tx.CanRerun)
	}
	if tx.Response.Body != truncateAppend {
		t.Errorf("response body %q; want only the marker", tx.Response.Body)
	}
	if u.last(t).Body != "0123456789ABCDEF" {
		t.Error("the route did not get the full body")
	}

	e2 := newEnv(t)
	u2 := newUpstream(t, answer(200, "text/plain", "secret response"))
	e2.publicChannel("NoBodies", "^/nobodies$", u2, func(c *Channel) { c.RequestBody, c.ResponseBody = ptr(false), ptr(false) })
	call(t, "POST", e2.router.URL+"/nobodies", "secret request")
	tx = e2.onlyTx()
	if tx.Request.Body != "" || tx.Response.Body != "" || tx.CanRerun {
		t.Errorf("stored bodies %q %q canRerun %v; want blank and not rerunnable", tx.Request.Body, tx.Response.Body, tx.CanRerun)
	}
	if u2.last(t).Body != "secret request" {
		t.Error("the route did not get the body")
	}
	if _, err := e2.s.Rerun(tx.ID); err == nil {
		t.Error("Rerun of a POST without a stored body succeeded")
	}
}
