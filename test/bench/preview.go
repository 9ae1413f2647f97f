package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/app"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/config"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/couchsource"
)

// benchMonth is the month the source generates and the previews read.
const benchMonth = "2024-06"

// source starts the national source of chws CHWs; with mapClinics every
// CHW area is a DHIS2 org unit too.
func source(chws int, mapClinics bool) (*couchsource.Server, error) {
	opts := couchsource.National(chws, benchMonth)
	opts.MapClinics = mapClinics
	return couchsource.Start(opts)
}

// service builds the export service the way `mediator preview` does
// (app.NewExportService with the default configuration), reading src.
func service(src *couchsource.Server) (*export.Service, error) {
	cfg := config.Default()
	cfg.CHT.URL = src.URL
	cfg.CHT.Database = src.Data.Database()
	cfg.OpenHIM.Register = false
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return app.NewExportService(cfg, log, false)
}

// request is the preview of the source's data set and month, every org unit.
func request() export.Request {
	period, _ := aggregate.ParseMonth(strings.ReplaceAll(benchMonth, "-", ""))
	return export.Request{DataSet: couchsource.DataSet, Period: period}
}

// outcome is one measured preview.
type outcome struct {
	CHWs       int     `json:"chws"`
	TargetDocs int     `json:"targetDocs"`
	Contacts   int     `json:"contacts"`
	OrgUnits   int     `json:"orgUnits"`
	DataValues int     `json:"dataValues"`
	Seconds    float64 `json:"seconds"`
	PeakHeap   uint64  `json:"peakHeap"`    // bytes, sampled
	PeakGoMem  uint64  `json:"peakGoMem"`   // bytes mapped by the Go runtime, sampled
	PeakRSS    uint64  `json:"peakRSS"`     // bytes, VmHWM of the process
	GOMAXPROCS int     `json:"gomaxprocs"`  // in the measured process
	Requests   int64   `json:"requests"`    // HTTP requests the source served
	Scans      int64   `json:"targetScans"` // reads of the month
}

// previewOnce runs one preview of src through svc and checks its size.
func previewOnce(ctx context.Context, svc *export.Service, src *couchsource.Server) (*export.Preview, error) {
	p, err := svc.Preview(ctx, request())
	if err != nil {
		return nil, err
	}
	c := src.Data.Counts()
	if want := c.OrgUnits * c.Targets; len(p.Set.DataValues) != want || p.Stats.Counted != c.TargetDocs {
		return nil, fmt.Errorf("preview built %d values from %d docs; want %d values from %d docs",
			len(p.Set.DataValues), p.Stats.Counted, want, c.TargetDocs)
	}
	return p, nil
}

// measure generates the source of chws CHWs, then times one cold preview
// against it and samples its memory. The source runs in this process, so
// its memory (a few MB) is in the peak RSS.
func measure(ctx context.Context, chws int, mapClinics bool) (outcome, error) {
	src, err := source(chws, mapClinics)
	if err != nil {
		return outcome{}, err
	}
	defer src.Close()
	svc, err := service(src)
	if err != nil {
		return outcome{}, err
	}
	runtime.GC()
	debug.FreeOSMemory()
	couchsource.ResetPeakRSS()
	sampler := couchsource.StartHeapSampler()
	start := time.Now()
	p, err := previewOnce(ctx, svc, src)
	elapsed := time.Since(start)
	heap, goMem := sampler.Stop()
	if err != nil {
		return outcome{}, err
	}
	c := src.Data.Counts()
	st := src.Stats()
	return outcome{
		CHWs: c.CHWs, TargetDocs: c.TargetDocs, Contacts: c.Contacts, OrgUnits: c.OrgUnits,
		DataValues: len(p.Set.DataValues), Seconds: elapsed.Seconds(),
		PeakHeap: heap, PeakGoMem: goMem, PeakRSS: couchsource.PeakRSS(),
		GOMAXPROCS: runtime.GOMAXPROCS(0), Requests: st.Requests, Scans: st.TargetScans,
	}, nil
}
