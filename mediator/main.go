// Command mediator is the CHT → DHIS2 OpenHIM mediator. main is wiring only:
// it parses the command line, loads the configuration and hands over to the
// app package.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/app"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.2.0-dev"

func main() {
	app.Version = version
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := (&cli{stdout: os.Stdout, stderr: os.Stderr}).run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
