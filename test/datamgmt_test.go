package test

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/validate"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/sandbox/dhis2/sandbox"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/seed"
)

// DHIS2 data management end to end: the real binary (or the real program's
// service) against pouchdb-server and the DHIS2 sandbox. The diff against
// what DHIS2 holds, ownership by storedBy, deletion of stale values,
// zeros, locks judged by DHIS2's clock, input periods, approval and the
// completeness registrations.

const (
	dmMonth = "2026-10"
	deHH    = "hHVisit0001" // households visited
)

// dmDB loads a fresh demo district (one month) into its own database, so a
// test may correct target docs, and returns the manifest and the values
// DHIS2 must end up with (see exportDemo).
func dmDB(t *testing.T, name string) (*seed.Manifest, map[key]string) {
	t.Helper()
	requireServer(t)
	docs, m, err := seed.DemoDocs(seed.DemoOptions{End: dmMonth, Months: 1})
	if err != nil {
		t.Fatal(err)
	}
	newDB(t, name, docs)
	return m, norm(demoExpected(m, seed.DemoDataSet, m.Months[0]))
}

// liveValues is what the sandbox holds for period, soft-deleted values
// left out, keyed like the expected values.
func liveValues(sb *sandbox.Server, period, dataElementNotIn string) map[key]string {
	out := map[key]string{}
	for _, v := range sb.Stored() {
		if v.Deleted || v.Period != period || v.DataElement == dataElementNotIn {
			continue
		}
		out[normKey(key{v.OrgUnit, v.DataElement, v.CategoryOptionCombo, v.AttributeOptionCombo})] = v.Value
	}
	return out
}

// zeroHouseholds corrects the month in CHT: every CHW of the org unit
// visited no household (their target docs' totals become 0). It returns
// the org unit's old total.
func zeroHouseholds(t *testing.T, db string, m *seed.Manifest, orgUnit string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	old := 0
	for _, ou := range m.OrgUnits {
		if ou.ID != orgUnit {
			continue
		}
		for _, chwID := range ou.CHWs {
			var chw seed.CHW
			for _, c := range m.CHWs {
				if c.ID == chwID {
					chw = c
				}
			}
			id := seed.TargetDocID(m.Months[0], chw.ID, chw.Username)
			var doc map[string]any
			if err := couch.Do(ctx, http.MethodGet, "/"+db+"/"+id, nil, &doc); err != nil {
				t.Fatalf("get %s: %v", id, err)
			}
			for _, tv := range doc["targets"].([]any) {
				tm := tv.(map[string]any)
				if tm["id"] == seed.TargetHouseholdVisits {
					val := tm["value"].(map[string]any)
					old += int(val["total"].(float64))
					val["total"], val["pass"] = 0, 0
				}
			}
			doc["updated_date"] = time.Now().UnixMilli()
			if err := couch.Do(ctx, http.MethodPut, "/"+db+"/"+id, doc, nil); err != nil {
				t.Fatalf("put %s: %v", id, err)
			}
		}
	}
	if old == 0 {
		t.Fatalf("fixture: org unit %s visited no household before the correction", orgUnit)
	}
	return old
}

func posts(sb *sandbox.Server, path string) int {
	n := 0
	for _, r := range sb.Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, path) {
			n++
		}
	}
	return n
}

// registeredOrgUnits lists the org units registered complete for the
// period, each once with the default attribute option combo and stored by
// the mediator's user.
func registeredOrgUnits(t *testing.T, sb *sandbox.Server, period string) []string {
	t.Helper()
	var out []string
	for _, r := range sb.Registrations() {
		if r.Period != period || r.DataSet != seed.DemoDataSet {
			continue
		}
		if r.AttributeOptionCombo != sandbox.DefaultCategoryOptionComboID || r.StoredBy != dhisUser || !r.Completed {
			t.Errorf("registration %+v; want the default combo, stored by %s, completed", r, dhisUser)
		}
		out = append(out, r.OrgUnit)
	}
	return out
}

var demoOrgUnits = []string{seed.OUDistrict, seed.OUMbuyu, seed.OUKanji, seed.OUBahari}

// The month exported twice with one CHT correction in between, through the
// binary, for every version family: DHIS2 ends up holding exactly the
// corrected month (the changed total updated, the total now zero deleted
// because the data element stores no zeros, nothing else touched), with one
// completeness registration per org unit; a third run, with nothing
// changed, writes nothing at all.
func TestDataManagement_correction(t *testing.T) {
	for _, version := range []string{"2.36.13", "2.38.4", "2.40.2", "2.41.0", "2.43.0"} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			db := "dm_fix_" + strings.ReplaceAll(version, ".", "_")
			m, want := dmDB(t, db)
			period := m.Months[0].Period()
			md := demoMetadata(t)
			mdDataElement(t, md, deHH).ZeroIsSignificant = false
			sb, url := startDHIS2(t, version, md)
			token := version >= "2.38"
			// Not the export's business: the mediator's own value of another
			// period, and of a data element outside the data set.
			other := []sandbox.DataValue{
				{DataElement: deHH, Period: "202609", OrgUnit: seed.OUMbuyu, Value: "9", StoredBy: dhisUser},
				{DataElement: "pnc48hVis01", Period: period, OrgUnit: seed.OUMbuyu, Value: "4", StoredBy: dhisUser},
			}
			sb.Put(other...)
			env := exportEnv(db, url, token)
			args := []string{"export", "--data-set", seed.DemoDataSet, "--period", period}

			code, stdout, stderr := run(t, env, args...)
			rep := decodeReport(t, stdout)
			if code != 0 || rep.Status != export.StatusSuccessful {
				t.Fatalf("first export: exit %d, status %q; stderr %s; problems %+v", code, rep.Status, stderr, rep.Problems)
			}
			if c := rep.Changes; c == nil || c.New != len(want) || c.Changed+c.Deleted+c.Kept+c.Unchanged != 0 || c.Owner != dhisUser {
				t.Errorf("first export: changes %+v; want %d new, owner %s", c, len(want), dhisUser)
			}
			diff(t, "after the first export", liveValues(sb, period, "pnc48hVis01"), want)
			if got := registeredOrgUnits(t, sb, period); !reflect.DeepEqual(sortedCopy(got), sortedCopy(demoOrgUnits)) {
				t.Errorf("registered %v; want each of %v once", got, demoOrgUnits)
			}
			if c := rep.Completeness; c == nil || c.Mode != "when_ready" || len(c.Registered) != 4 {
				t.Errorf("completeness %+v; want when_ready with 4 org units registered", c)
			}

			// One correction in CHT: Mbuyu's CHWs visited no household.
			mbuyuOld := zeroHouseholds(t, db, m, seed.OUMbuyu)
			corrected := map[key]string{}
			for k, v := range want {
				corrected[k] = v
			}
			hhMbuyu, hhDistrict := key{seed.OUMbuyu, deHH, "", ""}, key{seed.OUDistrict, deHH, "", ""}
			delete(corrected, hhMbuyu) // zero, and DHIS2 stores no zero for it
			var district int
			fmt.Sscan(want[hhDistrict], &district)
			corrected[hhDistrict] = fmt.Sprint(district - mbuyuOld)
			before := sb.Stored()

			code, stdout, stderr = run(t, env, args...)
			rep = decodeReport(t, stdout)
			if code != 0 || rep.Status != export.StatusSuccessful {
				t.Fatalf("second export: exit %d, status %q; stderr %s; problems %+v", code, rep.Status, stderr, rep.Problems)
			}
			if c := rep.Changes; c == nil || c.New != 0 || c.Changed != 1 || c.Deleted != 1 || c.Unchanged != len(want)-2 || len(c.List) != 0 {
				t.Errorf("second export: changes %+v; want 1 changed, 1 deleted, %d unchanged, no list outside a dry run", c, len(want)-2)
			}
			if imp := rep.Import; imp == nil || imp.Deleted != 1 || imp.Imported+imp.Updated != 1 || len(imp.Conflicts) != 0 {
				t.Errorf("second export: import %+v; want one value written and one deleted", imp)
			}
			diff(t, "after the correction", liveValues(sb, period, "pnc48hVis01"), corrected)
			// Nothing else touched: every other stored value is as it was.
			after := sb.Stored()
			touched := map[key]bool{hhMbuyu: true, hhDistrict: true}
			for i, b := range before {
				k := normKey(key{b.OrgUnit, b.DataElement, b.CategoryOptionCombo, b.AttributeOptionCombo})
				if b.Period == period && touched[k] {
					continue
				}
				if i >= len(after) || !reflect.DeepEqual(after[i], b) {
					t.Errorf("value %s %s was touched: %+v", k, b.Period, b)
				}
			}
			if got := registeredOrgUnits(t, sb, period); len(got) != 4 {
				t.Errorf("after the correction: registrations %v; want still one per org unit", got)
			}
			if c := rep.Completeness; c == nil || len(c.Registered) != 0 || len(c.AlreadyComplete) != 4 {
				t.Errorf("second export: completeness %+v; want all 4 already complete", c)
			}

			// Nothing changed: nothing is written, not even a registration.
			stored, dvPosts, regPosts := sb.Stored(), posts(sb, "/dataValueSets"), posts(sb, "/completeDataSetRegistrations")
			code, stdout, _ = run(t, env, args...)
			rep = decodeReport(t, stdout)
			if code != 0 || rep.Status != export.StatusSuccessful || rep.Import != nil {
				t.Errorf("third export: exit %d, status %q, import %+v; want success and no import", code, rep.Status, rep.Import)
			}
			if c := rep.Changes; c == nil || c.Unchanged != len(want) || c.New+c.Changed+c.Deleted+c.Kept != 0 {
				t.Errorf("third export: changes %+v; want all %d unchanged", c, len(want))
			}
			if !reflect.DeepEqual(sb.Stored(), stored) || posts(sb, "/dataValueSets") != dvPosts || posts(sb, "/completeDataSetRegistrations") != regPosts {
				t.Errorf("third export wrote to DHIS2: %d → %d data value posts, %d → %d registration posts",
					dvPosts, posts(sb, "/dataValueSets"), regPosts, posts(sb, "/completeDataSetRegistrations"))
			}
		})
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// A dry run through the binary: a readable table of what would change
// (old → new, deletions), DHIS2 asked with dryRun=true, nothing stored;
// --json gives the report with the list of changes.
func TestDataManagement_dryRunTable(t *testing.T) {
	db := "dm_dry"
	m, want := dmDB(t, db)
	period := m.Months[0].Period()
	md := demoMetadata(t)
	mdDataElement(t, md, deHH).ZeroIsSignificant = false
	sb, url := startDHIS2(t, "2.41.0", md)
	env := exportEnv(db, url, true)
	args := []string{"export", "--data-set", seed.DemoDataSet, "--period", period}
	if code, _, stderr := run(t, env, args...); code != 0 {
		t.Fatalf("export: exit %d: %s", code, stderr)
	}
	mbuyuOld := zeroHouseholds(t, db, m, seed.OUMbuyu)
	before, dvPosts := sb.Stored(), posts(sb, "/dataValueSets")

	code, stdout, stderr := run(t, env, append(args, "--dry-run")...)
	if code != 0 {
		t.Fatalf("dry run: exit %d: %s\n%s", code, stderr, stdout)
	}
	var district int
	fmt.Sscan(want[key{seed.OUDistrict, deHH, "", ""}], &district)
	for _, line := range []string{
		"Dry run of data set " + seed.DemoDataSet + ", period " + period + ": DHIS2 was not changed.",
		"Status:  Successful",
		fmt.Sprintf("Changes: 0 new, 1 changed, %d unchanged, 1 to delete, 0 kept (values owned by DHIS2 user %s)", len(want)-2, dhisUser),
		"DHIS2 (dry run): SUCCESS, 0 imported, 1 updated, 1 deleted, 0 ignored, 0 conflicts",
		"Completeness (when_ready): would register none; already complete: ",
	} {
		if !strings.Contains(stdout, line) {
			t.Errorf("the table lacks %q:\n%s", line, stdout)
		}
	}
	for _, row := range []string{
		`CHANGE +ORG UNIT +DATA ELEMENT +CATEGORY OPTION COMBO +ATTRIBUTE OPTION COMBO +DHIS2 NOW +AFTER +NOTE`,
		fmt.Sprintf(`changed +%s +%s +- +- +%d +%d *\n`, seed.OUDistrict, deHH, district, district-mbuyuOld),
		fmt.Sprintf(`delete +%s +%s +- +- +%d +\(deleted\) +the total is now zero`, seed.OUMbuyu, deHH, mbuyuOld),
	} {
		if !regexp.MustCompile(row).MatchString(stdout) {
			t.Errorf("the table has no row matching %s:\n%s", row, stdout)
		}
	}
	if !reflect.DeepEqual(sb.Stored(), before) {
		t.Error("a dry run changed what DHIS2 stored")
	}
	for _, r := range sb.Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/dataValueSets") && r.Query.Get("dryRun") != "true" {
			if dvPosts--; dvPosts < 0 {
				t.Errorf("a dry run posted without dryRun=true: %v", r.Query)
			}
		}
	}

	code, stdout, _ = run(t, env, append(args, "--dry-run", "--json")...)
	rep := decodeReport(t, stdout)
	if code != 0 || !rep.DryRun || rep.Changes == nil || len(rep.Changes.List) != 2 {
		t.Fatalf("--json: exit %d, report %+v; want the dry run with 2 changes listed", code, rep)
	}
	del := rep.Changes.List[1]
	if del.Kind != "delete" || del.OrgUnit != seed.OUMbuyu || del.Old != fmt.Sprint(mbuyuOld) || !strings.Contains(del.Reason, "zero") {
		t.Errorf("change %+v; want the deletion of Mbuyu's %d households, the total now zero", del, mbuyuOld)
	}
}

// Ownership is DHIS2's storedBy: a value another user stored is never
// deleted, and by default not overwritten (reported, the export Completed
// with error(s)); with dhis2.overwrite_others it is overwritten and shown
// as "changed, stored by". The mediator's own stale values are deleted,
// unless dhis2.delete_stale is off.
func TestDataManagement_ownership(t *testing.T) {
	_, mo, want := exportDemo(t)
	period := mo.Period()
	req := export.Request{DataSet: seed.DemoDataSet, Period: mo}
	const clerk = "district-clerk"
	kanjiHH := key{seed.OUKanji, deHH, "", ""}
	setup := func(sb *sandbox.Server) {
		sb.Put(
			// A clerk typed another number where CHT has one.
			sandbox.DataValue{DataElement: deHH, Period: period, OrgUnit: seed.OUKanji, Value: "999", StoredBy: clerk},
			// The mediator stored a value CHT no longer produces: an org
			// unit of the data set that no CHT contact maps any more.
			sandbox.DataValue{DataElement: seed.DEBirths, Period: period, OrgUnit: "ouCountry01", Value: "5", StoredBy: dhisUser},
			// And the clerk's value on that same unmapped org unit.
			sandbox.DataValue{DataElement: deHH, Period: period, OrgUnit: "ouCountry01", Value: "7", StoredBy: clerk},
		)
	}
	md := func() *sandbox.Metadata {
		md := demoMetadata(t)
		ds := mdDataSet(t, md, seed.DemoDataSet)
		ds.OrganisationUnits = append(ds.OrganisationUnits, sandbox.Ref{ID: "ouCountry01"})
		return md
	}

	t.Run("defaults: others kept, own stale deleted", func(t *testing.T) {
		sb, url := startDHIS2(t, "2.40.3", md())
		setup(sb)
		rep := runExport(t, newService(t, exportDB, dhis2Keys(url, false), nil), req, false)
		if rep.Status != export.StatusCompletedWithErrors {
			t.Errorf("status %q; want %q (CHT's number for Kanji is not in DHIS2)", rep.Status, export.StatusCompletedWithErrors)
		}
		kept := problemsByCode(rep)["value_kept"]
		if len(kept) != 1 || kept[0].OrgUnit != seed.OUKanji || !strings.Contains(kept[0].Message, clerk) || !strings.Contains(kept[0].Message, "999") {
			t.Errorf("value_kept problems %+v; want Kanji's, naming %s and 999", kept, clerk)
		}
		if c := rep.Changes; c == nil || c.Kept != 1 || c.Deleted != 1 || c.New != len(want)-1 {
			t.Errorf("changes %+v; want 1 kept, 1 deleted, %d new", c, len(want)-1)
		}
		got := liveValues(sb, period, "")
		wantNow := map[key]string{}
		for k, v := range want {
			wantNow[k] = v
		}
		wantNow[kanjiHH] = "999"
		wantNow[key{"ouCountry01", deHH, "", ""}] = "7" // the clerk's, never deleted
		diff(t, "stored", got, wantNow)
		for _, v := range sb.Stored() {
			if v.OrgUnit == "ouCountry01" && v.DataElement == seed.DEBirths && !v.Deleted {
				t.Errorf("the mediator's stale value %+v was not deleted", v)
			}
		}
		// Kanji's values were not all accepted: when_ready registers nothing.
		if got := registeredOrgUnits(t, sb, period); len(got) != 0 {
			t.Errorf("registered %v; want none (when_ready, and a value was kept)", got)
		}
	})

	t.Run("overwrite_others on, delete_stale off", func(t *testing.T) {
		sb, url := startDHIS2(t, "2.40.3", md())
		setup(sb)
		svc := newService(t, exportDB, dhis2Keys(url, false, "dhis2.overwrite_others", "true", "dhis2.delete_stale", "false"), nil)
		dry := runExport(t, svc, req, true)
		var changed *validate.Change
		for i, c := range dry.Changes.List {
			if c.Kind == "changed" {
				changed = &dry.Changes.List[i]
			}
		}
		if changed == nil || changed.OrgUnit != seed.OUKanji || changed.StoredBy != clerk || changed.Old != "999" || changed.New != want[kanjiHH] {
			t.Errorf("dry run changes %+v; want Kanji's 999 → %s, stored by %s", dry.Changes.List, want[kanjiHH], clerk)
		}
		rep := runExport(t, svc, req, false)
		if rep.Status != export.StatusSuccessful || rep.Changes.Changed != 1 || rep.Changes.Deleted != 0 || rep.Changes.Kept != 1 {
			t.Errorf("status %q, changes %+v; want Successful, 1 changed, 1 kept (own stale value, deletion off)", rep.Status, rep.Changes)
		}
		for _, v := range sb.Stored() {
			switch {
			case v.OrgUnit == seed.OUKanji && v.DataElement == deHH && (v.Value != want[kanjiHH] || v.StoredBy != dhisUser):
				t.Errorf("Kanji households %+v; want CHT's %s stored by %s", v, want[kanjiHH], dhisUser)
			case v.OrgUnit == "ouCountry01" && v.Deleted:
				t.Errorf("%+v deleted; want every value kept with delete_stale off", v)
			}
		}
		if got := registeredOrgUnits(t, sb, period); len(got) != 4 {
			t.Errorf("registered %v; want the 4 org units", got)
		}
	})
}

// dataEntryUser is a DHIS2 user without F_EDIT_EXPIRED (not a superuser).
func dataEntryUser(o *sandbox.Options) {
	o.User = &sandbox.User{Authorities: []string{"F_DATAVALUE_ADD"}, OrgUnits: []string{"ouCountry01"}}
}

// Locks are judged by DHIS2's clock (the sandbox's serverDate, 2026-11-15,
// not this machine's), predicted with the fix in plain words, but never
// used to drop a value DHIS2 might accept: a locked period is still sent,
// DHIS2's conflict translated, and a lock exception lets the same export
// through. A superuser (F_EDIT_EXPIRED) gets no warning.
func TestDataManagement_locks(t *testing.T) {
	_, mo, want := exportDemo(t)
	period := mo.Period()
	req := export.Request{DataSet: seed.DemoDataSet, Period: mo}
	withExpiry := func(days int) *sandbox.Metadata {
		md := demoMetadata(t)
		mdDataSet(t, md, seed.DemoDataSet).ExpiryDays = days
		return md
	}

	t.Run("DHIS2's clock, not the local one", func(t *testing.T) {
		// 202610 locks on 2026-11-30 after 30 days: open on DHIS2's
		// 2026-11-15, locked by a clock at or after December 2026.
		if time.Now().Before(time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)) {
			t.Log("this machine's clock is before 2026-11-30: the test cannot tell the clocks apart, but still checks the push")
		}
		sb, url := startDHIS2(t, "2.41.0", withExpiry(30), dataEntryUser)
		rep := runExport(t, newService(t, exportDB, dhis2Keys(url, true), nil), req, false)
		if rep.Status != export.StatusSuccessful || len(problemsByCode(rep)["period_locked"]) != 0 {
			t.Errorf("status %q, problems %+v; want Successful, no lock", rep.Status, rep.Problems)
		}
		diff(t, "stored", liveValues(sb, period, ""), want)
	})

	for _, version := range []string{"2.40.3", "2.43.0"} {
		t.Run("expired, then a lock exception "+version, func(t *testing.T) {
			sb, url := startDHIS2(t, version, withExpiry(10), dataEntryUser)
			svc := newService(t, exportDB, dhis2Keys(url, true), nil)
			rep := runExport(t, svc, req, false)
			locked := problemsByCode(rep)["period_locked"]
			wantMsg := "period 202610 locked since 2026-11-10 (expiry 10 days) by DHIS2's clock: ask a DHIS2 administrator for a lock exception for these org units"
			if len(locked) != 1 || !strings.HasPrefix(locked[0].Message, wantMsg) {
				t.Errorf("period_locked problems %+v; want one saying %q", locked, wantMsg)
			}
			if posts(sb, "/dataValueSets") == 0 {
				t.Error("the locked period was not sent; a lock exception could have let DHIS2 accept it")
			}
			conflicts := problemsByCode(rep)["dhis2_conflict"]
			if rep.Status == export.StatusSuccessful || len(conflicts) == 0 || !strings.Contains(conflicts[0].Message, "lock exception") {
				t.Errorf("status %q, conflicts %+v; want DHIS2's refusal, with the lock exception named", rep.Status, conflicts)
			}
			if n := len(liveValues(sb, period, "")); n != 0 || len(sb.Registrations()) != 0 {
				t.Errorf("DHIS2 holds %d values and %d registrations; want none", n, len(sb.Registrations()))
			}
			// Lock exceptions for all but Kanji: the others go through (in
			// 2.43, whose refusal covers the whole data set group, because
			// the mediator then sends org unit by org unit).
			for _, ou := range demoOrgUnits {
				if ou != seed.OUKanji {
					sb.AddLockException(seed.DemoDataSet, period, ou)
				}
			}
			rep = runExport(t, svc, req, false)
			notKanji := without(want, func(k key) bool { return k.ou == seed.OUKanji })
			diff(t, "stored with lock exceptions but for Kanji", liveValues(sb, period, ""), notKanji)
			for _, p := range problemsByCode(rep)["dhis2_conflict"] {
				if p.OrgUnit != seed.OUKanji {
					t.Errorf("conflict %+v; want Kanji's only", p)
				}
			}
			if got := registeredOrgUnits(t, sb, period); len(got) != 0 {
				t.Errorf("registered %v; want none: not every value was accepted (when_ready)", got)
			}
			sb.AddLockException(seed.DemoDataSet, period, seed.OUKanji)
			rep = runExport(t, svc, req, false)
			if rep.Status != export.StatusSuccessful {
				t.Errorf("with lock exceptions: status %q; problems %+v", rep.Status, rep.Problems)
			}
			diff(t, "stored with lock exceptions", liveValues(sb, period, ""), want)
			if got := registeredOrgUnits(t, sb, period); len(got) != 4 {
				t.Errorf("registered %v; want the 4 org units", got)
			}
		})
	}

	t.Run("a superuser has F_EDIT_EXPIRED", func(t *testing.T) {
		sb, url := startDHIS2(t, "2.41.0", withExpiry(10))
		rep := runExport(t, newService(t, exportDB, dhis2Keys(url, true), nil), req, false)
		if rep.Status != export.StatusSuccessful || len(problemsByCode(rep)["period_locked"]) != 0 {
			t.Errorf("status %q, problems %+v; want Successful without a lock warning", rep.Status, rep.Problems)
		}
		diff(t, "stored", liveValues(sb, period, ""), want)
	})

	t.Run("outside the data input periods nothing is sent", func(t *testing.T) {
		md := demoMetadata(t)
		mdDataSet(t, md, seed.DemoDataSet).DataInputPeriods = []sandbox.DataInputPeriod{
			{Period: sandbox.Ref{ID: period}, OpeningDate: "2026-11-01", ClosingDate: "2026-11-10"}}
		sb, url := startDHIS2(t, "2.41.0", md)
		rep := runExport(t, newService(t, exportDB, dhis2Keys(url, true), nil), req, false)
		notOpen := problemsByCode(rep)["period_not_open"]
		if rep.Status != export.StatusFailed || len(notOpen) != 1 || !strings.Contains(notOpen[0].Message, "closed for data entry on 2026-11-10") ||
			rep.DataValues.Rejected != len(want) {
			t.Errorf("status %q, dataValues %+v, problems %+v; want Failed, every value rejected, the closing date named", rep.Status, rep.DataValues, rep.Problems)
		}
		if posts(sb, "/dataValueSets") != 0 || posts(sb, "/completeDataSetRegistrations") != 0 {
			t.Error("values or registrations were sent for a period DHIS2 refuses")
		}
	})
}

// Approved data is never pushed over: DHIS2 refuses it, the conflict says
// what to do, the approved org unit is never registered complete; the
// completeness mode decides about the others.
func TestDataManagement_approvalAndCompleteness(t *testing.T) {
	_, mo, want := exportDemo(t)
	period := mo.Period()
	req := export.Request{DataSet: seed.DemoDataSet, Period: mo}
	for _, tc := range []struct {
		version, mode string
		registered    []string
	}{
		{"2.40.3", "when_ready", nil},
		{"2.40.3", "always", []string{seed.OUDistrict, seed.OUBahari, seed.OUMbuyu}},
		{"2.43.0", "always", []string{seed.OUDistrict, seed.OUBahari, seed.OUMbuyu}},
		{"2.37.9", "never", nil},
	} {
		t.Run(tc.version+" "+tc.mode, func(t *testing.T) {
			md := demoMetadata(t)
			mdDataSet(t, md, seed.DemoDataSet).Workflow = &sandbox.Ref{ID: "wfCHTMonth1"}
			sb, url := startDHIS2(t, tc.version, md)
			sb.Put(sandbox.DataValue{DataElement: deHH, Period: period, OrgUnit: seed.OUKanji, Value: "1", StoredBy: dhisUser})
			sb.Approve("wfCHTMonth1", period, seed.OUKanji, "")
			rep := runExport(t, newService(t, exportDB, dhis2Keys(url, tc.version >= "2.38", "dhis2.complete_registration", tc.mode), nil), req, false)
			if rep.Status != export.StatusCompletedWithErrors {
				t.Errorf("status %q; want %q", rep.Status, export.StatusCompletedWithErrors)
			}
			// Predicted before the push: Kanji's values are never sent.
			approved := problemsByCode(rep)["data_approved"]
			if len(approved) != 1 || approved[0].OrgUnit != seed.OUKanji || !strings.Contains(approved[0].Message, "unapprove") ||
				len(problemsByCode(rep)["dhis2_conflict"]) != 0 || rep.DataValues.Rejected != 7 {
				t.Errorf("problems %+v, dataValues %+v; want one data_approved for Kanji, its 7 values rejected, no DHIS2 conflict", rep.Problems, rep.DataValues)
			}
			_, sent := pushes(t, sb, seed.DemoDataSet)
			for _, set := range sent {
				for _, v := range set.DataValues {
					if v.OrgUnit == seed.OUKanji {
						t.Errorf("sent %+v over approved data", v)
					}
				}
			}
			wantStored := without(want, func(k key) bool { return k.ou == seed.OUKanji })
			wantStored[key{seed.OUKanji, deHH, "", ""}] = "1" // approved: untouched
			diff(t, "stored", liveValues(sb, period, ""), wantStored)
			got := registeredOrgUnits(t, sb, period)
			if !reflect.DeepEqual(sortedCopy(got), sortedCopy(tc.registered)) {
				t.Errorf("registered %v; want %v", got, tc.registered)
			}
			c := rep.Completeness
			if c == nil || c.Mode != tc.mode || !reflect.DeepEqual(sortedCopy(c.Registered), sortedCopy(append([]string{}, tc.registered...))) {
				t.Errorf("completeness %+v; want mode %s, registered %v", c, tc.mode, tc.registered)
			}
			if tc.mode != "never" && !slicesContainsFunc(c.Skipped, func(s export.SkippedOrgUnit) bool { return s.OrgUnit == seed.OUKanji }) {
				t.Errorf("skipped %+v; want Kanji with its reason", c.Skipped)
			}
		})
	}
}

func slicesContainsFunc[T any](s []T, f func(T) bool) bool {
	for _, v := range s {
		if f(v) {
			return true
		}
	}
	return false
}

// Zeros: CHT's zero-fill for an INTEGER_POSITIVE data element (which
// cannot hold a zero) is neither refused nor sent: the month ends
// Successful, and DHIS2 holds nothing for the zero cells.
func TestDataManagement_zeroForPositiveInteger(t *testing.T) {
	for _, version := range []string{"2.39.5", "2.43.0"} {
		t.Run(version, func(t *testing.T) {
			db := "dm_zero_" + strings.ReplaceAll(version, ".", "_")
			m, want := dmDB(t, db)
			period := m.Months[0].Period()
			zeroHouseholds(t, db, m, seed.OUMbuyu)
			md := demoMetadata(t)
			mdDataElement(t, md, deHH).ValueType = "INTEGER_POSITIVE"
			sb, url := startDHIS2(t, version, md)
			code, stdout, stderr := run(t, exportEnv(db, url, true), "export", "--data-set", seed.DemoDataSet, "--period", period)
			rep := decodeReport(t, stdout)
			if code != 0 || rep.Status != export.StatusSuccessful || len(rep.Problems) != 0 || rep.DataValues.Rejected != 0 {
				t.Fatalf("exit %d, status %q, problems %+v; stderr %s", code, rep.Status, rep.Problems, stderr)
			}
			got := liveValues(sb, period, "")
			if _, ok := got[key{seed.OUMbuyu, deHH, "", ""}]; ok || len(got) != len(want)-1 {
				t.Errorf("DHIS2 holds %d values (Mbuyu households: %v); want %d, no zero", len(got), ok, len(want)-1)
			}
			if rep.Changes.Unchanged != 1 || rep.Changes.New != len(want)-1 {
				t.Errorf("changes %+v; want the zero unchanged (nothing stored), the rest new", rep.Changes)
			}
		})
	}
}

// Through the mediator's HTTP API, as OpenHIM calls it: the envelope's
// orchestrations show the read of what DHIS2 holds and the completeness
// registration, and the report in the body says which org units were
// registered; the second export reads, finds nothing to do and writes
// nothing.
func TestDataManagement_orchestrations(t *testing.T) {
	_, mo, _ := exportDemo(t)
	period := mo.Period()
	sb, dhisURL := startDHIS2(t, "2.41.0", demoMetadata(t))
	f := startFaultApp(t, map[string]string{"cht.url": couch.URL(), "dhis2.url": dhisURL})

	names := func(r exportResult) []string {
		var out []string
		for _, o := range r.env.Orchestrations {
			out = append(out, o.Name)
		}
		return out
	}
	has := func(list []string, method, path string) bool {
		for _, n := range list {
			if strings.HasPrefix(n, "DHIS2: "+method+" ") && strings.Contains(n, path) {
				return true
			}
		}
		return false
	}
	r := f.export(t, period)
	if r.code != http.StatusOK || r.env.Status != "Successful" || r.report == nil {
		t.Fatalf("first export: %s", r)
	}
	first := names(r)
	for _, want := range [][2]string{{"GET", "/api/me"}, {"GET", "/api/dataValueSets"}, {"POST", "/api/dataValueSets"},
		{"GET", "/api/completeDataSetRegistrations"}, {"POST", "/api/completeDataSetRegistrations"}} {
		if !has(first, want[0], want[1]) {
			t.Errorf("orchestrations %q lack DHIS2 %s %s", first, want[0], want[1])
		}
	}
	if c := r.report.Completeness; c == nil || len(c.Registered) != 4 || len(sb.Registrations()) != 4 {
		t.Errorf("completeness %+v, %d registrations in DHIS2; want 4 org units", c, len(sb.Registrations()))
	}

	r = f.export(t, period)
	second := names(r)
	if r.env.Status != "Successful" || has(second, "POST", "/api/dataValueSets") || has(second, "POST", "/api/completeDataSetRegistrations") {
		t.Errorf("second export %s: orchestrations %q; want a read and no write", r, second)
	}
	if !has(second, "GET", "/api/dataValueSets") {
		t.Errorf("second export: orchestrations %q lack the read of what DHIS2 holds", second)
	}
}

// A data set assigned to org units outside the mediator's user's hierarchy
// (a national data set, a district user): DHIS2 refuses a read naming those
// (409 E2012), so the mediator reads below its user's own org units; its
// stale values there are still found and deleted.
func TestDataManagement_userScope(t *testing.T) {
	_, mo, want := exportDemo(t)
	period := mo.Period()
	md := demoMetadata(t)
	ds := mdDataSet(t, md, seed.DemoDataSet)
	ds.OrganisationUnits = append(ds.OrganisationUnits, sandbox.Ref{ID: "ouCountry01"})
	sb, url := startDHIS2(t, "2.41.0", md, func(o *sandbox.Options) {
		o.User = &sandbox.User{Authorities: []string{"F_DATAVALUE_ADD"}, OrgUnits: []string{seed.OUDistrict}}
	})
	// The mediator's own value CHT no longer produces (Kanji, data element
	// outside the mapping's combos), and a value above its hierarchy.
	sb.Put(sandbox.DataValue{DataElement: deHH, Period: period, OrgUnit: seed.OUKanji, CategoryOptionCombo: "cocU5Total1", Value: "3", StoredBy: dhisUser},
		sandbox.DataValue{DataElement: deHH, Period: period, OrgUnit: "ouCountry01", Value: "700", StoredBy: dhisUser})
	rep := runExport(t, newService(t, exportDB, dhis2Keys(url, true), nil), export.Request{DataSet: seed.DemoDataSet, Period: mo}, false)
	if rep.Status != export.StatusSuccessful || rep.Changes == nil || rep.Changes.Deleted != 1 || rep.Changes.New != len(want) {
		t.Fatalf("status %q, changes %+v, problems %+v; want Successful, %d new, 1 deleted", rep.Status, rep.Changes, rep.Problems, len(want))
	}
	for _, r := range sb.Requests() {
		if r.Method == http.MethodGet && strings.HasSuffix(r.Path, "/dataValueSets") {
			if q := r.Query; !reflect.DeepEqual(q["orgUnit"], []string{seed.OUDistrict}) || q.Get("children") != "true" {
				t.Errorf("read %v; want orgUnit=%s&children=true", q, seed.OUDistrict)
			}
		}
	}
	wantNow := map[key]string{{"ouCountry01", deHH, "", ""}: "700"} // outside the hierarchy: untouched
	for k, v := range want {
		wantNow[k] = v
	}
	diff(t, "stored", liveValues(sb, period, ""), wantNow)
}
