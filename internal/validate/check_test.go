package validate

import (
	"encoding/json"
	"fmt"
	"hash/maphash"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

const defaultCOC = "HllvX50cXC0"

// chwMetadata is a monthly CHW data set as the dhis2 package would build it.
func chwMetadata() Metadata {
	return Metadata{
		DataSet: DataSet{
			ID: "dsCHW000001", Name: "CHW monthly", PeriodType: "Monthly",
			OpenFuturePeriods: 0, ExpiryDays: 0,
		},
		DataElements: map[string]DataElement{
			"deANC000001": {ID: "deANC000001", Name: "ANC visits", ValueType: "INTEGER_ZERO_OR_POSITIVE",
				CategoryOptionCombos: map[string]bool{defaultCOC: true}},
			"deAGE000001": {ID: "deAGE000001", Name: "Children assessed", ValueType: "INTEGER_ZERO_OR_POSITIVE",
				CategoryOptionCombos: map[string]bool{"cocU5000001": true, "cocO5000001": true}},
			"dePCT000001": {ID: "dePCT000001", Name: "Coverage", ValueType: "PERCENTAGE"},
			"deTXT000001": {ID: "deTXT000001", Name: "Remarks", ValueType: "TEXT"},
			"deOPT000001": {ID: "deOPT000001", Name: "Method", ValueType: "INTEGER", HasOptionSet: true},
		},
		OrgUnits:                   map[string]bool{"ouHC0000001": true, "ouHC0000002": true},
		DefaultCategoryOptionCombo: defaultCOC,
	}
}

var june15 = time.Date(2024, 6, 15, 10, 0, 0, 0, time.UTC)

func val(de, pe, ou, v string) Value {
	return Value{DataElement: de, Period: pe, OrgUnit: ou, Value: v}
}

func codes(ps []Problem) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.Code)
	}
	return out
}

func TestCheck(t *testing.T) {
	withCOC := func(v Value, coc string) Value { v.CategoryOptionCombo = coc; return v }
	withAOC := func(v Value, aoc string) Value { v.AttributeOptionCombo = aoc; return v }
	withComment := func(v Value, raw string) Value {
		v.Attributes = map[string]json.RawMessage{"comment": json.RawMessage(raw), "followUp": json.RawMessage(`"anything"`)}
		return v
	}
	values := []Value{
		0:  val("deANC000001", "202405", "ouHC0000001", "12"),
		1:  withCOC(val("deANC000001", "202405", "ouHC0000001", "4"), "cocU5000001"),
		2:  val("deANC000001", "202405", "ouXX0000009", "3"),
		3:  val("deNOT000001", "202405", "ouHC0000001", "7"),
		4:  val("deTXT000001", "202405", "ouHC0000001", "5"),
		5:  val("deOPT000001", "202405", "ouHC0000001", "2"),
		6:  val("deANC000001", "2024W05", "ouHC0000001", "1"),
		7:  val("deANC000001", "202406", "ouHC0000001", "9"),
		8:  withCOC(val("deAGE000001", "202405", "ouHC0000001", "3"), "cocU5000001"),
		9:  val("dePCT000001", "202405", "ouHC0000001", "55.5"),
		10: val("deANC000001", "202404", "ouHC0000001", "-3"),
		11: val("deANC000001", "202413", "ouHC0000001", "2"),
		12: val("deANC000001", "202405", "ou 1", "2"),
		13: val("deAGE000001", "202405", "ouHC0000002", "8"),
		14: withCOC(val("deANC000001", "2024-04", "ouHC0000002", "0"), defaultCOC),
		15: val("deNOT000001", "202405", "ouXX0000009", "1"),
		16: withAOC(val("deANC000001", "202403", "ouHC0000001", "6"), "aocXX000001"),
		17: withComment(val("deANC000001", "202402", "ouHC0000001", "6"), `"`+strings.Repeat("x", 5001)+`"`),
		18: withComment(val("deANC000001", "202401", "ouHC0000001", "6"), `{"a":1}`),
		19: withComment(val("deANC000001", "202312", "ouHC0000001", "6"), `"checked by supervisor"`),
		20: val("deANC000001", "202403", "ouHC0000002", "1"),
		21: withCOC(val("deANC000001", "2024-03", "ouHC0000002", "2"), defaultCOC),
		22: val("dePCT000001", "202405", "ouHC0000002", "101"),
		23: val("deANC000001", "202405", "ouHC0000002", "1e3"),
		24: val("", "202405", "ouHC0000002", "1"),
		25: withCOC(val("deANC000001", "202311", "ouHC0000001", "1"), "bad-coc"),
		26: withComment(val("deANC000001", "202310", "ouHC0000001", "6"), `null`),
	}
	valid, problems := Check(chwMetadata(), values, june15)

	wantValid := []Value{values[0], values[8], values[9], values[14], values[19], values[26]}
	if !reflect.DeepEqual(valid, wantValid) {
		t.Errorf("valid = %+v;\nwant %+v", valid, wantValid)
	}
	type pv struct {
		code, de, ou, pe, value string
	}
	var got []pv
	for _, p := range problems {
		got = append(got, pv{p.Code, p.DataElement, p.OrgUnit, p.Period, p.Value})
	}
	want := []pv{
		{CodeCategoryOptionComboInvalid, "deANC000001", "ouHC0000001", "202405", "4"},
		{CodeOrgUnitNotAssigned, "deANC000001", "ouXX0000009", "202405", "3"},
		{CodeDataElementNotInDataSet, "deNOT000001", "ouHC0000001", "202405", "7"},
		{CodeDataElementNotNumeric, "deTXT000001", "ouHC0000001", "202405", "5"},
		{CodeDataElementNotNumeric, "deOPT000001", "ouHC0000001", "202405", "2"},
		{CodePeriodTypeMismatch, "deANC000001", "ouHC0000001", "2024W05", "1"},
		{CodePeriodFuture, "deANC000001", "ouHC0000001", "202406", "9"},
		{CodeValueSign, "deANC000001", "ouHC0000001", "202404", "-3"},
		{CodePeriodInvalid, "deANC000001", "ouHC0000001", "202413", "2"},
		{CodeUIDInvalid, "deANC000001", "ou 1", "202405", "2"},
		{CodeCategoryOptionComboInvalid, "deAGE000001", "ouHC0000002", "202405", "8"},
		{CodeDataElementNotInDataSet, "deNOT000001", "ouXX0000009", "202405", "1"},
		{CodeOrgUnitNotAssigned, "deNOT000001", "ouXX0000009", "202405", "1"},
		{CodeAttributeOptionComboInvalid, "deANC000001", "ouHC0000001", "202403", "6"},
		{CodeCommentInvalid, "deANC000001", "ouHC0000001", "202402", "6"},
		{CodeCommentInvalid, "deANC000001", "ouHC0000001", "202401", "6"},
		{CodeValueDuplicate, "deANC000001", "ouHC0000002", "202403", "1"},
		{CodeValueDuplicate, "deANC000001", "ouHC0000002", "2024-03", "2"},
		{CodeValueOutOfRange, "dePCT000001", "ouHC0000002", "202405", "101"},
		{CodeValueNotNumeric, "deANC000001", "ouHC0000002", "202405", "1e3"},
		{CodeUIDInvalid, "", "ouHC0000002", "202405", "1"},
		{CodeUIDInvalid, "deANC000001", "ouHC0000001", "202311", "1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n got %v\nwant %v", got, want)
		for _, p := range problems {
			t.Log(p.Code, p.Message)
		}
	}
	for _, p := range problems {
		if p.Message == "" || strings.Contains(p.Message, "%!") {
			t.Errorf("bad message %q", p.Message)
		}
	}
}

func TestCheck_messages(t *testing.T) {
	md := chwMetadata()
	tests := []struct {
		v    Value
		want string
	}{
		{val("deANC000001", "202405", "ouHC0000001", "-3"),
			`value "-3" of data element "ANC visits" (deANC000001) at org unit ouHC0000001 is negative, but the data element only takes zero or positive whole numbers`},
		{val("deNOT000001", "202405", "ouHC0000001", "7"),
			`data element deNOT000001 is not part of data set "CHW monthly" (dsCHW000001), so its value "7" for org unit ouHC0000001 cannot be pushed; check the CHT mapping`},
		{val("deTXT000001", "202405", "ouHC0000001", "5"),
			`data element "Remarks" (deTXT000001) has value type TEXT, not a number type, so it cannot take the computed value "5" for org unit ouHC0000001`},
		{val("deOPT000001", "202405", "ouHC0000001", "5"),
			`data element "Method" (deOPT000001) uses an option set, so it cannot take the computed value "5" for org unit ouHC0000001`},
		{Value{DataElement: "deANC000001", Period: "202405", OrgUnit: "ouHC0000001", CategoryOptionCombo: "cocU5000001", Value: "4"},
			`category option combo cocU5000001 of value "4" of data element "ANC visits" (deANC000001) at org unit ouHC0000001 is not one of the combos of the data element`},
		{val("deAGE000001", "202405", "ouHC0000001", "8"),
			`value "8" of data element "Children assessed" (deAGE000001) at org unit ouHC0000001 has no category option combo, which means the default, but data element "Children assessed" (deAGE000001) has no default combo; set categoryOptionCombo in the CHT mapping`},
		{Value{DataElement: "deANC000001", Period: "202405", OrgUnit: "ouHC0000001", AttributeOptionCombo: "aocXX000001", Value: "4"},
			`attribute option combo aocXX000001 of value "4" of data element "ANC visits" (deANC000001) at org unit ouHC0000001 is not one of the attribute option combos of data set "CHW monthly" (dsCHW000001)`},
		{val("deANC000001", "202405", "ouXX0000009", "3"),
			`org unit ouXX0000009 is not assigned to data set "CHW monthly" (dsCHW000001), so its value "3" of data element "ANC visits" (deANC000001) cannot be pushed`},
		{val("deANC000001", "2024W05", "ouHC0000001", "1"),
			`period "2024W05" is Weekly, but data set "CHW monthly" (dsCHW000001) takes Monthly periods`},
		{val("deANC000001", "202413", "ouHC0000001", "1"),
			`period "202413" is not valid: there is no month 13 (months run from 01 to 12)`},
		{val("deANC000001", "202406", "ouHC0000001", "1"),
			`period 202406 is not open yet: data set "CHW monthly" (dsCHW000001) takes data up to 202405 (open future periods: 0)`},
		{val("deANC000001", "202405", "ou 1", "2"),
			`org unit "ou 1" of value "2" is not a DHIS2 uid (11 letters and digits, starting with a letter)`},
		{val("deANC000001", "202405", "", "2"),
			`value "2" for period 202405 has no org unit`},
	}
	// A data set with its own attribute combo, without the default.
	aocMD := chwMetadata()
	aocMD.DataSet.AttributeOptionCombos = map[string]bool{"aocDonorA01": true}
	if _, ps := Check(aocMD, []Value{val("deANC000001", "202405", "ouHC0000001", "4")}, june15); len(ps) != 1 ||
		ps[0].Message != `value "4" of data element "ANC visits" (deANC000001) at org unit ouHC0000001 has no attribute option combo, which means the default, but data set "CHW monthly" (dsCHW000001) has no default attribute combo; set attributeOptionCombo in the CHT mapping` {
		t.Errorf("empty attribute option combo: %+v", ps)
	}
	for _, tc := range tests {
		_, ps := Check(md, []Value{tc.v}, june15)
		if len(ps) != 1 || ps[0].Message != tc.want {
			t.Errorf("Check(%+v):\n got %+v\nwant message %q", tc.v, ps, tc.want)
		}
	}
}

func TestCheck_openFuturePeriods(t *testing.T) {
	tests := []struct {
		ofp    int
		period string
		future bool
	}{
		{0, "202405", false},
		{0, "202406", true}, // the current month is not over
		{0, "202407", true},
		{-2, "202406", true}, // negative counts as 0
		{-2, "202405", false},
		{1, "202406", false},
		{1, "202407", true},
		{3, "202408", false},
		{3, "202409", true},
		{0, "2024-05", false},
	}
	for _, tc := range tests {
		md := chwMetadata()
		md.DataSet.OpenFuturePeriods = tc.ofp
		_, ps := Check(md, []Value{val("deANC000001", tc.period, "ouHC0000001", "1")}, june15)
		got := len(ps) == 1 && ps[0].Code == CodePeriodFuture
		if got != tc.future || (!tc.future && len(ps) != 0) {
			t.Errorf("openFuturePeriods %d, period %s: problems %v; want future=%v", tc.ofp, tc.period, codes(ps), tc.future)
		}
	}
}

// Expiry days are no longer Check's business: a locked period's values
// pass Check, and Locks warns about them.
func TestCheck_expiryDaysNotDropped(t *testing.T) {
	md := chwMetadata()
	md.DataSet.ExpiryDays = 10
	valid, ps := Check(md, []Value{val("deANC000001", "202401", "ouHC0000001", "1")}, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	if len(valid) != 1 || len(ps) != 0 {
		t.Errorf("Check of a locked period: %d valid, problems %v; want the value valid", len(valid), codes(ps))
	}
}

// A data set of another period type cannot take the monthly values the
// mediator builds: every value is refused, and the message says what to do.
func TestCheck_notAMonthlyDataSet(t *testing.T) {
	for _, pt := range []string{"Weekly", "Quarterly", "TwoYearly", ""} {
		md := chwMetadata()
		md.DataSet.PeriodType = pt
		valid, ps := Check(md, []Value{val("deANC000001", "202401", "ouHC0000001", "1"), val("deANC000001", "2024", "ouHC0000001", "1")}, june15)
		if len(valid) != 0 || !reflect.DeepEqual(codes(ps), []string{CodePeriodTypeMismatch, CodePeriodTypeMismatch}) {
			t.Fatalf("%q: valid %v, problems %v", pt, valid, codes(ps))
		}
		if !strings.Contains(ps[0].Message, "CHT targets are monthly") || !strings.Contains(ps[0].Message, "map the targets to a Monthly data set") {
			t.Errorf("%q: message %q", pt, ps[0].Message)
		}
	}
}

func TestCheck_empty(t *testing.T) {
	valid, ps := Check(Metadata{}, nil, june15)
	if len(valid) != 0 || len(ps) != 0 || valid == nil {
		t.Errorf("Check(empty) = %v, %v", valid, ps)
	}
	// Without metadata everything is refused, and the messages still read.
	_, ps = Check(Metadata{}, []Value{val("deANC000001", "202401", "ouHC0000001", "1")}, june15)
	want := []string{CodeDataElementNotInDataSet, CodeOrgUnitNotAssigned, CodePeriodTypeMismatch}
	if !reflect.DeepEqual(codes(ps), want) {
		t.Fatalf("problems %v; want %v", codes(ps), want)
	}
	if !strings.Contains(ps[0].Message, "is not part of the data set") {
		t.Errorf("message %q", ps[0].Message)
	}
}

func TestComboAllowed(t *testing.T) {
	set := map[string]bool{"cocA0000001": true, defaultCOC: true}
	noDefault := map[string]bool{"cocA0000001": true}
	tests := []struct {
		set   map[string]bool
		def   string
		combo string
		want  bool
	}{
		{nil, defaultCOC, "", true},
		{nil, "", "", true},
		{nil, defaultCOC, defaultCOC, true},
		{nil, defaultCOC, "cocA0000001", false},
		{nil, "", defaultCOC, false},
		{set, defaultCOC, "", true},
		{set, "", "", false},
		{set, defaultCOC, "cocA0000001", true},
		{set, defaultCOC, "cocB0000001", false},
		{noDefault, defaultCOC, "", false},
		{noDefault, defaultCOC, defaultCOC, false},
	}
	for _, tc := range tests {
		if got := comboAllowed(tc.set, tc.def, tc.combo); got != tc.want {
			t.Errorf("comboAllowed(%v, %q, %q) = %v; want %v", tc.set, tc.def, tc.combo, got, tc.want)
		}
	}
}

func TestCheck_duplicatesWithHashCollisions(t *testing.T) {
	saved := hashKey
	hashKey = func(maphash.Seed, valueKey) uint64 { return 42 } // every key collides
	defer func() { hashKey = saved }()

	values := []Value{
		val("deANC000001", "202401", "ouHC0000001", "1"),
		val("deANC000001", "202402", "ouHC0000001", "2"),
		val("deANC000001", "202402", "ouHC0000001", "3"),
		val("deANC000001", "202403", "ouHC0000001", "4"),
		val("deANC000001", "202401", "ouHC0000001", "5"),
	}
	valid, ps := Check(chwMetadata(), values, june15)
	if !reflect.DeepEqual(valid, []Value{values[3]}) {
		t.Errorf("valid = %v", valid)
	}
	var dupValues []string
	for _, p := range ps {
		if p.Code == CodeValueDuplicate {
			dupValues = append(dupValues, p.Value)
		}
	}
	if !reflect.DeepEqual(dupValues, []string{"1", "2", "3", "5"}) {
		t.Errorf("duplicates reported for %v", dupValues)
	}
}

func TestProblem_JSON(t *testing.T) {
	b, err := json.Marshal(Problem{Code: CodeOrgUnitNotAssigned, Message: "m", OrgUnit: "ouHC0000001"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"code":"org_unit_not_assigned","message":"m","orgUnit":"ouHC0000001"}`; string(b) != want {
		t.Errorf("json = %s; want %s", b, want)
	}
	b, _ = json.Marshal(Value{DataElement: "a", Period: "b", OrgUnit: "c", Value: "0",
		Attributes: map[string]json.RawMessage{"comment": json.RawMessage(`"x"`)}})
	if want := `{"dataElement":"a","period":"b","orgUnit":"c","value":"0"}`; string(b) != want {
		t.Errorf("json = %s; want %s", b, want)
	}
}

func TestLabel(t *testing.T) {
	tests := []struct{ name, id, want string }{
		{"ANC", "de1", `data element "ANC" (de1)`},
		{"ANC", "", `data element "ANC"`},
		{"", "de1", "data element de1"},
		{"", "", "the data element"},
	}
	for _, tc := range tests {
		if got := label("data element", tc.name, tc.id); got != tc.want {
			t.Errorf("label(%q, %q) = %q; want %q", tc.name, tc.id, got, tc.want)
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	md := chwMetadata()
	values := make([]Value, 0, 10_000)
	for i := range 10_000 {
		ou := fmt.Sprintf("ou%09d", i)
		md.OrgUnits[ou] = true
		values = append(values, Value{DataElement: "deANC000001", Period: "202405", OrgUnit: ou, Value: strconv.Itoa(i)})
	}
	b.ReportAllocs()
	for b.Loop() {
		if valid, _ := Check(md, values, june15); len(valid) != len(values) {
			b.Fatal("values refused")
		}
	}
}
