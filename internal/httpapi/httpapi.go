// Package httpapi serves the mediator's HTTP API to OpenHIM:
// POST|GET /export, GET /dataValueSets, GET /readiness, the month board
// (GET /board and its board/api calls), GET /health and GET /metrics. It is the only
// package that imports gin: handlers are methods on a struct holding their
// dependencies, every answer but /health and /metrics is an OpenHIM mediator envelope
// (application/json+openhim, OpenHIM core src/middleware/router.js), and errors map to HTTP and
// OpenHIM status in one function, statusFor.
//
// Status mapping (HTTP status = envelope response.status = outer status).
// OpenHIM core marks a transaction for auto-retry only when the mediator's
// answer has an error member (core's src/middleware/router.js), so every
// transient failure carries one and no failure a retry cannot fix does:
//
//	outcome                                          HTTP  envelope status            error member
//	export Successful                                200   Successful                 no
//	export Completed with error(s) (values refused)  200   Completed with error(s)    no
//	export Failed: validation or DHIS2 refused all   502   Failed                     no
//	push stopped part-way (Report.Cause)             502   Completed with error(s)    yes: upstream, values not sent
//	                                                       or Failed (none imported)
//	export stopped at shutdown                       503   as the report              yes
//	bad parameter, unknown data set or org unit      400   Completed                  no
//	a month that has not begun                       400   Completed                  no
//	month not ready, not forced (NotReadyError)      409   Failed                     yes: "month not ready: …"
//	the client's body unreadable / too slow          400 / 408  Completed             no
//	inbound basic auth missing or wrong              401   Completed                  no
//	board push without the board's header            403   Completed                  no
//	unknown path / method                            404 / 405  Completed             no
//	request body over MaxBodyBytes                   413   Completed                  no
//	client went away (context.Canceled)              499   Failed (never sent)        no
//	mediator not configured (export.NotConfigured)   503   Failed                     yes
//	CHT or DHIS2 unreachable, refused, bad answer    502   Failed                     yes
//	deadline exceeded outside any upstream call      504   Failed                     yes
//	anything else, including a recovered panic       500   Failed                     yes
//
// An error with HTTPStatus() int (and Retryable() bool) decides its own
// row: a retryable one is Failed with the error member whatever its code.
// A 4xx is otherwise "Completed" because that is what core computes for a
// 4xx on its own: the mediator worked, the request was wrong.
//
// Several data sets (GET /export without dataSet, as a polling channel sends
// it): response.body is always an object
//
//	{"status": "...", "period": "202406", "dryRun": false, "reports": [<report>, ...]}
//
// with one export report per data set of CHT's dhis_data_sets, in CHT's
// order, even when there is only one (so the shape depends on the request,
// never on the data); "error" is added when CHT defines no data set (502,
// Failed). With dataSet given, response.body is that one report. A data set whose export errored gets a report with status
// "Failed" and its error; the others still run. The envelope status is
// Successful when every data set is, Failed when every one failed (HTTP 502,
// or 400 when every failure was an input error such as an org unit mapped
// in no data set), else Completed with error(s) (HTTP 200, or the highest
// 5xx with the error member when any data set failed transiently).
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-playground/validator/v10"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/flight"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/openhim"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/redact"
)

// Exporter is what the handlers need. *export.Service implements it.
type Exporter interface {
	Preview(ctx context.Context, req export.Request) (*export.Preview, error)
	Export(ctx context.Context, req export.ExportRequest) (*export.Report, error)
	DataSets(ctx context.Context) ([]string, error)
}

var _ Exporter = (*export.Service)(nil)

// DefaultMaxBodyBytes is the request body limit when Options.MaxBodyBytes
// is zero. No endpoint reads a body (parameters travel in the query string,
// so a rerun repeats the same export); the limit only bounds what a client
// can make the mediator read.
const DefaultMaxBodyBytes = 1 << 20

// Options configure the API. URN, Exporter and Logger are required.
type Options struct {
	// URN is the mediator's urn, written as x-mediator-urn.
	URN string
	// Version is reported by /health.
	Version string
	// Exporter builds, validates and pushes.
	Exporter Exporter
	// Username and Password, when either is set, are the basic auth
	// credentials every request but /health must carry (server.username,
	// server.password: the OpenHIM route's credentials). Compared in constant
	// time; a wrong or missing Authorization answers 401 with
	// WWW-Authenticate.
	Username, Password string
	// Health returns extra /health sections (breakers, OpenHIM
	// registration). Optional. It cannot override "status" or "version".
	Health func() map[string]any
	// Now returns the current time; time.Now when nil. An export without
	// period exports the calendar month before Now's month, in Now's
	// location (the server's time zone, as CHT does).
	Now func() time.Time
	// Logger receives the access log, errors and recovered panics.
	Logger *slog.Logger
	// RecorderFor, optional, attaches an orchestration recorder to a
	// request's context and returns a function that gives the orchestrations
	// recorded so far. Without it envelopes carry no orchestrations (an empty
	// array: core answers 500 to anything but an array).
	RecorderFor func(ctx context.Context) (context.Context, func() []openhim.Orchestration)
	// MaxBodyBytes limits request bodies (413 past it); DefaultMaxBodyBytes
	// when zero or negative.
	MaxBodyBytes int64
	// PullCacheTTL, when positive, keeps each built /dataValueSets answer
	// this long for identical pulls (server.pull_cache_ttl); zero builds
	// every pull.
	PullCacheTTL time.Duration
	// Redactor redacts credentials from everything an answer carries
	// (envelope error, response body, orchestrations, properties) and from
	// /health. Without it only the rules that need no configured secret
	// apply.
	Redactor *redact.Redactor
	// Shutdown, optional, is canceled when the mediator stops waiting for
	// running exports: their pushes stop between chunks, and each answer is
	// a 503 whose report lists the values not sent.
	Shutdown context.Context
	// Configured, optional, returns nil when the mediator has what it needs
	// to export (CHT and DHIS2), else why not: /health reports it.
	Configured func() error
	// Metrics, optional, serves GET /metrics (the Prometheus exposition
	// format). With MetricsAuth it asks for Username and Password like the
	// API (when they are set); without, any scraper may read it.
	Metrics     http.Handler
	MetricsAuth bool
	// Updater and Jobs, both optional, enable asynchronous exports
	// (/export/async, /export?async=true): Updater reports their end to
	// OpenHIM core, Jobs tracks them so that the mediator's stop can wait.
	Updater TransactionUpdater
	Jobs    *Jobs
}

// server holds the handlers' dependencies.
type server struct {
	urn         string
	version     string
	exp         Exporter
	username    string
	password    string
	health      func() map[string]any
	now         func() time.Time
	log         *slog.Logger
	recorderFor func(ctx context.Context) (context.Context, func() []openhim.Orchestration)
	maxBody     int64
	validate    *validator.Validate
	pulls       coalescer
	exports     flight.Group[export.ExportRequest, exportResult]
	redactor    *redact.Redactor
	shutdown    context.Context
	configured  func() error
	last        *lastReports // the month board's last export results
	updater     TransactionUpdater
	jobs        *Jobs
	engine      http.Handler // the whole API, which background exports go through
}

// ginMode sets gin's mode once. gin keeps the mode in a package variable
// (read atomically); release mode stops gin's debug output to stdout. It is
// the only global state this package touches.
var ginMode sync.Once

// New returns the mediator's HTTP handler: a gin engine built with gin.New
// (no default logger, no stdout output) and our middleware: request ID,
// slog access log, panic recovery, then for the API endpoints inbound basic
// auth and the body limit.
func New(opts Options) (http.Handler, error) {
	_, h, err := build(opts)
	return h, err
}

// build is New, also returning the server (for tests).
func build(opts Options) (*server, http.Handler, error) {
	var errs []error
	if opts.URN == "" {
		errs = append(errs, errors.New("httpapi: a mediator urn is required"))
	}
	if opts.Exporter == nil {
		errs = append(errs, errors.New("httpapi: an exporter is required"))
	}
	if opts.Logger == nil {
		errs = append(errs, errors.New("httpapi: a logger is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	s := &server{
		urn:         opts.URN,
		version:     opts.Version,
		exp:         opts.Exporter,
		username:    opts.Username,
		password:    opts.Password,
		health:      opts.Health,
		now:         opts.Now,
		log:         slog.New(redact.NewHandler(opts.Logger.Handler(), opts.Redactor)).With("component", "httpapi"),
		recorderFor: opts.RecorderFor,
		maxBody:     opts.MaxBodyBytes,
		validate:    newValidator(),
		pulls:       coalescer{ttl: opts.PullCacheTTL, now: time.Now},
		redactor:    opts.Redactor,
		shutdown:    opts.Shutdown,
		configured:  opts.Configured,
		updater:     opts.Updater,
		jobs:        opts.Jobs,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	s.last = &lastReports{}
	s.exp = &rememberingExporter{Exporter: s.exp, last: s.last, now: s.now}

	ginMode.Do(func() { gin.SetMode(gin.ReleaseMode) })
	e := gin.New()
	e.HandleMethodNotAllowed = true
	// Answer every unknown path with an envelope, not a redirect.
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.ContextWithFallback = true
	_ = e.SetTrustedProxies(nil) // ClientIP is the peer address: OpenHIM core
	e.Use(s.requestID, s.accessLog, s.recover)
	e.NoRoute(s.noRoute)
	e.NoMethod(s.noMethod)

	e.GET("/health", s.getHealth)
	api := e.Group("", s.basicAuth, s.limitBody)
	api.POST("/export", s.postExport)
	api.GET("/export", s.postExport)
	api.POST("/export/async", s.postExport)
	api.GET("/export/async", s.postExport)
	api.GET("/dataValueSets", s.getDataValueSets)
	api.GET("/readiness", s.getReadiness)
	s.registerBoard(api)
	if opts.Metrics != nil {
		metrics := gin.WrapH(opts.Metrics)
		if opts.MetricsAuth {
			e.GET("/metrics", s.basicAuth, metrics)
		} else {
			e.GET("/metrics", metrics)
		}
	}
	s.engine = e
	return s, e, nil
}

// withRecorder attaches the orchestration recorder to ctx, when there is
// one, and returns the function that collects what it recorded.
func (s *server) withRecorder(ctx context.Context) (context.Context, func() []openhim.Orchestration) {
	if s.recorderFor == nil {
		return ctx, func() []openhim.Orchestration { return nil }
	}
	ctx, collect := s.recorderFor(ctx)
	if collect == nil {
		collect = func() []openhim.Orchestration { return nil }
	}
	return ctx, collect
}
