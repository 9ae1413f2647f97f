package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/test/couchsource"
)

// sample is one measured run of a program.
type sample struct {
	wall      time.Duration // from start to exit
	cpu       time.Duration // user+sys of the child (rusage)
	rss       int64         // peak RSS of the child in bytes (rusage maxrss)
	serverCPU time.Duration // user+sys the server spent during the run
	outBytes  int
	requests  int64            // requests the server answered during the run
	read      int64            // bytes the server sent during the run
	sent      map[string]int64 // read by kind (couchsource.Stats.Sent)
}

// server is a running server process.
type server struct {
	cmd  *exec.Cmd
	url  string
	done chan error
}

// startServer starts cmd, which must print its base URL on its first
// line, and waits (up to 5 minutes: generation of large sizes) for it.
func startServer(ctx context.Context, cmd *exec.Cmd, stderr io.Writer) (*server, error) {
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = stderr
	endWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	s := &server{cmd: cmd, done: make(chan error, 1)}
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(l)
		_, _ = io.Copy(io.Discard, out)
		s.done <- cmd.Wait()
	}()
	select {
	case s.url = <-line:
	case <-time.After(5 * time.Minute):
	case <-ctx.Done():
	}
	if !strings.HasPrefix(s.url, "http://") {
		s.stop()
		return nil, fmt.Errorf("the server printed no URL (%q)", s.url)
	}
	return s, nil
}

// stop ends the server process and waits for it.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// stats reads the server's request counters.
func (s *server) stats(ctx context.Context) (couchsource.Stats, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+couchsource.StatsPath, nil)
	if err != nil {
		return couchsource.Stats{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return couchsource.Stats{}, fmt.Errorf("read server stats: %w", err)
	}
	defer resp.Body.Close()
	var st couchsource.Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return couchsource.Stats{}, fmt.Errorf("read server stats: %w", err)
	}
	return st, nil
}

// measure runs cmd to its end, reading its stdout through a pipe, and
// measures it and the server's CPU meanwhile. The run must have read the
// month from the server exactly once (CHT Core's export reads it in one
// request; the mediator shares one read between its readers).
func (s *server) measure(ctx context.Context, cmd *exec.Cmd) (output, error) {
	before, err := s.stats(ctx)
	if err != nil {
		return output{}, err
	}
	cpu0, err := procCPU(s.cmd.Process.Pid)
	if err != nil {
		return output{}, err
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	floor, err := lowerOwnPeakRSS()
	if err != nil {
		return output{}, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return output{}, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	timer := time.AfterFunc(waitDeadline, func() { _ = cmd.Process.Kill() })
	stopOnCancel := context.AfterFunc(ctx, func() { _ = cmd.Process.Kill() })
	err = cmd.Wait()
	wall := time.Since(start)
	timer.Stop()
	stopOnCancel()
	if err != nil {
		return output{}, fmt.Errorf("%s: %w: %s", cmd.Path, err, lastLines(stderr.String(), 5))
	}
	cpu1, err := procCPU(s.cmd.Process.Pid)
	if err != nil {
		return output{}, err
	}
	after, err := s.stats(ctx)
	if err != nil {
		return output{}, err
	}
	if reads := after.TargetScans - before.TargetScans; reads != 1 {
		return output{}, fmt.Errorf("read the month %d times; want once", reads)
	}
	// Every request of the run must have been answered like CouchDB
	// answers a CHT database: an error answer means the server lacks
	// something the program reads, and the run would not be comparable.
	if errs := after.Errors - before.Errors; errs != 0 {
		return output{}, fmt.Errorf("the server answered %d of its requests with an error", errs)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return output{}, errors.New("no rusage for the child")
	}
	// The child's maxrss is at least the bench's RSS when it started (see
	// lowerOwnPeakRSS): a run that never went above it reports the bench's
	// figure, an upper bound of its own (this happens in tests, whose
	// binaries hold more under the race detector).
	rssBound := ru.Maxrss<<10 <= floor
	return output{stdout: stdout.Bytes(), rssBound: rssBound, sample: sample{
		wall:      wall,
		cpu:       tv(ru.Utime) + tv(ru.Stime),
		rss:       ru.Maxrss << 10, // kilobytes on Linux
		serverCPU: cpu1 - cpu0,
		outBytes:  stdout.Len(),
		requests:  after.Requests - before.Requests, // the stats endpoint is not counted
		read:      after.Bytes - before.Bytes,
		sent:      delta(after.Sent, before.Sent),
	}}, nil
}

// delta returns after - before, per key, without zeros.
func delta(after, before map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, n := range after {
		if d := n - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

func tv(t syscall.Timeval) time.Duration {
	return time.Duration(t.Sec)*time.Second + time.Duration(t.Usec)*time.Microsecond
}

// lastLines returns the last n lines of s, for error messages.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on
// every Linux architecture Go supports (sysconf(_SC_CLK_TCK) needs cgo).
const clockTicks = 100

// maxTicks bounds each CPU time read (about 21 years), so that their sum
// in a time.Duration cannot overflow.
const maxTicks = 1 << 36

// procCPU returns the CPU time (utime+stime) process pid has used so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("server CPU: %w", err)
	}
	return parseStatCPU(b)
}

// parseStatCPU reads utime and stime (fields 14 and 15, in clock ticks)
// from the contents of /proc/<pid>/stat (proc(5)). The command name
// (field 2) is in parentheses and may hold spaces and parentheses itself,
// so the fields are counted from the last ')'.
func parseStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("/proc stat: no command name")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): utime is field 14, f[11].
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc stat: %d fields after the command name", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 || n > maxTicks {
			return 0, fmt.Errorf("/proc stat: CPU time %q", s)
		}
		ticks += n
	}
	return time.Duration(ticks) * (time.Second / clockTicks), nil
}

// parseStatusKB reads the value of field (such as "VmHWM:"), in kB, from
// the contents of /proc/<pid>/status (proc(5)), in bytes.
func parseStatusKB(b []byte, field string) (int64, error) {
	for line := range strings.Lines(string(b)) {
		rest, ok := strings.CutPrefix(line, field)
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("/proc status: %s %q", field, strings.TrimSpace(rest))
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("/proc status: %s %q", field, f[0])
		}
		return n << 10, nil
	}
	return 0, fmt.Errorf("/proc status: no %s", field)
}
