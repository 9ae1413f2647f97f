package test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/seed"
)

// run runs the built mediator binary with env (plus PATH and HOME only) and
// returns its exit code, stdout and stderr.
func run(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, mediator, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("run mediator %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return code, stdout.String(), stderr.String()
}

var cliOnce sync.Once

// cliDB is a demo district database shared by the CLI tests, plus a data
// set whose targets are all scoped to another data set.
func cliDB(t *testing.T) *seed.Manifest {
	t.Helper()
	docs, m, err := seed.DemoDocs(seed.DemoOptions{End: "2026-10", Months: 1})
	if err != nil {
		t.Fatal(err)
	}
	cliOnce.Do(func() {
		newDB(t, "cli", docs)
		targets := []seed.Target{{ID: seed.TargetBirths, Type: "count", DHIS: &seed.DHIS{DataSet: seed.DemoDataSet, DataElement: seed.DEBirths}}}
		newDB(t, "cli_nomap", []any{seed.SettingsDoc(targets, nil)})
	})
	return m
}

func chtEnv(db string) []string {
	return []string{
		"MEDIATOR_CHT_URL=" + couch.URL(),
		"MEDIATOR_CHT_USERNAME=" + chtUser,
		"MEDIATOR_CHT_PASSWORD=" + chtPassword,
		"MEDIATOR_CHT_DATABASE=" + db,
		// error: retries log at Warn, and a failed command's stderr is one
		// sentence.
		"MEDIATOR_LOG_LEVEL=error",
	}
}

// TestCLI_previewHeapHugePages checks that a one-shot build marks its heap
// for transparent huge pages where the kernel's mode asks for it (madvise),
// as much as the default soft memory limit (100 MiB), and that Go's own
// GODEBUG=disablethp=1 turns it off.
func TestCLI_previewHeapHugePages(t *testing.T) {
	requireServer(t)
	m := cliDB(t)
	raw, _ := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	mode := ""
	for _, f := range strings.Fields(string(raw)) {
		if strings.HasPrefix(f, "[") {
			mode = strings.Trim(f, "[]")
		}
	}
	heapLine := func(godebug string) map[string]any {
		t.Helper()
		env := append(chtEnv("cli"), "MEDIATOR_LOG_LEVEL=debug", "MEDIATOR_LOG_FORMAT=json")
		if godebug != "" {
			env = append(env, "GODEBUG="+godebug)
		}
		code, _, stderr := run(t, env, "preview", "--data-set", m.DataSet, "--period", "202610")
		if code != 0 {
			t.Fatalf("exit %d; stderr:\n%s", code, stderr)
		}
		for line := range strings.Lines(stderr) {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "heap and transparent huge pages" {
				return rec
			}
		}
		t.Fatalf("no heap line in stderr:\n%s", stderr)
		return nil
	}
	rec := heapLine("")
	if rec["thp_mode"] != mode {
		t.Errorf("thp_mode = %v, want the kernel's %q", rec["thp_mode"], mode)
	}
	wantMiB := 0.0
	if mode == "madvise" {
		wantMiB = 100
	}
	if rec["marked_mib"] != wantMiB || (wantMiB == 0) != (rec["skipped"] != "") {
		t.Errorf("with THP mode %q: %v; want %v MiB marked", mode, rec, wantMiB)
	}
	rec = heapLine("disablethp=1")
	if rec["marked_mib"] != 0.0 || rec["skipped"] == "" {
		t.Errorf("with GODEBUG=disablethp=1: %v; want nothing marked, with the reason", rec)
	}
}

func TestCLI_preview(t *testing.T) {
	requireServer(t)
	m := cliDB(t)
	code, stdout, stderr := run(t, chtEnv("cli"), "preview", "--data-set", m.DataSet, "--period", "202610")
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	var set export.DataValueSet
	if err := json.Unmarshal([]byte(stdout), &set); err != nil {
		t.Fatalf("stdout is not a data value set: %v\n%s", err, stdout)
	}
	if set.DataSet != m.DataSet || set.Period != "202610" || set.CompleteDate != time.Now().Format(time.DateOnly) {
		t.Errorf("header = %q %q %q", set.DataSet, set.Period, set.CompleteDate)
	}
	diff(t, "cli", values(t, set, "202610"), demoExpected(m, m.DataSet, "2026-10"))
	rest, summary := splitReadiness(stderr)
	if rest != "" {
		t.Errorf("stderr = %q; want only the readiness summary for clean data at level warn", stderr)
	}
	if !strings.HasPrefix(summary, "readiness 202610: ready: 10 of 10 expected CHWs synced the month (10 final,") {
		t.Errorf("readiness summary = %q; want the month ready, every CHW final", summary)
	}

	// The config file, --set over environment, and an org unit filter.
	cfg := filepath.Join(t.TempDir(), "mediator.yaml")
	if err := os.WriteFile(cfg, []byte("cht:\n  url: http://127.0.0.1:1\n  page_size: 2\nlog:\n  level: warn\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"MEDIATOR_CHT_USERNAME=" + chtUser, "MEDIATOR_CHT_PASSWORD=" + chtPassword, "MEDIATOR_CHT_DATABASE=cli"}
	code, stdout, stderr = run(t, env, "preview", "--config", cfg, "--set", "cht.url="+couch.URL(),
		"--data-set", m.DataSet, "--period", "202610", "--org-unit", seed.OUKanji)
	if code != 0 {
		t.Fatalf("with --config and --set: exit %d; stderr:\n%s", code, stderr)
	}
	set = export.DataValueSet{}
	if err := json.Unmarshal([]byte(stdout), &set); err != nil {
		t.Fatal(err)
	}
	for _, dv := range set.DataValues {
		if dv.OrgUnit != seed.OUKanji {
			t.Errorf("--org-unit %s returned org unit %s", seed.OUKanji, dv.OrgUnit)
		}
	}
	if len(set.DataValues) == 0 {
		t.Error("--org-unit returned no values")
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// Bad arguments and broken upstreams give one clear sentence on stderr, the
// right exit code, and never a stack trace or a credential.
func TestCLI_errors(t *testing.T) {
	requireServer(t)
	m := cliDB(t)
	const wrongPassword = "Wr0ng-Passw0rd-Must-Not-Leak"
	down := closedPort(t)
	tests := []struct {
		name     string
		env      []string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no command", nil, nil, 2, "Usage:"},
		{"unknown command", nil, []string{"launch"}, 2, `mediator: unknown command "launch"`},
		{"missing data set", chtEnv("cli"), []string{"preview", "--period", "202610"}, 2, "mediator: preview: --data-set is required"},
		{"missing period", chtEnv("cli"), []string{"preview", "--data-set", m.DataSet}, 2, "mediator: preview: --period is required"},
		{"period 2024-13", chtEnv("cli"), []string{"preview", "--data-set", m.DataSet, "--period", "2024-13"}, 2, `period "2024-13" is not a month: use YYYYMM`},
		{"period 202413", chtEnv("cli"), []string{"preview", "--data-set", m.DataSet, "--period", "202413"}, 2, `period "202413": month 13 is not 01-12`},
		{"children without org unit", chtEnv("cli"), []string{"preview", "--data-set", m.DataSet, "--period", "202610", "--children"}, 2, "--children needs --org-unit"},
		{"unknown flag", chtEnv("cli"), []string{"preview", "--dataset", m.DataSet}, 2, "flag provided but not defined: -dataset"},
		{"unknown data set", chtEnv("cli"), []string{"preview", "--data-set", "dsUnknown01", "--period", "202610"}, 2, `data set "dsUnknown01" is not in CHT's dhis_data_sets`},
		{"data set without targets", chtEnv("cli_nomap"), []string{"preview", "--data-set", seed.OtherDataSet, "--period", "202610"}, 2, `data set "dsCHTOther1" has no target mapped to it`},
		{"org unit nobody maps", chtEnv("cli"), []string{"preview", "--data-set", m.DataSet, "--period", "202610", "--org-unit", "ouNowhere01"}, 2, `org unit "ouNowhere01" is not mapped on any CHT contact`},
		{"no cht url", []string{"MEDIATOR_LOG_LEVEL=warn"}, []string{"preview", "--data-set", m.DataSet, "--period", "202610"}, 2, "cht.url: required (set it in the config file or MEDIATOR_CHT_URL)"},
		{"unknown config variable", append(chtEnv("cli"), "MEDIATOR_CHT_PASWORD=x"), []string{"preview", "--data-set", m.DataSet, "--period", "202610"}, 2, "MEDIATOR_CHT_PASWORD: unknown environment variable"},
		{"bad config value", append(chtEnv("cli"), "MEDIATOR_CHT_PAGE_SIZE=-1"), []string{"preview", "--data-set", m.DataSet, "--period", "202610"}, 2, "cht.page_size: must be at least 1"},
		{"page size not a number", append(chtEnv("cli"), "MEDIATOR_CHT_PAGE_SIZE=abc"), []string{"preview", "--data-set", m.DataSet, "--period", "202610"}, 2, `cht.page_size (MEDIATOR_CHT_PAGE_SIZE): "abc" is not a whole number: write digits only, like 500`},
		{"duration without unit", append(chtEnv("cli"), "MEDIATOR_CHT_TIMEOUT=5"), []string{"preview", "--data-set", m.DataSet, "--period", "202610"}, 2, `cht.timeout (MEDIATOR_CHT_TIMEOUT): "5" has no unit: write a duration like 5s, 5m or 1h30m`},
		{"missing config file", chtEnv("cli"), []string{"preview", "--config", "/nonexistent.yaml", "--data-set", m.DataSet, "--period", "202610"}, 2, "open config file"},
		{"cht unreachable", append(chtEnv("cli"), "MEDIATOR_CHT_URL=http://"+down), []string{"preview", "--data-set", m.DataSet, "--period", "202610"}, 1, "unreachable"},
		{"wrong password", append(chtEnv("cli"), "MEDIATOR_CHT_PASSWORD="+wrongPassword), []string{"preview", "--data-set", m.DataSet, "--period", "202610"}, 1, "401"},
		{"no credentials", []string{"MEDIATOR_CHT_URL=" + couch.URL(), "MEDIATOR_CHT_DATABASE=cli", "MEDIATOR_LOG_LEVEL=warn"}, []string{"preview", "--data-set", m.DataSet, "--period", "202610"}, 1, "401"},
		{"unknown database", chtEnv("nodb"), []string{"preview", "--data-set", m.DataSet, "--period", "202610"}, 1, "404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(t, tt.env, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d; want %d; stderr:\n%s", code, tt.wantCode, stderr)
			}
			if !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("stderr = %q; want it to contain %q", stderr, tt.wantErr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q; want nothing on failure", stdout)
			}
			for _, bad := range []string{"panic", "goroutine ", ".go:", wrongPassword, chtPassword} {
				if strings.Contains(stderr, bad) {
					t.Errorf("stderr contains %q:\n%s", bad, stderr)
				}
			}
			if tt.wantCode != 0 && len(tt.args) > 0 && tt.name != "unknown flag" {
				if lines := strings.Count(strings.TrimSpace(stderr), "\n") + 1; lines != 1 {
					t.Errorf("stderr has %d lines; want one sentence:\n%s", lines, stderr)
				}
			}
		})
	}
}

func TestCLI_version(t *testing.T) {
	requireServer(t)
	code, stdout, _ := run(t, nil, "version")
	if code != 0 || strings.TrimSpace(stdout) == "" {
		t.Errorf("version: exit %d, stdout %q", code, stdout)
	}
	code, stdout, stderr := run(t, nil, "version", "--help")
	if code != 0 || stdout != "" || !strings.Contains(stderr, "Usage: mediator version") {
		t.Errorf("version --help: exit %d, stdout %q, stderr %q; want the usage on stderr", code, stdout, stderr)
	}
	code, stdout, _ = run(t, nil, "--help")
	if code != 0 || !strings.Contains(stdout, "serve [--check-config]") {
		t.Errorf("--help: exit %d, stdout %q; want serve --check-config listed", code, stdout)
	}
}

// The real binary serves until SIGTERM, then stops cleanly with exit 0.
func TestCLI_serve(t *testing.T) {
	requireServer(t)
	// --check-config refuses what serve refuses: registration on (the
	// default) without openhim.password.
	if code, stdout, stderr := run(t, nil, "serve", "--check-config"); code != 2 || !strings.Contains(stderr, "openhim.password") || stdout != "" {
		t.Errorf("serve --check-config without openhim.password: exit %d, %q %q; want 2 naming openhim.password", code, stdout, stderr)
	}
	if code, stdout, stderr := run(t, []string{"MEDIATOR_OPENHIM_PASSWORD=x"}, "serve", "--check-config"); code != 0 || !strings.Contains(stdout, "configuration OK") {
		t.Fatalf("serve --check-config: exit %d, %q %q", code, stdout, stderr)
	}
	if code, _, stderr := run(t, []string{"MEDIATOR_SERVER_ADDR=nonsense"}, "serve", "--check-config"); code != 2 || !strings.Contains(stderr, "server.addr") {
		t.Errorf("serve --check-config with a bad address: exit %d, %q", code, stderr)
	}
	addr := closedPort(t)
	cmd := exec.Command(mediator, "serve")
	cmd.Env = append(chtEnv("cli"), "PATH="+os.Getenv("PATH"), "MEDIATOR_SERVER_ADDR="+addr, "MEDIATOR_OPENHIM_REGISTER=false", "GORACE=atexit_sleep_ms=0", "MEDIATOR_LOG_LEVEL=info")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	eventually(t, 20*time.Second, "GET /health answers", func() bool {
		resp, err := http.Get("http://" + addr + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve after SIGTERM: %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("serve did not stop after SIGTERM; stderr:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "stopped") {
		t.Errorf("no stop in the log:\n%s", stderr.String())
	}
}
