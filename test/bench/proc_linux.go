package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime/debug"
	"syscall"
)

// endWithParent makes cmd's process get SIGTERM when the bench ends, even
// killed outright, so that no server outlives it.
func endWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}

// lowerOwnPeakRSS returns the bench's memory to the OS, resets its own peak
// RSS to its current RSS (clear_refs 5, proc(5)) and returns that RSS in
// bytes. A child's rusage maxrss starts from it: Go starts children with
// clone(CLONE_VM|CLONE_VFORK), so the child runs in the bench's address
// space until its exec, and exec carries the peak RSS of the address space
// it leaves into the new program's maxrss (setmax_mm_hiwater_rss in the
// kernel's fs/exec.c). Without this, once the bench held more than a
// mediator run's peak, every later run reported the bench's peak instead.
func lowerOwnPeakRSS() (int64, error) {
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return 0, fmt.Errorf("reset the bench's peak RSS: %w", err)
	}
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("read the bench's RSS: %w", err)
	}
	return parseStatusKB(b, "VmHWM:")
}
