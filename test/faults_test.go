package test

// Fault injection: what a user sees when CHT, DHIS2 or OpenHIM core fail,
// and that a re-run after recovery leaves DHIS2 with exactly the right
// values. The mediator runs in process (app.New) on a loopback port and is
// called over HTTP as OpenHIM would; CHT is pouchdb-server, behind a proxy
// that can stop, slow down or fail; DHIS2 and OpenHIM core are the
// sandboxes. Breakers and retries get small settings (open_for 1s) so
// that each test takes seconds.
//
// Every test logs one line per fault for the README's Reliability table:
//
//	FIGURE | <fault> | <outcome> | <time to fail> | <fail fast> | <recovery>
//
// go test ./test -run TestFault -v | grep 'FIGURE |' prints them.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/app"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/breaker"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/config"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/openhim"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/sandbox/dhis2/sandbox"
	himsandbox "github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/sandbox/openhim/sandbox"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/seed"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/testutil"
)

// failFastLimit is the DONE-WHEN of issue 5: with the breaker open, an
// export fails in under 50 ms.
const failFastLimit = 50 * time.Millisecond

// faultOpenFor is the breakers' open interval in these tests.
const faultOpenFor = time.Second

// figure logs one row of the Reliability table.
func figure(t *testing.T, fault, outcome string, toFail, failFast, recovery time.Duration) {
	t.Helper()
	ms := func(d time.Duration) string {
		if d < 0 {
			return "—"
		}
		if d < 10*time.Millisecond {
			return d.Round(100 * time.Microsecond).String()
		}
		return d.Round(time.Millisecond).String()
	}
	t.Logf("FIGURE | %s | %s | %s | %s | %s", fault, outcome, ms(toFail), ms(failFast), ms(recovery))
}

// chtProxy stands between the mediator and pouchdb-server on a fixed
// loopback address: it can stop (nothing listens: connection refused) and
// start again, answer late, or answer 500 to every n-th request.
type chtProxy struct {
	addr      string
	rp        *httputil.ReverseProxy
	delay     atomic.Int64 // time.Duration before answering
	failEvery atomic.Int64 // every n-th request answers 500; 0: none
	seen      atomic.Int64
	failed    atomic.Int64

	mu  sync.Mutex
	srv *http.Server
}

func startCHTProxy(t *testing.T) *chtProxy {
	t.Helper()
	target, err := url.Parse(couch.URL())
	if err != nil {
		t.Fatal(err)
	}
	p := &chtProxy{rp: httputil.NewSingleHostReverseProxy(target)}
	p.rp.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.stop)
	return p
}

func (p *chtProxy) URL() string { return "http://" + p.addr }

func (p *chtProxy) serve(ln net.Listener) {
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	p.mu.Lock()
	p.srv = srv
	p.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// stop closes the listener and every connection: CHT is down.
func (p *chtProxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.srv != nil {
		_ = p.srv.Close()
		p.srv = nil
	}
}

// start listens on the same address again: CHT is back.
func (p *chtProxy) start(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err := net.Listen("tcp", p.addr)
		if err == nil {
			p.serve(ln)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("listen on %s again: %v", p.addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *chtProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := p.seen.Add(1)
	if d := time.Duration(p.delay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	if every := p.failEvery.Load(); every > 0 && n%every == 0 {
		p.failed.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"error":"unknown_error","reason":"function_clause"}`)
		return
	}
	p.rp.ServeHTTP(w, r)
}

// faultApp is the mediator, in process, serving its HTTP API.
type faultApp struct {
	app  *app.App
	base string
	logs *testutil.SyncBuffer

	mu   sync.Mutex
	seen []string // every answer and /health read, for the secret check
}

// faultFlags are the settings every fault test starts from: small breaker
// and retry settings, so that a breaker opens after 2 failed calls and
// probes after faultOpenFor.
func faultFlags() map[string]string {
	m := map[string]string{
		"server.addr":      "127.0.0.1:0",
		"cht.username":     chtUser,
		"cht.password":     chtPassword,
		"cht.database":     exportDB,
		"cht.timeout":      "30s",
		"dhis2.token":      dhisToken,
		"dhis2.timeout":    "30s",
		"openhim.register": "false",
		"log.level":        "debug",
	}
	for _, up := range []string{"cht", "dhis2"} {
		m[up+".breaker.failures"] = "2"
		m[up+".breaker.open_for"] = faultOpenFor.String()
		m[up+".breaker.half_open_requests"] = "1"
		m[up+".retry.attempts"] = "2"
		m[up+".retry.initial_backoff"] = "20ms"
		m[up+".retry.max_backoff"] = "100ms"
		m[up+".retry.budget"] = "5s"
	}
	return m
}

func startFaultApp(t *testing.T, overrides map[string]string) *faultApp {
	t.Helper()
	flags := faultFlags()
	for k, v := range overrides {
		flags[k] = v
	}
	cfg, err := config.Load(config.Sources{Flags: flags})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	f := &faultApp{logs: &testutil.SyncBuffer{}}
	f.app, err = app.New(cfg, slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	if err := f.app.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := f.app.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	f.base = "http://" + f.app.Addr()
	return f
}

// exportResult is one POST /export as OpenHIM would see it.
type exportResult struct {
	code   int
	env    openhim.Response
	report *export.Report // when the body is a report
	text   string         // the report's error or the error answer's message
	took   time.Duration
}

func (r exportResult) String() string {
	return fmt.Sprintf("%d %s %q (%v)", r.code, r.env.Status, r.text, r.took.Round(time.Millisecond))
}

// export asks the mediator to export the demo data set for period.
func (f *faultApp) export(t *testing.T, period string) exportResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.base+"/export?dataSet="+seed.DemoDataSet+"&period="+period, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /export: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	f.remember(string(body))
	r := exportResult{code: resp.StatusCode, took: took}
	if err := json.Unmarshal(body, &r.env); err != nil {
		t.Fatalf("the answer is not an OpenHIM envelope: %v\n%s", err, body)
	}
	var probe map[string]json.RawMessage
	_ = json.Unmarshal([]byte(r.env.Response.Body), &probe)
	if _, ok := probe["dataValues"]; ok {
		r.report = &export.Report{}
		if err := json.Unmarshal([]byte(r.env.Response.Body), r.report); err != nil {
			t.Fatalf("report: %v", err)
		}
		r.text = r.report.Error
	} else {
		var msg struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal([]byte(r.env.Response.Body), &msg)
		r.text = msg.Message
	}
	return r
}

// breakers reads the breakers of /health.
func (f *faultApp) breakers(t *testing.T) map[string]breaker.Status {
	t.Helper()
	resp, err := http.Get(f.base + "/health")
	if err != nil {
		t.Fatalf("GET /health: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	f.remember(string(body))
	var h struct {
		Breakers map[string]breaker.Status `json:"breakers"`
	}
	if err := json.Unmarshal(body, &h); err != nil || h.Breakers == nil {
		t.Fatalf("/health has no breakers: %v\n%s", err, body)
	}
	return h.Breakers
}

func (f *faultApp) remember(s string) {
	f.mu.Lock()
	f.seen = append(f.seen, s)
	f.mu.Unlock()
}

// noSecrets fails when a credential shows in the mediator's logs, in an
// answer (orchestrations included) or in /health.
func (f *faultApp) noSecrets(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	texts := append([]string{f.logs.String()}, f.seen...)
	f.mu.Unlock()
	requireNoCredential(t, texts...)
}

// requireNoCredential fails when any credential of the tests, or a basic
// auth encoding of one, shows in texts.
func requireNoCredential(t *testing.T, texts ...string) {
	t.Helper()
	secrets := []string{chtPassword, dhisPassword, dhisToken, himPassword, himClientPass, himDHIS2Token,
		base64.StdEncoding.EncodeToString([]byte(chtUser + ":" + chtPassword)),
		base64.StdEncoding.EncodeToString([]byte(dhisUser + ":" + dhisPassword)),
		base64.StdEncoding.EncodeToString([]byte(himRoot + ":" + himPassword)),
	}
	for i, text := range texts {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("output %d holds the credential %q:\n%.2000s", i, s, text)
			}
		}
	}
}

// requireFailed checks an export that must have failed: 502, OpenHIM
// status Failed, and a message holding each of want.
func requireFailed(t *testing.T, what string, r exportResult, want ...string) {
	t.Helper()
	if r.code != http.StatusBadGateway || r.env.Status != openhim.StatusFailed {
		t.Errorf("%s: %s; want 502 %s", what, r, openhim.StatusFailed)
	}
	for _, w := range want {
		if !strings.Contains(r.text, w) {
			t.Errorf("%s: message %q; want it to contain %q", what, r.text, w)
		}
	}
}

// requireSuccessful checks an export that must have imported everything.
func requireSuccessful(t *testing.T, what string, r exportResult) {
	t.Helper()
	if r.code != http.StatusOK || r.env.Status != openhim.StatusSuccessful || r.report == nil || r.report.Status != export.StatusSuccessful {
		t.Fatalf("%s: %s; want 200 %s", what, r, openhim.StatusSuccessful)
	}
}

// failUntilOpen runs exports until upstream's breaker is open; each must
// fail and name want. It returns the first export's duration.
func (f *faultApp) failUntilOpen(t *testing.T, upstream, period string, want ...string) time.Duration {
	t.Helper()
	var first time.Duration
	for i := 1; ; i++ {
		r := f.export(t, period)
		requireFailed(t, fmt.Sprintf("export %d while %s fails", i, upstream), r, want...)
		if i == 1 {
			first = r.took
		}
		if f.breakers(t)[upstream].State == breaker.StateOpen {
			return first
		}
		if i == 5 {
			t.Fatalf("%s breaker still %+v after %d failed exports; want open after 2", upstream, f.breakers(t)[upstream], i)
		}
	}
}

// failFast runs exports while upstream's breaker is open (at least 3): each
// must name the open breaker, the fastest must fail in under limit, and
// none may take 10 × limit (0: any time), which only a call that reached
// the network would. A single slow one is a scheduling pause of a loaded
// machine (other builds, -race), not a wait for the upstream. It returns
// the slowest and the first one's message.
func (f *faultApp) failFast(t *testing.T, upstream, period string, limit time.Duration) (time.Duration, string) {
	t.Helper()
	var (
		slowest, fastest time.Duration
		first            string
	)
	defer func() {
		if limit > 0 && fastest >= limit {
			t.Errorf("the fastest export with the %s breaker open took %v; want under %v", upstream, fastest, limit)
		}
	}()
	for n := 0; ; n++ {
		st := f.breakers(t)[upstream]
		if st.State != breaker.StateOpen || st.NextTry == nil {
			if n > 0 {
				// open_for ran out during the last export (a loaded
				// machine): the breaker now probes, as it should.
				return slowest, first
			}
			t.Fatalf("%s breaker %+v; want open", upstream, st)
		}
		// Stop before open_for can run out during an export: one that
		// started while open must be refused at once.
		if left := time.Until(*st.NextTry); n > 0 && left < max(100*time.Millisecond, 3*slowest) {
			return slowest, first
		}
		r := f.export(t, period)
		requireFailed(t, fmt.Sprintf("export %d with the %s breaker open", n+1, upstream), r, upstream+": circuit breaker open after ", "next try in")
		if limit > 0 && r.took >= 10*limit {
			t.Errorf("export %d with the %s breaker open took %v; want well under %v", n+1, upstream, r.took, 10*limit)
		}
		if n == 0 || r.took < fastest {
			fastest = r.took
		}
		if n == 0 {
			first = r.text
			t.Logf("with the %s breaker open: %s", upstream, r.text)
		}
		slowest = max(slowest, r.took)
		if n >= 20 {
			return slowest, first
		}
	}
}

// awaitNextTry waits until upstream's open breaker lets a probe through.
func (f *faultApp) awaitNextTry(t *testing.T, upstream string) {
	t.Helper()
	st := f.breakers(t)[upstream]
	if st.NextTry != nil {
		time.Sleep(time.Until(*st.NextTry) + 10*time.Millisecond)
	}
}

// The DONE-WHEN of issue 5: with CHT unreachable, after the breaker opens
// every further export fails in under 50 ms with a message naming CHT; once
// CHT is back, the next export after the open interval succeeds, and DHIS2
// holds exactly the month's values, each pushed once.
func TestFault_chtStoppedThenBack(t *testing.T) {
	_, mo, want := exportDemo(t)
	period := mo.Period()
	sb, dhisURL := startDHIS2(t, "2.41.1", demoMetadata(t))
	px := startCHTProxy(t)
	f := startFaultApp(t, map[string]string{"cht.url": px.URL(), "dhis2.url": dhisURL})

	px.stop()
	toFail := f.failUntilOpen(t, "cht", period, "cht: ", "unreachable", "connection refused")
	if st := f.breakers(t)["cht"]; st.ConsecutiveFailures != 2 || !strings.Contains(st.LastFailure, "connection refused") {
		t.Errorf("/health cht breaker %+v; want 2 failures, the last a refused connection", st)
	}
	slowest, _ := f.failFast(t, "cht", period, failFastLimit)

	px.start(t)
	back := time.Now()
	f.awaitNextTry(t, "cht")
	r := f.export(t, period)
	requireSuccessful(t, "the first export after the open interval", r)
	recovery := time.Since(back)
	if st := f.breakers(t)["cht"]; st.State != breaker.StateClosed || st.ConsecutiveFailures != 0 {
		t.Errorf("/health cht breaker %+v after a good export; want closed", st)
	}
	diff(t, "stored", storedValues(t, sb, period), want)
	requireEachOnce(t, sb, seed.DemoDataSet, want)
	if n := strings.Count(f.logs.String(), `"msg":"circuit breaker opened`); n != 1 {
		t.Errorf("the breaker's opening was logged %d times; want once", n)
	}
	f.noSecrets(t)
	figure(t, "CHT stopped, then back", "Failed, names CHT; breaker opens after 2 exports; first export after open_for Successful, DHIS2 exact",
		toFail, slowest, recovery)
}

// Nothing listens at cht.url: the same fast failure, and after the open
// interval one probe tries CHT again and the breaker reopens.
func TestFault_chtClosedPort(t *testing.T) {
	_, mo, _ := exportDemo(t)
	period := mo.Period()
	_, dhisURL := startDHIS2(t, "2.41.1", demoMetadata(t))
	f := startFaultApp(t, map[string]string{"cht.url": "http://" + closedPort(t), "dhis2.url": dhisURL})

	toFail := f.failUntilOpen(t, "cht", period, "cht: fetch settings", "unreachable: after 2 attempts", "connection refused")
	slowest, _ := f.failFast(t, "cht", period, failFastLimit)
	f.awaitNextTry(t, "cht")
	r := f.export(t, period) // the probe
	requireFailed(t, "the probe", r, "connection refused")
	if strings.Contains(r.text, "circuit breaker") {
		t.Errorf("the probe after the open interval was refused by the breaker: %s", r.text)
	}
	r = f.export(t, period)
	requireFailed(t, "after the failed probe", r, "cht: circuit breaker open after 3 consecutive failures")
	f.noSecrets(t)
	figure(t, "CHT port closed", "Failed, names CHT (connection refused, after 2 attempts); breaker opens, probes every open_for", toFail, slowest, -1)
}

// CHT answers later than cht.timeout: each export fails after the timeout
// (a timed-out call is not retried: its deadline is spent), then fast.
func TestFault_chtSlow(t *testing.T) {
	_, mo, want := exportDemo(t)
	period := mo.Period()
	sb, dhisURL := startDHIS2(t, "2.41.1", demoMetadata(t))
	px := startCHTProxy(t)
	f := startFaultApp(t, map[string]string{"cht.url": px.URL(), "dhis2.url": dhisURL, "cht.timeout": "1s"})

	px.delay.Store(int64(5 * time.Second))
	toFail := f.failUntilOpen(t, "cht", period, "cht: ", "no answer within 1s")
	if toFail < time.Second || toFail > 3*time.Second {
		t.Errorf("an export with CHT slow took %v; want about cht.timeout (1s)", toFail)
	}
	slowest, _ := f.failFast(t, "cht", period, failFastLimit)

	px.delay.Store(0)
	back := time.Now()
	f.awaitNextTry(t, "cht")
	requireSuccessful(t, "the first export after the open interval", f.export(t, period))
	recovery := time.Since(back)
	diff(t, "stored", storedValues(t, sb, period), want)
	requireEachOnce(t, sb, seed.DemoDataSet, want)
	f.noSecrets(t)
	figure(t, "CHT slower than cht.timeout (1s)", "Failed after the timeout, names CHT; breaker opens after 2; recovers after open_for",
		toFail, slowest, recovery)
}

// CHT answers 500 to every second request: the retries absorb it, the
// export succeeds and the breaker never opens.
func TestFault_chtFailsEveryOtherRequest(t *testing.T) {
	_, mo, want := exportDemo(t)
	period := mo.Period()
	sb, dhisURL := startDHIS2(t, "2.41.1", demoMetadata(t))
	px := startCHTProxy(t)
	f := startFaultApp(t, map[string]string{"cht.url": px.URL(), "dhis2.url": dhisURL, "cht.retry.attempts": "4"})

	px.failEvery.Store(2)
	r := f.export(t, period)
	requireSuccessful(t, "export with CHT failing every other request", r)
	if px.failed.Load() == 0 {
		t.Fatal("the proxy failed no request")
	}
	diff(t, "stored", storedValues(t, sb, period), want)
	requireEachOnce(t, sb, seed.DemoDataSet, want)
	if st := f.breakers(t)["cht"]; st.State != breaker.StateClosed || st.ConsecutiveFailures != 0 {
		t.Errorf("/health cht breaker %+v; want closed: every call succeeded in the end", st)
	}
	retries := strings.Count(f.logs.String(), `"msg":"retrying a call","component":"retry","upstream":"cht"`)
	if retries != int(px.failed.Load()) {
		t.Errorf("%d retries logged for %d failed requests", retries, px.failed.Load())
	}
	// Each logical call is one orchestration, with its final answer.
	for _, o := range r.env.Orchestrations {
		if o.Response != nil && o.Response.Status >= 500 {
			t.Errorf("orchestration %s has status %d; want the retried call's answer", o.Name, o.Response.Status)
		}
	}
	f.noSecrets(t)
	figure(t, "CHT answers 500 to every 2nd request", fmt.Sprintf("Successful: %d of %d requests retried, DHIS2 exact, breaker closed", px.failed.Load(), px.seen.Load()),
		-1, -1, r.took)
}

// DHIS2 answers 5xx: one 503 is absorbed by a retry; a lasting 500 fails
// the export (nothing stored, report Failed naming DHIS2), opens the
// breaker, and the first export after the open interval stores everything.
func TestFault_dhis2ServerErrorThenRecovers(t *testing.T) {
	_, mo, want := exportDemo(t)
	period := mo.Period()
	sb, dhisURL := startDHIS2(t, "2.40.3", demoMetadata(t))
	f := startFaultApp(t, map[string]string{"cht.url": couch.URL(), "dhis2.url": dhisURL})

	// One 503: the retry pushes again.
	sb.Fail(1, http.StatusServiceUnavailable)
	r := f.export(t, period)
	requireSuccessful(t, "export after one 503", r)
	diff(t, "stored after a retried 503", storedValues(t, sb, period), want)
	absorbed := r.took

	// A lasting 500 on every data value request (the read of what DHIS2
	// holds comes first): 2 exports × 2 tries.
	sb.Reset()
	sb.AddFault(sandbox.Fault{Path: "/api/dataValueSets", Count: 4, Status: http.StatusInternalServerError})
	toFail := f.failUntilOpen(t, "dhis2", period, "dhis2: ", "500")
	if got := sb.Stored(); len(got) != 0 {
		t.Errorf("DHIS2 stored %d values while failing", len(got))
	}
	if st := f.breakers(t)["dhis2"]; st.LastFailure != "status 500" {
		t.Errorf("/health dhis2 breaker %+v; want the last failure, status 500", st)
	}
	// With DHIS2's breaker open the read of what DHIS2 holds is refused at
	// once, so nothing is pushed; the export still reads CHT first.
	slowest, msg := f.failFast(t, "dhis2", period, 0)
	if !strings.Contains(msg, "read what DHIS2 holds") {
		t.Errorf("with the breaker open: %q; want it to say DHIS2's values could not be read", msg)
	}
	if n := len(sb.Requests()); n != 4 {
		t.Errorf("DHIS2 got %d requests; want the 4 failed reads only (metadata is cached, the open breaker sends nothing)", n)
	}

	back := time.Now()
	f.awaitNextTry(t, "dhis2")
	requireSuccessful(t, "the first export after the open interval", f.export(t, period))
	recovery := time.Since(back)
	diff(t, "stored", storedValues(t, sb, period), want)
	if n := len(sb.Stored()); n != len(want) {
		t.Errorf("DHIS2 holds %d values; want %d", n, len(want))
	}
	f.noSecrets(t)
	figure(t, "DHIS2 answers one 503", "Successful: the push is retried once", -1, -1, absorbed)
	figure(t, "DHIS2 answers 500 until it recovers", "Failed, names DHIS2 and the 500, nothing stored; breaker opens after 2; first export after open_for Successful, DHIS2 exact",
		toFail, slowest, recovery)
}

// DHIS2 refuses part of a push with 409 conflicts (one org unit's data is
// approved): Completed with error(s), the conflicts listed, no retry (a 4xx
// is final), the breaker untouched; a re-run changes nothing.
func TestFault_dhis2ConflictOnPartOfPush(t *testing.T) {
	_, mo, want := exportDemo(t)
	period := mo.Period()
	md := demoMetadata(t)
	mdDataSet(t, md, seed.DemoDataSet).Workflow = &sandbox.Ref{ID: "wfCHTMonth1"}
	sb, dhisURL := startDHIS2(t, "2.40.3", md)
	sb.Approve("wfCHTMonth1", period, seed.OUKanji, "")
	// The mediator's user may not read approvals, so the mediator cannot
	// hold Kanji back before the push: DHIS2's 409 tells.
	sb.AddFault(sandbox.Fault{Method: http.MethodGet, Path: "/api/dataApprovals", Count: -1, Status: http.StatusForbidden})
	f := startFaultApp(t, map[string]string{"cht.url": couch.URL(), "dhis2.url": dhisURL, "dhis2.chunk_size": "7"})
	wantStored := without(want, func(k key) bool { return k.ou == seed.OUKanji })

	var took time.Duration
	for run := 1; run <= 2; run++ {
		r := f.export(t, period)
		took = r.took
		if r.code != http.StatusOK || r.env.Status != openhim.StatusCompletedWithErrors || r.report == nil {
			t.Fatalf("run %d: %s; want 200 %s", run, r, openhim.StatusCompletedWithErrors)
		}
		if imp := r.report.Import; imp == nil || len(imp.Conflicts) == 0 {
			t.Errorf("run %d: import %+v; want DHIS2's conflicts", run, imp)
		}
		if got := len(problemsByCode(r.report)["dhis2_conflict"]); got != 7 {
			t.Errorf("run %d: %d dhis2_conflict problems; want Kanji's 7 values", run, got)
		}
		// Run 1 sends the 28 values in 4 chunks; run 2 only Kanji's 7,
		// which DHIS2 does not hold (the diff leaves out the rest).
		reqs, _ := pushes(t, sb, seed.DemoDataSet)
		if want := []int{4, 5}[run-1]; len(reqs) != want {
			t.Errorf("run %d: %d pushes in all; want %d: 4 chunks, then Kanji's refused values again; a 409 is never retried", run, len(reqs), want)
		}
		diff(t, fmt.Sprintf("stored after run %d", run), storedValues(t, sb, period), wantStored)
	}
	if st := f.breakers(t)["dhis2"]; st.State != breaker.StateClosed || st.ConsecutiveFailures != 0 {
		t.Errorf("/health dhis2 breaker %+v; want closed: a 409 is no failure of DHIS2", st)
	}
	if strings.Contains(f.logs.String(), `"msg":"retrying a call","component":"retry","upstream":"dhis2"`) {
		t.Error("a 409 was retried")
	}
	f.noSecrets(t)
	figure(t, "DHIS2 409 on part of a push", "Completed with error(s): 21 stored, 7 conflicts listed; not retried; re-run changes nothing", -1, -1, took)
}

// DHIS2 does not answer the second chunk within dhis2.timeout. Either it
// gave up too (nothing stored) or it imported and the answer was lost: the
// report says the outcome of chunk 2 is unknown, and a re-run leaves DHIS2
// with exactly the month's values (CREATE_AND_UPDATE: nothing doubled).
func TestFault_dhis2TimeoutMidPush(t *testing.T) {
	_, mo, want := exportDemo(t)
	period := mo.Period()
	for _, tt := range []struct {
		name       string
		lostAnswer bool // DHIS2 imported chunk 2 but its answer never came
		wantStored int
	}{
		{"DHIS2 gives up too", false, 7},
		{"DHIS2 imports, the answer is lost", true, 14},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sb := newSandbox(t, "2.41.1", demoMetadata(t))
			var posts atomic.Int32
			dhisURL := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/dataValueSets") || posts.Add(1) != 2 {
					sb.ServeHTTP(w, r)
					return
				}
				if !tt.lostAnswer {
					sb.AddFault(sandbox.Fault{Method: http.MethodPost, Path: "/api/dataValueSets", Count: 1, Delay: 5 * time.Second})
					sb.ServeHTTP(w, r)
					return
				}
				sb.ServeHTTP(httptest.NewRecorder(), r)
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
			}))
			f := startFaultApp(t, map[string]string{"cht.url": couch.URL(), "dhis2.url": dhisURL, "dhis2.chunk_size": "7", "dhis2.timeout": "1s"})

			r := f.export(t, period)
			if r.code != http.StatusBadGateway || r.env.Status != openhim.StatusCompletedWithErrors || r.report == nil || r.env.Error == nil {
				t.Fatalf("export: %s; want 502 %s with the error member (OpenHIM retries it): chunk 1 was stored", r, openhim.StatusCompletedWithErrors)
			}
			if r.report.DataValues.NotSent != 21 {
				t.Errorf("notSent = %d; want 21 (chunks 2 to 4)", r.report.DataValues.NotSent)
			}
			for _, s := range []string{"dhis2: ", "timed out", "chunk 2 of 4", "unknown"} {
				if !strings.Contains(r.text, s) {
					t.Errorf("report error %q; want it to contain %q", r.text, s)
				}
			}
			if r.took < time.Second || r.took > 5*time.Second {
				t.Errorf("export took %v; want about dhis2.timeout (1s)", r.took)
			}
			if n := len(sb.Stored()); n != tt.wantStored {
				t.Errorf("DHIS2 holds %d values after the timeout; want %d", n, tt.wantStored)
			}

			rerun := f.export(t, period)
			requireSuccessful(t, "the re-run", rerun)
			diff(t, "stored after the re-run", storedValues(t, sb, period), want)
			if n := len(sb.Stored()); n != len(want) {
				t.Errorf("DHIS2 holds %d values; want %d", n, len(want))
			}
			f.noSecrets(t)
			outcome := "Completed with error(s): chunk 1 stored, chunk 2's outcome unknown; re-run Successful, DHIS2 exact"
			if tt.lostAnswer {
				outcome = "Completed with error(s): chunks 1–2 stored, chunk 2's answer lost; re-run Successful, nothing doubled"
			}
			figure(t, "DHIS2 times out on chunk 2 of 4 ("+tt.name+")", outcome, r.took, -1, rerun.took)
		})
	}
}

// OpenHIM core goes down (connections dropped) and comes back: heartbeats
// fail, the openhim breaker opens and spares core, /health shows it; once
// core is back the breaker closes, heartbeats resume, and an export through
// core's channel stores exactly the month's values.
func TestFault_openhimDownAndBack(t *testing.T) {
	_, mo, want := exportDemo(t)
	period := mo.Period()
	const heartbeat = 100 * time.Millisecond

	dhis, dhisURL := startDHIS2(t, "2.41.1", demoMetadata(t))
	core, err := himsandbox.New(himsandbox.Options{RootUser: himRoot, RootPassword: himPassword})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewTLSServer(core.APIHandler())
	t.Cleanup(api.Close)
	router := httptest.NewServer(core.RouterHandler())
	t.Cleanup(router.Close)
	caFile := filepath.Join(t.TempDir(), "core-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: api.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	f := startFaultApp(t, map[string]string{
		"cht.url":                            couch.URL(),
		"dhis2.url":                          dhisURL,
		"openhim.register":                   "true",
		"openhim.url":                        api.URL,
		"openhim.username":                   himRoot,
		"openhim.password":                   himPassword,
		"openhim.tls_ca_file":                caFile,
		"openhim.heartbeat_interval":         heartbeat.String(),
		"openhim.timeout":                    "2s",
		"openhim.breaker.failures":           "2",
		"openhim.breaker.open_for":           faultOpenFor.String(),
		"openhim.breaker.half_open_requests": "1",
	})
	importChannels(t, core, f.app.Addr())
	heartbeats := func() int {
		med, ok := core.Mediator(mediatorURN)
		if !ok {
			return 0
		}
		return med.Heartbeats
	}
	eventually(t, 10*time.Second, "registered and heart-beating", func() bool { return heartbeats() > 0 })

	core.SetDown(true)
	down := time.Now()
	eventually(t, 5*time.Second, "openhim breaker open", func() bool { return f.breakers(t)["openhim"].State == breaker.StateOpen })
	toOpen := time.Since(down)
	callsAtOpen := len(core.Requests())
	time.Sleep(3 * faultOpenFor)
	// While down, core got the heartbeats until the breaker opened and one
	// probe per open interval, not one every heartbeat_interval.
	spared := len(core.Requests()) - callsAtOpen
	if spared > 4 {
		t.Errorf("core got %d calls in %v with the breaker open; want one probe per open interval (%v)", spared, 3*faultOpenFor, faultOpenFor)
	}

	core.SetDown(false)
	back := time.Now()
	before := heartbeats()
	eventually(t, 5*time.Second, "openhim breaker closed and heartbeats resumed", func() bool {
		return f.breakers(t)["openhim"].State == breaker.StateClosed && heartbeats() > before
	})
	recovery := time.Since(back)

	code, body := himCall(t, router.URL, http.MethodPost, "/cht-dhis2/export?dataSet="+seed.DemoDataSet+"&period="+period)
	f.remember(body)
	if code != http.StatusOK {
		t.Fatalf("export through core after its recovery: %d %s", code, body)
	}
	diff(t, "stored", storedValues(t, dhis, period), want)
	txs := core.Transactions()
	if len(txs) == 0 || txs[len(txs)-1].Status != openhim.StatusSuccessful {
		t.Errorf("core's transactions %+v; want the export Successful", txs)
	}
	for _, tx := range txs {
		b, _ := json.Marshal(tx)
		f.remember(string(b))
	}
	logs := f.logs.String()
	for _, want := range []string{`"msg":"circuit breaker opened`, `"msg":"circuit breaker closed`} {
		if !strings.Contains(logs, want+`: `) && !strings.Contains(logs, want) {
			t.Errorf("logs lack %s", want)
		}
	}
	f.noSecrets(t)
	figure(t, "OpenHIM core down, then back", fmt.Sprintf("breaker opens after 2 failed heartbeats (%d calls to core while open, not one per heartbeat); closes on the first probe; export through core Successful", spared),
		toOpen, -1, recovery)
}

// importChannels imports channels/ (pointed at the mediator at addr) and
// the demo client into core.
func importChannels(t *testing.T, core *himsandbox.Server, addr string) {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	channels, err := os.ReadFile("../channels/channels.json")
	if err != nil {
		t.Fatal(err)
	}
	channels = bytes.ReplaceAll(channels, []byte(`"host": "cht-dhis2-mediator"`), []byte(`"host": "`+host+`"`))
	channels = bytes.ReplaceAll(channels, []byte(`"port": 8544`), []byte(`"port": `+port))
	client, err := os.ReadFile("../channels/demo-client.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range [][]byte{channels, client} {
		res, err := core.ImportMetadata(doc)
		if err != nil {
			t.Fatalf("import metadata: %v", err)
		}
		for _, r := range res {
			if r.Status != "Inserted" && r.Status != "Updated" {
				t.Fatalf("import metadata: %+v", r)
			}
		}
	}
}

// himCall sends a client request through core's router.
func himCall(t *testing.T, routerURL, method, pathAndQuery string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, routerURL+pathAndQuery, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(himClient, himClientPass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, pathAndQuery, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
