package dhis2

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseImportResponse(t *testing.T) {
	e7610 := Conflict{
		Object: "Xx1Xx2Xx3Xx", Value: "Data element not found or not accessible: `Xx1Xx2Xx3Xx`",
		ErrorCode: "E7610", Property: "dataElement", Objects: map[string]string{"dataElement": "Xx1Xx2Xx3Xx"}, Indexes: []int{1},
	}
	e7619 := Conflict{
		Object: "Qw1Er2Ty3Ui", Value: "Value must match value type of data element `Qw1Er2Ty3Ui`: `Data value is not a positive integer`",
		ErrorCode: "E7619", Property: "value", Indexes: []int{3},
		Objects: map[string]string{"dataElement": "Qw1Er2Ty3Ui", "value": "value_not_positive_integer"},
	}
	tests := []struct {
		name   string
		file   string
		status int
		want   ImportResult
		whole  bool // RejectedAsWhole
	}{
		{
			name: "2.36 bare warning with plain conflict", file: "importsummary-236-warning.json", status: 200,
			want: ImportResult{Status: "WARNING", Imported: 1, Ignored: 1, Chunks: 1,
				Description: "Import process completed successfully",
				Conflicts:   []Conflict{{Object: "Xx1Xx2Xx3Xx", Value: "Data element not found or not accessible"}}},
		},
		{
			name: "2.37 bare success", file: "importsummary-237-success.json", status: 200,
			want: ImportResult{Status: "SUCCESS", Imported: 2, Updated: 1, Chunks: 1, Description: "Import process completed successfully"},
		},
		{
			name: "2.37 bare error, aborted at data set level, status 200", file: "importsummary-237-error.json", status: 200,
			want: ImportResult{Status: "ERROR", Chunks: 1, Description: "Import process was aborted",
				Conflicts: []Conflict{{Object: "aB3dE5gH7jK", Value: "Data set not found or not accessible: `aB3dE5gH7jK`",
					ErrorCode: "E7600", Property: "dataSet", Objects: map[string]string{"dataSet": "aB3dE5gH7jK"}}}},
			whole: true,
		},
		{
			name: "2.38+ web message 200 success", file: "webmessage-200-success.json", status: 200,
			want: ImportResult{Status: "SUCCESS", Imported: 3, Updated: 1, Chunks: 1, Description: "Import process completed successfully"},
		},
		{
			name: "2.38+ web message 409 warning is a partial success", file: "webmessage-409-warning.json", status: 409,
			want: ImportResult{Status: "WARNING", Imported: 2, Ignored: 2, Chunks: 1, Description: "Import process completed successfully",
				RejectedIndexes: []int{1, 3}, Conflicts: []Conflict{e7610, e7619}},
		},
		{
			name: "2.38+ web message 409 error, no write access", file: "webmessage-409-error.json", status: 409,
			want: ImportResult{Status: "ERROR", Chunks: 1, Description: "Import process was aborted",
				Conflicts: []Conflict{{Object: "aB3dE5gH7jK", Value: "User does not have write access for DataSet: `aB3dE5gH7jK`",
					ErrorCode: "E7601", Property: "dataSet", Objects: map[string]string{"dataSet": "aB3dE5gH7jK"}}}},
			whole: true,
		},
		{
			name: "2.38+ web message 409 error, body not readable", file: "webmessage-409-error-failed.json", status: 409,
			want: ImportResult{Status: "ERROR", Chunks: 1,
				Description: "The import process failed: Unexpected end-of-input: expected close marker for Object"},
			whole: true,
		},
		{
			name: "2.43 409 warning, conflict without object or property", file: "v243-409-warning.json", status: 409,
			want: ImportResult{Status: "WARNING", Updated: 3, Ignored: 1, Chunks: 1, Description: "Import process completed successfully",
				RejectedIndexes: []int{2},
				Conflicts: []Conflict{{Value: "Value #2 `abc` is not a valid value for data element `Qw1Er2Ty3Ui`", ErrorCode: "E8120",
					Objects: map[string]string{"args": "2-abc-Qw1Er2Ty3Ui"}, Indexes: []int{2}}}},
		},
		{
			name: "2.43 409 error, whole payload rejected", file: "v243-409-error-whole.json", status: 409,
			want: ImportResult{Status: "ERROR", Ignored: 4, Chunks: 1, Description: "Import process completed successfully",
				Conflicts: []Conflict{{Value: "Value #-1 refers to a data element that does not exist: `Xx1Xx2Xx3Xx`", ErrorCode: "E8101",
					Objects: map[string]string{"args": "Xx1Xx2Xx3Xx"}, Indexes: []int{-1}}}},
			whole: true,
		},
		{
			name: "async task summary, bare", file: "async-summary.json", status: 200,
			want: ImportResult{Status: "WARNING", Imported: 2, Ignored: 2, Chunks: 1, Description: "Import process completed successfully",
				RejectedIndexes: []int{1, 3}, Conflicts: []Conflict{e7610, e7619}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseImportResponse(tt.status, readTestdata(t, tt.file))
			if err != nil {
				t.Fatalf("ParseImportResponse(%d, %s) error: %v", tt.status, tt.file, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseImportResponse(%d, %s) =\n%+v\nwant\n%+v", tt.status, tt.file, got, tt.want)
			}
			if got.RejectedAsWhole() != tt.whole {
				t.Errorf("RejectedAsWhole() = %v; want %v", got.RejectedAsWhole(), tt.whole)
			}
			if got.Written() != got.Imported+got.Updated+got.Deleted {
				t.Errorf("Written() = %d", got.Written())
			}
		})
	}
}

func TestParseImportResponse_derivedStatus(t *testing.T) {
	body := `{"responseType":"ImportSummary","status":"SUCCESS","importCount":{"imported":1,"ignored":1},
		"conflicts":[{"object":"Xx1Xx2Xx3Xx","value":"Data element not found or not accessible"}]}`
	got, err := ParseImportResponse(200, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != ImportWarning {
		t.Errorf("status = %q; want WARNING: a summary with conflicts is never a SUCCESS", got.Status)
	}

	// A wrapper whose response has no status takes the WebMessage's.
	body = `{"httpStatusCode":200,"status":"OK","response":{"responseType":"ImportSummary","importCount":{"imported":1}}}`
	got, err = ParseImportResponse(200, []byte(body))
	if err != nil || got.Status != ImportSuccess || got.Imported != 1 {
		t.Errorf("ParseImportResponse(wrapper without inner status) = %+v, %v; want SUCCESS, 1 imported", got, err)
	}

	// A bare summary without responseType but with an importCount.
	body = `{"status":"WARNING","importCount":{"imported":0,"ignored":2}}`
	got, err = ParseImportResponse(200, []byte(body))
	if err != nil || got.Status != ImportWarning || got.Ignored != 2 {
		t.Errorf("ParseImportResponse(summary without responseType) = %+v, %v", got, err)
	}

	// Non-string objects values are kept as raw JSON.
	body = `{"responseType":"ImportSummary","status":"WARNING","conflicts":[{"objects":{"n":1},"value":"x","indexes":[0]}]}`
	got, err = ParseImportResponse(409, []byte(body))
	if err != nil || got.Conflicts[0].Objects["n"] != "1" {
		t.Errorf("ParseImportResponse(numeric objects) = %+v, %v", got, err)
	}
}

func TestParseImportResponse_errors(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       string
		wantStatus int    // >0: a *StatusError with this code
		wantErr    string // substring of the error
		is         error
	}{
		{name: "401 web message", status: 401, body: string(readTestdata(t, "webmessage-401.json")), wantStatus: 401,
			wantErr: "status 401: DHIS2 refused the credentials: Unauthorized", is: ErrUnauthorized},
		{name: "403", status: 403, body: `{"httpStatusCode":403,"status":"ERROR","message":"You don't have the proper permissions to access this resource."}`,
			wantStatus: 403, wantErr: "proper permissions", is: ErrForbidden},
		{name: "500 web message", status: 500, body: string(readTestdata(t, "webmessage-500.json")), wantStatus: 500,
			wantErr: "status 500: Could not open JPA EntityManager"},
		{name: "409 web message without summary", status: 409,
			body:       `{"httpStatus":"Conflict","httpStatusCode":409,"status":"ERROR","message":"Data set not found","errorCode":"E7600"}`,
			wantStatus: 409, wantErr: "E7600 Data set not found"},
		{name: "502 html", status: 502, body: "<html><body>Bad Gateway</body></html>", wantStatus: 502, wantErr: "Bad Gateway"},
		{name: "500 empty", status: 500, body: "", wantStatus: 500, wantErr: "status 500"},
		{name: "200 not json", status: 200, body: "<html>login</html>", wantErr: `not a JSON object`},
		{name: "200 empty", status: 200, body: " \n", wantErr: "empty body"},
		{name: "200 truncated", status: 200, body: `{"responseType":"ImportSummary","status":"SUC`, wantErr: `body starts "{\"responseType\":\"ImportSummary\",\"status\":\"SUC"`},
		{name: "200 json array", status: 200, body: `[]`, wantErr: "not a JSON object"},
		{name: "200 null", status: 200, body: `null`, wantErr: "no import summary"},
		{name: "200 other web message", status: 200, body: string(readTestdata(t, "async-job.json")), wantErr: "no import summary"},
		{name: "200 other object", status: 200, body: `{"responseType":"ObjectReport"}`, wantErr: "no import summary"},
		{name: "unknown status", status: 200, body: `{"responseType":"ImportSummary","status":"DONE"}`, wantErr: `unknown import status "DONE"`},
		{name: "negative count", status: 200, body: `{"responseType":"ImportSummary","status":"SUCCESS","importCount":{"imported":-1}}`, wantErr: "negative import count"},
		{name: "wrong types", status: 200, body: `{"responseType":"ImportSummary","status":"SUCCESS","importCount":{"imported":"3"}}`, wantErr: "decode import summary"},
		{name: "responseType not a string", status: 200, body: `{"responseType":7}`, wantErr: "responseType"},
		{name: "wrapper with broken response", status: 409, body: `{"httpStatusCode":409,"response":[1]}`, wantStatus: 409},
		{name: "wrapper not decodable", status: 200, body: `{"httpStatusCode":"x"}`, wantErr: "decode web message"},
		{name: "long body is cut", status: 502, body: strings.Repeat("x", 5000), wantStatus: 502, wantErr: "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseImportResponse(tt.status, []byte(tt.body))
			if err == nil {
				t.Fatalf("ParseImportResponse(%d, %q) = %+v, nil; want an error", tt.status, tt.body, got)
			}
			var se *StatusError
			if tt.wantStatus > 0 {
				if !errors.As(err, &se) || se.StatusCode != tt.wantStatus {
					t.Fatalf("error %v (%T); want *StatusError with status %d", err, err, tt.wantStatus)
				}
				if len(se.Body) > maxErrorBody+len("…") {
					t.Errorf("StatusError.Body is %d bytes; want at most %d", len(se.Body), maxErrorBody)
				}
			} else if errors.As(err, &se) {
				t.Errorf("error %v is a *StatusError; want a plain error", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q; want it to contain %q", err, tt.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "dhis2: ") {
				t.Errorf("error %q does not start with dhis2:", err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
		})
	}
}

func FuzzImportSummary(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(200, b)
		f.Add(409, b)
	}
	f.Add(500, []byte("<html>"))
	f.Add(200, []byte(`{"httpStatusCode":409,"response":{"responseType":"ImportSummary","status":"WARNING","conflicts":[{"indexes":[-1,0,99]}]}}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		r, err := ParseImportResponse(status, body)
		if err != nil {
			if !reflect.DeepEqual(r, ImportResult{}) {
				t.Errorf("ParseImportResponse returned %+v with error %v", r, err)
			}
			return
		}
		if rank(r.Status) < 0 {
			t.Errorf("status %q is not SUCCESS, WARNING or ERROR", r.Status)
		}
		if len(r.Conflicts) > 0 && r.Status == ImportSuccess {
			t.Errorf("SUCCESS with %d conflicts", len(r.Conflicts))
		}
		if r.Imported < 0 || r.Updated < 0 || r.Ignored < 0 || r.Deleted < 0 {
			t.Errorf("negative counts: %+v", r)
		}
		// Merging a parsed result never panics and keeps indexes in range.
		m := newMerger(10)
		m.add(r, 3, 4, nil)
		for _, c := range m.result().Conflicts {
			for _, i := range c.Indexes {
				if i < 3 || i > 6 {
					t.Errorf("merged index %d outside the chunk [3, 6]", i)
				}
			}
		}
	})
}
