package test

// End-to-end tests of the mediator's security and failure contract through
// the real binary: redirects never carry credentials, echoed credentials
// are redacted everywhere, transient failures answer with the envelope's
// error member (OpenHIM's auto-retry) and list the values not sent, the
// access log stays small, identical exports share one push, and an export
// cut off at shutdown is reported as such.

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/openhim"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/testutil"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/seed"
)

// served is a running `mediator serve`.
type served struct {
	addr   string
	stderr *testutil.SyncBuffer
	cmd    *exec.Cmd
	done   chan error
}

// startServe runs `mediator serve` with env on a free port, without
// OpenHIM registration unless env turns it on, and waits for /health.
func startServe(t *testing.T, env ...string) *served {
	t.Helper()
	s := &served{addr: closedPort(t), stderr: &testutil.SyncBuffer{}, done: make(chan error, 1)}
	s.cmd = exec.Command(mediator, "serve")
	s.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "GORACE=atexit_sleep_ms=0", "MEDIATOR_LOG_LEVEL=info",
		"MEDIATOR_OPENHIM_REGISTER=false", "MEDIATOR_SERVER_ADDR=" + s.addr}, env...)
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(20 * time.Second):
			_ = s.cmd.Process.Kill()
		}
	})
	eventually(t, 20*time.Second, "GET /health answers", func() bool {
		resp, err := http.Get("http://" + s.addr + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return s
}

// stop sends SIGTERM and waits for the process to end.
func (s *served) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		t.Fatalf("serve did not stop; stderr:\n%s", s.stderr.String())
	}
}

// answer is one decoded mediator answer.
type answer struct {
	code int
	raw  string
	env  openhim.Response
}

// call sends method target to the mediator and decodes the envelope.
func (s *served) call(t *testing.T, method, target string) answer {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+s.addr+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{code: resp.StatusCode, raw: string(b)}
	if err := json.Unmarshal(b, &a.env); err != nil {
		t.Fatalf("%s %s: %d %s: not an envelope: %v", method, target, resp.StatusCode, b, err)
	}
	return a
}

// report decodes the export report of an answer.
func (a answer) report(t *testing.T) *export.Report {
	t.Helper()
	var rep export.Report
	if err := json.Unmarshal([]byte(a.env.Response.Body), &rep); err != nil {
		t.Fatalf("response.body is not a report: %v\n%s", err, a.env.Response.Body)
	}
	return &rep
}

// trap is a server that must never be reached with credentials or a body:
// it counts what it gets.
type trap struct {
	url   string
	creds atomic.Int32
	calls atomic.Int32
}

func newTrap(t *testing.T) *trap {
	tr := &trap{}
	tr.url = serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("Authorization") != "" || len(body) > 0 {
			tr.creds.Add(1)
		}
		_, _ = io.WriteString(w, `{}`)
	}))
	return tr
}

func (tr *trap) requireUntouched(t *testing.T, what string) {
	t.Helper()
	if n := tr.creds.Load(); n != 0 {
		t.Errorf("%s: the redirect target received credentials or a body %d times", what, n)
	}
}

// basicPair is what an echo of the Authorization header carries.
func basicPair(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}

// requireClean fails when any text holds a secret or an encoded basic pair.
func requireClean(t *testing.T, what string, texts ...string) {
	t.Helper()
	for _, secret := range []string{chtPassword, dhisPassword, dhisToken, basicPair(chtUser, chtPassword), basicPair(dhisUser, dhisPassword),
		strings.TrimRight(basicPair(chtUser, chtPassword), "="), strings.TrimRight(basicPair(dhisUser, dhisPassword), "=")} {
		for _, text := range texts {
			if strings.Contains(text, secret) {
				t.Errorf("%s holds a credential (%.6s…):\n%s", what, secret, text)
			}
		}
	}
}

// Redirects: a CHT 302 to another port, a DHIS2 302 on a read and a 307 on
// the push never take the credentials or the values there, and the error
// names the redirect.
func TestSecurity_redirectsNeverCarryCredentials(t *testing.T) {
	_, mo, _ := exportDemo(t)
	period := mo.Period()
	trap := newTrap(t)

	// CHT: every request is redirected to the trap, on another port.
	cht := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, trap.url+r.URL.Path, http.StatusFound)
	}))
	env := append(chtEnv(exportDB), "MEDIATOR_CHT_URL="+cht, "GORACE=atexit_sleep_ms=0")
	code, _, stderr := run(t, env, "preview", "--data-set", seed.DemoDataSet, "--period", period)
	if code != 1 || !strings.Contains(stderr, "redirect refused") || !strings.Contains(stderr, trap.url) || !strings.Contains(stderr, "302") {
		t.Errorf("preview through a redirecting CHT: exit %d; stderr %q; want 1 and the refused redirect named", code, stderr)
	}
	trap.requireUntouched(t, "CHT 302")

	// A TLS CHT redirecting to http://: refused before anything is sent in
	// cleartext. The binary trusts the test server's certificate through
	// SSL_CERT_FILE, as Go does on Linux.
	tlsCHT := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, trap.url+r.URL.Path, http.StatusMovedPermanently)
	}))
	t.Cleanup(tlsCHT.Close)
	certFile := filepath.Join(t.TempDir(), "cht.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsCHT.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	env = append(chtEnv(exportDB), "MEDIATOR_CHT_URL="+tlsCHT.URL, "GORACE=atexit_sleep_ms=0", "SSL_CERT_FILE="+certFile)
	code, _, stderr = run(t, env, "preview", "--data-set", seed.DemoDataSet, "--period", period)
	if code != 1 || !strings.Contains(stderr, "redirect refused") || !strings.Contains(stderr, "another scheme (http, not https)") {
		t.Errorf("preview through a TLS CHT redirecting to http: exit %d; stderr %q; want 1 and the downgrade refused", code, stderr)
	}
	trap.requireUntouched(t, "CHT https→http")

	// DHIS2: reads redirected with 302, or the push with 307.
	for _, tc := range []struct {
		name   string
		method string
		status int
	}{
		{"302 on a read", http.MethodGet, http.StatusFound},
		{"307 on the push", http.MethodPost, http.StatusTemporaryRedirect},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb := newSandbox(t, "2.40.3", demoMetadata(t))
			url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == tc.method && (tc.method == http.MethodPost || strings.HasSuffix(r.URL.Path, "/system/info")) {
					http.Redirect(w, r, trap.url+r.URL.Path, tc.status)
					return
				}
				sb.ServeHTTP(w, r)
			}))
			for _, token := range []bool{true, false} {
				code, stdout, stderr := run(t, exportEnv(exportDB, url, token), "export", "--data-set", seed.DemoDataSet, "--period", period)
				if code != 1 || !strings.Contains(stderr, "redirect refused") || !strings.Contains(stderr, fmt.Sprint(tc.status)) || !strings.Contains(stderr, "dhis2") {
					t.Errorf("export (token %t): exit %d; stderr %q; want 1 and the refused redirect named", token, code, stderr)
				}
				requireClean(t, "export output", stdout, stderr)
			}
			trap.requireUntouched(t, "DHIS2 "+tc.name)
			if n := len(sb.Stored()); n != 0 {
				t.Errorf("DHIS2 stored %d values", n)
			}
		})
	}

	// OpenHIM core's API redirecting: the root credentials stay home.
	core := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, trap.url+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	s := startServe(t, append(chtEnv(exportDB), "MEDIATOR_OPENHIM_REGISTER=true", "MEDIATOR_OPENHIM_URL="+core,
		"MEDIATOR_OPENHIM_PASSWORD=openhim-Root-Secret-1", "MEDIATOR_LOG_LEVEL=info")...)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(s.stderr.String(), "redirect refused") {
		if time.Now().After(deadline) {
			t.Fatalf("no refused redirect in the log:\n%s", s.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	trap.requireUntouched(t, "OpenHIM 307")
	if strings.Contains(s.stderr.String(), "openhim-Root-Secret-1") {
		t.Errorf("the log holds core's password")
	}
}

// Credentials an upstream echoes back (a CHT 401, a DHIS2 500 with the
// request headers in the body) appear nowhere: not in the envelope's error,
// response body or orchestrations, not in the log.
func TestSecurity_echoedCredentialsRedacted(t *testing.T) {
	_, mo, _ := exportDemo(t)
	period := mo.Period()
	echo := func(status int) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": "echo", "headers": r.Header, "auth": r.Header.Get("Authorization")})
		})
	}
	sb := newSandbox(t, "2.40.3", demoMetadata(t))
	dhis := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			echo(http.StatusInternalServerError).ServeHTTP(w, r)
			return
		}
		sb.ServeHTTP(w, r)
	}))
	cht := serve(t, echo(http.StatusUnauthorized))

	for _, tc := range []struct{ name, chtURL string }{{"CHT 401 echo", cht}, {"DHIS2 500 echo", couch.URL()}} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServe(t, append(exportEnv(exportDB, dhis, false, "MEDIATOR_LOG_LEVEL=debug", "MEDIATOR_DHIS2_RETRY_ATTEMPTS=1"),
				"MEDIATOR_CHT_URL="+tc.chtURL)...)
			a := s.call(t, http.MethodPost, "/export?dataSet="+seed.DemoDataSet+"&period="+period)
			if a.code < 500 || a.env.Error == nil {
				t.Errorf("answer %d, error %v; want a 5xx with the error member", a.code, a.env.Error)
			}
			if !strings.Contains(a.raw, "<redacted>") {
				t.Errorf("nothing was redacted from the echo: %s", a.raw)
			}
			requireClean(t, "the envelope", a.raw)
			requireClean(t, "the log", s.stderr.String())
		})
	}
}

// Push failures: a 500 on the first chunk and one from chunk 2 on both
// answer with the envelope's error member (OpenHIM retries them), the
// values never sent are counted and listed, and DHIS2 holds exactly the
// others.
func TestSecurity_pushFailuresAreRetriedAndCounted(t *testing.T) {
	_, mo, want := exportDemo(t)
	period := mo.Period()
	for _, tc := range []struct {
		name       string
		failFrom   int32
		wantStatus string
		notSent    int
	}{
		{"500 on the first chunk", 1, openhim.StatusFailed, 28},
		{"500 from chunk 2 on", 2, openhim.StatusCompletedWithErrors, 18},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb := newSandbox(t, "2.40.3", demoMetadata(t))
			var posts atomic.Int32
			url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost && posts.Add(1) >= tc.failFrom {
					http.Error(w, "Internal Server Error", http.StatusInternalServerError)
					return
				}
				sb.ServeHTTP(w, r)
			}))
			s := startServe(t, exportEnv(exportDB, url, true, "MEDIATOR_DHIS2_CHUNK_SIZE=10", "MEDIATOR_DHIS2_RETRY_ATTEMPTS=1", "MEDIATOR_LOG_LEVEL=info")...)
			a := s.call(t, http.MethodPost, "/export?dataSet="+seed.DemoDataSet+"&period="+period)
			rep := a.report(t)
			if a.code != http.StatusBadGateway || a.env.Status != tc.wantStatus || a.env.Error == nil {
				t.Fatalf("answer %d %q error %v; want 502 %q with the error member", a.code, a.env.Status, a.env.Error, tc.wantStatus)
			}
			if !strings.Contains(a.env.Error.Message, fmt.Sprintf("%d of 28 values not sent", tc.notSent)) || !strings.Contains(a.env.Error.Message, "dhis2") {
				t.Errorf("error member %q; want the upstream and the values not sent", a.env.Error.Message)
			}
			if rep.DataValues.NotSent != tc.notSent {
				t.Errorf("notSent = %d; want %d", rep.DataValues.NotSent, tc.notSent)
			}
			unsent := 0
			for _, p := range rep.Problems {
				if p.Code == export.ProblemNotSent && p.OrgUnit != "" && p.DataElement != "" {
					unsent++
				}
			}
			if unsent != tc.notSent {
				t.Errorf("%d not_sent problems; want %d", unsent, tc.notSent)
			}
			if got := len(storedValues(t, sb, period)); got != len(want)-tc.notSent {
				t.Errorf("DHIS2 stores %d values; want %d", got, len(want)-tc.notSent)
			}
			if !strings.Contains(s.stderr.String(), "values not sent") {
				t.Errorf("no ERROR line naming the values not sent:\n%s", s.stderr.String())
			}
		})
	}
}

// Identical concurrent exports share one CHT read and one push: CHT is
// asked for the month's target docs once, DHIS2 gets each chunk once, and
// every client gets the report.
func TestSecurity_identicalExportsShareOneReadAndOnePush(t *testing.T) {
	_, mo, want := exportDemo(t)
	period := mo.Period()
	sb := newSandbox(t, "2.40.3", demoMetadata(t))
	sb.SetDelay(time.Second) // every client is waiting before the push ends
	url := serve(t, sb)
	// The month's first _all_docs page starts at its first target doc id:
	// one such request is one read of the month.
	firstPage := `"target~` + mo.DocMonth() + `~"`
	var monthReads atomic.Int32
	target, err := neturl.Parse(couch.URL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	cht := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/_all_docs") && r.URL.Query().Get("startkey") == firstPage {
			monthReads.Add(1)
		}
		proxy.ServeHTTP(w, r)
	}))
	s := startServe(t, exportEnv(exportDB, url, true, "MEDIATOR_LOG_LEVEL=info", "MEDIATOR_CHT_URL="+cht)...)
	const n = 50
	var wg sync.WaitGroup
	answers := make(chan answer, n)
	for range n {
		wg.Go(func() { answers <- s.call(t, http.MethodPost, "/export?dataSet="+seed.DemoDataSet+"&period="+period) })
	}
	wg.Wait()
	close(answers)
	for a := range answers {
		if a.code != http.StatusOK || a.env.Status != openhim.StatusSuccessful || a.report(t).DataValues.Valid != len(want) {
			t.Errorf("answer %d %q; want 200 Successful with the report", a.code, a.env.Status)
		}
	}
	if got := monthReads.Load(); got != 1 {
		t.Errorf("CHT was asked for the month's target docs %d times for %d identical concurrent exports; want 1", got, n)
	}
	if reqs, _ := pushes(t, sb, seed.DemoDataSet); len(reqs) != 1 {
		t.Errorf("%d pushes to DHIS2 for %d identical concurrent exports; want 1", len(reqs), n)
	}
}

// Shutdown: an export still pushing when the grace period ends is stopped;
// its client gets a 503 that OpenHIM retries, whose report counts what was
// not sent; the log says so at ERROR and records no 200.
func TestSecurity_shutdownReportsAnInterruptedExport(t *testing.T) {
	_, mo, want := exportDemo(t)
	period := mo.Period()
	sb := newSandbox(t, "2.40.3", demoMetadata(t))
	sb.SetDelay(1500 * time.Millisecond)
	var posts atomic.Int32
	url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			posts.Add(1)
		}
		sb.ServeHTTP(w, r)
	}))
	s := startServe(t, exportEnv(exportDB, url, true, "MEDIATOR_LOG_LEVEL=info", "MEDIATOR_DHIS2_CHUNK_SIZE=10",
		"MEDIATOR_SERVER_SHUTDOWN_TIMEOUT=2s")...)
	got := make(chan answer, 1)
	go func() { got <- s.call(t, http.MethodPost, "/export?dataSet="+seed.DemoDataSet+"&period="+period) }()
	eventually(t, 20*time.Second, "the first chunk is being pushed", func() bool { return posts.Load() >= 1 })
	s.stop(t)
	var a answer
	select {
	case a = <-got:
	case <-time.After(20 * time.Second):
		t.Fatal("the client got no answer")
	}
	rep := a.report(t)
	stored := len(storedValues(t, sb, period))
	if a.code != http.StatusServiceUnavailable || a.env.Error == nil || !strings.Contains(a.env.Error.Message, "shutting down") {
		t.Errorf("answer %d, error %v; want 503 with the error member saying the mediator is shutting down", a.code, a.env.Error)
	}
	if rep.DataValues.NotSent == 0 || stored+rep.DataValues.NotSent != len(want) {
		t.Errorf("DHIS2 stores %d, the report says %d not sent; want them to add up to %d", stored, rep.DataValues.NotSent, len(want))
	}
	logs := s.stderr.String()
	if !strings.Contains(logs, `"level":"ERROR","msg":"export stopped part-way: values not sent"`) {
		t.Errorf("no ERROR line naming the values not sent:\n%s", logs)
	}
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, `"msg":"request"`) && strings.Contains(line, `"path":"/export"`) && strings.Contains(line, `"status":200`) {
			t.Errorf("the access log records a 200 for the interrupted export: %s", line)
		}
	}
}

// The client's own unreadable body (cut off, or too slow) is a 400 / 408
// Completed without the error member: nothing for OpenHIM to retry. An
// unconfigured mediator answers 503 Failed with it, and /health says so.
// Unauthenticated requests with huge queries do not grow the log.
func TestSecurity_failureTableAndAccessLog(t *testing.T) {
	s := startServe(t, "MEDIATOR_SERVER_READ_TIMEOUT=1s", "MEDIATOR_SERVER_USERNAME=openhim", "MEDIATOR_SERVER_PASSWORD=route-Secret-77")
	auth := "Basic " + basicPair("openhim", "route-Secret-77")

	raw := func(req string, wait time.Duration, closeWrite bool) string {
		t.Helper()
		conn, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
		if _, err := io.WriteString(conn, req); err != nil {
			t.Fatal(err)
		}
		if closeWrite {
			_ = conn.(*net.TCPConn).CloseWrite()
		}
		time.Sleep(wait)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return fmt.Sprintf("%d %s", resp.StatusCode, b)
	}
	head := "POST /export?dataSet=" + seed.DemoDataSet + " HTTP/1.1\r\nHost: x\r\nAuthorization: " + auth + "\r\nContent-Length: 1000\r\n\r\n"
	for _, tc := range []struct {
		name       string
		closeWrite bool
		wantCode   string
	}{
		{"truncated body", true, "400 "},
		{"body too slow", false, "408 "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := raw(head+"0123456789", 0, tc.closeWrite)
			if !strings.HasPrefix(got, tc.wantCode) || !strings.Contains(got, `"status":"Completed"`) || strings.Contains(got, `"error":{`) {
				t.Errorf("answer %s; want %sCompleted without the error member", got, tc.wantCode)
			}
		})
	}

	// Not configured: no CHT, no DHIS2.
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.addr+"/export?dataSet="+seed.DemoDataSet, nil)
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var env openhim.Response
	_ = json.NewDecoder(resp.Body).Decode(&env)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || env.Status != openhim.StatusFailed || env.Error == nil || !strings.Contains(env.Error.Message, "cht.url") {
		t.Errorf("unconfigured export: %d %q error %v; want 503 Failed with the error member naming cht.url", resp.StatusCode, env.Status, env.Error)
	}
	resp, err = http.Get("http://" + s.addr + "/health")
	if err != nil {
		t.Fatal(err)
	}
	var health map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&health)
	resp.Body.Close()
	if health["status"] != "unconfigured" || !strings.Contains(fmt.Sprint(health["error"]), "cht.url") {
		t.Errorf("/health = %v; want status unconfigured and what is missing", health)
	}

	// Five unauthenticated 900 KB queries.
	before := len(s.stderr.String())
	huge := "/export?dataSet=" + strings.Repeat("x", 900<<10)
	for range 5 {
		resp, err := http.Get("http://" + s.addr + huge)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("unauthenticated: %d; want 401", resp.StatusCode)
		}
	}
	// And one authenticated: its query is cut.
	req, _ = http.NewRequest(http.MethodGet, "http://"+s.addr+huge, nil)
	req.Header.Set("Authorization", auth)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	eventually(t, 10*time.Second, "six access log lines", func() bool {
		return strings.Count(s.stderr.String()[before:], `"msg":"request"`) >= 6
	})
	if grew := len(s.stderr.String()) - before; grew > 16<<10 {
		t.Errorf("six requests with 900 KB queries grew the log by %d bytes; want a few KB", grew)
	}
	requireClean(t, "the log", s.stderr.String())
	if strings.Contains(s.stderr.String(), "route-Secret-77") {
		t.Error("the log holds the route's password")
	}
}

// A malformed URL with a password is refused without quoting the password.
func TestSecurity_malformedURLNotQuoted(t *testing.T) {
	requireServer(t)
	code, stdout, stderr := run(t, []string{"MEDIATOR_CHT_URL=ftp://medic:Quoted-Secret-5@cht.example.org"}, "serve", "--check-config")
	if code != 2 || !strings.Contains(stderr, "cht.url") || strings.Contains(stdout+stderr, "Quoted-Secret-5") {
		t.Errorf("exit %d, stderr %q; want 2, naming cht.url without the password", code, stderr)
	}
}
