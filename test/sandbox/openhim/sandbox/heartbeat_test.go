package sandbox

import (
	"net/http"
	"testing"
	"time"
)

const hbPath = "/mediators/urn:mediator:test/heartbeat"

func TestHeartbeat_answers(t *testing.T) {
	tests := []struct {
		name      string
		register  string // extra registration fields
		setConfig bool   // console PUT between the two heartbeats
		first     string // first heartbeat body
		second    string // second heartbeat body ("" = none)
		wantCT    string
		wantBody  string
	}{
		{"nothing to deliver", `"config":{}`, false, `{"uptime":1}`, "", "text/plain; charset=utf-8", ""},
		{"config requested", `"configDefs":[{"param":"a","type":"string"}],"config":{"a":"x"}`, false, `{"uptime":1,"config":true}`, "",
			"application/json; charset=utf-8", `{"a":"x"}`},
		{"empty config requested", `"config":{}`, false, `{"uptime":1,"config":true}`, "", "application/json; charset=utf-8", `{}`},
		{"config must be the boolean true", `"config":{"a":1}`, false, `{"uptime":1,"config":"true"}`, "", "text/plain; charset=utf-8", ""},
		{"requested, none stored", ``, false, `{"uptime":1,"config":true}`, "", "text/plain; charset=utf-8", "OK"},
		{"requested, null stored", `"config":null`, false, `{"uptime":1,"config":true}`, "", "", ""},
		{"after a console change", `"configDefs":[{"param":"a","type":"string"}],"config":{"a":"x"}`, true, `{"uptime":1}`, `{"uptime":11}`,
			"application/json; charset=utf-8", `{"a":"changed"}`},
		{"only once after a change", `"configDefs":[{"param":"a","type":"string"}],"config":{"a":"x"}`, true, `{"uptime":1}`, `{"uptime":11}|{"uptime":21}`,
			"text/plain; charset=utf-8", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			extra := []string{}
			if tt.register != "" {
				extra = append(extra, tt.register)
			}
			e.register(mediatorDoc("1.0.0", extra...))
			r := e.apiCall("POST", hbPath, tt.first)
			if tt.setConfig {
				e.clock.Advance(5 * time.Second)
				if err := e.s.SetConfig("urn:mediator:test", map[string]any{"a": "changed"}); err != nil {
					t.Fatal(err)
				}
			}
			if tt.second != "" {
				for _, b := range splitBar(tt.second) {
					e.clock.Advance(5 * time.Second)
					r = e.apiCall("POST", hbPath, b)
				}
			}
			if r.status != 200 || r.ctype() != tt.wantCT || r.body != tt.wantBody {
				t.Errorf("heartbeat = %d %q %q; want 200 %q %q", r.status, r.ctype(), r.body, tt.wantCT, tt.wantBody)
			}
		})
	}
}

func splitBar(s string) []string {
	var out []string
	start := 0
	for i := range len(s) {
		if s[i] == '|' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func TestHeartbeat_errorsAndState(t *testing.T) {
	e := newEnv(t)
	if r := e.apiCall("POST", hbPath, `{"uptime":1}`); r.status != 404 || r.body != "Not Found" {
		t.Errorf("unknown urn = %d %q; want 404 Not Found", r.status, r.body)
	}
	e.register(mediatorDoc("1.0.0"))
	for _, body := range []string{`{}`, `{"uptime":null}`, `[]`} {
		if r := e.apiCall("POST", hbPath, body); r.status != 400 || r.body != "Bad Request" {
			t.Errorf("heartbeat %s = %d %q; want 400 Bad Request", body, r.status, r.body)
		}
	}
	r := call(t, "POST", e.api.URL+hbPath, `{"uptime":1}`, "Authorization", basic(rootUser, rootPass)) // no JSON type: body {}
	if r.status != 400 {
		t.Errorf("heartbeat without Content-Type = %d; want 400", r.status)
	}
	r = e.apiCall("POST", hbPath, `{"uptime":"abc"}`)
	if want := `Could not process mediator heartbeat (urn: urn:mediator:test): CastError: Cast to Number failed for value "abc" (type string) at path "_uptime"`; r.status != 500 || r.body != want {
		t.Errorf("uptime abc = %d %q; want 500 %q", r.status, r.body, want)
	}
	if m, _ := e.s.Mediator("urn:mediator:test"); m.Heartbeats != 0 || m.LastHeartbeat != nil {
		t.Errorf("failed heartbeats recorded: %+v", m)
	}
	e.clock.Advance(time.Second)
	if r := e.apiCall("POST", hbPath, `{"uptime":"12.5"}`); r.status != 200 {
		t.Fatalf("uptime \"12.5\" = %d", r.status)
	}
	m, _ := e.s.Mediator("urn:mediator:test")
	if m.Heartbeats != 1 || m.Uptime == nil || *m.Uptime != 12.5 || !m.LastHeartbeat.Equal(testNow.Add(time.Second)) {
		t.Errorf("after heartbeat: count %d uptime %v last %v", m.Heartbeats, m.Uptime, m.LastHeartbeat)
	}

	// Deleted in the console: 404, then re-registration works.
	e.s.DeleteMediator("urn:mediator:test")
	if r := e.apiCall("POST", hbPath, `{"uptime":2}`); r.status != 404 {
		t.Errorf("after delete = %d; want 404", r.status)
	}
	e.register(mediatorDoc("1.0.0"))
	if r := e.apiCall("POST", hbPath, `{"uptime":3}`); r.status != 200 {
		t.Errorf("after re-registration = %d; want 200", r.status)
	}
}

// A console change before the first heartbeat is not pushed: core compares
// _configModifiedTS > _lastHeartbeat, and a missing _lastHeartbeat never
// compares greater (OpenHIM core src/api/mediators.js).
func TestHeartbeat_changeBeforeFirstHeartbeat(t *testing.T) {
	e := newEnv(t)
	e.register(mediatorDoc("1.0.0", `"configDefs":[{"param":"a","type":"string"}]`, `"config":{"a":"x"}`))
	if err := e.s.SetConfig("urn:mediator:test", map[string]any{"a": "y"}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	if r := e.apiCall("POST", hbPath, `{"uptime":1}`); r.body != "" {
		t.Errorf("first heartbeat = %q; want empty", r.body)
	}
	if r := e.apiCall("POST", hbPath, `{"uptime":1,"config":true}`); r.body != `{"a":"y"}` {
		t.Errorf("config:true heartbeat = %q", r.body)
	}
}

func TestGetHeartbeat(t *testing.T) {
	e := newEnv(t)
	e.register(mediatorDoc("1.0.0"))
	e.register(`{"urn":"urn:other","version":"1.0.0","name":"O","endpoints":[{"name":"e"}]}`)
	e.apiCall("POST", hbPath, `{"uptime":42}`)
	e.apiCall("POST", "/mediators/urn:other/heartbeat", `{"uptime":7}`)
	e.clock.Advance(30 * time.Second)
	e.apiCall("POST", hbPath, `{"uptime":72}`)
	e.clock.Advance(40 * time.Second) // urn:other last beat 70 s ago
	r := call(t, "GET", e.api.URL+"/heartbeat", "")
	if r.status != http.StatusOK {
		t.Fatalf("GET /heartbeat = %d (public)", r.status)
	}
	got := mustJSON(t, r.body).(map[string]any)
	meds := got["mediators"].(map[string]any)
	if meds["urn:mediator:test"] != 72.0 || meds["urn:other"] != nil || got["master"] != 70.0 ||
		got["now"] != float64(testNow.Add(70*time.Second).UnixMilli()) {
		t.Errorf("GET /heartbeat = %s", r.body)
	}
}

func TestConfig_putAndMask(t *testing.T) {
	e := newEnv(t)
	e.register(mediatorDoc("1.0.0", fullConfigDefs, `"config":{"registryUrl":"http://cr","registryPassword":"secret",
		"passwords":["p1","p2"],"auth":{"user":"u","password":"sp"},"upstreams":[{"host":"a","weight":1}]}`))

	// GET one masks top-level, array and (non-array) struct passwords.
	r := e.apiCall("GET", "/mediators/urn:mediator:test", "")
	cfg := mustJSON(t, r.body).(map[string]any)["config"]
	want := `{"auth":{"password":"**********","user":"u"},"passwords":["**********","**********"],"registryPassword":"**********","registryUrl":"http://cr","upstreams":[{"host":"a","weight":1}]}`
	if got := jsonString(cfg); got != want {
		t.Errorf("GET masked config = %s; want %s", got, want)
	}
	// The list is not masked (core quirk).
	r = e.apiCall("GET", "/mediators", "")
	if got := jsonString(mustJSON(t, r.body).([]any)[0].(map[string]any)["config"].(map[string]any)["registryPassword"]); got != `"secret"` {
		t.Errorf("GET /mediators password = %s; want unmasked", got)
	}

	// PUT with masks restores the stored values.
	r = e.apiCall("PUT", "/mediators/urn:mediator:test/config",
		`{"registryUrl":"http://new","registryPassword":"**********","passwords":["**********","changed"],"auth":{"user":"u2","password":"**********"}}`)
	if r.status != 200 || r.body != "OK" {
		t.Fatalf("PUT config = %d %q; want 200 OK", r.status, r.body)
	}
	m, _ := e.s.Mediator("urn:mediator:test")
	if got, want := string(m.ConfigJSON), `{"registryUrl":"http://new","registryPassword":"secret","passwords":["p1","changed"],"auth":{"user":"u2","password":"sp"}}`; got != want {
		t.Errorf("stored config = %s; want %s", got, want)
	}
	if m.ConfigModifiedTS == nil || !m.ConfigModifiedTS.Equal(testNow) {
		t.Errorf("_configModifiedTS = %v", m.ConfigModifiedTS)
	}

	tests := []struct {
		path, body, ctype string
		wantStatus        int
		wantBody          string
	}{
		{"/mediators/urn:none/config", `{}`, "application/json", 404, "No mediator found for this urn."},
		{"/mediators/urn:mediator:test/config", `{"registryUrl":1}`, "application/json", 400, "Expected config param registryUrl to be a string."},
		{"/mediators/urn:mediator:test/config", `{"x":1}`, "application/json", 400, "No config definition found for parameter x"},
		{"/mediators/urn:mediator:test/config", `[1]`, "application/json", 400, "No config definition found for parameter 0"},
		// Not JSON: the body is {} and replaces the config (core quirk).
		{"/mediators/urn:mediator:test/config", `{"registryUrl":"x"}`, "text/plain", 200, "OK"},
	}
	for _, tt := range tests {
		r := call(t, "PUT", e.api.URL+tt.path, tt.body, "Content-Type", tt.ctype, "Authorization", basic(rootUser, rootPass))
		if r.status != tt.wantStatus || r.body != tt.wantBody {
			t.Errorf("PUT %s %s = %d %q; want %d %q", tt.path, tt.body, r.status, r.body, tt.wantStatus, tt.wantBody)
		}
	}
	if m, _ := e.s.Mediator("urn:mediator:test"); string(m.ConfigJSON) != `{}` {
		t.Errorf("config after non-JSON PUT = %s; want {}", m.ConfigJSON)
	}
	if err := e.s.SetConfig("urn:mediator:test", map[string]any{"mode": "fast"}); err == nil {
		t.Error("SetConfig with an invalid option: no error")
	}
}
