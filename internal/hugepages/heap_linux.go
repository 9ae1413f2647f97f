//go:build linux

package hugepages

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"unsafe"
)

// enabledFile holds the kernel's THP mode.
const enabledFile = "/sys/kernel/mm/transparent_hugepage/enabled"

// madvHugePage is MADV_HUGEPAGE, the same on every Linux architecture.
const madvHugePage = 14

// Heap marks the start of the heap for huge pages when the kernel's THP
// mode is madvise: size bytes (the soft memory limit), at most MaxSize. Call
// it once, early, before the heap has grown: a block carved from memory the
// heap already used would be zeroed, touching every page.
func Heap(size int64) (Result, error) {
	raw, err := os.ReadFile(enabledFile)
	if err != nil && !os.IsNotExist(err) {
		return Result{}, fmt.Errorf("read the transparent huge pages mode: %w", err)
	}
	r := Result{Mode: modeOf(string(raw))}
	n, why := decide(size, r.Mode, os.Getenv("GODEBUG"))
	if n == 0 {
		r.Skipped = why
		return r, nil
	}
	if _, err := advise(n); err != nil {
		return r, fmt.Errorf("mark %d MiB of heap for huge pages: %w", n>>20, err)
	}
	r.Advised = n
	return r, nil
}

// advise allocates an n-byte block (fresh from the OS, so not zeroed by
// the runtime and not touched), marks it MADV_HUGEPAGE and drops it. The
// block leaves the heap far over its goal, so the collector starts at the
// next allocation and frees it, and the allocations after reuse its pages
// (forcing that collection with runtime.GC measured slower: it blocks
// until every span is swept). It returns the block's address.
func advise(n int) (uintptr, error) {
	b := make([]byte, n)
	err := syscall.Madvise(b, madvHugePage)
	at := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	runtime.KeepAlive(b)
	return at, err
}
