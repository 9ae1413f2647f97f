package export

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"slices"
	"testing"
)

// referenceValue is a data value as encoding/json writes it through the
// straightforward MarshalJSON below: json.Marshal per field, attributes
// compacted in key order. WriteJSON and MarshalJSON must match it byte for
// byte, so the fast writer changes nothing a reader of the output sees.
type referenceValue DataValue

func (v referenceValue) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	field := func(name string, raw []byte) {
		if !first {
			b.WriteByte(',')
		}
		first = false
		k, _ := json.Marshal(name)
		b.Write(k)
		b.WriteByte(':')
		b.Write(raw)
	}
	str := func(name, s string, omitEmpty bool) {
		if s == "" && omitEmpty {
			return
		}
		raw, _ := json.Marshal(s)
		field(name, raw)
	}
	str("dataElement", v.DataElement, false)
	str("period", v.Period, true)
	str("orgUnit", v.OrgUnit, false)
	str("categoryOptionCombo", v.CategoryOptionCombo, true)
	str("attributeOptionCombo", v.AttributeOptionCombo, true)
	str("value", v.Value, false)
	for _, k := range slices.Sorted(maps.Keys(v.Attributes)) {
		if reserved[k] || !json.Valid(v.Attributes[k]) {
			continue
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, v.Attributes[k]); err != nil {
			continue
		}
		field(k, compact.Bytes())
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

type referenceSet struct {
	DataSet      string           `json:"dataSet"`
	CompleteDate string           `json:"completeDate,omitempty"`
	Period       string           `json:"period"`
	OrgUnit      string           `json:"orgUnit,omitempty"`
	DataValues   []referenceValue `json:"dataValues"`
}

// reference writes s the way `mediator preview` wrote it with encoding/json.
func reference(t testing.TB, s DataValueSet) []byte {
	t.Helper()
	r := referenceSet{DataSet: s.DataSet, CompleteDate: s.CompleteDate, Period: s.Period, OrgUnit: s.OrgUnit}
	if s.DataValues != nil {
		r.DataValues = []referenceValue{}
	}
	for _, v := range s.DataValues {
		r.DataValues = append(r.DataValues, referenceValue(v))
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func checkSameAsReference(t testing.TB, s DataValueSet) {
	t.Helper()
	var got bytes.Buffer
	if err := s.WriteJSON(&got); err != nil {
		t.Fatal(err)
	}
	if want := reference(t, s); !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("WriteJSON wrote\n%s\nwant (encoding/json)\n%s", got.Bytes(), want)
	}
	for _, v := range s.DataValues {
		got, _ := v.MarshalJSON()
		want, _ := json.Marshal(referenceValue(v))
		if !bytes.Equal(got, want) {
			t.Fatalf("MarshalJSON wrote %s; want %s", got, want)
		}
	}
}

func TestDataValueSet_WriteJSON(t *testing.T) {
	attrs := map[string]json.RawMessage{
		"comment":     json.RawMessage(`"from CHT <auto> & more"`),
		"followUp":    json.RawMessage(`true`),
		"nested":      json.RawMessage(` { "a" : [1, {"b": "\u2028"}], "e": {}, "f": [] } `),
		"value":       json.RawMessage(`"must not override"`),
		"broken":      json.RawMessage(`{"a":`),
		"storedBy<&>": json.RawMessage(`"x"`),
	}
	tests := []struct {
		name string
		set  DataValueSet
	}{
		{"nil values", DataValueSet{DataSet: "ds", Period: "202406"}},
		{"no values", DataValueSet{DataSet: "ds", Period: "202406", DataValues: []DataValue{}}},
		{"plain", DataValueSet{DataSet: "ds", CompleteDate: "2024-07-01", Period: "202406", DataValues: []DataValue{
			{DataElement: "de1", Period: "202406", OrgUnit: "ou1", Value: "12"},
			{DataElement: "de2", Period: "202406", OrgUnit: "ou1", CategoryOptionCombo: "coc", AttributeOptionCombo: "aoc", Value: "0.5"},
		}}},
		{"org unit and empty fields", DataValueSet{DataSet: "ds", Period: "202406", OrgUnit: "ou1", DataValues: []DataValue{
			{DataElement: "", OrgUnit: "", Value: ""},
		}}},
		{"attributes", DataValueSet{DataSet: "ds", Period: "202406", DataValues: []DataValue{
			{DataElement: "de1", OrgUnit: "ou1", Value: "3", Attributes: attrs},
		}}},
		{"escapes", DataValueSet{DataSet: "d\"s\\<>&\n\r\t\b\f\x01\x1f", Period: "2024\u2028\u2029", DataValues: []DataValue{
			{DataElement: "caf\xe9 \xff", OrgUnit: "Kisumu — Ward 3 ✓", Value: "\x00"},
		}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkSameAsReference(t, tc.set) })
	}
}

func TestDataValueSet_WriteJSON_large(t *testing.T) {
	s := DataValueSet{DataSet: "ds", Period: "202406"}
	for i := range 5000 {
		s.DataValues = append(s.DataValues, DataValue{DataElement: "de", Period: "202406", OrgUnit: string(rune('a' + i%26)), Value: "1"})
	}
	checkSameAsReference(t, s)
}

func FuzzDataValueSet_WriteJSON(f *testing.F) {
	f.Add("ds", "202406", "de1", "ou1", "coc", "12", "comment", `"x"`)
	f.Add("d<s>", "", "\xff", "\u2028", "", "", "n", `{"a":[1,2,{}]}`)
	f.Add("", "", "", "", "", "", "", ``)
	f.Fuzz(func(t *testing.T, ds, period, de, ou, coc, value, key, raw string) {
		v := DataValue{DataElement: de, Period: period, OrgUnit: ou, CategoryOptionCombo: coc, Value: value}
		if key != "" {
			v.Attributes = map[string]json.RawMessage{key: json.RawMessage(raw)}
		}
		checkSameAsReference(t, DataValueSet{DataSet: ds, Period: period, OrgUnit: ou, DataValues: []DataValue{v, v}})
	})
}

func BenchmarkDataValueSet_WriteJSON(b *testing.B) {
	s := DataValueSet{DataSet: "ds", Period: "202406"}
	for i := range 74000 {
		s.DataValues = append(s.DataValues, DataValue{DataElement: "deT0000001", Period: "202406", OrgUnit: "ouD" + string(rune('a'+i%26)), Value: "4914"})
	}
	b.Run("WriteJSON", func(b *testing.B) {
		for b.Loop() {
			_ = s.WriteJSON(io.Discard)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			_ = reference(b, s)
		}
	})
}
