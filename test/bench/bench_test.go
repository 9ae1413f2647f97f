package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/couchsource"
)

// BenchmarkPreview measures a whole preview (settings, contacts view, the
// month's target docs, owners, aggregation, the data value set) against the
// CouchDB-shaped source over loopback HTTP, for a national hierarchy of
// 10 000 and 100 000 CHWs with 20 targets each. It reports target docs per
// second, seconds per month, the peak Go heap and (on Linux) the peak RSS of
// the benchmark process during the runs. The source runs in the same
// process: its CPU and memory are included.
func BenchmarkPreview(b *testing.B) {
	for _, chws := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("chws=%d", chws), func(b *testing.B) {
			if testing.Short() && chws > 10_000 {
				b.Skip("-short")
			}
			src, err := source(chws, false)
			if err != nil {
				b.Fatal(err)
			}
			defer src.Close()
			svc, err := service(src)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			runtime.GC()
			debug.FreeOSMemory()
			rssOK := couchsource.ResetPeakRSS()
			sampler := couchsource.StartHeapSampler()
			b.ResetTimer()
			for b.Loop() {
				if _, err := previewOnce(ctx, svc, src); err != nil {
					b.Fatal(err)
				}
			}
			heap, _ := sampler.Stop()
			perRun := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(float64(src.Data.Counts().TargetDocs)/perRun, "docs/s")
			b.ReportMetric(perRun, "s/month")
			b.ReportMetric(float64(heap)/(1<<20), "peak-heap-MB")
			if rssOK {
				b.ReportMetric(float64(couchsource.PeakRSS())/(1<<20), "peak-RSS-MB")
			}
		})
	}
}

// TestSmallPreview checks the benchmark's wiring on a small source: the
// preview reads the month once and counts every doc.
func TestSmallPreview(t *testing.T) {
	src, err := source(300, true)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	svc, err := service(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := previewOnce(context.Background(), svc, src); err != nil {
		t.Fatal(err)
	}
	if st := src.Stats(); st.TargetScans != 1 {
		t.Errorf("%d reads of the month; want 1", st.TargetScans)
	}
}
