package openhim

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var mediatorJSON = filepath.Join("..", "..", "mediator-config", "mediator.json")

func readMediatorJSON(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(mediatorJSON)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestLoadRegistration_mediatorJSON(t *testing.T) {
	reg, err := LoadRegistrationFile(mediatorJSON, "v1.4.2-rc.1")
	if err != nil {
		t.Fatalf("LoadRegistrationFile(%s) = %v", mediatorJSON, err)
	}
	if reg.URN != "urn:mediator:cht-dhis2" {
		t.Errorf("urn = %q; want urn:mediator:cht-dhis2", reg.URN)
	}
	if reg.Version != "1.4.2-rc.1" {
		t.Errorf("version = %q; want the program's version 1.4.2-rc.1", reg.Version)
	}
	if len(reg.Endpoints) != 5 || len(reg.DefaultChannelConfig) != 6 || len(reg.ConfigDefs) != 3 {
		t.Errorf("endpoints, channels, configDefs = %d, %d, %d; want 5, 6, 3", len(reg.Endpoints), len(reg.DefaultChannelConfig), len(reg.ConfigDefs))
	}
	for _, e := range reg.Endpoints {
		if e.Host != "cht-dhis2-mediator" || e.Port != 8544 {
			t.Errorf("endpoint %s: %s:%d; want cht-dhis2-mediator:8544", e.Name, e.Host, e.Port)
		}
	}
	keep, err := LoadRegistration(readMediatorJSON(t), "")
	if err != nil || keep.Version != "0.2.0" {
		t.Errorf("LoadRegistration(version \"\") = %q, %v; want the file's 0.2.0", keep.Version, err)
	}
}

// What is registered is what the file says: no field is dropped or added
// by decoding and encoding (except the version).
func TestLoadRegistration_roundTrip(t *testing.T) {
	data := readMediatorJSON(t)
	reg, err := LoadRegistration(data, "")
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(reg)
	if err != nil {
		t.Fatal(err)
	}
	var want, got any
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("json.Marshal(LoadRegistration(mediator.json)) differs from the file:\n got %s", out)
	}
}

// mutate returns mediator.json with f applied to its generic JSON.
func mutate(t *testing.T, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(readMediatorJSON(t), &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func obj(v any, path ...any) map[string]any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
	}
	return v.(map[string]any)
}

func TestLoadRegistration_invalid(t *testing.T) {
	tests := []struct {
		name    string
		version string
		mod     func(m map[string]any)
		want    string // substring of the error
	}{
		{name: "no urn", mod: func(m map[string]any) { delete(m, "urn") }, want: "urn: required"},
		{name: "bad version from the program", version: "1.2", want: `version "1.2": must be a semantic version`},
		{name: "bad version in the file", mod: func(m map[string]any) { m["version"] = "latest" }, want: `version "latest"`},
		{name: "leading zero", version: "1.02.3", want: `version "1.02.3"`},
		{name: "no name", mod: func(m map[string]any) { m["name"] = " " }, want: "name: required"},
		{name: "no endpoints", mod: func(m map[string]any) { m["endpoints"] = []any{} }, want: "endpoints: at least 1 endpoint is required"},
		{name: "endpoint without host", mod: func(m map[string]any) { delete(obj(m, "endpoints", 0), "host") }, want: "endpoints[0] (CHT DHIS2 export): host: required"},
		{name: "endpoint port", mod: func(m map[string]any) { obj(m, "endpoints", 1)["port"] = 0 }, want: "endpoints[1] (CHT DHIS2 data value sets): port 0: must be 1-65535"},
		{name: "endpoint port as string", mod: func(m map[string]any) { obj(m, "endpoints", 1)["port"] = "8544" }, want: "cannot unmarshal string"},
		{name: "endpoint without name", mod: func(m map[string]any) { obj(m, "endpoints", 0)["name"] = "" }, want: "endpoints[0] (): name: required"},
		{name: "endpoint path and pathTransform", mod: func(m map[string]any) { obj(m, "endpoints", 0)["pathTransform"] = "s/a/b" }, want: "path and pathTransform: set one, not both"},
		{name: "unknown field", mod: func(m map[string]any) { m["configDef"] = []any{} }, want: `unknown field "configDef"`},
		{name: "unknown channel field", mod: func(m map[string]any) { obj(m, "defaultChannelConfig", 0)["urlpattern"] = "^/x$" }, want: `unknown field "urlpattern"`},
		{name: "type array", mod: func(m map[string]any) { obj(m, "configDefs", 0)["type"] = "array" }, want: `configDefs[0] (cht): type "array" is not one of`},
		{name: "no type", mod: func(m map[string]any) { delete(obj(m, "configDefs", 1), "type") }, want: "configDefs[1] (dhis2): type required"},
		{name: "struct without template", mod: func(m map[string]any) { delete(obj(m, "configDefs", 0), "template") }, want: "configDefs[0] (cht): a struct needs a template"},
		{name: "nested struct", mod: func(m map[string]any) { obj(m, "configDefs", 0, "template", 0)["type"] = "struct" }, want: "configDefs[0] (cht).template[0] (url): a struct template may not contain a struct"},
		{name: "template item without param", mod: func(m map[string]any) { delete(obj(m, "configDefs", 0, "template", 2), "param") }, want: "configDefs[0] (cht).template[2]: param required"},
		{name: "template item type", mod: func(m map[string]any) { obj(m, "configDefs", 0, "template", 2)["type"] = "secret" }, want: `template[2] (password): type "secret" is not one of`},
		{name: "option without values", mod: func(m map[string]any) { obj(m, "configDefs", 1, "template", 7)["type"] = "option" }, want: "configDefs[1] (dhis2).template[7] (async): an option needs a non-empty values array"},
		{name: "duplicate param", mod: func(m map[string]any) { obj(m, "configDefs", 1)["param"] = "cht" }, want: "configDefs[1] (cht): duplicate param"},
		{name: "config key without def", mod: func(m map[string]any) { obj(m, "config")["server"] = map[string]any{} }, want: "config.server: no config definition found for parameter server"},
		{name: "struct field without def", mod: func(m map[string]any) { obj(m, "config", "cht")["breaker"] = "" }, want: "config.cht: field breaker is not defined in the template of cht"},
		{name: "struct value not an object", mod: func(m map[string]any) { obj(m, "config")["dhis2"] = "x" }, want: "config.dhis2: must be an object"},
		{name: "config without defs", mod: func(m map[string]any) { delete(m, "configDefs") }, want: "config: set without configDefs"},
		{name: "channel without methods", mod: func(m map[string]any) { delete(obj(m, "defaultChannelConfig", 0), "methods") }, want: "defaultChannelConfig[0] (CHT DHIS2 export): methods: required"},
		{name: "channel with two primaries", mod: func(m map[string]any) {
			ch := obj(m, "defaultChannelConfig", 1)
			r := obj(ch, "routes", 0)
			ch["routes"] = []any{r, r}
		}, want: "routes: exactly one enabled primary route is required, found 2"},
		{name: "duplicate channel", mod: func(m map[string]any) {
			obj(m, "defaultChannelConfig", 1)["name"] = "CHT DHIS2 export"
		}, want: "defaultChannelConfig[1] (CHT DHIS2 export): duplicate channel name"},
		{name: "trailing data", mod: nil, want: "data after the JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var data []byte
			if tt.mod != nil {
				data = mutate(t, tt.mod)
			} else if tt.name == "trailing data" {
				data = append(readMediatorJSON(t), []byte(`{}`)...)
			} else {
				data = readMediatorJSON(t)
			}
			_, err := LoadRegistration(data, tt.version)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("LoadRegistration() error = %v; want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestValidateConfig(t *testing.T) {
	defs := []ConfigDef{
		{Param: "s", Type: "string"}, {Param: "b", Type: "bigstring"}, {Param: "p", Type: "password"},
		{Param: "n", Type: "number"}, {Param: "t", Type: "bool"},
		{Param: "o", Type: "option", Values: []string{"a", "b"}}, {Param: "m", Type: "map"},
		{Param: "st", Type: "struct", Template: []ConfigDef{{Param: "x", Type: "number"}}},
		{Param: "arr", Type: "number", Array: true},
	}
	tests := []struct {
		cfg  map[string]any
		want string
	}{
		{map[string]any{"s": "x", "b": "y", "p": "z", "n": 1.5, "t": false, "o": "b", "m": map[string]any{"k": "v"},
			"st": map[string]any{"x": "not checked, as in core"}, "arr": []any{1.0, 2.0}}, ""},
		{map[string]any{}, ""},
		{map[string]any{"s": 1.0}, "config.s: must be a string"},
		{map[string]any{"n": "1"}, "config.n: must be a JSON number"},
		{map[string]any{"t": "true"}, "config.t: must be a JSON boolean"},
		{map[string]any{"o": "c"}, "config.o: must be one of a, b"},
		{map[string]any{"m": map[string]any{"k": 1.0}}, "config.m: map value k must be a string"},
		{map[string]any{"arr": 1.0}, "config.arr: must be an array of type number"},
		{map[string]any{"arr": []any{1.0, "2"}}, "config.arr[1]: must be a JSON number"},
		{map[string]any{"zz": ""}, "config.zz: no config definition found"},
	}
	for _, tt := range tests {
		errs := validateConfig(defs, tt.cfg)
		got := ""
		if len(errs) > 0 {
			got = errs[0].Error()
		}
		if (tt.want == "") != (got == "") || !strings.HasPrefix(got, tt.want) {
			t.Errorf("validateConfig(%v) = %q; want %q", tt.cfg, got, tt.want)
		}
	}
}

func TestValidVersion(t *testing.T) {
	for v, want := range map[string]bool{
		"0.1.0": true, "1.2.3-rc.1": true, "1.2.3-0.3.7": true, "1.0.0+build.5": true, "0.1.0-dev": true,
		"1.2": false, "v1.2.3": false, "01.2.3": false, "1.2.3-": false, "": false, "1.2.3.4": false, "latest": false,
	} {
		if got := ValidVersion(v); got != want {
			t.Errorf("ValidVersion(%q) = %v; want %v", v, got, want)
		}
	}
}
