//go:build linux

package hugepages

import (
	"bufio"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// vmFlags returns the VmFlags of the mapping of /proc/self/smaps that
// holds addr.
func vmFlags(t *testing.T, addr uintptr) []string {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no smaps: %v", err)
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if from, to, ok := mappingRange(line); ok {
			in = from <= addr && addr < to
			continue
		}
		if rest, ok := strings.CutPrefix(line, "VmFlags:"); ok && in {
			return strings.Fields(rest)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	t.Fatalf("no mapping holds %#x", addr)
	return nil
}

// mappingRange parses the range of a mapping's first smaps line
// ("c000000000-c000400000 rw-p …").
func mappingRange(line string) (from, to uintptr, ok bool) {
	r, _, _ := strings.Cut(line, " ")
	a, b, ok := strings.Cut(r, "-")
	if !ok {
		return 0, 0, false
	}
	x, err1 := strconv.ParseUint(a, 16, 64)
	y, err2 := strconv.ParseUint(b, 16, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return uintptr(x), uintptr(y), true
}

func TestAdvise_marksTheBlock(t *testing.T) {
	const n = 16 << 20
	at, err := advise(n)
	if errors.Is(err, syscall.EINVAL) {
		t.Skip("this kernel has no transparent huge pages")
	}
	if err != nil {
		t.Fatal(err)
	}
	// The kernel keeps the mark on the heap's mapping after the block is
	// freed: "hg" is MADV_HUGEPAGE in smaps.
	for _, addr := range []uintptr{at, at + n/2, at + n - 1} {
		flags := vmFlags(t, addr)
		found := false
		for _, f := range flags {
			found = found || f == "hg"
		}
		if !found {
			t.Errorf("mapping of %#x not marked for huge pages: VmFlags %v", addr, flags)
		}
	}
}

func TestHeap_skipsWithReason(t *testing.T) {
	t.Setenv("GODEBUG", "disablethp=1")
	r, err := Heap(100 << 20)
	if err != nil {
		t.Fatal(err)
	}
	if r.Advised != 0 || r.Skipped == "" {
		t.Errorf("Heap with GODEBUG=disablethp=1 = %+v, want nothing marked and a reason", r)
	}
}
