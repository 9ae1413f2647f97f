package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// base is a configuration as loaded from a file: the local settings the
// console's values are applied to.
func consoleBase() Config {
	c := Default()
	c.CHT.URL = "https://cht.local"
	c.CHT.Username = "reader"
	c.CHT.Password = "local-cht-pass"
	c.DHIS2.URL = "https://dhis2.local"
	c.DHIS2.Token = "d2pat_local"
	c.DHIS2.Async = true
	return c
}

func TestApplyConsole(t *testing.T) {
	tests := []struct {
		name    string
		console map[string]any
		want    func(c *Config) // changes expected on consoleBase()
		wantErr string          // prefix of the error; the base is returned
	}{
		{name: "nil", console: nil, want: func(*Config) {}},
		{name: "empty sections", console: map[string]any{"cht": map[string]any{}, "dhis2": nil}, want: func(*Config) {}},
		{name: "empty section as empty string", console: map[string]any{"cht": ""}, want: func(*Config) {}},
		{
			name: "empty values never override",
			console: map[string]any{
				"cht":   map[string]any{"url": "", "username": "  ", "password": "", "page_size": "", "timeout": "", "database": nil},
				"dhis2": map[string]any{"token": "", "async": "", "chunk_size": nil},
			},
			want: func(*Config) {},
		},
		{
			name:    "password mask never overrides",
			console: map[string]any{"cht": map[string]any{"password": ConsoleMask}},
			want:    func(*Config) {},
		},
		{
			name: "non-empty values override",
			console: map[string]any{
				"cht": map[string]any{
					"url": " https://cht.console ", "username": "console-user", "password": "console-pass",
					"page_size": float64(700), "batch_size": "250", "timeout": "45s", "database": "medic_ke",
				},
				"dhis2": map[string]any{"chunk_size": json.Number("2000"), "async": false, "metadata_cache_ttl": "0s", "async_poll_interval": "5s"},
			},
			want: func(c *Config) {
				c.CHT.URL = "https://cht.console"
				c.CHT.Username = "console-user"
				c.CHT.Password = "console-pass"
				c.CHT.PageSize = 700
				c.CHT.BatchSize = 250
				c.CHT.Timeout = 45 * time.Second
				c.CHT.Database = "medic_ke"
				c.DHIS2.ChunkSize = 2000
				c.DHIS2.Async = false
				c.DHIS2.MetadataCacheTTL = 0
				c.DHIS2.AsyncPollInterval = 5 * time.Second
			},
		},
		{
			name:    "bool as string",
			console: map[string]any{"dhis2": map[string]any{"async": "FALSE"}},
			want:    func(c *Config) { c.DHIS2.Async = false },
		},
		{
			name:    "dhis2 basic auth next to a local token",
			console: map[string]any{"dhis2": map[string]any{"username": "admin", "password": "district"}},
			want:    func(c *Config) { c.DHIS2.Username = "admin"; c.DHIS2.Password = "district" },
		},
		{
			name:    "readiness gate as a number",
			console: map[string]any{"export": map[string]any{"min_ready": 0.9}},
			want:    func(c *Config) { c.Export.MinReady = 0.9 },
		},
		{
			name:    "readiness gate as text",
			console: map[string]any{"export": map[string]any{"min_ready": " 0.75 "}},
			want:    func(c *Config) { c.Export.MinReady = 0.75 },
		},
		{
			name:    "readiness gate zero pushes whatever synced",
			console: map[string]any{"export": map[string]any{"min_ready": json.Number("0")}},
			want:    func(c *Config) { c.Export.MinReady = 0 },
		},
		{
			name:    "readiness gate empty keeps the local setting",
			console: map[string]any{"export": map[string]any{"min_ready": ""}},
			want:    func(*Config) {},
		},
		{
			name:    "readiness gate not a number",
			console: map[string]any{"export": map[string]any{"min_ready": "most"}},
			wantErr: `export.min_ready: "most" is not a number (write it like 0.9)`,
		},
		{
			name:    "readiness gate as a boolean",
			console: map[string]any{"export": map[string]any{"min_ready": true}},
			wantErr: "export.min_ready: must be a number, not a boolean",
		},
		{
			name:    "readiness gate above 1 fails validation",
			console: map[string]any{"export": map[string]any{"min_ready": 1.5}},
			wantErr: "export.min_ready",
		},
		{
			name:    "unknown section",
			console: map[string]any{"openhim": map[string]any{"url": "https://evil"}},
			wantErr: "openhim: unknown parameter (the OpenHIM console may set: cht, dhis2, export)",
		},
		{
			name:    "unknown param",
			console: map[string]any{"cht": map[string]any{"urll": "https://x", "url": "https://cht.console"}},
			wantErr: "cht.urll: unknown parameter",
		},
		{
			name:    "section is not an object",
			console: map[string]any{"cht": "https://cht.console"},
			wantErr: "cht: must be an object of settings, not a string",
		},
		{
			name:    "a param naming a section",
			console: map[string]any{"cht": map[string]any{"cht": "x"}},
			wantErr: "cht.cht: unknown parameter",
		},
		{
			name:    "bad duration",
			console: map[string]any{"cht": map[string]any{"timeout": "soon"}},
			wantErr: `cht.timeout: "soon" is not a duration (write it like 30s, 5m or 1h30m)`,
		},
		{
			name:    "duration as number",
			console: map[string]any{"cht": map[string]any{"timeout": float64(60)}},
			wantErr: "cht.timeout: must be a duration written like 30s, 5m or 1h30m, not a number",
		},
		{
			name:    "fractional integer",
			console: map[string]any{"cht": map[string]any{"page_size": 10.5}},
			wantErr: "cht.page_size: 10.5 is not an integer",
		},
		{
			name:    "integer as text",
			console: map[string]any{"cht": map[string]any{"page_size": "many"}},
			wantErr: `cht.page_size: "many" is not an integer`,
		},
		{
			name:    "bad bool",
			console: map[string]any{"dhis2": map[string]any{"async": "yes"}},
			wantErr: `dhis2.async: "yes" is not a boolean (use true or false)`,
		},
		{
			name:    "string as number",
			console: map[string]any{"cht": map[string]any{"url": float64(1)}},
			wantErr: "cht.url: must be a string, not a number",
		},
		{
			name:    "result fails validation",
			console: map[string]any{"cht": map[string]any{"page_size": float64(0), "url": "ftp://x"}},
			wantErr: "cht.url: \"ftp://x\" is not an http or https URL\ncht.page_size: must be at least 1",
		},
		{
			name:    "every error is reported",
			console: map[string]any{"cht": map[string]any{"timeout": "soon", "x": 1}, "log": map[string]any{}},
			wantErr: "cht.timeout: \"soon\" is not a duration (write it like 30s, 5m or 1h30m)\ncht.x: unknown parameter\nlog: unknown parameter",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := consoleBase()
			got, err := base.ApplyConsole(tt.console)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("ApplyConsole() error = %v; want %q", err, tt.wantErr)
				}
				if got != consoleBase() {
					t.Errorf("ApplyConsole() with an error returned a changed config:\n%#v", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ApplyConsole() error = %v", err)
			}
			want := consoleBase()
			tt.want(&want)
			if got != want {
				t.Errorf("ApplyConsole() =\n%#v\nwant\n%#v", got, want)
			}
			if base != consoleBase() {
				t.Errorf("ApplyConsole() changed its receiver")
			}
		})
	}
}

// The console delivers the whole config every time: applying each delivery
// to the loaded config lets a cleared field fall back to the local setting.
func TestApplyConsole_clearedFieldFallsBack(t *testing.T) {
	base := consoleBase()
	first, err := base.ApplyConsole(map[string]any{"cht": map[string]any{"url": "https://cht.console"}})
	if err != nil || first.CHT.URL != "https://cht.console" {
		t.Fatalf("ApplyConsole(first) = %q, %v", first.CHT.URL, err)
	}
	second, err := base.ApplyConsole(map[string]any{"cht": map[string]any{"url": ""}})
	if err != nil || second.CHT.URL != "https://cht.local" {
		t.Errorf("ApplyConsole(cleared) = %q, %v; want the local https://cht.local", second.CHT.URL, err)
	}
}

func TestApplyConsole_noSecretInErrors(t *testing.T) {
	const secret = "S3cr3t-console-pa55"
	cases := []map[string]any{
		{"cht": map[string]any{"password": secret, "page_size": float64(0)}},
		{"cht": map[string]any{"password": secret, "username": ""}, "dhis2": map[string]any{"username": "u", "token": secret, "chunk_size": "x"}},
		{"dhis2": map[string]any{"password": secret, "username": "admin", "url": "nope"}},
		{"cht": map[string]any{"password": []any{secret}}},
		{"dhis2": map[string]any{"token": map[string]any{"v": secret}}},
		{"server": map[string]any{"password": secret}},
		{"cht": map[string]any{"passwd": secret}},
	}
	for i, c := range cases {
		base := Default()
		base.CHT.URL = "https://cht.local"
		_, err := base.ApplyConsole(c)
		if err == nil {
			t.Errorf("case %d: ApplyConsole() = nil error; want one", i)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("case %d: error shows the secret: %v", i, err)
		}
	}
}

// registrationDoc is the part of mediator.json the console config uses.
type registrationDoc struct {
	ConfigDefs []struct {
		Param    string `json:"param"`
		Type     string `json:"type"`
		Template []struct {
			Param string `json:"param"`
			Type  string `json:"type"`
		} `json:"template"`
	} `json:"configDefs"`
	Config map[string]any `json:"config"`
}

// mediator.json's configDefs and default config mention only keys this
// package knows, with types that fit, offer every console key, and the
// default config changes nothing.
func TestApplyConsole_mediatorJSON(t *testing.T) {
	path := filepath.Join("..", "..", "mediator-config", "mediator.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc registrationDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	consoleKeys := ConsoleKeys()
	defaults := Flatten(Default())
	offered := map[string]bool{}
	for _, def := range doc.ConfigDefs {
		if def.Type != "struct" {
			t.Errorf("%s: configDef %s has type %s; want struct (one per config section)", path, def.Param, def.Type)
		}
		for _, f := range def.Template {
			key := ConsoleKey(def.Param, f.Param)
			offered[key] = true
			if !slices.Contains(consoleKeys, key) {
				t.Errorf("%s: configDef %s is not a config key the console may set (ConsoleKeys)", path, key)
				continue
			}
			fv, _ := fieldByKey(new(Config), key)
			var want string
			switch {
			case fv.Type() == secretType:
				want = "password"
			case fv.Type() == durationType:
				want = "string"
			default:
				want = map[string]string{"string": "string", "int": "number", "float64": "number", "bool": "bool"}[fv.Kind().String()]
			}
			if f.Type != want {
				t.Errorf("%s: configDef %s has type %s; want %s for a %s", path, key, f.Type, want, fv.Type())
			}
			if _, ok := defaults[key]; !ok {
				t.Errorf("%s: %s is not in config.Keys()", path, key)
			}
		}
	}
	for _, k := range consoleKeys {
		if !offered[k] {
			t.Errorf("%s does not offer console key %s", path, k)
		}
	}
	for section, v := range doc.Config {
		fields, ok := v.(map[string]any)
		if !ok {
			t.Errorf("%s: config.%s is not an object", path, section)
			continue
		}
		for f, val := range fields {
			key := ConsoleKey(section, f)
			if !offered[key] {
				t.Errorf("%s: config mentions %s, which has no configDef", path, key)
			}
			if val != "" {
				t.Errorf("%s: config.%s = %v; defaults must be empty so that they never override local settings", path, key, val)
			}
		}
	}
	base := consoleBase()
	got, err := base.ApplyConsole(doc.Config)
	if err != nil {
		t.Fatalf("ApplyConsole(%s config) = %v", path, err)
	}
	if got != base {
		t.Errorf("ApplyConsole(%s config) changed the config:\n%#v", path, got)
	}
}

func TestConsoleKeys(t *testing.T) {
	keys := ConsoleKeys()
	if !slices.Contains(keys, "cht.url") || !slices.Contains(keys, "dhis2.token") || !slices.Contains(keys, "export.min_ready") {
		t.Errorf("ConsoleKeys() = %v; want cht.*, dhis2.* and export.* keys", keys)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "cht.") && !strings.HasPrefix(k, "dhis2.") && !strings.HasPrefix(k, "export.") {
			t.Errorf("ConsoleKeys() has %s; the console may only set cht, dhis2 and export", k)
		}
	}
}

// Nested keys travel as flat params: core does not nest structs.
func TestApplyConsole_nestedParams(t *testing.T) {
	got, err := Default().ApplyConsole(map[string]any{
		"cht":   map[string]any{"breaker_failures": 9, "retry_budget": "1m"},
		"dhis2": map[string]any{"breaker_open_for": "45s"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.CHT.Breaker.Failures != 9 || got.CHT.Retry.Budget != time.Minute || got.DHIS2.Breaker.OpenFor != 45*time.Second {
		t.Errorf("ApplyConsole = cht %+v %+v, dhis2 %+v", got.CHT.Breaker, got.CHT.Retry, got.DHIS2.Breaker)
	}
	for key, want := range map[string][2]string{"cht.breaker.failures": {"cht", "breaker_failures"}, "dhis2.url": {"dhis2", "url"}} {
		if s, p := ConsoleParam(key); s != want[0] || p != want[1] || ConsoleKey(s, p) != key {
			t.Errorf("ConsoleParam(%s) = %s, %s; ConsoleKey back = %s", key, s, p, ConsoleKey(s, p))
		}
	}
}
