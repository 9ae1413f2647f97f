package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/openhim"
)

// recorded is the orchestration the fake recorder reports.
var recorded = openhim.Orchestration{
	Name: "CHT settings",
	Request: openhim.OrchestrationRequest{Host: "cht.example.org", Port: "443", Path: "/medic/settings", Method: "GET",
		Headers: map[string]string{}, Timestamp: testNow},
	Response: &openhim.OrchestrationResponse{Status: 200, Headers: map[string]string{"Content-Type": "application/json"},
		Body: `{"settings":{}}`, Timestamp: testNow.Add(20 * time.Millisecond)},
}

func withRecorder(o *Options) {
	o.RecorderFor = func(ctx context.Context) (context.Context, func() []openhim.Orchestration) {
		return ctx, func() []openhim.Orchestration { return []openhim.Orchestration{recorded} }
	}
}

func TestEndpoints_golden(t *testing.T) {
	upstreamOnSecond := func(ctx context.Context, req export.ExportRequest) (*export.Report, error) {
		if req.DataSet == "dsOther0001" {
			return nil, fmt.Errorf("export dsOther0001 202406: push to DHIS2: %w", errUpstream)
		}
		return successReport(req), nil
	}
	tests := []struct {
		name     string
		method   string
		target   string
		exp      *fakeExporter
		opts     func(*Options)
		wantCode int
		wantStat string
	}{
		{name: "export-successful", method: "POST", target: "/export?dataSet=VMuFODsyWaO&period=202405&orgUnit=ouDistrict1&children=true&dryRun=true",
			exp: &fakeExporter{}, opts: withRecorder, wantCode: 200, wantStat: openhim.StatusSuccessful},
		{name: "export-completed-with-errors", method: "POST", target: "/export?dataSet=VMuFODsyWaO&period=202406",
			exp:      &fakeExporter{exportFn: func(_ context.Context, r export.ExportRequest) (*export.Report, error) { return partialReport(r), nil }},
			wantCode: 200, wantStat: openhim.StatusCompletedWithErrors},
		{name: "export-failed", method: "POST", target: "/export?dataSet=VMuFODsyWaO&period=202406",
			exp:      &fakeExporter{exportFn: func(_ context.Context, r export.ExportRequest) (*export.Report, error) { return failedReport(r), nil }},
			wantCode: 502, wantStat: openhim.StatusFailed},
		{name: "export-poll-every-data-set", method: "GET", target: "/export",
			exp: &fakeExporter{dataSets: []string{"VMuFODsyWaO", "dsOther0001"}}, opts: withRecorder, wantCode: 200, wantStat: openhim.StatusSuccessful},
		{name: "export-every-data-set-one-fails", method: "GET", target: "/export?period=202406",
			exp: &fakeExporter{dataSets: []string{"VMuFODsyWaO", "dsOther0001"}, exportFn: upstreamOnSecond}, wantCode: 502, wantStat: openhim.StatusCompletedWithErrors},
		{name: "export-no-data-sets", method: "GET", target: "/export",
			exp: &fakeExporter{}, wantCode: 502, wantStat: openhim.StatusFailed},
		{name: "export-input-error", method: "POST", target: "/export?dataSet=VMuFODsyWaO&period=202406",
			exp: &fakeExporter{exportFn: func(context.Context, export.ExportRequest) (*export.Report, error) {
				return nil, &export.InputError{Err: fmt.Errorf(`data set "VMuFODsyWaO" is in CHT's dhis_data_sets but not in DHIS2`)}
			}}, wantCode: 400, wantStat: openhim.StatusCompleted},
		{name: "export-upstream-error", method: "POST", target: "/export?dataSet=VMuFODsyWaO&period=202406",
			exp: &fakeExporter{exportFn: func(context.Context, export.ExportRequest) (*export.Report, error) {
				return nil, fmt.Errorf("build VMuFODsyWaO 202406: read CHT settings: %w", errUpstream)
			}}, opts: withRecorder, wantCode: 502, wantStat: openhim.StatusFailed},
		{name: "export-bad-period", method: "POST", target: "/export?period=2024-13",
			exp: &fakeExporter{}, wantCode: 400, wantStat: openhim.StatusCompleted},
		{name: "pull-one-org-unit", method: "GET", target: "/dataValueSets?dataSet=VMuFODsyWaO&period=202406&orgUnit=ouDistrict1",
			exp: &fakeExporter{}, opts: withRecorder, wantCode: 200, wantStat: openhim.StatusSuccessful},
		{name: "pull-every-org-unit", method: "GET", target: "/dataValueSets?dataSet=VMuFODsyWaO&period=202406",
			exp: &fakeExporter{}, wantCode: 200, wantStat: openhim.StatusSuccessful},
		{name: "pull-missing-data-set", method: "GET", target: "/dataValueSets?period=202406",
			exp: &fakeExporter{}, wantCode: 400, wantStat: openhim.StatusCompleted},
		{name: "not-found", method: "GET", target: "/api/dataValueSets",
			exp: &fakeExporter{}, wantCode: 404, wantStat: openhim.StatusCompleted},
		{name: "method-not-allowed", method: "DELETE", target: "/export",
			exp: &fakeExporter{}, wantCode: 405, wantStat: openhim.StatusCompleted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := testServer(t, tt.exp, tt.opts)
			rec := do(h, tt.method, tt.target, nil, nil)
			env := checkEnvelope(t, rec)
			if rec.Code != tt.wantCode || env.Status != tt.wantStat {
				t.Errorf("%s %s = %d %q; want %d %q\n%s", tt.method, tt.target, rec.Code, env.Status, tt.wantCode, tt.wantStat, env.Response.Body)
			}
			golden(t, tt.name, rec)
		})
	}
}

func TestExport_pollingWithoutQueryExportsLastMonthOfEveryDataSet(t *testing.T) {
	for _, tt := range []struct {
		now  time.Time
		want string
	}{
		{testNow, "202406"},
		{time.Date(2025, time.January, 1, 0, 5, 0, 0, time.UTC), "202412"},
	} {
		exp := &fakeExporter{dataSets: []string{"VMuFODsyWaO", "dsOther0001"}}
		h, _ := testServer(t, exp, func(o *Options) { o.Now = func() time.Time { return tt.now } })
		rec := do(h, "GET", "/export", nil, nil)
		env := checkEnvelope(t, rec)
		calls := exp.exportCalls()
		if len(calls) != 2 {
			t.Fatalf("Export called %d times; want once per data set (2)", len(calls))
		}
		for i, ds := range []string{"VMuFODsyWaO", "dsOther0001"} {
			got := calls[i]
			want := export.ExportRequest{Request: export.Request{DataSet: ds, Period: mustMonth(t, tt.want)}}
			if got != want {
				t.Errorf("Export call %d = %+v; want %+v", i, got, want)
			}
		}
		var body reportSet
		if err := json.Unmarshal([]byte(env.Response.Body), &body); err != nil {
			t.Fatal(err)
		}
		if body.Period != tt.want || len(body.Reports) != 2 || body.Status != openhim.StatusSuccessful {
			t.Errorf("body = %+v; want period %s, 2 reports, Successful", body, tt.want)
		}
		if env.Properties["dataSet"] != "VMuFODsyWaO,dsOther0001" || env.Properties["period"] != tt.want || env.Properties["built"] != "8" {
			t.Errorf("properties = %v", env.Properties)
		}
	}
}

func mustMonth(t *testing.T, p string) aggregate.Month {
	t.Helper()
	m, err := aggregate.ParseMonth(p)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestExport_passesParameters(t *testing.T) {
	exp := &fakeExporter{}
	h, _ := testServer(t, exp, nil)
	rec := do(h, "GET", "/export?dataSet=VMuFODsyWaO&period=202312&orgUnit=ouDistrict1&children=false&dryRun=true", nil, nil)
	checkEnvelope(t, rec)
	want := export.ExportRequest{Request: export.Request{DataSet: "VMuFODsyWaO", Period: mustMonth(t, "202312"), OrgUnit: "ouDistrict1"}, DryRun: true}
	if calls := exp.exportCalls(); len(calls) != 1 || calls[0] != want {
		t.Errorf("Export calls = %+v; want [%+v]", calls, want)
	}
}

func TestExport_everyDataSetCombines(t *testing.T) {
	report := map[string]func(export.ExportRequest) *export.Report{
		"ok": successReport, "partial": partialReport, "failed": failedReport,
	}
	inputErr := &export.InputError{Err: fmt.Errorf(`org unit "ouDistrict1" is not mapped on any CHT contact for data set`)}
	tests := []struct {
		name      string
		outcomes  []string // ok, partial, failed, input, upstream, internal
		wantCode  int
		wantStat  string
		wantError bool
	}{
		{"all successful", []string{"ok", "ok"}, 200, openhim.StatusSuccessful, false},
		{"one partial", []string{"ok", "partial"}, 200, openhim.StatusCompletedWithErrors, false},
		{"one failed", []string{"failed", "ok"}, 200, openhim.StatusCompletedWithErrors, false},
		{"all failed", []string{"failed", "failed"}, 502, openhim.StatusFailed, false},
		{"all input errors", []string{"input", "input"}, 400, openhim.StatusCompleted, false},
		{"input and upstream", []string{"input", "upstream"}, 502, openhim.StatusFailed, true},
		{"internal and failed", []string{"internal", "failed"}, 502, openhim.StatusFailed, true},
		{"upstream and ok", []string{"upstream", "ok"}, 502, openhim.StatusCompletedWithErrors, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids := []string{"VMuFODsyWaO", "dsOther0001"}
			exp := &fakeExporter{dataSets: ids, exportFn: func(_ context.Context, r export.ExportRequest) (*export.Report, error) {
				o := tt.outcomes[0]
				if r.DataSet == ids[1] {
					o = tt.outcomes[1]
				}
				switch o {
				case "input":
					return nil, inputErr
				case "upstream":
					return nil, errUpstream
				case "internal":
					return nil, fmt.Errorf("export: DHIS2 is not configured")
				}
				return report[o](r), nil
			}}
			h, _ := testServer(t, exp, nil)
			rec := do(h, "GET", "/export", nil, nil)
			env := checkEnvelope(t, rec)
			if rec.Code != tt.wantCode || env.Status != tt.wantStat || (env.Error != nil) != tt.wantError {
				t.Errorf("GET /export = %d %q error %v; want %d %q error %v", rec.Code, env.Status, env.Error, tt.wantCode, tt.wantStat, tt.wantError)
			}
			var body reportSet
			if err := json.Unmarshal([]byte(env.Response.Body), &body); err != nil {
				t.Fatal(err)
			}
			if len(body.Reports) != 2 || body.Status != env.Status {
				t.Errorf("body has %d reports and status %q; want 2 and %q", len(body.Reports), body.Status, env.Status)
			}
		})
	}
}

func TestExport_dataSetsError(t *testing.T) {
	exp := &fakeExporter{dataSetsErr: fmt.Errorf("read CHT settings: %w", errUpstream)}
	h, _ := testServer(t, exp, nil)
	rec := do(h, "GET", "/export", nil, nil)
	env := checkEnvelope(t, rec)
	if rec.Code != 502 || env.Status != openhim.StatusFailed || env.Error == nil {
		t.Errorf("GET /export = %d %q error %v; want 502 Failed with an error", rec.Code, env.Status, env.Error)
	}
	if msg := errorMessage(t, env); !contains(msg, "status 503") {
		t.Errorf("message = %q; want the error text", msg)
	}
}

func TestBadRequest(t *testing.T) {
	tests := []struct {
		target   string
		wantMsg  string
		wantCode string
	}{
		{"/export?period=2024-13", `period "2024-13" is not a month: use YYYYMM, e.g. 202406`, ""},
		{"/export?period=202413", `period "202413": month 13 is not 01-12`, ""},
		{"/export?orgUnit=abc", `orgUnit "abc": not a DHIS2 uid (11 letters and digits, starting with a letter)`, ""},
		{"/export?dataSet=ds-1", `dataSet "ds-1": not a DHIS2 uid (11 letters and digits, starting with a letter)`, ""},
		{"/export?children=yes&orgUnit=ouDistrict1", `children "yes": use true or false`, ""},
		{"/export?dryRun=1", `dryRun "1": use true or false`, ""},
		{"/export?children=true", `orgUnit is required with children=true`, ""},
		{"/export?dataset=VMuFODsyWaO", `unknown parameter "dataset": /export takes dataSet, period, orgUnit, children, dryRun`, ""},
		{"/export?password=x&token=y", `unknown parameters "password", "token"`, ""},
		{"/export?period=202401&period=202402", `period is given 2 times: give it once`, ""},
		{"/export?period=%zz", `query string: invalid URL escape`, ""},
		{"/dataValueSets?period=202406", `dataSet is required: at least one valid data set must be specified`, "E2001"},
		{"/dataValueSets?dataSet=VMuFODsyWaO", `period is required`, "E2002"},
		{"/dataValueSets?dataSet=VMuFODsyWaO&period=2024", `period "2024" is not a month`, ""},
		{"/dataValueSets?dataSet=VMuFODsyWaO&period=202406&orgUnit=1abcdefghij", `orgUnit "1abcdefghij": not a DHIS2 uid`, ""},
		{"/dataValueSets?dataSet=VMuFODsyWaO&period=202406&dryRun=true", `unknown parameter "dryRun": /dataValueSets takes dataSet, period, orgUnit, children`, ""},
		{"/dataValueSets?dataSet=VMuFODsyWaO&period=202406&humanReadable=true", `unknown parameter "humanReadable"`, ""},
		{"/dataValueSets", `dataSet is required: at least one valid data set must be specified; period is required`, "E2001"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			exp := &fakeExporter{}
			h, _ := testServer(t, exp, nil)
			rec := do(h, "GET", tt.target, nil, nil)
			env := checkEnvelope(t, rec)
			if rec.Code != 400 || env.Status != openhim.StatusCompleted || env.Error != nil {
				t.Errorf("GET %s = %d %q; want 400 Completed without error", tt.target, rec.Code, env.Status)
			}
			msg := errorMessage(t, env)
			if !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("GET %s message = %q; want it to contain %q", tt.target, msg, tt.wantMsg)
			}
			var wm webMessage
			_ = json.Unmarshal([]byte(env.Response.Body), &wm)
			if wm.ErrorCode != tt.wantCode {
				t.Errorf("errorCode = %q; want %q", wm.ErrorCode, tt.wantCode)
			}
			if n := len(exp.exportCalls()) + exp.previewCalls(); n != 0 {
				t.Errorf("the exporter was called %d times for a bad request", n)
			}
		})
	}
}

func TestBadRequest_emptyValueIsAbsent(t *testing.T) {
	exp := &fakeExporter{dataSets: []string{"VMuFODsyWaO"}}
	h, _ := testServer(t, exp, nil)
	rec := do(h, "POST", "/export?dataSet=&period=&orgUnit=", nil, nil)
	checkEnvelope(t, rec)
	if rec.Code != 200 {
		t.Errorf("status %d; want 200", rec.Code)
	}
	if calls := exp.exportCalls(); len(calls) != 1 || calls[0].Period.Period() != "202406" {
		t.Errorf("calls = %+v; want one export of 202406", calls)
	}
}

func TestPull(t *testing.T) {
	exp := &fakeExporter{}
	h, _ := testServer(t, exp, nil)
	rec := do(h, "GET", "/dataValueSets?dataSet=VMuFODsyWaO&period=202406&orgUnit=ouDistrict1&children=true", nil, nil)
	env := checkEnvelope(t, rec)
	want := `{"dataSet":"VMuFODsyWaO","completeDate":"2024-07-15T00:00:00.000+0000","period":"202406","orgUnit":"ouDistrict1","dataValues":[` +
		`{"dataElement":"deBirths001","period":"202406","orgUnit":"ouDistrict1","value":"12"},` +
		`{"dataElement":"deFacDel001","period":"202406","orgUnit":"ouDistrict1","categoryOptionCombo":"cocUnder5aa","value":"0.5","comment":"from CHT"},` +
		`{"dataElement":"deBirths001","period":"202406","orgUnit":"ouHealth01","value":"3"}]}`
	if env.Response.Body != want {
		t.Errorf("body =\n%s\nwant\n%s", env.Response.Body, want)
	}
	if len(exp.previews) != 1 || exp.previews[0] != (export.Request{DataSet: "VMuFODsyWaO", Period: mustMonth(t, "202406"), OrgUnit: "ouDistrict1", Children: true}) {
		t.Errorf("Preview calls = %+v", exp.previews)
	}
	if env.Properties["dataValues"] != "3" || env.Properties["orgUnits"] != "2" {
		t.Errorf("properties = %v", env.Properties)
	}
}

func TestPull_errors(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantCode int
		wantStat string
	}{
		{"unmapped org unit", &export.InputError{Err: fmt.Errorf(`org unit "ouDistrict1" is not mapped`)}, 400, openhim.StatusCompleted},
		{"cht down", fmt.Errorf("build: %w", errUpstream), 502, openhim.StatusFailed},
		{"internal", fmt.Errorf("something odd"), 500, openhim.StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp := &fakeExporter{previewFn: func(context.Context, export.Request) (*export.Preview, error) { return nil, tt.err }}
			h, _ := testServer(t, exp, withRecorder)
			rec := do(h, "GET", "/dataValueSets?dataSet=VMuFODsyWaO&period=202406&orgUnit=ouDistrict1", nil, nil)
			env := checkEnvelope(t, rec)
			if rec.Code != tt.wantCode || env.Status != tt.wantStat {
				t.Errorf("= %d %q; want %d %q", rec.Code, env.Status, tt.wantCode, tt.wantStat)
			}
			if msg := errorMessage(t, env); msg != tt.err.Error() {
				t.Errorf("message = %q; want %q", msg, tt.err.Error())
			}
			if len(env.Orchestrations) != 1 {
				t.Errorf("orchestrations = %d; want the recorded one even on error", len(env.Orchestrations))
			}
		})
	}
}

func TestHealth(t *testing.T) {
	h, _ := testServer(t, &fakeExporter{}, func(o *Options) {
		o.Username, o.Password = "openhim", "route-secret"
		o.Health = func() map[string]any {
			return map[string]any{"breakers": map[string]string{"cht": "closed"}, "status": "overridden?"}
		}
	})
	rec := do(h, "GET", "/health", nil, nil) // no credentials: health is open
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") || strings.Contains(rec.Header().Get("Content-Type"), "openhim") {
		t.Fatalf("GET /health = %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	want := `{"breakers":{"cht":"closed"},"status":"ok","version":"1.2.3"}`
	if got := rec.Body.String(); got != want {
		t.Errorf("GET /health = %s; want %s", got, want)
	}
}

func TestNew_requires(t *testing.T) {
	_, err := New(Options{})
	for _, want := range []string{"urn", "exporter", "logger"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New(Options{}) = %v; want an error naming the %s", err, want)
		}
	}
}

func TestRecorderFor(t *testing.T) {
	type key struct{}
	exp := &fakeExporter{}
	h, _ := testServer(t, exp, func(o *Options) {
		o.RecorderFor = func(ctx context.Context) (context.Context, func() []openhim.Orchestration) {
			return context.WithValue(ctx, key{}, "recorder"), func() []openhim.Orchestration {
				return []openhim.Orchestration{recorded, {Request: openhim.OrchestrationRequest{Path: "/x"}}}
			}
		}
	})
	for _, target := range []string{"/export?dataSet=VMuFODsyWaO", "/dataValueSets?dataSet=VMuFODsyWaO&period=202406"} {
		rec := do(h, "GET", target, nil, nil)
		env := checkEnvelope(t, rec)
		if len(env.Orchestrations) != 2 || env.Orchestrations[0].Name != "CHT settings" {
			t.Errorf("GET %s orchestrations = %+v", target, env.Orchestrations)
		}
		if env.Orchestrations[1].Name == "" || env.Orchestrations[1].Request.Timestamp.IsZero() {
			t.Errorf("an orchestration without name or timestamp was not completed: %+v", env.Orchestrations[1])
		}
	}
	for i, ctx := range exp.ctxs {
		if ctx.Value(key{}) != "recorder" {
			t.Errorf("exporter call %d did not get the recorder's context", i)
		}
	}
}

func TestNoRecorder_orchestrationsEmptyArray(t *testing.T) {
	h, _ := testServer(t, &fakeExporter{}, nil)
	rec := do(h, "POST", "/export?dataSet=VMuFODsyWaO", nil, nil)
	checkEnvelope(t, rec)
	if !strings.Contains(rec.Body.String(), `"orchestrations":[]`) {
		t.Errorf("body = %s; want \"orchestrations\":[]", rec.Body)
	}
}

func TestReportAnswer(t *testing.T) {
	pushErr := errors.New("dhis2: post data values: status 500")
	timeout := fmt.Errorf("dhis2: post data values: %w", context.DeadlineExceeded)
	tests := []struct {
		name      string
		rep       export.Report
		want      int
		wantRetry bool
	}{
		{"successful", export.Report{Status: export.StatusSuccessful}, 200, false},
		{"values refused", export.Report{Status: export.StatusCompletedWithErrors}, 200, false},
		{"nothing valid", export.Report{Status: export.StatusFailed}, 502, false},
		{"push stopped after a chunk", export.Report{Status: export.StatusCompletedWithErrors, Cause: pushErr,
			DataValues: export.ValueCounts{NotSent: 18}}, 502, true},
		{"push stopped at the first chunk", export.Report{Status: export.StatusFailed, Cause: pushErr,
			DataValues: export.ValueCounts{NotSent: 28}}, 502, true},
		{"push timed out (an upstream's timeout is an upstream failure)", export.Report{Status: export.StatusFailed, Cause: timeout,
			DataValues: export.ValueCounts{NotSent: 28}}, 502, true},
		{"push stopped at shutdown", export.Report{Status: export.StatusCompletedWithErrors, Cause: pushErr,
			Error: "the export was interrupted (" + ErrShutdown.Error() + "): 18 of 28 values not sent", DataValues: export.ValueCounts{NotSent: 18}}, 503, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, retry := reportAnswer(&tt.rep)
			if got != tt.want || retry != tt.wantRetry {
				t.Errorf("reportAnswer = %d, %t; want %d, %t", got, retry, tt.want, tt.wantRetry)
			}
		})
	}
}

func TestEnvelopeStatus(t *testing.T) {
	tests := []struct {
		code int
		want string
	}{
		{200, openhim.StatusSuccessful}, {400, openhim.StatusCompleted}, {401, openhim.StatusCompleted},
		{404, openhim.StatusCompleted}, {413, openhim.StatusCompleted}, {499, openhim.StatusFailed},
		{500, openhim.StatusFailed}, {502, openhim.StatusFailed}, {504, openhim.StatusFailed},
	}
	for _, tt := range tests {
		if got := envelopeStatus(tt.code); got != tt.want {
			t.Errorf("envelopeStatus(%d) = %q; want %q", tt.code, got, tt.want)
		}
	}
}

func TestNilResults(t *testing.T) {
	exp := &fakeExporter{
		dataSets:  []string{"VMuFODsyWaO"},
		exportFn:  func(context.Context, export.ExportRequest) (*export.Report, error) { return nil, nil },
		previewFn: func(context.Context, export.Request) (*export.Preview, error) { return nil, nil },
	}
	h, _ := testServer(t, exp, nil)
	for target, want := range map[string]int{
		"/export?dataSet=VMuFODsyWaO": 500,
		"/export":                     500,
		"/dataValueSets?dataSet=VMuFODsyWaO&period=202406": 500,
	} {
		rec := do(h, "GET", target, nil, nil)
		checkEnvelope(t, rec)
		if rec.Code != want {
			t.Errorf("GET %s with a nil result = %d; want %d", target, rec.Code, want)
		}
	}
}
