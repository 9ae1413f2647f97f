package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// row is the measurements of one size.
type row struct {
	chws, targetDocs, contacts, dataValues int
	mediator, cht                          []sample
	met                                    string // "yes", "no" or "—", set by printTable
}

// Figures reported in issue 13 for CHT Core's own export of a 50 000-CHW
// month from a CouchDB-compatible server over HTTP on 2 cores (the lower
// ends of 2.4–2.5 s and 570–590 MB): shown, labelled, when CHT Core cannot
// run here.
const (
	reportedCHTWall = 2400 * time.Millisecond
	reportedCHTRSS  = 570 << 20
	reportedCHTCHWs = 50_000
)

// median returns the median of xs (the mean of the middle two for an
// even count); 0 for none.
func median[T cmp.Ordered](xs []T, mean func(a, b T) T) T {
	var zero T
	if len(xs) == 0 {
		return zero
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return mean(s[m-1], s[m])
}

func meanDur(a, b time.Duration) time.Duration { return (a + b) / 2 }
func meanInt(a, b int64) int64                 { return (a + b) / 2 }
func meanInts(a, b int) int                    { return (a + b) / 2 }

// summary is the medians of a program's runs.
type summary struct {
	wall, cpu, serverCPU time.Duration
	rss                  int64
	outBytes             int
	ok                   bool // there were runs
}

func summarize(ss []sample) summary {
	pick := func(f func(sample) time.Duration) time.Duration {
		var xs []time.Duration
		for _, s := range ss {
			xs = append(xs, f(s))
		}
		return median(xs, meanDur)
	}
	var rss []int64
	var out []int
	for _, s := range ss {
		rss, out = append(rss, s.rss), append(out, s.outBytes)
	}
	return summary{
		wall:      pick(func(s sample) time.Duration { return s.wall }),
		cpu:       pick(func(s sample) time.Duration { return s.cpu }),
		serverCPU: pick(func(s sample) time.Duration { return s.serverCPU }),
		rss:       median(rss, meanInt), outBytes: median(out, meanInts), ok: len(ss) > 0,
	}
}

// target returns the target of n CHWs and whether it is met: at 50 000
// CHWs, 5× faster and 5× leaner than CHT Core's export (speed-up and
// memory ratio given, 0 when unknown); at 200 000, under 5 s and 150 MB.
func target(n int, m summary, speedup, leaner float64) (goal, met string) {
	yes := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "no"
	}
	switch n {
	case 50_000:
		return "≥ 5× faster, ≥ 5× leaner than CHT", yes(speedup >= 5 && leaner >= 5)
	case 200_000:
		return "< 5 s, < 150 MB", yes(m.wall < 5*time.Second && m.rss > 0 && m.rss < 150<<20)
	}
	return "—", "—"
}

// printTable writes the Markdown table of rows and sets their met.
func printTable(w io.Writer, machine string, opts options, rows []row) {
	fmt.Fprintf(w, "Machine: %s\n\n", machine)
	fmt.Fprintln(w, "| CHWs | target docs | contacts | data values | output | mediator wall | mediator CPU | mediator peak RSS | server CPU | CHT wall | CHT CPU | CHT peak RSS | speed-up | memory ratio | target | met |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
	reported := false
	for i := range rows {
		r := &rows[i]
		m, c := summarize(r.mediator), summarize(r.cht)
		chtWall, chtCPU, chtRSS := "—", "—", "—"
		var speedup, leaner float64
		switch {
		case c.ok:
			chtWall, chtCPU, chtRSS = secs(c.wall), secs(c.cpu), mb(c.rss)
			speedup, leaner = ratio(c.wall.Seconds(), m.wall.Seconds()), ratio(float64(c.rss), float64(m.rss))
		case r.chws == reportedCHTCHWs:
			reported = true
			chtWall, chtRSS = secs(reportedCHTWall)+" *", mb(reportedCHTRSS)+" *"
			speedup, leaner = ratio(reportedCHTWall.Seconds(), m.wall.Seconds()), ratio(float64(reportedCHTRSS), float64(m.rss))
		}
		goal, met := target(r.chws, m, speedup, leaner)
		r.met = met
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			group(r.chws), group(r.targetDocs), group(r.contacts), group(r.dataValues), size(m.outBytes),
			secs(m.wall), secs(m.cpu), mb(m.rss), secs(m.serverCPU), chtWall, chtCPU, chtRSS,
			times(speedup), times(leaner), goal, met)
	}
	runs := fmt.Sprintf("%d runs", opts.runs)
	if opts.runs == 1 {
		runs = "1 run"
	}
	fmt.Fprintf(w, "\nMedians of %s per program and size, each a fresh process: `mediator preview` (%s) reading a "+
		"CHT-shaped CouchDB server in another process (data generation not timed) and writing the dataValueSet to a pipe; "+
		"wall time from start to exit, CPU user+sys and peak RSS from the child's rusage, server CPU from /proc/<pid>/stat. "+
		"The server sends "+chunking(opts.chunk)+". "+
		"Every run's data values were checked against the generated data and the month read once. "+
		"On a busy machine wall times grow with the wait for a core; the CPU times are the steadier comparison.\n", runs, opts.mediator)
	if opts.chtCore != "" {
		fmt.Fprintf(w, "CHT: CHT Core's own api/src/services/export/dhis.js (from %s) run by %s under node against the same server, "+
			"measured the same way, taking turns with the mediator run by run; its data values equal the mediator's.\n", opts.chtCore, opts.script)
	} else {
		fmt.Fprintln(w, "CHT: not run here (no cht-core dir, node or harness).")
	}
	if reported {
		fmt.Fprintln(w, "\\* reported in issue 13 (CHT Core's export of a 50 000-CHW month over HTTP on 2 cores: 2.4–2.5 s, 570–590 MB), not measured by this run; ratios use the lower ends.")
	}
}

func ratio(cht, ours float64) float64 {
	if cht <= 0 || ours <= 0 {
		return 0
	}
	return cht / ours
}

func times(x float64) string {
	if x == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f×", x)
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func mb(n int64) string {
	if n <= 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f MB", mbOf(n))
}

// size writes a byte count in KB below a megabyte, else in MB.
func size(n int) string {
	if n < 1<<20 {
		return fmt.Sprintf("%.0f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
}

func mbOf(n int64) float64 { return float64(n) / (1 << 20) }

// group writes n with thin-space thousands separators: 100 000.
func group(n int) string {
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// chunking describes how the server sends its rows answers.
func chunking(chunk int) string {
	if chunk > 0 {
		return fmt.Sprintf("rows in HTTP chunks of at most %d bytes, as CouchDB does (-chunk)", chunk)
	}
	return "its answers in 64 KiB writes (CouchDB sends rows in chunks of about 1.5 KB: -chunk 1490)"
}
