package sandbox

import (
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"
)

func TestSemver(t *testing.T) {
	valid := []string{"1.2.3", "v1.2.3", " 1.2.3 ", "0.0.0", "1.2.3-alpha.1", "1.2.3+build", "1.2.3-0.a-b+x.y"}
	invalid := []string{"", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.3-01", "=1.2.3", "a.b.c", "1.2.3-", "9007199254740992.0.0"}
	for _, v := range valid {
		if _, ok := parseSemver(v); !ok {
			t.Errorf("parseSemver(%q) invalid; want valid", v)
		}
	}
	for _, v := range invalid {
		if _, ok := parseSemver(v); ok {
			t.Errorf("parseSemver(%q) valid; want invalid", v)
		}
	}
	gt := [][2]string{
		{"1.2.4", "1.2.3"}, {"1.10.0", "1.9.9"}, {"1.0.0", "1.0.0-rc.1"}, {"1.0.0-rc.2", "1.0.0-rc.1"},
		{"1.0.0-rc.10", "1.0.0-rc.9"}, {"1.0.0-beta", "1.0.0-alpha.9"}, {"1.0.0-alpha.a", "1.0.0-alpha.1"},
		{"1.0.0-alpha.1", "1.0.0-alpha"},
	}
	for _, p := range gt {
		if ok, err := semverGT(p[0], p[1]); !ok || err != nil {
			t.Errorf("semverGT(%s, %s) = %v, %v; want true", p[0], p[1], ok, err)
		}
		if ok, _ := semverGT(p[1], p[0]); ok {
			t.Errorf("semverGT(%s, %s) = true; want false", p[1], p[0])
		}
	}
	if ok, _ := semverGT("1.0.0+b2", "1.0.0+b1"); ok {
		t.Error("build metadata compared")
	}
	if _, err := semverGT("1.0.0", "x"); err == nil || errString(err) != "TypeError: Invalid Version: x" {
		t.Errorf("semverGT with a stored invalid version: %v", err)
	}
}

func TestParseJSON(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{`{"b":1,"a":[true,null,"x"],"2":0,"1":0}`, `{"1":0,"2":0,"b":1,"a":[true,null,"x"]}`, ""},
		{`{"a":1,"a":2}`, `{"a":2}`, ""},
		{`1e400`, `null`, ""},
		{``, ``, "Unexpected end of JSON input"},
		{`{"a":`, ``, "Unexpected end of JSON input"},
		{`{"a":1}x`, ``, "Unexpected token x in JSON at position 7"},
		{`{a:1}`, ``, "Unexpected token a in JSON at position 1"},
	}
	for _, tt := range tests {
		v, err := parseJSON([]byte(tt.in))
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("parseJSON(%q) error = %v; want %q", tt.in, err, tt.err)
			}
			continue
		}
		b, _ := marshalJS(v)
		if err != nil || string(b) != tt.want {
			t.Errorf("parseJSON(%q) = %s, %v; want %s", tt.in, b, err, tt.want)
		}
	}
}

func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"a":[1,{"b":null}]}`, `"x"`, `{"a":`, `1e999`, `{"1":1,"a":2}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseJSON([]byte(s))
		if valid := json.Valid([]byte(s)); valid != (err == nil) {
			t.Fatalf("parseJSON(%q) error %v; encoding/json valid %v", s, err, valid)
		}
		if err != nil {
			return
		}
		b, err := marshalJS(v)
		if err != nil || !json.Valid(b) {
			t.Fatalf("marshalJS(parseJSON(%q)) = %q, %v", s, b, err)
		}
	})
}

func TestJSHelpers(t *testing.T) {
	numbers := map[float64]string{0: "0", 1: "1", -1.5: "-1.5", 1e21: "1e+21", 1.5e-7: "1.5e-7", 123456789012: "123456789012",
		math.Inf(1): "Infinity", math.NaN(): "NaN"}
	for f, want := range numbers {
		if got := jsNumber(f); got != want {
			t.Errorf("jsNumber(%v) = %q; want %q", f, got, want)
		}
	}
	toNum := map[string]float64{" 12 ": 12, "": 0, "0x10": 16, "1e3": 1000, "-Infinity": math.Inf(-1)}
	for s, want := range toNum {
		if got := jsToNumber(s); got != want {
			t.Errorf("jsToNumber(%q) = %v; want %v", s, got, want)
		}
	}
	for _, s := range []string{"abc", "12px", "0xZ"} {
		if !math.IsNaN(jsToNumber(s)) {
			t.Errorf("jsToNumber(%q) is a number; want NaN", s)
		}
	}
	if got := jsParseInt(" 200abc"); got != 200 {
		t.Errorf("parseInt = %v", got)
	}
	if got := jsUnescape("urn%3Amediator%u0041%zz"); got != "urn:mediatorA%zz" {
		t.Errorf("jsUnescape = %q", got)
	}
	if got := inspect(fromPlain(map[string]any{"a": 1, "b": []any{"x"}})); got != "{ a: 1, b: [ 'x' ] }" {
		t.Errorf("inspect = %q", got)
	}
	if got := jsString([]any{1.0, nil, "a"}); got != "1,,a" {
		t.Errorf("String(array) = %q", got)
	}
	if got := arrayFrom("ab"); len(got) != 2 || got[1] != "b" {
		t.Errorf("Array.from(string) = %v", got)
	}
	for _, v := range []any{nil, undefined, false, 0.0, math.NaN(), ""} {
		if truthy(v) {
			t.Errorf("truthy(%#v) = true", v)
		}
	}
	for _, v := range []any{true, 1.0, "0", []any{}, newObject()} {
		if !truthy(v) {
			t.Errorf("truthy(%#v) = false", v)
		}
	}
}

func TestTransformPath(t *testing.T) {
	tests := []struct{ path, expr, want string }{
		{"/a/b/a", "s/a/x", "/x/b/a"},
		{"/a/b/a", "s/a/x/g", "/x/b/x"},
		{"/api/v1/x", "s/\\/api\\/v1/\\/v2", "/v2/x"},
		{"/p/123", "s/\\/p\\/(\\d+)/\\/patient\\/$1-$&-$$", "/patient/123-/p/123-$"},
	}
	for _, tt := range tests {
		if got, err := transformPath(tt.path, tt.expr); err != nil || got != tt.want {
			t.Errorf("transformPath(%q, %q) = %q, %v; want %q", tt.path, tt.expr, got, err, tt.want)
		}
	}
	if _, err := transformPath("/a", "nonsense"); err == nil {
		t.Error("transformPath with a bad expression: no error")
	}
}

func TestChannelAndClientAPI(t *testing.T) {
	e := newEnv(t)
	r := e.apiCall("POST", "/channels", `{"name":"A","urlPattern":"^/a$","methods":["GET"],"routes":[{"name":"r","host":"h","port":1}]}`)
	if r.status != 400 || r.body != "Channel must have a primary route" {
		t.Errorf("POST /channels without primary = %d %q", r.status, r.body)
	}
	r = e.apiCall("POST", "/channels", `{"name":"A","urlPattern":"^/a$","methods":["GET"],"routes":[{"name":"r","host":"h","port":1,"primary":true}]}`)
	if r.status != 201 || r.body != "Channel successfully created" {
		t.Errorf("POST /channels = %d %q", r.status, r.body)
	}
	r = e.apiCall("GET", "/channels", "")
	chans := mustJSON(t, r.body).([]any)
	id := chans[0].(map[string]any)["_id"].(string)
	if r := e.apiCall("GET", "/channels/"+id, ""); r.status != 200 || !strings.Contains(r.body, `"authType":"private"`) {
		t.Errorf("GET /channels/:id = %d %s", r.status, r.body)
	}
	r = e.apiCall("POST", "/clients", `{"clientID":"emr","name":"EMR","roles":["emr-role"],"passwordAlgorithm":"sha512","passwordSalt":"s","passwordHash":"`+sha512hex("pws")+`"}`)
	if r.status != http.StatusCreated {
		t.Errorf("POST /clients = %d %q", r.status, r.body)
	}
	if r := e.apiCall("POST", "/clients", `{"clientID":"emr-role","name":"Role clash"}`); r.status != http.StatusConflict {
		t.Errorf("POST /clients with a role's name = %d %q", r.status, r.body)
	}
	if r := e.apiCall("GET", "/clients", ""); r.status != 200 || !strings.Contains(r.body, `"clientID":"emr"`) {
		t.Errorf("GET /clients = %d %s", r.status, r.body)
	}
	if cs := e.s.Clients(); len(cs) != 1 || cs[0].ClientID != "emr" || cs[0].ID == "" {
		t.Errorf("Clients() = %+v", cs)
	}
}
