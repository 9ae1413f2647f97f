package dhis2

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/validate"
)

// dataServer serves the data management endpoints the way DHIS2 answers
// them (dhis2-docs "Data", "Data approval"; CompleteDataSetRegistration
// controller), recording each request.
type dataServer struct {
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
	// regAnswer is the status and body of POST completeDataSetRegistrations.
	regStatus int
	regBody   string
}

func (d *dataServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	d.mu.Lock()
	d.reqs, d.body = append(d.reqs, r), append(d.body, b)
	d.mu.Unlock()
	switch r.URL.Path {
	case "/api/system/info":
		writeJSON(w, 200, []byte(`{"version":"2.40.3","serverDate":"2026-11-15T09:30:00.000","calendar":"iso8601"}`))
	case "/api/me":
		// 2.36 and older give the username only in userCredentials.
		writeJSON(w, 200, []byte(`{"id":"xE7jOejl9FI","userCredentials":{"username":"cht-mediator"},"authorities":["F_DATAVALUE_ADD"],"organisationUnits":[{"id":"ouRoot00001"}]}`))
	case "/api/dataValueSets":
		var vals []string
		for _, ou := range r.URL.Query()["orgUnit"] {
			vals = append(vals, fmt.Sprintf(`{"dataElement":"deA00000001","period":"202610","orgUnit":%q,"categoryOptionCombo":"HllvX50cXC0","attributeOptionCombo":"HllvX50cXC0","value":"3","storedBy":"cht-mediator","created":"2026-11-02T10:00:00.000+0000","lastUpdated":"2026-11-02T10:00:00.000+0000","followup":false}`, ou))
		}
		vals = append(vals, `{"dataElement":"deA00000001","period":"202610","orgUnit":"ouGone00001","value":"1","storedBy":"x","deleted":true}`)
		writeJSON(w, 200, []byte(`{"dataValues":[`+strings.Join(vals, ",")+`]}`))
	case "/api/completeDataSetRegistrations":
		if r.Method == http.MethodGet {
			writeJSON(w, 200, []byte(`{"completeDataSetRegistrations":[{"period":"202610","dataSet":"dsA00000001","organisationUnit":"ouA00000001","attributeOptionCombo":"HllvX50cXC0","date":"2026-11-02","storedBy":"cht-mediator","completed":true},{"period":"202610","dataSet":"dsA00000001","organisationUnit":"ouB00000001","date":"2026-11-02"}]}`))
			return
		}
		writeJSON(w, d.regStatus, []byte(d.regBody))
	case "/api/dataApprovals/approvals":
		writeJSON(w, 200, []byte(`[{"aoc":"HllvX50cXC0","pe":"202610","ou":"ouA00000001","permissions":{"mayApprove":false,"mayUnapprove":true,"mayAccept":true,"mayUnaccept":false,"mayReadData":true},"state":"APPROVED_HERE","wf":"wfA00000001"},{"aoc":"HllvX50cXC0","pe":"202610","ou":"ouB00000001","permissions":{"mayApprove":true},"state":"UNAPPROVED_READY","wf":"wfA00000001"}]`))
	default:
		writeJSON(w, 404, []byte(`{"httpStatus":"Not Found","httpStatusCode":404,"status":"ERROR","message":"Not Found"}`))
	}
}

func (d *dataServer) requests(path string) []*http.Request {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*http.Request
	for _, r := range d.reqs {
		if r.URL.Path == path {
			out = append(out, r)
		}
	}
	return out
}

func newDataClient(t *testing.T) (*Client, *dataServer) {
	t.Helper()
	d := &dataServer{regStatus: 200}
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	c, _ := newTestClient(t, testConfig(srv.URL), nil)
	return c, d
}

func TestClient_MeAndServerNow(t *testing.T) {
	c, d := newDataClient(t)
	ctx := context.Background()
	u, err := c.Me(ctx)
	if err != nil || u.Username != "cht-mediator" || !reflect.DeepEqual(u.Authorities, []string{"F_DATAVALUE_ADD"}) || !reflect.DeepEqual(u.OrgUnits, []string{"ouRoot00001"}) {
		t.Fatalf("Me() = %+v, %v; want cht-mediator from userCredentials", u, err)
	}
	if _, err := c.Me(ctx); err != nil || len(d.requests("/api/me")) != 1 {
		t.Errorf("Me asked %d times; want once for the client's life", len(d.requests("/api/me")))
	}
	now, ok, err := c.ServerNow(ctx)
	want := time.Date(2026, 11, 15, 9, 30, 0, 0, time.UTC)
	if err != nil || !ok || now.Before(want) || now.Sub(want) > time.Minute {
		t.Errorf("ServerNow() = %v, %t, %v; want DHIS2's serverDate %v moved on by the time since", now, ok, err, want)
	}
}

func TestClient_DataValues(t *testing.T) {
	c, d := newDataClient(t)
	ous := make([]string, readBatch+5)
	for i := range ous {
		ous[i] = fmt.Sprintf("ou%09d", i)
	}
	got, err := c.DataValues(context.Background(), "dsA00000001", "202610", DataScope{OrgUnits: ous})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ous) {
		t.Fatalf("%d values; want %d (soft-deleted ones left out)", len(got), len(ous))
	}
	if want := (validate.Stored{DataElement: "deA00000001", Period: "202610", OrgUnit: ous[0], CategoryOptionCombo: "HllvX50cXC0",
		AttributeOptionCombo: "HllvX50cXC0", Value: "3", StoredBy: "cht-mediator"}); got[0] != want {
		t.Errorf("first value %+v; want %+v", got[0], want)
	}
	reqs := d.requests("/api/dataValueSets")
	if len(reqs) != 2 || len(reqs[0].URL.Query()["orgUnit"]) != readBatch || reqs[0].URL.Query().Get("dataSet") != "dsA00000001" ||
		reqs[0].URL.Query().Get("period") != "202610" || reqs[0].URL.Query().Has("children") {
		t.Errorf("requests %v; want 2 batches naming data set, period and at most %d org units", reqs, readBatch)
	}
	if _, err := c.DataValues(context.Background(), "dsA00000001", "202610", DataScope{OrgUnits: []string{"ouA00000001"}, Children: true}); err != nil {
		t.Fatal(err)
	}
	if r := d.requests("/api/dataValueSets"); r[len(r)-1].URL.Query().Get("children") != "true" {
		t.Error("children=true not sent")
	}
	if _, err := c.DataValues(context.Background(), "not a uid", "202610", DataScope{}); err == nil {
		t.Error("a bad data set id was not refused")
	}
}

func TestClient_Registrations(t *testing.T) {
	c, d := newDataClient(t)
	ctx := context.Background()
	got, err := c.Registrations(ctx, "dsA00000001", "202610", []string{"ouA00000001", "ouB00000001"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Registration{
		{DataSet: "dsA00000001", Period: "202610", OrgUnit: "ouA00000001", AttributeOptionCombo: "HllvX50cXC0", StoredBy: "cht-mediator", Completed: true},
		{DataSet: "dsA00000001", Period: "202610", OrgUnit: "ouB00000001", Completed: true}, // no flag: completed
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Registrations() = %+v; want %+v", got, want)
	}

	tests := []struct {
		name, body string
		status     int
		want       ImportResult
	}{
		{"2.37 bare summary", `{"responseType":"ImportSummary","status":"SUCCESS","description":"Import process complete.","importCount":{"imported":2,"updated":0,"ignored":0,"deleted":0},"conflicts":[]}`, 200,
			ImportResult{Status: ImportSuccess, Imported: 2, Description: "Import process complete.", Chunks: 1}},
		{"2.40 wrapped, one ignored", `{"httpStatus":"OK","httpStatusCode":200,"status":"OK","message":"Import was successful.","response":{"responseType":"ImportSummary","status":"SUCCESS","description":"Import process complete.","importCount":{"imported":0,"updated":1,"ignored":1,"deleted":0},"conflicts":[{"object":"ouX","value":"Organisation unit not found or not accessible"}]}}`, 200,
			ImportResult{Status: ImportWarning, Updated: 1, Ignored: 1, Description: "Import process complete.", Chunks: 1,
				Conflicts: []Conflict{{Object: "ouX", Value: "Organisation unit not found or not accessible"}}}},
		{"2.40 all ignored: 409 ERROR", `{"httpStatus":"Conflict","httpStatusCode":409,"status":"ERROR","message":"An error occurred, please check import summary.","response":{"responseType":"ImportSummary","status":"ERROR","description":"Import process complete.","importCount":{"imported":0,"updated":0,"ignored":2,"deleted":0},"conflicts":[]}}`, 409,
			ImportResult{Status: ImportError, Ignored: 2, Description: "Import process complete.", Chunks: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d.regStatus, d.regBody = tc.status, tc.body
			regs := []Registration{{DataSet: "dsA00000001", Period: "202610", OrgUnit: "ouA00000001", AttributeOptionCombo: "HllvX50cXC0", StoredBy: "someone"}}
			got, err := c.RegisterComplete(ctx, regs, tc.name == "2.37 bare summary")
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("RegisterComplete() = %+v, %v; want %+v", got, err, tc.want)
			}
			d.mu.Lock()
			last, body := d.reqs[len(d.reqs)-1], d.body[len(d.body)-1]
			d.mu.Unlock()
			var sent map[string][]map[string]any
			if err := json.Unmarshal(body, &sent); err != nil || len(sent["completeDataSetRegistrations"]) != 1 {
				t.Fatalf("body %s; want {completeDataSetRegistrations: [one]}", body)
			}
			r := sent["completeDataSetRegistrations"][0]
			if r["dataSet"] != "dsA00000001" || r["organisationUnit"] != "ouA00000001" || r["attributeOptionCombo"] != "HllvX50cXC0" || r["completed"] != true || r["storedBy"] != nil {
				t.Errorf("registration sent %v; want data set, org unit, combo, completed, and no storedBy", r)
			}
			if dry := last.URL.Query().Get("dryRun") == "true"; dry != (tc.name == "2.37 bare summary") || last.Header.Get("Content-Type") != "application/json" {
				t.Errorf("query %v, content type %q", last.URL.Query(), last.Header.Get("Content-Type"))
			}
		})
	}
}

func TestClient_Approvals(t *testing.T) {
	c, d := newDataClient(t)
	got, err := c.Approvals(context.Background(), "wfA00000001", "202610", []string{"ouA00000001", "ouB00000001"})
	if err != nil || len(got) != 2 || !got[0].Approved() || got[1].Approved() || got[0].OrgUnit != "ouA00000001" {
		t.Fatalf("Approvals() = %+v, %v; want ouA approved, ouB not", got, err)
	}
	q := d.requests("/api/dataApprovals/approvals")[0].URL.Query()
	if q.Get("wf") != "wfA00000001" || q.Get("pe") != "202610" || q.Get("ou") != "ouA00000001,ouB00000001" {
		t.Errorf("query %v; want wf, pe and a comma-separated ou list", q)
	}
	for state, want := range map[string]bool{"APPROVED_HERE": true, "APPROVED_ELSEWHERE": true, "ACCEPTED_HERE": true, "ACCEPTED_ELSEWHERE": true,
		"UNAPPROVED_READY": false, "UNAPPROVED_WAITING": false, "UNAPPROVED_ELSEWHERE": false, "UNAPPROVABLE": false} {
		if (Approval{State: state}).Approved() != want {
			t.Errorf("%s: Approved() = %t", state, !want)
		}
	}
}
