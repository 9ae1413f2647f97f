package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/breaker"
)

func TestObserveExport(t *testing.T) {
	m := New(Options{})
	end := time.Unix(1_700_000_000, 0)
	m.ObserveExport(ExportResult{DataSet: "dsA", Outcome: OutcomeSuccessful, Duration: 2 * time.Second, Built: 10, Pushed: 8, Rejected: 2, Deleted: 1, Ended: end})
	m.ObserveExport(ExportResult{DataSet: "dsA", Outcome: OutcomeError, Duration: time.Second, Ended: end.Add(time.Hour)})
	m.ObserveExport(ExportResult{DataSet: "dsA", Outcome: OutcomeSuccessful, DryRun: true, Built: 100, Pushed: 100, Ended: end.Add(2 * time.Hour)})
	m.ObserveExport(ExportResult{DataSet: "anything a client typed", Outcome: OutcomeRefused})

	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"successful", testutil.ToFloat64(m.exports.WithLabelValues("dsA", OutcomeSuccessful, "false")), 1},
		{"dry run counted apart", testutil.ToFloat64(m.exports.WithLabelValues("dsA", OutcomeSuccessful, "true")), 1},
		{"error", testutil.ToFloat64(m.exports.WithLabelValues("dsA", OutcomeError, "false")), 1},
		{"refused is not labelled with its data set", testutil.ToFloat64(m.exports.WithLabelValues(OtherDataSet, OutcomeRefused, "false")), 1},
		{"built (dry runs left out)", testutil.ToFloat64(m.values.WithLabelValues("dsA", ValuesBuilt)), 10},
		{"pushed", testutil.ToFloat64(m.values.WithLabelValues("dsA", ValuesPushed)), 8},
		{"rejected", testutil.ToFloat64(m.values.WithLabelValues("dsA", ValuesRejected)), 2},
		{"deleted", testutil.ToFloat64(m.values.WithLabelValues("dsA", ValuesDeleted)), 1},
		{"last success is the real run, not the failure or the dry run", testutil.ToFloat64(m.lastSuccess.WithLabelValues("dsA")), float64(end.Unix())},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if n := testutil.CollectAndCount(m.exportDuration); n != 3 {
		t.Errorf("export_duration_seconds has %d series, want 3 (dsA successful, dsA error, other refused)", n)
	}
}

func TestDataSetLabelsAreBounded(t *testing.T) {
	m := New(Options{})
	for i := range MaxDataSets + 10 {
		m.ObserveDocsRead(fmt.Sprintf("ds%03d", i), 1)
	}
	if n := testutil.CollectAndCount(m.docsRead); n != MaxDataSets+1 {
		t.Errorf("%d data_set series, want %d (the cap plus %q)", n, MaxDataSets+1, OtherDataSet)
	}
	if got := testutil.ToFloat64(m.docsRead.WithLabelValues(OtherDataSet)); got != 10 {
		t.Errorf("other = %v, want 10", got)
	}
}

func TestNilMetricsRecordNothing(t *testing.T) {
	var m *Metrics
	m.ObserveExport(ExportResult{DataSet: "x", Outcome: OutcomeSuccessful})
	m.ObserveDocsRead("x", 3)
	m.SetReadiness("x", 0.5)
	next := http.DefaultTransport
	if m.Transport("cht", next) != next {
		t.Error("a nil Metrics must return the transport unchanged")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestTransport(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		err        error
		wantResult string
		wantReason string // "" when the call is not an error
	}{
		{"ok", 200, nil, "2xx", ""},
		{"conflict is an answer, not an upstream error", 409, nil, "4xx", ""},
		{"server error", 503, nil, "5xx", "http_5xx"},
		{"breaker open", 0, fmt.Errorf("dhis2: %w", breaker.ErrOpen), "error", "breaker_open"},
		{"timeout", 0, fmt.Errorf("call: %w", context.DeadlineExceeded), "error", "timeout"},
		{"refused", 0, errors.New("dial tcp: connection refused"), "error", "network"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(Options{})
			rt := m.Transport("dhis2", roundTripFunc(func(r *http.Request) (*http.Response, error) {
				if tt.err != nil {
					return nil, tt.err
				}
				return &http.Response{StatusCode: tt.status, Body: http.NoBody, Request: r}, nil
			}))
			req := httptest.NewRequest(http.MethodGet, "http://dhis2.test/api/system/info", nil)
			if resp, err := rt.RoundTrip(req); err == nil {
				resp.Body.Close()
			}
			if n := testutil.CollectAndCount(m.upstreamCalls); n != 1 {
				t.Fatalf("%d duration series, want 1", n)
			}
			var text strings.Builder
			mfs, err := m.Gatherer().Gather()
			if err != nil {
				t.Fatal(err)
			}
			for _, mf := range mfs {
				if mf.GetName() != Namespace+"_upstream_request_duration_seconds" {
					continue
				}
				for _, mt := range mf.GetMetric() {
					for _, l := range mt.GetLabel() {
						fmt.Fprintf(&text, "%s=%s,", l.GetName(), l.GetValue())
					}
				}
			}
			if want := "result=" + tt.wantResult + ",upstream=dhis2,"; text.String() != want {
				t.Errorf("duration series labels %q, want %q", text.String(), want)
			}
			for _, reason := range []string{"http_5xx", "breaker_open", "timeout", "network"} {
				want := 0.0
				if reason == tt.wantReason {
					want = 1
				}
				if got := testutil.ToFloat64(m.upstreamErrors.WithLabelValues("dhis2", reason)); got != want {
					t.Errorf("upstream_errors_total{reason=%q} = %v, want %v", reason, got, want)
				}
			}
		})
	}
}

func TestCollectors(t *testing.T) {
	beat := time.Unix(1_700_000_000, 500_000_000)
	m := New(Options{
		Breakers: func() map[string]string {
			return map[string]string{"cht": breaker.StateClosed, "dhis2": breaker.StateOpen, "openhim": breaker.StateHalfOpen}
		},
		OpenHIM: func() Health { return Health{Enabled: true, Registered: true, LastHeartbeat: beat} },
	})
	want := `
# HELP cht_dhis2_mediator_circuit_breaker_state State of the upstream's circuit breaker: 0 closed, 1 half-open, 2 open.
# TYPE cht_dhis2_mediator_circuit_breaker_state gauge
cht_dhis2_mediator_circuit_breaker_state{upstream="cht"} 0
cht_dhis2_mediator_circuit_breaker_state{upstream="dhis2"} 2
cht_dhis2_mediator_circuit_breaker_state{upstream="openhim"} 1
# HELP cht_dhis2_mediator_openhim_failing 1 when the last registration or heartbeat failed, else 0.
# TYPE cht_dhis2_mediator_openhim_failing gauge
cht_dhis2_mediator_openhim_failing 0
# HELP cht_dhis2_mediator_openhim_last_heartbeat_timestamp_seconds Unix time of the last heartbeat OpenHIM core accepted (0: none yet).
# TYPE cht_dhis2_mediator_openhim_last_heartbeat_timestamp_seconds gauge
cht_dhis2_mediator_openhim_last_heartbeat_timestamp_seconds 1.7000000005e+09
# HELP cht_dhis2_mediator_openhim_registered 1 while OpenHIM core has accepted the mediator's registration, else 0.
# TYPE cht_dhis2_mediator_openhim_registered gauge
cht_dhis2_mediator_openhim_registered 1
`
	if err := testutil.GatherAndCompare(m.Gatherer(), strings.NewReader(want),
		"cht_dhis2_mediator_circuit_breaker_state", "cht_dhis2_mediator_openhim_failing",
		"cht_dhis2_mediator_openhim_last_heartbeat_timestamp_seconds", "cht_dhis2_mediator_openhim_registered"); err != nil {
		t.Error(err)
	}
}

func TestHandlerServesTheTextFormat(t *testing.T) {
	m := New(Options{})
	m.SetReadiness("dsA", 1.5)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	for _, want := range []string{`cht_dhis2_mediator_readiness_ratio{data_set="dsA"} 1`, "go_goroutines", "process_"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q", want)
		}
	}
}
