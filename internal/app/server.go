package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/breaker"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/config"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/httpapi"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/metrics"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/openhim"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/readiness"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/redact"
	mediatorconfig "github.com/cht-dhis2-mediator/cht-dhis2-mediator/mediator-config"
)

// App is the running mediator: the HTTP server answering OpenHIM, and the
// agent that registers with core, heartbeats and applies console config.
// New, then Start, then Stop; tests embed it on 127.0.0.1:0.
type App struct {
	base    config.Config // file, environment and flags: what console config applies to
	log     *slog.Logger
	reg     openhim.Registration
	started time.Time

	live    atomic.Pointer[runtime] // swapped when the console changes the config
	handler http.Handler
	server  *http.Server
	agent   *openhim.Agent
	ln      net.Listener

	// breakers holds one circuit breaker per upstream for the App's life:
	// a config rebuilt by the console keeps them, and their state, unless
	// its breaker settings for an upstream changed (Registry.For).
	breakers *breaker.Registry

	// redactor holds every credential the mediator has been given (local
	// and console config): logs, answers, /health and errors go through it.
	redactor *redact.Redactor
	// metrics are served at /metrics; every upstream client and export
	// reports into them.
	metrics *metrics.Metrics
	// jobs are the asynchronous exports running in the background.
	jobs *httpapi.Jobs
	// core is OpenHIM core's API client (nil when openhim.register is off).
	core *openhim.Client
	// stopOrphans stops failOrphans; orphans is closed when it has ended.
	stopOrphans context.CancelFunc
	orphans     chan struct{}
	// stopExports cancels running exports when the shutdown grace period
	// has passed (their answers still go out, listing what was not sent).
	stopCtx     context.Context
	stopExports context.CancelFunc

	stopOnce sync.Once
	stopErr  error
	served   chan struct{}
}

// runtime is what one configuration builds: the export service and its
// upstream clients.
type runtime struct {
	cfg config.Config
	svc *export.Service
}

// New builds the mediator from cfg. It needs the CHT and DHIS2 keys (which
// may also arrive later from the OpenHIM console: then New accepts their
// absence and exports fail with a clear message until they do).
func New(cfg config.Config, log *slog.Logger) (*App, error) {
	reg, err := openhim.LoadRegistration(mediatorconfig.MediatorJSON, Version)
	if err != nil {
		return nil, fmt.Errorf("mediator.json: %w", err)
	}
	a := &App{base: cfg, reg: reg, started: time.Now(), served: make(chan struct{}), redactor: NewRedactor(cfg)}
	// Whatever the logger given, every line the App's parts write is
	// redacted with the credentials in force, console config included.
	a.log = slog.New(redact.NewHandler(log.Handler(), a.redactor))
	log = a.log
	a.breakers = breaker.NewRegistry(log)
	a.stopCtx, a.stopExports = context.WithCancel(context.Background())
	// Every upstream's breaker exists from the start, so /health always
	// shows them.
	a.breakers.For(upstreamCHT, breakerSettings(cfg.CHT.Breaker))
	a.breakers.For(upstreamDHIS2, breakerSettings(cfg.DHIS2.Breaker))
	a.metrics = metrics.New(metrics.Options{Breakers: a.breakers.States, OpenHIM: a.openhimHealth})
	a.jobs = httpapi.NewJobs()
	a.jobs.Host, _ = os.Hostname()
	a.jobs.Started = a.started.UTC().Format(time.RFC3339Nano)
	rt, planned, err := a.build(cfg, a.breakers.Plan)
	if err != nil {
		return nil, err
	}
	a.breakers.Install(planned...)
	a.live.Store(rt)
	var core *openhim.Client
	if cfg.OpenHIM.Register {
		hc, err := openhim.HTTPClient(cfg.OpenHIM)
		if err != nil {
			return nil, fmt.Errorf("build OpenHIM client: %w", err)
		}
		hc.Transport = a.metrics.Transport(upstreamOpenHIM, breaker.NewTransport(a.breakers.For(upstreamOpenHIM, breakerSettings(cfg.OpenHIM.Breaker)), hc.Transport))
		if core, err = openhim.New(cfg.OpenHIM, hc, log); err != nil {
			return nil, fmt.Errorf("build OpenHIM client: %w", err)
		}
		a.agent = openhim.NewAgent(core, reg, openhim.AgentOptions{
			Interval: cfg.OpenHIM.HeartbeatInterval,
			Start:    a.started,
			OnConfig: a.applyConsole,
			Logger:   log,
		})
	}
	a.core = core
	a.handler, err = httpapi.New(httpapi.Options{
		URN:          reg.URN,
		Version:      Version,
		Exporter:     liveExporter{a},
		Username:     cfg.Server.Username,
		Password:     cfg.Server.Password.Reveal(),
		Health:       a.health,
		Logger:       log,
		RecorderFor:  recordInto,
		PullCacheTTL: cfg.Server.PullCacheTTL,
		Redactor:     a.redactor,
		Shutdown:     a.stopCtx,
		Configured:   a.configured,
		Metrics:      a.metrics.Handler(),
		MetricsAuth:  cfg.Server.MetricsAuth,
		Jobs:         a.jobs,
		Updater:      updater(core),
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// build makes the export service of cfg, its upstream clients recording
// every call as an orchestration of the request that made it. Each
// client's transport stack is recorder → metrics → breaker → retry →
// http.Transport (upstreamClient): the metrics time each call once,
// retries included, and count the calls an open breaker refused. The breakers come from plan (Registry.Plan): the ones
// in use when their settings are unchanged, else new ones, returned so
// that the caller installs them only once the whole config is accepted.
func (a *App) build(cfg config.Config, plan breakerFor) (*runtime, []*breaker.Breaker, error) {
	var planned []*breaker.Breaker
	breakers := func(name string, s breaker.Settings) *breaker.Breaker {
		b := plan(name, s)
		planned = append(planned, b)
		return b
	}
	creds := credentials(cfg)
	limit := cfg.OpenHIM.OrchestrationBodyLimit
	record := func(upstream, name string) func(http.RoundTripper) http.RoundTripper {
		return func(next http.RoundTripper) http.RoundTripper {
			return openhim.NewTransport(a.metrics.Transport(upstream, next), name, limit, creds...)
		}
	}
	rt := &runtime{cfg: cfg}
	if cfg.CHT.URL == "" {
		return rt, planned, nil
	}
	chtClient, err := newCHTClient(cfg, breakers, a.log, record(upstreamCHT, "CHT"))
	if err != nil {
		return nil, nil, err
	}
	opts := export.Options{Locale: cfg.CHT.Locale, Logger: a.log, Data: dataOptions(cfg.DHIS2), MinReady: cfg.Export.MinReady, OnBuild: a.metrics.ObserveDocsRead}
	if cfg.RequireDHIS2() == nil {
		if opts.DHIS2, err = newDHIS2Client(cfg, breakers, a.log, record(upstreamDHIS2, "DHIS2")); err != nil {
			return nil, nil, err
		}
	}
	if rt.svc, err = export.New(chtClient, opts); err != nil {
		return nil, nil, err
	}
	return rt, planned, nil
}

// applyConsole applies a config delivered by the OpenHIM console on top of
// the local one (file, environment, flags), whole or not at all: a config
// that does not validate or build is refused and the running one stays,
// breakers included (they are planned, and installed only with the config).
func (a *App) applyConsole(console map[string]any) error {
	cfg, err := a.base.ApplyConsole(console)
	if err != nil {
		return err
	}
	// The new credentials are redacted from now on, even from the error of
	// a refused config; the old ones stay redacted too.
	a.redactor.Set(credentials(a.base, a.live.Load().cfg, cfg)...)
	rt, planned, err := a.build(cfg, a.breakers.Plan)
	if err != nil {
		return err
	}
	a.breakers.Install(planned...)
	a.live.Store(rt)
	a.log.Info("config from OpenHIM applied", "cht_url", redact.URL(cfg.CHT.URL), "dhis2_url", redact.URL(cfg.DHIS2.URL))
	return nil
}

// configured reports what the mediator lacks to export, or nil.
func (a *App) configured() error {
	cfg := a.live.Load().cfg
	var errs []error
	if err := cfg.RequireCHT(); err != nil {
		errs = append(errs, err)
	}
	if err := cfg.RequireDHIS2(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("the mediator is not configured: %w", err)
	}
	return nil
}

// Config returns the configuration in force (console config included).
func (a *App) Config() config.Config { return a.live.Load().cfg }

// Handler is the HTTP API, for tests that serve it themselves.
func (a *App) Handler() http.Handler { return a.handler }

// Start listens on server.addr (":0" picks a port), serves, and starts the
// OpenHIM agent. The server serves while registration is retried.
func (a *App) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", a.base.Server.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.base.Server.Addr, err)
	}
	a.ln = ln
	a.server = &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       a.base.Server.ReadTimeout,
		WriteTimeout:      a.base.Server.WriteTimeout,
		IdleTimeout:       a.base.Server.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	go func() {
		defer close(a.served)
		if err := a.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("http server stopped", "err", err)
		}
	}()
	a.log.Info("mediator listening", "addr", ln.Addr().String(), "version", Version, "urn", a.reg.URN, "openhim_register", a.agent != nil)
	if a.agent != nil {
		a.agent.Start(context.WithoutCancel(ctx))
	}
	if a.core != nil {
		octx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		a.orphans = make(chan struct{})
		a.stopOrphans = cancel
		go func() {
			defer close(a.orphans)
			a.failOrphans(octx)
		}()
	}
	return nil
}

// failOrphans fails, with an error, the asynchronous exports a previous
// process of this mediator on this host left "Processing" in OpenHIM (it
// stopped or crashed before it could update them): core then marks them
// for auto-retry, as a failed synchronous export. It retries the listing
// while core cannot be reached, until ctx is done.
func (a *App) failOrphans(ctx context.Context) {
	backoff := time.Second
	for {
		txs, err := a.core.ListTransactions(ctx, openhim.StatusProcessing, httpapi.PropertyAsyncHost, a.jobs.Host, orphanLimit)
		if err == nil {
			for _, tx := range txs {
				if started, _ := tx.Properties[httpapi.PropertyAsyncStarted].(string); started == a.jobs.Started || tx.Status != openhim.StatusProcessing {
					continue // this process's own (or no longer Processing)
				}
				msg := "interrupted: the mediator restarted during this asynchronous export (process started " + fmt.Sprint(tx.Properties[httpapi.PropertyAsyncStarted]) + "); OpenHIM retries it"
				update := map[string]any{"status": openhim.StatusFailed, "error": openhim.Error{Message: msg}}
				if err := a.core.UpdateTransaction(ctx, tx.ID, update); err != nil {
					a.log.Warn("could not fail an asynchronous export left Processing by a previous run", "transaction_id", tx.ID, "err", err)
					continue
				}
				a.log.Warn("asynchronous export left Processing by a previous run of the mediator failed with an error, so that OpenHIM retries it", "transaction_id", tx.ID)
			}
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Minute)
	}
}

// orphanLimit bounds the transactions failOrphans looks at.
const orphanLimit = 500

// Addr is the address the server listens on, once started.
func (a *App) Addr() string {
	if a.ln == nil {
		return ""
	}
	return a.ln.Addr().String()
}

// answerWindow is how long Stop waits, after the grace period, for the
// exports it stopped to answer (a push stops between chunks or when its
// current call is canceled; the answer lists what was not sent).
const answerWindow = 10 * time.Second

// Stop stops the agent, then lets running requests (an export in progress)
// finish within ctx's deadline. Exports still running then are stopped:
// their pushes end, each logs at ERROR the values it did not send, and its
// client gets a 503 (OpenHIM may retry it) within answerWindow, after which
// the server closes. It is idempotent.
func (a *App) Stop(ctx context.Context) error {
	a.stopOnce.Do(func() {
		var errs []error
		if a.stopOrphans != nil {
			a.stopOrphans()
			<-a.orphans
		}
		if a.agent != nil {
			errs = append(errs, a.agent.Stop(ctx))
		}
		if a.server != nil {
			if err := a.server.Shutdown(ctx); err != nil {
				a.log.Error("shutdown grace period over: stopping the exports still running", "err", err)
				a.stopExports()
				wctx, cancel := context.WithTimeout(context.Background(), answerWindow)
				if err := a.server.Shutdown(wctx); err != nil {
					errs = append(errs, fmt.Errorf("shut down http server: %w", err), a.server.Close())
				}
				cancel()
			}
			<-a.served
		}
		// Asynchronous exports run past their requests: they get what is
		// left of the grace period, then are stopped (their reports list
		// what was not sent, and carry an error, so core retries them) and
		// have answerWindow to update their transactions.
		if err := a.jobs.Wait(ctx); err != nil {
			a.log.Error("shutdown grace period over: stopping the asynchronous exports still running", "transactions", a.jobs.Running())
			a.stopExports()
			wctx, cancel := context.WithTimeout(context.Background(), answerWindow)
			if err := a.jobs.Wait(wctx); err != nil {
				errs = append(errs, fmt.Errorf("asynchronous exports still running: transactions %v stay Processing in OpenHIM", a.jobs.Running()))
			}
			cancel()
		}
		a.jobs.Abandon()
		a.stopExports()
		a.stopErr = errors.Join(errs...)
	})
	return a.stopErr
}

// Breakers returns the state of every upstream's circuit breaker:
// "closed", "half-open" or "open", by upstream (cht, dhis2, openhim).
func (a *App) Breakers() map[string]string { return a.breakers.States() }

// health is the /health section the app adds: OpenHIM registration and
// every upstream's circuit breaker.
func (a *App) health() map[string]any {
	out := map[string]any{"uptime_seconds": int(time.Since(a.started).Seconds()), "breakers": a.breakers.Statuses()}
	if a.agent != nil {
		out["openhim"] = a.agent.Status()
	} else {
		out["openhim"] = map[string]any{"registered": false, "disabled": true}
	}
	return out
}

// updater is core as the API's transaction updater: nil (no asynchronous
// exports) when the mediator does not talk to core.
func updater(core *openhim.Client) httpapi.TransactionUpdater {
	if core == nil {
		return nil
	}
	return core
}

// recordInto attaches an orchestration recorder to a request's context.
func recordInto(ctx context.Context) (context.Context, func() []openhim.Orchestration) {
	rec := openhim.NewRecorder()
	return openhim.WithRecorder(ctx, rec), rec.Orchestrations
}

// liveExporter sends each request to the export service of the config in
// force when it arrives.
type liveExporter struct{ a *App }

var _ httpapi.Exporter = liveExporter{}

var errNotConfigured = errors.New("the mediator has no CHT configuration yet: set cht.url (config file, MEDIATOR_CHT_URL or the OpenHIM console)")

// service is the export service in force; without one the mediator is not
// configured yet: 503, retried by OpenHIM, since the console may send the
// configuration at any time.
func (l liveExporter) service() (*export.Service, error) {
	rt := l.a.live.Load()
	if rt.svc == nil {
		return nil, export.NotConfigured(errNotConfigured)
	}
	return rt.svc, nil
}

func (l liveExporter) Preview(ctx context.Context, req export.Request) (*export.Preview, error) {
	svc, err := l.service()
	if err != nil {
		return nil, err
	}
	return svc.Preview(ctx, req)
}

func (l liveExporter) Export(ctx context.Context, req export.ExportRequest) (*export.Report, error) {
	start := time.Now()
	svc, err := l.service()
	var rep *export.Report
	if err == nil {
		rep, err = svc.Export(ctx, req)
	}
	l.a.metrics.ObserveExport(exportResult(req, rep, err, start, time.Now()))
	if rd := readinessOf(rep, err); rd != nil && req.OrgUnit == "" {
		// Only a whole data set's readiness is its readiness.
		l.a.metrics.SetReadiness(req.DataSet, rd.Ratio)
	}
	return rep, err
}

// readinessOf is the readiness of the month an export read: in its report,
// or in the error of a month held back as not ready.
func readinessOf(rep *export.Report, err error) *readiness.Object {
	if rep != nil && rep.Readiness != nil {
		return rep.Readiness
	}
	var nr *export.NotReadyError
	if errors.As(err, &nr) {
		return nr.Readiness
	}
	return nil
}

// exportResult is what the metrics record of one export: its report, or
// its error when it produced none.
func exportResult(req export.ExportRequest, rep *export.Report, err error, start, end time.Time) metrics.ExportResult {
	r := metrics.ExportResult{DataSet: req.DataSet, DryRun: req.DryRun, Duration: end.Sub(start), Ended: end}
	switch {
	case err != nil && export.IsInputError(err):
		r.Outcome = metrics.OutcomeRefused
	case err != nil && errors.As(err, new(*export.NotReadyError)):
		r.Outcome = metrics.OutcomeNotReady
	case err != nil && errors.Is(err, context.Canceled):
		r.Outcome = metrics.OutcomeCanceled
	case err != nil || rep == nil:
		r.Outcome = metrics.OutcomeError
	default:
		switch rep.Status {
		case export.StatusSuccessful:
			r.Outcome = metrics.OutcomeSuccessful
		case export.StatusCompletedWithErrors:
			r.Outcome = metrics.OutcomeCompletedWithErrors
		default:
			r.Outcome = metrics.OutcomeFailed
		}
		r.Built, r.Rejected = rep.DataValues.Built, rep.DataValues.Rejected
		if rep.Import != nil {
			r.Pushed, r.Deleted = rep.Import.Imported+rep.Import.Updated, rep.Import.Deleted
		}
	}
	return r
}

// openhimHealth is the registration and heartbeat health the metrics
// report.
func (a *App) openhimHealth() metrics.Health {
	if a.agent == nil {
		return metrics.Health{}
	}
	st := a.agent.Status()
	return metrics.Health{Enabled: true, Registered: st.Registered, LastHeartbeat: st.LastHeartbeat, Failing: st.LastError != ""}
}

func (l liveExporter) DataSets(ctx context.Context) ([]string, error) {
	svc, err := l.service()
	if err != nil {
		return nil, err
	}
	return svc.DataSets(ctx)
}
