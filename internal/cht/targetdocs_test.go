package cht

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
)

func TestDecodeTargetDoc_testdata(t *testing.T) {
	var docs []json.RawMessage
	if err := json.Unmarshal(readTestdata(t, "target_docs.json"), &docs); err != nil {
		t.Fatal(err)
	}
	want := []aggregate.TargetDoc{
		{ID: "target~2024-06~p1~org.couchdb.user:amina", Owner: "p1", UpdatedDate: 1718236800000, Targets: []aggregate.Target{
			{ID: "deaths-this-month", Total: 0},
			{ID: "births-this-month", Total: 3},
			{ID: "facility-deliveries", Total: 5},
			{ID: "active-pregnancies-1+-visits", Total: 4},
		}},
		{ID: "target~2024-06~p2~org.couchdb.user:baraka", Owner: "p2", Targets: []aggregate.Target{
			{ID: "births-this-month", Invalid: "value is null"},
			{ID: "facility-deliveries", Invalid: "value.total is missing"},
			{ID: "active-pregnancies-1+-visits", Invalid: `value.total is "5", not a number`},
			{Invalid: "id is missing"},
			{ID: "fractional", Total: 2.5},
		}},
		{ID: "target~2024-06~p3~org.couchdb.user:chausiku", Owner: "p3", UpdatedDate: 1718236800000, Malformed: "targets is missing"},
		{ID: "target~2024-06~p4~org.couchdb.user:dalila", Owner: "p4", Malformed: "targets is not an array"},
		{ID: "target~2024-06~~org.couchdb.user:ghost", Targets: []aggregate.Target{}, Malformed: "owner is missing"},
	}
	if len(docs) != len(want) {
		t.Fatalf("testdata has %d docs; want %d", len(docs), len(want))
	}
	for i, raw := range docs {
		got := decodeTargetDoc(raw)
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("decodeTargetDoc(doc %d) =\n%+v\nwant\n%+v", i, got, want[i])
		}
	}
}

func TestDecodeTargetDoc_table(t *testing.T) {
	tests := []struct {
		name          string
		doc           string
		wantMalformed string
		wantInvalid   []string // per entry
		wantUpdated   int64
	}{
		{name: "not an object", doc: `"x"`, wantMalformed: "doc is not an object"},
		{name: "array", doc: `[1]`, wantMalformed: "doc is not an object"},
		{name: "owner number", doc: `{"owner":5,"targets":[]}`, wantMalformed: "owner is 5, not a string"},
		{name: "owner empty", doc: `{"owner":"","targets":[]}`, wantMalformed: "owner is empty"},
		{name: "owner null and no targets", doc: `{"owner":null}`, wantMalformed: "owner is missing; targets is missing"},
		{name: "targets null", doc: `{"owner":"a","targets":null}`, wantMalformed: "targets is missing"},
		{name: "targets string", doc: `{"owner":"a","targets":"[]"}`, wantMalformed: "targets is not an array"},
		{name: "updated_date string", doc: `{"owner":"a","targets":[],"updated_date":"1718236800000"}`},
		{name: "updated_date fraction", doc: `{"owner":"a","targets":[],"updated_date":1.5e3}`, wantUpdated: 1500},
		{name: "updated_date huge", doc: `{"owner":"a","targets":[],"updated_date":1e300}`},
		{name: "entries", doc: `{"owner":"a","targets":[
			7,
			{"id":3,"value":{"total":1}},
			{"id":"","value":{"total":1}},
			{"id":"a"},
			{"id":"a","value":"5"},
			{"id":"a","value":{"total":null}},
			{"id":"a","value":{"total":true}},
			{"id":"a","value":{"total":1e999}},
			{"id":"a","value":{"total":-2}}
		]}`, wantInvalid: []string{
			"entry is 7, not an object",
			"id is 3, not a string",
			"id is empty",
			"value is missing",
			`value is "5", not an object`,
			"value.total is null, not a number",
			"value.total is true, not a number",
			"value.total is 1e999, out of range",
			"",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decodeTargetDoc(json.RawMessage(tt.doc))
			if got.Malformed != tt.wantMalformed {
				t.Errorf("Malformed = %q; want %q", got.Malformed, tt.wantMalformed)
			}
			if got.UpdatedDate != tt.wantUpdated {
				t.Errorf("UpdatedDate = %d; want %d", got.UpdatedDate, tt.wantUpdated)
			}
			if tt.wantInvalid != nil {
				var inv []string
				for _, e := range got.Targets {
					inv = append(inv, e.Invalid)
				}
				if !slices.Equal(inv, tt.wantInvalid) {
					t.Errorf("Invalid =\n%q\nwant\n%q", inv, tt.wantInvalid)
				}
			}
		})
	}
}

func TestValidDocMonth(t *testing.T) {
	for m, want := range map[string]bool{
		"2024-06": true, "2024-12": true, "2024-01": true,
		"2024-13": false, "2024-00": false, "202406": false, "2024-6": false, "2024/06": false, "x024-06": false, "": false,
	} {
		if got := validDocMonth(m); got != want {
			t.Errorf("validDocMonth(%q) = %v; want %v", m, got, want)
		}
	}
}

// putTargetDocs stores n target docs of month plus neighbours that must not
// be read.
func putTargetDocs(f *fakeCouch, month string, n int) []string {
	var ids []string
	for i := range n {
		// Owners that do not start with a hex digit: read in one range.
		id := fmt.Sprintf("target~%s~p%02d~org.couchdb.user:u%02d", month, i, i)
		ids = append(ids, id)
		f.put(id, map[string]any{
			"_id": id, "type": "target", "owner": fmt.Sprintf("p%02d", i), "updated_date": 1718236800000 + i,
			"targets": []any{map[string]any{"id": "births-this-month", "value": map[string]any{"pass": i, "total": i}}},
		})
	}
	f.put("target~2024-05~chw00~org.couchdb.user:u00", map[string]any{"owner": "chw00", "targets": []any{}})
	f.put("target~2024-07~chw00~org.couchdb.user:u00", map[string]any{"owner": "chw00", "targets": []any{}})
	f.put("target~2024-060", map[string]any{"owner": "x"})
	f.put("p1", map[string]any{"type": "person"})
	return ids
}

func TestClient_TargetDocs_paging(t *testing.T) {
	tests := []struct {
		name      string
		docs      int
		pageSize  int
		wantPages int
	}{
		{name: "empty month", docs: 0, pageSize: 2, wantPages: 1},
		{name: "one short page", docs: 2, pageSize: 5, wantPages: 1},
		{name: "exactly one page", docs: 2, pageSize: 2, wantPages: 1},
		{name: "extra row is the last row", docs: 3, pageSize: 2, wantPages: 2},
		{name: "second page full", docs: 4, pageSize: 2, wantPages: 2},
		{name: "several pages", docs: 7, pageSize: 2, wantPages: 4},
		{name: "page size one", docs: 3, pageSize: 1, wantPages: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCouch(t)
			wantIDs := putTargetDocs(f, "2024-06", tt.docs)
			cfg := testConfig()
			cfg.PageSize = tt.pageSize
			c, _ := f.start(cfg)
			var gotIDs []string
			n, err := c.TargetDocs(context.Background(), "2024-06", func(d aggregate.TargetDoc) error {
				if d.Malformed != "" {
					t.Errorf("doc %s Malformed = %q", d.ID, d.Malformed)
				}
				gotIDs = append(gotIDs, d.ID)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if n != tt.docs || !slices.Equal(gotIDs, wantIDs) {
				t.Errorf("TargetDocs = %d docs %q; want %d %q", n, gotIDs, tt.docs, wantIDs)
			}
			reqs := f.requests()
			if len(reqs) != tt.wantPages {
				t.Fatalf("server saw %d requests; want %d", len(reqs), tt.wantPages)
			}
			for i, r := range reqs {
				if r.Method != "GET" || r.Path != "/medic/_all_docs" {
					t.Errorf("request %d = %s %s", i, r.Method, r.Path)
				}
				wantStart := `%22target~2024-06~%22`
				if i > 0 {
					wantStart = url.QueryEscape(`"` + wantIDs[i*tt.pageSize] + `"`)
				}
				for _, p := range []string{
					"endkey=%22target~2024-06~%EF%BF%B0%22",
					"include_docs=true",
					fmt.Sprintf("limit=%d", tt.pageSize+1),
					"startkey=" + wantStart,
				} {
					if !strings.Contains(r.Raw, p) {
						t.Errorf("request %d query %q lacks %q", i, r.Raw, p)
					}
				}
				if r.Query.Get("endkey") != "\"target~2024-06~\ufff0\"" {
					t.Errorf("request %d endkey = %q", i, r.Query.Get("endkey"))
				}
			}
		})
	}
}

func TestClient_TargetDocs_skipsDeletedAndMalformed(t *testing.T) {
	f := newFakeCouch(t)
	f.put("target~2024-06~a~u", map[string]any{"owner": "a", "targets": []any{}})
	f.docs["target~2024-06~b~u"] = json.RawMessage(`null`)      // as a deleted doc's row
	f.docs["target~2024-06~c~u"] = json.RawMessage(`"oops"`)    // not an object
	f.docs["target~2024-06~d~u"] = json.RawMessage(`{"_id":5}`) // _id not a string
	c, _ := f.start(testConfig())
	var got []aggregate.TargetDoc
	n, err := c.TargetDocs(context.Background(), "2024-06", func(d aggregate.TargetDoc) error {
		got = append(got, d)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []aggregate.TargetDoc{
		{ID: "target~2024-06~a~u", Owner: "a", Targets: []aggregate.Target{}},
		{ID: "target~2024-06~c~u", Malformed: "doc is not an object"},
		{ID: "target~2024-06~d~u", Malformed: "owner is missing; targets is missing"},
	}
	if n != 3 || !reflect.DeepEqual(got, want) {
		t.Errorf("TargetDocs = %d %+v; want 3 %+v", n, got, want)
	}
}

func TestClient_TargetDocs_errors(t *testing.T) {
	f := newFakeCouch(t)
	putTargetDocs(f, "2024-06", 5)
	cfg := testConfig()
	cfg.PageSize = 2
	c, _ := f.start(cfg)

	t.Run("bad month", func(t *testing.T) {
		_, err := c.TargetDocs(context.Background(), "202406", func(aggregate.TargetDoc) error { return nil })
		if err == nil || err.Error() != "cht: fetch target docs 202406: month must look like 2024-06" {
			t.Fatalf("error = %v", err)
		}
	})
	t.Run("fn error aborts", func(t *testing.T) {
		stop := errors.New("stop here")
		calls := 0
		before := len(f.requests())
		n, err := c.TargetDocs(context.Background(), "2024-06", func(aggregate.TargetDoc) error {
			calls++
			if calls == 3 {
				return stop
			}
			return nil
		})
		if err != stop {
			t.Fatalf("error = %v; want fn's error as is", err)
		}
		if calls != 3 || n != 3 {
			t.Errorf("fn called %d times, n = %d; want 3, 3", calls, n)
		}
		if got := len(f.requests()) - before; got != 2 {
			t.Errorf("%d requests; want 2 (no page after the error)", got)
		}
	})
	t.Run("cancel between pages", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		calls := 0
		_, err := c.TargetDocs(ctx, "2024-06", func(aggregate.TargetDoc) error {
			calls++
			if calls == 2 {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error = %v; want context.Canceled", err)
		}
		if calls != 2 {
			t.Errorf("fn called %d times after cancel; want 2", calls)
		}
	})
}

// putUUIDTargetDocs stores n target docs of owners with random-looking
// UUID ids, as CHT's, and returns their ids in _id order.
func putUUIDTargetDocs(f *fakeCouch, month string, n int) []string {
	var ids []string
	for i := range n {
		owner := fmt.Sprintf("%08x-0000-4000-8000-%012d", uint32(i)*2654435761, i)
		id := fmt.Sprintf("target~%s~%s~org.couchdb.user:u%d", month, owner, i)
		ids = append(ids, id)
		f.put(id, map[string]any{"_id": id, "owner": owner, "targets": []any{
			map[string]any{"id": "births-this-month", "value": map[string]any{"total": i}}}})
	}
	f.put("target~2024-06", map[string]any{"owner": "x"})         // before the range
	f.put("target~2024-06~\ufff0x", map[string]any{"owner": "x"}) // after it
	f.put("target~2024-07~00000000", map[string]any{"owner": "x"})
	slices.Sort(ids)
	return ids
}

// A month larger than a page is read in ranges cut at the owner id's first
// hex digit, by at most cht.concurrency requests at once, and handed over
// in _id order, once each.
func TestClient_TargetDocs_ranges(t *testing.T) {
	for _, conc := range []int{1, 3} {
		t.Run(fmt.Sprintf("concurrency %d", conc), func(t *testing.T) {
			f := newFakeCouch(t)
			f.delay = 2 * time.Millisecond
			want := putUUIDTargetDocs(f, "2024-06", 300)
			cfg := testConfig()
			cfg.PageSize, cfg.Concurrency = 16, conc
			c, _ := f.start(cfg)
			var got []string
			n, err := c.TargetDocs(context.Background(), "2024-06", func(d aggregate.TargetDoc) error {
				got = append(got, d.ID)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if n != len(want) || !slices.Equal(got, want) {
				t.Fatalf("TargetDocs = %d docs, in order %t; want the %d docs in _id order", n, slices.Equal(got, want), len(want))
			}
			if m := int(f.maxInflight.Load()); m > conc || conc > 1 && m < 2 {
				t.Errorf("%d requests at once; want at most %d (and more than one)", m, conc)
			}
			ranges := 0
			for _, r := range f.requests() {
				if r.Query.Get("inclusive_end") == "false" {
					ranges++
				}
			}
			if conc > 1 && ranges < 10 {
				t.Errorf("%d requests with an exclusive end; want the month cut into ranges", ranges)
			}
		})
	}
}

// fn's error stops every range reader; cancellation too.
func TestClient_TargetDocs_rangesStop(t *testing.T) {
	f := newFakeCouch(t)
	putUUIDTargetDocs(f, "2024-06", 300)
	cfg := testConfig()
	cfg.PageSize, cfg.Concurrency = 8, 4
	c, _ := f.start(cfg)
	stop := errors.New("stop here")
	calls := 0
	_, err := c.TargetDocs(context.Background(), "2024-06", func(aggregate.TargetDoc) error {
		calls++
		if calls == 30 {
			return stop
		}
		return nil
	})
	if err != stop || calls != 30 {
		t.Errorf("TargetDocs = %v after %d calls; want fn's error after 30", err, calls)
	}
	if n := len(f.requests()); n > 1+8+4 {
		t.Errorf("%d requests after fn's error at doc 30; want reading to stop", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	calls = 0
	_, err = c.TargetDocs(ctx, "2024-06", func(aggregate.TargetDoc) error {
		calls++
		if calls == 30 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("TargetDocs after cancel = %v; want context.Canceled", err)
	}
}

func TestSplitRange(t *testing.T) {
	got := splitRange("p~", "p~c3")
	want := []idRange{{"p~c3", "p~d"}, {"p~d", "p~e"}, {"p~e", "p~f"}, {"p~f", ""}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("splitRange = %q; want %q", got, want)
	}
	if got := splitRange("p~", "p~x"); len(got) != 1 || got[0] != (idRange{"p~x", ""}) {
		t.Errorf("splitRange after f = %q", got)
	}
}

// Docs decoded one after the other share an arena block but not entries:
// growing one doc's Targets leaves the next doc's alone.
func TestTargetDecoder_arenaDoesNotAlias(t *testing.T) {
	var dec targetDecoder
	raw := func(owner string, total int) []byte {
		return []byte(fmt.Sprintf(`{"owner":%q,"targets":[{"id":"a","value":{"total":%d}},{"id":"b","value":{"total":%d}}]}`, owner, total, total))
	}
	first := dec.decode(raw("o1", 1))
	second := dec.decode(raw("o2", 2))
	first.Targets = append(first.Targets, aggregate.Target{ID: "x", Total: 99})
	if second.Targets[0] != (aggregate.Target{ID: "a", Total: 2}) || len(second.Targets) != 2 || cap(second.Targets) != 2 {
		t.Errorf("second doc's targets = %+v (cap %d) after appending to the first's", second.Targets, cap(second.Targets))
	}
	empty := dec.decode([]byte(`{"owner":"o3","targets":[]}`))
	if empty.Targets == nil || len(empty.Targets) != 0 || cap(empty.Targets) != 0 {
		t.Errorf("empty targets = %#v (cap %d); want empty, not nil, no capacity", empty.Targets, cap(empty.Targets))
	}
}
