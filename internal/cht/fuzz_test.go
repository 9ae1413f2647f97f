package cht

import (
	"context"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
)

func FuzzDecodeTargetDoc(f *testing.F) {
	var docs []json.RawMessage
	if err := json.Unmarshal(readTestdata(f, "target_docs.json"), &docs); err != nil {
		f.Fatal(err)
	}
	for _, d := range docs {
		f.Add([]byte(d))
	}
	for _, s := range []string{`null`, `"x"`, `{}`, `{"owner":"a","targets":[null,1,"x",{"id":"a","value":{"total":1e999}}]}`, `{"targets":{}}`, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := decodeTargetDoc(b)
		if !reflect.DeepEqual(got, decodeTargetDoc(b)) {
			t.Fatalf("decodeTargetDoc(%q) is not deterministic", b)
		}
		if got.Malformed == "" && got.Owner == "" {
			t.Errorf("decodeTargetDoc(%q): well formed without an owner: %+v", b, got)
		}
		// Differential check of the walker against encoding/json.
		var ref map[string]json.RawMessage
		if json.Valid(b) && json.Unmarshal(b, &ref) == nil && ref != nil {
			if got.Malformed == "doc is not an object" {
				t.Fatalf("decodeTargetDoc(%q): a JSON object read as not an object", b)
			}
			var owner string
			if json.Unmarshal(ref["owner"], &owner) == nil && owner != "" && got.Owner != owner {
				t.Errorf("decodeTargetDoc(%q): Owner = %q; encoding/json reads %q", b, got.Owner, owner)
			}
			var targets []json.RawMessage
			if json.Unmarshal(ref["targets"], &targets) == nil && targets != nil && len(got.Targets) != len(targets) {
				t.Errorf("decodeTargetDoc(%q): %d targets; encoding/json reads %d", b, len(got.Targets), len(targets))
			}
		}
		for i, e := range got.Targets {
			if e.Invalid == "" && (e.ID == "" || math.IsInf(e.Total, 0) || math.IsNaN(e.Total)) {
				t.Errorf("decodeTargetDoc(%q): entry %d valid but %+v", b, i, e)
			}
			if e.Invalid != "" && e.Total != 0 {
				t.Errorf("decodeTargetDoc(%q): invalid entry %d has a total: %+v", b, i, e)
			}
		}
	})
}

func FuzzDecodeSettings(f *testing.F) {
	f.Add(readTestdata(f, "app_settings.json"))
	f.Add(readTestdata(f, "app_settings_odd.json"))
	for _, s := range []string{`{}`, `[]`, `{"uhc":{"month_start_date":31.0}}`, `{"tasks":{"targets":{"items":[{"id":"a","dhis":[{"dataElement":"b","x":{"y":[1]}}]}]}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeSettings(b)
		if err != nil {
			if json.Valid(b) && isObject(b) {
				t.Fatalf("decodeSettings(%q) = %v for a JSON object", b, err)
			}
			return
		}
		if s.MonthStartDate < 1 || s.MonthStartDate > 31 {
			t.Errorf("decodeSettings(%q): MonthStartDate = %d", b, s.MonthStartDate)
		}
		for _, ds := range s.DataSets {
			if ds.ID == "" {
				t.Errorf("decodeSettings(%q): data set without id", b)
			}
		}
		for _, td := range s.Targets {
			if td.ID == "" || len(td.DHIS) == 0 {
				t.Errorf("decodeSettings(%q): target %+v", b, td)
			}
			for _, m := range td.DHIS {
				if m.DataElement == "" {
					t.Errorf("decodeSettings(%q): target %s mapping without dataElement", b, td.ID)
				}
				for k, v := range m.Attributes {
					if !json.Valid(v) || k == "orgUnit" || k == "value" || k == "dataElement" {
						t.Errorf("decodeSettings(%q): attribute %s = %s", b, k, v)
					}
				}
			}
		}
	})
}

func FuzzReadRows(f *testing.F) {
	for _, s := range []string{
		`{"total_rows":1,"offset":0,"rows":[{"id":"a","key":"a","value":{"rev":"1"},"doc":{"_id":"a"}}]}`,
		`{"rows":[{"key":"x","error":"not_found"},{"id":"b","doc":null}]}`,
		`{"rows":null}`, `{"rows":[1,"x",{"id":2}]}`, `{"rows":[`, `[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n := 0
		err := readRows(context.Background(), strings.NewReader(string(b)), func(r *row) error {
			n++
			_ = decodeTargetDoc(r.Doc)
			return nil
		})
		if err == nil && !json.Valid(b) {
			t.Errorf("readRows(%q) accepted invalid JSON", b)
		}
	})
}

func FuzzReadContact(f *testing.F) {
	var docs []json.RawMessage
	if err := json.Unmarshal(readTestdata(f, "contacts.json"), &docs); err != nil {
		f.Fatal(err)
	}
	for _, d := range docs {
		f.Add([]byte(d))
	}
	f.Add([]byte(`{"_id":"a","parent":{"_id":"b","parent":{"_id":"a"}},"dhis":[{"orgUnit":"x","dataSet":1},null]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, w, ok := decodeContact("row", b)
		_ = viewWouldEmit(w)
		_ = decodeOwner("row", b)
		// A map, not a struct: encoding/json matches struct fields case
		// insensitively, CHT (JavaScript) does not.
		var ref map[string]json.RawMessage
		if !json.Valid(b) || !isObject(b) || json.Unmarshal(b, &ref) != nil {
			return
		}
		if !ok {
			t.Fatalf("decodeContact(%q): a JSON object read as not an object", b)
		}
		var name string
		if json.Unmarshal(ref["name"], &name) == nil && c.Name != name {
			t.Errorf("decodeContact(%q): Name = %q; encoding/json reads %q", b, c.Name, name)
		}
		if len(c.Lineage) > maxLineageDepth {
			t.Errorf("decodeContact(%q): lineage of %d", b, len(c.Lineage))
		}
		var parent map[string]json.RawMessage
		var pid string
		if len(c.Lineage) > 0 && (json.Unmarshal(ref["parent"], &parent) != nil ||
			json.Unmarshal(parent["_id"], &pid) != nil || pid != c.Lineage[0]) {
			t.Errorf("decodeContact(%q): Lineage[0] = %q; encoding/json reads %q", b, c.Lineage[0], pid)
		}
	})
}
