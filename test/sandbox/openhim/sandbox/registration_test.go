package sandbox

import (
	"net/http"
	"strings"
	"testing"
)

const prefix400 = "Could not add Mediator via the API: ValidationError: "

// TestRegister_validation covers every 400 of OpenHIM core src/api/mediators.js with core's text.
func TestRegister_validation(t *testing.T) {
	eps := `"endpoints":[{"name":"Test","host":"mediator","port":8544,"primary":true}]`
	base := `"urn":"urn:mediator:v","version":"1.0.0","name":"V",` + eps
	def := func(defs string) string { return `{` + base + `,"configDefs":[` + defs + `]}` }
	cfg := func(config string) string { return `{` + base + `,` + fullConfigDefs + `,"config":` + config + `}` }
	tests := []struct {
		name        string
		contentType string
		body        string
		wantStatus  int
		want        string // exact body
	}{
		{"no urn", "", `{"version":"1.0.0","name":"V",` + eps + `}`, 400, prefix400 + "URN is required"},
		{"empty urn", "", `{"urn":"","version":"1.0.0","name":"V",` + eps + `}`, 400, prefix400 + "URN is required"},
		{"not application/json", "text/plain", `{` + base + `}`, 400, prefix400 + "URN is required"},
		{"no content type", "-", `{` + base + `}`, 400, prefix400 + "URN is required"},
		{"array body", "", `[{` + base + `}]`, 400, prefix400 + "URN is required"},
		{"no version", "", `{"urn":"urn:x","name":"V",` + eps + `}`, 400, prefix400 + "Version is required. Must be in SemVer form x.y.z"},
		{"version x.y", "", `{"urn":"urn:x","version":"1.0","name":"V",` + eps + `}`, 400, prefix400 + "Version is required. Must be in SemVer form x.y.z"},
		{"version leading zero", "", `{"urn":"urn:x","version":"01.0.0","name":"V",` + eps + `}`, 400, prefix400 + "Version is required. Must be in SemVer form x.y.z"},
		{"version four parts", "", `{"urn":"urn:x","version":"1.0.0.0","name":"V",` + eps + `}`, 400, prefix400 + "Version is required. Must be in SemVer form x.y.z"},
		{"version number", "", `{"urn":"urn:x","version":1,"name":"V",` + eps + `}`, 400, prefix400 + "Version is required. Must be in SemVer form x.y.z"},
		{"version v prefix ok", "", `{"urn":"urn:x","version":"v1.2.3","name":"V",` + eps + `}`, 201, "Created"},
		{"version pre-release and build ok", "", `{"urn":"urn:x","version":"1.2.3-rc.1+build.5","name":"V",` + eps + `}`, 201, "Created"},
		{"no endpoints", "", `{"urn":"urn:x","version":"1.0.0","name":"V"}`, 400, prefix400 + "At least 1 endpoint is required"},
		{"empty endpoints", "", `{"urn":"urn:x","version":"1.0.0","name":"V","endpoints":[]}`, 400, prefix400 + "At least 1 endpoint is required"},
		{"no name", "", `{"urn":"urn:x","version":"1.0.0",` + eps + `}`, 400,
			prefix400 + "Mediator validation failed: name: Path `name` is required."},
		{"endpoint without name", "", `{"urn":"urn:x","version":"1.0.0","name":"V","endpoints":[{"host":"h","port":1}]}`, 400,
			prefix400 + "Mediator validation failed: endpoints.0.name: Path `name` is required."},
		{"endpoint port too big", "", `{"urn":"urn:x","version":"1.0.0","name":"V","endpoints":[{"name":"e","host":"h","port":70000}]}`, 400,
			prefix400 + "Mediator validation failed: endpoints.0.port: Path `port` (70000) is more than maximum allowed value (65536)."},
		{"endpoint port not a number", "", `{"urn":"urn:x","version":"1.0.0","name":"V","endpoints":[{"name":"e","host":"h","port":"abc"}]}`, 400,
			prefix400 + `Mediator validation failed: endpoints.0.port: Cast to Number failed for value "abc" (type string) at path "port"`},
		{"endpoint numeric string port ok", "", `{"urn":"urn:x","version":"1.0.0","name":"V","endpoints":[{"name":"e","host":"h","port":"8544"}]}`, 201, "Created"},
		{"endpoint type tcp (v8: http or kafka)", "", `{"urn":"urn:x","version":"1.0.0","name":"V","endpoints":[{"name":"e","type":"tcp","host":"h","port":1}]}`, 400,
			prefix400 + "Mediator validation failed: endpoints.0.type: `tcp` is not a valid enum value for path `type`."},
		{"default channel without urlPattern", "", `{` + base + `,"defaultChannelConfig":[{"name":"c","routes":[]}]}`, 400,
			prefix400 + "Mediator validation failed: defaultChannelConfig.0.urlPattern: Path `urlPattern` is required."},
		{"default channel bad method", "", `{` + base + `,"defaultChannelConfig":[{"name":"c","urlPattern":"^/c$","methods":["FETCH"]}]}`, 400,
			prefix400 + "Mediator validation failed: defaultChannelConfig.0.methods.0: `FETCH` is not a valid enum value for path `methods`."},
		{"configDef type array", "", def(`{"param":"a","type":"array"}`), 400,
			prefix400 + "Mediator validation failed: configDefs.0.type: `array` is not a valid enum value for path `type`."},
		{"struct without template", "", def(`{"param":"s","type":"struct"}`), 400, prefix400 + "Must specify a template for struct param 's'"},
		{"template item without param", "", def(`{"param":"s","type":"struct","template":[{"type":"string"}]}`), 400,
			prefix400 + "Must specify field 'param' in template definition for param 's'"},
		{"template item without type", "", def(`{"param":"s","type":"struct","template":[{"param":"a"}]}`), 400,
			prefix400 + "Must specify field 'type' in template definition for param 's'"},
		{"nested struct", "", def(`{"param":"s","type":"struct","template":[{"param":"a","type":"struct"}]}`), 400,
			prefix400 + "May not recursively specify 'struct' in template definitions (param 's')"},
		{"option values not an array", "", def(`{"param":"o","type":"option","values":"a,b"}`), 400,
			prefix400 + "Expected field 'values' to be an array (option param 'o')"},
		{"option without values", "", def(`{"param":"o","type":"option"}`), 400,
			prefix400 + "Expected field 'values' to be an array (option param 'o')"},
		{"option empty values", "", def(`{"param":"o","type":"option","values":[]}`), 400,
			prefix400 + "Must specify a values array for option param 'o'"},
		{"config without def", "", cfg(`{"unknown":"x"}`), 400, prefix400 + "No config definition found for parameter unknown"},
		{"string", "", cfg(`{"registryUrl":5}`), 400, prefix400 + "Expected config param registryUrl to be a string."},
		{"bigstring", "", cfg(`{"notes":true}`), 400, prefix400 + "Expected config param notes to be a large string."},
		{"password", "", cfg(`{"registryPassword":null}`), 400, prefix400 + "Expected config param registryPassword to be a string representing a password."},
		{"number as string", "", cfg(`{"timeoutSeconds":"30"}`), 400, prefix400 + "Expected config param timeoutSeconds to be a number."},
		{"bool", "", cfg(`{"cacheEnabled":"true"}`), 400, prefix400 + "Expected config param cacheEnabled to be a boolean."},
		{"option", "", cfg(`{"mode":"fast"}`), 400, prefix400 + "Expected config param mode to be one of strict,lenient"},
		{"map not an object", "", cfg(`{"codeMap":"M=male"}`), 400, prefix400 + "Expected config param codeMap to be an object."},
		{"map value not a string", "", cfg(`{"codeMap":{"M":1}}`), 400, prefix400 + "Expected config param codeMap to only contain string values."},
		{"struct not an object", "", cfg(`{"auth":"u:p"}`), 400, prefix400 + "Expected config param auth to be an object."},
		{"struct unknown field", "", cfg(`{"auth":{"user":"u","token":"t"}}`), 400,
			prefix400 + "Field token is not defined in template definition for config param auth."},
		{"struct field types unchecked", "", cfg(`{"auth":{"user":5,"password":false}}`), 201, "Created"},
		{"array not an array", "", cfg(`{"upstreams":{"host":"a"}}`), 400, prefix400 + "Expected config param upstreams to be an array of type struct"},
		{"array element", "", cfg(`{"upstreams":[{"host":"a"},{"port":1}]}`), 400,
			prefix400 + "Field port is not defined in template definition for config param upstreams[1]."},
		{"password array element", "", cfg(`{"passwords":["a",2]}`), 400,
			prefix400 + "Expected config param passwords[1] to be a string representing a password."},
		{"partial config ok", "", cfg(`{"mode":"strict"}`), 201, "Created"},
		{"full example config ok", "", cfg(`{"registryUrl":"http://cr:8080/fhir","registryPassword":"changeme","mode":"strict",
			"timeoutSeconds":30,"cacheEnabled":true,"codeMap":{"M":"male"},"upstreams":[{"host":"cr-a","weight":1}]}`), 201, "Created"},
		{"config without configDefs not validated", "", `{` + base + `,"config":{"anything":1}}`, 201, "Created"},
		{"invalid JSON", "", `{"urn":`, 400, "Unexpected end of JSON input"},
		{"JSON not object or array", "", `"urn"`, 400, "invalid JSON, only supports object and array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			hdr := []string{"Authorization", basic(rootUser, rootPass)}
			switch tt.contentType {
			case "":
				hdr = append(hdr, "Content-Type", "application/json")
			case "-":
			default:
				hdr = append(hdr, "Content-Type", tt.contentType)
			}
			r := call(t, "POST", e.api.URL+"/mediators", tt.body, hdr...)
			if r.status != tt.wantStatus || r.body != tt.want {
				t.Errorf("POST /mediators = %d %q; want %d %q", r.status, r.body, tt.wantStatus, tt.want)
			}
			if r.ctype() != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type = %q; want text/plain; charset=utf-8", r.ctype())
			}
			if got, want := len(e.s.Mediators()), map[bool]int{true: 1, false: 0}[tt.wantStatus == 201]; got != want {
				t.Errorf("stored %d mediators; want %d", got, want)
			}
		})
	}
}

func TestRegister_storesDocument(t *testing.T) {
	e := newEnv(t)
	e.register(mediatorDoc("1.2.0", `"description":"d"`, `"unknownField":1`,
		`"defaultChannelConfig":[{"name":"Export","urlPattern":"^/export$","methods":["GET"],"routes":[{"name":"r","host":"mediator","port":"8544","primary":true}]}]`))
	m, ok := e.s.Mediator("urn:mediator:test")
	if !ok {
		t.Fatal("mediator not stored")
	}
	if m.Version != "1.2.0" || m.Name != "Test Mediator" || m.Description != "d" || m.Registrations != 1 || m.Writes != 1 {
		t.Errorf("stored %+v", m)
	}
	ep := m.Endpoints[0]
	if ep.Type != "http" || ep.Status != "enabled" || ep.Port != 8544 || ep.ForwardAuthHeader {
		t.Errorf("endpoint %+v; want defaults type http, status enabled", ep)
	}
	dc := m.DefaultChannelConfig[0]
	if dc.AuthType != "private" || dc.Type != "http" || dc.Status != "enabled" || dc.Routes[0].Port != 8544 {
		t.Errorf("default channel %+v", dc)
	}
	r := e.apiCall("GET", "/mediators", "")
	if strings.Contains(r.body, "unknownField") {
		t.Errorf("unknown field stored: %s", r.body)
	}
	if len(e.s.Channels()) != 0 {
		t.Error("defaultChannelConfig must not create channels")
	}
}

func TestRegister_reRegistration(t *testing.T) {
	defs := `"configDefs":[{"param":"url","type":"string"},{"param":"mode","type":"option","values":["strict","lenient"]},
		{"param":"timeout","type":"number"},{"param":"cache","type":"bool"}]`
	e := newEnv(t)
	e.register(mediatorDoc("1.1.0", defs, `"config":{"url":"","mode":"strict","timeout":30}`))
	if err := e.s.SetConfig("urn:mediator:test", map[string]any{"url": "http://console", "mode": "lenient", "timeout": 10.0}); err != nil {
		t.Fatal(err)
	}
	before, _ := e.s.Mediator("urn:mediator:test")

	// Same and lower version: 201, nothing written.
	for _, v := range []string{"1.1.0", "1.0.9", "1.1.0-rc.1"} {
		e.register(strings.Replace(mediatorDoc(v, defs, `"config":{"url":"x"}`), `"Test Mediator"`, `"Renamed"`, 1))
		m, _ := e.s.Mediator("urn:mediator:test")
		if m.Name != "Test Mediator" || m.Version != "1.1.0" || m.Writes != 1 || string(m.ConfigJSON) != string(before.ConfigJSON) {
			t.Errorf("version %s: stored name %q version %s writes %d config %s; want nothing written", v, m.Name, m.Version, m.Writes, m.ConfigJSON)
		}
	}

	// A higher version replaces the document; the new config keeps the
	// stored non-null values of its params and drops the others.
	e.register(strings.Replace(mediatorDoc("1.2.0", defs, `"config":{"url":"","mode":"strict","cache":true}`), `"Test Mediator"`, `"Renamed"`, 1))
	m, _ := e.s.Mediator("urn:mediator:test")
	if m.Name != "Renamed" || m.Version != "1.2.0" || m.Writes != 2 || m.Registrations != 5 {
		t.Errorf("after bump: %+v", m)
	}
	if got, want := string(m.ConfigJSON), `{"url":"http://console","mode":"lenient","cache":true}`; got != want {
		t.Errorf("merged config = %s; want %s", got, want)
	}
	if !m.ConfigModifiedTS.Equal(*before.ConfigModifiedTS) {
		t.Errorf("_configModifiedTS changed by registration: %v; want %v", m.ConfigModifiedTS, before.ConfigModifiedTS)
	}

	// No config in the new body: the stored config stays.
	e.register(mediatorDoc("1.3.0", defs))
	m, _ = e.s.Mediator("urn:mediator:test")
	if got, want := string(m.ConfigJSON), `{"url":"http://console","mode":"lenient","cache":true}`; got != want {
		t.Errorf("config after bump without config = %s; want %s", got, want)
	}

	// The update path skips validation: kept values are not re-checked
	// and endpoints may become empty; a later console PUT then fails.
	e.register(`{"urn":"urn:mediator:test","version":"2.0.0","endpoints":[],
		"configDefs":[{"param":"url","type":"string"},{"param":"mode","type":"option","values":["a","b"]},{"param":"cache","type":"bool"}],
		"config":{"mode":"a"}}`)
	m, _ = e.s.Mediator("urn:mediator:test")
	if len(m.Endpoints) != 0 || string(m.ConfigJSON) != `{"mode":"lenient"}` {
		t.Errorf("after 2.0.0: endpoints %v config %s", m.Endpoints, m.ConfigJSON)
	}
	r := e.apiCall("PUT", "/mediators/urn:mediator:test/config", `{"mode":"lenient"}`)
	if r.status != 400 || r.body != "Expected config param mode to be one of a,b" {
		t.Errorf("PUT config = %d %q", r.status, r.body)
	}

	// Cast errors on the update path are 500s.
	r = e.apiCall("POST", "/mediators", `{"urn":"urn:mediator:test","version":"3.0.0","endpoints":[{"name":"e","port":"abc"}]}`)
	if want := `Could not add Mediator via the API: CastError: Cast to Number failed for value "abc" (type string) at path "port"`; r.status != 500 || r.body != want {
		t.Errorf("bump with bad port = %d %q; want 500 %q", r.status, r.body, want)
	}
}

func TestMediatorChannels(t *testing.T) {
	e := newEnv(t)
	e.register(mediatorDoc("1.0.0", `"defaultChannelConfig":[
		{"name":"A","urlPattern":"^/a$","methods":["GET"],"routes":[{"name":"a","host":"m","port":1,"primary":true}]},
		{"name":"B","urlPattern":"^/b$","methods":["GET"],"routes":[{"name":"b","host":"m","port":1}]}]`))
	tests := []struct {
		body       string
		wantStatus int
		wantBody   string
		wantNames  []string
	}{
		{`["C"]`, 400, "Could not load mediator default channel config, one or more channels in the request body not found in the mediator config (urn: urn:mediator:test)", nil},
		{`["B"]`, 201, "Created", []string{"B"}}, // no primary-route check
		{`[]`, 500, `Could not load mediator default channel config (urn: urn:mediator:test): MongoServerError: E11000 duplicate key error collection: openhim.channels index: name_1 dup key: { name: "B" }`, []string{"B", "A"}},
	}
	for _, tt := range tests {
		r := e.apiCall("POST", "/mediators/urn:mediator:test/channels", tt.body)
		if r.status != tt.wantStatus || r.body != tt.wantBody {
			t.Errorf("POST channels %s = %d %q; want %d %q", tt.body, r.status, r.body, tt.wantStatus, tt.wantBody)
		}
		var names []string
		for _, c := range e.s.Channels() {
			names = append(names, c.Name)
		}
		if strings.Join(names, ",") != strings.Join(tt.wantNames, ",") {
			t.Errorf("after %s channels = %v; want %v", tt.body, names, tt.wantNames)
		}
	}
	if r := e.apiCall("POST", "/mediators/urn:x/channels", `[]`); r.status != 404 || r.body != "No mediator found for this urn." {
		t.Errorf("unknown urn = %d %q", r.status, r.body)
	}
}

func TestMediator_getAndDelete(t *testing.T) {
	e := newEnv(t)
	if r := e.apiCall("GET", "/mediators/urn:none", ""); r.status != http.StatusNotFound || r.body != "Not Found" {
		t.Errorf("GET unknown = %d %q", r.status, r.body)
	}
	e.register(mediatorDoc("1.0.0"))
	r := e.apiCall("DELETE", "/mediators/urn:mediator:test", "")
	if r.status != 200 || r.body != "Mediator with urn urn:mediator:test has been successfully removed by root@openhim.org" {
		t.Errorf("DELETE = %d %q", r.status, r.body)
	}
	if r := e.apiCall("DELETE", "/mediators/urn:mediator:test", ""); r.status != 200 {
		t.Errorf("DELETE again = %d; want 200 (core does not check)", r.status)
	}
	if len(e.s.Mediators()) != 0 {
		t.Error("mediator still stored")
	}
}
