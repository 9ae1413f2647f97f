package test

import (
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/readiness"
	dhissandbox "github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/sandbox/dhis2/sandbox"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/seed"
)

const (
	boardChannel      = "CHT DHIS2 month board"
	supervisor        = "kanji-supervisor"
	supervisorPass    = "supervisor-Test-Only-7"
	supervisorSalt    = "5b0e9d2c41a7f3e8"
	boardDHIS2Owner   = "admin" // the DHIS2 user of himDHIS2Token in the stack's sandbox
	boardStaleOrgUnit = "ouCountry01"
)

var boardOnce sync.Once

// browserProfileDir is a temporary user-data dir for Chromium. It is not
// t.TempDir: after the browser is killed its helper processes can still
// write to the profile for a moment, and TempDir's cleanup then fails the
// test with "directory not empty". Its removal is tried again for a few
// seconds, and a dir that will not go is only logged.
func browserProfileDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "board-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var err error
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if err = os.RemoveAll(dir); err == nil {
				return
			}
		}
		t.Logf("leaving Chromium's profile %s: %v", dir, err)
	})
	return dir
}

// chromiumPath is Debian's chromium (or another Chromium/Chrome on PATH,
// or CHROMIUM_PATH); "" when none is installed.
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM_PATH"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// boardRow is a row of one of the board's tables, as the page shows it.
type boardRow struct {
	Attrs map[string]string `json:"attrs"`
	Cells []string          `json:"cells"`
}

// boardView is what the page shows, read from its DOM.
type boardView struct {
	Verdict      string     `json:"verdict"`
	Readiness    []boardRow `json:"readiness"`
	Pending      []boardRow `json:"pending"`
	Changes      []boardRow `json:"changes"`
	ChangesText  string     `json:"changesText"`
	Problems     []string   `json:"problems"`
	PushDisabled bool       `json:"pushDisabled"`
	ForceHidden  bool       `json:"forceHidden"`
	Last         string     `json:"last"`
	Error        string     `json:"error"`
	Overflow     bool       `json:"overflow"`
	Unlabelled   []string   `json:"unlabelled"`
}

const readBoardJS = `(() => {
  const rows = sel => [...document.querySelectorAll(sel + " tbody tr")].map(tr => ({
    attrs: Object.fromEntries([...tr.attributes].filter(a => a.name.startsWith("data-")).map(a => [a.name.slice(5), a.value])),
    cells: [...tr.cells].map(td => td.textContent)}));
  const unlabelled = [...document.querySelectorAll("input, select, button")].filter(e =>
    !(e.labels && e.labels.length) && !e.getAttribute("aria-label") && !e.textContent.trim()).map(e => e.id || e.tagName);
  return {
    verdict: (document.getElementById("verdict") || {}).textContent || "",
    readiness: rows("#readiness-table"), pending: rows("#pending-table"), changes: rows("#changes-table"),
    changesText: document.getElementById("changes-summary").textContent,
    problems: [...document.querySelectorAll("#problems-list li")].map(li => li.textContent),
    pushDisabled: document.getElementById("push").disabled,
    forceHidden: document.getElementById("force").hidden,
    last: document.getElementById("last-result").textContent,
    error: document.getElementById("error").hidden ? "" : document.getElementById("error").textContent,
    overflow: document.documentElement.scrollWidth > document.documentElement.clientWidth,
    unlabelled: unlabelled,
  };
})()`

// A supervisor with an OpenHIM client login of role cht-dhis2-board opens
// the month board in headless Chromium through core's router, sees who has
// not synced and what would change in DHIS2, and pushes the ready month:
// the test checks the page against what CHT and the DHIS2 sandbox hold,
// what DHIS2 stored after the push, and the transactions core recorded.
func TestBoard_browser(t *testing.T) {
	chrome := chromiumPath()
	if chrome == "" {
		t.Skip("month board browser test SKIPPED: no Chromium installed (apt-get install chromium, or set CHROMIUM_PATH)")
	}
	// min_ready 0.8: 9 of the 11 CHWs synced, so the month is ready with
	// one pending CHW and one who never synced.
	st := startHIMStackWith(t, himOptions{db: "openhim_board", once: &boardOnce, allStates: true,
		flags: map[string]string{"export.min_ready": "0.8"},
		metadata: func(md *dhissandbox.Metadata) {
			ds := mdDataSet(t, md, seed.DemoDataSet)
			ds.OrganisationUnits = append(ds.OrganisationUnits, dhissandbox.Ref{ID: boardStaleOrgUnit})
		}})
	st.registered(t)
	m, period := st.manifest, st.month.Period()
	_, _, pending, never := kanjiCast(m)

	// The operator gives the supervisor a client with the board's role
	// only. Core checks hex(sha512(password + salt)).
	sum := sha512.Sum512([]byte(supervisorPass + supervisorSalt))
	client := fmt.Sprintf(`{"Clients":[{"clientID":%q,"name":"Kanji supervisor (test)","roles":["cht-dhis2-board"],"passwordAlgorithm":"sha512","passwordSalt":%q,"passwordHash":%q}]}`,
		supervisor, supervisorSalt, hex.EncodeToString(sum[:]))
	if res, err := st.core.ImportMetadata([]byte(client)); err != nil || len(res) != 1 || res[0].Status != "Inserted" {
		t.Fatalf("import the supervisor client: %+v %v", res, err)
	}
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(supervisor+":"+supervisorPass))

	// The role opens the board's channel only.
	req, _ := http.NewRequest(http.MethodPost, st.router.URL+"/cht-dhis2/export?dataSet="+m.DataSet, nil)
	req.Header.Set("Authorization", auth)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the supervisor on the export channel: %v %v; want 401", resp, err)
	} else {
		resp.Body.Close()
	}

	// A push that is not the board's own (a form another site posts with
	// the browser's cached login) is refused, through the router too.
	req, _ = http.NewRequest(http.MethodPost, st.router.URL+"/cht-dhis2/board/api/export?dataSet="+m.DataSet, strings.NewReader("x=1"))
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a cross-site push: %v %v; want 403", resp, err)
	} else {
		resp.Body.Close()
	}

	// DHIS2 already holds two of the mediator's values: one CHT now counts
	// differently, one on an org unit no CHT contact maps any more.
	want := st.want
	keys := slices.SortedFunc(func(yield func(key) bool) {
		for k := range want {
			if !yield(k) {
				return
			}
		}
	}, func(a, b key) int { return strings.Compare(a.String(), b.String()) })
	changedKey := keys[0]
	oldValue := want[changedKey] + "1"
	st.dhis.Put(
		dhissandbox.DataValue{DataElement: changedKey.de, Period: period, OrgUnit: changedKey.ou, CategoryOptionCombo: changedKey.coc,
			AttributeOptionCombo: changedKey.aoc, Value: oldValue, StoredBy: boardDHIS2Owner},
		dhissandbox.DataValue{DataElement: seed.DEBirths, Period: period, OrgUnit: boardStaleOrgUnit, Value: "5", StoredBy: boardDHIS2Owner},
	)

	// What CHT holds, asked through the readiness channel by the operator.
	code, body := st.call(t, http.MethodGet, "/cht-dhis2/readiness?dataSet="+m.DataSet+"&period="+period)
	var r readiness.Object
	if err := json.Unmarshal([]byte(body), &r); code != http.StatusOK || err != nil {
		t.Fatalf("readiness: %d %v %s", code, err, body)
	}
	if !r.Ready || r.Pending != 1 || r.NeverSynced != 1 {
		t.Fatalf("readiness = %s; want ready with one pending and one never synced CHW", body)
	}
	before := len(st.core.Transactions())

	// Headless Chromium, with the flags that keep it off the network.
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chrome),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(browserProfileDir(t)),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(actx)
	defer cancelCtx()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()

	var mu sync.Mutex
	var consoleErrors, dialogs []string
	var logins atomic.Int32
	// Commands answering an event run outside the listener (chromedp's
	// rule: a listener must not block on the browser).
	// A reply can fail harmlessly (the page dropped the request it
	// answers): the outcome is judged by what the page and the sandboxes
	// show, so failures are only logged.
	var replyErrs []string
	reply := func(a chromedp.Action) {
		go func() {
			if err := chromedp.Run(ctx, a); err != nil && ctx.Err() == nil {
				mu.Lock()
				replyErrs = append(replyErrs, err.Error())
				mu.Unlock()
			}
		}()
	}
	chromedp.ListenTarget(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *fetch.EventRequestPaused:
			reply(fetch.ContinueRequest(e.RequestID))
		case *fetch.EventAuthRequired:
			// The router's basic auth challenge: the supervisor logs in.
			logins.Add(1)
			reply(fetch.ContinueWithAuth(e.RequestID, &fetch.AuthChallengeResponse{
				Response: fetch.AuthChallengeResponseResponseProvideCredentials, Username: supervisor, Password: supervisorPass}))
		case *page.EventJavascriptDialogOpening:
			dialogs = append(dialogs, e.Message)
			reply(page.HandleJavaScriptDialog(true))
		case *runtime.EventExceptionThrown:
			consoleErrors = append(consoleErrors, "exception: "+e.ExceptionDetails.Error())
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.APITypeError || e.Type == runtime.APITypeAssert {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value))
				}
				consoleErrors = append(consoleErrors, "console.error: "+strings.Join(args, " "))
			}
		case *log.EventEntryAdded:
			if e.Entry.Level == log.LevelError {
				consoleErrors = append(consoleErrors, "log: "+e.Entry.Text+" "+e.Entry.URL)
			}
		}
	})

	// The router asks the browser for credentials (401 with
	// WWW-Authenticate: Basic); the supervisor answers with the client's.
	boardURL := st.router.URL + "/cht-dhis2/board"
	var view boardView
	read := func() boardView {
		t.Helper()
		var v boardView
		if err := chromedp.Run(ctx, chromedp.Evaluate(readBoardJS, &v)); err != nil {
			t.Fatalf("read the board: %v", err)
		}
		return v
	}
	loaded := `document.body.getAttribute("data-loaded") === "` + m.DataSet + `:` + period + `"`
	err := chromedp.Run(ctx,
		log.Enable(), runtime.Enable(), fetch.Enable().WithHandleAuthRequests(true),
		chromedp.Navigate(boardURL),
		chromedp.Poll(`document.querySelectorAll("#dataSet option").length > 0 || !document.getElementById("error").hidden`, nil, chromedp.WithPollingTimeout(time.Minute)),
		chromedp.SetValue("#dataSet", m.DataSet, chromedp.ByQuery),
		chromedp.Evaluate(`document.body.removeAttribute("data-loaded")`, nil),
		chromedp.Click("#show", chromedp.ByQuery),
		chromedp.Poll(loaded, nil, chromedp.WithPollingTimeout(time.Minute)),
	)
	if err != nil {
		t.Fatalf("load the board: %v (page error: %q)", err, read().Error)
	}
	var month string
	if err := chromedp.Run(ctx, chromedp.Value("#month", &month, chromedp.ByQuery)); err != nil || month != period[:4]+"-"+period[4:] {
		t.Errorf("month picker = %q, %v; want last month %s", month, err, period)
	}
	view = read()
	if view.Error != "" {
		t.Errorf("the board shows an error: %s", view.Error)
	}
	if len(view.Unlabelled) > 0 {
		t.Errorf("controls without an accessible label: %v", view.Unlabelled)
	}

	// Readiness per org unit, as CHT holds it.
	if view.Verdict != "Ready to report" || view.PushDisabled || !view.ForceHidden {
		t.Errorf("verdict %q, push disabled %v, force hidden %v; want ready with the push enabled", view.Verdict, view.PushDisabled, view.ForceHidden)
	}
	if len(view.Readiness) != len(r.OrgUnits) {
		t.Errorf("readiness table has %d rows; CHT gives %d org units: %+v", len(view.Readiness), len(r.OrgUnits), view.Readiness)
	}
	for i, o := range r.OrgUnits {
		if i >= len(view.Readiness) {
			break
		}
		row := view.Readiness[i]
		wantCells := []string{fmt.Sprint(o.Expected), fmt.Sprint(o.Final), fmt.Sprint(o.NoActivity), fmt.Sprint(o.Pending), fmt.Sprint(o.NeverSynced)}
		if row.Attrs["org-unit"] != o.OrgUnit || len(row.Cells) != 7 || !slices.Equal(row.Cells[1:6], wantCells) {
			t.Errorf("readiness row %d = %+v; want %s with %v", i, row, o.OrgUnit, wantCells)
		}
	}
	var pendingUsers []string
	for _, p := range view.Pending {
		pendingUsers = append(pendingUsers, p.Attrs["user"])
	}
	slices.Sort(pendingUsers)
	wantPending := []string{pending, never}
	slices.Sort(wantPending)
	if !slices.Equal(pendingUsers, wantPending) {
		t.Errorf("pending CHWs on the board = %v; want %v", pendingUsers, wantPending)
	}
	for _, p := range view.Pending {
		if p.Attrs["user"] == never && p.Cells[3] != "never" {
			t.Errorf("the CHW who never synced shows last sync %q", p.Cells[3])
		}
		if p.Attrs["user"] == pending && (p.Cells[3] == "never" || p.Cells[0] == "") {
			t.Errorf("the pending CHW shows %v; want a name and a last sync", p.Cells)
		}
	}

	// What would change in DHIS2: every value new but the two DHIS2 holds.
	kinds := map[string]int{}
	for _, c := range view.Changes {
		kinds[c.Attrs["kind"]]++
		k := normKey(key{c.Attrs["org-unit"], c.Attrs["de"], c.Attrs["coc"], ""})
		switch c.Attrs["kind"] {
		case "changed":
			if k.ou != changedKey.ou || k.de != changedKey.de || c.Attrs["old"] != oldValue || c.Attrs["new"] != want[changedKey] ||
				c.Cells[4] != oldValue+" → "+want[changedKey] {
				t.Errorf("changed row %+v; want %v %s → %s", c, changedKey, oldValue, want[changedKey])
			}
		case "delete":
			if c.Cells[0] != "deleted" || c.Attrs["org-unit"] != boardStaleOrgUnit || c.Attrs["de"] != seed.DEBirths || c.Attrs["old"] != "5" {
				t.Errorf("deleted row %+v", c)
			}
		case "new":
			if v, ok := want[k]; !ok || v != c.Attrs["new"] {
				t.Errorf("new row %+v: CHT's value is %q", c, v)
			}
		}
	}
	if kinds["changed"] != 1 || kinds["delete"] != 1 || kinds["new"] != len(want)-1 {
		t.Errorf("changes on the board = %v (%s); want 1 changed, 1 deleted, %d new", kinds, view.ChangesText, len(want)-1)
	}
	if !strings.Contains(view.Last, "No export") {
		t.Errorf("last export before any push = %q", view.Last)
	}

	// A phone screen: nothing wider than the screen but the tables' own
	// scroll areas.
	if err := chromedp.Run(ctx, emulation.SetDeviceMetricsOverride(390, 844, 2, true)); err != nil {
		t.Fatal(err)
	}
	if v := read(); v.Overflow {
		t.Errorf("the board is wider than a 390 px phone screen")
	}
	var phone []byte
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&phone, 100), emulation.ClearDeviceMetricsOverride()); err != nil {
		t.Fatal(err)
	}
	var shot []byte
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&shot, 100)); err != nil {
		t.Fatal(err)
	}
	dir := t.ArtifactDir()
	for name, b := range map[string][]byte{"board.png": shot, "board-phone.png": phone} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshots in %s", dir)

	// Push.
	err = chromedp.Run(ctx,
		chromedp.Evaluate(`document.body.removeAttribute("data-loaded")`, nil),
		chromedp.Click("#push", chromedp.ByQuery),
		chromedp.Poll(`document.body.hasAttribute("data-pushed") && `+loaded, nil, chromedp.WithPollingTimeout(time.Minute)),
	)
	if err != nil {
		t.Fatalf("push: %v (page error: %q)", err, read().Error)
	}
	var pushed string
	if err := chromedp.Run(ctx, chromedp.AttributeValue("body", "data-pushed", &pushed, nil, chromedp.ByQuery)); err != nil || pushed != "200" {
		t.Errorf("push answered %q, %v; want 200", pushed, err)
	}
	after := read()
	if !strings.HasPrefix(after.Last, "Successful") || !strings.Contains(after.Last, "DHIS2:") {
		t.Errorf("last export after the push = %q", after.Last)
	}
	if !strings.HasPrefix(after.ChangesText, "0 new, 0 changed, 0 deleted") {
		t.Errorf("changes after the push = %q; want nothing left to change", after.ChangesText)
	}

	if logins.Load() == 0 {
		t.Errorf("the router never asked the browser to log in")
	}

	// Kanji alone is not ready (2 of its 4 CHWs done, 0.8 needed): the
	// push is disabled; the forced push asks first, and is recorded so.
	err = chromedp.Run(ctx,
		chromedp.SetValue("#orgUnit", seed.OUKanji, chromedp.ByQuery),
		chromedp.Evaluate(`document.body.removeAttribute("data-loaded")`, nil),
		chromedp.Click("#show", chromedp.ByQuery),
		chromedp.Poll(loaded, nil, chromedp.WithPollingTimeout(time.Minute)),
	)
	if err != nil {
		t.Fatalf("show Kanji: %v", err)
	}
	kanji := read()
	if kanji.Verdict != "Not ready" || !kanji.PushDisabled || kanji.ForceHidden || len(kanji.Pending) != 2 {
		t.Errorf("Kanji: verdict %q, push disabled %v, force hidden %v, %d pending; want not ready with the forced push offered",
			kanji.Verdict, kanji.PushDisabled, kanji.ForceHidden, len(kanji.Pending))
	}
	err = chromedp.Run(ctx,
		chromedp.Evaluate(`document.body.removeAttribute("data-loaded"); document.body.removeAttribute("data-pushed")`, nil),
		chromedp.Click("#force", chromedp.ByQuery),
		chromedp.Poll(`document.body.hasAttribute("data-pushed") && `+loaded, nil, chromedp.WithPollingTimeout(time.Minute)),
	)
	if err != nil {
		t.Fatalf("forced push: %v (page error: %q)", err, read().Error)
	}
	mu.Lock()
	asked := slices.ContainsFunc(dialogs, func(d string) bool { return strings.Contains(d, "recorded as forced") })
	mu.Unlock()
	if !asked {
		t.Errorf("the forced push asked %q; want a confirmation saying it is recorded as forced", dialogs)
	}
	if forced := read(); !strings.Contains(forced.Last, "forced past the readiness gate") || !strings.Contains(forced.Last, "for org unit "+seed.OUKanji) {
		t.Errorf("last export after the forced push = %q", forced.Last)
	}

	// What DHIS2 stored: CHT's values, the stale one deleted.
	live := map[key]string{}
	staleDeleted := false
	for _, v := range st.dhis.Stored() {
		if v.OrgUnit == boardStaleOrgUnit && v.DataElement == seed.DEBirths {
			staleDeleted = v.Deleted
			continue
		}
		if !v.Deleted && v.OrgUnit != seed.OUBahariX {
			live[normKey(key{v.OrgUnit, v.DataElement, v.CategoryOptionCombo, v.AttributeOptionCombo})] = v.Value
		}
	}
	diff(t, "DHIS2 after the board's push", live, want)
	if !staleDeleted {
		t.Errorf("the stale value was not deleted")
	}

	// What core recorded: every call of the page, as the supervisor, on
	// the board's channel; the push with its DHIS2 orchestrations.
	var calls []string
	var push, forcedTx bool
	channelID, clientID := "", ""
	for _, c := range st.core.Clients() {
		if c.ClientID == supervisor {
			clientID = c.ID
		}
	}
	for _, c := range st.core.Channels() {
		if c.Name == boardChannel {
			channelID = c.ID
		}
	}
	for _, tx := range st.core.Transactions()[before:] {
		if tx.Request == nil {
			continue
		}
		calls = append(calls, tx.Request.Method+" "+tx.Request.Path)
		if tx.ClientID != clientID || clientID == "" || tx.ChannelID != channelID || channelID == "" {
			t.Errorf("transaction %s %s: client %q channel %q; want the supervisor on %q", tx.Request.Method, tx.Request.Path, tx.ClientID, tx.ChannelID, channelID)
		}
		if tx.Request.Method == http.MethodPost && tx.Request.Path == "/cht-dhis2/board/api/export" {
			if strings.Contains(tx.Request.Querystring, "force=true") {
				forcedTx = props(tx)["forced"] == "true" && props(tx)["orgUnit"] == seed.OUKanji
				continue
			}
			push = tx.Status == "Successful" && props(tx)["dryRun"] == "false"
			found := false
			for _, o := range tx.Orchestrations {
				found = found || o.Name == "DHIS2: POST /api/dataValueSets"
			}
			if !found {
				t.Errorf("the push transaction has no DHIS2 push orchestration")
			}
		}
	}
	for _, w := range []string{"GET /cht-dhis2/board", "GET /cht-dhis2/board/api/dataSets", "GET /cht-dhis2/board/api/export", "GET /cht-dhis2/board/api/last", "POST /cht-dhis2/board/api/export"} {
		if !slices.Contains(calls, w) {
			t.Errorf("core recorded no %q among %v", w, calls)
		}
	}
	if !push {
		t.Errorf("core recorded no Successful push (dryRun false)")
	}
	if !forcedTx {
		t.Errorf("core recorded no forced push of Kanji with the property forced=true")
	}
	all, _ := json.Marshal(st.core.Transactions())
	noSecrets(t, "the transactions core stored", string(all))
	if strings.Contains(string(all), supervisorPass) {
		t.Errorf("core's transactions hold the supervisor's password")
	}

	mu.Lock()
	defer mu.Unlock()
	if len(replyErrs) > 0 {
		t.Logf("browser replies that failed: %v", replyErrs)
	}
	if len(consoleErrors) > 0 {
		t.Errorf("errors in the browser console:\n%s", strings.Join(consoleErrors, "\n"))
	}
}
