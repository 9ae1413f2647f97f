package couchdb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/seed"
)

const (
	adminUser = "admin"
	adminPass = "s3cret-pass"
)

func skipIfShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts pouchdb-server (node); skipped with -short")
	}
}

// call sends a request with plain net/http, so the assertions do not depend
// on Client. body, when not nil, is sent as JSON.
func call(t *testing.T, method, u, user, pass string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, u, err)
	}
	return resp.StatusCode, b
}

// query builds a URL with JSON-encoded values for the keys CouchDB expects
// as JSON.
func query(base, path string, params ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(params); i += 2 {
		v.Set(params[i], params[i+1])
	}
	if len(v) == 0 {
		return base + path
	}
	return base + path + "?" + v.Encode()
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

type row struct {
	ID    string          `json:"id"`
	Key   any             `json:"key"`
	Value json.RawMessage `json:"value"`
	Doc   map[string]any  `json:"doc"`
	Error string          `json:"error"`
}

type rows struct {
	TotalRows int   `json:"total_rows"`
	Offset    int   `json:"offset"`
	Rows      []row `json:"rows"`
}

func getRows(t *testing.T, u string) rows {
	t.Helper()
	status, b := call(t, http.MethodGet, u, adminUser, adminPass, nil)
	if status != http.StatusOK {
		t.Fatalf("GET %s = %d %s; want 200", u, status, b)
	}
	var r rows
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("GET %s: decode %s: %v", u, b, err)
	}
	return r
}

func ids(rs []row) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func errorBody(t *testing.T, b []byte) (string, string) {
	t.Helper()
	var e struct{ Error, Reason string }
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("decode error body %s: %v", b, err)
	}
	return e.Error, e.Reason
}

func TestFindNodeModules(t *testing.T) {
	found, err := FindNodeModules("")
	if err != nil {
		t.Skipf("pouchdb-server not installed here (%v)", err)
	}
	if filepath.Base(found) != "node_modules" || filepath.Base(filepath.Dir(found)) != "test" {
		t.Errorf("FindNodeModules(\"\") = %s; want .../test/node_modules", found)
	}

	noModule := t.TempDir()
	withModule := t.TempDir()
	if err := os.WriteFile(filepath.Join(withModule, "go.mod"), []byte("module x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(withModule, "a", "b")
	if err := os.MkdirAll(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{noModule, sub} {
		_, err := FindNodeModules(dir)
		if err == nil || !strings.Contains(err.Error(), "npm ci") || !strings.Contains(err.Error(), "make test") {
			t.Errorf("FindNodeModules(%s) = %v; want an error telling to run make test or npm ci", dir, err)
		}
	}
}

func TestStart_notInstalled(t *testing.T) {
	_, err := Start(context.Background(), Options{NodeModules: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "cd test && npm ci") {
		t.Errorf("Start without pouchdb-server = %v; want an error telling to run npm ci", err)
	}
	_, err = Start(context.Background(), Options{AdminUser: "a"})
	if err == nil {
		t.Errorf("Start with AdminUser but no password succeeded")
	}
}

// TestServer loads the demo into a server with credentials and checks the
// behaviours the mediator's CHT client relies on, and the known differences
// from CouchDB (see the package doc).
func TestServer(t *testing.T) {
	skipIfShort(t)
	s := StartT(t, Options{AdminUser: adminUser, AdminPassword: adminPass})
	ctx := context.Background()
	base := s.URL()
	if strings.Contains(base, "@") || !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Errorf("URL() = %s; want http://127.0.0.1:<port> without credentials", base)
	}

	end := seed.LastMonth(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
	district, m, err := seed.DemoDistrict(seed.DemoOptions{End: end})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateDB(ctx, "medic"); err != nil {
		t.Fatalf("CreateDB(medic): %v", err)
	}
	docs := append([]any{seed.SettingsDoc(nil, nil)}, seed.DesignDocs()...)
	docs = append(docs, district...)
	if err := s.BulkDocs(ctx, "medic", docs); err != nil {
		t.Fatalf("BulkDocs(medic): %v", err)
	}
	// A deleted target doc inside the month's range.
	ghost := seed.TargetDocID(end, "ghost-owner", "ghost")
	if err := s.BulkDocs(ctx, "medic", []any{seed.TargetDoc(end, "ghost-owner", "ghost", end.Start(), nil)}); err != nil {
		t.Fatal(err)
	}
	var ghostDoc struct {
		Rev string `json:"_rev"`
	}
	if err := s.Do(ctx, http.MethodGet, "/medic/"+url.PathEscape(ghost), nil, &ghostDoc); err != nil {
		t.Fatal(err)
	}
	if err := s.BulkDocs(ctx, "medic", []any{map[string]any{"_id": ghost, "_rev": ghostDoc.Rev, "_deleted": true}}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, "chw", "chw-pass", []string{"chw"}); err != nil {
		t.Fatal(err)
	}
	if err := s.WarmView(ctx, "medic", seed.ViewPath); err != nil {
		t.Fatal(err)
	}
	medic := base + "/medic"
	view := medic + seed.ViewPath

	t.Run("auth", func(t *testing.T) {
		paths := []struct {
			method, path string
			body         any
		}{
			{"GET", "/medic/_all_docs", nil},
			{"POST", "/medic/_all_docs", map[string]any{"keys": []string{"settings"}}},
			{"GET", "/medic/settings", nil},
			{"GET", "/medic" + seed.ViewPath, nil},
			{"GET", "/medic", nil},
		}
		creds := []struct {
			name, user, pass string
			want             int
			reason           string
		}{
			{"right password", adminUser, adminPass, 200, ""},
			{"wrong password", adminUser, "wrong", 401, "Name or password is incorrect."},
			{"unknown user", "nobody", "x", 401, "Name or password is incorrect."},
			{"no credentials", "", "", 401, "You are not authorized to access this db."},
			// CouchDB answers 403 forbidden here.
			{"user not a member", "chw", "chw-pass", 401, "You are not authorized to access this db."},
		}
		for _, c := range creds {
			for _, p := range paths {
				status, b := call(t, p.method, base+p.path, c.user, c.pass, p.body)
				if status != c.want {
					t.Errorf("%s: %s %s = %d %s; want %d", c.name, p.method, p.path, status, b, c.want)
					continue
				}
				if c.want == 401 {
					if e, r := errorBody(t, b); e != "unauthorized" || r != c.reason {
						t.Errorf("%s: %s %s body = %s; want unauthorized, %q", c.name, p.method, p.path, b, c.reason)
					}
				}
			}
		}
		// No require_valid_user: the server root and the list of databases
		// stay open.
		for _, p := range []string{"/", "/_all_dbs", "/_session"} {
			if status, b := call(t, "GET", base+p, "", "", nil); status != 200 {
				t.Errorf("anonymous GET %s = %d %s; want 200 (pouchdb-server has no require_valid_user)", p, status, b)
			}
		}
	})

	t.Run("all_docs month range", func(t *testing.T) {
		want := m.TargetDocIDs(end)
		start, stop := jsonString("target~"+string(end)+"~"), jsonString("target~"+string(end)+"~\ufff0")
		all := getRows(t, query(medic, "/_all_docs", "startkey", start, "endkey", stop, "include_docs", "true"))
		if got := ids(all.Rows); !slices.Equal(got, want) {
			t.Errorf("month %s ids = %v; want %v (deleted %s left out)", end, got, want, ghost)
		}
		for _, r := range all.Rows {
			if r.Doc["type"] != "target" || r.Doc["_id"] != r.ID || r.Key != r.ID {
				t.Errorf("row %s: key %v, doc %v", r.ID, r.Key, r.Doc)
			}
		}
		if wantTotal := len(docs); all.TotalRows != wantTotal {
			t.Errorf("total_rows = %d; want %d (all docs incl. design doc and user docs, not the deleted one)", all.TotalRows, wantTotal)
		}
		// Paging: limit n+1, the extra row starts the next page.
		const n = 3
		var got []string
		next := start
		for page := 0; ; page++ {
			r := getRows(t, query(medic, "/_all_docs", "startkey", next, "endkey", stop, "limit", strconv.Itoa(n+1)))
			if page > 0 && r.Offset != 0 {
				t.Errorf("page %d offset = %d; pouchdb-server was seen to answer 0 (the skip)", page, r.Offset)
			}
			if len(r.Rows) <= n {
				got = append(got, ids(r.Rows)...)
				break
			}
			got = append(got, ids(r.Rows[:n])...)
			next = jsonString(r.Rows[n].ID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("paged ids = %v; want %v", got, want)
		}
		// Another month does not leak in.
		other := getRows(t, query(medic, "/_all_docs", "startkey", jsonString("target~2020-01~"), "endkey", jsonString("target~2020-01~\ufff0")))
		if len(other.Rows) != 0 {
			t.Errorf("month 2020-01 = %v; want no rows", ids(other.Rows))
		}
	})

	t.Run("all_docs keys", func(t *testing.T) {
		keys := []string{m.CHWs[0].ID, "no-such-id", ghost, m.CHWs[1].ID}
		check := func(t *testing.T, name string, r rows) {
			if len(r.Rows) != 4 {
				t.Fatalf("%s: %d rows; want 4: %+v", name, len(r.Rows), r.Rows)
			}
			if r.Rows[0].ID != keys[0] || r.Rows[0].Doc["name"] != m.CHWs[0].Name || r.Rows[3].ID != keys[3] {
				t.Errorf("%s: rows 0 and 3 = %+v, %+v; want the CHWs' docs in key order", name, r.Rows[0], r.Rows[3])
			}
			if nf := r.Rows[1]; nf.Key != "no-such-id" || nf.Error != "not_found" || nf.ID != "" || nf.Doc != nil {
				t.Errorf("%s: absent id row = %+v; want {key, error: not_found}", name, nf)
			}
			var v struct {
				Rev     string `json:"rev"`
				Deleted bool   `json:"deleted"`
			}
			del := r.Rows[2]
			if err := json.Unmarshal(del.Value, &v); err != nil || del.ID != ghost || !v.Deleted || v.Rev == "" || del.Doc != nil {
				t.Errorf("%s: deleted row = %+v value %s; want {id, key, value: {rev, deleted: true}, doc: null}", name, del, del.Value)
			}
		}
		status, b := call(t, "POST", medic+"/_all_docs?include_docs=true", adminUser, adminPass, map[string]any{"keys": keys})
		if status != 200 {
			t.Fatalf("POST _all_docs = %d %s", status, b)
		}
		var r rows
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		check(t, "POST", r)
		kj, _ := json.Marshal(keys)
		check(t, "GET", getRows(t, query(medic, "/_all_docs", "keys", string(kj), "include_docs", "true")))

		// Without Content-Type: application/json the body is ignored and
		// every doc comes back (CouchDB: 415).
		req, _ := http.NewRequest("POST", medic+"/_all_docs", strings.NewReader(`{"keys":["settings"]}`))
		req.SetBasicAuth(adminUser, adminPass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var all rows
		if err := json.NewDecoder(resp.Body).Decode(&all); err != nil || resp.StatusCode != 200 || len(all.Rows) != all.TotalRows || len(all.Rows) < 100 {
			t.Errorf("POST _all_docs keys without Content-Type = %d, %d of %d rows, %v; pouchdb-server was seen to answer every doc",
				resp.StatusCode, len(all.Rows), all.TotalRows, err)
		}
	})

	t.Run("view", func(t *testing.T) {
		all := getRows(t, query(view, "", "include_docs", "true"))
		var keys []string
		for _, r := range all.Rows {
			k, _ := r.Key.(string)
			keys = append(keys, k)
			if r.Doc["_id"] != r.ID || string(r.Value) != "null" {
				t.Errorf("row %s: value %s, doc id %v; want value null and the doc", r.ID, r.Value, r.Doc["_id"])
			}
		}
		slices.Sort(keys)
		wantKeys := []string{seed.OUBahari, seed.OUBahariX, seed.OUDistrict, seed.OUKanji, seed.OUMbuyu}
		slices.Sort(wantKeys)
		if !slices.Equal(keys, wantKeys) {
			t.Errorf("view keys = %v; want %v", keys, wantKeys)
		}
		bahari := getRows(t, query(view, "", "key", jsonString(seed.OUBahari), "include_docs", "true"))
		if len(bahari.Rows) != 1 || bahari.Rows[0].ID != m.HealthCenters[2].ID || bahari.Rows[0].Doc["name"] != "Bahari Health Centre" {
			t.Errorf("key=%s rows = %+v; want Bahari Health Centre", seed.OUBahari, bahari.Rows)
		}
		if none := getRows(t, query(view, "", "key", jsonString("ouNoSuch001"))); len(none.Rows) != 0 {
			t.Errorf("unknown key rows = %+v; want none", none.Rows)
		}
		// Paging by startkey (keys are unique in the demo) returns the
		// same rows as one request.
		var got []string
		next := ""
		for {
			p := []string{"limit", "3"}
			if next != "" {
				p = append(p, "startkey", next)
			}
			r := getRows(t, query(view, "", p...))
			if len(r.Rows) < 3 {
				got = append(got, ids(r.Rows)...)
				break
			}
			got = append(got, ids(r.Rows[:2])...)
			next = jsonString(r.Rows[2].Key.(string))
		}
		if want := ids(all.Rows); !slices.Equal(got, want) {
			t.Errorf("paged view ids = %v; want %v", got, want)
		}
	})

	t.Run("documents and errors", func(t *testing.T) {
		status, b := call(t, "GET", medic+"/settings", adminUser, adminPass, nil)
		var settings struct {
			ID       string `json:"_id"`
			Rev      string `json:"_rev"`
			Settings struct {
				DataSets []struct{ ID string } `json:"dhis_data_sets"`
			} `json:"settings"`
		}
		if err := json.Unmarshal(b, &settings); status != 200 || err != nil || settings.Rev == "" ||
			len(settings.Settings.DataSets) == 0 || settings.Settings.DataSets[0].ID != seed.DemoDataSet {
			t.Errorf("GET /medic/settings = %d %.200s; want the settings doc", status, b)
		}
		tests := []struct {
			name, path, user string
			status           int
			err, reason      string
		}{
			{"api settings", "/api/v1/settings", adminUser, 404, "not_found", "no_db_file"},
			{"api settings anonymous", "/api/v1/settings", "", 404, "not_found", "no_db_file"},
			{"absent doc", "/medic/no-such-doc", adminUser, 404, "not_found", "missing"},
			{"deleted doc", "/medic/" + url.PathEscape(ghost), adminUser, 404, "not_found", "missing"}, // CouchDB: deleted
			{"absent view", "/medic/_design/medic-admin/_view/nope", adminUser, 404, "not_found", "ddoc _design/medic-admin has no view named nope"},
			{"absent ddoc", "/medic/_design/nope/_view/nope", adminUser, 404, "not_found", "missing"},
			{"absent db", "/nodb/_all_docs", adminUser, 404, "not_found", "no_db_file"},
		}
		for _, tt := range tests {
			status, b := call(t, "GET", base+tt.path, tt.user, adminPass, nil)
			e, r := errorBody(t, b)
			if status != tt.status || e != tt.err || r != tt.reason {
				t.Errorf("%s: GET %s = %d %s; want %d {%q, %q}", tt.name, tt.path, status, b, tt.status, tt.err, tt.reason)
			}
		}
		// Not JSON: CouchDB says 400 bad_request; pouchdb-server takes a string.
		if status, b := call(t, "GET", medic+"/_all_docs?startkey=target&limit=1", adminUser, adminPass, nil); status != 200 {
			t.Errorf("startkey=target (not JSON) = %d %s; pouchdb-server was seen to answer 200", status, b)
		}
	})

	t.Run("content type", func(t *testing.T) {
		for _, tt := range []struct{ accept, want string }{
			{"application/json", "application/json"},
			{"", "text/plain; charset=utf-8"},
		} {
			req, _ := http.NewRequest("GET", medic+"/settings", nil)
			req.SetBasicAuth(adminUser, adminPass)
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Content-Type"); got != tt.want {
				t.Errorf("Accept %q: Content-Type %q; want %q", tt.accept, got, tt.want)
			}
		}
	})

	t.Run("bulk docs in chunks", func(t *testing.T) {
		if err := s.CreateDB(ctx, "scale"); err != nil {
			t.Fatal(err)
		}
		g, err := seed.Generate(seed.GenOptions{CHWs: 20, Targets: 3, Month: end, ClinicsPerHC: 5, HCsPerDistrict: 2})
		if err != nil {
			t.Fatal(err)
		}
		c := *s.Client
		c.chunk = 7
		if err := c.BulkDocsSeq(ctx, "scale", g.Docs()); err != nil {
			t.Fatalf("BulkDocsSeq: %v", err)
		}
		var info struct {
			DocCount int `json:"doc_count"`
		}
		if err := s.Do(ctx, "GET", "/scale", nil, &info); err != nil || info.DocCount != g.DocCount() {
			t.Errorf("GET /scale = %+v, %v; want doc_count %d", info, err, g.DocCount())
		}
		err = c.BulkDocsSeq(ctx, "scale", g.Docs())
		if err == nil || !strings.Contains(err.Error(), "(docs 1-7): 7 of 7 docs rejected") {
			t.Errorf("BulkDocsSeq again = %v; want the first chunk rejected", err)
		}
	})

	t.Run("bulk docs", func(t *testing.T) {
		err := s.BulkDocs(ctx, "medic", []any{seed.SettingsDoc(nil, nil)})
		if err == nil || !strings.Contains(err.Error(), "settings: conflict") {
			t.Errorf("BulkDocs(existing settings) = %v; want a conflict naming settings", err)
		}
		if err := s.CreateDB(ctx, "medic"); !errors.Is(err, ErrExists) {
			t.Errorf("CreateDB(medic) again = %v; want ErrExists", err)
		}
		// Design docs are answered first.
		var res []struct{ ID string }
		if err := s.Do(ctx, "POST", "/medic/_bulk_docs", map[string]any{"docs": []any{
			map[string]any{"_id": "zz-order"}, map[string]any{"_id": "_design/aa-order"}, map[string]any{"_id": "mm-order"},
		}}, &res); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range res {
			got = append(got, r.ID)
		}
		if want := []string{"_design/aa-order", "zz-order", "mm-order"}; !slices.Equal(got, want) {
			t.Errorf("_bulk_docs rows = %v; pouchdb-server was seen to answer %v", got, want)
		}
	})
}

// TestServer_viewQuirks pins how pouchdb-server's views differ from
// CouchDB's, on a small database of edge-case contacts.
func TestServer_viewQuirks(t *testing.T) {
	skipIfShort(t)
	s := StartT(t, Options{AdminUser: adminUser, AdminPassword: adminPass})
	ctx := context.Background()
	if err := s.CreateDB(ctx, "quirks"); err != nil {
		t.Fatal(err)
	}
	hc := func(id, ou string) map[string]any {
		return map[string]any{"_id": id, "type": "health_center", "dhis": map[string]any{"orgUnit": ou}}
	}
	docs := append(seed.DesignDocs(),
		hc("q1", "ouSame00001"), hc("q2", "ouSame00001"), hc("q3", "ouSame00001"),
		hc("qa", "aaaaaaaaaaa"), hc("qB", "Bbbbbbbbbbb"),
		seed.PlaceWithoutOrgUnit("qnull", "d", "dsX00000001"),
		seed.PlaceWithNullDHISEntry("qnullentry", "d", "ouNullEnt01"),
		seed.DataRecordWithDHIS("report", "ouReport001"),
	)
	if err := s.BulkDocs(ctx, "quirks", docs); err != nil {
		t.Fatal(err)
	}
	view := s.URL() + "/quirks" + seed.ViewPath

	all := getRows(t, view)
	var keys []any
	for _, r := range all.Rows {
		keys = append(keys, r.Key)
	}
	// JS string order: "B" < "a" (CouchDB's ICU order has "aaa…" first).
	// The null-entry doc and the data_record are left out.
	want := []any{nil, "Bbbbbbbbbbb", "aaaaaaaaaaa", "ouSame00001", "ouSame00001", "ouSame00001"}
	if !slices.Equal(keys, want) {
		t.Errorf("view keys = %v; want %v", keys, want)
	}
	if got := ids(all.Rows); !slices.Equal(got, []string{"qnull", "qB", "qa", "q1", "q2", "q3"}) {
		t.Errorf("view ids = %v", got)
	}

	// startkey_docid is ignored: CouchDB would answer q2, q3.
	r := getRows(t, query(view, "", "startkey", `"ouSame00001"`, "startkey_docid", "q2", "limit", "2"))
	if got := ids(r.Rows); !slices.Equal(got, []string{"q1", "q2"}) {
		t.Errorf("startkey+startkey_docid=q2 ids = %v; pouchdb-server was seen to ignore startkey_docid ([q1 q2])", got)
	}
	// skip works.
	r = getRows(t, query(view, "", "startkey", `"ouSame00001"`, "skip", "1", "limit", "2"))
	if got := ids(r.Rows); !slices.Equal(got, []string{"q2", "q3"}) || r.Offset != 1 {
		t.Errorf("startkey+skip=1 ids = %v offset %d; want [q2 q3] offset 1", got, r.Offset)
	}
	// keys: rows in key order.
	r = getRows(t, query(view, "", "keys", `["aaaaaaaaaaa","Bbbbbbbbbbb"]`))
	if got := ids(r.Rows); !slices.Equal(got, []string{"qa", "qB"}) {
		t.Errorf("keys ids = %v; want [qa qB]", got)
	}
}

func TestServer_stop(t *testing.T) {
	skipIfShort(t)
	var log bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), DefaultStartTimeout)
	defer cancel()
	// Stdout and Stderr share one writer, so os/exec calls it from one
	// goroutine at a time, and Stop waits for it before we read.
	s, err := Start(ctx, Options{Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if s.Port() == 0 {
		t.Errorf("Port() = 0")
	}
	// Without AdminUser everything is open (admin party).
	if err := s.CreateDB(ctx, "open"); err != nil {
		t.Fatal(err)
	}
	if status, b := call(t, "GET", s.URL()+"/open/_all_docs", "", "", nil); status != 200 {
		t.Errorf("anonymous GET /open/_all_docs without AdminUser = %d %s; want 200", status, b)
	}
	dir := s.dir
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		t.Errorf("config.json not written in the working directory %s: %v", dir, err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("Stop() = %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop() = %v; want nil", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("working directory %s still there after Stop: %v", dir, err)
	}
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(s.Port()), time.Second); err == nil {
		c.Close()
		t.Errorf("port %d still open after Stop", s.Port())
	}
	if !strings.Contains(log.String(), "pouchdb-server has started") {
		t.Errorf("Log got %q; want the server's start-up lines", log.String())
	}
}

func TestStart_portInUse(t *testing.T) {
	skipIfShort(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithTimeout(context.Background(), DefaultStartTimeout)
	defer cancel()
	s, err := Start(ctx, Options{Port: port})
	if err == nil {
		s.Stop()
		t.Fatalf("Start on a busy port succeeded")
	}
	if !errors.Is(err, errExited) || !strings.Contains(err.Error(), "already in use") {
		t.Errorf("Start on a busy port = %v; want the server's exit and its output", err)
	}
}

// TestServer_anonymousCreateDBCrashes pins a pouchdb-server 4.2.0 bug: an
// anonymous PUT /<db> after the admin party ended kills the server. Create
// databases with credentials (Server.CreateDB does).
func TestServer_anonymousCreateDBCrashes(t *testing.T) {
	skipIfShort(t)
	s := StartT(t, Options{AdminUser: adminUser, AdminPassword: adminPass})
	req, _ := http.NewRequest("PUT", s.URL()+"/crash", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Logf("anonymous PUT /crash answered %d", resp.StatusCode)
	}
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		t.Errorf("server still running after an anonymous PUT /crash; the crash seems fixed: update the package doc")
	}
}
