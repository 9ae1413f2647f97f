// Package hugepages asks Linux to back the first part of the Go heap with
// transparent huge pages (2 MiB instead of 4 KiB), for the one-shot
// commands that build a month and exit.
//
// Such a process touches every page of its heap for the first time, and
// each first touch is a page fault. On the 2-core virtual machines the
// mediator is measured on, a fault costs about 10 µs, so a 50 000-CHW
// preview whose heap peaks near 80 MB spent about a fifth of its CPU in
// some 18 000 faults. With huge pages a 2 MiB region faults once.
//
// Many Linux distributions (Ubuntu among them) ship THP in "madvise"
// mode: only memory a program marks with madvise(MADV_HUGEPAGE) gets huge
// pages, and the Go runtime marks none of its heap. Heap allocates one large block at the
// start of the heap, marks it and drops it; once collected, the runtime
// carves the build's objects out of that free space (its page allocator
// takes the lowest free addresses first). See the kernel's
// documentation of transparent huge pages:
// https://www.kernel.org/doc/html/latest/admin-guide/mm/transhuge.html
//
// The long-running server does not use it: its heap is reused from build to
// build, and in a marked region the kernel's khugepaged may fill the pages
// the runtime returned to the OS back in, so an idle server could hold more
// memory than it needs.
package hugepages

import (
	"strings"
)

// MaxSize is the most Heap marks: about the peak heap of a 200 000-CHW
// month under the mediator's default soft memory limit.
const MaxSize = 128 << 20

// minSize is the least worth marking: the kernel gives huge pages only to
// 2 MiB-aligned ranges wholly inside the marked block.
const minSize = 8 << 20

// Result says what Heap did.
type Result struct {
	// Mode is the kernel's THP mode (always, madvise or never), empty when
	// the kernel has no THP.
	Mode string
	// Advised is the number of heap bytes marked; 0 when none were.
	Advised int
	// Skipped says why none were, when Advised is 0.
	Skipped string
}

// decide returns the number of bytes to mark for a heap of up to size
// bytes, or 0 and the reason not to.
func decide(size int64, mode, godebug string) (int, string) {
	switch {
	case disablesTHP(godebug):
		return 0, "GODEBUG has disablethp=1"
	case mode == "":
		return 0, "the kernel has no transparent huge pages"
	case mode == "always":
		return 0, "the kernel already gives huge pages to the whole heap"
	case mode != "madvise":
		return 0, "transparent huge pages are " + mode
	case size < minSize:
		return 0, "the memory limit is too small"
	}
	return int(min(size, MaxSize)), ""
}

// modeOf returns the selected mode of the kernel's
// transparent_hugepage/enabled file ("always [madvise] never"), empty when
// none is selected.
func modeOf(enabled string) string {
	for f := range strings.FieldsSeq(enabled) {
		if len(f) > 2 && f[0] == '[' && f[len(f)-1] == ']' {
			return f[1 : len(f)-1]
		}
	}
	return ""
}

// disablesTHP reports whether godebug (the GODEBUG variable) sets
// disablethp=1, Go's own switch against huge pages for the heap; the last
// setting wins, as in the runtime.
func disablesTHP(godebug string) bool {
	off := false
	for kv := range strings.SplitSeq(godebug, ",") {
		if k, v, ok := strings.Cut(strings.TrimSpace(kv), "="); ok && k == "disablethp" {
			off = v == "1"
		}
	}
	return off
}
