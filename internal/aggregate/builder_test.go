package aggregate

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"testing"
	"unsafe"
)

var (
	testDataSets = []DataSet{{ID: "dsA", TranslationKey: "ds.a"}}
	testDefs     = []TargetDef{
		{ID: "births", DHIS: []Mapping{{DataElement: "deB"}}},
		{ID: "visits", DHIS: []Mapping{{DataElement: "deV", CategoryOptionCombo: "cU5"}}},
	}
)

func newTestBuilder(t *testing.T, opts Options) *Builder {
	t.Helper()
	if opts.DataSet == "" {
		opts.DataSet = "dsA"
	}
	b, err := NewBuilder(opts, testDataSets, testDefs)
	if err != nil {
		t.Fatalf("NewBuilder: %v", err)
	}
	return b
}

// values returns the result's values by "orgUnit/dataElement".
func values(res Result) map[string]float64 {
	m := make(map[string]float64, len(res.DataValues))
	for _, dv := range res.DataValues {
		m[dv.OrgUnit+"/"+dv.DataElement] = dv.Value
	}
	return m
}

func TestNewBuilder_Errors(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		dataSets []DataSet
		defs     []TargetDef
		sentinel error
		wantErr  string
	}{
		{
			name: "no data set", opts: Options{}, dataSets: testDataSets, defs: testDefs,
			sentinel: ErrUnknownDataSet, wantErr: "data set is required",
		},
		{
			name: "unknown data set", opts: Options{DataSet: "abc"}, dataSets: testDataSets, defs: testDefs,
			sentinel: ErrUnknownDataSet, wantErr: `data set "abc" is not in CHT's dhis_data_sets`,
		},
		{
			name: "nil data sets", opts: Options{DataSet: "abc"},
			sentinel: ErrUnknownDataSet, wantErr: `data set "abc" is not in CHT's dhis_data_sets`,
		},
		{
			name: "nil definitions", opts: Options{DataSet: "dsA"}, dataSets: testDataSets,
			sentinel: ErrNoDataElements, wantErr: `data set "dsA" has no target mapped to it (no dhis.dataElement for it in tasks.targets.items)`,
		},
		{
			name: "definitions without data element or for another data set", opts: Options{DataSet: "dsA"}, dataSets: testDataSets,
			defs: []TargetDef{
				{ID: "a"},
				{ID: "b", DHIS: []Mapping{{DataSet: "dsA"}}},
				{ID: "c", DHIS: []Mapping{{DataSet: "dsB", DataElement: "deC"}}},
			},
			sentinel: ErrNoDataElements, wantErr: `data set "dsA" has no target mapped to it (no dhis.dataElement for it in tasks.targets.items)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := NewBuilder(tt.opts, tt.dataSets, tt.defs)
			if b != nil {
				t.Errorf("NewBuilder(%+v) builder = %v; want nil", tt.opts, b)
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("NewBuilder(%+v) error = %v; want %q", tt.opts, err, tt.wantErr)
			}
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("NewBuilder(%+v) error %v does not wrap %v", tt.opts, err, tt.sentinel)
			}
		})
	}
}

// TestBuilder_EmptyInputs checks that nothing panics and every slice and
// map of the result is non-nil (JSON [] and {}, not null) whatever is
// missing.
func TestBuilder_EmptyInputs(t *testing.T) {
	tests := []struct {
		name string
		run  func(b *Builder) Result
	}{
		{"nothing added, nil owners", func(b *Builder) Result { return b.Result(nil) }},
		{"zero contact and doc", func(b *Builder) Result {
			b.AddContact(Contact{})
			b.AddTargetDoc(TargetDoc{})
			return b.Result(nil)
		}},
		{"zero owner", func(b *Builder) Result {
			b.AddTargetDoc(TargetDoc{ID: "d", Owner: "o"})
			return b.Result([]Owner{{}})
		}},
		{"doc without targets", func(b *Builder) Result {
			b.AddContact(Contact{ID: "o", OrgUnits: []OrgUnitMapping{{OrgUnit: "ou"}}})
			b.AddTargetDoc(TargetDoc{ID: "d", Owner: "o"})
			return b.Result([]Owner{{ID: "o"}})
		}},
		{"empty entries", func(b *Builder) Result {
			b.AddContact(Contact{ID: "o", OrgUnits: []OrgUnitMapping{{}, {OrgUnit: "ou"}}})
			b.AddTargetDoc(TargetDoc{ID: "d", Owner: "o", Targets: []Target{{}, {ID: "births"}}})
			return b.Result([]Owner{{ID: "o"}})
		}},
	}
	for _, opts := range []Options{{}, {OrgUnit: "ou"}, {OrgUnit: "ou", Children: true}, {Children: true}} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/%+v", tt.name, opts), func(t *testing.T) {
				res := tt.run(newTestBuilder(t, opts))
				if res.DataValues == nil || res.Problems == nil || res.OrgUnits == nil ||
					res.OrgUnitNames == nil || res.DataElementNames == nil {
					t.Errorf("Result = %+v; want non-nil slices and maps", res)
				}
				for _, dv := range res.DataValues {
					if dv.Value != 0 {
						t.Errorf("value %+v = %v; want 0", dv.Key, dv.Value)
					}
				}
			})
		}
	}
}

func TestBuilder_OwnerIDs(t *testing.T) {
	b := newTestBuilder(t, Options{})
	if got := b.OwnerIDs(); got == nil || len(got) != 0 {
		t.Errorf("OwnerIDs() = %#v before any doc; want empty, non-nil", got)
	}
	for _, d := range []TargetDoc{
		{ID: "target~2024-06~z~u", Owner: "z"},
		{ID: "target~2024-06~a~u", Owner: "a"},
		{ID: "target~2024-06~a~v", Owner: "a"},
		{ID: "target~2024-06~m~u", Owner: "m", Malformed: "targets is missing"},
		{ID: "target~2024-06~none~u", Malformed: "owner is missing"},
	} {
		b.AddTargetDoc(d)
	}
	want := []string{"a", "m", "z"}
	if got := b.OwnerIDs(); !reflect.DeepEqual(got, want) {
		t.Errorf("OwnerIDs() = %v; want %v", got, want)
	}
}

// TestBuilder_DuplicateWinner checks that replacing the winning doc of an
// owner forgets its totals and invalid entries, in either order.
func TestBuilder_DuplicateWinner(t *testing.T) {
	older := TargetDoc{ID: "target~2024-06~chw~org.couchdb.user:a", Owner: "chw", UpdatedDate: 1,
		Targets: []Target{{ID: "births", Total: 5}, {ID: "visits", Invalid: "value is null"}}}
	newer := TargetDoc{ID: "target~2024-06~chw~org.couchdb.user:b", Owner: "chw", UpdatedDate: 2,
		Targets: []Target{{ID: "visits", Total: 7}}}
	for _, order := range [][]TargetDoc{{older, newer}, {newer, older}} {
		t.Run(order[0].ID, func(t *testing.T) {
			b := newTestBuilder(t, Options{})
			b.AddContact(Contact{ID: "c1", OrgUnits: []OrgUnitMapping{{OrgUnit: "ouC1"}}})
			for _, d := range order {
				b.AddTargetDoc(d)
			}
			res := b.Result([]Owner{{ID: "chw", Lineage: []string{"c1"}}})
			want := map[string]float64{"ouC1/deB": 0, "ouC1/deV": 7}
			if got := values(res); !reflect.DeepEqual(got, want) {
				t.Errorf("values = %v; want %v", got, want)
			}
			if len(res.Problems) != 1 || res.Problems[0].Code != ProblemDuplicateDoc || res.Problems[0].DocID != older.ID {
				t.Errorf("problems = %+v; want one duplicate_target_doc for %s", res.Problems, older.ID)
			}
		})
	}
}

// TestBuilder_TargetOrderVaries checks the per-position cache of target ids:
// docs list their targets in different orders and lengths.
func TestBuilder_TargetOrderVaries(t *testing.T) {
	b := newTestBuilder(t, Options{})
	b.AddContact(Contact{ID: "c1", OrgUnits: []OrgUnitMapping{{OrgUnit: "ouC1"}}})
	long := make([]Target, 300)
	for i := range long {
		long[i] = Target{ID: fmt.Sprintf("t%d", i), Total: 1000}
	}
	long[299] = Target{ID: "births", Total: 100}
	docs := []TargetDoc{
		{ID: "d1", Owner: "o1", Targets: []Target{{ID: "births", Total: 1}, {ID: "visits", Total: 2}}},
		{ID: "d2", Owner: "o2", Targets: []Target{{ID: "visits", Total: 4}, {ID: "births", Total: 8}}},
		{ID: "d3", Owner: "o3", Targets: []Target{{ID: "other", Total: 16}, {ID: "births", Total: 32}, {ID: "visits", Total: 64}}},
		{ID: "d4", Owner: "o4", Targets: long},
		{ID: "d5", Owner: "o5", Targets: []Target{{ID: "births", Total: 1}, {ID: "visits", Total: 2}}},
	}
	var owners []Owner
	for _, d := range docs {
		b.AddTargetDoc(d)
		owners = append(owners, Owner{ID: d.Owner, Lineage: []string{"c1"}})
	}
	want := map[string]float64{"ouC1/deB": 1 + 8 + 32 + 100 + 1, "ouC1/deV": 2 + 4 + 64 + 2}
	if got := values(b.Result(owners)); !reflect.DeepEqual(got, want) {
		t.Errorf("values = %v; want %v", got, want)
	}
}

func TestBuilder_NonFiniteTotal(t *testing.T) {
	b := newTestBuilder(t, Options{})
	b.AddContact(Contact{ID: "c1", OrgUnits: []OrgUnitMapping{{OrgUnit: "ouC1"}}})
	b.AddTargetDoc(TargetDoc{ID: "d1", Owner: "c1", Targets: []Target{
		{ID: "births", Total: math.NaN()}, {ID: "visits", Total: math.Inf(1)}, {ID: "births", Total: 2},
	}})
	res := b.Result([]Owner{{ID: "c1"}})
	want := map[string]float64{"ouC1/deB": 2, "ouC1/deV": 0}
	if got := values(res); !reflect.DeepEqual(got, want) {
		t.Errorf("values = %v; want %v", got, want)
	}
	if len(res.Problems) != 2 || res.Stats.InvalidEntries != 2 {
		t.Fatalf("problems = %+v, stats %+v; want 2 invalid entries", res.Problems, res.Stats)
	}
	for _, p := range res.Problems {
		if p.Code != ProblemInvalidTotal || p.DocID != "d1" {
			t.Errorf("problem %+v; want invalid_target_total of d1", p)
		}
	}
}

// TestBuilder_InvalidEntryDataElement checks that a problem names the data
// element only when the target maps to a single one.
func TestBuilder_InvalidEntryDataElement(t *testing.T) {
	defs := []TargetDef{
		{ID: "one", DHIS: []Mapping{{DataElement: "de1", CategoryOptionCombo: "a"}, {DataElement: "de1", CategoryOptionCombo: "b"}}},
		{ID: "two", DHIS: []Mapping{{DataElement: "de1"}, {DataElement: "de2"}}},
	}
	b, err := NewBuilder(Options{DataSet: "dsA"}, testDataSets, defs)
	if err != nil {
		t.Fatal(err)
	}
	b.AddContact(Contact{ID: "c1", OrgUnits: []OrgUnitMapping{{OrgUnit: "ouC1"}}})
	b.AddTargetDoc(TargetDoc{ID: "d1", Owner: "c1", Targets: []Target{{ID: "one", Invalid: "x"}, {ID: "two", Invalid: "y"}}})
	res := b.Result([]Owner{{ID: "c1"}})
	got := map[string]string{}
	for _, p := range res.Problems {
		got[p.Message] = p.DataElement
	}
	want := map[string]string{
		`target "one" of target doc "d1" skipped: x`: "de1",
		`target "two" of target doc "d1" skipped: y`: "",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems = %v; want %v", got, want)
	}
}

// TestBuilder_DoesNotAlias checks that the builder copies what it keeps:
// changing the caller's definitions, contacts or owners afterwards changes
// nothing.
func TestBuilder_DoesNotAlias(t *testing.T) {
	attrs := map[string]json.RawMessage{"comment": json.RawMessage(`"a"`)}
	defs := []TargetDef{{ID: "births", DHIS: []Mapping{{DataElement: "deB", Attributes: attrs}}}}
	b, err := NewBuilder(Options{DataSet: "dsA", OrgUnit: "ouD1", Children: true}, testDataSets, defs)
	if err != nil {
		t.Fatal(err)
	}
	attrs["comment"] = json.RawMessage(`"changed"`)
	lineage := []string{"d1"}
	b.AddContact(Contact{ID: "d1", OrgUnits: []OrgUnitMapping{{OrgUnit: "ouD1"}}})
	b.AddContact(Contact{ID: "h1", OrgUnits: []OrgUnitMapping{{OrgUnit: "ouH1"}}, Lineage: lineage})
	lineage[0] = "elsewhere"
	b.AddTargetDoc(TargetDoc{ID: "d", Owner: "h1", Targets: []Target{{ID: "births", Total: 3}}})
	res := b.Result([]Owner{{ID: "h1", Lineage: []string{"d1"}}})
	want := map[string]float64{"ouD1/deB": 3, "ouH1/deB": 3}
	if got := values(res); !reflect.DeepEqual(got, want) {
		t.Errorf("values = %v; want %v", got, want)
	}
	if got := string(res.DataValues[0].Attributes["comment"]); got != `"a"` {
		t.Errorf("comment = %s; want \"a\"", got)
	}
}

// TestBuilder_OwnersGivenTwice checks that of one owner id given twice to
// Result the first counts, and unasked owners are ignored.
func TestBuilder_OwnersGivenTwice(t *testing.T) {
	b := newTestBuilder(t, Options{})
	b.AddContact(Contact{ID: "c1", OrgUnits: []OrgUnitMapping{{OrgUnit: "ouC1"}}})
	b.AddContact(Contact{ID: "c2", OrgUnits: []OrgUnitMapping{{OrgUnit: "ouC2"}}})
	b.AddTargetDoc(TargetDoc{ID: "d", Owner: "chw", Targets: []Target{{ID: "births", Total: 1}}})
	res := b.Result([]Owner{{ID: "chw", Lineage: []string{"c1"}}, {ID: "chw", Lineage: []string{"c2"}}, {ID: "stranger", Lineage: []string{"c2"}}})
	want := map[string]float64{"ouC1/deB": 1, "ouC1/deV": 0, "ouC2/deB": 0, "ouC2/deV": 0}
	if got := values(res); !reflect.DeepEqual(got, want) {
		t.Errorf("values = %v; want %v", got, want)
	}
}

// TestBuilder_ChildrenWithoutOrgUnit checks that Children alone changes
// nothing.
func TestBuilder_ChildrenWithoutOrgUnit(t *testing.T) {
	run := func(opts Options) Result {
		b := newTestBuilder(t, opts)
		b.AddContact(Contact{ID: "d1", OrgUnits: []OrgUnitMapping{{OrgUnit: "ouD1"}}})
		b.AddContact(Contact{ID: "h1", OrgUnits: []OrgUnitMapping{{OrgUnit: "ouH1"}}, Lineage: []string{"d1"}})
		b.AddTargetDoc(TargetDoc{ID: "d", Owner: "h1", Targets: []Target{{ID: "births", Total: 1}}})
		return b.Result([]Owner{{ID: "h1", Lineage: []string{"d1"}}})
	}
	if got, want := run(Options{Children: true}), run(Options{}); !reflect.DeepEqual(got, want) {
		t.Errorf("Children without OrgUnit = %+v; want %+v", got, want)
	}
}

// TestBuilder_NoDecoderPinning checks that kept ids do not share memory with
// the strings passed in (a decoder may slice them out of a page buffer).
func TestBuilder_NoDecoderPinning(t *testing.T) {
	buf := []byte("ownerdoc-id")
	owner, id := string(buf[:5]), string(buf[5:])
	b := newTestBuilder(t, Options{})
	b.AddTargetDoc(TargetDoc{ID: id, Owner: owner})
	st := b.ownerAt(b.ownerIdx["owner"])
	if unsafeSameData(st.id, owner) || unsafeSameData(st.docID, id) {
		t.Errorf("builder keeps the caller's strings; want clones")
	}
}

func TestErrorsAreInputErrors(t *testing.T) {
	_, err := ParseMonth("x")
	var ie *inputError
	if !errors.As(err, &ie) || ie.Unwrap() != ErrInvalidPeriod {
		t.Errorf("ParseMonth error %#v; want *inputError wrapping ErrInvalidPeriod", err)
	}
}

func unsafeSameData(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }

func TestBuilder_DocWithoutID(t *testing.T) {
	b := newTestBuilder(t, Options{})
	b.AddContact(Contact{ID: "c1", OrgUnits: []OrgUnitMapping{{OrgUnit: "ouC1"}}})
	b.AddTargetDoc(TargetDoc{Owner: "c1", Targets: []Target{{ID: "births", Total: 1}}})
	b.AddTargetDoc(TargetDoc{ID: "d2", Owner: "c1", UpdatedDate: -5, Targets: []Target{{ID: "births", Total: 2}}})
	res := b.Result([]Owner{{ID: "c1"}})
	if got := values(res)["ouC1/deB"]; got != 2 {
		t.Errorf("ouC1/deB = %v; want 2", got)
	}
	want := []Problem{{Code: ProblemMalformedDoc, Message: `target doc "" of owner "c1" skipped: _id is missing`}}
	if !reflect.DeepEqual(res.Problems, want) {
		t.Errorf("problems = %+v; want %+v", res.Problems, want)
	}
}

// TestBuilder_Flush: batch by batch, a month is summed as a whole, the
// builder forgets each batch's owners, and an owner whose docs come back
// after its flush is an error, not a silent double count.
func TestBuilder_Flush(t *testing.T) {
	doc := func(owner, user string, births float64) TargetDoc {
		return TargetDoc{ID: "target~2024-06~" + owner + "~org.couchdb.user:" + user, Owner: owner, UpdatedDate: 1,
			Targets: []Target{{ID: "births", Total: births}}}
	}
	lineage := []Owner{{ID: "p1", Lineage: []string{"c1"}}, {ID: "p2", Lineage: []string{"c1"}}, {ID: "p3", Lineage: []string{"c2", "c1"}}}
	t.Run("sums", func(t *testing.T) {
		b := newTestBuilder(t, Options{})
		b.AddContact(Contact{ID: "c1", OrgUnits: []OrgUnitMapping{{OrgUnit: "ouC1"}}})
		b.AddContact(Contact{ID: "c2", OrgUnits: []OrgUnitMapping{{OrgUnit: "ouC2"}}})
		b.AddTargetDoc(doc("p1", "a", 1))
		b.AddTargetDoc(doc("p2", "b", 2))
		if err := b.Flush(lineage[:2]); err != nil {
			t.Fatal(err)
		}
		if b.nOwners != 0 || len(b.ownerIdx) != 0 || len(b.OwnerIDs()) != 0 {
			t.Errorf("after Flush the builder still holds %d owners", b.nOwners)
		}
		b.AddTargetDoc(doc("p3", "c", 4))
		b.AddTargetDoc(doc("ghost", "d", 8))
		res := b.Result(lineage[2:])
		want := map[string]float64{"ouC1/deB": 7, "ouC1/deV": 0, "ouC2/deB": 4, "ouC2/deV": 0}
		if got := values(res); !reflect.DeepEqual(got, want) {
			t.Errorf("values = %v; want %v", got, want)
		}
		if res.Stats.TargetDocs != 4 || res.Stats.Counted != 3 || res.Stats.UnknownOwners != 1 || len(res.Problems) != 1 {
			t.Errorf("stats %+v, problems %+v", res.Stats, res.Problems)
		}
		if again := b.Result(lineage[2:]); !reflect.DeepEqual(again, res) {
			t.Errorf("Result after Flush is not repeatable")
		}
	})
	t.Run("owner split", func(t *testing.T) {
		b := newTestBuilder(t, Options{})
		b.AddContact(Contact{ID: "c1", OrgUnits: []OrgUnitMapping{{OrgUnit: "ouC1"}}})
		b.AddTargetDoc(doc("p1", "a", 1))
		if err := b.Flush(lineage); err != nil {
			t.Fatal(err)
		}
		b.AddTargetDoc(doc("p1", "b", 2))
		err := b.Flush(lineage)
		if !errors.Is(err, ErrOwnerSplit) || !errors.Is(b.Flush(nil), ErrOwnerSplit) {
			t.Errorf("Flush = %v; want ErrOwnerSplit, twice", err)
		}
	})
	t.Run("contact after flush", func(t *testing.T) {
		b := newTestBuilder(t, Options{})
		if err := b.Flush(nil); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if recover() == nil {
				t.Error("AddContact after Flush did not panic")
			}
		}()
		b.AddContact(Contact{ID: "c1"})
	})
}

func TestBuilder_OrgUnitsUnder(t *testing.T) {
	b, err := NewBuilder(Options{DataSet: "ds1", OrgUnit: "ouDistrict", Children: true},
		[]DataSet{{ID: "ds1"}}, []TargetDef{{ID: "t", DHIS: []Mapping{{DataElement: "de1"}}}})
	if err != nil {
		t.Fatal(err)
	}
	b.AddContact(Contact{ID: "d1", OrgUnits: []OrgUnitMapping{{OrgUnit: "ouDistrict"}}})
	b.AddContact(Contact{ID: "hc1", OrgUnits: []OrgUnitMapping{{OrgUnit: "ouHc1"}}, Lineage: []string{"d1"}})
	b.AddContact(Contact{ID: "hcX", OrgUnits: []OrgUnitMapping{{OrgUnit: "ouOther"}}})
	tests := []struct {
		id      string
		lineage []string
		want    []string
	}{
		{"chw1", []string{"area1", "hc1", "d1"}, []string{"ouDistrict", "ouHc1"}},
		{"hc1", []string{"d1"}, []string{"ouDistrict", "ouHc1"}},
		{"chw2", []string{"area2", "hcX"}, nil},
		{"nobody", nil, nil},
	}
	for _, tt := range tests {
		if got := b.OrgUnitsUnder(tt.id, tt.lineage); !slices.Equal(got, tt.want) {
			t.Errorf("OrgUnitsUnder(%q, %v) = %v; want %v", tt.id, tt.lineage, got, tt.want)
		}
	}
	// After a Flush the same answer comes from the result's rows.
	if err := b.Flush(nil); err != nil {
		t.Fatal(err)
	}
	if got := b.OrgUnitsUnder("chw1", []string{"area1", "hc1", "d1"}); !slices.Equal(got, []string{"ouDistrict", "ouHc1"}) {
		t.Errorf("after Flush: %v", got)
	}
}
