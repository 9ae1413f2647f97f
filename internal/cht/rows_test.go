package cht

import (
	"context"
	"encoding/json"
	"errors"
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
