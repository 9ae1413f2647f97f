// Command bench measures what a user waits for: the whole
// `mediator preview --data-set X --period YYYYMM` process (start, read
// CHT, aggregate, write the JSON to stdout) against a CouchDB-shaped
// server running in another process, and, side by side when it can run,
// CHT Core's own DHIS2 export code against the same server.
//
// For each size a server process (this program in -serve mode, the same
// server as test/couchsource/cmd/couchserve) generates a CHT-shaped
// national medic database of that many CHWs (couchsource.National:
// target docs of about 1.4 KB with 20 targets, uuid contact ids, full
// lineage, a supervisor per CHW area, a user-settings doc and a medic-logs
// replication log per CHW, two reports per CHW) and serves it on a
// loopback port; generation is not timed. Then the built mediator binary
// previews the month -runs times, each in a fresh process configured by
// MEDIATOR_* variables, taking turns with CHT Core when it runs. Each run
// is measured from the child's start to its exit: wall time, CPU time
// (user+sys) and peak RSS from the child's rusage, and the server's CPU
// from /proc/<pid>/stat. Every run is checked
// before it counts: the output must be exactly the data values the
// generated data implies, and the server must have been asked for the
// month once. A wrong preview fails the bench.
//
// CHT Core side by side: with a cht-core checkout or git dir (-cht-core,
// else $CHT_CORE_DIR, else /work/.mirror/medic+cht-core/repo if present)
// and node on PATH, test/bench/chtcore/export.js runs CHT Core's
// api/src/services/export/dhis.js against the same server, measured the
// same way, and its data values must equal the mediator's. Without it the
// table shows the figures reported in issue 13, labelled as such.
//
//	go run ./test/bench [-chws 10000,50000,100000,200000] [-runs 5] [-mediator bin/mediator] [-cht-core DIR] [-check]
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/couchsource"
)

// benchMonth is the month the server generates and the previews read.
const benchMonth = "2024-06"

// defaultCHTCore is where this project's development machines keep a
// cht-core git dir.
const defaultCHTCore = "/work/.mirror/medic+cht-core/repo"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the bench's settings.
type options struct {
	chws     []int
	runs     int
	mediator string
	check    bool
	chtCore  string // "" when CHT Core is not run
	script   string // test/bench/chtcore/export.js
	chunk    int    // the server's HTTP chunks (couchsource.Options.ChunkSize)
	// server returns the command that serves n CHWs and prints its URL.
	server func(n int) *exec.Cmd
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sizes := fs.String("chws", "10000,50000,100000,200000", "comma-separated numbers of CHWs")
	runs := fs.Int("runs", 5, "runs per size and program (the table shows the medians)")
	mediator := fs.String("mediator", "bin/mediator", "the mediator binary to measure")
	check := fs.Bool("check", false, "exit 1 when a target is not met")
	chtCore := fs.String("cht-core", "", "cht-core checkout or git dir whose export to run side by side (default $CHT_CORE_DIR, else "+defaultCHTCore+" if it exists)")
	harness := fs.String("cht-harness", "", "CHT Core's export harness (default test/bench/chtcore/export.js of this repository)")
	serve := fs.Bool("serve", false, "serve the data of one -chws size and print its URL (the bench's server process)")
	chunk := fs.Int("chunk", 0, "the server sends rows in HTTP chunks of at most this many bytes, as CouchDB does (chunked_response_buffer, 1490 by default); 0: 64 KiB writes")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	chws, err := parseSizes(*sizes)
	if err != nil {
		fmt.Fprintf(stderr, "bench: -chws: %v\n", err)
		return 2
	}
	if *serve {
		if len(chws) != 1 {
			fmt.Fprintln(stderr, "bench: -serve takes one size")
			return 2
		}
		return serveMain(ctx, chws[0], *chunk, stdout, stderr)
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
	opts := options{chws: chws, runs: *runs, mediator: *mediator, check: *check, chunk: *chunk,
		server: func(n int) *exec.Cmd {
			return exec.Command(self, "-serve", "-chws", strconv.Itoa(n), "-chunk", strconv.Itoa(*chunk))
		}}
	opts.chtCore, opts.script = findCHTCore(*chtCore, *harness, stderr)
	return bench(ctx, opts, stdout, stderr)
}

// serveMain is the server process: it generates n CHWs, prints the URL
// and serves until killed.
func serveMain(ctx context.Context, n, chunk int, stdout, stderr io.Writer) int {
	opts := couchsource.National(n, benchMonth)
	opts.ChunkSize = chunk
	err := couchsource.Serve(ctx, opts, "127.0.0.1:0", func(url string) {
		fmt.Fprintln(stdout, url)
	})
	if err != nil {
		fmt.Fprintf(stderr, "bench: serve: %v\n", err)
		return 1
	}
	return 0
}

func parseSizes(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 || n > 999_999 {
			return nil, fmt.Errorf("%q is not a number of CHWs (1 to 999 999)", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// findCHTCore returns the cht-core dir to run and the harness script, or
// "" (saying why on stderr) when CHT Core cannot run here.
func findCHTCore(flagDir, script string, stderr io.Writer) (dir, harness string) {
	dir = flagDir
	if dir == "" {
		dir = os.Getenv("CHT_CORE_DIR")
	}
	if dir == "" {
		if _, err := os.Stat(defaultCHTCore); err == nil {
			dir = defaultCHTCore
		}
	}
	if dir == "" {
		fmt.Fprintln(stderr, "bench: no cht-core dir (-cht-core, $CHT_CORE_DIR): CHT Core is not run")
		return "", ""
	}
	if _, err := exec.LookPath("node"); err != nil {
		fmt.Fprintln(stderr, "bench: node is not on PATH: CHT Core is not run")
		return "", ""
	}
	if script == "" {
		root, err := repoRoot()
		if err != nil {
			fmt.Fprintf(stderr, "bench: %v: CHT Core is not run\n", err)
			return "", ""
		}
		script = filepath.Join(root, "test", "bench", "chtcore", "export.js")
	}
	if _, err := os.Stat(script); err != nil {
		fmt.Fprintf(stderr, "bench: no CHT Core harness (%v): CHT Core is not run\n", err)
		return "", ""
	}
	return dir, script
}

// repoRoot finds the module root (the directory with go.mod) from the
// working directory up.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// bench measures every size and prints the table.
func bench(ctx context.Context, opts options, stdout, stderr io.Writer) int {
	if _, err := os.Stat(opts.mediator); err != nil {
		fmt.Fprintf(stderr, "bench: mediator binary: %v (run make build, or pass -mediator)\n", err)
		return 2
	}
	// The server processes' stderr is copied to stderr by another
	// goroutine.
	stderr = &syncWriter{w: stderr}
	var rows []row
	for _, n := range opts.chws {
		fmt.Fprintf(stderr, "bench: %d CHWs: generating and serving...\n", n)
		r, err := measureSize(ctx, opts, n, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "bench: %d CHWs: %v\n", n, err)
			return 1
		}
		rows = append(rows, r)
	}
	printTable(stdout, machine(), opts, rows)
	if opts.check {
		for _, r := range rows {
			if r.met == "no" {
				return 1
			}
		}
	}
	return 0
}

// measureSize starts the server of n CHWs and measures the runs of the
// mediator (and of CHT Core) against it.
func measureSize(ctx context.Context, opts options, n int, stderr io.Writer) (row, error) {
	data, err := couchsource.New(couchsource.National(n, benchMonth))
	if err != nil {
		return row{}, err
	}
	want := expectedValues(data)
	srv, err := startServer(ctx, opts.server(n), stderr)
	if err != nil {
		return row{}, err
	}
	defer srv.stop()

	c := data.Counts()
	r := row{chws: n, targetDocs: c.TargetDocs, contacts: c.Contacts, dataValues: len(want)}
	period := strings.ReplaceAll(benchMonth, "-", "")
	// The programs take turns, run by run, so that a change in the host's
	// speed while the size is measured (a busy neighbour on a shared
	// machine) weighs on both alike.
	for i := range opts.runs {
		m, err := srv.measure(ctx, previewCmd(opts.mediator, srv.url, period))
		if err != nil {
			return row{}, fmt.Errorf("mediator run %d: %w", i+1, err)
		}
		if err := checkOutput(m.stdout, couchsource.DataSet, period, want); err != nil {
			return row{}, fmt.Errorf("mediator run %d: wrong preview: %w", i+1, err)
		}
		fmt.Fprintf(stderr, "bench: %d CHWs: mediator run %d: %s\n", n, i+1, m)
		r.mediator = append(r.mediator, m.sample)
		if opts.chtCore == "" {
			continue
		}
		m, err = srv.measure(ctx, chtCmd(opts, srv.url))
		if err != nil {
			return row{}, fmt.Errorf("CHT Core run %d: %w", i+1, err)
		}
		if err := checkOutput(m.stdout, couchsource.DataSet, period, want); err != nil {
			return row{}, fmt.Errorf("CHT Core run %d: its data values differ from the mediator's: %w", i+1, err)
		}
		fmt.Fprintf(stderr, "bench: %d CHWs: CHT Core run %d: %s\n", n, i+1, m)
		r.cht = append(r.cht, m.sample)
	}
	return r, nil
}

// previewCmd is `mediator preview` of the bench's data set and month
// against url, configured by MEDIATOR_* variables only.
func previewCmd(mediator, url, period string) *exec.Cmd {
	cmd := exec.Command(mediator, "preview", "--data-set", couchsource.DataSet, "--period", period)
	cmd.Env = append(cleanEnv(),
		"MEDIATOR_CHT_URL="+url,
		"MEDIATOR_CHT_DATABASE=medic",
		"MEDIATOR_CHT_USERNAME="+couchsource.BenchUser,
		"MEDIATOR_CHT_PASSWORD="+couchsource.BenchPassword,
		"MEDIATOR_OPENHIM_REGISTER=false",
		"MEDIATOR_LOG_LEVEL=warn",
	)
	return cmd
}

// chtCmd runs CHT Core's export (the test/bench/chtcore harness) against
// url.
func chtCmd(opts options, url string) *exec.Cmd {
	withCreds := strings.Replace(url, "http://", "http://"+couchsource.BenchUser+":"+couchsource.BenchPassword+"@", 1)
	cmd := exec.Command("node", opts.script, "--cht-core", opts.chtCore, "--url", withCreds, "--db", "medic",
		"--data-set", couchsource.DataSet, "--month", benchMonth)
	cmd.Env = cleanEnv()
	return cmd
}

// cleanEnv is the environment without MEDIATOR_* variables, so that only
// the bench configures the mediator.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MEDIATOR_") {
			env = append(env, kv)
		}
	}
	return env
}

// machine describes the machine for the table's heading.
func machine() string {
	return fmt.Sprintf("%s, %d CPUs, %s %s/%s", cpuModel(), runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
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

// output is what a measured child printed.
type output struct {
	sample
	stdout []byte
	// rssBound: the peak RSS is the bench's own, an upper bound of the
	// run's (see lowerOwnPeakRSS).
	rssBound bool
}

func (o output) String() string {
	var kinds []string
	for k := range o.sent {
		kinds = append(kinds, k)
	}
	slices.SortFunc(kinds, func(a, b string) int { return cmp.Compare(o.sent[b], o.sent[a]) })
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s %.1f", k, mbOf(o.sent[k])))
	}
	bound := ""
	if o.rssBound {
		bound = " (at most: not above the bench's own RSS)"
	}
	return fmt.Sprintf("%.2f s wall, %.2f s CPU, %.0f MB peak RSS%s, %d bytes out; server: %.2f s CPU, %d requests, %.1f MB sent (%s)",
		o.wall.Seconds(), o.cpu.Seconds(), mbOf(o.rss), bound, len(o.stdout), o.serverCPU.Seconds(), o.requests, mbOf(o.read),
		strings.Join(parts, ", "))
}

// waitDeadline bounds one measured child.
const waitDeadline = 10 * time.Minute

// syncWriter serializes writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
