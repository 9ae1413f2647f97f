package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/openhim"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/readiness"
)

// notReadyJune is the readiness of June 2024 with one CHW of four pending.
func notReadyJune() *readiness.Object {
	p := readiness.PeriodOf(2024, time.June, 1, time.UTC)
	last := p.End.Add(-48 * time.Hour)
	return readiness.Compute(readiness.Input{Period: p, Now: testNow, Source: readiness.SourceLogs, MinReady: 1, TargetDocs: 3,
		Users: []readiness.User{
			{Name: "chw1", OrgUnits: []string{"ouDistrict1"}, HasDoc: true, DocUpdated: p.End},
			{Name: "chw2", OrgUnits: []string{"ouDistrict1"}, HasDoc: true, DocUpdated: p.End},
			{Name: "chw3", OrgUnits: []string{"ouDistrict1"}, LastReplication: p.End.Add(time.Hour)},
			{Name: "chw4", ContactName: "Late CHW", OrgUnits: []string{"ouDistrict1"}, HasDoc: true, DocUpdated: last, LastReplication: last},
		}})
}

func notReadyExport(_ context.Context, req export.ExportRequest) (*export.Report, error) {
	r := notReadyJune()
	if req.Force {
		rep := successReport(req)
		rep.Readiness, rep.Forced, rep.ForcedPast = r, true, r.Message
		return rep, nil
	}
	rep := &export.Report{Status: export.StatusFailed, DataSet: req.DataSet, Period: req.Period.Period(), OrgUnits: []string{},
		Problems: []export.Problem{}, Readiness: r, Error: "month not ready: " + r.Message}
	return nil, &export.NotReadyError{DataSet: req.DataSet, Period: req.Period.Period(), Readiness: r, Report: rep}
}

func TestExport_notReadyIsRetried(t *testing.T) {
	exp := &fakeExporter{exportFn: notReadyExport}
	h, _ := testServer(t, exp, nil)
	rec := do(h, "GET", "/export?dataSet=VMuFODsyWaO&period=202406", nil, nil)
	env := checkEnvelope(t, rec)
	if rec.Code != http.StatusConflict || env.Status != openhim.StatusFailed {
		t.Fatalf("status %d %q; want 409 Failed", rec.Code, env.Status)
	}
	if env.Error == nil || !strings.HasPrefix(env.Error.Message, "export VMuFODsyWaO 202406: month not ready: 1 of 4 CHWs have not synced") {
		t.Errorf("envelope error = %+v; want the not-ready message, which flags the transaction for auto-retry", env.Error)
	}
	var rep export.Report
	if err := json.Unmarshal([]byte(env.Response.Body), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Status != export.StatusFailed || rep.Readiness == nil || rep.Readiness.Pending != 1 || rep.Readiness.PendingUsers[0].Username != "chw4" {
		t.Errorf("response.body = %s; want the report with the readiness", env.Response.Body)
	}
	want := map[string]string{"readiness": "0.75", "ready": "false", "expected": "4", "final": "2", "noActivity": "1", "pending": "1", "neverSynced": "0"}
	for k, v := range want {
		if env.Properties[k] != v {
			t.Errorf("properties[%q] = %q; want %q", k, env.Properties[k], v)
		}
	}
}

func TestExport_force(t *testing.T) {
	exp := &fakeExporter{exportFn: notReadyExport}
	h, _ := testServer(t, exp, nil)
	rec := do(h, "POST", "/export?dataSet=VMuFODsyWaO&period=202406&force=true", nil, nil)
	env := checkEnvelope(t, rec)
	if rec.Code != http.StatusOK || env.Status != openhim.StatusSuccessful || env.Error != nil {
		t.Fatalf("status %d %q error %+v; want 200 Successful", rec.Code, env.Status, env.Error)
	}
	if calls := exp.exportCalls(); len(calls) != 1 || !calls[0].Force {
		t.Errorf("Export calls = %+v; want one with Force", calls)
	}
	if env.Properties["forced"] != "true" || env.Properties["ready"] != "false" {
		t.Errorf("properties = %v; want forced and not ready", env.Properties)
	}
	if !strings.Contains(env.Response.Body, `"forced":true`) {
		t.Errorf("body = %s; want forced", env.Response.Body)
	}
	rec = do(h, "POST", "/export?dataSet=VMuFODsyWaO&force=yes", nil, nil)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `force \\\"yes\\\": use true or false`) {
		t.Errorf("force=yes: %d %s", rec.Code, rec.Body)
	}
}

func TestExport_everyDataSetNotReady(t *testing.T) {
	exp := &fakeExporter{dataSets: []string{"VMuFODsyWaO", "dsOther0001"}, exportFn: notReadyExport}
	h, _ := testServer(t, exp, nil)
	rec := do(h, "GET", "/export", nil, nil)
	env := checkEnvelope(t, rec)
	if rec.Code != http.StatusConflict || env.Status != openhim.StatusFailed || env.Error == nil ||
		!strings.Contains(env.Error.Message, "month not ready") {
		t.Fatalf("status %d %q error %+v; want 409 Failed with the not-ready error", rec.Code, env.Status, env.Error)
	}
	if !strings.Contains(env.Response.Body, `"pendingUsers":[{"username":"chw4"`) {
		t.Errorf("body = %s; want each report's readiness", env.Response.Body)
	}
}

func TestReadiness(t *testing.T) {
	exp := &fakeExporter{previewFn: func(_ context.Context, req export.Request) (*export.Preview, error) {
		pv := samplePreview(req)
		pv.Readiness = notReadyJune()
		if req.Period.Period() == "202407" {
			pv.Readiness.MonthStart = time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
		}
		if req.Period.Period() == "202408" {
			pv.Readiness.MonthStart = time.Date(2024, 8, 1, 0, 0, 0, 0, time.UTC)
		}
		return pv, nil
	}}
	h, _ := testServer(t, exp, nil)

	rec := do(h, "GET", "/readiness?dataSet=VMuFODsyWaO&orgUnit=ouDistrict1&children=true", nil, nil)
	env := checkEnvelope(t, rec)
	if rec.Code != http.StatusOK || env.Status != openhim.StatusSuccessful || env.Error != nil {
		t.Fatalf("status %d %q; want 200 Successful", rec.Code, env.Status)
	}
	var r readiness.Object
	if err := json.Unmarshal([]byte(env.Response.Body), &r); err != nil {
		t.Fatal(err)
	}
	if r.Ready || r.Expected != 4 || r.Pending != 1 || env.Properties["period"] != "202406" || env.Properties["readiness"] != "0.75" {
		t.Errorf("body %s properties %v", env.Response.Body, env.Properties)
	}
	exp.mu.Lock()
	got := exp.previews[0]
	exp.mu.Unlock()
	if got.Period.Period() != "202406" || got.OrgUnit != "ouDistrict1" || !got.Children {
		t.Errorf("Preview asked %+v; want last month, the org unit and its children", got)
	}

	if rec := do(h, "GET", "/readiness?dataSet=VMuFODsyWaO&period=202407", nil, nil); rec.Code != http.StatusOK {
		t.Errorf("the current month: %d; want 200 (the object says it has not ended)", rec.Code)
	}
	rec = do(h, "GET", "/readiness?dataSet=VMuFODsyWaO&period=202408", nil, nil)
	env = checkEnvelope(t, rec)
	if rec.Code != http.StatusBadRequest || env.Status != openhim.StatusCompleted || env.Error != nil ||
		!strings.Contains(env.Response.Body, "period 202408 has not begun") {
		t.Errorf("a future month: %d %q %s; want 400 Completed without error", rec.Code, env.Status, env.Response.Body)
	}
	if rec := do(h, "GET", "/readiness?period=202406", nil, nil); rec.Code != http.StatusBadRequest {
		t.Errorf("without dataSet: %d; want 400", rec.Code)
	}
}

func TestPull_readinessProperties(t *testing.T) {
	exp := &fakeExporter{previewFn: func(_ context.Context, req export.Request) (*export.Preview, error) {
		pv := samplePreview(req)
		pv.Readiness = notReadyJune()
		return pv, nil
	}}
	h, _ := testServer(t, exp, nil)
	env := checkEnvelope(t, do(h, "GET", "/dataValueSets?dataSet=VMuFODsyWaO&period=202406", nil, nil))
	if env.Properties["readiness"] != "0.75" || env.Properties["pending"] != "1" || env.Properties["ready"] != "false" {
		t.Errorf("properties = %v; want the readiness", env.Properties)
	}
}

func TestStatusFor_notReady(t *testing.T) {
	err := &export.NotReadyError{DataSet: "ds", Period: "202406", Readiness: notReadyJune()}
	if got := statusFor(err); got != http.StatusConflict {
		t.Errorf("statusFor(NotReadyError) = %d; want 409", got)
	}
	if !retryable(http.StatusConflict, err) {
		t.Error("a month not ready should carry the envelope error (auto-retry)")
	}
	if retryable(http.StatusConflict, nil) {
		t.Error("a bare 409 should not carry the envelope error")
	}
}

func TestPull_futureMonth(t *testing.T) {
	exp := &fakeExporter{previewFn: func(_ context.Context, req export.Request) (*export.Preview, error) {
		pv := samplePreview(req)
		pv.Readiness = notReadyJune()
		if req.Period.Period() == "202408" {
			pv.Readiness.MonthStart = time.Date(2024, 8, 1, 0, 0, 0, 0, time.UTC)
		}
		return pv, nil
	}}
	h, _ := testServer(t, exp, nil)

	if rec := do(h, "GET", "/dataValueSets?dataSet=VMuFODsyWaO&period=202406", nil, nil); rec.Code != http.StatusOK {
		t.Errorf("a past month: %d; want 200", rec.Code)
	}
	rec := do(h, "GET", "/dataValueSets?dataSet=VMuFODsyWaO&period=202408", nil, nil)
	env := checkEnvelope(t, rec)
	if rec.Code != http.StatusBadRequest || env.Status != openhim.StatusCompleted || env.Error != nil ||
		!strings.Contains(env.Response.Body, "period 202408 has not begun") {
		t.Errorf("a future month: %d %q %s; want 400 Completed without error", rec.Code, env.Status, env.Response.Body)
	}
}
