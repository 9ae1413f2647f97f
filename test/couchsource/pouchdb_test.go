package couchsource_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/couchdb"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/couchsource"
)

// The generated docs, loaded into pouchdb-server (a CouchDB-compatible
// server), give the same answers to every request the mediator's preview
// and its readiness make as the source gives: same rows, keys, values
// and docs (revisions aside: pouchdb-server makes its own), same
// total_rows and offsets, same error rows. So the benchmark's server
// answers as a CouchDB holding the same docs would.
func TestSource_matchesPouchDB(t *testing.T) {
	if testing.Short() {
		t.Skip("starts pouchdb-server (node); skipped with -short")
	}
	opts := couchsource.National(60, "2024-06")
	src := start(t, opts)
	pdb := couchdb.StartT(t, couchdb.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Load every doc of both databases, without the source's revisions.
	for _, db := range []string{"medic", "medic-logs"} {
		if err := pdb.CreateDB(ctx, db); err != nil {
			t.Fatal(err)
		}
		var docs []any
		for _, r := range get(t, src, "/"+db+"/_all_docs", url.Values{"include_docs": {"true"}}).Rows {
			var doc map[string]any
			if err := json.Unmarshal(r.Doc, &doc); err != nil {
				t.Fatal(err)
			}
			delete(doc, "_rev")
			docs = append(docs, doc)
		}
		if err := pdb.BulkDocs(ctx, db, docs); err != nil {
			t.Fatal(err)
		}
	}
	c := src.Data.Counts()
	if got := len(get(t, src, "/medic/_all_docs", nil).Rows); got != c.Docs || c.Contacts != 60+12+2+1+12 || c.Users != 60 || c.Reports != 120 {
		t.Fatalf("%d docs, counts %+v", got, c)
	}
	js := func(s string) string { return jsonString(s) }
	month := "target~2024-06~"
	for _, q := range []struct {
		method, path string
		params       url.Values
		body         string
	}{
		{"GET", "/medic/_all_docs", url.Values{"include_docs": {"true"}}, ""},
		{"GET", "/medic/_all_docs", url.Values{"include_docs": {"true"}, "startkey": {js(month)}, "endkey": {js(month + "\ufff0")}, "limit": {"25"}}, ""},
		{"GET", "/medic/_all_docs", url.Values{"include_docs": {"true"}, "startkey": {js(month)}, "endkey": {js(month + "\ufff0")}, "limit": {"25"}, "skip": {"25"}}, ""},
		{"GET", "/medic/_all_docs", url.Values{"startkey": {js(month)}, "endkey": {js(month + "\ufff0")}, "inclusive_end": {"false"}}, ""},
		{"GET", "/medic/_all_docs", url.Values{"include_docs": {"true"}, "startkey": {js("org.couchdb.user:")}, "endkey": {js("org.couchdb.user:\ufff0")}, "limit": {"40"}}, ""},
		{"GET", "/medic-logs/_all_docs", url.Values{"include_docs": {"true"}, "startkey": {js("replication-count-")}, "endkey": {js("replication-count-\ufff0")}}, ""},
		{"POST", "/medic/_all_docs", url.Values{"include_docs": {"true"}}, ""}, // keys: filled below
		{"GET", "/medic/_design/medic-admin/_view/contacts_by_dhis_orgunit", url.Values{"include_docs": {"true"}}, ""},
		{"GET", "/medic/_design/medic-admin/_view/contacts_by_dhis_orgunit", url.Values{"include_docs": {"true"}, "limit": {"5"}, "skip": {"2"}}, ""},
		{"GET", "/medic/settings", nil, ""},
		{"GET", "/medic/org.couchdb.user:chw000007", nil, ""},
		{"GET", "/medic-logs/replication-count-chw000060", nil, ""},
		{"GET", "/medic/nope", nil, ""},
	} {
		body := q.body
		if q.method == "POST" {
			// The owners of a few target docs, a supervisor, a clinic,
			// a missing id and a repeated one, as an owners batch.
			rows := get(t, src, "/medic/_all_docs", url.Values{"startkey": {js(month)}, "limit": {"3"}}).Rows
			var keys []string
			for _, r := range rows {
				keys = append(keys, r.ID[len(month):len(month)+36])
			}
			all := get(t, src, "/medic/_all_docs", nil).Rows
			keys = append(keys, all[10].ID, all[len(all)/2].ID, "missing-id", keys[0])
			b, _ := json.Marshal(map[string]any{"keys": keys})
			body = string(b)
		}
		name := q.method + " " + q.path + "?" + q.params.Encode()
		srcCode, srcBody := request(t, q.method, src.URL+q.path, q.params, body, "", "")
		pdbCode, pdbBody := request(t, q.method, pdb.URL()+q.path, q.params, body, "", "")
		if srcCode != pdbCode {
			t.Errorf("%s: source %d, pouchdb-server %d: %.300s", name, srcCode, pdbCode, pdbBody)
			continue
		}
		if got, want := canonical(t, srcBody), canonical(t, pdbBody); !reflect.DeepEqual(got, want) {
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(want)
			t.Errorf("%s differs:\nsource         %.1500s\npouchdb-server %.1500s", name, gj, wj)
		}
	}
}

func request(t *testing.T, method, u string, params url.Values, body, user, pass string) (int, []byte) {
	t.Helper()
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	var rd io.Reader
	if body != "" {
		rd = bytes.NewReader([]byte(body))
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// canonical decodes an answer and drops what differs between two servers
// holding the same docs: revisions (docs' _rev, rows' value.rev), the
// reason text of errors, and a rows answer's offset: pouchdb-server sets
// it to the skip alone, where CouchDB (and the source) count the rows
// before the start key; no reader of the mediator uses it.
func canonical(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%.200s: %v", b, err)
	}
	if m, ok := v.(map[string]any); ok {
		if _, rows := m["rows"]; rows {
			delete(m, "offset")
		}
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			delete(v, "_rev")
			delete(v, "rev")
			if _, ok := v["error"]; ok {
				delete(v, "reason")
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	return v
}
