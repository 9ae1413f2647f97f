package dhis2

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// TestClient_PushDataValues_families pushes to a fake of each version
// family and checks that every answer becomes the same result.
func TestClient_PushDataValues_families(t *testing.T) {
	tests := []struct {
		version string
		want    ImportResult
	}{
		{version: "2.36.13", want: ImportResult{Status: "WARNING", Imported: 3, Ignored: 2, Chunks: 1,
			RejectedIndexes: nil, // ≤2.36 says nothing about which values
			Conflicts: []Conflict{
				{Object: unknownDE, Value: "Data element not found or not accessible"},
				{Object: unknownDE, Value: "Data element not found or not accessible"}}}},
		{version: "2.37.9", want: ImportResult{Status: "WARNING", Imported: 3, Ignored: 2, Chunks: 1, RejectedIndexes: []int{1, 3},
			Conflicts: []Conflict{{Object: unknownDE, Value: "Data element not found or not accessible: `" + unknownDE + "`",
				ErrorCode: "E7610", Property: "dataElement", Objects: map[string]string{"dataElement": unknownDE}, Indexes: []int{1, 3}}}}},
		{version: "2.40.3", want: ImportResult{Status: "WARNING", Imported: 3, Ignored: 2, Chunks: 1, RejectedIndexes: []int{1, 3},
			Conflicts: []Conflict{{Object: unknownDE, Value: "Data element not found or not accessible: `" + unknownDE + "`",
				ErrorCode: "E7610", Property: "dataElement", Objects: map[string]string{"dataElement": unknownDE}, Indexes: []int{1, 3}}}}},
		{version: "2.41.2", want: ImportResult{Status: "WARNING", Imported: 3, Ignored: 2, Chunks: 1, RejectedIndexes: []int{1, 3},
			Conflicts: []Conflict{{Object: unknownDE, Value: "Data element not found or not accessible: `" + unknownDE + "`",
				ErrorCode: "E7610", Property: "dataElement", Objects: map[string]string{"dataElement": unknownDE}, Indexes: []int{1, 3}}}}},
		{version: "2.43.0", want: ImportResult{Status: "WARNING", Updated: 3, Ignored: 2, Chunks: 1, RejectedIndexes: []int{1, 3},
			Conflicts: []Conflict{{Value: "Value #n refers to a data element that does not exist", ErrorCode: "E8101",
				Objects: map[string]string{"args": unknownDE}, Indexes: []int{1, 3}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			f := newFake(t, tt.version)
			c, _ := newTestClient(t, testConfig(f.srv.URL), nil)
			got, err := c.PushDataValues(context.Background(), values(5, 1, 3), PushOptions{DataSet: "aB3dE5gH7jK"})
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Description = "Import process completed successfully"
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("PushDataValues() =\n%+v\nwant\n%+v", got, tt.want)
			}
			if got.Written() != 3 || got.RejectedAsWhole() {
				t.Errorf("Written() = %d, RejectedAsWhole() = %v; want 3, false", got.Written(), got.RejectedAsWhole())
			}
		})
	}
}

// TestClient_PushDataValues_testdata answers with the testdata bodies of
// dhis2-core DataValueSetController and WebMessageUtils and checks the merged result of a one-chunk push.
func TestClient_PushDataValues_testdata(t *testing.T) {
	tests := []struct {
		file        string
		status      int
		wantStatus  string
		wantWritten int
		wantRej     []int
	}{
		{file: "importsummary-236-warning.json", status: 200, wantStatus: "WARNING", wantWritten: 1},
		{file: "importsummary-237-success.json", status: 200, wantStatus: "SUCCESS", wantWritten: 3},
		{file: "importsummary-237-error.json", status: 200, wantStatus: "ERROR", wantRej: []int{0, 1, 2, 3}},
		{file: "webmessage-200-success.json", status: 200, wantStatus: "SUCCESS", wantWritten: 4},
		{file: "webmessage-409-warning.json", status: 409, wantStatus: "WARNING", wantWritten: 2, wantRej: []int{1, 3}},
		{file: "webmessage-409-error.json", status: 409, wantStatus: "ERROR", wantRej: []int{0, 1, 2, 3}},
		{file: "webmessage-409-error-failed.json", status: 409, wantStatus: "ERROR", wantRej: []int{0, 1, 2, 3}},
		{file: "v243-409-warning.json", status: 409, wantStatus: "WARNING", wantWritten: 3, wantRej: []int{2}},
		{file: "v243-409-error-whole.json", status: 409, wantStatus: "ERROR", wantRej: []int{0, 1, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f := newFake(t, "2.41.0")
			f.answer = func(recordedPost) (int, []byte) { return tt.status, readTestdata(t, tt.file) }
			c, _ := newTestClient(t, testConfig(f.srv.URL), nil)
			got, err := c.PushDataValues(context.Background(), values(4), PushOptions{})
			if err != nil {
				t.Fatalf("PushDataValues() error: %v", err)
			}
			if got.Status != tt.wantStatus || got.Written() != tt.wantWritten || !slices.Equal(got.RejectedIndexes, tt.wantRej) {
				t.Errorf("PushDataValues() = %s, %d written, rejected %v; want %s, %d, %v",
					got.Status, got.Written(), got.RejectedIndexes, tt.wantStatus, tt.wantWritten, tt.wantRej)
			}
			for _, c := range got.Conflicts {
				if tt.wantStatus == "ERROR" && !slices.Equal(c.Indexes, []int{0, 1, 2, 3}) {
					t.Errorf("conflict %s of a chunk rejected as a whole has indexes %v; want every value", c.ErrorCode, c.Indexes)
				}
			}
		})
	}
}

func TestClient_PushDataValues_chunks(t *testing.T) {
	const n, size = 50000, 5000
	bad := []int{0, 4999, 5000, 12345, 49999}
	f := newFake(t, "2.40.3")
	cfg := testConfig(f.srv.URL)
	cfg.ChunkSize = size
	c, _ := newTestClient(t, cfg, nil)
	got, err := c.PushDataValues(context.Background(), values(n, bad...), PushOptions{DataSet: "aB3dE5gH7jK"})
	if err != nil {
		t.Fatal(err)
	}
	posts := f.Posts()
	if len(posts) != 10 {
		t.Fatalf("%d POSTs; want 10", len(posts))
	}
	for i, p := range posts {
		if len(p.Set.DataValues) != size {
			t.Errorf("POST %d has %d values; want %d", i, len(p.Set.DataValues), size)
		}
	}
	if got.Chunks != 10 || got.Imported != n-len(bad) || got.Ignored != len(bad) || got.Status != "WARNING" {
		t.Errorf("PushDataValues() = %d chunks, %d imported, %d ignored, %s; want 10, %d, %d, WARNING",
			got.Chunks, got.Imported, got.Ignored, got.Status, n-len(bad), len(bad))
	}
	// The same conflict in four chunks is merged, its indexes global.
	if len(got.Conflicts) != 1 || !slices.Equal(got.Conflicts[0].Indexes, bad) {
		t.Errorf("conflicts = %+v; want one E7610 with indexes %v", got.Conflicts, bad)
	}
	if !slices.Equal(got.RejectedIndexes, bad) {
		t.Errorf("RejectedIndexes = %v; want %v", got.RejectedIndexes, bad)
	}
	if got.Description != "Import process completed successfully" {
		t.Errorf("Description = %q", got.Description)
	}
}

func TestClient_PushDataValues_unevenChunks(t *testing.T) {
	f := newFake(t, "2.39.1.1")
	cfg := testConfig(f.srv.URL)
	cfg.ChunkSize = 3
	c, _ := newTestClient(t, cfg, nil)
	got, err := c.PushDataValues(context.Background(), values(7, 6), PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, p := range f.Posts() {
		sizes = append(sizes, len(p.Set.DataValues))
	}
	if !slices.Equal(sizes, []int{3, 3, 1}) || got.Chunks != 3 {
		t.Errorf("chunk sizes %v, Chunks %d; want [3 3 1], 3", sizes, got.Chunks)
	}
	if got.Status != "WARNING" || !slices.Equal(got.Conflicts[0].Indexes, []int{6}) {
		t.Errorf("got %s with conflicts %+v; want WARNING with index 6", got.Status, got.Conflicts)
	}
}

func TestClient_PushDataValues_request(t *testing.T) {
	for _, dryRun := range []bool{false, true} {
		f := newFake(t, "2.41.0")
		c, _ := newTestClient(t, testConfig(f.srv.URL), nil)
		vals := values(2)
		vals[1].CategoryOptionCombo, vals[1].AttributeOptionCombo = "", ""
		vals[0].Attributes = map[string]json.RawMessage{
			"comment":  json.RawMessage(`"from CHT"`),
			"followup": json.RawMessage(`true`),
			"storedBy": json.RawMessage(` "chw" `),
			// Never sent: they would change where or whether a value is stored.
			"period":  json.RawMessage(`"202402"`),
			"orgUnit": json.RawMessage(`"Nm1Qa2Ws3Ed"`),
			"deleted": json.RawMessage(`true`),
			"dataSet": json.RawMessage(`"Other123456"`),
		}
		vals[1].Attributes = map[string]json.RawMessage{"comment": json.RawMessage(`42`), "followup": json.RawMessage(`"yes"`)}
		if _, err := c.PushDataValues(context.Background(), vals, PushOptions{DryRun: dryRun, DataSet: "aB3dE5gH7jK"}); err != nil {
			t.Fatal(err)
		}
		posts := f.Posts()
		if len(posts) != 1 {
			t.Fatalf("%d POSTs; want 1", len(posts))
		}
		p := posts[0]
		wantQuery := map[string][]string{"importStrategy": {"CREATE_AND_UPDATE"}}
		if dryRun {
			wantQuery["dryRun"] = []string{"true"}
		}
		if !reflect.DeepEqual(p.Query, wantQuery) {
			t.Errorf("dryRun=%v: query = %v; want %v", dryRun, p.Query, wantQuery)
		}
		if ct := p.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q", ct)
		}
		// Only dataSet and dataValues at set level: no period, orgUnit,
		// attributeOptionCombo or completeDate to override the values.
		var keys []string
		for k := range p.Raw {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, []string{"dataSet", "dataValues"}) {
			t.Errorf("set-level fields %v; want [dataSet dataValues]", keys)
		}
		var raw struct{ DataValues []map[string]json.RawMessage }
		if err := json.Unmarshal(mustJSON(t, p.Raw), &raw); err != nil {
			t.Fatal(err)
		}
		want0 := map[string]string{"dataElement": `"Qw1Er2Ty3Ui"`, "period": `"202401"`, "orgUnit": `"Zx9Yw8Vu7Ts"`,
			"categoryOptionCombo": `"HllvX50cXC0"`, "attributeOptionCombo": `"HllvX50cXC0"`, "value": `"42"`,
			"comment": `"from CHT"`, "followup": `true`, "storedBy": `"chw"`}
		want1 := map[string]string{"dataElement": `"Qw1Er2Ty3Ui"`, "period": `"202401"`, "orgUnit": `"Zx9Yw8Vu7Ts"`, "value": `"42"`}
		for i, want := range []map[string]string{want0, want1} {
			got := map[string]string{}
			for k, v := range raw.DataValues[i] {
				got[k] = string(v)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("dataValues[%d] = %v; want %v", i, got, want)
			}
		}
	}
}

func TestClient_PushDataValues_noDataSet(t *testing.T) {
	f := newFake(t, "2.43.0")
	c, logs := newTestClient(t, testConfig(f.srv.URL), nil)
	if _, err := c.PushDataValues(context.Background(), values(1), PushOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Posts()[0].Raw["dataSet"]; ok {
		t.Errorf("dataSet sent though none was given")
	}
	if !strings.Contains(logs.String(), "E8002") {
		t.Errorf("no warning about 2.43 without a data set")
	}
}

func TestClient_PushDataValues_invalid(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	t.Cleanup(srv.Close)
	c, _ := newTestClient(t, testConfig(srv.URL), nil)
	vals := values(6)
	vals[1].Period = ""
	vals[2].Value = "  "
	vals[3].DataElement, vals[3].OrgUnit = "", ""
	vals[4].Value = ""
	vals[5].OrgUnit = ""
	_, err := c.PushDataValues(context.Background(), vals, PushOptions{})
	want := "dhis2: push data values: 5 of 6 values are not fully qualified, nothing was sent: value 1: no period; value 2: no value; value 3: no data element, org unit; and 2 more"
	if err == nil || err.Error() != want {
		t.Errorf("PushDataValues() = %v;\nwant %s", err, want)
	}
	_, err = c.PushDataValues(context.Background(), values(1), PushOptions{DataSet: "not a uid"})
	if err == nil || !strings.Contains(err.Error(), `data set id "not a uid" is not a DHIS2 uid`) {
		t.Errorf("PushDataValues(bad data set) = %v", err)
	}
	res, err := c.PushDataValues(context.Background(), nil, PushOptions{})
	if err != nil || res.Status != ImportSuccess || res.Chunks != 0 {
		t.Errorf("PushDataValues(nil) = %+v, %v; want SUCCESS with 0 chunks", res, err)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("%d requests; want none", n)
	}
}

func TestClient_PushDataValues_unauthorizedBeforeWriting(t *testing.T) {
	var posts atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/system/info", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 401, readTestdata(t, "webmessage-401.json"))
	})
	mux.HandleFunc("POST /api/dataValueSets", func(w http.ResponseWriter, r *http.Request) { posts.Add(1) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, _ := newTestClient(t, testConfig(srv.URL), nil)
	_, err := c.PushDataValues(context.Background(), values(3), PushOptions{})
	if !errors.Is(err, ErrUnauthorized) {
		t.Errorf("PushDataValues() = %v; want ErrUnauthorized", err)
	}
	if posts.Load() != 0 {
		t.Errorf("data was posted with refused credentials")
	}
}

func TestClient_PushDataValues_errorChunkGoesOn(t *testing.T) {
	f := newFake(t, "2.41.0")
	var n atomic.Int32
	f.answer = func(p recordedPost) (int, []byte) {
		if n.Add(1) == 2 {
			return 409, readTestdata(t, "webmessage-409-error-failed.json")
		}
		return f.familyAnswer(p)
	}
	cfg := testConfig(f.srv.URL)
	cfg.ChunkSize = 2
	c, _ := newTestClient(t, cfg, nil)
	got, err := c.PushDataValues(context.Background(), values(6), PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "ERROR" || got.Imported != 4 || got.Chunks != 3 || !slices.Equal(got.RejectedIndexes, []int{2, 3}) {
		t.Errorf("got %s, %d imported, %d chunks, rejected %v; want ERROR, 4, 3, [2 3]", got.Status, got.Imported, got.Chunks, got.RejectedIndexes)
	}
	want := "Import process completed successfully; The import process failed: Unexpected end-of-input: expected close marker for Object"
	if got.Description != want {
		t.Errorf("Description = %q; want %q", got.Description, want)
	}
}

func TestClient_PushDataValues_async(t *testing.T) {
	f := newFake(t, "2.41.0")
	var taskPolls, summaryPolls atomic.Int32
	f.answer = func(p recordedPost) (int, []byte) {
		if p.Query["async"] == nil {
			t.Errorf("POST without async=true: %v", p.Query)
		}
		return 200, readTestdata(t, "async-job.json")
	}
	f.mux.HandleFunc("GET /api/system/tasks/DATAVALUE_IMPORT/Rt5Yu6Io7Pa", func(w http.ResponseWriter, r *http.Request) {
		switch taskPolls.Add(1) {
		case 1:
			writeJSON(w, 200, []byte(`[]`))
		case 2:
			writeJSON(w, 200, readTestdata(t, "async-tasks-running.json"))
		default:
			writeJSON(w, 200, readTestdata(t, "async-tasks-completed.json"))
		}
	})
	f.mux.HandleFunc("GET /api/system/taskSummaries/DATAVALUE_IMPORT/Rt5Yu6Io7Pa", func(w http.ResponseWriter, r *http.Request) {
		if summaryPolls.Add(1) == 1 {
			w.WriteHeader(200) // not ready yet: empty body
			return
		}
		writeJSON(w, 200, readTestdata(t, "async-summary.json"))
	})
	cfg := testConfig(f.srv.URL)
	cfg.Async = true
	c, _ := newTestClient(t, cfg, nil)
	got, err := c.PushDataValues(context.Background(), values(4), PushOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := ParseImportResponse(200, readTestdata(t, "async-summary.json"))
	if !reflect.DeepEqual(got, want) {
		t.Errorf("PushDataValues(async) =\n%+v\nwant\n%+v", got, want)
	}
	if taskPolls.Load() != 3 || summaryPolls.Load() != 2 {
		t.Errorf("%d task polls, %d summary polls; want 3, 2", taskPolls.Load(), summaryPolls.Load())
	}
	if q := f.Posts()[0].Query; q["dryRun"] == nil || q["async"] == nil {
		t.Errorf("query %v; want dryRun and async", q)
	}
}

func TestClient_PushDataValues_asyncAnsweredAtOnce(t *testing.T) {
	f := newFake(t, "2.36.13") // answers with a summary: async ignored
	cfg := testConfig(f.srv.URL)
	cfg.Async = true
	c, _ := newTestClient(t, cfg, nil)
	got, err := c.PushDataValues(context.Background(), values(2), PushOptions{})
	if err != nil || got.Status != "SUCCESS" || got.Imported != 2 {
		t.Errorf("PushDataValues() = %+v, %v; want SUCCESS, 2 imported", got, err)
	}
}

func TestClient_PushDataValues_asyncErrors(t *testing.T) {
	tests := []struct {
		name      string
		post      func() (int, []byte)
		tasks     func(n int32) (int, []byte)
		summaries func(n int32) (int, []byte)
		wantErr   string
	}{
		{name: "not a job reference", post: func() (int, []byte) {
			return 200, []byte(`{"httpStatusCode":200,"status":"OK","response":{"name":"x"}}`)
		},
			wantErr: "not an async job reference: no job id in the answer"},
		{name: "job reference not an object", post: func() (int, []byte) { return 200, []byte(`{"httpStatusCode":200,"response":[1]}`) },
			wantErr: "not an async job reference"},
		{name: "job id with a slash", post: func() (int, []byte) {
			return 200, []byte(`{"httpStatusCode":200,"response":{"id":"../../me","jobType":"DATAVALUE_IMPORT"}}`)
		}, wantErr: "no job id in the answer"},
		{name: "post refused", post: func() (int, []byte) { return 403, []byte(`{"httpStatusCode":403,"message":"Access denied"}`) },
			wantErr: "status 403"},
		{name: "task unknown", tasks: func(int32) (int, []byte) { return 200, []byte(`[]`) },
			wantErr: "no notification for the task after 3 polls"},
		{name: "tasks not json", tasks: func(int32) (int, []byte) { return 200, []byte(`{`) },
			wantErr: "poll import task Rt5Yu6Io7Pa: decode answer"},
		{name: "summary never comes", summaries: func(int32) (int, []byte) { return 200, nil },
			wantErr: `the task completed (INFO: "Import complete with status WARNING`},
		{name: "summary refused", summaries: func(int32) (int, []byte) { return 500, readTestdata(t, "webmessage-500.json") },
			wantErr: "import task summary Rt5Yu6Io7Pa: status 500"},
		{name: "summary not a summary", summaries: func(int32) (int, []byte) { return 200, []byte(`{"a":1}`) },
			wantErr: "no import summary in the answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, "2.41.0")
			f.answer = func(recordedPost) (int, []byte) {
				if tt.post != nil {
					return tt.post()
				}
				return 200, readTestdata(t, "async-job.json")
			}
			var tn, sn atomic.Int32
			f.mux.HandleFunc("GET /api/system/tasks/DATAVALUE_IMPORT/Rt5Yu6Io7Pa", func(w http.ResponseWriter, r *http.Request) {
				if tt.tasks != nil {
					s, b := tt.tasks(tn.Add(1))
					writeJSON(w, s, b)
					return
				}
				writeJSON(w, 200, readTestdata(t, "async-tasks-completed.json"))
			})
			f.mux.HandleFunc("GET /api/system/taskSummaries/DATAVALUE_IMPORT/Rt5Yu6Io7Pa", func(w http.ResponseWriter, r *http.Request) {
				if tt.summaries != nil {
					s, b := tt.summaries(sn.Add(1))
					writeJSON(w, s, b)
					return
				}
				writeJSON(w, 200, readTestdata(t, "async-summary.json"))
			})
			cfg := testConfig(f.srv.URL)
			cfg.Async = true
			c, _ := newTestClient(t, cfg, nil)
			c.maxEmptyPolls, c.maxSummaryPolls = 3, 3
			got, err := c.PushDataValues(context.Background(), values(4), PushOptions{})
			var pe *PushError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("PushDataValues() = %v; want a *PushError containing %q", err, tt.wantErr)
			}
			if got.Chunks != 0 || pe.Chunk != 1 || pe.Sent != 0 {
				t.Errorf("result %+v, error %+v; want nothing answered, chunk 1 failed", got, pe)
			}
		})
	}
}

func TestClient_PushDataValues_asyncCanceled(t *testing.T) {
	f := newFake(t, "2.41.0")
	f.answer = func(recordedPost) (int, []byte) { return 200, readTestdata(t, "async-job.json") }
	ctx, cancel := context.WithCancel(context.Background())
	f.mux.HandleFunc("GET /api/system/tasks/DATAVALUE_IMPORT/Rt5Yu6Io7Pa", func(w http.ResponseWriter, r *http.Request) {
		cancel() // the caller gives up while the import runs
		writeJSON(w, 200, readTestdata(t, "async-tasks-running.json"))
	})
	cfg := testConfig(f.srv.URL)
	cfg.Async = true
	c, _ := newTestClient(t, cfg, nil)
	_, err := c.PushDataValues(ctx, values(2), PushOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("PushDataValues() = %v; want context.Canceled", err)
	}
}

// cancelOnClose cancels a context once the first response body is closed:
// the caller gives up right after chunk 1 was answered.
type cancelOnClose struct {
	cancel context.CancelFunc
	posts  atomic.Int32
}

func (c *cancelOnClose) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && r.Method == http.MethodPost && c.posts.Add(1) == 1 {
		resp.Body = closeHook{resp.Body, c.cancel}
	}
	return resp, err
}

type closeHook struct {
	io.ReadCloser
	hook func()
}

func (c closeHook) Close() error {
	c.hook()
	return c.ReadCloser.Close()
}

func TestClient_PushDataValues_canceledBetweenChunks(t *testing.T) {
	f := newFake(t, "2.41.0")
	ctx, cancel := context.WithCancel(context.Background())
	cfg := testConfig(f.srv.URL)
	cfg.ChunkSize = 2
	c, _ := newTestClient(t, cfg, &http.Client{Transport: &cancelOnClose{cancel: cancel}})
	got, err := c.PushDataValues(ctx, values(4), PushOptions{})
	var pe *PushError
	if !errors.As(err, &pe) || !errors.Is(err, context.Canceled) || pe.Chunk != 2 || pe.Sent != 2 || !pe.NotSent {
		t.Fatalf("PushDataValues() = %v; want a *PushError at chunk 2 wrapping context.Canceled", err)
	}
	if !strings.HasSuffix(err.Error(), "chunk 2 was not sent") {
		t.Errorf("error %q; want it to say chunk 2 was not sent", err)
	}
	if got.Imported != 2 || got.Chunks != 1 {
		t.Errorf("partial result %+v; want chunk 1's 2 imported values", got)
	}
	if n := len(f.Posts()); n != 1 {
		t.Errorf("%d POSTs; want 1", n)
	}
}

func TestMerger_indexes(t *testing.T) {
	m := newMerger(10)
	m.add(ImportResult{Status: "WARNING", Conflicts: []Conflict{{ErrorCode: "E7610", Indexes: []int{1, 7, -1}}}}, 4, 3, nil)
	r := m.result()
	if !slices.Equal(r.Conflicts[0].Indexes, []int{4, 5, 6}) {
		t.Errorf("indexes = %v; want [4 5 6]: -1 is the whole chunk, 7 is outside it", r.Conflicts[0].Indexes)
	}
	if !slices.Equal(r.RejectedIndexes, []int{4, 5, 6}) {
		t.Errorf("RejectedIndexes = %v", r.RejectedIndexes)
	}
}
