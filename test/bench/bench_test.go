package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/couchsource"
)

// serveEnv makes the test binary the bench's server process (as the
// bench's -serve mode), so that the end-to-end test runs the server in
// another process without building the bench.
const serveEnv = "BENCH_TEST_SERVE_CHWS"

func TestMain(m *testing.M) {
	if n := os.Getenv(serveEnv); n != "" {
		chws, err := strconv.Atoi(n)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(serveMain(context.Background(), chws, 0, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []int64
		want int64
	}{
		{nil, 0},
		{[]int64{7}, 7},
		{[]int64{9, 1, 5}, 5},
		{[]int64{4, 1, 3, 2}, 2}, // (2+3)/2 in integers
		{[]int64{10, 30, 20, 40}, 25},
		{[]int64{5, 5, 1, 100, 5}, 5},
	} {
		if got := median(tc.in, meanInt); got != tc.want {
			t.Errorf("median(%v) = %d; want %d", tc.in, got, tc.want)
		}
	}
	in := []time.Duration{3, 1, 2}
	_ = median(in, meanDur)
	if in[0] != 3 {
		t.Error("median sorted its argument")
	}
}

func TestParseStatCPU(t *testing.T) {
	for _, tc := range []struct {
		name, stat string
		want       time.Duration
		err        bool
	}{
		{"plain", "1234 (bench) S 1 1234 1234 0 -1 4194560 2880 0 0 0 150 37 0 0 20 0 9 0 12345 1000 100 18446744073709551615", 1870 * time.Millisecond, false},
		{"name with spaces and parens", "42 (a (b) c) R 1 42 42 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0", 100 * time.Millisecond, false},
		{"too short", "42 (x) R 1 2 3", 0, true},
		{"no name", "42 x R", 0, true},
		{"not a number", "42 (x) R 1 42 42 0 -1 0 0 0 0 0 a 3 0", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tc.stat))
			if (err != nil) != tc.err || got != tc.want {
				t.Errorf("parseStatCPU = %v, %v; want %v, error %t", got, err, tc.want, tc.err)
			}
		})
	}
	// This process's own stat parses and grows with work.
	self, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if self < 0 {
		t.Errorf("own CPU %v", self)
	}
}

func TestCheckOutput(t *testing.T) {
	want := map[valueKey]string{
		{DataElement: "deA", OrgUnit: "ou1"}:                              "12",
		{DataElement: "deB", CategoryOptionCombo: "coc1", OrgUnit: "ou1"}: "0",
	}
	for _, tc := range []struct {
		name, out string
		ok        bool
	}{
		{"mediator's strings", `{"dataSet":"ds","period":"202406","dataValues":[` +
			`{"dataElement":"deB","categoryOptionCombo":"coc1","orgUnit":"ou1","value":"0"},{"dataElement":"deA","orgUnit":"ou1","value":"12"}]}`, true},
		{"CHT's numbers and extra fields", `{"dataSet":"ds","completeDate":"2026-12-07","period":"202406","dataValues":[` +
			`{"dataElement":"deA","orgUnit":"ou1","value":12,"comment":"x"},{"dataElement":"deB","categoryOptionCombo":"coc1","orgUnit":"ou1","value":0.0}]}`, true},
		{"wrong value", `{"dataSet":"ds","period":"202406","dataValues":[` +
			`{"dataElement":"deB","categoryOptionCombo":"coc1","orgUnit":"ou1","value":"0"},{"dataElement":"deA","orgUnit":"ou1","value":"13"}]}`, false},
		{"missing value", `{"dataSet":"ds","period":"202406","dataValues":[{"dataElement":"deA","orgUnit":"ou1","value":"12"}]}`, false},
		{"extra value", `{"dataSet":"ds","period":"202406","dataValues":[` +
			`{"dataElement":"deB","categoryOptionCombo":"coc1","orgUnit":"ou1","value":"0"},{"dataElement":"deA","orgUnit":"ou1","value":"12"},{"dataElement":"deA","orgUnit":"ou2","value":"1"}]}`, false},
		{"duplicate", `{"dataSet":"ds","period":"202406","dataValues":[` +
			`{"dataElement":"deA","orgUnit":"ou1","value":"12"},{"dataElement":"deA","orgUnit":"ou1","value":"12"}]}`, false},
		{"wrong period", `{"dataSet":"ds","period":"202405","dataValues":[` +
			`{"dataElement":"deB","categoryOptionCombo":"coc1","orgUnit":"ou1","value":"0"},{"dataElement":"deA","orgUnit":"ou1","value":"12"}]}`, false},
		{"not a number", `{"dataSet":"ds","period":"202406","dataValues":[` +
			`{"dataElement":"deB","categoryOptionCombo":"coc1","orgUnit":"ou1","value":"zero"},{"dataElement":"deA","orgUnit":"ou1","value":"12"}]}`, false},
		{"truncated", `{"dataSet":"ds","period":"202406","dataValues":[`, false},
		{"two sets", `{"dataSet":"ds","period":"202406","dataValues":[]} {}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkOutput([]byte(tc.out), "ds", "202406", want)
			if (err == nil) != tc.ok {
				t.Errorf("checkOutput = %v; want ok %t", err, tc.ok)
			}
		})
	}
}

func TestPrintTable(t *testing.T) {
	s := func(wall, cpu time.Duration, rssMB int64) sample {
		return sample{wall: wall, cpu: cpu, rss: rssMB << 20, serverCPU: 200 * time.Millisecond, outBytes: 3 << 20}
	}
	rows := []row{
		{chws: 50_000, targetDocs: 50_000, contacts: 71_100, dataValues: 22_000,
			mediator: []sample{s(400*time.Millisecond, 500*time.Millisecond, 60), s(500*time.Millisecond, 600*time.Millisecond, 70), s(450*time.Millisecond, 550*time.Millisecond, 65)},
			cht:      []sample{s(2500*time.Millisecond, 3*time.Second, 580), s(2400*time.Millisecond, 3*time.Second, 570), s(2600*time.Millisecond, 3*time.Second, 590)}},
		{chws: 200_000, targetDocs: 200_000, contacts: 284_400, dataValues: 88_000,
			mediator: []sample{s(5*time.Second, 6*time.Second, 100)}},
	}
	var b bytes.Buffer
	printTable(&b, "Test CPU, 2 CPUs", options{runs: 3, mediator: "bin/mediator", chtCore: "/cht"}, rows)
	out := b.String()
	for _, want := range []string{
		"Machine: Test CPU, 2 CPUs",
		"| 50 000 | 50 000 | 71 100 | 22 000 | 3.0 MB | 0.45 s | 0.55 s | 65 MB | 0.20 s | 2.50 s | 3.00 s | 580 MB | 5.6× | 8.9× | ≥ 5× faster, ≥ 5× leaner than CHT | yes |",
		"| 200 000 | 200 000 | 284 400 | 88 000 | 3.0 MB | 5.00 s | 6.00 s | 100 MB | 0.20 s | — | — | — | — | — | < 5 s, < 150 MB | no |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if rows[0].met != "yes" || rows[1].met != "no" {
		t.Errorf("met = %q, %q", rows[0].met, rows[1].met)
	}
	// Without CHT Core, the 50 000 row compares with the figures,
	// labelled.
	b.Reset()
	rows[0].cht = nil
	printTable(&b, "m", options{runs: 3}, rows[:1])
	if out := b.String(); !strings.Contains(out, "| 2.40 s * | — | 570 MB * | 5.3× | 8.8× |") || !strings.Contains(out, "not measured by this run") {
		t.Errorf("table without CHT Core:\n%s", out)
	}
}

// The whole bench, end to end on a small size: a server process, the built
// mediator previewing in its own processes, every run checked. With a
// stand-in for CHT Core's harness when node is on PATH, the side-by-side
// path runs too.
func TestBench_endToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the mediator and runs it")
	}
	dir := t.TempDir()
	mediator := filepath.Join(dir, "mediator")
	build := exec.Command("go", "build", "-o", mediator, "../../mediator")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build mediator: %v\n%s", err, out)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	opts := options{chws: []int{200}, runs: 2, mediator: mediator, server: func(n int) *exec.Cmd {
		cmd := exec.Command(self)
		cmd.Env = append(os.Environ(), serveEnv+"="+strconv.Itoa(n))
		return cmd
	}}
	// CHT Core side by side when this machine can run it (a cht-core dir,
	// node and the harness; its npm packages come with make deps).
	var why bytes.Buffer
	opts.chtCore, opts.script = findCHTCore("", "", &why)
	if opts.chtCore == "" {
		t.Logf("CHT Core not run: %s", strings.TrimSpace(why.String()))
	}
	var stdout, stderr bytes.Buffer
	if code := bench(context.Background(), opts, &stdout, &stderr); code != 0 {
		t.Fatalf("bench = %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	// 200 CHWs: 40 areas, 4 health centres, 1 district (5 org units, 100
	// values); 40 supervisors: 285 contacts.
	cht := `— \| — \| — \|`
	if opts.chtCore != "" {
		cht = `\d+\.\d\d s \| \d+\.\d\d s \| \d+ MB \| \d+\.\d× \| \d+\.\d× \|`
	}
	row := regexp.MustCompile(`(?m)^\| 200 \| 200 \| 285 \| 100 \| \d+ KB \| (\d+\.\d\d) s \| (\d+\.\d\d) s \| (\d+) MB \| (\d+\.\d\d) s \| ` + cht)
	m := row.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no 200-CHW row in:\n%s\nstderr:\n%s", out, stderr.String())
	}
	if wall, _ := strconv.ParseFloat(m[1], 64); wall <= 0 {
		t.Errorf("wall time %s", m[1])
	}
	if rss, _ := strconv.Atoi(m[3]); rss < 5 {
		t.Errorf("peak RSS %s MB: not the mediator's", m[3])
	}
	if got := strings.Count(stderr.String(), "mediator run"); got != 2 {
		t.Errorf("%d mediator runs logged; want 2:\n%s", got, stderr.String())
	}
	if want, got := map[bool]int{true: 2}[opts.chtCore != ""], strings.Count(stderr.String(), "CHT Core run"); got != want {
		t.Errorf("%d CHT Core runs logged; want %d:\n%s", got, want, stderr.String())
	}
}

// A preview with the wrong numbers fails the bench instead of being timed.
func TestBench_wrongPreviewFails(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts a server process")
	}
	dir := t.TempDir()
	// A "mediator" that prints a well-formed set with one value changed.
	d, err := couchsource.New(couchsource.National(30, benchMonth))
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		DataSet    string           `json:"dataSet"`
		Period     string           `json:"period"`
		DataValues []map[string]any `json:"dataValues"`
	}
	set.DataSet, set.Period = couchsource.DataSet, "202406"
	for i, v := range d.Expected() {
		val := v.Value
		if i == 3 {
			val++
		}
		set.DataValues = append(set.DataValues, map[string]any{"dataElement": v.DataElement,
			"categoryOptionCombo": v.CategoryOptionCombo, "orgUnit": v.OrgUnit, "value": strconv.Itoa(val)})
	}
	js, _ := json.Marshal(set)
	if err := os.WriteFile(filepath.Join(dir, "out.json"), js, 0o600); err != nil {
		t.Fatal(err)
	}
	// It reads the month once, as a real preview would, so that only the
	// values are wrong.
	script := "#!/bin/sh\ncurl -s -u \"$MEDIATOR_CHT_USERNAME:$MEDIATOR_CHT_PASSWORD\" \"$MEDIATOR_CHT_URL/medic/_all_docs?startkey=%22target~2024-06~%22\" >/dev/null\ncat " + filepath.Join(dir, "out.json") + "\n"
	fake := filepath.Join(dir, "mediator")
	if err := os.WriteFile(fake, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("no curl")
	}
	self, _ := os.Executable()
	opts := options{chws: []int{30}, runs: 1, mediator: fake, server: func(n int) *exec.Cmd {
		cmd := exec.Command(self)
		cmd.Env = append(os.Environ(), serveEnv+"="+strconv.Itoa(n))
		return cmd
	}}
	var stdout, stderr bytes.Buffer
	code := bench(context.Background(), opts, &stdout, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), "wrong preview") {
		t.Errorf("bench = %d; want a failure for the wrong preview\nstderr:\n%s", code, stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("a table was printed for a wrong preview:\n%s", stdout.String())
	}
}

// Whatever /proc holds, parseStatCPU neither panics nor returns a
// negative time.
func FuzzParseStatCPU(f *testing.F) {
	f.Add([]byte("1234 (bench) S 1 1234 1234 0 -1 4194560 2880 0 0 0 150 37 0 0 20 0 9 0 12345"))
	f.Add([]byte("1 ()) R 1 1 1 0 -1 0 0 0 0 0 9223372036854775807 9223372036854775807 0"))
	f.Add([]byte(")"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if d, err := parseStatCPU(b); err == nil && d < 0 {
			t.Errorf("parseStatCPU(%q) = %v", b, d)
		}
	})
}

// Whatever a measured program prints, checkOutput does not panic, and it
// accepts only output that holds every wanted value.
func FuzzCheckOutput(f *testing.F) {
	f.Add([]byte(`{"dataSet":"ds","period":"202406","dataValues":[{"dataElement":"deA","orgUnit":"ou1","value":"12"}]}`))
	f.Add([]byte(`{"dataSet":"ds","period":"202406","dataValues":[{"dataElement":"deA","orgUnit":"ou1","value":1.2e1}]}`))
	f.Add([]byte(`{"dataValues":null}`))
	want := map[valueKey]string{{DataElement: "deA", OrgUnit: "ou1"}: "12"}
	f.Fuzz(func(t *testing.T, b []byte) {
		if checkOutput(b, "ds", "202406", want) != nil {
			return
		}
		var set dataValueSet
		if err := json.Unmarshal(b, &set); err != nil || len(set.DataValues) != 1 {
			t.Errorf("accepted %q", b)
		}
	})
}

func TestRun_badFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-chws", "10,x"}, `"x" is not a number of CHWs`},
		{[]string{"-chws", "0"}, `"0" is not a number of CHWs`},
		{[]string{"-chws", "1000000"}, `"1000000" is not a number of CHWs`},
		{[]string{"-runs", "0"}, "-runs must be at least 1"},
		{[]string{"-serve", "-chws", "10,20"}, "-serve takes one size"},
		{[]string{"-nope"}, "flag provided but not defined"},
		{[]string{"-mediator", "/nonexistent/mediator", "-cht-core", "/nonexistent"}, "mediator binary"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), tc.args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("run(%q) = %d, stderr %q; want 2 and %q", tc.args, code, stderr.String(), tc.want)
		}
		if stdout.Len() != 0 {
			t.Errorf("run(%q) printed %q", tc.args, stdout.String())
		}
	}
}

func TestParseSizes(t *testing.T) {
	got, err := parseSizes(" 10000, 50000 ,200000")
	if err != nil || !slices.Equal(got, []int{10_000, 50_000, 200_000}) {
		t.Errorf("parseSizes = %v, %v", got, err)
	}
}

func TestParseStatusKB(t *testing.T) {
	status := "Name:\tmediator\nVmPeak:\t  200000 kB\nVmHWM:\t  117368 kB\nVmRSS:\t  112820 kB\n"
	tests := []struct {
		status, field string
		want          int64
		wantErr       bool
	}{
		{status, "VmHWM:", 117368 << 10, false},
		{status, "VmRSS:", 112820 << 10, false},
		{status, "RssAnon:", 0, true},
		{"VmHWM:\t 12 MB\n", "VmHWM:", 0, true},
		{"VmHWM:\t -1 kB\n", "VmHWM:", 0, true},
	}
	for _, tt := range tests {
		got, err := parseStatusKB([]byte(tt.status), tt.field)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("parseStatusKB(%q, %q) = %d, %v; want %d, error %v", tt.status, tt.field, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestLowerOwnPeakRSS(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only")
	}
	keep := make([]byte, 64<<20)
	for i := range keep {
		keep[i] = 1
	}
	runtime.KeepAlive(keep)
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	before, err := parseStatusKB(b, "VmHWM:")
	if err != nil {
		t.Fatal(err)
	}
	peak, err := lowerOwnPeakRSS()
	if err != nil {
		t.Fatal(err)
	}
	// The 64 MiB were touched, then freed and returned to the OS: the
	// reset peak is the RSS after that, below the peak before. (Under the
	// race detector the RSS falls by only about 30 MB: the shadow memory of
	// the freed block stays.)
	t.Logf("peak RSS %d MB before the reset, %d MB after", before>>20, peak>>20)
	if peak <= 0 || peak > before-16<<20 {
		t.Errorf("peak RSS after the reset = %d MB, before %d MB; want at least 16 MB less", peak>>20, before>>20)
	}
}
