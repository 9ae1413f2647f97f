//go:build !linux

package main

import "os/exec"

// endWithParent does nothing where the kernel cannot signal a child when
// its parent dies; the bench stops its server itself when it ends.
func endWithParent(*exec.Cmd) {}

// lowerOwnPeakRSS does nothing outside Linux; there a child's maxrss is
// its own.
func lowerOwnPeakRSS() (int64, error) { return 0, nil }
