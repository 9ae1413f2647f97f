package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/openhim"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/testutil"
)

// servers maps each test handler to its server, for tests that look inside.
var servers sync.Map

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const testURN = "urn:mediator:cht-dhis2"

// testNow is the fixed clock: July 2024, so "last month" is 202406.
var testNow = time.Date(2024, time.July, 15, 10, 30, 0, 0, time.UTC)

// fakeExporter records what it is asked and answers with its functions.
type fakeExporter struct {
	mu       sync.Mutex
	exports  []export.ExportRequest
	previews []export.Request
	ctxs     []context.Context

	exportFn    func(ctx context.Context, req export.ExportRequest) (*export.Report, error)
	previewFn   func(ctx context.Context, req export.Request) (*export.Preview, error)
	dataSets    []string
	dataSetsErr error
}

func (f *fakeExporter) Export(ctx context.Context, req export.ExportRequest) (*export.Report, error) {
	f.mu.Lock()
	f.exports = append(f.exports, req)
	f.ctxs = append(f.ctxs, ctx)
	fn := f.exportFn
	f.mu.Unlock()
	if fn == nil {
		return successReport(req), nil
	}
	return fn(ctx, req)
}

func (f *fakeExporter) Preview(ctx context.Context, req export.Request) (*export.Preview, error) {
	f.mu.Lock()
	f.previews = append(f.previews, req)
	f.ctxs = append(f.ctxs, ctx)
	fn := f.previewFn
	f.mu.Unlock()
	if fn == nil {
		return samplePreview(req), nil
	}
	return fn(ctx, req)
}

func (f *fakeExporter) DataSets(ctx context.Context) ([]string, error) {
	return f.dataSets, f.dataSetsErr
}

func (f *fakeExporter) exportCalls() []export.ExportRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]export.ExportRequest(nil), f.exports...)
}

func (f *fakeExporter) previewCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.previews)
}

func successReport(req export.ExportRequest) *export.Report {
	return &export.Report{
		Status:     export.StatusSuccessful,
		DataSet:    req.DataSet,
		Period:     req.Period.Period(),
		OrgUnits:   []string{"ouDistrict1", "ouHealth01"},
		DataValues: export.ValueCounts{Built: 4, Valid: 4},
		Problems:   []export.Problem{},
		Import:     &export.ImportSummary{Status: "SUCCESS", Imported: 3, Updated: 1, Chunks: 1, Conflicts: []export.Conflict{}},
		DryRun:     req.DryRun,
	}
}

func partialReport(req export.ExportRequest) *export.Report {
	r := successReport(req)
	r.Status = export.StatusCompletedWithErrors
	r.DataValues = export.ValueCounts{Built: 4, Valid: 3, Rejected: 2}
	r.Problems = []export.Problem{
		{Code: "value_not_numeric", Message: `value "abc" is not a number`, OrgUnit: "ouHealth01", DataElement: "deBirths001", Value: "abc"},
		{Code: "dhis2_conflict", Message: "DHIS2 refused the value (E7641): period is locked", OrgUnit: "ouDistrict1", DataElement: "deFacDel001", Value: "7"},
	}
	r.Import = &export.ImportSummary{Status: "WARNING", Imported: 1, Updated: 1, Ignored: 1, Chunks: 1, Conflicts: []export.Conflict{
		{ErrorCode: "E7641", Message: "period is locked", Object: "202406", Values: []export.DataValue{{DataElement: "deFacDel001", Period: "202406", OrgUnit: "ouDistrict1", Value: "7"}}},
	}}
	return r
}

func failedReport(req export.ExportRequest) *export.Report {
	return &export.Report{
		Status:     export.StatusFailed,
		DataSet:    req.DataSet,
		Period:     req.Period.Period(),
		OrgUnits:   []string{"ouDistrict1"},
		DataValues: export.ValueCounts{Built: 2, Valid: 2},
		Problems:   []export.Problem{},
		Import:     &export.ImportSummary{Status: "ERROR", Ignored: 2, Description: "The import process failed: period is locked", Chunks: 1, Conflicts: []export.Conflict{}},
		DryRun:     req.DryRun,
		Error:      "DHIS2 rejected the import: The import process failed: period is locked",
	}
}

func samplePreview(req export.Request) *export.Preview {
	p := req.Period.Period()
	return &export.Preview{
		Set: export.DataValueSet{
			DataSet: req.DataSet, CompleteDate: "2024-07-15", Period: p,
			DataValues: []export.DataValue{
				{DataElement: "deBirths001", Period: p, OrgUnit: "ouDistrict1", Value: "12"},
				{DataElement: "deFacDel001", Period: p, OrgUnit: "ouDistrict1", CategoryOptionCombo: "cocUnder5aa", Value: "0.5",
					Attributes: map[string]json.RawMessage{"comment": json.RawMessage(`"from CHT"`)}},
				{DataElement: "deBirths001", Period: p, OrgUnit: "ouHealth01", Value: "3"},
			},
		},
	}
}

// testServer builds the handler over exp with a fixed clock, logging into
// the returned buffer.
func testServer(t *testing.T, exp Exporter, mod func(*Options)) (http.Handler, *testutil.SyncBuffer) {
	t.Helper()
	logs := &testutil.SyncBuffer{}
	opts := Options{
		URN:      testURN,
		Version:  "1.2.3",
		Exporter: exp,
		Now:      func() time.Time { return testNow },
		Logger:   slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&opts)
	}
	s, h, err := build(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	servers.Store(h, s)
	t.Cleanup(func() { servers.Delete(h) })
	return h, logs
}

// do sends one request through h.
func do(h http.Handler, method, target string, body io.Reader, hdr map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, body)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// envelope is a decoded answer, checked against the invariants core needs.
type envelope struct {
	URN      string `json:"x-mediator-urn"`
	Status   string `json:"status"`
	Response struct {
		Status    int               `json:"status"`
		Headers   map[string]string `json:"headers"`
		Body      string            `json:"body"`
		Timestamp time.Time         `json:"timestamp"`
	} `json:"response"`
	Orchestrations []openhim.Orchestration `json:"orchestrations"`
	Properties     map[string]string       `json:"properties"`
	Error          *openhim.Error          `json:"error"`
}

// checkEnvelope fails unless rec is a well-formed envelope: the content
// type, the outer status equal to response.status, orchestrations an array,
// bodies strings, properties strings, a known status word. It returns the
// envelope.
func checkEnvelope(t *testing.T, rec *httptest.ResponseRecorder) envelope {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != openhim.ContentType {
		t.Fatalf("Content-Type = %q; want %q (body %s)", ct, openhim.ContentType, rec.Body)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, rec.Body)
	}
	orch := bytes.TrimSpace(raw["orchestrations"])
	if len(orch) == 0 || orch[0] != '[' {
		t.Errorf("orchestrations = %s; want a JSON array", orch)
	}
	var resp map[string]json.RawMessage
	if err := json.Unmarshal(raw["response"], &resp); err != nil {
		t.Fatalf("response is not an object: %v", err)
	}
	if b := bytes.TrimSpace(resp["body"]); len(b) == 0 || b[0] != '"' {
		t.Errorf("response.body = %.60s; want a JSON string", b)
	}
	if p, ok := raw["properties"]; ok {
		var props map[string]any
		_ = json.Unmarshal(p, &props)
		for k, v := range props {
			if _, ok := v.(string); !ok {
				t.Errorf("properties[%q] = %v (%T); want a string", k, v, v)
			}
		}
	}
	var env envelope
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
		t.Fatalf("decode envelope: %v", err)
	}
	if env.URN != testURN {
		t.Errorf("x-mediator-urn = %q; want %q", env.URN, testURN)
	}
	if env.Response.Status != rec.Code {
		t.Errorf("response.status = %d; outer status %d; want them equal", env.Response.Status, rec.Code)
	}
	switch env.Status {
	case openhim.StatusSuccessful, openhim.StatusCompleted, openhim.StatusCompletedWithErrors, openhim.StatusFailed, openhim.StatusProcessing:
	default:
		t.Errorf("status = %q; want an OpenHIM status word", env.Status)
	}
	if env.Response.Timestamp.IsZero() {
		t.Errorf("response.timestamp is missing")
	}
	for i, o := range env.Orchestrations {
		if o.Name == "" || o.Request.Timestamp.IsZero() {
			t.Errorf("orchestrations[%d] = %+v; core needs a name and a request timestamp", i, o)
		}
	}
	if ct := env.Response.Headers["Content-Type"]; ct != "application/json" {
		t.Errorf("response.headers Content-Type = %q; want application/json", ct)
	}
	if !json.Valid([]byte(env.Response.Body)) {
		t.Errorf("response.body is not JSON: %s", env.Response.Body)
	}
	return env
}

// golden compares the answer with testdata/<name>.json: the HTTP status,
// the envelope with every "timestamp" normalised, and, for review, the
// decoded response.body. -update rewrites the file.
func golden(t *testing.T, name string, rec *httptest.ResponseRecorder) {
	t.Helper()
	var env any
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
		t.Fatalf("decode: %v", err)
	}
	normalise(env)
	var body any
	if m, ok := env.(map[string]any); ok {
		if r, ok := m["response"].(map[string]any); ok {
			if s, ok := r["body"].(string); ok {
				_ = json.Unmarshal([]byte(s), &body)
			}
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(map[string]any{
		"httpStatus":  rec.Code,
		"contentType": rec.Header().Get("Content-Type"),
		"envelope":    env,
		"decodedBody": body,
	}); err != nil {
		t.Fatal(err)
	}
	got := buf.Bytes()
	path := filepath.Join("testdata", name+".json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the answer (run go test -update and review the diff):\ngot:\n%s", path, got)
	}
}

// normalise replaces every "timestamp" value with a fixed string.
func normalise(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if k == "timestamp" {
				v[k] = "<timestamp>"
				continue
			}
			normalise(x)
		}
	case []any:
		for _, x := range v {
			normalise(x)
		}
	}
}

// errorMessage returns the message of an error answer's body.
func errorMessage(t *testing.T, env envelope) string {
	t.Helper()
	var wm webMessage
	if err := json.Unmarshal([]byte(env.Response.Body), &wm); err != nil {
		t.Fatalf("error body is not a WebMessage: %v: %s", err, env.Response.Body)
	}
	if wm.HTTPStatusCode != env.Response.Status || wm.Status != "ERROR" {
		t.Errorf("WebMessage = %+v; want httpStatusCode %d and status ERROR", wm, env.Response.Status)
	}
	return wm.Message
}

var errUpstream = errors.New("cht: read settings: status 503: service unavailable")

func contains(s, sub string) bool { return strings.Contains(s, sub) }
