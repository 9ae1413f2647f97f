package cht

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
)

func TestReadRows(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantIDs []string
		wantErr string
	}{
		{name: "couchdb", body: `{"total_rows":3,"offset":0,"rows":[{"id":"a","key":"a","value":{"rev":"1-x"},"doc":{"_id":"a"}},{"id":"b","key":"b","value":{"rev":"1-x"}}]}`, wantIDs: []string{"a", "b"}},
		{name: "rows first, extras after", body: `{"rows":[{"id":"a"}],"total_rows":1,"offset":0,"update_seq":"5-x"}`, wantIDs: []string{"a"}},
		{name: "rows null", body: `{"total_rows":0,"rows":null}`},
		{name: "rows empty", body: `{"total_rows":0,"offset":0,"rows":[]}`},
		{name: "view values", body: `{"rows":[{"id":"a","key":null,"value":"x"},{"id":"b","key":1,"value":[1]},{"id":"c","value":{"deleted":"yes"}}]}`, wantIDs: []string{"a", "b", "c"}},
		{name: "odd row skipped", body: `{"rows":[{"id":1},{"id":"b"},"x"]}`, wantIDs: []string{"b"}},
		{name: "no rows", body: `{"total_rows":0}`, wantErr: "decode rows: the answer has no rows"},
		{name: "error object", body: `{"error":"not_found","reason":"missing"}`, wantErr: "the answer has no rows"},
		{name: "rows not array", body: `{"rows":{}}`, wantErr: "decode rows: rows is {, not an array"},
		{name: "not object", body: `[]`, wantErr: `decode rows: got [, want "{"`},
		{name: "empty", body: ``, wantErr: "decode rows: unexpected EOF"},
		{name: "html", body: `<html>`, wantErr: "decode rows: invalid character '<'"},
		{name: "truncated in a row", body: `{"rows":[{"id":"a"},{"id":"b","doc":{"_id`, wantIDs: []string{"a"}, wantErr: "decode rows: unexpected EOF"},
		{name: "truncated after rows", body: `{"rows":[{"id":"a"}]`, wantIDs: []string{"a"}, wantErr: "decode rows: unexpected EOF"},
		{name: "truncated in extras", body: `{"total_rows":`, wantErr: "decode rows: unexpected EOF"},
		{name: "trailing data", body: `{"rows":[]} {"rows":[]}`, wantErr: "decode rows: data after the answer"},
		{name: "trailing newline", body: "{\"rows\":[]}\n"},
		{name: "bad key token", body: `{"rows":[],}`, wantErr: "decode rows: invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ids []string
			err := readRows(context.Background(), strings.NewReader(tt.body), func(r *row) error {
				ids = append(ids, r.ID)
				return nil
			})
			if tt.wantErr == "" && err != nil {
				t.Fatalf("readRows = %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("readRows error = %v; want %q", err, tt.wantErr)
			}
			if !slices.Equal(ids, tt.wantIDs) {
				t.Errorf("rows = %q; want %q", ids, tt.wantIDs)
			}
		})
	}
}

func TestReadRows_stopsOnCallbackError(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := readRows(context.Background(), strings.NewReader(`{"rows":[{"id":"a"},{"id":"b"}]}`), func(*row) error {
		n++
		return stop
	})
	if err != stop || n != 1 {
		t.Errorf("readRows = %v after %d rows; want stop after 1", err, n)
	}
}

// oneByteReader hands out one byte per Read, to check that rows are handed
// over while the body is still being read.
type gatedReader struct {
	data   string
	gate   int // bytes readable before fn has seen a row
	seen   *int
	served int
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if g.served >= len(g.data) {
		return 0, io.EOF
	}
	if g.served >= g.gate && *g.seen == 0 {
		return 0, errors.New("read past the first row before handing it over")
	}
	p[0] = g.data[g.served]
	g.served++
	return 1, nil
}

func TestReadRows_streams(t *testing.T) {
	first := `{"total_rows":2,"rows":[{"id":"a","doc":{"_id":"a"}},`
	body := first + `{"id":"b"}]}`
	seen := 0
	// The decoder may look one byte ahead to finish the first row.
	r := &gatedReader{data: body, gate: len(first) + 1, seen: &seen}
	if err := readRows(context.Background(), r, func(*row) error { seen++; return nil }); err != nil {
		t.Fatal(err)
	}
	if seen != 2 {
		t.Errorf("saw %d rows; want 2", seen)
	}
}

func TestHelpers(t *testing.T) {
	for raw, want := range map[string]bool{
		``: false, `null`: false, `false`: false, `0`: false, `-0`: false, `0.0`: false, `""`: false,
		`true`: true, `1`: true, `"0"`: true, `{}`: true, `[]`: true, `" "`: true,
	} {
		if got := truthy(json.RawMessage(raw)); got != want {
			t.Errorf("truthy(%s) = %v; want %v", raw, got, want)
		}
	}
	if got := string(compactJSON(json.RawMessage(` { "a" : [ 1 , 2 ] } `))); got != `{"a":[1,2]}` {
		t.Errorf("compactJSON = %s", got)
	}
	if got := string(compactJSON(nil)); got != "null" {
		t.Errorf("compactJSON(nil) = %s", got)
	}
	if got := string(compactJSON(json.RawMessage(`{bad`))); got != `{bad` {
		t.Errorf("compactJSON(bad) = %s", got)
	}
	if got := string(encodeJSONString("target~2024-06~\ufff0<&>")); got != "\"target~2024-06~\ufff0<&>\"" {
		t.Errorf("encodeJSONString = %s", got)
	}
	if s, ok := jsonString(json.RawMessage(`"bad \x"`)); ok {
		t.Errorf("jsonString(bad escape) = %q, true", s)
	}
	if got := describe(json.RawMessage(`"` + strings.Repeat("x", 100) + `"`)); len(got) > 45 || !strings.HasSuffix(got, "…") {
		t.Errorf("describe(long) = %q", got)
	}
}

// A row may be large, but not endless: past maxValueSize the answer is
// refused instead of buffered.
func TestReadRows_rowSize(t *testing.T) {
	big := `{"rows":[{"id":"a","doc":{"pad":"` + strings.Repeat("x", 1<<20) + `"}}]}`
	n := 0
	if err := readRows(context.Background(), strings.NewReader(big), func(*row) error { n++; return nil }); err != nil || n != 1 {
		t.Errorf("readRows(1 MiB row) = %v after %d rows; want 1 row", err, n)
	}
	huge := io.MultiReader(strings.NewReader(`{"rows":[{"id":"a","doc":{"pad":"`), &repeatReader{b: 'x', n: maxValueSize + 1<<20})
	err := readRows(context.Background(), huge, func(*row) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "decode rows: a row is larger than 16 MiB") {
		t.Errorf("readRows(17 MiB row) = %v; want a size error", err)
	}
}

// repeatReader yields n copies of b.
type repeatReader struct {
	b byte
	n int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	k := min(len(p), r.n)
	for i := range k {
		p[i] = r.b
	}
	r.n -= k
	return k, nil
}

// Nesting is limited as encoding/json limits it: 10 000 levels in all,
// the answer's own two included. (The json.Decoder reader counted from
// each row, so it took an answer json.Valid refuses.)
func TestReadRows_nesting(t *testing.T) {
	for _, depth := range []int{maxNesting - 3, maxNesting - 2} {
		doc := strings.Repeat("[", depth) + strings.Repeat("]", depth)
		body := `{"rows":[{"id":"a","doc":` + doc + `}]}`
		err := readRows(context.Background(), strings.NewReader(body), func(*row) error { return nil })
		if (err == nil) != json.Valid([]byte(body)) {
			t.Errorf("depth %d: readRows = %v; json.Valid = %v", depth+3, err, json.Valid([]byte(body)))
		}
	}
}

// TestReadRows_splitDoc checks that each kind of doc read with a doc hook
// is decoded while its row is split when it has the usual shape (so the
// splitter steps over it), and left to the splitter and the general
// decoder when it does not, with the same result either way.
func TestReadRows_splitDoc(t *testing.T) {
	const (
		target = `{"_id":"target~2024-06~c~org.couchdb.user:u","type":"target","owner":"c","user":"org.couchdb.user:u","reporting_period":"2024-06","updated_date":1719792000000,"targets":[{"id":"deaths","value":{"pass":1,"total":2}}]}`
		owner  = `{"_id":"c","type":"person","name":"C","parent":{"_id":"a","parent":{"_id":"h","parent":{"_id":"d"}}},"reported_date":1}`
		user   = `{"_id":"org.couchdb.user:u","type":"user-settings","name":"u","fullname":"U","contact_id":"c","facility_id":"a","roles":["chw"],"known":true}`
		log    = `{"_id":"replication-count-u","user":"u","date":1719792000000,"count":12}`
	)
	tests := []struct {
		name  string
		doc   string
		split bool // decoded while split
		want  string
	}{
		{"target", target, true, "{ID:target~2024-06~c~org.couchdb.user:u Owner:c UpdatedDate:1719792000000 Targets:[{ID:deaths Total:2 Invalid:}] Malformed:}"},
		{"target", strings.Replace(target, `"owner"`, `"\u006fwner"`, 1), false, "{ID:target~2024-06~c~org.couchdb.user:u Owner:c UpdatedDate:1719792000000 Targets:[{ID:deaths Total:2 Invalid:}] Malformed:}"},
		{"owner", owner, true, "{ID:c Lineage:[a h d]}"},
		{"owner", `{"type":"person","parent":{"_id":"a"}}`, false, "{ID:row Lineage:[a]}"}, // no _id: the row's stands in
		{"user", user, true, "{Name:u FullName:U ContactID:c FacilityIDs:[a] Roles:[chw]} true"},
		{"user", `{"type":"user-settings","roles":"chw"}`, true, "{Name:row FullName: ContactID: FacilityIDs:[] Roles:[chw]} true"},
		{"user", strings.Replace(user, `"name"`, `"n\u0061me"`, 1), false, "{Name:u FullName:U ContactID:c FacilityIDs:[a] Roles:[chw]} true"},
		{"log", log, true, "u 1.719792e+12 true"},
		{"log", `{"date":"yesterday"}`, true, " 0 false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				hook   func([]byte, int, int) (int, bool)
				decode func(*row) string
			)
			switch tt.name {
			case "target":
				var d targetDecoder
				hook, decode = d.splitDoc, func(r *row) string { return fmt.Sprintf("%+v", decodeRow(&d, r)) }
			case "owner":
				var d ownerDecoder
				hook, decode = d.splitDoc, func(r *row) string { return fmt.Sprintf("%+v", d.decode(r)) }
			case "user":
				var d userDecoder
				hook, decode = d.splitDoc, func(r *row) string { u, ok := decodeUserRow(&d, r); return fmt.Sprintf("%+v %v", u, ok) }
			case "log":
				var d logDecoder
				hook, decode = d.splitDoc, func(r *row) string { u, ms, ok := decodeLogRow(&d, r); return fmt.Sprint(u, " ", ms, " ", ok) }
			}
			body := `{"total_rows":1,"offset":0,"rows":[{"id":"row","key":"row","value":{"rev":"1-x"},"doc":` + tt.doc + `}]}`
			n := 0
			err := readRowsDocs(context.Background(), strings.NewReader(body), hook, func(r *row) error {
				n++
				if r.docDecoded != tt.split {
					t.Errorf("docDecoded = %v; want %v", r.docDecoded, tt.split)
				}
				if got := decode(r); got != tt.want {
					t.Errorf("decoded\n%s\nwant\n%s", got, tt.want)
				}
				return nil
			})
			if err != nil || n != 1 {
				t.Fatalf("readRowsDocs = %v after %d rows", err, n)
			}
		})
	}
}
