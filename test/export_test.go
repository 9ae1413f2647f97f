package test

import (
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/app"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/sandbox/dhis2/sandbox"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/seed"
)

// The export path end to end: the demo district in pouchdb-server, pushed
// to a DHIS2 sandbox of every version family (dhis2-core DataValueSetController and WebMessageUtils), with
// basic auth for some and a personal access token for others. What counts
// is what the sandbox stored: every valid value once, no rejected value,
// nothing changed by a second run (with the counts of the family), and
// DHIS2's conflicts reported value by value.
func TestExport_versionFamilies(t *testing.T) {
	_, mo, want := exportDemo(t)
	period := mo.Period()
	ds := seed.DemoDataSet
	req := export.Request{DataSet: ds, Period: mo}
	n := len(want)
	isHH := func(k key) bool { return k.de == "hHVisit0001" }
	isBahari := func(k key) bool { return k.ou == seed.OUBahari }

	families := []struct {
		version string
		token   bool
	}{
		{"2.36.13", false},
		{"2.37.9", false},
		{"2.38.4", true},
		{"2.39.4", false},
		{"2.39.5", true},
		{"2.40.2", true},
		{"2.40.3", false},
		{"2.41.0", true},
		{"2.42.1", false},
		{"2.43.0", true},
	}
	for _, fam := range families {
		t.Run(fam.version, func(t *testing.T) {
			t.Parallel()
			minor, _ := strconv.Atoi(strings.Split(fam.version, ".")[1])
			// written is the count of stored values in the first push: 2.43
			// has no "imported".
			written := func(imp *export.ImportSummary) int {
				if minor >= 43 {
					if imp.Imported != 0 {
						t.Errorf("2.43 imported = %d; want 0, every stored value counts as updated", imp.Imported)
					}
					return imp.Updated
				}
				if imp.Updated != 0 {
					t.Errorf("updated = %d; want 0 on a first push", imp.Updated)
				}
				return imp.Imported
			}
			wantScheme := "Basic"
			if fam.token {
				wantScheme = "ApiToken"
			}

			t.Run("push and push again", func(t *testing.T) {
				sb, url := startDHIS2(t, fam.version, demoMetadata(t))
				svc := newService(t, exportDB, dhis2Keys(url, fam.token), nil)

				rep := runExport(t, svc, req, false)
				if rep.Status != export.StatusSuccessful || rep.Error != "" {
					t.Errorf("status = %q (error %q); want %q; problems: %+v", rep.Status, rep.Error, export.StatusSuccessful, rep.Problems)
				}
				if want := (export.ValueCounts{Built: n, Valid: n}); rep.DataValues != want {
					t.Errorf("dataValues = %+v; want %+v", rep.DataValues, want)
				}
				if len(rep.Problems) != 0 {
					t.Errorf("problems = %+v; want none", rep.Problems)
				}
				if rep.DataSet != ds || rep.Period != period || rep.DryRun {
					t.Errorf("report header = %q %q dryRun=%t", rep.DataSet, rep.Period, rep.DryRun)
				}
				if rep.Import == nil {
					t.Fatal("no import summary in the report")
				}
				imp := rep.Import
				if got := written(imp); got != n || imp.Ignored != 0 || imp.Deleted != 0 || imp.Chunks != 1 || len(imp.Conflicts) != 0 || imp.Status != "SUCCESS" {
					t.Errorf("import = %+v; want %d written, nothing ignored, one chunk, SUCCESS", *imp, n)
				}
				diff(t, "stored", storedValues(t, sb, period), want)
				requireEachOnce(t, sb, ds, want)
				for scheme, count := range apiAuth(sb) {
					if scheme != wantScheme {
						t.Errorf("%d requests authenticated with %q; want %s only", count, scheme, wantScheme)
					}
				}

				// Again: the diff finds every value unchanged, so nothing is
				// sent (a re-sent value would rewrite DHIS2's audit trail and
				// lastUpdated in 2.39.4 / 2.40.2 and earlier).
				before := sb.Stored()
				rep = runExport(t, svc, req, false)
				if rep.Status != export.StatusSuccessful {
					t.Errorf("second run: status = %q (error %q); want %q", rep.Status, rep.Error, export.StatusSuccessful)
				}
				if rep.Import != nil {
					t.Errorf("second run: import = %+v; want none, nothing was sent", *rep.Import)
				}
				if c := rep.Changes; c == nil || !reflect.DeepEqual(*c, export.Changes{Unchanged: n, Owner: dhisUser}) {
					t.Errorf("second run: changes = %+v; want %d unchanged, owner %s", c, n, dhisUser)
				}
				if after := sb.Stored(); !reflect.DeepEqual(after, before) {
					t.Errorf("second run changed what DHIS2 stored:\nbefore %+v\nafter  %+v", before, after)
				}
				if reqs, _ := pushes(t, sb, ds); len(reqs) != 1 {
					t.Errorf("%d pushes for two exports of %d values, the second with nothing new; want 1", len(reqs), n)
				}
			})

			// The mediator validates against the data set's metadata as it
			// was when it cached it; DHIS2 then changes (a data element
			// becomes INTEGER_NEGATIVE), so DHIS2 refuses values the
			// validator passed. Values the validator refused (an org unit
			// not assigned in the cached metadata) are never sent, though
			// this DHIS2 would take them. A dry run comes first: it stores
			// nothing but reports DHIS2's counts.
			t.Run("dry run, cached metadata, conflicts per value", func(t *testing.T) {
				mdOld := demoMetadata(t)
				unassign(t, mdOld, ds, seed.OUBahari)
				sbOld := newSandbox(t, fam.version, mdOld)
				mdNew := demoMetadata(t)
				mdDataElement(t, mdNew, "hHVisit0001").ValueType = "INTEGER_NEGATIVE"
				sbNew := newSandbox(t, fam.version, mdNew)
				sw := &switchHandler{h: sbOld}
				svc := newService(t, exportDB, dhis2Keys(serve(t, sw), fam.token, "dhis2.chunk_size", "5", "dhis2.metadata_cache_ttl", "1h"), nil)

				bahari := onlyKeys(want, isBahari)
				valid := without(want, isBahari)
				hh := onlyKeys(valid, isHH)
				if len(bahari) != 7 || len(hh) != 3 {
					t.Fatalf("fixture: %d Bahari values, %d household values; want 7 and 3", len(bahari), len(hh))
				}
				checkInvalid := func(t *testing.T, rep *export.Report) {
					t.Helper()
					ps := problemsByCode(rep)
					diff(t, "org_unit_not_assigned problems", problemKeys(t, ps["org_unit_not_assigned"]), bahari)
					for code, list := range ps {
						if code != "org_unit_not_assigned" && code != "dhis2_conflict" {
							t.Errorf("unexpected problems %s: %+v", code, list)
						}
					}
				}

				dry := runExport(t, svc, req, true)
				if !dry.DryRun || dry.Status != export.StatusCompletedWithErrors {
					t.Errorf("dry run: dryRun=%t status=%q; want true, %q", dry.DryRun, dry.Status, export.StatusCompletedWithErrors)
				}
				if want := (export.ValueCounts{Built: n, Valid: n - 7, Rejected: 7}); dry.DataValues != want {
					t.Errorf("dry run: dataValues = %+v; want %+v", dry.DataValues, want)
				}
				checkInvalid(t, dry)
				if dry.Import == nil {
					t.Fatal("dry run: no import summary")
				}
				if got := written(dry.Import); got != n-7 || dry.Import.Chunks != 5 || len(dry.Import.Conflicts) != 0 {
					t.Errorf("dry run: import = %+v; want %d written in 5 chunks, no conflict", *dry.Import, n-7)
				}
				if got := sbOld.Stored(); len(got) != 0 {
					t.Errorf("a dry run stored %d values", len(got))
				}
				reqs, _ := pushes(t, sbOld, ds)
				for i, r := range reqs {
					if r.Query.Get("dryRun") != "true" {
						t.Errorf("dry run push %d: query %v; want dryRun=true", i+1, r.Query)
					}
				}
				if len(reqs) != 5 {
					t.Errorf("dry run: %d pushes; want 5 chunks of at most 5", len(reqs))
				}

				sw.set(sbNew)
				rep := runExport(t, svc, req, false)
				for _, r := range sbNew.Requests() {
					if strings.Contains(r.Path, "/dataSets") {
						t.Errorf("metadata fetched again (%s %s); want the cached copy within dhis2.metadata_cache_ttl", r.Method, r.Path)
					}
				}
				diff(t, "stored", storedValues(t, sbNew, period), without(valid, isHH))
				requireEachOnce(t, sbNew, ds, valid)
				if rep.Status != export.StatusCompletedWithErrors {
					t.Errorf("status = %q (error %q); want %q", rep.Status, rep.Error, export.StatusCompletedWithErrors)
				}
				checkInvalid(t, rep)
				if rep.Import == nil {
					t.Fatal("no import summary")
				}
				imp := rep.Import
				if got := written(imp); got != n-7-3 || imp.Ignored != 3 || imp.Chunks != 5 || imp.Status != "WARNING" {
					t.Errorf("import = %+v; want %d written, 3 ignored, 5 chunks, WARNING", *imp, n-10)
				}
				if minor < 37 {
					// Before 2.37 conflicts name an object, not the values.
					if rep.DataValues != (export.ValueCounts{Built: n, Valid: n - 7, Rejected: 7}) {
						t.Errorf("dataValues = %+v", rep.DataValues)
					}
					if len(imp.Conflicts) == 0 || len(problemsByCode(rep)["dhis2_conflict"]) == 0 {
						t.Errorf("conflicts = %+v; problems = %+v; want DHIS2's conflicts reported", imp.Conflicts, rep.Problems)
					}
					for _, c := range imp.Conflicts {
						if c.Message == "" || c.ErrorCode != "" {
							t.Errorf("2.36 conflict %+v: want a message and no code", c)
						}
					}
					return
				}
				if want := (export.ValueCounts{Built: n, Valid: n - 7, Rejected: 10}); rep.DataValues != want {
					t.Errorf("dataValues = %+v; want %+v", rep.DataValues, want)
				}
				code := "E7619"
				if minor >= 43 {
					code = "E8122"
				}
				for _, c := range imp.Conflicts {
					if c.ErrorCode != code || c.Message == "" {
						t.Errorf("conflict %+v; want error code %s and a message", c, code)
					}
				}
				diff(t, "conflict values", conflictValues(t, imp, period), hh)
				conflicts := problemsByCode(rep)["dhis2_conflict"]
				diff(t, "dhis2_conflict problems", problemKeys(t, conflicts), hh)
				for _, p := range conflicts {
					if !strings.Contains(p.Message, code) {
						t.Errorf("problem message %q does not name DHIS2's code %s", p.Message, code)
					}
				}
			})
		})
	}
}

// DHIS2 refuses values for reasons the validator cannot see (here: data
// approved for one org unit). Each refused value is reported with DHIS2's
// code; the others are stored. 2.43 refuses a whole group (one chunk, as
// the mediator sends one data set per chunk): with chunks of one org unit
// only that org unit's values are lost; in one chunk, everything is.
func TestExport_conflictsTheValidatorCannotPredict(t *testing.T) {
	_, mo, want := exportDemo(t)
	period := mo.Period()
	ds := seed.DemoDataSet
	isKanji := func(k key) bool { return k.ou == seed.OUKanji }
	kanji := onlyKeys(want, isKanji)
	tests := []struct {
		name, version, chunk, code string
		wantStatus                 string
		wantRefused                map[key]string
	}{
		// Values come sorted by org unit, 7 per org unit: chunks of 7 are
		// one org unit each.
		{"2.40 value-level E7642", "2.40.3", "7", "E7642", export.StatusCompletedWithErrors, kanji},
		{"2.42 value-level E7642", "2.42.0", "5000", "E7642", export.StatusCompletedWithErrors, kanji},
		{"2.43 group E8033 in its own chunk", "2.43.0", "7", "E8033", export.StatusCompletedWithErrors, kanji},
		// 2.43 refuses the whole data set group of the one chunk; the
		// mediator then sends org unit by org unit, and only Kanji fails.
		{"2.43 group E8033 in the one chunk, then org unit by org unit", "2.43.0", "5000", "E8033", export.StatusCompletedWithErrors, kanji},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			md := demoMetadata(t)
			mdDataSet(t, md, ds).Workflow = &sandbox.Ref{ID: "wfCHTMonth1"}
			sb, url := startDHIS2(t, tt.version, md)
			sb.Approve("wfCHTMonth1", period, seed.OUKanji, "")
			// The mediator's user may not read approvals, so the approval
			// cannot be predicted: DHIS2's conflicts tell.
			sb.AddFault(sandbox.Fault{Method: http.MethodGet, Path: "/api/dataApprovals", Count: -1, Status: http.StatusForbidden})
			svc := newService(t, exportDB, dhis2Keys(url, true, "dhis2.chunk_size", tt.chunk), nil)
			rep := runExport(t, svc, export.Request{DataSet: ds, Period: mo}, false)

			diff(t, "stored", storedValues(t, sb, period), without(want, func(k key) bool { _, ok := tt.wantRefused[k]; return ok }))
			if rep.Status != tt.wantStatus {
				t.Errorf("status = %q (error %q); want %q", rep.Status, rep.Error, tt.wantStatus)
			}
			if want := (export.ValueCounts{Built: len(want), Valid: len(want), Rejected: len(tt.wantRefused)}); rep.DataValues != want {
				t.Errorf("dataValues = %+v; want %+v", rep.DataValues, want)
			}
			if tt.wantStatus == export.StatusFailed && !strings.Contains(rep.Error, "DHIS2 rejected") {
				t.Errorf("error = %q; want it to say DHIS2 rejected the import", rep.Error)
			}
			if rep.Import == nil {
				t.Fatal("no import summary")
			}
			for _, c := range rep.Import.Conflicts {
				if c.ErrorCode != tt.code {
					t.Errorf("conflict %+v; want code %s", c, tt.code)
				}
			}
			diff(t, "conflict values", conflictValues(t, rep.Import, period), tt.wantRefused)
			ps := problemsByCode(rep)
			diff(t, "dhis2_conflict problems", problemKeys(t, ps["dhis2_conflict"]), tt.wantRefused)
			for _, p := range ps["dhis2_conflict"] {
				if !strings.Contains(p.Message, tt.code) {
					t.Errorf("problem message %q does not name %s", p.Message, tt.code)
				}
			}
			if len(ps) != 1 {
				t.Errorf("problems = %+v; want DHIS2's conflicts only", rep.Problems)
			}
		})
	}
}

// 50 000 values (5 000 org units × 10 data elements, from an in-memory CHT)
// go in chunks of dhis2.chunk_size, synchronously or as async jobs polled
// to completion, and all of them are stored.
func TestExport_fiftyThousandValues(t *testing.T) {
	requireServer(t)
	const (
		ds      = "dsBulk00001"
		units   = 5000
		targets = 10
		total   = units * targets
	)
	tests := []struct {
		name, version string
		token, async  bool
		chunk         int
	}{
		{"sync 2.42 token", "2.42.0", true, false, 5000},
		{"async 2.41 basic", "2.41.0", false, true, 10000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb, url := startDHIS2(t, tt.version, bulkMetadata(ds, units, targets), func(o *sandbox.Options) { o.AsyncDelay = 20 * time.Millisecond })
			keys := dhis2Keys(url, tt.token, "dhis2.chunk_size", strconv.Itoa(tt.chunk))
			if tt.async {
				keys["dhis2.async"] = "true"
				keys["dhis2.async_poll_interval"] = "25ms"
			}
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			client, err := app.NewDHIS2Client(chtConfig(t, "unused", keys), log)
			if err != nil {
				t.Fatal(err)
			}
			svc, err := export.New(fakeCHT{dataSet: ds, n: units, targets: targets}, export.Options{Logger: log, DHIS2: client})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			rep := runExport(t, svc, export.Request{DataSet: ds, Period: month(t, "2026-10")}, false)
			t.Logf("%d values in %s", total, time.Since(start).Round(time.Millisecond))

			chunks := total / tt.chunk
			if rep.Status != export.StatusSuccessful || rep.DataValues != (export.ValueCounts{Built: total, Valid: total}) {
				t.Errorf("status %q (error %q), dataValues %+v; want %s, %d valid", rep.Status, rep.Error, rep.DataValues, export.StatusSuccessful, total)
			}
			if rep.Import == nil || rep.Import.Imported != total || rep.Import.Chunks != chunks || rep.Import.Ignored != 0 {
				t.Fatalf("import = %+v; want %d imported in %d chunks", rep.Import, total, chunks)
			}
			reqs, sets := pushes(t, sb, ds)
			if len(reqs) != chunks {
				t.Errorf("%d POSTs; want %d chunks of %d", len(reqs), chunks, tt.chunk)
			}
			seen := map[key]bool{}
			for i, s := range sets {
				if len(s.DataValues) != tt.chunk {
					t.Errorf("POST %d has %d values; want %d", i+1, len(s.DataValues), tt.chunk)
				}
				if got := reqs[i].Query.Get("async"); got != strconv.FormatBool(tt.async) && (got != "" || tt.async) {
					t.Errorf("POST %d: async=%q; want %t", i+1, got, tt.async)
				}
				for _, dv := range s.DataValues {
					k := key{dv.OrgUnit, dv.DataElement, "", ""}
					if seen[k] {
						t.Errorf("value %s pushed twice", k)
					}
					seen[k] = true
				}
			}
			stored := sb.Stored()
			if len(stored) != total {
				t.Errorf("DHIS2 stored %d values; want %d", len(stored), total)
			}
			for _, v := range stored {
				i, err1 := strconv.Atoi(strings.TrimPrefix(v.OrgUnit, "ouBulk"))
				j, err2 := strconv.Atoi(strings.TrimPrefix(v.DataElement, "deBulk"))
				if err1 != nil || err2 != nil || v.Period != "202610" || v.Value != strconv.Itoa(bulkTotal(i, j)) {
					t.Errorf("stored %s %s %s = %q; want %d", v.OrgUnit, v.DataElement, v.Period, v.Value, bulkTotal(i, j))
					break
				}
			}
			if tt.async {
				polled, summaries := map[string]bool{}, map[string]bool{}
				for _, r := range sb.Requests() {
					if id, ok := strings.CutPrefix(r.Path, "/api/system/tasks/DATAVALUE_IMPORT/"); ok {
						polled[id] = true
					}
					if id, ok := strings.CutPrefix(r.Path, "/api/system/taskSummaries/DATAVALUE_IMPORT/"); ok {
						summaries[id] = true
					}
				}
				if len(polled) != chunks || len(summaries) != chunks {
					t.Errorf("polled %d jobs and read %d summaries; want %d each", len(polled), len(summaries), chunks)
				}
			}
		})
	}
}

// An async push of the demo, in several jobs, on the families whose job
// notifications differ (≤2.40: "Import done" completes; 2.41+: a final
// "Import complete" notification; 2.43: the new importer).
func TestExport_asyncPolledToCompletion(t *testing.T) {
	_, mo, want := exportDemo(t)
	for _, version := range []string{"2.38.1", "2.43.0"} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			sb, url := startDHIS2(t, version, demoMetadata(t), func(o *sandbox.Options) { o.AsyncDelay = 40 * time.Millisecond })
			svc := newService(t, exportDB, dhis2Keys(url, true, "dhis2.chunk_size", "10", "dhis2.async", "true", "dhis2.async_poll_interval", "25ms"), nil)
			rep := runExport(t, svc, export.Request{DataSet: seed.DemoDataSet, Period: mo}, false)
			if rep.Status != export.StatusSuccessful || rep.Import == nil || rep.Import.Chunks != 3 {
				t.Fatalf("status %q (error %q), import %+v; want %s in 3 chunks", rep.Status, rep.Error, rep.Import, export.StatusSuccessful)
			}
			if got := rep.Import.Imported + rep.Import.Updated; got != len(want) {
				t.Errorf("import = %+v; want %d written", *rep.Import, len(want))
			}
			diff(t, "stored", storedValues(t, sb, mo.Period()), want)
			requireEachOnce(t, sb, seed.DemoDataSet, want)
			polls := 0
			for _, r := range sb.Requests() {
				if strings.HasPrefix(r.Path, "/api/system/tasks/") {
					polls++
				}
			}
			if polls < 3 {
				t.Errorf("%d task polls for 3 jobs", polls)
			}
		})
	}
}

// Bad input and broken upstreams, through the real binary: each gives a
// clear sentence on stderr, the right exit code, the report on stdout when
// there is one, and nothing stored that should not be.
func TestExport_badInput(t *testing.T) {
	_, mo, want := exportDemo(t)
	period := mo.Period()
	ds := seed.DemoDataSet
	down := closedPort(t)
	// A web server that is not DHIS2 (or DHIS2's login page) at dhis2.url.
	notDHIS2 := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html;charset=UTF-8")
		_, _ = io.WriteString(w, "<!DOCTYPE html><html><body>Welcome to nginx!</body></html>")
	}))
	args := func(dataSet string) []string { return []string{"export", "--data-set", dataSet, "--period", period} }
	onlyDE := func(de string) func(key) bool { return func(k key) bool { return k.de == de } }
	onlyOU := func(ou string) func(key) bool { return func(k key) bool { return k.ou == ou } }

	tests := []struct {
		name    string
		version string
		token   bool
		edit    func(t *testing.T, md *sandbox.Metadata)
		arm     func(sb *sandbox.Server)
		env     []string // added to exportEnv; later ones win
		args    []string
		code    int
		stderr  []string // each must appear in stderr's one sentence
		// status is the report's status; "" when no report is printed.
		status string
		// rejected selects the values validation refuses with code problem.
		problem  string
		rejected func(key) bool
		// stored is what DHIS2 must hold afterwards.
		stored map[key]string
	}{
		{name: "data set not in CHT", version: "2.40.3", args: args("dsUnknown01"), code: 2,
			stderr: []string{`data set "dsUnknown01" is not in CHT's dhis_data_sets`}},
		{name: "data set in CHT but not in DHIS2", version: "2.41.0", token: true,
			edit: func(t *testing.T, md *sandbox.Metadata) {
				md.DataSets = md.DataSets[:1]
				if md.DataSets[0].ID != ds {
					t.Fatal("fixture: the demo data set is not first")
				}
			},
			args: args(seed.OtherDataSet), code: 2,
			stderr: []string{`data set "dsCHTOther1" is in CHT's dhis_data_sets but not in DHIS2`}},
		{name: "weekly data set: every period of the wrong type", version: "2.39.5",
			edit: func(t *testing.T, md *sandbox.Metadata) { mdDataSet(t, md, ds).PeriodType = "Weekly" },
			code: 1, status: export.StatusFailed, problem: "period_type_mismatch", rejected: func(key) bool { return true },
			stderr: []string{"Failed", "no data value passed validation"}},
		{name: "org unit not assigned", version: "2.40.3", token: true,
			edit: func(t *testing.T, md *sandbox.Metadata) { unassign(t, md, ds, seed.OUKanji) },
			code: 1, status: export.StatusCompletedWithErrors, problem: "org_unit_not_assigned", rejected: onlyOU(seed.OUKanji),
			stderr: []string{"Completed with error(s)"}, stored: without(want, onlyOU(seed.OUKanji))},
		{name: "text data element", version: "2.43.0", token: true,
			edit: func(t *testing.T, md *sandbox.Metadata) { mdDataElement(t, md, "hHVisit0001").ValueType = "TEXT" },
			code: 1, status: export.StatusCompletedWithErrors, problem: "data_element_not_numeric", rejected: onlyDE("hHVisit0001"),
			stderr: []string{"Completed with error(s)"}, stored: without(want, onlyDE("hHVisit0001"))},
		{name: "wrong token", version: "2.41.0", token: true, env: []string{"MEDIATOR_DHIS2_TOKEN=d2pat_Wr0ngT0kenWr0ngT0kenWr0ngT0ken1234567890"},
			code: 1, stderr: []string{"401", "API token"}},
		{name: "wrong password", version: "2.36.13", env: []string{"MEDIATOR_DHIS2_PASSWORD=Wr0ng-Dh1s2-Passw0rd"},
			code: 1, stderr: []string{"401", "username and password"}},
		{name: "token on 2.37, where tokens are off", version: "2.37.9", token: true,
			code: 1, stderr: []string{"401", "API token"}},
		{name: "DHIS2 down", version: "2.40.3", env: []string{"MEDIATOR_DHIS2_URL=http://" + down},
			code: 1, stderr: []string{"unreachable", down}},
		{name: "not DHIS2 at dhis2.url", version: "2.40.3", env: []string{"MEDIATOR_DHIS2_URL=" + notDHIS2},
			code: 1, stderr: []string{"HTML page", "dhis2.url"}},
		{name: "DHIS2 answers 500 to every push", version: "2.42.0", arm: func(sb *sandbox.Server) { sb.Fail(100, http.StatusInternalServerError) },
			code: 1, status: export.StatusFailed, stderr: []string{"Failed", "500"}},
		{name: "DHIS2 slower than dhis2.timeout", version: "2.41.0", token: true, arm: func(sb *sandbox.Server) { sb.SetDelay(5 * time.Second) },
			env:  []string{"MEDIATOR_DHIS2_TIMEOUT=300ms"},
			code: 1, status: export.StatusFailed, stderr: []string{"Failed", "timed out", "outcome of chunk 1 is unknown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			md := demoMetadata(t)
			if tt.edit != nil {
				tt.edit(t, md)
			}
			sb, url := startDHIS2(t, tt.version, md)
			if tt.arm != nil {
				tt.arm(sb)
			}
			a := tt.args
			if a == nil {
				a = args(ds)
			}
			code, stdout, stderr := run(t, exportEnv(exportDB, url, tt.token, tt.env...), a...)
			if code != tt.code {
				t.Errorf("exit %d; want %d; stderr:\n%s", code, tt.code, stderr)
			}
			rest, summary := splitReadiness(stderr)
			line := strings.TrimSpace(rest)
			if summary != "" && !strings.HasPrefix(summary, "readiness 202610: ready: ") {
				t.Errorf("readiness summary = %q; want the month ready", summary)
			}
			if strings.Contains(line, "\n") || !strings.HasPrefix(line, "mediator: ") {
				t.Errorf("stderr = %q; want one sentence starting with \"mediator: \"", stderr)
			}
			for _, s := range tt.stderr {
				if !strings.Contains(line, s) {
					t.Errorf("stderr = %q; want it to contain %q", line, s)
				}
			}
			for _, bad := range []string{"panic", "goroutine ", ".go:", dhisPassword, dhisToken, chtPassword} {
				if strings.Contains(stdout+stderr, bad) {
					t.Errorf("output contains %q", bad)
				}
			}
			diff(t, "stored", storedValues(t, sb, period), tt.stored)
			if tt.status == "" {
				if stdout != "" {
					t.Errorf("stdout = %q; want no report", stdout)
				}
				if reqs, _ := pushes(t, sb, ds); len(reqs) != 0 {
					t.Errorf("%d pushes; want none", len(reqs))
				}
				return
			}
			rep := decodeReport(t, stdout)
			if rep.Status != tt.status {
				t.Errorf("report status = %q (error %q); want %q", rep.Status, rep.Error, tt.status)
			}
			if tt.status == export.StatusFailed && rep.Error == "" {
				t.Error("a failed report says nothing about why")
			}
			if tt.rejected == nil {
				return
			}
			refused := onlyKeys(want, tt.rejected)
			if rep.DataValues != (export.ValueCounts{Built: len(want), Valid: len(want) - len(refused), Rejected: len(refused)}) {
				t.Errorf("dataValues = %+v; want %d built, %d rejected", rep.DataValues, len(want), len(refused))
			}
			ps := problemsByCode(rep)
			diff(t, tt.problem+" problems", problemKeys(t, ps[tt.problem]), refused)
			if len(ps) != 1 {
				t.Errorf("problems = %+v; want %s only", rep.Problems, tt.problem)
			}
			requireEachOnce(t, sb, ds, without(want, tt.rejected))
			if len(refused) == len(want) && rep.Import != nil {
				t.Errorf("import = %+v; want none when nothing was pushed", *rep.Import)
			}
		})
	}
}

// A DHIS2 500 in the middle of a push: the first chunk is stored, the
// report says so (not "Failed", not "nothing written"), and the exit code
// is 1.
func TestExport_serverErrorMidPush(t *testing.T) {
	_, mo, want := exportDemo(t)
	period := mo.Period()
	ds := seed.DemoDataSet
	sb := newSandbox(t, "2.40.3", demoMetadata(t))
	var posts atomic.Int32
	url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/dataValueSets") && posts.Add(1) == 2 {
			sb.Fail(100, http.StatusInternalServerError) // this push and every retry
		}
		sb.ServeHTTP(w, r)
	}))
	code, stdout, stderr := run(t, exportEnv(exportDB, url, false, "MEDIATOR_DHIS2_CHUNK_SIZE=10"), "export", "--data-set", ds, "--period", period)
	if code != 1 {
		t.Errorf("exit %d; want 1; stderr:\n%s", code, stderr)
	}
	rep := decodeReport(t, stdout)
	_, sets := pushes(t, sb, ds)
	if len(sets) < 2 {
		t.Fatalf("%d pushes; want the first chunk and the failing second", len(sets))
	}
	first := map[key]string{}
	for _, dv := range sets[0].DataValues {
		first[normKey(key{dv.OrgUnit, dv.DataElement, dv.CategoryOptionCombo, dv.AttributeOptionCombo})] = dv.Value
	}
	if len(first) != 10 {
		t.Fatalf("first chunk has %d values; want 10", len(first))
	}
	diff(t, "stored", storedValues(t, sb, period), first)
	if rep.Status != export.StatusCompletedWithErrors {
		t.Errorf("status = %q; want %q: the first chunk was written", rep.Status, export.StatusCompletedWithErrors)
	}
	if rep.Import == nil || rep.Import.Imported != 10 || rep.Import.Chunks != 1 {
		t.Errorf("import = %+v; want the first chunk's 10 imported values", rep.Import)
	}
	for _, s := range []string{"500", "chunk 2 of 3", "10 of 28 values"} {
		if !strings.Contains(rep.Error, s) {
			t.Errorf("report error = %q; want it to contain %q", rep.Error, s)
		}
	}
	rest, _ := splitReadiness(stderr)
	if line := strings.TrimSpace(rest); strings.Contains(line, "\n") || !strings.Contains(line, "Completed with error(s)") || !strings.Contains(line, "500") {
		t.Errorf("stderr = %q; want one sentence with the status and the 500", stderr)
	}
	if rep.DataValues.Built != len(want) || rep.DataValues.Valid != len(want) {
		t.Errorf("dataValues = %+v", rep.DataValues)
	}
}

// --dry-run through the binary: DHIS2 validates and counts, nothing is
// stored, and a real export afterwards stores what the dry run counted.
func TestExport_dryRunStoresNothing(t *testing.T) {
	_, mo, want := exportDemo(t)
	period := mo.Period()
	ds := seed.DemoDataSet
	sb, url := startDHIS2(t, "2.39.5", demoMetadata(t))
	env := exportEnv(exportDB, url, false)
	code, stdout, stderr := run(t, env, "export", "--data-set", ds, "--period", period, "--dry-run", "--json")
	if code != 0 {
		t.Fatalf("exit %d; want 0; stderr:\n%s", code, stderr)
	}
	rep := decodeReport(t, stdout)
	if !rep.DryRun || rep.Status != export.StatusSuccessful || rep.Import == nil || rep.Import.Imported != len(want) {
		t.Errorf("report: dryRun=%t status=%q import=%+v; want a dry run, %s, %d imported", rep.DryRun, rep.Status, rep.Import, export.StatusSuccessful, len(want))
	}
	if got := sb.Stored(); len(got) != 0 {
		t.Errorf("a dry run stored %d values", len(got))
	}
	reqs, _ := pushes(t, sb, ds)
	if len(reqs) != 1 || reqs[0].Query.Get("dryRun") != "true" {
		t.Errorf("dry run pushes: %d, first query %v; want one with dryRun=true", len(reqs), reqs)
	}

	code, stdout, stderr = run(t, env, "export", "--data-set", ds, "--period", period)
	if code != 0 {
		t.Fatalf("real run: exit %d; stderr:\n%s", code, stderr)
	}
	if real := decodeReport(t, stdout); real.DryRun || real.Import == nil || real.Import.Imported != rep.Import.Imported {
		t.Errorf("real run: %+v; want the dry run's %d imported", real.Import, rep.Import.Imported)
	}
	diff(t, "stored", storedValues(t, sb, period), want)
}

// No credential appears in any output or log, at debug level, whether the
// export succeeds or fails: CHT's password, DHIS2's password and token (the
// right and the wrong ones), and their basic-auth encodings. Nor does any
// credential reach DHIS2 in a URL.
func TestExport_noCredentialInOutput(t *testing.T) {
	_, mo, _ := exportDemo(t)
	period := mo.Period()
	ds := seed.DemoDataSet
	const (
		wrongToken    = "d2pat_L3akT0kenL3akT0kenL3akT0kenL3ak0123456789"
		wrongPassword = "L3ak-Dh1s2-Passw0rd-Wr0ng"
		wrongCHT      = "L3ak-CHT-Passw0rd-Wr0ng"
	)
	b64 := func(u, p string) string { return base64.StdEncoding.EncodeToString([]byte(u + ":" + p)) }
	secrets := []string{chtPassword, dhisPassword, dhisToken, wrongToken, wrongPassword, wrongCHT,
		strings.TrimPrefix(dhisToken, "d2pat_"), b64(dhisUser, dhisPassword), b64(chtUser, chtPassword), b64(chtUser, wrongCHT), b64(dhisUser, wrongPassword)}

	sb41, url41 := startDHIS2(t, "2.41.0", demoMetadata(t))
	sb36, url36 := startDHIS2(t, "2.36.13", demoMetadata(t))
	sb500 := newSandbox(t, "2.40.3", demoMetadata(t))
	var posts atomic.Int32
	url500 := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && posts.Add(1) == 2 {
			sb500.Fail(100, http.StatusInternalServerError)
		}
		sb500.ServeHTTP(w, r)
	}))
	// Both a token and a password are configured: the token is used and
	// neither may show.
	both := func(url string, extra ...string) []string {
		env := exportEnv(exportDB, url, true, append([]string{"MEDIATOR_DHIS2_USERNAME=" + dhisUser, "MEDIATOR_DHIS2_PASSWORD=" + dhisPassword}, extra...)...)
		return append(env, "MEDIATOR_LOG_LEVEL=debug")
	}
	basic := func(url string, extra ...string) []string {
		return append(exportEnv(exportDB, url, false, extra...), "MEDIATOR_LOG_LEVEL=debug")
	}
	runs := []struct {
		name string
		env  []string
		dry  bool
		code int
	}{
		{"basic auth, 2.36", basic(url36), false, 0},
		{"token, 2.41", both(url41), false, 0},
		{"token, async, 2.41", both(url41, "MEDIATOR_DHIS2_ASYNC=true", "MEDIATOR_DHIS2_ASYNC_POLL_INTERVAL=25ms", "MEDIATOR_DHIS2_CHUNK_SIZE=10"), false, 0},
		{"dry run", both(url41), true, 0},
		{"wrong token", both(url41, "MEDIATOR_DHIS2_TOKEN="+wrongToken), false, 1},
		{"wrong password", basic(url36, "MEDIATOR_DHIS2_PASSWORD="+wrongPassword), false, 1},
		{"DHIS2 down", both("http://" + closedPort(t)), false, 1},
		{"CHT wrong password", both(url41, "MEDIATOR_CHT_PASSWORD="+wrongCHT), false, 1},
		{"DHIS2 500 mid-push", basic(url500, "MEDIATOR_DHIS2_CHUNK_SIZE=10"), false, 1},
	}
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			args := []string{"export", "--data-set", ds, "--period", period}
			if r.dry {
				args = append(args, "--dry-run")
			}
			code, stdout, stderr := run(t, r.env, args...)
			if code != r.code {
				t.Errorf("exit %d; want %d; stderr:\n%s", code, r.code, stderr)
			}
			if !strings.Contains(stderr, `"level":"DEBUG"`) {
				t.Errorf("no debug log on stderr; the test proves nothing:\n%s", stderr)
			}
			for _, s := range secrets {
				if strings.Contains(stdout, s) {
					t.Errorf("stdout contains the secret %q", s)
				}
				if strings.Contains(stderr, s) {
					t.Errorf("stderr contains the secret %q", s)
				}
			}
		})
	}
	for name, sb := range map[string]*sandbox.Server{"2.41": sb41, "2.36": sb36, "500": sb500} {
		for _, r := range sb.Requests() {
			u := r.Path + "?" + r.Query.Encode()
			for _, s := range secrets {
				if strings.Contains(u, s) {
					t.Errorf("sandbox %s: request URL %s carries a credential", name, u)
				}
			}
		}
	}
	if got := apiAuth(sb41); got["Basic"] != 0 || got["ApiToken"] == 0 {
		t.Errorf("2.41 requests by auth scheme: %v; want the token only", got)
	}
}

// --org-unit exports that org unit only; with --children, the mapped org
// units below it too. Only those values reach DHIS2.
func TestExport_orgUnitFilter(t *testing.T) {
	_, mo, want := exportDemo(t)
	tests := []struct {
		name     string
		orgUnit  string
		children bool
		want     map[key]string
	}{
		{"health centre", seed.OUKanji, false, onlyKeys(want, func(k key) bool { return k.ou == seed.OUKanji })},
		{"district", seed.OUDistrict, false, onlyKeys(want, func(k key) bool { return k.ou == seed.OUDistrict })},
		{"district and children", seed.OUDistrict, true, want},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sb, url := startDHIS2(t, "2.42.0", demoMetadata(t))
			svc := newService(t, exportDB, dhis2Keys(url, true), nil)
			rep := runExport(t, svc, export.Request{DataSet: seed.DemoDataSet, Period: mo, OrgUnit: tt.orgUnit, Children: tt.children}, false)
			if rep.Status != export.StatusSuccessful || rep.DataValues.Built != len(tt.want) {
				t.Errorf("status %q, dataValues %+v; want %s, %d built", rep.Status, rep.DataValues, export.StatusSuccessful, len(tt.want))
			}
			diff(t, "stored", storedValues(t, sb, mo.Period()), tt.want)
			requireEachOnce(t, sb, seed.DemoDataSet, tt.want)
		})
	}
}

// A dhis2.url that misses DHIS2's context path (…/dhis) answers 404 to
// everything: every run ends the same way, exit 1 with a message that
// points at dhis2.url, never "the data set is not in DHIS2". (It once
// depended on which of two concurrent 404s came first.)
func TestExport_urlWithoutContextPath(t *testing.T) {
	_, mo, _ := exportDemo(t)
	sb, url := startDHIS2(t, "2.41.0", demoMetadata(t), func(o *sandbox.Options) { o.ContextPath = "/dhis" })
	for i := range 4 {
		code, _, stderr := run(t, exportEnv(exportDB, url, true), "export", "--data-set", seed.DemoDataSet, "--period", mo.Period())
		if code != 1 || strings.Contains(stderr, "not in DHIS2") || !strings.Contains(stderr, "dhis2.url") {
			t.Errorf("run %d: exit %d, stderr %q; want exit 1 and a message that points at dhis2.url", i+1, code, stderr)
		}
	}
	if got := sb.Stored(); len(got) != 0 {
		t.Errorf("stored %d values", len(got))
	}
}

// When DHIS2 answered no chunk at all (500 on the first push, a timeout),
// the report has no import summary: it once claimed "SUCCESS" with zero
// chunks next to the report status "Failed".
func TestExport_importStatusWhenDHIS2NeverAnswered(t *testing.T) {
	_, mo, _ := exportDemo(t)
	sb, url := startDHIS2(t, "2.42.0", demoMetadata(t))
	sb.Fail(100, http.StatusInternalServerError)
	rep := runExport(t, newService(t, exportDB, dhis2Keys(url, true), nil), export.Request{DataSet: seed.DemoDataSet, Period: mo}, false)
	if rep.Status != export.StatusFailed {
		t.Errorf("status = %q; want %q", rep.Status, export.StatusFailed)
	}
	if rep.Import != nil && (rep.Import.Status == "SUCCESS" || rep.Import.Chunks == 0) {
		t.Errorf("import = %+v; want no import summary when DHIS2 answered no push", *rep.Import)
	}
}
