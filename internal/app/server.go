package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/breaker"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/config"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/httpapi"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/openhim"
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
	a := &App{base: cfg, log: log, reg: reg, started: time.Now(), served: make(chan struct{}), breakers: breaker.NewRegistry(log)}
	// Every upstream's breaker exists from the start, so /health always
	// shows them.
	a.breakers.For(upstreamCHT, breakerSettings(cfg.CHT.Breaker))
	a.breakers.For(upstreamDHIS2, breakerSettings(cfg.DHIS2.Breaker))
	rt, err := a.build(cfg)
	if err != nil {
		return nil, err
	}
	a.live.Store(rt)
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
	})
	if err != nil {
		return nil, err
	}
	if cfg.OpenHIM.Register {
		hc, err := openhim.HTTPClient(cfg.OpenHIM)
		if err != nil {
			return nil, fmt.Errorf("build OpenHIM client: %w", err)
		}
		hc.Transport = breaker.NewTransport(a.breakers.For(upstreamOpenHIM, breakerSettings(cfg.OpenHIM.Breaker)), hc.Transport)
		core, err := openhim.New(cfg.OpenHIM, hc, log)
		if err != nil {
			return nil, fmt.Errorf("build OpenHIM client: %w", err)
		}
		a.agent = openhim.NewAgent(core, reg, openhim.AgentOptions{
			Interval: cfg.OpenHIM.HeartbeatInterval,
			Start:    a.started,
			OnConfig: a.applyConsole,
			Logger:   log,
		})
	}
	return a, nil
}

// build makes the export service of cfg, its upstream clients recording
// every call as an orchestration of the request that made it. Each
// client's transport stack is recorder → breaker → retry → http.Transport
// (upstreamClient); the breakers come from a.breakers, so a rebuild for a
// console config keeps them.
func (a *App) build(cfg config.Config) (*runtime, error) {
	secrets := []string{cfg.CHT.Password.Reveal(), cfg.DHIS2.Password.Reveal(), cfg.DHIS2.Token.Reveal(), cfg.OpenHIM.Password.Reveal(), cfg.Server.Password.Reveal()}
	limit := cfg.OpenHIM.OrchestrationBodyLimit
	record := func(upstream string) func(http.RoundTripper) http.RoundTripper {
		return func(next http.RoundTripper) http.RoundTripper {
			return openhim.NewTransport(next, upstream, limit, secrets...)
		}
	}
	rt := &runtime{cfg: cfg}
	if cfg.CHT.URL == "" {
		return rt, nil
	}
	chtClient, err := newCHTClient(cfg, a.breakers, a.log, record("CHT"))
	if err != nil {
		return nil, err
	}
	opts := export.Options{Locale: cfg.CHT.Locale, Logger: a.log, Data: dataOptions(cfg.DHIS2)}
	if cfg.RequireDHIS2() == nil {
		if opts.DHIS2, err = newDHIS2Client(cfg, a.breakers, a.log, record("DHIS2")); err != nil {
			return nil, err
		}
	}
	if rt.svc, err = export.New(chtClient, opts); err != nil {
		return nil, err
	}
	return rt, nil
}

// applyConsole applies a config delivered by the OpenHIM console on top of
// the local one (file, environment, flags). A config that does not validate
// or build is refused and the running one stays.
func (a *App) applyConsole(console map[string]any) error {
	cfg, err := a.base.ApplyConsole(console)
	if err != nil {
		return err
	}
	rt, err := a.build(cfg)
	if err != nil {
		return err
	}
	a.live.Store(rt)
	a.log.Info("config from OpenHIM applied", "cht_url", cfg.CHT.URL, "dhis2_url", cfg.DHIS2.URL)
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
	return nil
}

// Addr is the address the server listens on, once started.
func (a *App) Addr() string {
	if a.ln == nil {
		return ""
	}
	return a.ln.Addr().String()
}

// Stop stops the agent, then lets running requests (an export in progress)
// finish within ctx's deadline before closing the server. It is idempotent.
func (a *App) Stop(ctx context.Context) error {
	a.stopOnce.Do(func() {
		var errs []error
		if a.agent != nil {
			errs = append(errs, a.agent.Stop(ctx))
		}
		if a.server != nil {
			if err := a.server.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("shut down http server: %w", err), a.server.Close())
			}
			<-a.served
		}
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

func (l liveExporter) service() (*export.Service, error) {
	rt := l.a.live.Load()
	if rt.svc == nil {
		return nil, &export.InputError{Err: errNotConfigured}
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
	svc, err := l.service()
	if err != nil {
		return nil, err
	}
	return svc.Export(ctx, req)
}

func (l liveExporter) DataSets(ctx context.Context) ([]string, error) {
	svc, err := l.service()
	if err != nil {
		return nil, err
	}
	return svc.DataSets(ctx)
}
