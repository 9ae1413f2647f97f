package seed

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// roundTrip turns docs into what CouchDB would store and hand back.
func roundTrip(t *testing.T, docs []any) []map[string]any {
	t.Helper()
	b, err := json.Marshal(docs)
	if err != nil {
		t.Fatalf("marshal docs: %v", err)
	}
	var out []map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("unmarshal docs: %v", err)
	}
	return out
}

func byID(t *testing.T, docs []map[string]any) map[string]map[string]any {
	t.Helper()
	m := map[string]map[string]any{}
	for _, d := range docs {
		id, _ := d["_id"].(string)
		if id == "" {
			t.Fatalf("doc without _id: %v", d)
		}
		if _, dup := m[id]; dup {
			t.Fatalf("duplicate _id %q", id)
		}
		m[id] = d
	}
	return m
}

// lineageIDs flattens a minified lineage, nearest first.
func lineageIDs(l any) []string {
	var ids []string
	for l != nil {
		m, ok := l.(map[string]any)
		if !ok {
			return append(ids, fmt.Sprintf("<not an object: %v>", l))
		}
		id, _ := m["_id"].(string)
		ids = append(ids, id)
		l = m["parent"]
	}
	return ids
}

func demo(t *testing.T, opts DemoOptions) ([]any, *Manifest) {
	t.Helper()
	docs, m, err := DemoDistrict(opts)
	if err != nil {
		t.Fatalf("DemoDistrict(%+v): %v", opts, err)
	}
	medic, _ := SplitLogs(docs)
	return medic, m
}

func TestDemoDistrict_deterministic(t *testing.T) {
	opts := DemoOptions{End: "2026-10"}
	a, _ := demo(t, opts)
	b, _ := demo(t, opts)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Errorf("DemoDistrict(%+v) differs between calls", opts)
	}
	opts.Seed = 2
	c, _ := demo(t, opts)
	jc, _ := json.Marshal(c)
	if string(ja) == string(jc) {
		t.Errorf("DemoDistrict with seeds 1 and 2 are equal")
	}
}

func TestDemoDistrict_shape(t *testing.T) {
	all, m, err := DemoDistrict(DemoOptions{End: "2026-10"})
	if err != nil {
		t.Fatal(err)
	}
	docs, logs := SplitLogs(all)
	stored := roundTrip(t, docs)
	byID(t, stored) // no duplicate ids
	if len(logs) != 10 {
		t.Errorf("%d replication logs; want one per CHW", len(logs))
	}
	for _, c := range m.CHWs {
		if at := m.Synced[c.Username]; !at.After(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)) || m.States[c.Username] != ClassFinal {
			t.Errorf("CHW %s synced %v, state %q; want after October ended, final", c.Username, at, m.States[c.Username])
		}
	}
	count := map[string]int{}
	for _, d := range stored {
		count[d["type"].(string)]++
	}
	want := map[string]int{"district_hospital": 1, "health_center": 4, "clinic": 10, "person": 25, "user-settings": 10, "target": 120}
	if !reflect.DeepEqual(count, want) {
		t.Errorf("doc types = %v; want %v", count, want)
	}
	if m.DocCount != len(all) || len(docs) != 170 {
		t.Errorf("DocCount = %d, len(docs) = %d; want 180 and 170 (+10 logs)", m.DocCount, len(docs))
	}
	wantMonths := []Month{"2025-11", "2025-12", "2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10"}
	if !slices.Equal(m.Months, wantMonths) {
		t.Errorf("Months = %v; want %v", m.Months, wantMonths)
	}
	var ous []string
	for _, ou := range m.OrgUnits {
		ous = append(ous, ou.ID+"/"+ou.DataSet+fmt.Sprintf("/%d", len(ou.CHWs)))
		if !ValidUID(ou.ID) {
			t.Errorf("org unit %q is not a valid uid", ou.ID)
		}
	}
	wantOUs := []string{"ouDistrct01//10", "ouHcMbuyu01//3", "ouHcKanji02//3", "ouHcBahar03/dsCHTMonth1/2", "ouHcBaharX3/dsCHTOther1/2"}
	if !slices.Equal(ous, wantOUs) {
		t.Errorf("org units = %v; want %v", ous, wantOUs)
	}
	if len(m.CHWs) != 10 || len(m.Clinics) != 10 || len(m.HealthCenters) != 4 {
		t.Errorf("CHWs, clinics, health centres = %d, %d, %d; want 10, 10, 4", len(m.CHWs), len(m.Clinics), len(m.HealthCenters))
	}
	users := map[string]bool{}
	for _, c := range m.CHWs {
		if users[c.Username] {
			t.Errorf("duplicate username %q", c.Username)
		}
		users[c.Username] = true
		if !regexp.MustCompile(`^[a-z]+[0-9]{2}$`).MatchString(c.Username) {
			t.Errorf("username %q is not lower-case letters and two digits", c.Username)
		}
	}
}

func TestDemoDistrict_lineage(t *testing.T) {
	docs, m := demo(t, DemoOptions{End: "2026-10", Months: 2})
	all := byID(t, roundTrip(t, docs))
	wantParentType := map[string]string{"health_center": "district_hospital", "clinic": "health_center"}
	for id, d := range all {
		typ := d["type"].(string)
		switch typ {
		case "district_hospital", "health_center", "clinic", "person":
		default:
			continue
		}
		// The stored lineage must be the real chain of parents.
		got := lineageIDs(d["parent"])
		var want []string
		for p := d["parent"]; p != nil; {
			pid := p.(map[string]any)["_id"].(string)
			want = append(want, pid)
			pd, ok := all[pid]
			if !ok {
				t.Errorf("%s %s: parent %q is not a doc", typ, id, pid)
				break
			}
			p = pd["parent"]
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s %s: lineage %v; want %v (from the parents' own docs)", typ, id, got, want)
		}
		if pt, ok := wantParentType[typ]; ok && (len(got) == 0 || all[got[0]]["type"] != pt) {
			t.Errorf("%s %s: parent is not a %s", typ, id, pt)
		}
		if typ == "district_hospital" && d["parent"] != nil {
			t.Errorf("district %s has a parent", id)
		}
		if typ == "person" {
			continue
		}
		// Places: contact {_id, parent} with the contact's own lineage.
		c, ok := d["contact"].(map[string]any)
		if !ok {
			t.Errorf("%s %s: no contact", typ, id)
			continue
		}
		cid, _ := c["_id"].(string)
		cd, ok := all[cid]
		if !ok || cd["type"] != "person" {
			t.Errorf("%s %s: contact %q is not a person doc", typ, id, cid)
			continue
		}
		if got, want := lineageIDs(c["parent"]), lineageIDs(cd["parent"]); !slices.Equal(got, want) || got[0] != id {
			t.Errorf("%s %s: contact lineage %v; want %v starting with the place", typ, id, got, want)
		}
	}
	for _, c := range m.CHWs {
		d := all[c.ID]
		if got := lineageIDs(d["parent"]); !slices.Equal(got, c.Lineage) {
			t.Errorf("CHW %s: doc lineage %v; manifest %v", c.ID, got, c.Lineage)
		}
		us := all[UserID(c.Username)]
		if us["contact_id"] != c.ID || us["facility_id"] != c.Lineage[0] {
			t.Errorf("user-settings of %s = %v; want contact_id %s, facility_id %s", c.Username, us, c.ID, c.Lineage[0])
		}
	}
}

func TestDemoDistrict_targetDocs(t *testing.T) {
	docs, m := demo(t, DemoOptions{End: "2026-01", Months: 3})
	all := byID(t, roundTrip(t, docs))
	idRE := regexp.MustCompile(`^target~(\d{4}-\d{2})~([0-9a-f-]{36})~org\.couchdb\.user:([a-z0-9]+)$`)
	n := 0
	for id, d := range all {
		if d["type"] != "target" {
			continue
		}
		n++
		sm := idRE.FindStringSubmatch(id)
		if sm == nil {
			t.Errorf("target doc id %q does not match %v", id, idRE)
			continue
		}
		if d["reporting_period"] != sm[1] || d["owner"] != sm[2] || d["user"] != "org.couchdb.user:"+sm[3] {
			t.Errorf("%s: reporting_period %v, owner %v, user %v disagree with the id", id, d["reporting_period"], d["owner"], d["user"])
		}
		if all[sm[2]]["type"] != "person" {
			t.Errorf("%s: owner is not a person", id)
		}
		ud := int64(d["updated_date"].(float64))
		if got := time.UnixMilli(ud).UTC().Format("2006-01"); got != sm[1] {
			t.Errorf("%s: updated_date in %s; want in the month", id, got)
		}
		ts := d["targets"].([]any)
		if len(ts) != len(m.Targets) {
			t.Errorf("%s: %d targets; want %d", id, len(ts), len(m.Targets))
		}
		for i, e := range ts {
			e := e.(map[string]any)
			def := m.Targets[i]
			v := e["value"].(map[string]any)
			pass, total := v["pass"].(float64), v["total"].(float64)
			if e["id"] != def.ID || pass > total || pass < 0 {
				t.Errorf("%s: entry %d = %v; want id %s and 0 <= pass <= total", id, i, e, def.ID)
			}
			p, hasPercent := v["percent"]
			if hasPercent != (def.Type == "percent") {
				t.Errorf("%s %s: percent present = %v; want %v", id, def.ID, hasPercent, def.Type == "percent")
			}
			if hasPercent {
				want := 0.0
				if total > 0 {
					want = float64(int(pass*100/total + 0.5))
				}
				if p != want {
					t.Errorf("%s %s: percent %v; want %v", id, def.ID, p, want)
				}
			}
		}
	}
	if n != 30 {
		t.Errorf("%d target docs; want 30", n)
	}
	ids := m.TargetDocIDs("2025-12")
	if len(ids) != 10 || !slices.IsSorted(ids) || !strings.HasPrefix(ids[0], "target~2025-12~") {
		t.Errorf("TargetDocIDs(2025-12) = %v; want 10 sorted ids of that month", ids)
	}
	if ids := m.TargetDocIDs("2026-02"); ids != nil {
		t.Errorf("TargetDocIDs(2026-02) = %v; want none", ids)
	}
}

func TestSettingsDoc(t *testing.T) {
	docs := roundTrip(t, []any{SettingsDoc(nil, nil)})
	s := docs[0]["settings"].(map[string]any)
	if docs[0]["_id"] != "settings" {
		t.Errorf("_id = %v; want settings", docs[0]["_id"])
	}
	ds := s["dhis_data_sets"].([]any)
	if len(ds) != 2 || ds[0].(map[string]any)["id"] != DemoDataSet {
		t.Errorf("dhis_data_sets = %v; want %s first", ds, DemoDataSet)
	}
	items := s["tasks"].(map[string]any)["targets"].(map[string]any)["items"].([]any)
	if len(items) != len(DefaultTargets()) {
		t.Fatalf("%d target items; want %d", len(items), len(DefaultTargets()))
	}
	births := items[0].(map[string]any)
	if births["id"] != TargetBirths || !reflect.DeepEqual(births["dhis"], map[string]any{"dataElement": "kB0ZBFisE0e"}) {
		t.Errorf("items[0] = %v; want births-this-month → kB0ZBFisE0e", births)
	}
	fd := items[1].(map[string]any)
	wantFD := map[string]any{"dataElement": "e22tIwy1nKR", "categoryOptionCombo": "HllvX50cXC0", "attributeOptionCombo": "HllvX50cXC0"}
	if fd["id"] != TargetFacilityDeliv || fd["type"] != "percent" || !reflect.DeepEqual(fd["dhis"], wantFD) {
		t.Errorf("items[1] = %v; want percent facility-deliveries → %v", fd, wantFD)
	}
	for _, it := range items {
		it := it.(map[string]any)
		var confs []any
		switch d := it["dhis"].(type) {
		case nil:
		case map[string]any:
			confs = []any{d}
		case []any:
			confs = d
		}
		for _, c := range confs {
			for k, v := range c.(map[string]any) {
				if !ValidUID(v.(string)) {
					t.Errorf("target %v: dhis.%s %q is not a valid uid", it["id"], k, v)
				}
			}
		}
	}
	for _, id := range []string{DemoDataSet, OtherDataSet, COCDefault} {
		if !ValidUID(id) {
			t.Errorf("%q is not a valid uid", id)
		}
	}
}

func TestDesignDocs(t *testing.T) {
	d := roundTrip(t, DesignDocs())[0]
	m := d["views"].(map[string]any)["contacts_by_dhis_orgunit"].(map[string]any)["map"].(string)
	if d["_id"] != "_design/medic-admin" || !strings.HasPrefix(m, "function(doc) {") || !strings.Contains(m, "emit(doc.dhis[i].orgUnit);") {
		t.Errorf("design doc = %v", d)
	}
}

func TestLastMonth(t *testing.T) {
	tests := []struct {
		now  string
		want Month
	}{
		{"2026-11-22", "2026-10"},
		{"2026-01-05", "2025-12"},
		{"2024-03-31", "2024-02"},
	}
	for _, tt := range tests {
		now, _ := time.Parse("2006-01-02", tt.now)
		if got := LastMonth(now); got != tt.want {
			t.Errorf("LastMonth(%s) = %s; want %s", tt.now, got, tt.want)
		}
	}
	if got := Month("2026-10").Period(); got != "202610" {
		t.Errorf("Period() = %s; want 202610", got)
	}
	for _, bad := range []string{"2026-1", "202610", "2026-13", ""} {
		if _, err := ParseMonth(bad); err == nil {
			t.Errorf("ParseMonth(%q) succeeded; want an error", bad)
		}
	}
}

// chtExport is an independent re-statement of CHT's aggregation (CHT's api/src/services/export/dhis.js)
// over stored documents, for well-formed data, used to check Expected.
func chtExport(t *testing.T, stored []map[string]any, settings map[string]any, dataSet string, month Month) []DataValue {
	t.Helper()
	all := byID(t, stored)
	var order []string
	defs := map[string]map[string]any{}
	idToDE := map[string]string{}
	for _, it := range settings["settings"].(map[string]any)["tasks"].(map[string]any)["targets"].(map[string]any)["items"].([]any) {
		it := it.(map[string]any)
		d, ok := it["dhis"].(map[string]any)
		if !ok || d["dataElement"] == nil || (d["dataSet"] != nil && d["dataSet"] != dataSet) {
			continue
		}
		de := d["dataElement"].(string)
		if defs[de] == nil {
			order = append(order, de)
		}
		defs[de] = d
		idToDE[it["id"].(string)] = de
	}
	// View rows → contact → org units.
	ous := map[string][]string{}
	types := []string{"contact", "person", "clinic", "health_center", "district_hospital"}
	for id, d := range all {
		if d["dhis"] == nil || !slices.Contains(types, d["type"].(string)) {
			continue
		}
		var confs []any
		if l, ok := d["dhis"].([]any); ok {
			confs = l
		} else {
			confs = []any{d["dhis"]}
		}
		for _, c := range confs {
			c := c.(map[string]any)
			if c["orgUnit"] != nil && (c["dataSet"] == nil || c["dataSet"] == dataSet) {
				ous[id] = append(ous[id], c["orgUnit"].(string))
			}
		}
	}
	sums := map[[2]string]int{}
	for id, d := range all {
		if !strings.HasPrefix(id, "target~"+string(month)+"~") {
			continue
		}
		owner := all[d["owner"].(string)]
		var targetOUs []string
		for _, a := range append([]string{owner["_id"].(string)}, lineageIDs(owner["parent"])...) {
			targetOUs = append(targetOUs, ous[a]...)
		}
		for _, e := range d["targets"].([]any) {
			e := e.(map[string]any)
			de, ok := idToDE[e["id"].(string)]
			if !ok {
				continue
			}
			for _, ou := range targetOUs {
				sums[[2]string{ou, de}] += int(e["value"].(map[string]any)["total"].(float64))
			}
		}
	}
	var out []DataValue
	seen := map[string]bool{}
	for _, l := range ous {
		for _, ou := range l {
			if seen[ou] {
				continue
			}
			seen[ou] = true
			for _, de := range order {
				coc, _ := defs[de]["categoryOptionCombo"].(string)
				aoc, _ := defs[de]["attributeOptionCombo"].(string)
				out = append(out, DataValue{DataElement: de, CategoryOptionCombo: coc, AttributeOptionCombo: aoc, OrgUnit: ou, Value: sums[[2]string{ou, de}]})
			}
		}
	}
	SortDataValues(out)
	return out
}

func TestManifest_Expected(t *testing.T) {
	docs, m := demo(t, DemoOptions{End: "2026-10", Months: 3})
	stored := roundTrip(t, docs)
	settings := roundTrip(t, []any{SettingsDoc(nil, nil)})[0]
	for _, ds := range []string{DemoDataSet, OtherDataSet} {
		for _, month := range m.Months {
			got := m.Expected(ds, month)
			want := chtExport(t, stored, settings, ds, month)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Expected(%s, %s) =\n%v\nwant (from the docs)\n%v", ds, month, got, want)
			}
		}
	}
	// Shape of the exports: 4 org units × 6 data elements for each data set
	// (demo: pregnancy registrations, not PNC; other: the reverse).
	if got := len(m.Expected(DemoDataSet, "2026-10")); got != 24 {
		t.Errorf("len(Expected(demo)) = %d; want 24", got)
	}
	if got := len(m.Expected(OtherDataSet, "2026-10")); got != 24 {
		t.Errorf("len(Expected(other)) = %d; want 24", got)
	}
	// A month without docs is zero filled.
	for _, dv := range m.Expected(DemoDataSet, "2020-01") {
		if dv.Value != 0 {
			t.Errorf("Expected(2020-01) has %+v; want zeros", dv)
		}
	}
	// An unknown data set: only unscoped targets (births, facility
	// deliveries, household visits, u5 assessments, ANC 4) on the three
	// unscoped org units.
	got, want := m.Expected("nope0000001", "2026-10"), chtExport(t, stored, settings, "nope0000001", "2026-10")
	if len(got) != 15 || !reflect.DeepEqual(got, want) {
		t.Errorf("Expected(unknown data set) = %v; want 15 values, %v", got, want)
	}
}

func TestGenerate(t *testing.T) {
	opts := GenOptions{CHWs: 25, Targets: 5, Month: "2026-10", ClinicsPerHC: 4, HCsPerDistrict: 3}
	s, err := Generate(opts)
	if err != nil {
		t.Fatalf("Generate(%+v): %v", opts, err)
	}
	var docs []any
	for d := range s.Docs() {
		docs = append(docs, d)
	}
	if len(docs) != s.DocCount() || s.DocCount() != 3+7+75 {
		t.Errorf("Docs yielded %d, DocCount %d; want %d", len(docs), s.DocCount(), 3+7+75)
	}
	s2, _ := Generate(opts)
	var again []any
	for d := range s2.Docs() {
		again = append(again, d)
	}
	ja, _ := json.Marshal(docs)
	jb, _ := json.Marshal(again)
	if string(ja) != string(jb) {
		t.Errorf("Generate(%+v) is not deterministic", opts)
	}
	stored := roundTrip(t, docs)
	all := byID(t, stored)
	for id, d := range all {
		if l := lineageIDs(d["parent"]); len(l) > 0 {
			p := all[l[0]]
			if p == nil || !slices.Equal(l[1:], lineageIDs(p["parent"])) {
				t.Errorf("doc %s: lineage %v disagrees with its parent's", id, l)
			}
		}
	}
	settings := roundTrip(t, []any{s.Settings()})[0]
	got := s.Expected()
	want := chtExport(t, stored, settings, DemoDataSet, "2026-10")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Expected() =\n%v\nwant (from the docs)\n%v", got, want)
	}
	if len(got) != s.OrgUnitCount()*5 {
		t.Errorf("len(Expected()) = %d; want %d", len(got), s.OrgUnitCount()*5)
	}
	// Stopping early works.
	n := 0
	for range s.Docs() {
		n++
		if n == 3 {
			break
		}
	}
	for _, bad := range []GenOptions{{Month: "2026-10"}, {CHWs: 1}, {CHWs: 1, Month: "2026-10", Targets: -1}} {
		if _, err := Generate(bad); err == nil {
			t.Errorf("Generate(%+v) succeeded; want an error", bad)
		}
	}
}

func TestMalformed(t *testing.T) {
	const month Month = "2026-10"
	prefix := "target~2026-10~"
	docs := []any{
		NoTargets(month, "o1", "u1"),
		TargetsNotArray(month, "o1", "u2", []TargetValue{{ID: TargetBirths, Value: Value{Pass: 1, Total: 1}}}),
		TotalAsString(month, "o1", "u3", TargetBirths, "5"),
		TotalMissing(month, "o1", "u4", TargetBirths),
		ValueNull(month, "o1", "u5", TargetBirths),
		UnknownOwner(month, "u6", nil),
		WrongType(month, "o1", "u9", nil),
	}
	docs = append(docs, DuplicateOwner(month, "o1", "u7", "u8", nil, nil)...)
	stored := roundTrip(t, docs)
	byID(t, stored)
	for _, d := range stored {
		if !strings.HasPrefix(d["_id"].(string), prefix) {
			t.Errorf("%v is outside the month's range", d["_id"])
		}
	}
	if _, ok := stored[0]["targets"]; ok {
		t.Errorf("NoTargets has targets")
	}
	if _, ok := stored[1]["targets"].(map[string]any); !ok {
		t.Errorf("TargetsNotArray targets = %T; want an object", stored[1]["targets"])
	}
	if v := stored[2]["targets"].([]any)[0].(map[string]any)["value"].(map[string]any)["total"]; v != "5" {
		t.Errorf("TotalAsString total = %#v; want \"5\"", v)
	}
	if v := stored[3]["targets"].([]any)[0].(map[string]any)["value"].(map[string]any); v["total"] != nil {
		t.Errorf("TotalMissing value = %v; want no total", v)
	}
	if e := stored[4]["targets"].([]any)[0].(map[string]any); e["value"] != nil {
		t.Errorf("ValueNull entry = %v; want value null", e)
	}
	if stored[6]["type"] != "data_record" {
		t.Errorf("WrongType type = %v", stored[6]["type"])
	}
	if stored[7]["owner"] != stored[8]["owner"] || stored[7]["user"] == stored[8]["user"] {
		t.Errorf("DuplicateOwner docs = %v, %v; want one owner, two users", stored[7], stored[8])
	}
}

func TestDemoDistrict_allStates(t *testing.T) {
	all, m, err := DemoDistrict(DemoOptions{End: "2026-10", Months: 2, AllStates: true})
	if err != nil {
		t.Fatal(err)
	}
	docs, logs := SplitLogs(all)
	stored := byID(t, roundTrip(t, docs))
	kanji := m.CHWs[3:6]
	want := map[string]string{kanji[0].Username: ClassFinal, kanji[1].Username: ClassNoActivity, kanji[2].Username: ClassPending,
		m.NeverSynced: ClassNeverSynced}
	for u, class := range want {
		if m.States[u] != class {
			t.Errorf("state of %s = %q; want %q", u, m.States[u], class)
		}
	}
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	if !m.Synced[kanji[2].Username].Before(end) || !m.Synced[kanji[1].Username].After(end) {
		t.Errorf("synced = %v", m.Synced)
	}
	if _, ok := m.Synced[m.NeverSynced]; ok || len(logs) != 10 {
		t.Errorf("the never-synced user has a log, or %d logs; want 10", len(logs))
	}
	if _, ok := stored[TargetDocID("2026-10", kanji[1].ID, kanji[1].Username)]; ok {
		t.Errorf("the no-activity CHW has a target doc for 2026-10")
	}
	if _, ok := stored[TargetDocID("2026-09", kanji[1].ID, kanji[1].Username)]; !ok {
		t.Errorf("the no-activity CHW lacks its 2026-09 target doc")
	}
	if _, ok := m.Values("2026-10", kanji[1].ID); ok {
		t.Errorf("the manifest has values for the no-activity CHW in 2026-10")
	}
	us, ok := stored[UserID(m.NeverSynced)]
	if !ok || us["type"] != "user-settings" {
		t.Errorf("no user-settings doc for %s", m.NeverSynced)
	}
	if _, ok := stored[UserID("hrio")]; !ok {
		t.Errorf("no online user")
	}
}
