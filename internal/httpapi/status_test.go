package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
	// The tests build the real upstream errors: the package itself may not
	// import cht or dhis2 (internal/app/deps_test.go looks at non-test
	// imports only), so this proves statusFor recognises them anyway.
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/cht"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/dhis2"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/flight"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/openhim"
)

type upstreamMarked struct{}

func (upstreamMarked) Error() string    { return "breaker open" }
func (upstreamMarked) Upstream() string { return "openhim" }

func TestStatusFor(t *testing.T) {
	netErr := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, 200},
		{"input error", &export.InputError{Err: errors.New(`org unit "x" is not mapped`)}, 400},
		{"wrapped input error", fmt.Errorf("build: %w", &export.InputError{Err: aggregate.ErrUnknownDataSet}), 400},
		{"body too large", fmt.Errorf("read body: %w", &http.MaxBytesError{Limit: 10}), 413},
		{"canceled", context.Canceled, 499},
		{"canceled inside a cht call", fmt.Errorf("build: read CHT contacts: cht: fetch contacts: %w", context.Canceled), 499},
		{"cht unreachable because the client left",
			&cht.UnreachableError{Op: "fetch contacts", URL: "https://cht/medic", Err: context.Canceled}, 499},
		{"cht status", fmt.Errorf("build: read CHT settings: %w", &cht.StatusError{Op: "read settings", StatusCode: 503}), 502},
		{"cht 401", &cht.StatusError{Op: "read settings", StatusCode: 401, Body: "unauthorized"}, 502},
		{"cht unreachable", fmt.Errorf("build: %w", &cht.UnreachableError{Op: "fetch", URL: "https://cht/medic", Err: netErr}), 502},
		{"cht timeout", &cht.UnreachableError{Op: "fetch", URL: "https://cht/medic", Err: fmt.Errorf("no answer within 30s: %w", context.DeadlineExceeded)}, 502},
		{"cht plain error", fmt.Errorf("build: %w", fmt.Errorf("cht: fetch target docs: paging made no progress at id %q", "x")), 502},
		{"dhis2 status", fmt.Errorf("export: read DHIS2 metadata: %w", &dhis2.StatusError{Op: "metadata x", StatusCode: 500}), 502},
		{"dhis2 unauthorized", fmt.Errorf("export: %w", &dhis2.StatusError{Op: "system info", StatusCode: 401}), 502},
		{"dhis2 push error", &dhis2.PushError{Chunk: 1, Chunks: 1, Err: netErr}, 502},
		{"dhis2 plain error", errors.New("dhis2: push data values: status 502: <html>"), 502},
		{"url error", &url.Error{Op: "Get", URL: "https://x", Err: netErr}, 502},
		{"net error", netErr, 502},
		{"Upstream() marker", fmt.Errorf("x: %w", upstreamMarked{}), 502},
		{"joined with an upstream error", errors.Join(errors.New("a"), &cht.StatusError{StatusCode: 500}), 502},
		{"deadline, not upstream", fmt.Errorf("export: %w", context.DeadlineExceeded), 504},
		{"internal", errors.New("export: DHIS2 is not configured"), 500},
		{"panic in a build", &flight.PanicError{Value: "boom"}, 500},
		{"a message that only mentions cht", errors.New("build: not cht: x"), 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := statusFor(tt.err); got != tt.want {
				t.Errorf("statusFor(%v) = %d; want %d", tt.err, got, tt.want)
			}
		})
	}
}

// Errors that decide their own answer slot into the failure table: the
// status they name, Failed with the error member when they are to be
// retried (a month not ready, a mediator not configured yet), Completed
// without it when not.
func TestTypedErrors(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantCode   int
		wantStatus string
		wantError  bool
	}{
		{"not configured", export.NotConfigured(errors.New("the mediator has no CHT configuration yet")), 503, openhim.StatusFailed, true},
		{"retryable 409", &export.StatusError{Code: 409, Retry: true, Err: errors.New("export x 202406: month not ready: 3 of 16 CHWs")}, 409, openhim.StatusFailed, true},
		{"final 400", &export.StatusError{Code: 400, Err: errors.New("period 209901 is in the future")}, 400, openhim.StatusCompleted, false},
		{"shutdown", fmt.Errorf("%w: read CHT: context canceled", ErrShutdown), 503, openhim.StatusFailed, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp := &fakeExporter{exportFn: func(context.Context, export.ExportRequest) (*export.Report, error) { return nil, tt.err }}
			h, _ := testServer(t, exp, nil)
			rec := do(h, "POST", "/export?dataSet=VMuFODsyWaO&period=202406", nil, nil)
			env := checkEnvelope(t, rec)
			if rec.Code != tt.wantCode || env.Status != tt.wantStatus || (env.Error != nil) != tt.wantError {
				t.Errorf("answer %d %q error %v; want %d %q error %t", rec.Code, env.Status, env.Error, tt.wantCode, tt.wantStatus, tt.wantError)
			}
		})
	}
}

// An answer the client never got is never logged as 200: an export whose
// client went away while it ran is recorded as 499, whatever it returned.
func TestClientGoneIsNot200(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	exp := &fakeExporter{exportFn: func(_ context.Context, r export.ExportRequest) (*export.Report, error) {
		close(started)
		<-release
		return &export.Report{Status: export.StatusSuccessful, DataSet: r.DataSet, Period: "202406", OrgUnits: []string{}, Problems: []export.Problem{}}, nil
	}}
	h, logs := testServer(t, exp, nil)
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest("POST", "/export?dataSet=VMuFODsyWaO&period=202406", nil).WithContext(ctx)
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() { h.ServeHTTP(rec, req); close(done) }()
	<-started
	cancel()
	<-done
	close(release)
	if strings.Contains(logs.String(), `"status":200`) || !strings.Contains(logs.String(), `"status":499`) {
		t.Errorf("access log of an answer nobody got:\n%s", logs)
	}
}
