package aggregate

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*/want.json from the current results")

// goldenInput is testdata/<case>/input.json. Field names match the package
// types case-insensitively (encoding/json), so "dhis", "orgUnits",
// "updatedDate" decode into DHIS, OrgUnits, UpdatedDate.
type goldenInput struct {
	// Note says what the case shows and, for ported CHT cases, where and
	// why we differ from CHT.
	Note string `json:"note"`
	// Expect, for our own cases, holds every expected value typed in by
	// hand from the note, keyed "orgUnit dataElement [coc [aoc]]": a check
	// of want.json that does not come from the code.
	Expect   map[string]float64 `json:"expect"`
	Options  Options            `json:"options"`
	DataSets []DataSet          `json:"dataSets"`
	Targets  []TargetDef        `json:"targets"`
	// Contacts are the rows of the contacts_by_dhis_orgunit view.
	Contacts []Contact `json:"contacts"`
	// Owners are the contacts that exist in the database: the test passes
	// Result those whose id OwnerIDs asks for, as the caller does.
	Owners []Owner `json:"owners"`
	// Docs are the month's target docs, in the order they are added.
	Docs         []TargetDoc       `json:"docs"`
	Translations map[string]string `json:"translations"`
	// OrderSensitive disables the shuffle check (contacts with the same id
	// keep the first, repeated doc ids keep the first).
	OrderSensitive bool `json:"orderSensitive"`
}

// goldenOutput is testdata/<case>/want.json.
type goldenOutput struct {
	OwnerIDs         []string          `json:"ownerIds"`
	DataValues       []goldenValue     `json:"dataValues"`
	Problems         []Problem         `json:"problems"`
	OrgUnits         []string          `json:"orgUnits"`
	OrgUnitNames     map[string]string `json:"orgUnitNames"`
	DataElementNames map[string]string `json:"dataElementNames"`
	DataSetLabel     string            `json:"dataSetLabel"`
	Stats            Stats             `json:"stats"`
}

type goldenValue struct {
	OrgUnit              string                     `json:"orgUnit"`
	DataElement          string                     `json:"dataElement"`
	CategoryOptionCombo  string                     `json:"categoryOptionCombo,omitempty"`
	AttributeOptionCombo string                     `json:"attributeOptionCombo,omitempty"`
	Value                string                     `json:"value"`
	Attributes           map[string]json.RawMessage `json:"attributes,omitempty"`
}

// chtExpected is testdata/<case>/cht_expected.json: what CHT Core's own
// tests (or a composed example of CHT's DHIS2 export) say, typed in by hand, never generated.
type chtExpected struct {
	Source        string `json:"source"`
	HumanReadable bool   `json:"humanReadable"`
	// DataSet is the expected human-readable data set label.
	DataSet string `json:"dataSet"`
	// DataValues in CHT's shape: dataElement, orgUnit, value and every copied
	// attribute flat. Compared order-insensitively.
	DataValues []map[string]any `json:"dataValues"`
	// Error is CHT's message fragment; Sentinel the error we must wrap.
	Error    string `json:"error"`
	Sentinel string `json:"sentinel"`
}

var sentinels = map[string]error{
	"ErrUnknownDataSet": ErrUnknownDataSet,
	"ErrNoDataElements": ErrNoDataElements,
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
}

// build runs a Builder the way the export code does.
func build(in *goldenInput) (*Builder, Result, []string, error) {
	b, err := NewBuilder(in.Options, in.DataSets, in.Targets)
	if err != nil {
		return nil, Result{}, nil, err
	}
	for _, c := range in.Contacts {
		b.AddContact(c)
	}
	for _, d := range in.Docs {
		b.AddTargetDoc(d)
	}
	ids := b.OwnerIDs()
	var owners []Owner
	for _, o := range in.Owners {
		if _, ok := slices.BinarySearch(ids, o.ID); ok {
			owners = append(owners, o)
		}
	}
	return b, b.Result(owners), ids, nil
}

// buildFlushed runs a Builder the way the export service does for a
// month: docs grouped by owner (as _all_docs' _id order groups them), added
// in batches of about size docs cut between owners, each batch flushed with
// its owners.
func buildFlushed(in *goldenInput, size int) (Result, error) {
	b, err := NewBuilder(in.Options, in.DataSets, in.Targets)
	if err != nil {
		return Result{}, err
	}
	for _, c := range in.Contacts {
		b.AddContact(c)
	}
	docs := slices.Clone(in.Docs)
	slices.SortStableFunc(docs, func(x, y TargetDoc) int { return strings.Compare(x.Owner, y.Owner) })
	flush := func() error {
		ids := b.OwnerIDs()
		var owners []Owner
		for _, o := range in.Owners {
			if _, ok := slices.BinarySearch(ids, o.ID); ok {
				owners = append(owners, o)
			}
		}
		return b.Flush(owners)
	}
	n := 0
	for i, d := range docs {
		if n >= size && d.Owner != docs[i-1].Owner {
			if err := flush(); err != nil {
				return Result{}, err
			}
			n = 0
		}
		b.AddTargetDoc(d)
		n++
	}
	if err := flush(); err != nil {
		return Result{}, err
	}
	return b.Result(nil), nil
}

func toGolden(in *goldenInput, res Result, ids []string) goldenOutput {
	out := goldenOutput{
		OwnerIDs:         ids,
		DataValues:       []goldenValue{},
		Problems:         res.Problems,
		OrgUnits:         res.OrgUnits,
		OrgUnitNames:     res.OrgUnitNames,
		DataElementNames: res.DataElementNames,
		Stats:            res.Stats,
	}
	for _, ds := range in.DataSets {
		if ds.ID == in.Options.DataSet {
			out.DataSetLabel = DataSetLabel(ds, in.Translations)
		}
	}
	for _, dv := range res.DataValues {
		out.DataValues = append(out.DataValues, goldenValue{
			OrgUnit:              dv.OrgUnit,
			DataElement:          dv.DataElement,
			CategoryOptionCombo:  dv.CategoryOptionCombo,
			AttributeOptionCombo: dv.AttributeOptionCombo,
			Value:                FormatValue(dv.Value),
			Attributes:           dv.Attributes,
		})
	}
	return out
}

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return append(data, '\n')
}

func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "*", "input.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatal("no testdata/*/input.json")
	}
	for _, path := range dirs {
		dir := filepath.Dir(path)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var in goldenInput
			readJSON(t, path, &in)
			if in.Note == "" {
				t.Errorf("%s: note is empty; say what the case shows", path)
			}
			b, res, ids, err := build(&in)

			var got []byte
			if err != nil {
				got = marshal(t, map[string]string{"error": err.Error()})
			} else {
				got = marshal(t, toGolden(&in, res, ids))
			}
			wantPath := filepath.Join(dir, "want.json")
			if *update {
				if err := os.WriteFile(wantPath, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, rerr := os.ReadFile(wantPath)
			if rerr != nil {
				t.Fatalf("read %s: %v (run go test -update)", wantPath, rerr)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s: got\n%s\nwant\n%s", dir, got, want)
			}

			if chtPath := filepath.Join(dir, "cht_expected.json"); fileExists(chtPath) {
				var exp chtExpected
				readJSON(t, chtPath, &exp)
				checkCHT(t, &in, &exp, res, err)
			}
			if err != nil {
				return
			}
			if in.Expect != nil {
				checkExpect(t, in.Expect, res)
			} else if !fileExists(filepath.Join(dir, "cht_expected.json")) {
				t.Errorf("%s: neither expect nor cht_expected.json: the values are checked against nothing but the code", dir)
			}
			checkInvariants(t, &in, b, res)
		})
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// checkExpect compares every value of res with the hand-typed ones.
func checkExpect(t *testing.T, want map[string]float64, res Result) {
	t.Helper()
	got := make(map[string]float64, len(res.DataValues))
	for _, dv := range res.DataValues {
		k := strings.TrimRight(strings.Join([]string{dv.OrgUnit, dv.DataElement, dv.CategoryOptionCombo, dv.AttributeOptionCombo}, " "), " ")
		got[k] = dv.Value
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("values = %v; want (input.json expect) %v", got, want)
	}
}

// checkCHT compares a result with the values CHT is known to produce,
// order-insensitively, after applying human-readable names if asked.
func checkCHT(t *testing.T, in *goldenInput, exp *chtExpected, res Result, err error) {
	t.Helper()
	if exp.Sentinel != "" {
		if !errors.Is(err, sentinels[exp.Sentinel]) {
			t.Errorf("NewBuilder error = %v; want one wrapping %s (CHT: %q)", err, exp.Sentinel, exp.Error)
		}
		return
	}
	if err != nil {
		t.Fatalf("NewBuilder: %v; CHT succeeds", err)
	}
	if exp.DataSet != "" {
		for _, ds := range in.DataSets {
			if ds.ID == in.Options.DataSet {
				if got := DataSetLabel(ds, in.Translations); got != exp.DataSet {
					t.Errorf("DataSetLabel = %q; CHT says %q", got, exp.DataSet)
				}
			}
		}
	}
	var got, want []string
	for _, dv := range res.DataValues {
		m := map[string]any{"dataElement": dv.DataElement, "orgUnit": dv.OrgUnit, "value": dv.Value}
		if dv.CategoryOptionCombo != "" {
			m["categoryOptionCombo"] = dv.CategoryOptionCombo
		}
		if dv.AttributeOptionCombo != "" {
			m["attributeOptionCombo"] = dv.AttributeOptionCombo
		}
		for k, raw := range dv.Attributes {
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Fatalf("attribute %s: %v", k, err)
			}
			m[k] = v
		}
		if exp.HumanReadable {
			if name, ok := res.OrgUnitNames[dv.OrgUnit]; ok {
				m["orgUnit"] = name
			}
			if name, ok := res.DataElementNames[dv.DataElement]; ok {
				m["dataElement"] = name
			}
		}
		got = append(got, canonical(t, m))
	}
	for _, m := range exp.DataValues {
		want = append(want, canonical(t, m))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("data values differ from CHT (%s):\ngot  %s\nwant %s",
			exp.Source, strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

func canonical(t *testing.T, m map[string]any) string {
	t.Helper()
	data, err := json.Marshal(m) // map keys are sorted
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// checkInvariants checks what must hold for every case: the stats add up,
// Result is repeatable, the order of contacts and docs does not matter, and
// a filtered value equals the unfiltered one.
func checkInvariants(t *testing.T, in *goldenInput, b *Builder, res Result) {
	t.Helper()
	s := res.Stats
	if sum := s.Counted + s.Skipped + s.Duplicates + s.UnmappedDocs + s.Repeated; sum != s.TargetDocs {
		t.Errorf("stats %+v: counted+skipped+duplicates+unmapped+repeated = %d; want targetDocs %d", s, sum, s.TargetDocs)
	}
	if s.TargetDocs != len(in.Docs) {
		t.Errorf("Stats.TargetDocs = %d; want %d", s.TargetDocs, len(in.Docs))
	}
	var owners []Owner
	ids := b.OwnerIDs()
	for _, o := range in.Owners {
		if _, ok := slices.BinarySearch(ids, o.ID); ok {
			owners = append(owners, o)
		}
	}
	if again := b.Result(owners); !reflect.DeepEqual(again, res) {
		t.Errorf("second Result differs:\ngot  %+v\nwant %+v", again, res)
	}

	if !in.OrderSensitive {
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range 5 {
			shuffled := *in
			shuffled.Contacts = slices.Clone(in.Contacts)
			shuffled.Docs = slices.Clone(in.Docs)
			shuffled.Owners = slices.Clone(in.Owners)
			rng.Shuffle(len(shuffled.Contacts), func(i, j int) {
				shuffled.Contacts[i], shuffled.Contacts[j] = shuffled.Contacts[j], shuffled.Contacts[i]
			})
			rng.Shuffle(len(shuffled.Docs), func(i, j int) { shuffled.Docs[i], shuffled.Docs[j] = shuffled.Docs[j], shuffled.Docs[i] })
			rng.Shuffle(len(shuffled.Owners), func(i, j int) { shuffled.Owners[i], shuffled.Owners[j] = shuffled.Owners[j], shuffled.Owners[i] })
			_, got, _, err := build(&shuffled)
			if err != nil {
				t.Fatalf("shuffle %d: %v", i, err)
			}
			if !reflect.DeepEqual(got, res) {
				t.Errorf("shuffle %d: result depends on input order:\ngot  %+v\nwant %+v", i, got, res)
			}
		}
	}

	// Batch by batch (owners' docs together, cut between owners at every
	// size) the result is the same.
	for size := 1; size <= len(in.Docs); size++ {
		got, err := buildFlushed(in, size)
		if err != nil {
			t.Fatalf("flushed in batches of %d: %v", size, err)
		}
		if !reflect.DeepEqual(got, res) {
			t.Errorf("flushed in batches of %d:\ngot  %+v\nwant %+v", size, got, res)
		}
	}

	if in.Options.OrgUnit != "" {
		all := *in
		all.Options.OrgUnit, all.Options.Children = "", false
		_, unfiltered, _, err := build(&all)
		if err != nil {
			t.Fatalf("unfiltered: %v", err)
		}
		values := make(map[Key]float64)
		for _, dv := range unfiltered.DataValues {
			values[dv.Key] = dv.Value
		}
		for _, dv := range res.DataValues {
			if v, ok := values[dv.Key]; !ok || v != dv.Value {
				t.Errorf("filtered %+v = %v; unfiltered = %v (present %v)", dv.Key, dv.Value, v, ok)
			}
		}
	}
}

// TestGoldenCasesAreDocumented makes sure every directory under testdata is
// a complete case.
func TestGoldenCasesAreDocumented(t *testing.T) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "fuzz" {
			continue
		}
		for _, f := range []string{"input.json", "want.json"} {
			if !fileExists(filepath.Join("testdata", e.Name(), f)) {
				t.Errorf("testdata/%s: %s is missing", e.Name(), f)
			}
		}
		if strings.HasPrefix(e.Name(), "cht-") && !fileExists(filepath.Join("testdata", e.Name(), "cht_expected.json")) {
			t.Errorf("testdata/%s: a CHT-derived case needs cht_expected.json", e.Name())
		}
	}
}
