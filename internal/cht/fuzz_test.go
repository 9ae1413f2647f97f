package cht

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
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

// FuzzReadRows_reference compares readRows with the json.Decoder reader it
// replaced: on every input both hand over the same rows and both fail or
// both succeed; on invalid JSON both fail.
func FuzzReadRows_reference(f *testing.F) {
	for _, s := range []string{
		`{"total_rows":1,"offset":0,"rows":[{"id":"a","key":"a","value":{"rev":"1"},"doc":{"_id":"a"}}]}`,
		`{"rows":[{"key":"x","error":"not_found"},{"id":"b","doc":null}]}`,
		`{"rows":null}`, `{"rows":[1,"x",{"id":2}]}`, `{"rows":[`, `[]`, `{"rows":{}}`, `{}`, ` {"rows":[]} `,
		`{"a":[1,{"b":null}],"rows":[{"id":"a","value":{"deleted":true}},{"\u0069d":"b","id":"c"}],"z":-1.5e3}`,
		"{\"rows\":[{\"id\":\"\\u00e9\\n\",\"doc\":{\"x\":[true,false,null,0,-0.0,1E+2]}}]}\n",
		`{"rows":[{"id":"a"}],"rows":[{"id":"b"}]}`, `{"rows":[{"id":"a"},]}`, `{"rows":[] }x`,
	} {
		f.Add([]byte(s))
	}
	type seen struct {
		ID, Key, Doc, Error string
		Deleted             bool
	}
	collect := func(read func(context.Context, io.Reader, func(*row) error) error, b []byte) ([]seen, error) {
		var out []seen
		err := read(context.Background(), bytes.NewReader(b), func(r *row) error {
			out = append(out, seen{r.ID, string(r.Key), string(r.Doc), r.Error, r.Deleted})
			return nil
		})
		return out, err
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := collect(readRows, b)
		want, refErr := collect(readRowsReference, b)
		// The json.Decoder reader counted a row's nesting from the row, so
		// it took rows nested deeper than encoding/json allows in the
		// answer; readRows follows json.Valid there and stops at the row.
		stricter := err != nil && refErr == nil && !json.Valid(b)
		if (err == nil) != (refErr == nil) && !stricter {
			t.Fatalf("readRows(%q) error = %v; the json.Decoder reader's = %v", b, err, refErr)
		}
		if stricter {
			want = want[:min(len(want), len(got))]
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("readRows(%q) rows =\n%+v\nthe json.Decoder reader's =\n%+v", b, got, want)
		}
		if err == nil && !json.Valid(b) {
			t.Errorf("readRows(%q) accepted invalid JSON", b)
		}
	})
}

// FuzzDecodeTargetDoc_fast checks that the one-pass decoder, whenever it
// takes a doc, decodes it exactly as the general walker does.
func FuzzDecodeTargetDoc_fast(f *testing.F) {
	var docs []json.RawMessage
	if err := json.Unmarshal(readTestdata(f, "target_docs.json"), &docs); err != nil {
		f.Fatal(err)
	}
	for _, d := range docs {
		f.Add([]byte(d))
	}
	for _, s := range []string{
		`{"_id":"x","owner":"o","updated_date":1,"targets":[{"id":"a","value":{"pass":1,"total":2}},{"id":"b","value":{"total":-0}}]}`,
		`{"owner":"o","targets":[{"id":"a","value":{"total":01}},{"id":"é","value":{"total":1.5e2,"total2":3}}],"targets2":[]}`,
		`{"owner":"o","targets":[{"id":"a","value":{"total":1},"id":"b"}]}`, `{"owner":"o","targets":[]} `, `{}`,
		`{"owner":"o","targets":[{"value":{"total":123456789012345678},"id":"a"}]}`,
		"{\"owner\":\"o\",\"targets\":[{\"id\":\"a\x01\",\"value\":{\"total\":1}}]}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast, slow targetDecoder
		got, ok := fast.decodeFast(b)
		if !ok {
			return
		}
		// The row splitter takes the one-pass decoder's word that a doc is
		// valid JSON.
		if !json.Valid(b) {
			t.Fatalf("decodeFast(%q) took invalid JSON", b)
		}
		if want := slow.decodeSlow(b); !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeFast(%q) =\n%+v\nthe walker gives\n%+v", b, got, want)
		}
	})
}

// FuzzReadRows_splitDoc checks the docs decoded while the rows are split
// (the decoders' splitDoc as the splitter's doc hook), for each kind of doc
// read that way: on every answer the splitter with the hook hands over the
// same rows and the same error as without it, and every row's doc decodes
// as it does on its own.
func FuzzReadRows_splitDoc(f *testing.F) {
	answer := func(doc string) []byte {
		return []byte(`{"total_rows":9,"offset":0,"rows":[{"id":"t","key":"t","value":{"rev":"1-a"},"doc":` + doc + `}]}`)
	}
	for _, file := range []string{"target_docs.json", "contacts.json"} {
		var docs []json.RawMessage
		if err := json.Unmarshal(readTestdata(f, file), &docs); err != nil {
			f.Fatal(err)
		}
		for _, d := range docs {
			f.Add(answer(string(d)))
		}
	}
	deep := strings.Repeat("[", maxNesting-4) + strings.Repeat("]", maxNesting-4)
	for _, d := range []string{
		`{"_id":"org.couchdb.user:a","type":"user-settings","name":"a","fullname":"A","contact_id":"c","facility_id":["f","g"],"roles":["chw"],"inactive":false}`,
		`{"type":"user-settings","facility_id":"f","roles":"chw","language":"en","known":true}`,
		`{"_id":"replication-count-a","user":"a","date":1719792000000,"count":3}`,
		`{"_id":"c","type":"person","parent":{"_id":"p","parent":{"_id":"q","parent":{"_id":"r"}}},"reported_date":1}`,
		`{"_id":"c","parent":{"parent":{"_id":"q"},"_id":"p"}}`,
		`{"parent":{"_id":"p"}}`,
		`{"_id":"c","parent":{"_id":"p","x":` + deep + `}}`,
		`{"_id":"c","parent":{"_id":"p","parent":{"_id":"q","x":` + deep + `}}}`,
		`{"name":"a","x":[` + deep + `]}`,
	} {
		f.Add(answer(d))
	}
	for _, s := range []string{
		`{"rows":[{"id":"a","doc":{"_id":"a","owner":"o","targets":[{"id":"x","value":{"pass":1,"total":2}}]}},{"id":"b","doc":{"owner":"o","targets":[]}}]}`,
		`{"rows":[{"id":"a","doc":{"owner":"o","targets":[{"id":"x","value":{"total":01}}]}}]}`,
		`{"rows":[{"id":"a","doc":{"owner":"o","targets":[]},"doc":{"owner":"p","targets":[{"id":"x","value":{"total":"1"}}]}}]}`,
		`{"rows":[{"id":"a","doc":{"owner":"o","targets":[]},"d\u006fc":{"owner":"p","targets":[]}}]}`,
		`{"rows":[{"id":"a","doc":{"owner":"o","targets":[]},"doc":null}]}`,
		`{"rows":[{"id":"a","value":{"deleted":true},"doc":{"owner":"o","targets":[]}},{"id":"b","doc":12}]}`,
		`{"rows":[{"id":"a","doc":{"owner":"o","x":` + deep + `,"targets":[]}}]}`,
		`{"rows":[{"id":"a","doc":{"owner":"o","x":[` + deep + `],"targets":[]}}]}`,
		`{"rows":[{"id":"a","doc":{"owner":"o","targets":[{"id":"x","value":{"total":1,"y":` + deep + `}}]}}]}`,
		`{"rows":[{"id":"a","doc":{"owner":"o","targets":[{"id":"x","value":{"total":1}}],}}]}`,
		`{"rows":[{"id":"a","doc":{"owner":"o\u0001","targets":[]}}]}`,
		`{"rows":[{"id":"a","doc":{"owner":"o","targets":[{"id":"x","value":{"total":1e}}]}}]}`,
		// Raw control characters, which JSON strings may not hold.
		"{\"rows\":[{\"id\":\"a\",\"doc\":{\"owner\":\"o\",\"targets\":[{\"id\":\"x\x01\",\"value\":{\"total\":1}}]}}]}",
		"{\"rows\":[{\"id\":\"a\",\"doc\":{\"own\ter\":\"o\",\"targets\":[{\"i\nd\":\"x\",\"value\":{\"to\x1ftal\":1}}]}}]}",
		"{\"rows\":[{\"id\":\"a\",\"doc\":{\"_id\":\"a\",\"parent\":{\"_id\":\"p\x02\"}}}]}",
		"{\"rows\":[{\"id\":\"a\",\"doc\":{\"name\":\"a\x7f\x03\",\"type\":\"user-settings\"}}]}",
	} {
		f.Add([]byte(s))
	}
	// Each kind: its splitter hook and how a row's doc is decoded, as the
	// reads do it.
	type kind struct {
		name   string
		hook   func([]byte, int, int) (int, bool)
		decode func(*row) any
	}
	kinds := func() []kind {
		var t targetDecoder
		var o ownerDecoder
		var u userDecoder
		var l logDecoder
		return []kind{
			{"target", t.splitDoc, func(r *row) any { return decodeRow(&t, r) }},
			{"owner", o.splitDoc, func(r *row) any { return o.decode(r) }},
			{"user", u.splitDoc, func(r *row) any { v, ok := decodeUserRow(&u, r); return fmt.Sprint(v, ok) }},
			{"log", l.splitDoc, func(r *row) any { v, ms, ok := decodeLogRow(&l, r); return fmt.Sprint(v, ms, ok) }},
		}
	}
	type seen struct {
		ID, Key, Doc, Error string
		Deleted             bool
		Decoded             any
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		read := func(k kind, hook bool) ([]seen, error) {
			var doc func([]byte, int, int) (int, bool)
			if hook {
				doc = k.hook
			}
			var out []seen
			// Small answers one byte per read, so that the hook also meets
			// every cut of a doc at the end of the splitter's buffer.
			var in io.Reader = bytes.NewReader(b)
			if len(b) < 1024 {
				in = iotest.OneByteReader(in)
			}
			err := readRowsDocs(context.Background(), in, doc, func(r *row) error {
				if !hook && r.docDecoded {
					t.Fatalf("readRows(%q): a doc decoded without a hook", b)
				}
				s := seen{ID: r.ID, Key: string(r.Key), Doc: string(r.Doc), Error: r.Error, Deleted: r.Deleted}
				if r.hasDoc() {
					s.Decoded = k.decode(r)
				}
				out = append(out, s)
				return nil
			})
			return out, err
		}
		with, without := kinds(), kinds()
		for i := range with {
			got, err := read(with[i], true)
			want, wantErr := read(without[i], false)
			if fmt.Sprint(err) != fmt.Sprint(wantErr) {
				t.Fatalf("readRows(%q) with the %s doc hook: error %v; without: %v", b, with[i].name, err, wantErr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("readRows(%q) with the %s doc hook:\n%+v\nwithout:\n%+v", b, with[i].name, got, want)
			}
		}
	})
}

// FuzzDecodeOwner_fast checks that the one-pass owner decoder, whenever it
// takes a doc, decodes it exactly as the general walker does.
func FuzzDecodeOwner_fast(f *testing.F) {
	var docs []json.RawMessage
	if err := json.Unmarshal(readTestdata(f, "contacts.json"), &docs); err != nil {
		f.Fatal(err)
	}
	for _, d := range docs {
		f.Add([]byte(d))
	}
	deep := `{"_id":"p"}`
	for i := range 70 {
		deep = fmt.Sprintf(`{"_id":"a%d","parent":%s}`, i, deep)
	}
	for _, s := range []string{
		`{"_id":"p","type":"person","parent":{"_id":"c","parent":{"_id":"h","parent":{"_id":"d"}}}}`,
		`{"_id":"p","parent":{"_id":"c","parent":{"_id":"p","parent":{"_id":"d"}}}}`,
		`{"_id":"p","parent":{"_id":"c","x":[1,{"parent":2}],"parent":null}}`,
		`{"parent":{"parent":{"_id":"h"},"_id":"c"},"_id":5}`,
		`{"_id":"p","parent":{"_id":"","parent":{"_id":"d"}}}`,
		`{"_id":"p","parent":` + deep + `}`,
		`{"_id":"p","parent":{"_id":"c","parent":{"_id":"c"}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := decodeOwnerFast("row", b)
		if !ok {
			return
		}
		if want := decodeOwnerSlow("row", b); !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeOwnerFast(%q) =\n%+v\nthe walker gives\n%+v", b, got, want)
		}
	})
}
