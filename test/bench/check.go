package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/couchsource"
)

// valueKey identifies a data value: what DHIS2 keys a value by (the
// period and data set are the set's).
type valueKey struct {
	DataElement, CategoryOptionCombo, AttributeOptionCombo, OrgUnit string
}

// expectedValues returns the values the generated data implies, by key,
// as canonical numbers.
func expectedValues(d *couchsource.Data) map[valueKey]string {
	out := map[valueKey]string{}
	for _, v := range d.Expected() {
		k := valueKey{v.DataElement, v.CategoryOptionCombo, v.AttributeOptionCombo, v.OrgUnit}
		out[k] = strconv.Itoa(v.Value)
	}
	return out
}

// dataValueSet is a DHIS2 dataValueSet as both programs print it. Values
// are strings in the mediator's output (as DHIS2 documents them) and
// numbers in CHT Core's; completeDate and the order are not compared.
type dataValueSet struct {
	DataSet    string `json:"dataSet"`
	Period     string `json:"period"`
	DataValues []struct {
		DataElement          string          `json:"dataElement"`
		CategoryOptionCombo  string          `json:"categoryOptionCombo"`
		AttributeOptionCombo string          `json:"attributeOptionCombo"`
		OrgUnit              string          `json:"orgUnit"`
		Value                json.RawMessage `json:"value"`
	} `json:"dataValues"`
}

// checkOutput checks that out is one dataValueSet of dataSet and period
// holding exactly the values of want.
func checkOutput(out []byte, dataSet, period string, want map[valueKey]string) error {
	dec := json.NewDecoder(bytes.NewReader(out))
	var set dataValueSet
	if err := dec.Decode(&set); err != nil {
		return fmt.Errorf("output is not a dataValueSet: %w", err)
	}
	if dec.More() {
		return fmt.Errorf("output has more than one JSON value")
	}
	if set.DataSet != dataSet || set.Period != period {
		return fmt.Errorf("data set %q period %q; want %q %q", set.DataSet, set.Period, dataSet, period)
	}
	seen := make(map[valueKey]bool, len(set.DataValues))
	for _, dv := range set.DataValues {
		k := valueKey{dv.DataElement, dv.CategoryOptionCombo, dv.AttributeOptionCombo, dv.OrgUnit}
		if seen[k] {
			return fmt.Errorf("value %+v twice", k)
		}
		seen[k] = true
		w, ok := want[k]
		if !ok {
			return fmt.Errorf("unexpected value %+v = %s", k, dv.Value)
		}
		got, err := number(dv.Value)
		if err != nil {
			return fmt.Errorf("value %+v: %w", k, err)
		}
		if got != w {
			return fmt.Errorf("value %+v = %s; want %s", k, got, w)
		}
	}
	if len(seen) != len(want) {
		return fmt.Errorf("%d data values; want %d", len(seen), len(want))
	}
	return nil
}

// number reads a JSON number or a string holding one and returns it in
// canonical form (12, 12.5).
func number(raw json.RawMessage) (string, error) {
	s := string(raw)
	if len(raw) > 0 && raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return "", fmt.Errorf("value %s is not a number", raw)
	}
	return strconv.FormatFloat(f, 'f', -1, 64), nil
}
