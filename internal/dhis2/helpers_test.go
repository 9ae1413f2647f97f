package dhis2

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/config"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/testutil"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/validate"
)

// Known secrets: no error or log may ever show them.
const (
	testPassword = "district-S3cret!pw"
	testToken    = "d2pat_abcdefghijklmnopqrstuvwxyz012345" + "1234567890"
)

func testConfig(url string) config.DHIS2 {
	return config.DHIS2{
		URL:               url,
		Username:          "admin",
		Password:          config.Secret(testPassword),
		Timeout:           time.Minute,
		ChunkSize:         5000,
		AsyncPollInterval: time.Millisecond,
	}
}

// newTestClient returns a client whose logs are collected, to check them
// for secrets.
func newTestClient(t testing.TB, cfg config.DHIS2, hc *http.Client) (*Client, *testutil.SyncBuffer) {
	t.Helper()
	logs := &testutil.SyncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := New(cfg, hc, log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c, logs
}

// fakeDHIS2 is an httptest DHIS2 built from the DHIS2 Web API docs: it serves
// system info for a version and records every data value push.
type fakeDHIS2 struct {
	t       testing.TB
	version string
	mux     *http.ServeMux
	srv     *httptest.Server

	mu    sync.Mutex
	posts []recordedPost
	// answer answers one POST /api/dataValueSets; nil answers with
	// a summary of the family of version (see familyAnswer).
	answer func(p recordedPost) (int, []byte)
}

type recordedPost struct {
	Header http.Header
	Query  map[string][]string
	Raw    map[string]json.RawMessage // the body's top-level fields
	Set    wireDataValueSet
}

func newFake(t testing.TB, version string) *fakeDHIS2 {
	f := &fakeDHIS2{t: t, version: version, mux: http.NewServeMux()}
	f.mux.HandleFunc("GET /api/system/info", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, []byte(`{"version":"`+f.version+`","revision":"abc1234","calendar":"iso8601","serverDate":"2024-03-01T10:00:00.000"}`))
	})
	f.mux.HandleFunc("POST /api/dataValueSets", func(w http.ResponseWriter, r *http.Request) {
		p, ok := f.record(w, r)
		if !ok {
			return
		}
		f.mu.Lock()
		answer := f.answer
		f.mu.Unlock()
		if answer == nil {
			answer = f.familyAnswer
		}
		status, body := answer(p)
		writeJSON(w, status, body)
	})
	f.srv = httptest.NewServer(f.mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeDHIS2) record(w http.ResponseWriter, r *http.Request) (recordedPost, bool) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		f.t.Errorf("read body: %v", err)
		http.Error(w, err.Error(), 500)
		return recordedPost{}, false
	}
	var p recordedPost
	p.Header = r.Header.Clone()
	p.Query = r.URL.Query()
	if err := json.Unmarshal(b, &p.Raw); err != nil {
		f.t.Errorf("body is not a JSON object: %v", err)
		http.Error(w, err.Error(), 400)
		return recordedPost{}, false
	}
	if err := json.Unmarshal(b, &p.Set); err != nil {
		f.t.Errorf("body is not a data value set: %v", err)
		http.Error(w, err.Error(), 400)
		return recordedPost{}, false
	}
	f.mu.Lock()
	f.posts = append(f.posts, p)
	f.mu.Unlock()
	return p, true
}

func (f *fakeDHIS2) Posts() []recordedPost {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recordedPost(nil), f.posts...)
}

// unknownDE is a data element the fake DHIS2 does not know: every value of
// it is a conflict (E7610 in 2.37–2.42, E8101 in 2.43).
const unknownDE = "Xx1Xx2Xx3Xx"

// familyAnswer imports a push as DHIS2 of f.version would, and answers in
// that version's family (dhis2-core DataValueSetController and WebMessageUtils): ≤2.37 a bare summary with 200
// (≤2.36 with plain conflicts); 2.38–2.42 a WebMessage, 409 on conflicts;
// 2.43 the same with updated-only counts and conflicts without object.
func (f *fakeDHIS2) familyAnswer(p recordedPost) (int, []byte) {
	_, minor, _, _, err := ParseVersion(f.version)
	if err != nil {
		f.t.Errorf("fake version: %v", err)
	}
	sum := map[string]any{"responseType": "ImportSummary", "description": "Import process completed successfully",
		"importOptions":   map[string]any{"idSchemes": map[string]any{}, "dryRun": p.Query["dryRun"] != nil, "importStrategy": "CREATE_AND_UPDATE"},
		"dataSetComplete": "false"}
	var bad []int
	for i, v := range p.Set.DataValues {
		if v.DataElement == unknownDE {
			bad = append(bad, i)
		}
	}
	ok := len(p.Set.DataValues) - len(bad)
	count := map[string]int{"imported": ok, "updated": 0, "ignored": len(bad), "deleted": 0}
	if minor >= 43 {
		count = map[string]int{"imported": 0, "updated": ok, "ignored": len(bad), "deleted": 0}
	}
	sum["importCount"] = count
	var conflicts []map[string]any
	if len(bad) > 0 {
		switch {
		case minor <= 36:
			for range bad {
				conflicts = append(conflicts, map[string]any{"object": unknownDE, "value": "Data element not found or not accessible"})
			}
		case minor >= 43:
			conflicts = append(conflicts, map[string]any{"objects": map[string]string{"args": unknownDE},
				"value": "Value #" + "n refers to a data element that does not exist", "errorCode": "E8101", "indexes": bad})
		default:
			conflicts = append(conflicts, map[string]any{"object": unknownDE, "objects": map[string]string{"dataElement": unknownDE},
				"value": "Data element not found or not accessible: `" + unknownDE + "`", "errorCode": "E7610",
				"property": "dataElement", "indexes": bad})
			if minor >= 41 {
				sum["rejectedIndexes"] = bad
			}
		}
	}
	sum["conflicts"] = conflicts
	status := "SUCCESS"
	if len(bad) > 0 {
		status = "WARNING"
		if ok == 0 && minor >= 43 {
			status = "ERROR"
		}
	}
	sum["status"] = status
	if minor <= 37 {
		return 200, mustJSON(f.t, sum)
	}
	wm := map[string]any{"httpStatus": "OK", "httpStatusCode": 200, "status": "OK", "message": "Import was successful.", "response": sum}
	code := 200
	if status != "SUCCESS" {
		code = 409
		wm["httpStatus"], wm["httpStatusCode"], wm["status"] = "Conflict", 409, status
		wm["message"] = "One more conflicts encountered, please check import summary."
	}
	return code, mustJSON(f.t, wm)
}

func mustJSON(t testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Errorf("marshal: %v", err)
	}
	return b
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// values returns n fully qualified values; those whose index is in bad get
// the unknown data element.
func values(n int, bad ...int) []validate.Value {
	isBad := make(map[int]bool, len(bad))
	for _, i := range bad {
		isBad[i] = true
	}
	out := make([]validate.Value, n)
	for i := range out {
		de := "Qw1Er2Ty3Ui"
		if isBad[i] {
			de = unknownDE
		}
		out[i] = validate.Value{DataElement: de, Period: "202401", OrgUnit: "Zx9Yw8Vu7Ts",
			CategoryOptionCombo: "HllvX50cXC0", AttributeOptionCombo: "HllvX50cXC0", Value: "42"}
	}
	return out
}
