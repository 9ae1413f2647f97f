// Command bench measures whole previews against a CouchDB-shaped HTTP
// source of generated data (test/couchsource): for each size, a child
// process generates a national hierarchy of that many CHWs (20 targets
// each, five CHWs per CHW area, ten areas per health centre, ten health
// centres per district), serves it on a loopback port, runs one cold
// preview through the export service exactly as `mediator preview` builds
// it, and reports its wall time and peak RSS (VmHWM, which includes the
// in-process source). The parent runs each size -runs times and prints a
// Markdown table with the median time, the highest peak RSS, and whether
// the performance targets (README, Performance) are met.
//
//	go run ./test/bench [-chws 10000,50000,100000] [-runs 3] [-map-clinics] [-check]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sizes := fs.String("chws", "10000,50000,100000", "comma-separated numbers of CHWs, one child process per size and run")
	mapClinics := fs.Bool("map-clinics", false, "map every CHW area to a DHIS2 org unit too (ten times the org units and data values)")
	runs := fs.Int("runs", 3, "runs per size (each in its own process)")
	check := fs.Bool("check", false, "exit 1 when a target is not met")
	child := fs.Bool("child", false, "measure one preview in this process and print it as JSON (internal)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var chws []int
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			fmt.Fprintf(stderr, "bench: -chws: %q is not a positive number\n", s)
			return 2
		}
		chws = append(chws, n)
	}
	if *child {
		if len(chws) != 1 {
			fmt.Fprintln(stderr, "bench: -child takes one size")
			return 2
		}
		o, err := measure(context.Background(), chws[0], *mapClinics)
		if err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
		_ = json.NewEncoder(stdout).Encode(o)
		return 0
	}
	if *runs < 1 {
		fmt.Fprintln(stderr, "bench: -runs must be at least 1")
		return 2
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "Machine: %s, %d CPUs (nproc), GOMAXPROCS %d, %s %s/%s\n\n",
		cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintln(stdout, "| CHWs | target docs | contacts | org units | data values | wall time | docs/s | peak RSS | peak Go heap | target | met |")
	fmt.Fprintln(stdout, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
	allMet := true
	for _, n := range chws {
		var outs []outcome
		for range *runs {
			o, err := runChild(self, n, *mapClinics, stderr)
			if err != nil {
				fmt.Fprintf(stderr, "bench: %d CHWs: %v\n", n, err)
				return 1
			}
			outs = append(outs, o)
		}
		slices.SortFunc(outs, func(a, b outcome) int { return cmpFloat(a.Seconds, b.Seconds) })
		med := outs[len(outs)/2]
		var rss, heap uint64
		for _, o := range outs {
			rss, heap = max(rss, o.PeakRSS), max(heap, o.PeakHeap)
		}
		goal, met := target(n, *mapClinics, med.Seconds, rss)
		allMet = allMet && met != "no"
		fmt.Fprintf(stdout, "| %s | %s | %s | %s | %s | %.2f s | %s | %s | %s | %s | %s |\n",
			group(med.CHWs), group(med.TargetDocs), group(med.Contacts), group(med.OrgUnits), group(med.DataValues),
			med.Seconds, group(int(float64(med.TargetDocs)/med.Seconds)), mb(rss), mb(heap), goal, met)
	}
	fmt.Fprintf(stdout, "\nWall time is the median of %d runs, each a cold preview in its own process (source generation excluded); "+
		"peak RSS and heap are the highest of the runs. The CouchDB-shaped source runs in the same process, "+
		"so its CPU and memory are included.\n", *runs)
	if *check && !allMet {
		return 1
	}
	return 0
}

// runChild measures one preview of n CHWs in a child process.
func runChild(self string, n int, mapClinics bool, stderr io.Writer) (outcome, error) {
	var out bytes.Buffer
	cmd := exec.Command(self, "-child", "-chws", strconv.Itoa(n), "-map-clinics="+strconv.FormatBool(mapClinics))
	cmd.Stdout, cmd.Stderr = &out, stderr
	if err := cmd.Run(); err != nil {
		return outcome{}, fmt.Errorf("child: %w", err)
	}
	var o outcome
	if err := json.Unmarshal(out.Bytes(), &o); err != nil {
		return outcome{}, fmt.Errorf("child output %q: %w", out.String(), err)
	}
	if o.Scans != 1 {
		return outcome{}, errors.New("the preview did not read the month exactly once")
	}
	return o, nil
}

// target returns the performance target for n CHWs and whether it is met:
// 100 000 CHWs under 5 s and 150 MB peak RSS; 10 000 CHWs under 1 s; for
// 50 000 CHWs, 5× better than CHT's own export measured at 2.2 s and
// 600 MB (0.45 s, 120 MB). Only the national shape has targets.
func target(n int, mapClinics bool, seconds float64, rss uint64) (goal, met string) {
	yes := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "no"
	}
	if mapClinics {
		return "—", "—"
	}
	switch n {
	case 100_000:
		return "< 5 s, < 150 MB RSS", yes(seconds < 5 && rss > 0 && rss < 150<<20)
	case 50_000:
		return "5× CHT: < 0.45 s, < 120 MB RSS", yes(seconds < 0.45 && rss > 0 && rss < 120<<20)
	case 10_000:
		return "< 1 s", yes(seconds < 1)
	}
	return "—", "—"
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

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

func mb(n uint64) string {
	if n == 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f MB", float64(n)/(1<<20))
}

// cpuModel returns the CPU model from /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
