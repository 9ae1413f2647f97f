package test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	himsandbox "github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/sandbox/openhim/sandbox"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/seed"
)

const (
	metricsUser     = "openhim-route"
	metricsPassword = "Route-Metrics-Passw0rd-77"
)

// The binary serves GET /metrics behind its basic auth, and what it shows
// follows the exports: a successful one counts its values and the CHT docs
// it read; with DHIS2 down the next one counts as an error, DHIS2's 5xx
// answers and the calls its open breaker refused are counted, and the
// breaker shows open. Registration with OpenHIM (the sandbox) shows too.
func TestMetrics_scrapedFromTheBinary(t *testing.T) {
	_, mo, want := exportDemo(t)
	ds := seed.DemoDataSet
	sb := newSandbox(t, "2.40.3", demoMetadata(t))
	dhis := &switchHandler{}
	dhis.set(sb)
	dhisURL := serve(t, dhis)

	core, err := himsandbox.New(himsandbox.Options{RootUser: himRoot, RootPassword: himPassword})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewTLSServer(core.APIHandler())
	t.Cleanup(api.Close)
	caFile := filepath.Join(t.TempDir(), "core-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: api.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}

	addr := closedPort(t)
	cmd := exec.Command(mediator, "serve")
	cmd.Env = exportEnv(exportDB, dhisURL, false,
		"PATH="+os.Getenv("PATH"),
		"MEDIATOR_SERVER_ADDR="+addr,
		"MEDIATOR_SERVER_USERNAME="+metricsUser,
		"MEDIATOR_SERVER_PASSWORD="+metricsPassword,
		"MEDIATOR_OPENHIM_URL="+api.URL,
		"MEDIATOR_OPENHIM_USERNAME="+himRoot,
		"MEDIATOR_OPENHIM_PASSWORD="+himPassword,
		"MEDIATOR_OPENHIM_TLS_CA_FILE="+caFile,
		"MEDIATOR_OPENHIM_HEARTBEAT_INTERVAL=200ms",
		"MEDIATOR_DHIS2_RETRY_ATTEMPTS=1",
		"MEDIATOR_DHIS2_BREAKER_FAILURES=2",
		"MEDIATOR_DHIS2_BREAKER_OPEN_FOR=10m",
	)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("serve did not stop within 30s of SIGTERM")
		}
	})
	base := "http://" + addr
	get := func(path string, auth bool) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if auth {
			req.SetBasicAuth(metricsUser, metricsPassword)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	eventually(t, 30*time.Second, "GET /health answers", func() bool { code, _ := get("/health", false); return code == 200 })

	if code, _ := get("/metrics", false); code != http.StatusUnauthorized {
		t.Errorf("GET /metrics without credentials: %d; want 401 (server.metrics_auth defaults to true)", code)
	}
	var text string
	eventually(t, 20*time.Second, "/metrics shows the mediator registered with OpenHIM", func() bool {
		var code int
		code, text = get("/metrics", true)
		return code == 200 && metricValue(text, "cht_dhis2_mediator_openhim_registered") == 1 &&
			metricValue(text, "cht_dhis2_mediator_openhim_last_heartbeat_timestamp_seconds") > 0
	})
	if v := metricValue(text, `cht_dhis2_mediator_circuit_breaker_state{upstream="dhis2"}`); v != 0 {
		t.Errorf("dhis2 breaker state %v before any export; want 0 (closed)", v)
	}

	// A successful export.
	q := "/export?dataSet=" + ds + "&period=" + mo.Period()
	code, body := get(q, true)
	if code != 200 {
		t.Fatalf("GET %s: %d %s", q, code, body)
	}
	var env struct {
		Response struct {
			Body string `json:"body"`
		} `json:"response"`
	}
	var rep export.Report
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(env.Response.Body), &rep); err != nil || rep.Readiness == nil {
		t.Fatalf("report %s: %v; want one with its readiness", env.Response.Body, err)
	}
	if got := len(storedValues(t, sb, mo.Period())); got != len(want) {
		t.Fatalf("DHIS2 stored %d values; want %d", got, len(want))
	}
	_, text = get("/metrics", true)
	exports := func(outcome string) string {
		return `cht_dhis2_mediator_exports_total{data_set="` + ds + `",dry_run="false",outcome="` + outcome + `"}`
	}
	checks := []struct {
		series string
		want   func(float64) bool
		what   string
	}{
		{exports("successful"), eq(1), "1"},
		{`cht_dhis2_mediator_export_values_total{data_set="` + ds + `",kind="built"}`, eq(float64(len(want))), strconv.Itoa(len(want))},
		{`cht_dhis2_mediator_export_values_total{data_set="` + ds + `",kind="pushed"}`, eq(float64(len(want))), strconv.Itoa(len(want))},
		{`cht_dhis2_mediator_export_values_total{data_set="` + ds + `",kind="rejected"}`, eq(0), "0"},
		{`cht_dhis2_mediator_export_duration_seconds_count{data_set="` + ds + `",outcome="successful"}`, eq(1), "1"},
		{`cht_dhis2_mediator_cht_docs_read_total{data_set="` + ds + `"}`, gt(0), "> 0"},
		{`cht_dhis2_mediator_export_last_success_timestamp_seconds{data_set="` + ds + `"}`, gt(float64(time.Now().Add(-time.Hour).Unix())), "within the hour"},
		{`cht_dhis2_mediator_upstream_request_duration_seconds_count{result="2xx",upstream="cht"}`, gt(0), "> 0"},
		{`cht_dhis2_mediator_upstream_request_duration_seconds_count{result="2xx",upstream="dhis2"}`, gt(0), "> 0"},
		{`cht_dhis2_mediator_upstream_request_duration_seconds_count{result="2xx",upstream="openhim"}`, gt(0), "> 0"},
		{`cht_dhis2_mediator_upstream_errors_total{reason="http_5xx",upstream="dhis2"}`, eq(0), "0"},
		{`cht_dhis2_mediator_readiness_ratio{data_set="` + ds + `"}`, eq(rep.Readiness.Ratio), "the report's readiness ratio " + strconv.FormatFloat(rep.Readiness.Ratio, 'g', -1, 64)},
	}
	check := func(when string) {
		t.Helper()
		for _, c := range checks {
			if v := metricValue(text, c.series); !c.want(v) {
				t.Errorf("%s: %s = %v; want %s", when, c.series, v, c.what)
			}
		}
	}
	check("after a successful export")

	// DHIS2 goes down: the export errors, its 5xx answers open the breaker.
	dhis.set(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"httpStatus":"Service Unavailable","httpStatusCode":503,"status":"ERROR","message":"down"}`, http.StatusServiceUnavailable)
	}))
	// Two 503s open the breaker (dhis2.breaker.failures=2); the third
	// export is refused by it without a call.
	for range 3 {
		if code, body := get(q, true); code != http.StatusBadGateway {
			t.Errorf("GET %s with DHIS2 down: %d %s; want 502", q, code, body)
		}
	}
	_, text = get("/metrics", true)
	checks = []struct {
		series string
		want   func(float64) bool
		what   string
	}{
		{exports("successful"), eq(1), "still 1"},
		{exports("error"), eq(3), "3"},
		{`cht_dhis2_mediator_export_values_total{data_set="` + ds + `",kind="pushed"}`, eq(float64(len(want))), "unchanged"},
		{`cht_dhis2_mediator_upstream_errors_total{reason="http_5xx",upstream="dhis2"}`, eq(2), "2 (the breaker opened then)"},
		{`cht_dhis2_mediator_upstream_errors_total{reason="breaker_open",upstream="dhis2"}`, gt(0), "> 0 (the third export)"},
		{`cht_dhis2_mediator_circuit_breaker_state{upstream="dhis2"}`, eq(2), "2 (open)"},
		{`cht_dhis2_mediator_circuit_breaker_state{upstream="cht"}`, eq(0), "0 (closed)"},
	}
	check("with DHIS2 down")
	noSecrets(t, "/metrics", text)
	if strings.Contains(text, metricsPassword) || strings.Contains(text, dhisPassword) {
		t.Error("/metrics shows a credential")
	}
	if t.Failed() {
		t.Logf("stderr:\n%s", stderr.String())
	}
}

func eq(want float64) func(float64) bool { return func(v float64) bool { return v == want } }
func gt(than float64) func(float64) bool { return func(v float64) bool { return v > than } }

// metricValue returns the value of series (name with its labels, as the
// text format writes them: sorted by name) in a /metrics answer, or -1
// when it is absent.
func metricValue(text, series string) float64 {
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, series+" ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.Fields(rest)[0], 64)
		if err != nil {
			return -1
		}
		return v
	}
	return -1
}
