package test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/app"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/config"
	dhissandbox "github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/sandbox/dhis2/sandbox"
	himsandbox "github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/sandbox/openhim/sandbox"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/seed"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/testutil"
)

const (
	himRoot         = "root@openhim.org"
	himPassword     = "openhim-Core-Passw0rd"
	himClient       = "cht-dhis2-operator"
	himClientPass   = "cht-dhis2-demo-only"
	himDHIS2Token   = "d2p_openhimE2ETokenSecret000000000000000000000000"
	mediatorURN     = "urn:mediator:cht-dhis2"
	exportChannel   = "CHT DHIS2 export"
	pollingChannel  = "CHT DHIS2 monthly export"
	openhimDB       = "openhim"
	heartbeatPeriod = 150 * time.Millisecond
)

// himStack is OpenHIM core (API over TLS, router), DHIS2 and the mediator,
// all on loopback, with the repository's channels and demo client imported
// into core as an operator would.
type himStack struct {
	core     *himsandbox.Server
	api      *httptest.Server
	router   *httptest.Server
	dhis     *dhissandbox.Server
	mediator *app.App
	logs     *testutil.SyncBuffer
	month    seed.Month
	manifest *seed.Manifest
	want     map[key]string // what DHIS2 must store for the demo data set
	wantAll  map[key]string // ... for every data set of CHT's dhis_data_sets
}

var openhimOnce sync.Once

func startHIMStack(t *testing.T, coreDown bool) *himStack {
	t.Helper()
	return startHIMStackWith(t, himOptions{coreDown: coreDown, db: openhimDB, once: &openhimOnce})
}

// himOptions vary the stack: the CHT database (loaded once) and its demo
// district, core's clock.
type himOptions struct {
	coreDown  bool
	db        string
	once      *sync.Once
	allStates bool             // the demo district's readiness cast
	coreNow   func() time.Time // core's clock; time.Now when nil
}

func startHIMStackWith(t *testing.T, o himOptions) *himStack {
	t.Helper()
	requireServer(t)
	coreDown, db := o.coreDown, o.db
	now := time.Now()
	mo := seed.LastMonth(now)
	docs, m, err := seed.DemoDocs(seed.DemoOptions{End: mo, Months: 1, AllStates: o.allStates})
	if err != nil {
		t.Fatal(err)
	}
	o.once.Do(func() { newDB(t, db, docs) })
	st := &himStack{logs: &testutil.SyncBuffer{}, month: mo, manifest: m, want: norm(demoExpected(m, seed.DemoDataSet, mo)), wantAll: norm(demoExpected(m, seed.OtherDataSet, mo))}
	for k, v := range st.want {
		st.wantAll[k] = v
	}

	// DHIS2 on today's clock: last month is closed and open for data entry.
	md := demoMetadata(t)
	st.dhis, err = dhissandbox.New(dhissandbox.Options{Version: "2.41.1", Metadata: md, Token: himDHIS2Token, Username: "admin", Password: "district-Unused-9"})
	if err != nil {
		t.Fatal(err)
	}
	dhisURL := serve(t, st.dhis)

	// OpenHIM core: its API over TLS with a certificate the mediator must
	// be told to trust, and its router.
	st.core, err = himsandbox.New(himsandbox.Options{RootUser: himRoot, RootPassword: himPassword, Now: o.coreNow})
	if err != nil {
		t.Fatal(err)
	}
	st.core.SetDown(coreDown)
	st.api = httptest.NewTLSServer(st.core.APIHandler())
	t.Cleanup(st.api.Close)
	st.router = httptest.NewServer(st.core.RouterHandler())
	t.Cleanup(st.router.Close)
	caFile := filepath.Join(t.TempDir(), "core-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: st.api.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}

	cfg, err := config.Load(config.Sources{Flags: map[string]string{
		"server.addr":                "127.0.0.1:0",
		"cht.url":                    couch.URL(),
		"cht.username":               chtUser,
		"cht.password":               chtPassword,
		"cht.database":               db,
		"dhis2.url":                  dhisURL,
		"dhis2.token":                himDHIS2Token,
		"openhim.url":                st.api.URL,
		"openhim.username":           himRoot,
		"openhim.password":           himPassword,
		"openhim.tls_ca_file":        caFile,
		"openhim.heartbeat_interval": heartbeatPeriod.String(),
		"log.level":                  "debug",
	}})
	if err != nil {
		t.Fatal(err)
	}
	st.mediator, err = app.New(cfg, slog.New(slog.NewJSONHandler(st.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	if err := st.mediator.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := st.mediator.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})

	// The operator imports channels/ (pointed at this mediator) and the
	// demo client.
	host, port, _ := strings.Cut(st.mediator.Addr(), ":")
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
		res, err := st.core.ImportMetadata(doc)
		if err != nil {
			t.Fatalf("import metadata: %v", err)
		}
		for _, r := range res {
			if r.Status != "Inserted" && r.Status != "Updated" {
				t.Fatalf("import metadata: %+v", r)
			}
		}
	}
	return st
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (st *himStack) registered(t *testing.T) himsandbox.Mediator {
	t.Helper()
	var med himsandbox.Mediator
	eventually(t, 10*time.Second, "mediator registered and heart-beating", func() bool {
		var ok bool
		med, ok = st.core.Mediator(mediatorURN)
		return ok && med.Heartbeats > 0
	})
	return med
}

// call sends a client request through core's router.
func (st *himStack) call(t *testing.T, method, pathAndQuery string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, st.router.URL+pathAndQuery, nil)
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

func (st *himStack) lastTransaction(t *testing.T) himsandbox.Transaction {
	t.Helper()
	txs := st.core.Transactions()
	if len(txs) == 0 {
		t.Fatal("core recorded no transaction")
	}
	return txs[len(txs)-1]
}

// storedDemo indexes what DHIS2 stored for the demo data set's org units.
func (st *himStack) stored() map[key]string {
	out := map[key]string{}
	for _, v := range st.dhis.Stored() {
		if v.OrgUnit == seed.OUBahariX {
			continue // the other data set's org unit
		}
		out[normKey(key{v.OrgUnit, v.DataElement, v.CategoryOptionCombo, v.AttributeOptionCombo})] = v.Value
	}
	return out
}

// noSecrets fails when any credential of the stack shows in text.
func noSecrets(t *testing.T, what, text string) {
	t.Helper()
	for _, s := range []string{chtPassword, himPassword, himDHIS2Token, himClientPass} {
		if strings.Contains(text, s) {
			t.Errorf("%s contains the secret %q", what, s)
		}
	}
}

// Client → OpenHIM core → mediator → CHT (pouchdb-server) + DHIS2: the
// transaction core records, and what DHIS2 stored.
func TestOpenHIM_exportThroughChannel(t *testing.T) {
	st := startHIMStack(t, false)
	med := st.registered(t)
	if med.Version != app.Version || len(med.Endpoints) == 0 || len(med.ConfigDefs) == 0 {
		t.Errorf("registered %+v; want mediator.json with the program's version %s", med, app.Version)
	}

	code, body := st.call(t, http.MethodPost, "/cht-dhis2/export?dataSet="+seed.DemoDataSet+"&period="+st.month.Period())
	if code != http.StatusOK {
		t.Fatalf("export through OpenHIM: %d %s", code, body)
	}
	var rep struct {
		Status     string         `json:"status"`
		DataValues map[string]int `json:"dataValues"`
	}
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatalf("client body is not the export report: %v\n%s", err, body)
	}
	if rep.Status != "Successful" || rep.DataValues["built"] != len(st.want) {
		t.Errorf("report: status %q, values %v; want Successful with %d values", rep.Status, rep.DataValues, len(st.want))
	}
	diff(t, "DHIS2 stored", st.stored(), st.want)

	tx := st.lastTransaction(t)
	if tx.Status != "Successful" || tx.Response == nil || tx.Response.Status != 200 || !strings.Contains(tx.Response.Body, `"status":"Successful"`) {
		t.Errorf("transaction: status %q, response %+v", tx.Status, tx.Response)
	}
	if !tx.CanRerun || tx.Request == nil || !strings.Contains(tx.Request.Querystring, "period="+st.month.Period()) {
		t.Errorf("transaction request %+v, canRerun %v: the query must be stored for a re-run", tx.Request, tx.CanRerun)
	}
	names := map[string]int{}
	for _, o := range tx.Orchestrations {
		names[o.Name]++
		if o.Request == nil || o.Request.Timestamp.IsZero() {
			t.Errorf("orchestration %q has no request timestamp", o.Name)
		}
	}
	for _, want := range []string{"CHT: GET /medic/settings", "CHT: GET /" + openhimDB + "/_all_docs", "CHT: POST /" + openhimDB + "/_all_docs", "DHIS2: GET /api/dataSets/" + seed.DemoDataSet, "DHIS2: POST /api/dataValueSets"} {
		found := false
		for n := range names {
			if strings.HasPrefix(n, strings.Replace(want, "/medic/", "/"+openhimDB+"/", 1)) {
				found = true
			}
		}
		if !found {
			t.Errorf("no orchestration %q among %v", want, names)
		}
	}
	for _, o := range tx.Orchestrations {
		if o.Name == "DHIS2: POST /api/dataValueSets" && (o.Response == nil || o.Response.Status != 200 || !strings.Contains(o.Request.Body, `"dataValues"`)) {
			t.Errorf("push orchestration %+v: want the request body and DHIS2's 200", o)
		}
	}
	props, _ := json.Marshal(tx.Properties)
	if !strings.Contains(string(props), `"dataSet":"`+seed.DemoDataSet+`"`) {
		t.Errorf("properties = %s", props)
	}
	all, _ := json.Marshal(st.core.Transactions())
	noSecrets(t, "the transactions core stored", string(all))
	noSecrets(t, "the mediator's logs", st.logs.String())

	// A re-run from the console repeats the same export: nothing changes.
	before := st.stored()
	if _, err := st.core.Rerun(tx.ID); err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if rerun := st.lastTransaction(t); rerun.Status != "Successful" {
		t.Errorf("re-run status %q", rerun.Status)
	}
	diff(t, "after the re-run", st.stored(), before)

	// The pull for DHIS2 apps answers a data value set without pushing.
	code, body = st.call(t, http.MethodGet, "/cht-dhis2/dataValueSets?dataSet="+seed.DemoDataSet+"&period="+st.month.Period()+"&orgUnit="+seed.OUKanji)
	if code != http.StatusOK || !strings.Contains(body, `"dataValues"`) || !strings.Contains(body, seed.OUKanji) {
		t.Errorf("pull: %d %s", code, body)
	}

	// Invalid requests get 400 in the envelope, naming the parameter.
	code, body = st.call(t, http.MethodPost, "/cht-dhis2/export?period=2024-13")
	if code != http.StatusBadRequest || !strings.Contains(body, `period \"2024-13\"`) && !strings.Contains(body, `period "2024-13"`) {
		t.Errorf("bad period: %d %s", code, body)
	}
	if tx := st.lastTransaction(t); tx.Response == nil || tx.Response.Status != 400 {
		t.Errorf("bad period transaction %+v", tx.Response)
	}
}

// The monthly polling channel: core calls GET /export with no query; the
// mediator exports last month for every data set.
func TestOpenHIM_pollingChannel(t *testing.T) {
	st := startHIMStack(t, false)
	st.registered(t)
	tx, err := st.core.Poll(pollingChannel)
	if err != nil {
		t.Fatalf("poll: %v", err)
	}
	if tx.Status != "Successful" {
		body := ""
		if tx.Response != nil {
			body = tx.Response.Body
		}
		t.Fatalf("polling transaction status %q; body %s", tx.Status, body)
	}
	if !strings.Contains(tx.Response.Body, `"period":"`+st.month.Period()+`"`) || !strings.Contains(tx.Response.Body, seed.OtherDataSet) {
		t.Errorf("polling answer does not export %s for every data set: %s", st.month.Period(), tx.Response.Body)
	}
	all := map[key]string{}
	for _, v := range st.dhis.Stored() {
		all[normKey(key{v.OrgUnit, v.DataElement, v.CategoryOptionCombo, v.AttributeOptionCombo})] = v.Value
	}
	diff(t, "DHIS2 stored after the poll", all, st.wantAll)
}

// OpenHIM down at start: the mediator serves meanwhile and registers once
// core is up; a console config change is applied within a heartbeat or
// two; a deleted registration (404 heartbeat) leads to re-registration.
func TestOpenHIM_lifecycle(t *testing.T) {
	st := startHIMStack(t, true)
	resp, err := http.Get("http://" + st.mediator.Addr() + "/health")
	if err != nil {
		t.Fatalf("health while core is down: %v", err)
	}
	var health map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&health)
	resp.Body.Close()
	if resp.StatusCode != 200 || health["status"] != "ok" {
		t.Fatalf("health while core is down: %d %v", resp.StatusCode, health)
	}
	time.Sleep(3 * heartbeatPeriod)
	if _, ok := st.core.Mediator(mediatorURN); ok {
		t.Fatal("registered while core was down")
	}
	st.core.SetDown(false)
	st.registered(t)

	// The console sets a new chunk size and an empty CHT URL (which must
	// not override the local one).
	if err := st.core.SetConfig(mediatorURN, map[string]any{
		"cht":   map[string]any{"url": "", "page_size": 7},
		"dhis2": map[string]any{"chunk_size": 11},
	}); err != nil {
		t.Fatalf("console config: %v", err)
	}
	eventually(t, 10*heartbeatPeriod+2*time.Second, "console config applied", func() bool {
		c := st.mediator.Config()
		return c.DHIS2.ChunkSize == 11 && c.CHT.PageSize == 7
	})
	if got := st.mediator.Config().CHT.URL; got != couch.URL() {
		t.Errorf("cht.url = %q after an empty console value; want the local %q", got, couch.URL())
	}
	code, body := st.call(t, http.MethodPost, "/cht-dhis2/export?dataSet="+seed.DemoDataSet+"&period="+st.month.Period())
	if code != 200 || !strings.Contains(body, `"chunks":3`) {
		t.Errorf("export after the console change: %d %s; want 28 values in 3 chunks of 11", code, body)
	}

	// A bad console config is refused; the running one stays.
	if err := st.core.SetConfig(mediatorURN, map[string]any{"dhis2": map[string]any{"chunk_size": 0}}); err != nil {
		t.Fatalf("console config: %v", err)
	}
	eventually(t, 10*heartbeatPeriod+2*time.Second, "bad config refused and logged", func() bool {
		return strings.Contains(st.logs.String(), "config from OpenHIM refused")
	})
	if got := st.mediator.Config().DHIS2.ChunkSize; got != 11 {
		t.Errorf("chunk size = %d after a refused config; want 11", got)
	}

	// Deleted in the console: the next heartbeat gets 404 and the mediator
	// registers again.
	st.core.DeleteMediator(mediatorURN)
	eventually(t, 10*heartbeatPeriod+5*time.Second, "re-registration after a 404 heartbeat", func() bool {
		med, ok := st.core.Mediator(mediatorURN)
		return ok && med.Heartbeats > 0
	})
	noSecrets(t, "the mediator's logs", st.logs.String())
	all, _ := json.Marshal(st.core.Requests())
	noSecrets(t, "the requests core saw", fmt.Sprint(string(all)))
}

// Transient failures are marked for OpenHIM's auto-retry: the transaction
// core records for a push DHIS2 answers with 500 has autoRetry set (core
// sets it when the mediator's answer has an error member), and one for a
// bad parameter does not.
func TestOpenHIM_transientFailuresAutoRetry(t *testing.T) {
	st := startHIMStack(t, false)
	st.registered(t)
	st.dhis.Fail(100, http.StatusInternalServerError) // every push and its retries
	code, body := st.call(t, http.MethodPost, "/cht-dhis2/export?dataSet="+seed.DemoDataSet+"&period="+st.month.Period())
	if code != http.StatusBadGateway {
		t.Fatalf("export with DHIS2 failing: %d %s; want 502", code, body)
	}
	tx := st.lastTransaction(t)
	if !tx.AutoRetry || tx.Status != "Failed" || tx.Error == nil || !strings.Contains(tx.Error.Message, "values not sent") {
		t.Errorf("transaction status %q autoRetry %t error %+v; want Failed, marked for auto-retry, naming the values not sent", tx.Status, tx.AutoRetry, tx.Error)
	}
	noSecrets(t, "the transaction", fmt.Sprintf("%+v", tx))

	code, _ = st.call(t, http.MethodPost, "/cht-dhis2/export?dataSet=notAUid&period="+st.month.Period())
	if code != http.StatusBadRequest {
		t.Fatalf("bad parameter: %d; want 400", code)
	}
	if tx := st.lastTransaction(t); tx.AutoRetry || tx.Status != "Completed" {
		t.Errorf("bad parameter: transaction status %q autoRetry %t; want Completed, not retried", tx.Status, tx.AutoRetry)
	}
}
