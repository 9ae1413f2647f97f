package test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/seed"
)

// key identifies a data value within a data set and period.
type key struct{ ou, de, coc, aoc string }

func (k key) String() string { return fmt.Sprintf("%s/%s/%s/%s", k.ou, k.de, k.coc, k.aoc) }

// values indexes a built data value set, failing on a key seen twice.
func values(t *testing.T, set export.DataValueSet, period string) map[key]string {
	t.Helper()
	out := map[key]string{}
	for _, dv := range set.DataValues {
		k := key{dv.OrgUnit, dv.DataElement, dv.CategoryOptionCombo, dv.AttributeOptionCombo}
		if _, dup := out[k]; dup {
			t.Errorf("value %s appears twice", k)
		}
		if dv.Period != period {
			t.Errorf("value %s has period %q; want %q", k, dv.Period, period)
		}
		out[k] = dv.Value
	}
	return out
}

// chtExpected is what CHT Core's own export gives, computed by the seeder
// from the generated values (not from the documents).
func chtExpected(vals []seed.DataValue) map[key]string {
	out := map[key]string{}
	for _, v := range vals {
		out[key{v.OrgUnit, v.DataElement, v.CategoryOptionCombo, v.AttributeOptionCombo}] = fmt.Sprint(v.Value)
	}
	return out
}

// demoExpected is CHT's result for the demo district plus what the mediator
// adds on purpose: the values of the immunizations target, whose dhis is an
// array that CHT ignores.
func demoExpected(m *seed.Manifest, dataSet string, month seed.Month) map[key]string {
	want := chtExpected(m.Expected(dataSet, month))
	for _, ou := range m.OrgUnits {
		if ou.DataSet != "" && ou.DataSet != dataSet {
			continue
		}
		sum := 0
		for _, chw := range ou.CHWs {
			vals, _ := m.Values(month, chw)
			for _, v := range vals {
				if v.ID == seed.TargetImmunizationsUTD {
					sum += v.Value.Total
				}
			}
		}
		want[key{ou.ID, "immUtd00001", "", ""}] = fmt.Sprint(sum)
	}
	return want
}

func diff(t *testing.T, what string, got, want map[key]string) {
	t.Helper()
	for _, k := range slices.SortedFunc(maps.Keys(want), func(a, b key) int { return strings.Compare(a.String(), b.String()) }) {
		if g, ok := got[k]; !ok {
			t.Errorf("%s: value %s missing; want %s", what, k, want[k])
		} else if g != want[k] {
			t.Errorf("%s: value %s = %s; want %s", what, k, g, want[k])
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected value %s = %s", what, k, g)
		}
	}
}

func month(t *testing.T, m seed.Month) aggregate.Month {
	t.Helper()
	am, err := aggregate.ParseMonth(m.Period())
	if err != nil {
		t.Fatal(err)
	}
	return am
}

func preview(t *testing.T, svc *export.Service, req export.Request) *export.Preview {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p, err := svc.Preview(ctx, req)
	if err != nil {
		t.Fatalf("Preview(%+v) = %v", req, err)
	}
	return p
}

// The demo district: every month of a year and both data sets (one with a
// data-set-scoped mapping, one org unit scoped to each data set, an unscoped
// data element), read with pages so small that every month spans several
// _all_docs pages, several view pages and several owner batches. The values
// must equal CHT Core's export value for value.
func TestPreview_demoDistrictMatchesCHT(t *testing.T) {
	requireServer(t)
	docs, m, err := seed.DemoDocs(seed.DemoOptions{End: "2026-10"})
	if err != nil {
		t.Fatal(err)
	}
	newDB(t, "demo", docs)
	small := newService(t, "demo", map[string]string{"cht.page_size": "3", "cht.batch_size": "4", "cht.concurrency": "2"}, nil)
	usual := newService(t, "demo", nil, nil)
	for _, ds := range []string{m.DataSet, m.OtherDataSet} {
		for _, mo := range m.Months {
			t.Run(ds+"/"+string(mo), func(t *testing.T) {
				want := demoExpected(m, ds, mo)
				if len(want) < 20 {
					t.Fatalf("only %d expected values: the fixture is too small to mean anything", len(want))
				}
				p := preview(t, small, export.Request{DataSet: ds, Period: month(t, mo)})
				diff(t, "paged", values(t, p.Set, mo.Period()), want)
				if len(p.Problems) != 0 {
					t.Errorf("problems = %v; want none on well-formed data", p.Problems)
				}
				if p.Stats.TargetDocs != len(m.TargetDocIDs(mo)) || p.Stats.Counted != len(m.TargetDocIDs(mo)) {
					t.Errorf("stats = %+v; want %d target docs, all counted", p.Stats, len(m.TargetDocIDs(mo)))
				}
				if mo == m.Months[len(m.Months)-1] {
					p2 := preview(t, usual, export.Request{DataSet: ds, Period: month(t, mo)})
					diff(t, "one page", values(t, p2.Set, mo.Period()), want)
				}
			})
		}
	}
}

// An org unit filter returns that org unit only, with the same values as
// the whole-hierarchy export; children=true adds the mapped org units below.
func TestPreview_orgUnitFilter(t *testing.T) {
	requireServer(t)
	docs, m, err := seed.DemoDocs(seed.DemoOptions{End: "2026-10", Months: 2})
	if err != nil {
		t.Fatal(err)
	}
	newDB(t, "filter", docs)
	svc := newService(t, "filter", map[string]string{"cht.page_size": "4"}, nil)
	mo := m.Months[1]
	for _, ds := range []string{m.DataSet, m.OtherDataSet} {
		all := demoExpected(m, ds, mo)
		only := func(ous ...string) map[key]string {
			out := map[key]string{}
			for k, v := range all {
				if slices.Contains(ous, k.ou) {
					out[k] = v
				}
			}
			return out
		}
		var mapped []string
		for _, ou := range m.OrgUnits {
			if ou.DataSet == "" || ou.DataSet == ds {
				mapped = append(mapped, ou.ID)
			}
		}
		for _, ou := range mapped {
			t.Run(ds+"/"+ou, func(t *testing.T) {
				p := preview(t, svc, export.Request{DataSet: ds, Period: month(t, mo), OrgUnit: ou})
				diff(t, "orgUnit="+ou, values(t, p.Set, mo.Period()), only(ou))
				want := only(ou)
				if ou == seed.OUDistrict {
					want = all // every other mapped org unit is below the district
				}
				p = preview(t, svc, export.Request{DataSet: ds, Period: month(t, mo), OrgUnit: ou, Children: true})
				diff(t, "orgUnit="+ou+"&children", values(t, p.Set, mo.Period()), want)
			})
		}
		// An org unit scoped to the other data set is not mapped for this one.
		other := seed.OUBahariX
		if ds == m.OtherDataSet {
			other = seed.OUBahari
		}
		_, err := svc.Preview(context.Background(), export.Request{DataSet: ds, Period: month(t, mo), OrgUnit: other})
		if err == nil || !export.IsInputError(err) {
			t.Errorf("Preview(%s, orgUnit=%s) = %v; want an input error", ds, other, err)
		}
	}
}

// Human-readable mode labels org units with contact names and data elements
// with target ids, as CHT's humanReadable option does.
func TestPreview_humanReadable(t *testing.T) {
	requireServer(t)
	docs, m, err := seed.DemoDocs(seed.DemoOptions{End: "2026-10", Months: 1})
	if err != nil {
		t.Fatal(err)
	}
	newDB(t, "human", docs)
	p := preview(t, newService(t, "human", nil, nil), export.Request{DataSet: m.DataSet, Period: month(t, m.Months[0]), OrgUnit: seed.OUMbuyu, HumanReadable: true})
	if p.Set.DataSet != "dhis.dataset.chw_monthly" { // no translations doc: CHT shows the key
		t.Errorf("dataSet = %q; want the translation key", p.Set.DataSet)
	}
	got := map[string]bool{}
	for _, dv := range p.Set.DataValues {
		if dv.OrgUnit != "Mbuyu Health Centre" {
			t.Errorf("orgUnit = %q; want the place name", dv.OrgUnit)
		}
		got[dv.DataElement] = true
	}
	for _, id := range []string{seed.TargetBirths, seed.TargetFacilityDeliv, seed.TargetImmunizationsUTD} {
		if !got[id] {
			t.Errorf("no value labelled %q in %v", id, got)
		}
	}
}

// A month with thousands of target docs, read in many pages and batches,
// gives CHT's numbers for every district and health centre.
func TestPreview_thousandsOfTargetDocs(t *testing.T) {
	requireServer(t)
	const chws = 2500
	sc, err := seed.Generate(seed.GenOptions{CHWs: chws, Targets: 10, Month: "2026-09", Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	docs := []any{sc.Settings()}
	docs = append(docs, seed.DesignDocs()...)
	for d := range sc.Docs() {
		docs = append(docs, d)
	}
	newDB(t, "scale", docs)
	svc := newService(t, "scale", map[string]string{"cht.page_size": "400", "cht.batch_size": "300", "cht.concurrency": "3"}, nil)
	p := preview(t, svc, export.Request{DataSet: seed.DemoDataSet, Period: month(t, "2026-09")})
	want := chtExpected(sc.Expected())
	if len(want) != sc.OrgUnitCount()*10 {
		t.Fatalf("expected %d values; the seeder gave %d", sc.OrgUnitCount()*10, len(want))
	}
	diff(t, "scale", values(t, p.Set, "202609"), want)
	if p.Stats.TargetDocs != chws || p.Stats.Counted != chws {
		t.Errorf("stats = %+v; want %d docs counted", p.Stats, chws)
	}
}

// Malformed and duplicate target docs never crash a preview and never
// change a sum; each is reported with its doc id.
func TestPreview_malformedDocs(t *testing.T) {
	requireServer(t)
	docs, m, err := seed.DemoDocs(seed.DemoOptions{End: "2026-10", Months: 1})
	if err != nil {
		t.Fatal(err)
	}
	mo := m.Months[0]
	want := demoExpected(m, m.DataSet, mo)

	// Extra CHWs next to the first CHW: they roll up to the same org units.
	home := m.CHWs[0]
	person := func(id string) map[string]any {
		return map[string]any{"_id": id, "type": "person", "name": "Extra " + id, "parent": seed.Lineage(home.Lineage...)}
	}
	births := func(total int) []seed.TargetValue {
		return []seed.TargetValue{{ID: seed.TargetBirths, Value: seed.Value{Pass: total, Total: total}}}
	}
	addBirths := func(total int) {
		for _, ou := range m.OrgUnits {
			if slices.Contains(home.Lineage, ou.PlaceID) && (ou.DataSet == "" || ou.DataSet == m.DataSet) {
				k := key{ou.ID, seed.DEBirths, "", ""}
				var cur int
				fmt.Sscan(want[k], &cur)
				want[k] = fmt.Sprint(cur + total)
			}
		}
	}
	for _, id := range []string{"extra-a", "extra-b", "extra-c", "extra-d", "extra-e", "extra-f", "extra-g", "extra-h"} {
		docs = append(docs, person(id))
	}
	bad := []any{
		seed.NoTargets(mo, "extra-a", "ua"),
		seed.TargetsNotArray(mo, "extra-b", "ub", births(40)),
		seed.TotalAsString(mo, "extra-c", "uc", seed.TargetBirths, "5"),
		seed.TotalMissing(mo, "extra-d", "ud", seed.TargetBirths),
		seed.ValueNull(mo, "extra-e", "ue", seed.TargetBirths),
		seed.UnknownOwner(mo, "ughost", births(1000)),
		seed.WrongType(mo, "extra-g", "ug", births(3)), // CHT does not check type: counts
		seed.Deleted(mo, "extra-h", "uh"),              // a tombstone: never seen
		// A contact the view must ignore, and one it drops for a null entry.
		seed.DataRecordWithDHIS("report-with-dhis", "ouReport001"),
		seed.PlaceWithNullDHISEntry("hc-null-entry", m.District.ID, "ouNullEntr1"),
		seed.PlaceWithoutOrgUnit("hc-no-ou", m.District.ID, m.DataSet),
	}
	docs = append(docs, bad...)
	// Two devices for one owner: same updated date, so the greater doc id
	// ("…:uf2") counts and the other is reported.
	docs = append(docs, seed.DuplicateOwner(mo, "extra-f", "uf1", "uf2", births(100), births(7))...)
	addBirths(3)
	addBirths(7)

	newDB(t, "malformed", docs)
	var logs strings.Builder
	p := preview(t, newService(t, "malformed", map[string]string{"cht.page_size": "5"}, &logs), export.Request{DataSet: m.DataSet, Period: month(t, mo)})
	diff(t, "malformed", values(t, p.Set, mo.Period()), want)

	id := func(owner, user string) string { return seed.TargetDocID(mo, owner, user) }
	wantProblems := map[string]string{
		id("extra-a", "ua"): aggregate.ProblemMalformedDoc,
		id("extra-b", "ub"): aggregate.ProblemMalformedDoc,
		id("extra-c", "uc"): aggregate.ProblemInvalidTotal,
		id("extra-d", "ud"): aggregate.ProblemInvalidTotal,
		id("extra-e", "ue"): aggregate.ProblemInvalidTotal,
		id("00000000-0000-4000-8000-00000000dead", "ughost"): aggregate.ProblemUnknownOwner,
		id("extra-f", "uf1"): aggregate.ProblemDuplicateDoc,
	}
	got := map[string]string{}
	for _, pr := range p.Problems {
		if pr.Message == "" {
			t.Errorf("problem %+v has no message", pr)
		}
		got[pr.DocID] = pr.Code
	}
	for doc, code := range wantProblems {
		if got[doc] != code {
			t.Errorf("problem for %s = %q; want %q (all: %+v)", doc, got[doc], code, p.Problems)
		}
	}
	if len(got) != len(wantProblems) {
		t.Errorf("problems for %d docs; want %d: %+v", len(got), len(wantProblems), p.Problems)
	}
	if strings.Contains(logs.String(), chtPassword) {
		t.Error("the CHT password appears in the logs")
	}
}
