package couchsource_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/cht"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/config"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/couchsource"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/seed"
)

func start(t *testing.T, opts couchsource.Options) *couchsource.Server {
	t.Helper()
	s, err := couchsource.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

type rowsAnswer struct {
	TotalRows int `json:"total_rows"`
	Offset    int `json:"offset"`
	Rows      []struct {
		ID    string          `json:"id"`
		Key   json.RawMessage `json:"key"`
		Value json.RawMessage `json:"value"`
		Doc   json.RawMessage `json:"doc"`
		Error string          `json:"error"`
	} `json:"rows"`
}

func get(t *testing.T, s *couchsource.Server, path string, q url.Values) rowsAnswer {
	t.Helper()
	resp, err := http.Get(s.URL + path + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return decodeRows(t, resp)
}

func decodeRows(t *testing.T, resp *http.Response) rowsAnswer {
	t.Helper()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: %d %s", resp.Request.Method, resp.Request.URL, resp.StatusCode, body)
	}
	if !json.Valid(body) {
		t.Fatalf("%s: invalid JSON: %.200s", resp.Request.URL, body)
	}
	var a rowsAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatal(err)
	}
	return a
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// normalize decodes a doc and drops its _rev, for comparison with seed's.
func normalize(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	delete(m, "_rev")
	return m
}

// With seed's shape the source serves exactly seed.Generate's documents,
// settings and design doc, and expects seed's values.
func TestSource_matchesSeed(t *testing.T) {
	opts := couchsource.Options{CHWs: 25, Targets: 5, Month: "2026-10", ClinicsPerHC: 4, HCsPerDistrict: 3}
	s := start(t, opts)
	g, err := seed.Generate(seed.GenOptions{CHWs: 25, Targets: 5, Month: "2026-10", ClinicsPerHC: 4, HCsPerDistrict: 3})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]any{}
	add := func(doc any) {
		b, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		m := normalize(t, b)
		want[m["_id"].(string)] = m
	}
	for d := range g.Docs() {
		add(d)
	}
	add(g.Settings())
	for _, d := range seed.DesignDocs() {
		add(d)
	}
	a := get(t, s, "/medic/_all_docs", url.Values{"include_docs": {"true"}})
	if a.TotalRows != len(want) || len(a.Rows) != len(want) || s.Data.Counts().Docs != len(want) {
		t.Fatalf("total_rows %d, %d rows, Counts().Docs %d; seed has %d docs", a.TotalRows, len(a.Rows), s.Data.Counts().Docs, len(want))
	}
	for _, r := range a.Rows {
		got := normalize(t, r.Doc)
		if !reflect.DeepEqual(got, want[r.ID]) {
			t.Errorf("doc %s =\n%v\nseed has\n%v", r.ID, got, want[r.ID])
		}
	}
	if got, want := s.Data.Expected(), g.Expected(); !reflect.DeepEqual(got, want) {
		t.Errorf("Expected() differs from seed's:\n%v\n%v", got, want)
	}
}

// _all_docs answers ranges, limits, skips and keys like CouchDB: ids in
// byte order, endkey inclusive unless inclusive_end=false, offset counting
// the rows before the first one.
func TestSource_allDocs(t *testing.T) {
	s := start(t, couchsource.Options{CHWs: 40, Targets: 2, Month: "2024-06", CHWsPerClinic: 3, ClinicsPerHC: 2, HCsPerDistrict: 2, MapClinics: true})
	all := get(t, s, "/medic/_all_docs", nil)
	var ids []string
	for _, r := range all.Rows {
		ids = append(ids, r.ID)
		if string(r.Key) != jsonString(r.ID) || !bytes.Contains(r.Value, []byte(`"rev":"1-`)) || r.Doc != nil {
			t.Fatalf("row %s: key %s, value %s, doc %s", r.ID, r.Key, r.Value, r.Doc)
		}
	}
	if !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != len(ids) || len(ids) != s.Data.Counts().Docs {
		t.Fatalf("ids are not %d sorted distinct ids: %d", s.Data.Counts().Docs, len(ids))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func() string {
		id := ids[rng.IntN(len(ids))]
		switch rng.IntN(3) {
		case 0:
			return id
		case 1:
			return id[:rng.IntN(len(id)+1)]
		}
		return id + "\ufff0"
	}
	for range 200 {
		q := url.Values{}
		lo, hi := 0, len(ids)
		if rng.IntN(4) > 0 {
			k := pick()
			q.Set("startkey", jsonString(k))
			lo = sort.SearchStrings(ids, k)
		}
		inclusive := rng.IntN(2) == 0
		if !inclusive {
			q.Set("inclusive_end", "false")
		}
		if rng.IntN(4) > 0 {
			k := pick()
			q.Set("endkey", jsonString(k))
			hi = sort.Search(len(ids), func(i int) bool { return ids[i] > k || ids[i] == k && !inclusive })
		}
		offset := lo
		hi = max(hi, lo)
		if rng.IntN(3) == 0 {
			skip := rng.IntN(5)
			q.Set("skip", fmt.Sprint(skip))
			lo = min(lo+skip, hi)
		}
		if rng.IntN(3) > 0 {
			limit := rng.IntN(10)
			q.Set("limit", fmt.Sprint(limit))
			hi = min(hi, lo+limit)
		}
		a := get(t, s, "/medic/_all_docs", q)
		var got []string
		for _, r := range a.Rows {
			got = append(got, r.ID)
		}
		if want := ids[lo:hi]; !slices.Equal(got, want) || a.Offset != offset {
			t.Fatalf("_all_docs?%s = %q (offset %d); want %q (offset %d)", q.Encode(), got, a.Offset, want, offset)
		}
	}
	// POST keys: in key order, missing keys as errors, docs included.
	keys := []string{ids[5], "nope", ids[0], ids[len(ids)-1], ids[5]}
	body, _ := json.Marshal(map[string]any{"keys": keys})
	resp, err := http.Post(s.URL+"/medic/_all_docs?include_docs=true", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := decodeRows(t, resp)
	if len(a.Rows) != len(keys) {
		t.Fatalf("%d rows for %d keys", len(a.Rows), len(keys))
	}
	for i, r := range a.Rows {
		switch {
		case keys[i] == "nope":
			if r.Error != "not_found" || string(r.Key) != `"nope"` {
				t.Errorf("missing key row = %+v", r)
			}
		case r.ID != keys[i] || normalize(t, r.Doc)["_id"] != keys[i]:
			t.Errorf("row %d = %s; want %s", i, r.ID, keys[i])
		}
	}
	// Single docs.
	for _, id := range []string{ids[3], "settings", "_design/medic-admin"} {
		resp, err := http.Get(s.URL + "/medic/" + id)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || normalize(t, b)["_id"] != id {
			t.Errorf("GET %s = %d %s", id, resp.StatusCode, b)
		}
	}
	for _, path := range []string{"/medic/nope", "/api/v1/settings", "/medic/_design/medic-admin/_view/nope"} {
		resp, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("GET %s = %d; want 404", path, resp.StatusCode)
		}
	}
}

// The DHIS view has one row per mapped contact, sorted by org unit, and
// pages with startkey + startkey_docid.
func TestSource_view(t *testing.T) {
	s := start(t, couchsource.Options{CHWs: 40, Targets: 2, Month: "2024-06", CHWsPerClinic: 3, ClinicsPerHC: 2, HCsPerDistrict: 2, MapClinics: true})
	const path = "/medic/_design/medic-admin/_view/contacts_by_dhis_orgunit"
	all := get(t, s, path, url.Values{"include_docs": {"true"}})
	if len(all.Rows) != s.Data.Counts().OrgUnits || all.TotalRows != len(all.Rows) {
		t.Fatalf("%d rows, total_rows %d; want %d", len(all.Rows), all.TotalRows, s.Data.Counts().OrgUnits)
	}
	var keys []string
	for _, r := range all.Rows {
		var k string
		_ = json.Unmarshal(r.Key, &k)
		keys = append(keys, k)
		var doc struct {
			ID   string `json:"_id"`
			DHIS struct {
				OrgUnit string `json:"orgUnit"`
			} `json:"dhis"`
		}
		if err := json.Unmarshal(r.Doc, &doc); err != nil || doc.ID != r.ID || doc.DHIS.OrgUnit != k || string(r.Value) != "null" {
			t.Errorf("row %s: key %s, value %s, doc %s", r.ID, r.Key, r.Value, r.Doc)
		}
	}
	if !slices.IsSorted(keys) {
		t.Errorf("keys are not sorted: %v", keys)
	}
	// Paging with the CouchDB recipe reads every row once.
	var paged []string
	q := url.Values{"limit": {"4"}}
	for {
		a := get(t, s, path, q)
		for i, r := range a.Rows {
			if i < 3 {
				paged = append(paged, r.ID)
			}
		}
		if len(a.Rows) < 4 {
			break
		}
		q.Set("startkey", string(a.Rows[3].Key))
		q.Set("startkey_docid", a.Rows[3].ID)
	}
	if len(paged) != len(all.Rows) {
		t.Errorf("paging read %d rows; want %d", len(paged), len(all.Rows))
	}
	one := get(t, s, path, url.Values{"key": {jsonString(keys[7])}})
	if len(one.Rows) != 1 || one.Rows[0].ID != all.Rows[7].ID || one.Offset != 7 {
		t.Errorf("key=%s: %+v", keys[7], one)
	}
}

// The whole preview against the source, read in many small pages and
// batches, gives the source's expected values (seed's arithmetic) for every
// org unit: the benchmark measures a correct computation.
func TestSource_preview(t *testing.T) {
	for _, opts := range []couchsource.Options{
		couchsource.National(173, "2024-06"),
		{CHWs: 97, Targets: 6, Month: "2024-06", CHWsPerClinic: 3, ClinicsPerHC: 4, HCsPerDistrict: 3, MapClinics: true},
	} {
		t.Run(fmt.Sprintf("%d CHWs map clinics %t", opts.CHWs, opts.MapClinics), func(t *testing.T) {
			s := start(t, opts)
			c, err := cht.New(config.CHT{URL: s.URL, Database: "medic", Timeout: 10 * time.Second, PageSize: 7, BatchSize: 5, Concurrency: 3, Locale: "en"}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			svc, err := export.New(c, export.Options{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			p, err := svc.Preview(context.Background(), export.Request{DataSet: couchsource.DataSet, Period: period(t, strings.ReplaceAll(s.Data.Month(), "-", ""))})
			if err != nil {
				t.Fatal(err)
			}
			var got []seed.DataValue
			for _, dv := range p.Set.DataValues {
				var v int
				if _, err := fmt.Sscan(dv.Value, &v); err != nil {
					t.Fatalf("value %+v: %v", dv, err)
				}
				got = append(got, seed.DataValue{DataElement: dv.DataElement, CategoryOptionCombo: dv.CategoryOptionCombo,
					AttributeOptionCombo: dv.AttributeOptionCombo, OrgUnit: dv.OrgUnit, Value: v})
			}
			seed.SortDataValues(got)
			want := s.Data.Expected()
			if len(want) != s.Data.Counts().OrgUnits*s.Data.Counts().Targets {
				t.Fatalf("Expected() has %d values; want %d", len(want), s.Data.Counts().OrgUnits*s.Data.Counts().Targets)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("preview differs from the expected values:\ngot  %v\nwant %v", got, want)
			}
			n := s.Data.Counts().TargetDocs
			if p.Stats.TargetDocs != n || p.Stats.Counted != n || len(p.Problems) != 0 {
				t.Errorf("stats %+v, %d problems; want %d docs counted", p.Stats, len(p.Problems), n)
			}
			st := s.Stats()
			if st.TargetScans != 1 {
				t.Errorf("%d reads of the month; want 1", st.TargetScans)
			}
			// The readiness reads: the users once, their replication logs
			// once, and the readiness counts every CHW as synced.
			if opts.Users {
				if st.UserScans != 1 || st.LogScans != 1 {
					t.Errorf("%d reads of the users, %d of the logs; want 1 and 1", st.UserScans, st.LogScans)
				}
				for _, k := range []string{"month", "view", "keys", "users", "logs", "docs"} {
					if st.Sent[k] == 0 {
						t.Errorf("nothing sent of kind %s: %v", k, st.Sent)
					}
				}
				if p.Readiness == nil || p.Readiness.Expected != n || p.Readiness.Final != n || !p.Readiness.Ready {
					t.Errorf("readiness %+v; want %d users expected and final, ready", p.Readiness, n)
				}
			}
		})
	}
}

func period(t *testing.T, p string) aggregate.Month {
	t.Helper()
	m, err := aggregate.ParseMonth(p)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Served by Serve, the source asks for basic auth like CHT's CouchDB
// (require_valid_user), answers its stats to anyone, and counts error
// answers.
func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- couchsource.Serve(ctx, couchsource.National(50, "2024-06"), "127.0.0.1:0", func(u string) { urls <- u })
	}()
	var base string
	select {
	case base = <-urls:
	case err := <-done:
		t.Fatal(err)
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	do := func(path string, auth bool) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if auth {
			req.SetBasicAuth(couchsource.BenchUser, couchsource.BenchPassword)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := do("/medic", false); code != 401 || !strings.Contains(body, `"error":"unauthorized"`) {
		t.Errorf("without credentials: %d %s; want CouchDB's 401", code, body)
	}
	if code, body := do("/medic/settings", true); code != 200 || !strings.Contains(body, `"_id":"settings"`) {
		t.Errorf("with credentials: %d %.100s", code, body)
	}
	if code, body := do("/api/v1/settings", true); code != 200 || !strings.HasPrefix(body, "{") || !strings.Contains(body, `"dhis_data_sets"`) || strings.Contains(body, `"_id"`) {
		t.Errorf("CHT API's settings: %d %.100s; want the app settings", code, body)
	}
	if code, _ := do("/medic-logs/replication-count-chw000050", true); code != 200 {
		t.Errorf("the last CHW's replication log: %d", code)
	}
	if code, _ := do("/medic-logs/replication-count-chw000051", true); code != 404 {
		t.Errorf("a replication log of nobody: %d; want 404", code)
	}
	code, body := do(couchsource.StatsPath, false)
	var st couchsource.Stats
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil {
		t.Fatalf("stats: %d %s %v", code, body, err)
	}
	if st.Requests != 5 || st.Errors != 2 || st.DocGets != 4 {
		t.Errorf("stats %+v; want 5 requests, 2 errors, 4 doc GETs", st)
	}
	var sum int64
	for _, n := range st.Sent {
		sum += n
	}
	if sum != st.Bytes || st.Sent["docs"] == 0 || st.Sent["other"] == 0 || len(st.Sent) != 2 {
		t.Errorf("sent %v, %d bytes; want docs and other (the 401s) adding up", st.Sent, st.Bytes)
	}
}

// TestSource_chunks checks that with ChunkSize the rows come in HTTP chunks
// as CouchDB sends them (rows gathered up to the size, a longer row alone)
// and that the answer is the same as without it.
func TestSource_chunks(t *testing.T) {
	const path = "/medic/_all_docs?include_docs=true&limit=60"
	raw := func(chunk int) (sizes []int, body []byte) {
		opts := couchsource.National(30, "2024-06")
		opts.ChunkSize = chunk
		s := start(t, opts)
		conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path)
		br := bufio.NewReader(conn)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if line == "\r\n" {
				break
			}
		}
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			n, err := strconv.ParseInt(strings.TrimSpace(line), 16, 64)
			if err != nil {
				t.Fatalf("chunk size %q: %v", line, err)
			}
			if n == 0 {
				return sizes, body
			}
			b := make([]byte, n+2)
			if _, err := io.ReadFull(br, b); err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, int(n))
			body = append(body, b[:n]...)
		}
	}
	bigSizes, want := raw(0)
	sizes, got := raw(1490)
	if !bytes.Equal(got, want) {
		t.Fatalf("the answer differs with chunks of 1490 bytes:\n%.300s\nwithout:\n%.300s", got, want)
	}
	if len(bigSizes) > 2 || len(sizes) < 30 {
		t.Fatalf("%d chunks without ChunkSize, %d with 1490: want at most 2 and one per row or so", len(bigSizes), len(sizes))
	}
	var rows rowsAnswer
	if err := json.Unmarshal(got, &rows); err != nil {
		t.Fatal(err)
	}
	for i, n := range sizes[:len(sizes)-1] { // the last carries the closing bytes
		if n > 1490 && n > len(rows.Rows[0].Doc)+400 {
			t.Errorf("chunk %d is %d bytes: more than 1490 and more than one row", i, n)
		}
	}
	if small := slices.Min(sizes[1 : len(sizes)-1]); small < 100 {
		t.Errorf("a chunk of %d bytes between rows: rows are not gathered", small)
	}
}
