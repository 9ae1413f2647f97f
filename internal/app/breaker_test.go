package app

import (
	"encoding/json"
	"errors"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/redact"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/breaker"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/config"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/openhim"
)

const testCHTPassword = "app-Test-Passw0rd-x9"

// failingCHT is a CHT that answers 503 to everything, counting the calls.
func failingCHT(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"error":"service_unavailable","reason":"down for maintenance"}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &calls
}

func testApp(t *testing.T, chtURL string) *App {
	t.Helper()
	cfg, err := config.Load(config.Sources{Flags: map[string]string{
		"server.addr":                    "127.0.0.1:0",
		"cht.url":                        chtURL,
		"cht.username":                   "medic-api",
		"cht.password":                   testCHTPassword,
		"cht.retry.attempts":             "1",
		"cht.breaker.failures":           "2",
		"cht.breaker.open_for":           "1m",
		"openhim.register":               "false",
		"openhim.password":               "unused-Core-Passw0rd",
		"dhis2.url":                      "http://dhis2.invalid",
		"dhis2.token":                    "d2pat_unusedTokenForTheAppTests0000",
		"dhis2.breaker.failures":         "4",
		"openhim.breaker.open_for":       "10s",
		"cht.breaker.half_open_requests": "1",
	}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// exportVia sends GET /export to the app's handler and decodes the
// envelope.
func exportVia(t *testing.T, a *App) (int, openhim.Response, time.Duration) {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/export?dataSet=dsCHTMonth1&period=202401", nil)
	start := time.Now()
	a.Handler().ServeHTTP(rec, req)
	took := time.Since(start)
	var env openhim.Response
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
		t.Fatalf("answer is not an envelope: %v\n%s", err, rec.Body)
	}
	return rec.Code, env, took
}

// An open breaker's error reaches OpenHIM as a Failed transaction whose
// message names the upstream, at once and without calling it.
func TestApp_breakerOpenFailsFast(t *testing.T) {
	url, calls := failingCHT(t)
	a := testApp(t, url)
	for i := range 2 {
		code, env, _ := exportVia(t, a)
		if code != http.StatusBadGateway || env.Status != openhim.StatusFailed || !strings.Contains(env.Response.Body, "503") {
			t.Fatalf("export %d: %d %s %s; want 502 Failed naming the 503", i+1, code, env.Status, env.Response.Body)
		}
	}
	if got := a.Breakers()["cht"]; got != breaker.StateOpen {
		t.Fatalf("cht breaker %q after 2 failures; want open", got)
	}
	before := calls.Load()
	code, env, took := exportVia(t, a)
	if calls.Load() != before {
		t.Errorf("an export with the breaker open called CHT")
	}
	if took > 50*time.Millisecond {
		t.Errorf("an export with the breaker open took %v; want under 50ms", took)
	}
	if code != http.StatusBadGateway || env.Status != openhim.StatusFailed {
		t.Errorf("answer %d %s; want 502 Failed", code, env.Status)
	}
	var msg struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(env.Response.Body), &msg); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg.Message, "cht: circuit breaker open after 2 consecutive failures") || !strings.Contains(msg.Message, "next try in") {
		t.Errorf("message %q; want it to name cht's open breaker and the next try", msg.Message)
	}
	if env.Error == nil || !strings.Contains(env.Error.Message, "circuit breaker open") {
		t.Errorf("envelope error %+v; want it set, so core may retry the transaction", env.Error)
	}
	if strings.Contains(msg.Message, testCHTPassword) {
		t.Error("the message holds CHT's password")
	}

	// /health shows every breaker.
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
	var health struct {
		Breakers map[string]breaker.Status `json:"breakers"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &health); err != nil {
		t.Fatal(err)
	}
	if st := health.Breakers["cht"]; st.State != breaker.StateOpen || st.ConsecutiveFailures != 2 || st.NextTry == nil || st.LastFailure != "status 503" {
		t.Errorf("/health cht breaker = %+v; want open after 2 failures, with the next try", st)
	}
	if st, ok := health.Breakers["dhis2"]; !ok || st.State != breaker.StateClosed {
		t.Errorf("/health dhis2 breaker = %+v, %t; want closed", st, ok)
	}
	if strings.Contains(rec.Body.String(), testCHTPassword) {
		t.Error("/health holds CHT's password")
	}
}

// A config from the console rebuilds the clients but keeps the breakers,
// unless their settings changed.
func TestApp_breakersSurviveConsoleConfig(t *testing.T) {
	url, _ := failingCHT(t)
	a := testApp(t, url)
	exportVia(t, a)
	exportVia(t, a)
	if got := a.Breakers()["cht"]; got != breaker.StateOpen {
		t.Fatalf("cht breaker %q; want open", got)
	}
	if err := a.applyConsole(map[string]any{"cht": map[string]any{"locale": "fr"}}); err != nil {
		t.Fatal(err)
	}
	if a.Config().CHT.Locale != "fr" {
		t.Fatalf("console config not applied: locale %q", a.Config().CHT.Locale)
	}
	if got := a.Breakers()["cht"]; got != breaker.StateOpen {
		t.Errorf("cht breaker %q after a console config; want still open", got)
	}
	_, env, _ := exportVia(t, a)
	if !strings.Contains(env.Response.Body, "circuit breaker open") {
		t.Errorf("export after the rebuild: %s; want the open breaker's answer", env.Response.Body)
	}
	if err := a.applyConsole(map[string]any{"cht": map[string]any{"breaker_failures": 3}}); err != nil {
		t.Fatal(err)
	}
	if got := a.Breakers()["cht"]; got != breaker.StateClosed {
		t.Errorf("cht breaker %q after new breaker settings; want a new, closed one", got)
	}
}

// The upstream clients' stack: the breaker sits outside the retries (one
// logical call counts once), retries only idempotent calls.
func TestUpstreamClient_stack(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusBadGateway)
	}))
	t.Cleanup(srv.Close)
	b := breaker.New("cht", breaker.Settings{Failures: 2, OpenFor: time.Minute}, nil)
	hc := upstreamClient(5*time.Second, b, config.Retry{Attempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond, Budget: time.Second}, nil, nil)
	for range 2 {
		resp, err := hc.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if calls.Load() != 6 {
		t.Errorf("%d calls; want 2 logical calls of 3 tries", calls.Load())
	}
	if _, err := hc.Get(srv.URL); !errors.Is(err, breaker.ErrOpen) {
		t.Errorf("third call: %v; want the open breaker", err)
	}
	if calls.Load() != 6 {
		t.Errorf("%d calls; want none while open", calls.Load())
	}
}

// A console config is applied whole or not at all: one refused while its
// clients are built (here a DHIS2 URL with credentials in it) leaves the
// config, the breakers and their state as they were, and its error and the
// log hold no password.
func TestApp_refusedConsoleConfigKeepsBreakers(t *testing.T) {
	url, _ := failingCHT(t)
	a := testApp(t, url)
	var logs strings.Builder
	a.log = slog.New(redact.NewHandler(slog.NewJSONHandler(&logs, nil), a.redactor))
	exportVia(t, a)
	exportVia(t, a)
	if got := a.Breakers()["cht"]; got != breaker.StateOpen {
		t.Fatalf("cht breaker %q; want open", got)
	}
	before := a.Config()
	err := a.applyConsole(map[string]any{
		"cht":   map[string]any{"breaker_failures": 7},
		"dhis2": map[string]any{"url": "http://admin:Console-Secret-9@dhis2.example.org"},
	})
	if err == nil {
		t.Fatal("a DHIS2 URL with credentials was accepted")
	}
	if strings.Contains(err.Error(), "Console-Secret-9") {
		t.Errorf("the refusal quotes the password: %v", err)
	}
	if got := a.Breakers()["cht"]; got != breaker.StateOpen {
		t.Errorf("cht breaker %q after a refused config; want the same, still open", got)
	}
	if a.Config().CHT.Breaker != before.CHT.Breaker || a.Config().DHIS2.URL != before.DHIS2.URL {
		t.Errorf("a refused config changed the config in force")
	}
	if strings.Contains(logs.String(), "Console-Secret-9") {
		t.Errorf("the log holds the console's password:\n%s", logs.String())
	}
}

// A console config whose CHT URL carries a password is applied, and the log
// line that says so shows the URL without it.
func TestApp_consoleURLPasswordNotLogged(t *testing.T) {
	url, _ := failingCHT(t)
	var logs strings.Builder
	a := testApp(t, url)
	a.log = slog.New(redact.NewHandler(slog.NewJSONHandler(&logs, nil), a.redactor))
	withPassword := strings.Replace(url, "http://", "http://medic:Url-Secret-42@", 1)
	if err := a.applyConsole(map[string]any{"cht": map[string]any{"url": withPassword}}); err != nil {
		t.Fatalf("applyConsole: %v", err)
	}
	if !strings.Contains(logs.String(), "config from OpenHIM applied") {
		t.Fatalf("no log line for the applied config:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "Url-Secret-42") {
		t.Errorf("the log holds the URL's password:\n%s", logs.String())
	}
	if got := a.redactor.String("echo Url-Secret-42"); got != "echo <redacted>" {
		t.Errorf("the console's password is not redacted from then on: %q", got)
	}
}
