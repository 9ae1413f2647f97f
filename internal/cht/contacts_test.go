package cht

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
)

// wantContacts are the contacts of testdata/contacts.json that the view
// finds, in view order (key: null < numbers < strings, then id). The view's
// rows are h4 (null, from its "junk" element), p3 (null), p4 (42), d1, h1
// and p2 (both "ouHc0000001"), h4 three times, h1 ("ouHcOther01").
var wantContacts = []aggregate.Contact{
	{ID: "h4", Name: "Mixed HC", Lineage: []string{"d1"}, OrgUnits: []aggregate.OrgUnitMapping{
		{OrgUnit: "ouHc0000004"}, {OrgUnit: "ouHc0000006"}}},
	{ID: "p3", Name: "Chausiku", Lineage: []string{"h1", "d1"}},
	{ID: "p4", Name: "Area 42"},
	{ID: "d1", Name: "Kilifi District", OrgUnits: []aggregate.OrgUnitMapping{{OrgUnit: "ouDistrict1"}}},
	{ID: "h1", Name: "Mtwapa Health Centre", Lineage: []string{"d1"}, OrgUnits: []aggregate.OrgUnitMapping{
		{OrgUnit: "ouHc0000001", DataSet: "VMuFODsyWaO"}, {OrgUnit: "ouHcOther01", DataSet: "dsOther0001"}}},
	{ID: "p2", Name: "Baraka Nurse", Lineage: []string{"h1", "d1"}, OrgUnits: []aggregate.OrgUnitMapping{{OrgUnit: "ouHc0000001"}}},
}

func collectContacts(t *testing.T, c *Client) []aggregate.Contact {
	t.Helper()
	var got []aggregate.Contact
	if err := c.Contacts(context.Background(), func(ct aggregate.Contact) error {
		got = append(got, ct)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestClient_Contacts_view(t *testing.T) {
	tests := []struct {
		name        string
		pageSize    int
		pouchLike   bool
		wantQueries []string // startkey|startkey_docid|skip per page
	}{
		{name: "one page", pageSize: 100, wantQueries: []string{"||"}},
		{name: "pages of two", pageSize: 2, wantQueries: []string{
			"||",
			`42|p4|`,
			`"ouHc0000001"|h1|`,
			`"ouHc0000004"|h4|`,
			`"ouHc0000006"|h4|`,
		}},
		{name: "pages of one", pageSize: 1, wantQueries: []string{
			"||",
			`null|p3|`,
			`42|p4|`,
			`"ouDistrict1"|d1|`,
			`"ouHc0000001"|h1|`,
			`"ouHc0000001"|p2|`,
			`"ouHc0000004"|h4|`,
			`"ouHc0000005"|h4|`,
			`"ouHc0000006"|h4|`,
			`"ouHcOther01"|h1|`,
		}},
		{name: "pages of one, server ignores startkey_docid", pageSize: 1, pouchLike: true, wantQueries: []string{
			"||",
			`null|p3|`, // answered from h4: detected, asked again with skip
			`null||1`,
			`42||`,
			`"ouDistrict1"||`,
			`"ouHc0000001"||`,
			`"ouHc0000001"||1`,
			`"ouHc0000004"||`,
			`"ouHc0000005"||`,
			`"ouHc0000006"||`,
			`"ouHcOther01"||`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCouch(t)
			f.putFile("testdata/contacts.json")
			f.ignoreStartkeyDocid = tt.pouchLike
			cfg := testConfig()
			cfg.PageSize = tt.pageSize
			c, _ := f.start(cfg)
			got := collectContacts(t, c)
			if !reflect.DeepEqual(got, wantContacts) {
				t.Errorf("Contacts =\n%+v\nwant\n%+v", got, wantContacts)
			}
			var queries []string
			for _, r := range f.requests() {
				if r.Path != "/medic/_design/medic-admin/_view/contacts_by_dhis_orgunit" {
					t.Errorf("request to %s; want only the view", r.Path)
				}
				if r.Query.Get("include_docs") != "true" || r.Query.Get("limit") != fmt.Sprint(tt.pageSize+1) {
					t.Errorf("query %q lacks include_docs=true&limit=%d", r.Raw, tt.pageSize+1)
				}
				queries = append(queries, r.Query.Get("startkey")+"|"+r.Query.Get("startkey_docid")+"|"+r.Query.Get("skip"))
			}
			if !slices.Equal(queries, tt.wantQueries) {
				t.Errorf("pages asked =\n%q\nwant\n%q", queries, tt.wantQueries)
			}
		})
	}
}

func TestClient_Contacts_longRunOfOneKey(t *testing.T) {
	for _, pouchLike := range []bool{false, true} {
		t.Run(fmt.Sprintf("ignores startkey_docid %v", pouchLike), func(t *testing.T) {
			f := newFakeCouch(t)
			f.ignoreStartkeyDocid = pouchLike
			var want []string
			for i := range 7 {
				id := fmt.Sprintf("chw%d", i)
				want = append(want, id)
				f.put(id, map[string]any{"_id": id, "type": "person", "dhis": map[string]any{"dataSet": "x"}}) // null key
			}
			f.put("hc", map[string]any{"_id": "hc", "type": "health_center", "dhis": map[string]any{"orgUnit": "ou1"}})
			want = append(want, "hc")
			cfg := testConfig()
			cfg.PageSize = 2
			c, _ := f.start(cfg)
			var got []string
			for _, ct := range collectContacts(t, c) {
				got = append(got, ct.ID)
			}
			if !slices.Equal(got, want) {
				t.Errorf("Contacts = %q; want %q", got, want)
			}
			if n := len(f.requests()); n > 8 {
				t.Errorf("%d requests for 8 rows in pages of 2", n)
			}
		})
	}
}

func TestClient_Contacts_fallbackScan(t *testing.T) {
	var logs bytes.Buffer
	f := newFakeCouch(t)
	f.putFile("testdata/contacts.json")
	f.noView = true
	cfg := testConfig()
	cfg.PageSize = 3
	cfg.URL = "http://placeholder"
	c, srv := f.start(cfg)
	c.log = slog.New(slog.NewTextHandler(&logs, nil)).With("component", "cht")
	_ = srv

	for range 2 {
		got := collectContacts(t, c)
		want := slices.Clone(wantContacts)
		slices.SortFunc(want, func(a, b aggregate.Contact) int { return strings.Compare(a.ID, b.ID) })
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Contacts (fallback) =\n%+v\nwant\n%+v", got, want)
		}
	}
	if n := strings.Count(logs.String(), "level=INFO"); n != 1 {
		t.Errorf("logged %d Info lines; want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "contacts_by_dhis_orgunit is absent") {
		t.Errorf("log lacks the fallback message:\n%s", logs.String())
	}
	var allDocs int
	for _, r := range f.requests() {
		if r.Path == "/medic/_all_docs" {
			allDocs++
			if r.Query.Get("include_docs") != "true" || r.Query.Get("limit") != "4" {
				t.Errorf("fallback query %q", r.Raw)
			}
		}
	}
	if want := 2 * 5; allDocs != want { // 13 docs in pages of 3 (+1), twice
		t.Errorf("%d _all_docs requests; want %d", allDocs, want)
	}
}

func TestClient_Contacts_errors(t *testing.T) {
	t.Run("fn error aborts", func(t *testing.T) {
		f := newFakeCouch(t)
		f.putFile("testdata/contacts.json")
		c, _ := f.start(testConfig())
		stop := errors.New("stop")
		err := c.Contacts(context.Background(), func(aggregate.Contact) error { return stop })
		if err != stop {
			t.Fatalf("error = %v; want fn's error", err)
		}
	})
	t.Run("fn returning a 404 does not trigger the fallback", func(t *testing.T) {
		f := newFakeCouch(t)
		f.putFile("testdata/contacts.json")
		c, _ := f.start(testConfig())
		nf := &StatusError{Op: "caller", StatusCode: 404}
		err := c.Contacts(context.Background(), func(aggregate.Contact) error { return nf })
		if err != nf {
			t.Fatalf("error = %v; want fn's error", err)
		}
		for _, r := range f.requests() {
			if r.Path == "/medic/_all_docs" {
				t.Errorf("fallback scan ran after fn's error")
			}
		}
	})
	t.Run("no database", func(t *testing.T) {
		f := newFakeCouch(t)
		cfg := testConfig()
		cfg.Database = "nodb"
		c, _ := f.start(cfg)
		err := c.Contacts(context.Background(), func(aggregate.Contact) error { return nil })
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("error = %v; want ErrNotFound", err)
		}
	})
}

func TestViewWouldEmit(t *testing.T) {
	tests := []struct {
		doc  string
		want bool
	}{
		{`{"type":"person","dhis":{"orgUnit":"a"}}`, true},
		{`{"type":"contact","contact_type":"x","dhis":{}}`, true},
		{`{"type":"clinic","dhis":"str"}`, true},
		{`{"type":"clinic","dhis":1}`, true},
		{`{"type":"clinic","dhis":0}`, false},
		{`{"type":"clinic","dhis":""}`, false},
		{`{"type":"clinic","dhis":null}`, false},
		{`{"type":"clinic"}`, false},
		{`{"type":"data_record","dhis":{"orgUnit":"a"}}`, false},
		{`{"type":["person"],"dhis":{"orgUnit":"a"}}`, false},
		{`{"type":"health_center","dhis":[]}`, false},
		{`{"type":"health_center","dhis":[null]}`, false},
		{`{"type":"health_center","dhis":[{"orgUnit":"a"},null]}`, false},
		{`{"type":"health_center","dhis":[{"orgUnit":"a"},"x",[1]]}`, true},
	}
	for _, tt := range tests {
		w, ok := readContact([]byte(tt.doc))
		if !ok {
			t.Fatalf("readContact(%s) failed", tt.doc)
		}
		if got := viewWouldEmit(w); got != tt.want {
			t.Errorf("viewWouldEmit(%s) = %v; want %v", tt.doc, got, tt.want)
		}
	}
}

func TestLineage(t *testing.T) {
	deep := `{"_id":"x0"}`
	for i := 1; i < 100; i++ {
		deep = fmt.Sprintf(`{"_id":"x%d","parent":%s}`, i, deep)
	}
	tests := []struct {
		name   string
		parent string
		want   []string
	}{
		{name: "none", parent: ``},
		{name: "null", parent: `null`},
		{name: "chain", parent: `{"_id":"c1","parent":{"_id":"h1","parent":{"_id":"d1"}}}`, want: []string{"c1", "h1", "d1"}},
		{name: "cycle to self", parent: `{"_id":"c1","parent":{"_id":"me","parent":{"_id":"d1"}}}`, want: []string{"c1"}},
		{name: "cycle", parent: `{"_id":"c1","parent":{"_id":"h1","parent":{"_id":"c1"}}}`, want: []string{"c1", "h1"}},
		{name: "id not a string", parent: `{"_id":"c1","parent":{"_id":7,"parent":{"_id":"d1"}}}`, want: []string{"c1"}},
		{name: "empty id", parent: `{"_id":"","parent":{"_id":"d1"}}`},
		{name: "parent a string", parent: `"c1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := lineage("me", json.RawMessage(tt.parent))
			if !slices.Equal(got, tt.want) {
				t.Errorf("lineage(%s) = %q; want %q", tt.parent, got, tt.want)
			}
		})
	}
	t.Run("depth cap", func(t *testing.T) {
		got := lineage("me", json.RawMessage(deep))
		if len(got) != maxLineageDepth || got[0] != "x99" {
			t.Errorf("lineage(deep) has %d ids starting %q; want %d starting x99", len(got), got[0], maxLineageDepth)
		}
	})
}

func TestClient_Owners(t *testing.T) {
	f := newFakeCouch(t)
	f.putFile("testdata/contacts.json")
	f.deleted["gone"] = true
	f.delay = 30 * time.Millisecond // so that batches overlap
	cfg := testConfig()
	cfg.BatchSize = 2
	cfg.Concurrency = 2
	c, _ := f.start(cfg)

	got, err := c.Owners(context.Background(), []string{"p1", "missing", "h4", "gone", "p2", "p1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []aggregate.Owner{
		{ID: "p1", Lineage: []string{"c1", "h1", "d1"}},
		{ID: "h4", Lineage: []string{"d1"}},
		{ID: "p2", Lineage: []string{"h1", "d1"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Owners = %+v; want %+v", got, want)
	}
	reqs := f.requests()
	var bodies []string
	for _, r := range reqs {
		if r.Method != "POST" || r.Path != "/medic/_all_docs" || r.Raw != "include_docs=true" {
			t.Errorf("request %s %s?%s", r.Method, r.Path, r.Raw)
		}
		bodies = append(bodies, r.Body)
	}
	slices.Sort(bodies)
	// 5 distinct ids in batches of 2: [p1 missing] [h4 gone] [p2].
	wantBodies := []string{`{"keys":["h4","gone"]}`, `{"keys":["p1","missing"]}`, `{"keys":["p2"]}`}
	if !slices.Equal(bodies, wantBodies) {
		t.Errorf("bodies = %q; want %q", bodies, wantBodies)
	}
	if m := f.maxInflight.Load(); m > 2 || m < 1 {
		t.Errorf("max requests in flight = %d; want 1..2", m)
	}
}

func TestClient_Owners_none(t *testing.T) {
	f := newFakeCouch(t)
	c, _ := f.start(testConfig())
	got, err := c.Owners(context.Background(), nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("Owners(nil) = %v, %v", got, err)
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests; want 0", n)
	}
}

func TestClient_Owners_concurrencyOne(t *testing.T) {
	f := newFakeCouch(t)
	f.putFile("testdata/contacts.json")
	f.delay = 10 * time.Millisecond
	cfg := testConfig()
	cfg.BatchSize = 1
	cfg.Concurrency = 1
	c, _ := f.start(cfg)
	ids := []string{"p2", "d1", "h1", "c1"}
	got, err := c.Owners(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	var gotIDs []string
	for _, o := range got {
		gotIDs = append(gotIDs, o.ID)
	}
	if !slices.Equal(gotIDs, ids) {
		t.Errorf("Owners order = %q; want %q", gotIDs, ids)
	}
	if m := f.maxInflight.Load(); m != 1 {
		t.Errorf("max in flight = %d; want 1", m)
	}
}

func TestDecodeOwner_notObject(t *testing.T) {
	got := decodeOwner("x", json.RawMessage(`[1]`))
	if !reflect.DeepEqual(got, aggregate.Owner{ID: "x"}) {
		t.Errorf("decodeOwner = %+v", got)
	}
}

func TestRow_hasDoc(t *testing.T) {
	tests := []struct {
		row  string
		want bool
	}{
		{`{"id":"a","key":"a","value":{"rev":"1-a"},"doc":{"_id":"a"}}`, true},
		{`{"id":"a","key":"a","value":{"rev":"2-a","deleted":true},"doc":null}`, false},
		{`{"id":"a","key":"a","value":{"rev":"2-a","deleted":true},"doc":{"_id":"a","_deleted":true}}`, false},
		{`{"id":"a","key":"a","value":{"rev":"1-a"}}`, false},
		{`{"key":"a","error":"not_found"}`, false},
		{`{"id":"a","key":"ou","value":null,"doc":{"_id":"a"}}`, true},
	}
	for _, tt := range tests {
		var r row
		if !r.parse([]byte(tt.row)) {
			t.Fatalf("parse(%s) failed", tt.row)
		}
		if got := r.hasDoc(); got != tt.want {
			t.Errorf("hasDoc(%s) = %v; want %v", tt.row, got, tt.want)
		}
	}
}

// The usual owner doc takes the one-pass path, lineage and all.
func TestDecodeOwnerFast_usualShape(t *testing.T) {
	doc := `{"_id":"p","_rev":"1-a","type":"person","name":"CHW","parent":{"_id":"c","parent":{"_id":"h","parent":{"_id":"d"}}},"reported_date":1}`
	got, ok := decodeOwnerFast("row", []byte(doc))
	want := aggregate.Owner{ID: "p", Lineage: []string{"c", "h", "d"}}
	if !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("decodeOwnerFast = %+v, %t; want %+v, true", got, ok, want)
	}
}
