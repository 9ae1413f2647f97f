package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/openhim"
)

func TestBoard_page(t *testing.T) {
	h, _ := testServer(t, &fakeExporter{}, nil)
	for _, path := range []string{"/board", "/board/"} {
		rec := do(h, "GET", path, nil, nil)
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/html; charset=utf-8" {
			t.Fatalf("GET %s: %d %q", path, rec.Code, rec.Header().Get("Content-Type"))
		}
		page := rec.Body.String()
		// Stylesheet and script inlined, verbatim (html/template must not
		// have escaped them), and nothing loaded from elsewhere.
		for _, want := range []string{"<style>:root {", `"use strict";`, `path.endsWith("/") ? "api/"`, `<label for="dataSet">`, `<label for="month">`} {
			if !strings.Contains(page, want) {
				t.Errorf("GET %s: the page lacks %q", path, want)
			}
		}
		if m := regexp.MustCompile(`(?i)(src|href)="(https?:)?//`).FindString(page); m != "" {
			t.Errorf("GET %s: the page loads from elsewhere: %s", path, m)
		}
		if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
			t.Errorf("CSP = %q", csp)
		}
	}
}

func TestBoard_pageNeedsAuth(t *testing.T) {
	h, _ := testServer(t, &fakeExporter{}, func(o *Options) { o.Username, o.Password = "openhim", "route-Secret-1" })
	if rec := do(h, "GET", "/board", nil, nil); rec.Code != http.StatusUnauthorized {
		t.Errorf("GET /board without credentials: %d; want 401", rec.Code)
	}
}

func TestBoard_dataSets(t *testing.T) {
	tests := []struct {
		name     string
		exp      *fakeExporter
		wantCode int
		wantBody string
	}{
		{"listed", &fakeExporter{dataSets: []string{"VMuFODsyWaO", "dsOther0001"}}, 200, `{"dataSets":["VMuFODsyWaO","dsOther0001"],"period":"202406"}`},
		{"none", &fakeExporter{}, 200, `{"dataSets":[],"period":"202406"}`},
		{"CHT down", &fakeExporter{dataSetsErr: fmt.Errorf("cht: settings: %w", errors.New("connection refused"))}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := testServer(t, tt.exp, nil)
			rec := do(h, "GET", "/board/api/dataSets", nil, nil)
			env := checkEnvelope(t, rec)
			if tt.wantCode == 0 {
				if rec.Code < 500 || env.Status != openhim.StatusFailed {
					t.Errorf("%d %q; want a 5xx Failed", rec.Code, env.Status)
				}
				return
			}
			if rec.Code != tt.wantCode || env.Response.Body != tt.wantBody {
				t.Errorf("%d %s; want %d %s", rec.Code, env.Response.Body, tt.wantCode, tt.wantBody)
			}
		})
	}
}

// lastOf asks board/api/last and decodes the answer.
func lastOf(t *testing.T, h http.Handler, query string) (int, map[string]any) {
	t.Helper()
	rec := do(h, "GET", "/board/api/last?"+query, nil, nil)
	env := checkEnvelope(t, rec)
	var out map[string]any
	if rec.Code == http.StatusOK {
		if err := json.Unmarshal([]byte(env.Response.Body), &out); err != nil {
			t.Fatal(err)
		}
	}
	return rec.Code, out
}

func TestBoard_lastExport(t *testing.T) {
	exp := &fakeExporter{}
	h, _ := testServer(t, exp, nil)
	q := "dataSet=VMuFODsyWaO&period=202406"
	if code, out := lastOf(t, h, q); code != 200 || out["found"] != false {
		t.Fatalf("before any export: %d %v", code, out)
	}
	// A dry run is not an export.
	do(h, "GET", "/board/api/export?dryRun=true&"+q, nil, nil)
	if _, out := lastOf(t, h, q); out["found"] != false {
		t.Fatalf("after a dry run: %v; want none", out)
	}
	// A push from any channel is.
	if rec := do(h, "POST", "/export?orgUnit=ouDistrict1&"+q, nil, nil); rec.Code != 200 {
		t.Fatalf("export: %d", rec.Code)
	}
	_, out := lastOf(t, h, q)
	rep, _ := out["report"].(map[string]any)
	if out["found"] != true || out["orgUnit"] != "ouDistrict1" || rep == nil || rep["status"] != export.StatusSuccessful || out["at"] != testNow.Format(time.RFC3339) {
		t.Errorf("after the export: %v", out)
	}
	if _, other := lastOf(t, h, "dataSet=VMuFODsyWaO&period=202405"); other["found"] != false {
		t.Errorf("another period: %v", other)
	}
	// A push held back by the gate is the last result too.
	exp.exportFn = notReadyExport
	do(h, "POST", "/board/api/export?"+q, nil, map[string]string{boardHeader: "push"})
	_, out = lastOf(t, h, q)
	rep, _ = out["report"].(map[string]any)
	if rep == nil || rep["status"] != export.StatusFailed || !strings.Contains(fmt.Sprint(out["error"]), "month not ready") {
		t.Errorf("after a held-back export: %v", out)
	}
	for _, bad := range []string{"dataSet=VMuFODsyWaO", "period=202406", "dataSet=x&period=202406", "dataSet=VMuFODsyWaO&period=2024-06"} {
		if code, _ := lastOf(t, h, bad); code != http.StatusBadRequest {
			t.Errorf("last?%s: %d; want 400", bad, code)
		}
	}
}

func TestBoard_lastReportsBounded(t *testing.T) {
	var l lastReports
	key := func(i int) lastKey { return lastKey{"VMuFODsyWaO", fmt.Sprintf("%04d01", 2000+i)} }
	for i := range maxLastReports + 10 {
		l.put(key(i), lastReport{Error: fmt.Sprint(i)})
	}
	// Putting a kept key again makes it the newest.
	l.put(key(10), lastReport{Error: "again"})
	if len(l.byKey) != maxLastReports || len(l.order) != maxLastReports {
		t.Fatalf("%d kept, order %d; want %d", len(l.byKey), len(l.order), maxLastReports)
	}
	for i := range 10 {
		if _, ok := l.get(key(i)); ok {
			t.Errorf("%v: the oldest were not dropped", key(i))
		}
	}
	if r, ok := l.get(key(10)); !ok || r.Error != "again" || l.order[len(l.order)-1] != key(10) {
		t.Errorf("a put again: %v %v", r, ok)
	}
	if _, ok := l.get(key(maxLastReports + 9)); !ok {
		t.Errorf("the newest was dropped")
	}
}

func TestBoard_clientGoneNotRemembered(t *testing.T) {
	exp := &fakeExporter{exportFn: func(ctx context.Context, req export.ExportRequest) (*export.Report, error) {
		return nil, context.Canceled
	}}
	last := &lastReports{}
	e := &rememberingExporter{Exporter: exp, last: last, now: func() time.Time { return testNow }}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Export(ctx, export.ExportRequest{Request: export.Request{DataSet: "VMuFODsyWaO", Period: aggregate.Month{Year: 2024, Month: time.June}}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if len(last.byKey) != 0 {
		t.Errorf("an export the client abandoned before it ran was remembered: %v", last.byKey)
	}
}

// A push the board's script did not send (a form another site posts to
// the router, where the browser has cached the supervisor's login) is
// refused before anything runs.
func TestBoard_pushNeedsTheBoardHeader(t *testing.T) {
	exp := &fakeExporter{}
	h, _ := testServer(t, exp, nil)
	for _, hdr := range []map[string]string{nil, {boardHeader: "1"}, {"Content-Type": "application/x-www-form-urlencoded"}} {
		rec := do(h, "POST", "/board/api/export?dataSet=VMuFODsyWaO&period=202406", strings.NewReader("x=1"), hdr)
		env := checkEnvelope(t, rec)
		if rec.Code != http.StatusForbidden || env.Status != openhim.StatusCompleted || !strings.Contains(env.Response.Body, boardHeader) {
			t.Errorf("push with %v: %d %q %s; want 403", hdr, rec.Code, env.Status, env.Response.Body)
		}
	}
	if n := len(exp.exportCalls()); n != 0 {
		t.Errorf("%d exports ran; want none", n)
	}
	rec := do(h, "POST", "/board/api/export?dataSet=VMuFODsyWaO&period=202406", nil, map[string]string{boardHeader: "push"})
	if rec.Code != http.StatusOK || len(exp.exportCalls()) != 1 {
		t.Errorf("the board's push: %d, %d exports", rec.Code, len(exp.exportCalls()))
	}
}
