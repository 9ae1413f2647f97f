// Package metrics exposes what the mediator does in the Prometheus text
// format (GET /metrics): exports by data set and outcome, their durations,
// the data values they built, pushed, rejected and deleted, CHT docs read,
// upstream call durations and errors, circuit breaker states and OpenHIM
// registration and heartbeat health.
//
// Every label has a bounded set of values: upstream names, outcomes, value
// kinds, and data sets (CHT's dhis_data_sets, a handful per deployment,
// capped at MaxDataSets distinct ids, beyond which they count as "other").
// No org unit, period or request id is ever a label.
package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/breaker"
)

// Namespace prefixes every metric name.
const Namespace = "cht_dhis2_mediator"

// MaxDataSets bounds the distinct data_set label values; later ones are
// counted under OtherDataSet.
const MaxDataSets = 64

// OtherDataSet is the data_set label of data sets past MaxDataSets, and of
// exports refused before their data set was known to exist.
const OtherDataSet = "other"

// Export outcomes (the outcome label of exports_total).
const (
	OutcomeSuccessful          = "successful"
	OutcomeCompletedWithErrors = "completed_with_errors"
	OutcomeFailed              = "failed"    // a report whose status is Failed
	OutcomeError               = "error"     // no report: an upstream down, the mediator not configured
	OutcomeRefused             = "refused"   // bad input: unknown data set or org unit
	OutcomeCanceled            = "canceled"  // the client went away or the mediator stopped
	OutcomeNotReady            = "not_ready" // the month did not pass the readiness gate
)

// Value kinds (the kind label of export_values_total).
const (
	ValuesBuilt    = "built"
	ValuesPushed   = "pushed"
	ValuesRejected = "rejected"
	ValuesDeleted  = "deleted"
)

// Breaker state values of circuit_breaker_state.
const (
	breakerClosed   = 0
	breakerHalfOpen = 1
	breakerOpen     = 2
)

// Health is the OpenHIM agent's state, as the metrics read it.
type Health struct {
	// Enabled is false when registration is off (openhim.register=false).
	Enabled       bool
	Registered    bool
	LastHeartbeat time.Time // zero: never
	Failing       bool      // the last registration or heartbeat failed
}

// Options are what the collectors read when scraped. Each is optional.
type Options struct {
	// Breakers returns every upstream's breaker state (breaker.StateClosed,
	// StateHalfOpen or StateOpen), by upstream.
	Breakers func() map[string]string
	// OpenHIM returns the registration and heartbeat health.
	OpenHIM func() Health
}

// Metrics holds the mediator's registry and instruments. Its methods are
// safe for concurrent use; a nil *Metrics records nothing.
type Metrics struct {
	reg *prometheus.Registry

	exports        *prometheus.CounterVec
	exportDuration *prometheus.HistogramVec
	values         *prometheus.CounterVec
	lastSuccess    *prometheus.GaugeVec
	docsRead       *prometheus.CounterVec
	readiness      *prometheus.GaugeVec
	upstreamCalls  *prometheus.HistogramVec
	upstreamErrors *prometheus.CounterVec

	mu       sync.Mutex
	dataSets map[string]bool
}

// New returns the metrics of one mediator, with the Go runtime and process
// collectors.
func New(opts Options) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), dataSets: map[string]bool{}}
	m.exports = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "exports_total",
		Help: "Exports run, by data set, outcome (successful, completed_with_errors, failed, not_ready, error, refused, canceled) and dry_run."},
		[]string{"data_set", "outcome", "dry_run"})
	m.exportDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "export_duration_seconds",
		Help:    "Duration of an export (CHT read, validation, diff, push), by data set and outcome.",
		Buckets: []float64{0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800}},
		[]string{"data_set", "outcome"})
	m.values = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "export_values_total",
		Help: "Data values of exports that were not dry runs, by data set and kind: built from CHT, pushed (imported or updated by DHIS2), rejected (by validation or DHIS2), deleted (stale values removed from DHIS2)."},
		[]string{"data_set", "kind"})
	m.lastSuccess = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "export_last_success_timestamp_seconds",
		Help: "Unix time of the last export of the data set that ended Successful or Completed with error(s) (not a dry run)."},
		[]string{"data_set"})
	m.docsRead = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "cht_docs_read_total",
		Help: "CHT target docs read by builds (exports and previews), by data set."},
		[]string{"data_set"})
	m.readiness = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "readiness_ratio",
		Help: "Share (0 to 1) of the data set's expected CHWs that had synced the month at its last export (whole data set, not one org unit)."},
		[]string{"data_set"})
	m.upstreamCalls = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "upstream_request_duration_seconds",
		Help:    "Duration of calls to an upstream (cht, dhis2), retries included, by upstream and result (2xx, 3xx, 4xx, 5xx, error).",
		Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}},
		[]string{"upstream", "result"})
	m.upstreamErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "upstream_errors_total",
		Help: "Failed calls to an upstream, by upstream and reason (http_5xx, timeout, breaker_open, network)."},
		[]string{"upstream", "reason"})
	m.reg.MustRegister(m.exports, m.exportDuration, m.values, m.lastSuccess, m.docsRead, m.readiness, m.upstreamCalls, m.upstreamErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if opts.Breakers != nil {
		m.reg.MustRegister(&breakerCollector{states: opts.Breakers})
	}
	if opts.OpenHIM != nil {
		m.reg.MustRegister(&openhimCollector{health: opts.OpenHIM})
	}
	return m
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Gatherer is the registry, for tests.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// dataSet returns the label of id: id itself among the first MaxDataSets
// distinct ones, else OtherDataSet.
func (m *Metrics) dataSet(id string) string {
	if id == "" {
		return OtherDataSet
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dataSets[id] {
		return id
	}
	if len(m.dataSets) >= MaxDataSets {
		return OtherDataSet
	}
	m.dataSets[id] = true
	return id
}

// ExportResult is what one export tells the metrics.
type ExportResult struct {
	DataSet  string
	Outcome  string // one of the Outcome constants
	DryRun   bool
	Duration time.Duration
	// Values counts, only for an export that produced a report.
	Built, Pushed, Rejected, Deleted int
	// Ended is when the export ended; set with a successful outcome, it
	// updates the data set's last success time.
	Ended time.Time
}

// ObserveExport records one export.
func (m *Metrics) ObserveExport(r ExportResult) {
	if m == nil {
		return
	}
	ds := OtherDataSet
	if r.Outcome != OutcomeRefused {
		ds = m.dataSet(r.DataSet) // a refused data set may be any string
	}
	m.exports.WithLabelValues(ds, r.Outcome, strconv.FormatBool(r.DryRun)).Inc()
	m.exportDuration.WithLabelValues(ds, r.Outcome).Observe(r.Duration.Seconds())
	if r.DryRun {
		return
	}
	for kind, n := range map[string]int{ValuesBuilt: r.Built, ValuesPushed: r.Pushed, ValuesRejected: r.Rejected, ValuesDeleted: r.Deleted} {
		m.values.WithLabelValues(ds, kind).Add(float64(max(n, 0)))
	}
	if (r.Outcome == OutcomeSuccessful || r.Outcome == OutcomeCompletedWithErrors) && !r.Ended.IsZero() {
		m.lastSuccess.WithLabelValues(ds).Set(float64(r.Ended.Unix()))
	}
}

// ObserveDocsRead counts the CHT target docs one build of dataSet read.
func (m *Metrics) ObserveDocsRead(dataSet string, docs int) {
	if m == nil || docs <= 0 {
		return
	}
	m.docsRead.WithLabelValues(m.dataSet(dataSet)).Add(float64(docs))
}

// SetReadiness records the readiness ratio (0 to 1) of dataSet's last
// build.
func (m *Metrics) SetReadiness(dataSet string, ratio float64) {
	if m == nil {
		return
	}
	m.readiness.WithLabelValues(m.dataSet(dataSet)).Set(min(max(ratio, 0), 1))
}

// Transport returns next, timing each call to upstream and counting its
// failures. Placed outside the breaker and retry transports, it sees one
// call however often it was tried, and the calls an open breaker refused.
func (m *Metrics) Transport(upstream string, next http.RoundTripper) http.RoundTripper {
	if m == nil {
		return next
	}
	// Touch the series so that they are exported (at zero) from the start.
	m.upstreamErrors.WithLabelValues(upstream, "http_5xx")
	return &transport{m: m, upstream: upstream, next: next}
}

type transport struct {
	m        *Metrics
	upstream string
	next     http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	elapsed := time.Since(start).Seconds()
	switch {
	case err != nil:
		if errors.Is(err, context.Canceled) && req.Context().Err() != nil {
			return resp, err // the caller gave up: not the upstream's failure
		}
		t.m.upstreamCalls.WithLabelValues(t.upstream, "error").Observe(elapsed)
		t.m.upstreamErrors.WithLabelValues(t.upstream, errorReason(err)).Inc()
	default:
		t.m.upstreamCalls.WithLabelValues(t.upstream, strconv.Itoa(resp.StatusCode/100)+"xx").Observe(elapsed)
		if resp.StatusCode >= 500 {
			t.m.upstreamErrors.WithLabelValues(t.upstream, "http_5xx").Inc()
		}
	}
	return resp, err
}

// errorReason classifies a failed call.
func errorReason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, breaker.ErrOpen):
		return "breaker_open"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	default:
		return "network"
	}
}

// breakerCollector reports each upstream's breaker state when scraped.
type breakerCollector struct{ states func() map[string]string }

var breakerDesc = prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", "circuit_breaker_state"),
	"State of the upstream's circuit breaker: 0 closed, 1 half-open, 2 open.", []string{"upstream"}, nil)

func (c *breakerCollector) Describe(ch chan<- *prometheus.Desc) { ch <- breakerDesc }

func (c *breakerCollector) Collect(ch chan<- prometheus.Metric) {
	for name, state := range c.states() {
		v := breakerClosed
		switch state {
		case breaker.StateHalfOpen:
			v = breakerHalfOpen
		case breaker.StateOpen:
			v = breakerOpen
		}
		ch <- prometheus.MustNewConstMetric(breakerDesc, prometheus.GaugeValue, float64(v), name)
	}
}

// openhimCollector reports registration and heartbeat health when scraped.
type openhimCollector struct{ health func() Health }

var (
	enabledDesc = prometheus.NewDesc(prometheus.BuildFQName(Namespace, "openhim", "registration_enabled"),
		"1 when the mediator registers with OpenHIM core (openhim.register), else 0.", nil, nil)
	registeredDesc = prometheus.NewDesc(prometheus.BuildFQName(Namespace, "openhim", "registered"),
		"1 while OpenHIM core has accepted the mediator's registration, else 0.", nil, nil)
	heartbeatDesc = prometheus.NewDesc(prometheus.BuildFQName(Namespace, "openhim", "last_heartbeat_timestamp_seconds"),
		"Unix time of the last heartbeat OpenHIM core accepted (0: none yet).", nil, nil)
	failingDesc = prometheus.NewDesc(prometheus.BuildFQName(Namespace, "openhim", "failing"),
		"1 when the last registration or heartbeat failed, else 0.", nil, nil)
)

func (c *openhimCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- enabledDesc
	ch <- registeredDesc
	ch <- heartbeatDesc
	ch <- failingDesc
}

func (c *openhimCollector) Collect(ch chan<- prometheus.Metric) {
	h := c.health()
	beat := 0.0
	if !h.LastHeartbeat.IsZero() {
		beat = float64(h.LastHeartbeat.UnixMilli()) / 1000
	}
	ch <- prometheus.MustNewConstMetric(enabledDesc, prometheus.GaugeValue, b2f(h.Enabled))
	ch <- prometheus.MustNewConstMetric(registeredDesc, prometheus.GaugeValue, b2f(h.Registered))
	ch <- prometheus.MustNewConstMetric(heartbeatDesc, prometheus.GaugeValue, beat)
	ch <- prometheus.MustNewConstMetric(failingDesc, prometheus.GaugeValue, b2f(h.Failing))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
