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
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/hugepages"
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

// defaultGCPercent is the Go runtime's GC target when GOGC is not set: the
// heap may grow to 2.5 times the live heap (the runtime's default is
// twice) before a collection. Measured on a 50 000-CHW preview in 20
// interleaved runs, with the heap on huge pages (heapForHugePages): 0.635 s
// and 75 MB at 100, 0.615 s and 84 MB at 150, 0.610 s and 95 MB at 200.
// Above about 100 000 CHWs defaultMemoryLimit governs and this changes
// nothing. Set GOGC to choose another.
const defaultGCPercent = 150

// setDefaultGCPercent applies defaultGCPercent unless GOGC is set.
func setDefaultGCPercent(lookupEnv func(string) (string, bool)) {
	if _, set := lookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
}

// heapForHugePages marks as much of the heap for huge pages as the soft
// memory limit allows (hugepages.Heap): a 50 000-CHW preview then takes
// about a sixth less time and a quarter less CPU on a 2-core virtual
// machine, where page faults are dear, for 4–9 MB more RSS.
func heapForHugePages() (hugepages.Result, error) {
	return hugepages.Heap(debug.SetMemoryLimit(-1))
}

func main() {
	app.Version = version
	setDefaultMemoryLimit(os.LookupEnv)
	setDefaultGCPercent(os.LookupEnv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	c := &cli{stdout: os.Stdout, stderr: os.Stderr, heap: heapForHugePages}
	code := c.run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
