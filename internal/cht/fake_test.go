package cht

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/config"
)

// fakeCouch is a small CouchDB for tests: one database, _all_docs (GET with
// startkey/endkey/limit/skip, POST with keys), doc GET, the
// medic-admin/contacts_by_dhis_orgunit view computed like CHT's map.js, and
// optionally CHT's /api/v1/settings. It records every request.
type fakeCouch struct {
	t  *testing.T
	db string

	mu      sync.Mutex
	docs    map[string]json.RawMessage
	deleted map[string]bool
	reqs    []seenRequest

	apiSettings json.RawMessage // nil: /api/v1/settings answers 404
	noView      bool            // the view answers 404 missing_named_view
	// ignoreStartkeyDocid behaves like pouchdb-server, whose views ignore
	// startkey_docid.
	ignoreStartkeyDocid bool
	user, password      string        // when set, required as basic auth
	delay               time.Duration // per request, to observe concurrency

	inflight, maxInflight atomic.Int32
}

type seenRequest struct {
	Method string
	Path   string
	Query  url.Values
	Raw    string // raw query
	Header http.Header
	Body   string
}

func newFakeCouch(t *testing.T) *fakeCouch {
	t.Helper()
	return &fakeCouch{t: t, db: "medic", docs: map[string]json.RawMessage{}, deleted: map[string]bool{}}
}

// start serves f and returns a client for it with cfg adjusted.
func (f *fakeCouch) start(cfg config.CHT) (*Client, *httptest.Server) {
	f.t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	f.t.Cleanup(srv.Close)
	cfg.URL = srv.URL
	if cfg.Database == "" {
		cfg.Database = f.db
	}
	c, err := New(cfg, srv.Client(), nil)
	if err != nil {
		f.t.Fatalf("New: %v", err)
	}
	return c, srv
}

func (f *fakeCouch) put(id string, doc any) {
	f.t.Helper()
	b, err := json.Marshal(doc)
	if err != nil {
		f.t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.docs[id] = b
}

// putRaw adds docs from a JSON array of docs with _id.
func (f *fakeCouch) putFile(path string) {
	f.t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		f.t.Fatal(err)
	}
	var docs []json.RawMessage
	if err := json.Unmarshal(b, &docs); err != nil {
		f.t.Fatal(err)
	}
	for _, d := range docs {
		var id struct {
			ID string `json:"_id"`
		}
		if err := json.Unmarshal(d, &id); err != nil {
			f.t.Fatal(err)
		}
		f.mu.Lock()
		f.docs[id.ID] = d
		f.mu.Unlock()
	}
}

func (f *fakeCouch) requests() []seenRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.reqs)
}

func (f *fakeCouch) serve(w http.ResponseWriter, r *http.Request) {
	n := f.inflight.Add(1)
	defer f.inflight.Add(-1)
	for {
		m := f.maxInflight.Load()
		if n <= m || f.maxInflight.CompareAndSwap(m, n) {
			break
		}
	}
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, seenRequest{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(),
		Raw: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(body)})
	f.mu.Unlock()
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	if f.user != "" {
		u, p, ok := r.BasicAuth()
		if !ok || u != f.user || p != f.password {
			couchError(w, http.StatusUnauthorized, "unauthorized", "Name or password is incorrect.")
			return
		}
	}
	if r.URL.Path == "/api/v1/settings" {
		if f.apiSettings == nil {
			couchError(w, http.StatusNotFound, "not_found", "Database does not exist.")
			return
		}
		writeJSON(w, f.apiSettings)
		return
	}
	prefix := "/" + f.db + "/"
	if !strings.HasPrefix(r.URL.Path, prefix) {
		couchError(w, http.StatusNotFound, "not_found", "Database does not exist.")
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, prefix)
	switch {
	case rest == "_all_docs" && r.Method == http.MethodPost:
		f.allDocsKeys(w, body)
	case rest == "_all_docs":
		f.allDocs(w, r.URL.Query())
	case rest == "_design/medic-admin/_view/contacts_by_dhis_orgunit":
		if f.noView {
			couchError(w, http.StatusNotFound, "not_found", "missing_named_view")
			return
		}
		f.view(w, r.URL.Query())
	default:
		f.mu.Lock()
		doc, ok := f.docs[rest]
		f.mu.Unlock()
		if !ok {
			couchError(w, http.StatusNotFound, "not_found", "missing")
			return
		}
		writeJSON(w, doc)
	}
}

func couchError(w http.ResponseWriter, status int, code, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "reason": reason})
}

func writeJSON(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

type fakeRow struct {
	ID    string          `json:"id,omitempty"`
	Key   json.RawMessage `json:"key"`
	Value json.RawMessage `json:"value,omitempty"`
	Doc   json.RawMessage `json:"doc,omitempty"`
	Error string          `json:"error,omitempty"`
}

func writeRows(w http.ResponseWriter, total, offset int, rows []fakeRow) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(struct {
		TotalRows int       `json:"total_rows"`
		Offset    int       `json:"offset"`
		Rows      []fakeRow `json:"rows"`
	}{total, offset, rows})
}

func queryString(q url.Values, name string) (string, bool) {
	v, ok := q[name]
	if !ok {
		return "", false
	}
	var s string
	if err := json.Unmarshal([]byte(v[0]), &s); err != nil {
		return "", false
	}
	return s, true
}

func queryInt(q url.Values, name string, def int) int {
	if v := q.Get(name); v != "" {
		n, err := strconv.Atoi(v)
		if err == nil {
			return n
		}
	}
	return def
}

func (f *fakeCouch) allDocs(w http.ResponseWriter, q url.Values) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := make([]string, 0, len(f.docs))
	for id := range f.docs {
		ids = append(ids, id)
	}
	slices.Sort(ids) // raw byte order, like CouchDB's _all_docs
	start, hasStart := queryString(q, "startkey")
	end, hasEnd := queryString(q, "endkey")
	limit := queryInt(q, "limit", len(ids))
	skip := queryInt(q, "skip", 0)
	inclusiveEnd := q.Get("inclusive_end") != "false"
	rows := []fakeRow{}
	offset := -1
	for i, id := range ids {
		if (hasStart && id < start) || (hasEnd && (id > end || id == end && !inclusiveEnd)) {
			continue
		}
		if offset < 0 {
			offset = i
		}
		if skip > 0 {
			skip--
			continue
		}
		if len(rows) == limit {
			break
		}
		row := fakeRow{ID: id, Key: mustJSON(id), Value: json.RawMessage(`{"rev":"1-x"}`)}
		if q.Get("include_docs") == "true" {
			row.Doc = f.docs[id]
		}
		rows = append(rows, row)
	}
	writeRows(w, len(ids), max(offset, 0), rows)
}

func (f *fakeCouch) allDocsKeys(w http.ResponseWriter, body []byte) {
	var req struct {
		Keys []string `json:"keys"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		couchError(w, http.StatusBadRequest, "bad_request", "invalid UTF-8 JSON")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	rows := []fakeRow{}
	for _, k := range req.Keys {
		switch {
		case f.deleted[k]:
			rows = append(rows, fakeRow{ID: k, Key: mustJSON(k), Value: json.RawMessage(`{"rev":"2-d","deleted":true}`), Doc: json.RawMessage("null")})
		case f.docs[k] != nil:
			rows = append(rows, fakeRow{ID: k, Key: mustJSON(k), Value: json.RawMessage(`{"rev":"1-x"}`), Doc: f.docs[k]})
		default:
			rows = append(rows, fakeRow{Key: mustJSON(k), Error: "not_found"})
		}
	}
	writeRows(w, len(f.docs), 0, rows)
}

type viewEntry struct {
	key json.RawMessage
	id  string
}

// viewEntries computes medic-admin/contacts_by_dhis_orgunit as CHT's map.js
// does, sorted by key (null < numbers < strings) then id.
func (f *fakeCouch) viewEntries() []viewEntry {
	var out []viewEntry
	for id, raw := range f.docs {
		var doc struct {
			Type any `json:"type"`
			DHIS any `json:"dhis"`
		}
		if json.Unmarshal(raw, &doc) != nil || !jsTruthy(doc.DHIS) {
			continue
		}
		t, _ := doc.Type.(string)
		if !contactTypes[t] {
			continue
		}
		var keys []any
		if arr, ok := doc.DHIS.([]any); ok {
			threw := false
			for _, e := range arr {
				if e == nil {
					threw = true // null.orgUnit throws; CouchDB drops the doc
					break
				}
				keys = append(keys, orgUnitOf(e))
			}
			if threw {
				continue
			}
		} else {
			keys = append(keys, orgUnitOf(doc.DHIS))
		}
		for _, k := range keys {
			out = append(out, viewEntry{key: mustJSON(k), id: id})
		}
	}
	slices.SortFunc(out, func(a, b viewEntry) int {
		if c := collate(a.key, b.key); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	return out
}

func orgUnitOf(v any) any {
	if m, ok := v.(map[string]any); ok {
		return m["orgUnit"]
	}
	return nil
}

func jsTruthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case float64:
		return x != 0
	case string:
		return x != ""
	}
	return true
}

// collate is CouchDB's view collation for null, numbers and strings (byte
// order for strings is enough for these tests).
func collate(a, b json.RawMessage) int {
	var va, vb any
	_ = json.Unmarshal(a, &va)
	_ = json.Unmarshal(b, &vb)
	rank := func(v any) int {
		switch v.(type) {
		case nil:
			return 0
		case bool:
			return 1
		case float64:
			return 2
		case string:
			return 3
		}
		return 4
	}
	if ra, rb := rank(va), rank(vb); ra != rb {
		return ra - rb
	}
	switch x := va.(type) {
	case float64:
		y := vb.(float64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case string:
		return strings.Compare(x, vb.(string))
	}
	return bytes.Compare(a, b)
}

func (f *fakeCouch) view(w http.ResponseWriter, q url.Values) {
	f.mu.Lock()
	defer f.mu.Unlock()
	entries := f.viewEntries()
	startKey, hasStart := q["startkey"]
	startID, hasStartID := q["startkey_docid"]
	if f.ignoreStartkeyDocid {
		hasStartID = false
	}
	limit := queryInt(q, "limit", len(entries))
	skip := queryInt(q, "skip", 0)
	rows := []fakeRow{}
	offset := -1
	for i, e := range entries {
		if hasStart {
			c := collate(e.key, json.RawMessage(startKey[0]))
			if c < 0 || (c == 0 && hasStartID && e.id < startID[0]) {
				continue
			}
		}
		if offset < 0 {
			offset = i
		}
		if skip > 0 {
			skip--
			continue
		}
		if len(rows) == limit {
			break
		}
		row := fakeRow{ID: e.id, Key: e.key, Value: json.RawMessage("null")}
		if q.Get("include_docs") == "true" {
			row.Doc = f.docs[e.id]
		}
		rows = append(rows, row)
	}
	writeRows(w, len(entries), max(offset, 0), rows)
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// testConfig is a config.CHT for tests, pointing nowhere yet.
func testConfig() config.CHT {
	cfg := config.Default().CHT
	// Generous: the whole suite runs with -race on 2 cores next to a
	// pouchdb-server; tests of the timeout itself set their own.
	cfg.Timeout = 30 * time.Second
	return cfg
}
