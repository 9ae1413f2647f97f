package sandbox

import (
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func sha512hex(s string) string {
	sum := sha512.Sum512([]byte(s))
	return hex.EncodeToString(sum[:])
}

// tokenHeaders builds the legacy token headers (OpenHIM core src/api/authentication.js) from GET
// /authenticate/:email.
func tokenHeaders(t *testing.T, e *env, email, password string, ts time.Time) []string {
	t.Helper()
	r := call(t, "GET", e.api.URL+"/authenticate/"+email, "")
	if r.status != 200 {
		t.Fatalf("GET /authenticate/%s = %d %q", email, r.status, r.body)
	}
	got := mustJSON(t, r.body).(map[string]any)
	salt := got["salt"].(string)
	passhash := sha512hex(salt + password)
	tsStr := ts.UTC().Format("2006-01-02T15:04:05.000Z")
	const reqSalt = "any-client-salt"
	return []string{"auth-username", email, "auth-ts", tsStr, "auth-salt", reqSalt,
		"auth-token", sha512hex(passhash + reqSalt + tsStr)}
}

func TestAPIAuth(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.TokenAuth = true })
	ok := tokenHeaders(t, e, rootUser, rootPass, testNow)
	upper := tokenHeaders(t, e, "ROOT@openhim.org", rootPass, testNow)
	stale := tokenHeaders(t, e, rootUser, rootPass, testNow.Add(-11*time.Second))
	future := tokenHeaders(t, e, rootUser, rootPass, testNow.Add(9*time.Second))
	wrongPass := tokenHeaders(t, e, rootUser, "nope", testNow)
	tests := []struct {
		name string
		hdr  []string
		want int
	}{
		{"no credentials", nil, 401},
		{"basic", []string{"Authorization", basic(rootUser, rootPass)}, 200},
		{"basic wrong password", []string{"Authorization", basic(rootUser, "nope")}, 401},
		{"basic unknown user", []string{"Authorization", basic("x@y.z", rootPass)}, 401},
		{"basic email case (exact match)", []string{"Authorization", basic("ROOT@openhim.org", rootPass)}, 401},
		{"bearer is not basic", []string{"Authorization", "Bearer abc"}, 401},
		{"token", ok, 200},
		{"token email case-insensitive", upper, 200},
		{"token 11 s old", stale, 401},
		{"token 9 s ahead", future, 200},
		{"token wrong password", wrongPass, 401},
		{"token incomplete", ok[:6], 401},
		{"token headers win over basic", append(append([]string{}, wrongPass...), "Authorization", basic(rootUser, rootPass)), 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, "GET", e.api.URL+"/mediators", "", tt.hdr...)
			if r.status != tt.want {
				t.Errorf("GET /mediators = %d %q; want %d", r.status, r.body, tt.want)
			}
			if tt.want == 401 && (r.body != "Unauthorized" || r.ctype() != "text/plain; charset=utf-8") {
				t.Errorf("401 body %q %q; want plain Unauthorized", r.body, r.ctype())
			}
		})
	}

	if r := call(t, "GET", e.api.URL+"/authenticate/nobody@x.org", ""); r.status != 404 {
		t.Errorf("GET /authenticate unknown = %d; want 404", r.status)
	}
	if r := call(t, "GET", e.api.URL+"/no-such-route", "", "Authorization", basic(rootUser, rootPass)); r.status != 404 || r.body != "Not Found" {
		t.Errorf("unknown route = %d %q", r.status, r.body)
	}
	if r := call(t, "GET", e.api.URL+"/no-such-route", ""); r.status != 401 {
		t.Errorf("unknown route unauthenticated = %d; want 401", r.status)
	}
}

func TestAPIAuth_tokenDisabled(t *testing.T) {
	e := newEnv(t) // basic only
	tok := tokenHeaders(t, e, rootUser, rootPass, testNow)
	if r := call(t, "GET", e.api.URL+"/mediators", "", tok...); r.status != 401 {
		t.Errorf("token without TokenAuth = %d; want 401", r.status)
	}
	hdr := append(tok, "Authorization", basic(rootUser, rootPass))
	if r := call(t, "GET", e.api.URL+"/mediators", "", hdr...); r.status != 200 {
		t.Errorf("auth-* headers plus basic without TokenAuth = %d; want 200 (headers ignored)", r.status)
	}
}

func TestAPIAuth_customRootAndNonAdmin(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.RootUser, o.RootPassword = "admin@example.org", "s3cret" })
	if r := call(t, "GET", e.api.URL+"/mediators", "", "Authorization", basic("admin@example.org", "s3cret")); r.status != 200 {
		t.Errorf("custom root = %d", r.status)
	}
	salt := "abcdef"
	res, err := e.s.ImportMetadata([]byte(`{"Users":[{"firstname":"Op","surname":"Erator","email":"op@example.org","groups":["operator"]}],
		"Passports":[{"protocol":"token","email":"op@example.org","passwordAlgorithm":"sha512","passwordSalt":"` + salt +
		`","passwordHash":"` + sha512hex(salt+"op-pass") + `"}]}`))
	if err != nil || len(res) != 2 || res[0].Status != "Inserted" || res[1].Status != "Inserted" {
		t.Fatalf("import users: %v %+v", err, res)
	}
	r := call(t, "POST", e.api.URL+"/mediators", mediatorDoc("1.0.0"), "Content-Type", "application/json", "Authorization", basic("op@example.org", "op-pass"))
	if r.status != 403 || r.body != "User op@example.org is not an admin, API access to addMediator denied." {
		t.Errorf("non-admin register = %d %q", r.status, r.body)
	}
	r = call(t, "POST", e.api.URL+hbPath, `{"uptime":1}`, "Content-Type", "application/json", "Authorization", basic("op@example.org", "op-pass"))
	if r.status != 403 || r.body != "User op@example.org is not an admin, API access to removeMediator denied." {
		t.Errorf("non-admin heartbeat = %d %q", r.status, r.body)
	}
}

func TestSetDown(t *testing.T) {
	e := newEnv(t)
	e.s.SetDown(true)
	req, _ := http.NewRequest("POST", e.api.URL+"/mediators", strings.NewReader(mediatorDoc("1.0.0")))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(rootUser, rootPass)
	res, err := http.DefaultClient.Do(req)
	if err == nil {
		res.Body.Close()
		t.Fatalf("POST while down = %d; want a connection error", res.StatusCode)
	}
	if !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "EOF") && !strings.Contains(err.Error(), "reset") {
		t.Logf("error while down: %v", err)
	}
	if _, err := http.Get(e.router.URL + "/x"); err == nil {
		t.Error("router answered while down")
	}
	e.s.SetDown(false)
	e.register(mediatorDoc("1.0.0"))

	reqs := e.s.Requests()
	if len(reqs) != 2 || reqs[0].Status != 0 || reqs[1].Status != 201 {
		t.Fatalf("Requests() = %+v", reqs)
	}
	if got := reqs[1].Header["Authorization"]; len(got) != 1 || got[0] != "Basic <redacted>" {
		t.Errorf("recorded Authorization = %v; want redacted", got)
	}
	if !strings.Contains(string(reqs[1].Body), "urn:mediator:test") || reqs[1].Path != "/mediators" || reqs[1].Method != "POST" {
		t.Errorf("recorded request %+v", reqs[1])
	}
}
