package main

import (
	"os/exec"
	"syscall"
)

// endWithParent makes cmd's process get SIGTERM when the bench ends, even
// killed outright, so that no server outlives it.
func endWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
