package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// setenv sets each KEY=value of env for the rest of the test.
func setenv(t *testing.T, env ...string) {
	t.Helper()
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

func loadFixture(t *testing.T, name string, env []string, flags map[string]string) (Config, error) {
	t.Helper()
	setenv(t, env...)
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return Load(Sources{File: f, FileName: name, Flags: flags})
}

func TestLoad_invalid(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"invalid-unknown-key.yaml", "cht.urll: unknown key in invalid-unknown-key.yaml"},
		{"invalid-cht-url.yaml", `cht.url: "ftp://x" is not an http or https URL`},
		{"invalid-page-size.yaml", "cht.page_size: must be at least 1"},
		{"invalid-timeout.yaml", `cht.timeout: "soon" is not a duration: write it like 30s, 5m or 1h30m`},
		{"invalid-timeout-no-unit.yaml", `cht.timeout: 5 has no unit: write a duration like 5s, 5m or 1h30m`},
		{"invalid-page-size-text.yaml", `cht.page_size: "lots" is not a whole number: write digits only, like 500`},
		{"invalid-database.yaml", `cht.database: "Medic" is not a valid CouchDB database name`},
		{"invalid-cht-password-missing.yaml", "cht.password: required when cht.username is set"},
		{"invalid-dhis2-half-basic.yaml", "dhis2.username, dhis2.password: set both, or set dhis2.token instead"},
		{"invalid-openhim-auth.yaml", `openhim.auth: "oauth" is not one of: basic, token`},
		{"invalid-openhim-register.yaml", `openhim.register: "maybe" is not a boolean: write true or false`},
		{"invalid-log-level.yaml", `log.level: "loud" is not one of: debug, info, warn, error`},
		{"invalid-server-addr.yaml", `server.addr: "nonsense" is not a host:port listen address`},
		{"invalid-server-password-missing.yaml", "server.password: required when username is set"},
		{"invalid-yaml.yaml", "parse invalid-yaml.yaml: "},
		{"invalid-openhim-ca-file.yaml", `openhim.tls_ca_file: "/nonexistent/ca.pem" is not a readable file`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := loadFixture(t, tt.file, nil, nil)
			if err == nil {
				t.Fatalf("Load(%s) = nil error; want %q", tt.file, tt.want)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Load(%s) = %q; want %q", tt.file, err, tt.want)
			}
		})
	}
}

func TestLoad_good(t *testing.T) {
	cfg, err := loadFixture(t, "good.yaml", nil, nil)
	if err != nil {
		t.Fatalf("Load(good.yaml) = %v", err)
	}
	want := Default()
	want.Server.Addr = ":9000"
	want.CHT.URL = "https://cht.example.org"
	want.CHT.Username = "dhis2-export"
	want.CHT.Password = "cht-pass"
	want.CHT.PageSize = 500
	want.DHIS2.URL = "https://dhis2.example.org"
	want.DHIS2.Token = "d2pat_abc"
	want.DHIS2.ChunkSize = 2000
	want.OpenHIM.URL = "https://openhim.example.org:8080"
	want.OpenHIM.Password = "openhim-pass"
	want.OpenHIM.TLSInsecureSkipVerify = true
	want.Log = Log{Level: "debug", Format: "text"}
	if cfg != want {
		t.Errorf("Load(good.yaml) =\n%#v\nwant\n%#v", cfg, want)
	}
}

func TestLoad_defaultsAreValid(t *testing.T) {
	cfg, err := Load(Sources{})
	if err != nil {
		t.Fatalf("Load(no sources) = %v", err)
	}
	if cfg != Default() {
		t.Errorf("Load(no sources) = %#v; want Default()", cfg)
	}
	if err := cfg.RequireCHT(); err == nil || err.Error() != "cht.url: required (set it in the config file or MEDIATOR_CHT_URL)" {
		t.Errorf("RequireCHT() = %v", err)
	}
	if err := cfg.RequireDHIS2(); err == nil || !strings.Contains(err.Error(), "dhis2.url: required") {
		t.Errorf("RequireDHIS2() = %v", err)
	}
}

// Precedence: defaults < file < environment < flags.
func TestLoad_precedence(t *testing.T) {
	env := []string{
		"MEDIATOR_CHT_PAGE_SIZE=700",     // file says 500: env wins
		"MEDIATOR_CHT_DATABASE=medic_ke", // file silent: env wins over default
		"MEDIATOR_DHIS2_CHUNK_SIZE=3000", // flag below wins over env
		"PATH=/usr/bin",                  // not ours: ignored
		"MEDIATOR_CHT_TIMEOUT=45s",
		"MEDIATOR_OPENHIM_REGISTER=FALSE",
	}
	flags := map[string]string{"dhis2.chunk_size": "4000", "log.level": "warn"}
	cfg, err := loadFixture(t, "good.yaml", env, flags)
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	checks := []struct {
		key       string
		got, want any
	}{
		{"server.addr (file)", cfg.Server.Addr, ":9000"},
		{"cht.page_size (env over file)", cfg.CHT.PageSize, 700},
		{"cht.database (env over default)", cfg.CHT.Database, "medic_ke"},
		{"dhis2.chunk_size (flag over env)", cfg.DHIS2.ChunkSize, 4000},
		{"log.level (flag over file)", cfg.Log.Level, "warn"},
		{"cht.timeout (env duration)", cfg.CHT.Timeout, 45 * time.Second},
		{"openhim.register (env bool)", cfg.OpenHIM.Register, false},
		{"cht.batch_size (default)", cfg.CHT.BatchSize, Default().CHT.BatchSize},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v; want %v", c.key, c.got, c.want)
		}
	}
}

func TestLoad_unknownEnvAndFlag(t *testing.T) {
	setenv(t, "MEDIATOR_CHT_URLL=x", "MEDIATOR_CHT_URL=http://ok")
	_, err := Load(Sources{Flags: map[string]string{"cht.nope": "1"}})
	want := "MEDIATOR_CHT_URLL: unknown environment variable (no such config key); unset it or fix its name\ncht.nope: unknown config key"
	if err == nil || err.Error() != want {
		t.Errorf("Load = %v; want %q", err, want)
	}
}

func TestLoad_everyBadKeyNamed(t *testing.T) {
	setenv(t, "MEDIATOR_CHT_URL=notaurl", "MEDIATOR_CHT_PAGE_SIZE=0", "MEDIATOR_LOG_FORMAT=xml")
	_, err := Load(Sources{})
	if err == nil {
		t.Fatal("Load = nil; want errors")
	}
	for _, key := range []string{"cht.url", "cht.page_size", "log.format"} {
		if !strings.Contains(err.Error(), key+":") {
			t.Errorf("Load error %q does not name %s", err, key)
		}
	}
}

func TestEnvName(t *testing.T) {
	for key, want := range map[string]string{
		"cht.url":                          "MEDIATOR_CHT_URL",
		"openhim.tls_insecure_skip_verify": "MEDIATOR_OPENHIM_TLS_INSECURE_SKIP_VERIFY",
	} {
		if got := EnvName(key); got != want {
			t.Errorf("EnvName(%q) = %q; want %q", key, got, want)
		}
	}
}

// Every key can be set from the environment: viper's binding reads it.
func TestLoad_everyKeyFromEnv(t *testing.T) {
	for _, key := range Keys() {
		t.Run(key, func(t *testing.T) {
			val := sample(key)
			t.Setenv(EnvName(key), val)
			cfg, err := Load(Sources{})
			if err != nil && strings.Contains(err.Error(), "unknown environment variable") {
				t.Fatalf("%s: %v", EnvName(key), err)
			}
			if err != nil {
				return // a sample that does not validate alone (e.g. a password without user)
			}
			if got := fmt.Sprint(Flatten(cfg)[key]); got != fmt.Sprint(sampleValue(key)) {
				t.Errorf("%s=%s: %s = %s", EnvName(key), val, key, got)
			}
		})
	}
}

// Values the environment cannot be trusted with are refused with the
// variable named and what to write.
func TestLoad_badEnvValues(t *testing.T) {
	tests := []struct{ env, want string }{
		{"MEDIATOR_CHT_PAGE_SIZE=abc", `cht.page_size (MEDIATOR_CHT_PAGE_SIZE): "abc" is not a whole number: write digits only, like 500`},
		{"MEDIATOR_CHT_TIMEOUT=5", `cht.timeout (MEDIATOR_CHT_TIMEOUT): "5" has no unit: write a duration like 5s, 5m or 1h30m`},
		{"MEDIATOR_DHIS2_ASYNC=yes", `dhis2.async (MEDIATOR_DHIS2_ASYNC): "yes" is not a boolean: write true or false`},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			setenv(t, tt.env)
			_, err := Load(Sources{})
			if err == nil || err.Error() != tt.want {
				t.Errorf("Load = %v; want %q", err, tt.want)
			}
		})
	}
	_, err := Load(Sources{Flags: map[string]string{"dhis2.timeout": "90"}})
	if want := `dhis2.timeout (--set): "90" has no unit: write a duration like 90s, 90m or 1h30m`; err == nil || err.Error() != want {
		t.Errorf("Load(--set dhis2.timeout=90) = %v; want %q", err, want)
	}
}

func sampleValue(key string) any {
	switch v := Flatten(Default())[key].(type) {
	case time.Duration:
		return 5 * time.Second
	case bool:
		return true
	default:
		return v
	}
}

func sample(key string) string {
	switch v := Flatten(Default())[key].(type) {
	case time.Duration:
		return "5s"
	case bool:
		return "true"
	case int:
		return fmt.Sprint(v)
	default:
		return fmt.Sprint(v)
	}
}

func TestSecret_neverPrinted(t *testing.T) {
	const pw = "hunter2-very-secret"
	setenv(t, "MEDIATOR_CHT_URL=http://cht", "MEDIATOR_CHT_USERNAME=u", "MEDIATOR_CHT_PASSWORD="+pw,
		"MEDIATOR_DHIS2_TOKEN="+pw, "MEDIATOR_OPENHIM_PASSWORD="+pw, "MEDIATOR_SERVER_USERNAME=x", "MEDIATOR_SERVER_PASSWORD="+pw)
	cfg, err := Load(Sources{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CHT.Password.Reveal() != pw {
		t.Fatalf("Reveal() = %q; want the password", cfg.CHT.Password.Reveal())
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var logBuf strings.Builder
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("config", "cfg", cfg, "pw", cfg.CHT.Password)
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("config", "cfg", cfg, "pw", cfg.DHIS2.Token)
	outputs := map[string]string{
		"%v":   fmt.Sprintf("%v", cfg),
		"%+v":  fmt.Sprintf("%+v", cfg),
		"%#v":  fmt.Sprintf("%#v", cfg),
		"%s":   cfg.CHT.Password.String(),
		"json": strings.ReplaceAll(strings.ReplaceAll(string(js), `\u003c`, "<"), `\u003e`, ">"),
		"slog": logBuf.String(),
	}
	for how, out := range outputs {
		if strings.Contains(out, pw) {
			t.Errorf("%s output contains the secret: %s", how, out)
		}
		if !strings.Contains(out, "<secret>") {
			t.Errorf("%s output does not show <secret>: %s", how, out)
		}
	}
	if Secret("").String() != "" {
		t.Errorf(`Secret("").String() = %q; want ""`, Secret("").String())
	}
}
