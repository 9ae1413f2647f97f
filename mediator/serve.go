package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/app"
)

// serve runs the mediator until ctx ends (SIGINT or SIGTERM), then lets a
// running export finish within server.shutdown_timeout.
func (c *cli) serve(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfgPath, sets := commonFlags(fs)
	checkOnly := fs.Bool("check-config", false, "run every check serve runs before listening (configuration, mediator.json, OpenHIM client settings), then exit")
	fs.Usage = func() {
		fmt.Fprintln(c.stderr, "Usage: mediator serve [--config FILE] [--set key=value] [--check-config]")
		fmt.Fprintln(c.stderr, "Serves the HTTP API that OpenHIM routes to, registers with OpenHIM core and sends heartbeats.")
		fs.PrintDefaults()
	}
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	cfg, log, ok := c.setup(*cfgPath, sets)
	if !ok {
		return exitUsage
	}
	// New runs every check serve makes before it listens: --check-config
	// stops right after it, so it accepts exactly what serve accepts.
	a, err := app.New(cfg, log)
	if err != nil {
		c.fail("serve: %v", err)
		return exitUsage
	}
	if *checkOnly {
		reg := "OpenHIM registration off (openhim.register=false)"
		if cfg.OpenHIM.Register {
			reg = "registers with OpenHIM core at " + cfg.OpenHIM.URL + " as " + cfg.OpenHIM.Username
		}
		fmt.Fprintf(c.stdout, "configuration OK: serve would listen on %s; %s\n", cfg.Server.Addr, reg)
		return exitOK
	}
	if err := a.Start(ctx); err != nil {
		c.fail("serve: %v", err)
		return exitRun
	}
	<-ctx.Done()
	log.Info("stopping", "grace", cfg.Server.ShutdownTimeout.String())
	stopCtx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
	defer cancel()
	if err := a.Stop(stopCtx); err != nil {
		c.fail("serve: stop: %v", err)
		return exitRun
	}
	log.Info("stopped")
	return exitOK
}
