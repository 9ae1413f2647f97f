// Command mediator is the CHT → DHIS2 OpenHIM mediator. main is wiring only:
// it parses the command line, loads the configuration and hands over to the
// app package.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/app"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.2.0-dev"

// defaultMemoryLimit is the Go runtime's soft memory limit when GOMEMLIMIT
// is not set. The mediator's live heap is small (about 70 MB for a
// 200 000-CHW month) but the default GC lets the heap grow to twice that
// before collecting; near this limit the GC collects sooner instead, so a
// national month stays well under 150 MB of RSS for about 10% more CPU,
// and smaller months pay nothing. It is soft: a bigger month still runs,
// with more GC work (the runtime caps that at about half the CPU). Set
// GOMEMLIMIT (e.g. GOMEMLIMIT=off or 1GiB) to choose another.
const defaultMemoryLimit = 100 << 20

// setDefaultMemoryLimit applies defaultMemoryLimit unless GOMEMLIMIT is
// set (the runtime has then applied it already).
func setDefaultMemoryLimit(lookupEnv func(string) (string, bool)) {
	if _, set := lookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}

func main() {
	app.Version = version
	setDefaultMemoryLimit(os.LookupEnv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := (&cli{stdout: os.Stdout, stderr: os.Stderr}).run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
