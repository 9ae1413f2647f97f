package test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/readiness"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/couchdb"
	himsandbox "github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/sandbox/openhim/sandbox"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/seed"
)

// The readiness database: the demo district with users in every state for
// 2026-10 (seed.DemoOptions.AllStates: under Kanji, one final CHW, one
// without activity, one pending, one who never synced), and 2026-09.
const readinessDB = "readiness"

var readinessOnce sync.Once

func readinessDemo(t *testing.T) *seed.Manifest {
	t.Helper()
	requireServer(t)
	docs, m, err := seed.DemoDocs(seed.DemoOptions{End: "2026-10", Months: 2, AllStates: true})
	if err != nil {
		t.Fatal(err)
	}
	readinessOnce.Do(func() { newDB(t, readinessDB, docs) })
	return m
}

// kanjiCast returns the usernames of the AllStates cast.
func kanjiCast(m *seed.Manifest) (final, noActivity, pending, never string) {
	return m.CHWs[3].Username, m.CHWs[4].Username, m.CHWs[5].Username, m.NeverSynced
}

func readinessJSON(t *testing.T, stdout string) *readiness.Object {
	t.Helper()
	var r readiness.Object
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("stdout is not a readiness object: %v\n%s", err, stdout)
	}
	return &r
}

func counts(r *readiness.Object) [5]int {
	return [5]int{r.Expected, r.Final, r.NoActivity, r.Pending, r.NeverSynced}
}

// mediator readiness against pouchdb-server with a medic-logs database:
// every class, per org unit, the exit codes.
func TestReadiness_command(t *testing.T) {
	m := readinessDemo(t)
	_, noActivity, pending, never := kanjiCast(m)
	env := append(chtEnv(readinessDB), "GORACE=atexit_sleep_ms=0", "MEDIATOR_LOG_LEVEL=error")

	code, stdout, stderr := run(t, env, "readiness", "--data-set", m.DataSet, "--period", "202610", "--json")
	if code != 3 {
		t.Fatalf("exit %d; want 3 (not ready); stderr:\n%s", code, stderr)
	}
	r := readinessJSON(t, stdout)
	// 10 CHWs and the new one; hrio (an online role) is not expected.
	if got, want := counts(r), [5]int{11, 8, 1, 1, 1}; got != want {
		t.Errorf("expected, final, noActivity, pending, neverSynced = %v; want %v", got, want)
	}
	if r.Ready || r.Reason != readiness.ReasonNotSynced || r.Source != readiness.SourceLogs || r.Ratio != 0.8182 || r.MinReady != 1 || r.TargetDocs != 9 {
		t.Errorf("readiness = ready %v reason %q source %q ratio %v min %v docs %d", r.Ready, r.Reason, r.Source, r.Ratio, r.MinReady, r.TargetDocs)
	}
	if len(r.PendingUsers) != 1 || r.PendingUsers[0].Username != pending || r.PendingUsers[0].OrgUnit != seed.OUKanji ||
		r.PendingUsers[0].LastReplication == nil || !r.PendingUsers[0].LastReplication.Equal(m.Synced[pending]) || r.PendingUsers[0].ContactName != m.CHWs[5].Name {
		t.Errorf("pending users = %+v; want %s (%s) last synced %v", r.PendingUsers, pending, m.CHWs[5].Name, m.Synced[pending])
	}
	if len(r.NeverSyncedUsers) != 1 || r.NeverSyncedUsers[0].Username != never {
		t.Errorf("never synced users = %+v; want %s", r.NeverSyncedUsers, never)
	}
	per := map[string][5]int{}
	for _, ou := range r.OrgUnits {
		per[ou.OrgUnit] = [5]int{ou.Expected, ou.Final, ou.NoActivity, ou.Pending, ou.NeverSynced}
	}
	wantPer := map[string][5]int{
		seed.OUDistrict: {11, 8, 1, 1, 1}, seed.OUMbuyu: {3, 3, 0, 0, 0}, seed.OUKanji: {4, 1, 1, 1, 1}, seed.OUBahari: {2, 2, 0, 0, 0},
	}
	for ou, want := range wantPer {
		if per[ou] != want {
			t.Errorf("org unit %s = %v; want %v", ou, per[ou], want)
		}
	}
	if _, ok := per[seed.OUBahariX]; ok || len(per) != len(wantPer) {
		t.Errorf("org units = %v; want the demo data set's four", per)
	}
	if !strings.Contains(r.Message, "2 of 11 CHWs have not synced since the month ended (2026-11-01") ||
		!strings.Contains(r.Message, pending) || !strings.Contains(r.Message, never+" (never synced)") || strings.Contains(r.Message, noActivity) {
		t.Errorf("message = %q", r.Message)
	}

	// The table for people.
	code, stdout, _ = run(t, env, "readiness", "--data-set", m.DataSet, "--period", "202610")
	if code != 3 {
		t.Errorf("table: exit %d; want 3", code)
	}
	for _, s := range []string{"ORG UNIT", seed.OUKanji, "Kanji Health Centre", pending, never, "never", m.CHWs[5].Name, "Not ready: 2 of 11 CHWs"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("table lacks %q:\n%s", s, stdout)
		}
	}

	// The ready part of the district.
	code, stdout, stderr = run(t, env, "readiness", "--data-set", m.DataSet, "--period", "202610", "--org-unit", seed.OUMbuyu, "--json")
	if r := readinessJSON(t, stdout); code != 0 || !r.Ready || counts(r) != [5]int{3, 3, 0, 0, 0} {
		t.Errorf("Mbuyu: exit %d ready %v counts %v; want 0, ready, 3 final; stderr %s", code, r.Ready, counts(r), stderr)
	}
	// Kanji and its children: only Kanji's users.
	code, stdout, _ = run(t, env, "readiness", "--data-set", m.DataSet, "--period", "202610", "--org-unit", seed.OUKanji, "--children", "--json")
	if r := readinessJSON(t, stdout); code != 3 || counts(r) != [5]int{4, 1, 1, 1, 1} {
		t.Errorf("Kanji: exit %d counts %v", code, counts(r))
	}

	// September: the pending CHW synced after it ended, the no-activity
	// CHW has a September doc; the new CHW still never synced.
	code, stdout, _ = run(t, env, "readiness", "--data-set", m.DataSet, "--period", "202609", "--json")
	if r := readinessJSON(t, stdout); code != 3 || counts(r) != [5]int{11, 10, 0, 0, 1} {
		t.Errorf("202609: exit %d counts %v; want 3, [11 10 0 0 1]", code, counts(r))
	}
	// With min_ready 0.9, September passes and October does not.
	if code, _, _ := run(t, append(env, "MEDIATOR_EXPORT_MIN_READY=0.9"), "readiness", "--data-set", m.DataSet, "--period", "202609"); code != 0 {
		t.Errorf("202609 with min_ready 0.9: exit %d; want 0", code)
	}

	// A month that has not begun is the user's mistake.
	code, _, stderr = run(t, env, "readiness", "--data-set", m.DataSet, "--period", "209901")
	if code != 2 || !strings.Contains(stderr, "period 209901 has not begun") {
		t.Errorf("future month: exit %d stderr %q; want 2 and why", code, stderr)
	}
}

// preview warns about a month that is not ready; export pushes nothing
// unless forced, and says why.
func TestReadiness_previewAndExport(t *testing.T) {
	m := readinessDemo(t)
	_, _, pending, never := kanjiCast(m)
	env := append(chtEnv(readinessDB), "GORACE=atexit_sleep_ms=0", "MEDIATOR_LOG_LEVEL=error")

	code, stdout, stderr := run(t, env, "preview", "--data-set", m.DataSet, "--period", "202610")
	if code != 0 {
		t.Fatalf("preview: exit %d; stderr %s", code, stderr)
	}
	var set export.DataValueSet
	if err := json.Unmarshal([]byte(stdout), &set); err != nil || len(set.DataValues) != 28 {
		t.Errorf("preview printed %d values (%v); want the 28", len(set.DataValues), err)
	}
	rest, summary := splitReadiness(stderr)
	for _, s := range []string{"readiness 202610: NOT READY", "9 of 11 expected CHWs synced", "readiness 202610: pending: " + pending, "readiness 202610: never synced: " + never} {
		if !strings.Contains(summary, s) {
			t.Errorf("preview summary lacks %q:\n%s", s, summary)
		}
	}
	if !strings.Contains(rest, "warning: month 202610 is not ready") || !strings.Contains(rest, "--force") {
		t.Errorf("preview stderr = %q; want a warning naming --force", rest)
	}

	sb, url := startDHIS2(t, "2.41.1", demoMetadata(t))
	env = exportEnv(readinessDB, url, true)
	code, stdout, stderr = run(t, env, "export", "--data-set", m.DataSet, "--period", "202610")
	if code != 3 {
		t.Fatalf("export: exit %d; want 3; stderr %s", code, stderr)
	}
	rest, summary = splitReadiness(stderr)
	if !strings.Contains(rest, "mediator: export "+m.DataSet+" 202610: month not ready: 2 of 11 CHWs have not synced") ||
		!strings.Contains(rest, "nothing was sent to DHIS2") || summary == "" {
		t.Errorf("export stderr = %q", stderr)
	}
	rep := decodeReport(t, stdout)
	if rep.Status != export.StatusFailed || rep.Readiness == nil || rep.Readiness.Pending != 1 || rep.Forced || !strings.HasPrefix(rep.Error, "month not ready: ") {
		t.Errorf("report = %+v", rep)
	}
	if len(sb.Stored()) != 0 || len(sb.Requests()) != 0 {
		t.Fatalf("DHIS2 got %d requests (%+v) and stored %d values; want nothing", len(sb.Requests()), sb.Requests(), len(sb.Stored()))
	}

	// The ready part of the district pushes.
	code, _, stderr = run(t, env, "export", "--data-set", m.DataSet, "--period", "202610", "--org-unit", seed.OUMbuyu)
	if code != 0 {
		t.Fatalf("export Mbuyu: exit %d; stderr %s", code, stderr)
	}
	want := onlyKeys(norm(demoExpected(m, seed.DemoDataSet, "2026-10")), func(k key) bool { return k.ou == seed.OUMbuyu })
	diff(t, "Mbuyu", storedValues(t, sb, "202610"), want)

	// --force pushes the whole district, and says so.
	code, stdout, stderr = run(t, env, "export", "--data-set", m.DataSet, "--period", "202610", "--force")
	if code != 0 {
		t.Fatalf("export --force: exit %d; stderr %s", code, stderr)
	}
	rep = decodeReport(t, stdout)
	if !rep.Forced || !strings.Contains(rep.ForcedPast, "2 of 11 CHWs") || rep.Readiness == nil || rep.Readiness.Ready {
		t.Errorf("forced report: forced %v past %q", rep.Forced, rep.ForcedPast)
	}
	if rest, _ := splitReadiness(stderr); !strings.Contains(rest, "warning: forced past the readiness gate") {
		t.Errorf("export --force stderr = %q", stderr)
	}
	diff(t, "forced", storedValues(t, sb, "202610"), norm(demoExpected(m, seed.DemoDataSet, "2026-10")))
}

// An empty month (no target doc at all) and the current month are never
// pushed without --force; a future month is refused.
func TestReadiness_emptyUnfinishedFuture(t *testing.T) {
	m := readinessDemo(t)
	sb, url := startDHIS2(t, "2.41.1", demoMetadata(t))
	env := exportEnv(readinessDB, url, true)

	code, stdout, stderr := run(t, env, "export", "--data-set", m.DataSet, "--period", "202001")
	if code != 3 || !strings.Contains(stderr, "month not ready: CHT holds no target doc of this month") {
		t.Errorf("empty month: exit %d; stderr %q", code, stderr)
	}
	if rep := decodeReport(t, stdout); rep.Readiness == nil || rep.Readiness.Reason != readiness.ReasonEmpty {
		t.Errorf("empty month report = %+v", rep)
	}
	now := time.Now()
	current := now.Format("200601")
	code, _, stderr = run(t, env, "export", "--data-set", m.DataSet, "--period", current)
	if code != 3 || !strings.Contains(stderr, "month not ready: the month has not ended") {
		t.Errorf("current month: exit %d; stderr %q", code, stderr)
	}
	code, _, stderr = run(t, env, "export", "--data-set", m.DataSet, "--period", "209912", "--force")
	if code != 2 || !strings.Contains(stderr, "period 209912 has not begun") {
		t.Errorf("future month: exit %d; stderr %q; want 2", code, stderr)
	}
	if len(sb.Stored()) != 0 || len(sb.Requests()) != 0 {
		t.Errorf("DHIS2 got %d requests; want none", len(sb.Requests()))
	}
	// preview of the empty month still works, and warns.
	code, _, stderr = run(t, env, "preview", "--data-set", m.DataSet, "--period", "202001")
	if code != 0 || !strings.Contains(stderr, "warning: month 202001 is not ready (CHT holds no target doc") {
		t.Errorf("preview of an empty month: exit %d; stderr %q", code, stderr)
	}
}

// Without read access to medic-logs, readiness falls back to the target
// docs' updated_date and says so: 404 (no logs database) and a user the
// logs database's _security does not admit (pouchdb-server answers 401
// where CouchDB answers 403).
func TestReadiness_fallbackWithoutLogs(t *testing.T) {
	requireServer(t)
	all, m, err := seed.DemoDocs(seed.DemoOptions{End: "2026-10", Months: 1})
	if err != nil {
		t.Fatal(err)
	}
	docs, _ := seed.SplitLogs(all)
	newDB(t, "readiness_nologs", docs)
	svc := newService(t, "readiness_nologs", nil, nil)
	p, err := svc.Preview(context.Background(), export.Request{DataSet: m.DataSet, Period: month(t, "2026-10")})
	if err != nil {
		t.Fatal(err)
	}
	r := p.Readiness
	// Every demo doc was last written in October's last week: without the
	// logs, nothing proves the CHWs synced after the month ended.
	if r.Source != readiness.SourceTargetDocs || !strings.Contains(r.Note, "medic-logs") || counts(r) != [5]int{10, 0, 0, 10, 0} {
		t.Errorf("no logs database: source %q note %q counts %v", r.Source, r.Note, counts(r))
	}
	for _, u := range r.PendingUsers {
		if u.LastReplication != nil || u.DocUpdated == nil {
			t.Errorf("pending user %+v; want the doc's date and no replication time", u)
		}
	}

	// A CHT user who may read medic but not medic-logs.
	ctx := context.Background()
	if err := couch.CreateUser(ctx, "reader", "reader-Passw0rd-1", []string{"reader"}); err != nil {
		t.Fatal(err)
	}
	newDB(t, "readiness_secured", all)
	if err := couch.PutSecurity(ctx, "readiness_secured", couchdbSecurity([]string{chtUser, "reader"})); err != nil {
		t.Fatal(err)
	}
	if err := couch.PutSecurity(ctx, "readiness_secured-logs", couchdbSecurity([]string{chtUser})); err != nil {
		t.Fatal(err)
	}
	admin := newService(t, "readiness_secured", nil, nil)
	p, err = admin.Preview(ctx, export.Request{DataSet: m.DataSet, Period: month(t, "2026-10")})
	if err != nil || p.Readiness.Source != readiness.SourceLogs || !p.Readiness.Ready {
		t.Fatalf("admin: %v, %+v; want the logs read and the month ready", err, p.Readiness)
	}
	reader := newService(t, "readiness_secured", map[string]string{"cht.username": "reader", "cht.password": "reader-Passw0rd-1"}, nil)
	p, err = reader.Preview(ctx, export.Request{DataSet: m.DataSet, Period: month(t, "2026-10")})
	if err != nil {
		t.Fatal(err)
	}
	if r := p.Readiness; r.Source != readiness.SourceTargetDocs || r.Ready || r.Pending != 10 {
		t.Errorf("reader without logs access: source %q ready %v pending %d; want the fallback", r.Source, r.Ready, r.Pending)
	}
}

// Through OpenHIM: the export of a month that is not ready answers 409 with
// an error, so core flags the transaction for auto-retry; the retry before
// the CHWs sync is held back again; after they sync (their replication
// logs written into medic-logs), core's next auto-retry pushes.
func TestReadiness_gateThroughOpenHIM(t *testing.T) {
	var skew atomic.Int64 // core's clock runs ahead by this much
	st := startHIMStackWith(t, himOptions{db: "openhim_readiness", once: new(sync.Once), allStates: true,
		coreNow: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	st.registered(t)
	m := st.manifest
	_, _, pending, never := kanjiCast(m)

	code, body := st.call(t, http.MethodGet, "/cht-dhis2/export?dataSet="+m.DataSet)
	if code != http.StatusConflict {
		t.Fatalf("export: %d %s; want 409", code, body)
	}
	first := st.lastTransaction(t)
	if first.Status != "Failed" || !first.AutoRetry || first.Error == nil || !strings.Contains(first.Error.Message, "month not ready: 2 of 11 CHWs") {
		t.Fatalf("transaction: status %q autoRetry %v error %+v; want Failed, flagged for auto-retry, month not ready", first.Status, first.AutoRetry, first.Error)
	}
	if p := props(first); p["ready"] != "false" || p["pending"] != "1" || p["neverSynced"] != "1" || p["readiness"] != "0.8182" {
		t.Errorf("transaction properties = %v", first.Properties)
	}
	if n := len(st.dhis.Stored()); n != 0 {
		t.Fatalf("DHIS2 stored %d values; want none", n)
	}

	// The supervisor asks who has not synced, through the readiness channel.
	code, body = st.call(t, http.MethodGet, "/cht-dhis2/readiness?dataSet="+m.DataSet+"&orgUnit="+seed.OUKanji)
	var r readiness.Object
	if err := json.Unmarshal([]byte(body), &r); code != http.StatusOK || err != nil {
		t.Fatalf("readiness channel: %d %v %s", code, err, body)
	}
	if counts(&r) != [5]int{4, 1, 1, 1, 1} || r.Ready || len(r.PendingUsers) != 1 || r.PendingUsers[0].Username != pending {
		t.Errorf("readiness of Kanji = %s", body)
	}
	if tx := st.lastTransaction(t); tx.Status != "Successful" || tx.AutoRetry || props(tx)["pending"] != "1" {
		t.Errorf("readiness transaction: %q autoRetry %v properties %v", tx.Status, tx.AutoRetry, tx.Properties)
	}

	// An hour later core retries: nobody synced, still held back.
	skew.Store(int64(61 * time.Minute))
	retried := st.core.RunAutoRetry()
	if len(retried) != 1 || retried[0].ParentID != first.ID || retried[0].Status != "Failed" || !retried[0].AutoRetry || retried[0].AutoRetryAttempt != 1 {
		t.Fatalf("first retry = %+v; want one Failed child, flagged again", retried)
	}

	// The two CHWs sync: CHT API rewrites their replication-count docs.
	syncNow := time.Now()
	var logs []any
	for i, u := range []string{pending, never} {
		logs = append(logs, map[string]any(seed.ReplicationLog(u, syncNow.Add(time.Duration(i)*time.Second), 12)))
	}
	ctx := context.Background()
	var cur struct {
		Rev string `json:"_rev"`
	}
	if err := couch.Do(ctx, http.MethodGet, "/openhim_readiness-logs/replication-count-"+pending, nil, &cur); err != nil {
		t.Fatal(err)
	}
	logs[0].(map[string]any)["_rev"] = cur.Rev
	if err := couch.BulkDocs(ctx, "openhim_readiness-logs", logs); err != nil {
		t.Fatal(err)
	}

	skew.Store(int64(122 * time.Minute))
	retried = st.core.RunAutoRetry()
	if len(retried) != 1 || retried[0].Status != "Successful" || retried[0].AutoRetry || retried[0].AutoRetryAttempt != 2 {
		t.Fatalf("second retry = %+v; want Successful", retried)
	}
	if p := props(retried[0]); p["ready"] != "true" || p["readiness"] != "1" {
		t.Errorf("pushed transaction properties = %v", retried[0].Properties)
	}
	diff(t, "after the sync", st.stored(), st.want)
	if got := st.core.RunAutoRetry(); len(got) != 0 {
		t.Errorf("retried after success: %+v", got)
	}
	if n := len(st.core.Transactions()); n != 4 {
		t.Errorf("core holds %d transactions; want the readiness question, the attempt and its two retries", n)
	}
}

// props returns a transaction's properties as strings.
func props(tx himsandbox.Transaction) map[string]string {
	out := map[string]string{}
	b, _ := json.Marshal(tx.Properties)
	_ = json.Unmarshal(b, &out)
	return out
}

func couchdbSecurity(members []string) couchdb.Security {
	return couchdb.Security{Members: couchdb.Members{Names: members}}
}
