package sandbox

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// testNow is the fixed server clock of the tests: 10 March 2024, so
// 202402 is open and 202403 is the current (closed, openFuturePeriods=0)
// period of the Monthly data set.
var testNow = time.Date(2024, 3, 10, 9, 30, 0, 0, time.UTC)

// Ids from ../testdata/metadata.json.
const (
	dsCHW       = "QX4ZTUbOt3a"
	dePreg      = "dGw6aXvDn1p" // INTEGER_ZERO_OR_POSITIVE
	deDeliv     = "Kf3rWqT8sLz" // INTEGER_ZERO_OR_POSITIVE
	deU5        = "Ub2mNc7YhQe" // NUMBER, category combo Sex
	deVisits    = "Hv9pLs4JtRw" // NUMBER, zeroIsSignificant
	deRemarks   = "Zt5yEb1XoCm" // TEXT
	deMalaria   = "Wn8kDf2GvBx" // INTEGER, in no data set
	cocMale     = "Mc3zK8rVtYd"
	cocFemale   = "Fc9wL4sHbGn"
	cocDefault  = DefaultCategoryOptionComboID
	ouRoot      = "Rt1aB2cD3eF"
	ouDistrict  = "Dn4gH5jK6lM"
	ouAmani     = "Am7nP8qR9sT"
	ouBaraka    = "Bk1uV2wX3yZ"
	ouChanya    = "Ch4aB5cD6eG"
	ouDalili    = "Dl7hJ8kL9mN" // not assigned to the data set
	unknownUID  = "Xx1Xx2Xx3Xx"
	testToken   = "d2pat_5xVA12xyUbWNedQxy4ohH77WlxRGVvZZ1151814092"
	testUser    = "admin"
	testPass    = "district"
	versionList = "2.36 2.37 2.38 2.39 2.40 2.40.3 2.41 2.42 2.43"
)

func loadTestMetadata(t *testing.T) *Metadata {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", "metadata.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	md, err := LoadMetadata(f)
	if err != nil {
		t.Fatalf("LoadMetadata: %v", err)
	}
	return md
}

// env is a sandbox behind a real HTTP server.
type env struct {
	t   *testing.T
	s   *Server
	url string
}

// newEnv starts a sandbox for version; edit may adjust the options (and
// the metadata) before New.
func newEnv(t *testing.T, version string, edit ...func(*Options)) *env {
	t.Helper()
	opts := Options{
		Version: version, Metadata: loadTestMetadata(t), Username: testUser, Password: testPass,
		Token: testToken, Now: func() time.Time { return testNow }, AsyncDelay: -1,
	}
	for _, f := range edit {
		f(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	t.Cleanup(s.Close)
	return &env{t: t, s: s, url: ts.URL}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

// do sends a request with basic auth unless headers set Authorization
// ("" removes it).
func (e *env) do(method, path, body string, headers ...string) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.SetBasicAuth(testUser, testPass)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{res.StatusCode, res.Header, b}
}

func (e *env) get(path string) response { return e.do(http.MethodGet, path, "") }

func (e *env) push(query, body string) response {
	return e.do(http.MethodPost, "/api/dataValueSets"+query, body)
}

// summaryOf returns the ImportSummary of a push response, wrapped or not.
func summaryOf(t *testing.T, r response) map[string]any {
	t.Helper()
	m := r.json(t)
	if inner, ok := m["response"].(map[string]any); ok && m["httpStatusCode"] != nil {
		return inner
	}
	return m
}

func counts(t *testing.T, r response) [4]int {
	t.Helper()
	ic, ok := summaryOf(t, r)["importCount"].(map[string]any)
	if !ok {
		t.Fatalf("no importCount in %s", r.body)
	}
	return [4]int{int(ic["imported"].(float64)), int(ic["updated"].(float64)), int(ic["ignored"].(float64)), int(ic["deleted"].(float64))}
}

var reHostURL = regexp.MustCompile(`http://127\.0\.0\.1:\d+`)

// golden compares body (JSON) with testdata/golden/name.json, after
// indenting it and replacing the test server's address by
// http://sandbox. Timestamps and uids need no normalising: the clock and
// the uid generator of the sandbox are deterministic in tests.
func golden(t *testing.T, name string, body []byte) {
	t.Helper()
	norm := reHostURL.ReplaceAll(body, []byte("http://sandbox"))
	var buf bytes.Buffer
	if len(bytes.TrimSpace(norm)) > 0 {
		if err := json.Indent(&buf, norm, "", "  "); err != nil {
			t.Fatalf("golden %s: body is not JSON: %v\n%s", name, err, body)
		}
	}
	buf.WriteByte('\n')
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden %s: %v (run go test -update)", name, err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("golden %s differs (run go test -update and review the diff)\ngot:\n%s\nwant:\n%s", name, buf.Bytes(), want)
	}
}

// storedValues renders Stored() compactly: "de/pe/ou/coc/aoc=value" plus
// " deleted" for soft-deleted values.
func storedValues(s *Server) []string {
	var out []string
	for _, v := range s.Stored() {
		line := v.DataElement + "/" + v.Period + "/" + v.OrgUnit + "/" + v.CategoryOptionCombo + "/" + v.AttributeOptionCombo + "=" + v.Value
		if v.Deleted {
			line += " deleted"
		}
		out = append(out, line)
	}
	return out
}

func dv(de, pe, ou, coc, value string) string {
	s := `{"dataElement":"` + de + `","period":"` + pe + `","orgUnit":"` + ou + `"`
	if coc != "" {
		s += `,"categoryOptionCombo":"` + coc + `"`
	}
	return s + `,"value":"` + value + `"}`
}

func set(header string, values ...string) string {
	if header != "" {
		header += ","
	}
	return "{" + header + `"dataValues":[` + strings.Join(values, ",") + "]}"
}
