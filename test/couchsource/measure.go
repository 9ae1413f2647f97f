package couchsource

import (
	"bufio"
	"bytes"
	"os"
	"runtime/metrics"
	"strconv"
	"sync"
	"time"
)

// HeapSampler records the peak of the Go heap (live and not yet swept
// objects, runtime/metrics /memory/classes/heap/objects:bytes) and of all
// memory the Go runtime has mapped (/memory/classes/total:bytes minus
// released pages), sampled every millisecond, for benchmarks.
type HeapSampler struct {
	stop chan struct{}
	done sync.WaitGroup

	mu             sync.Mutex
	heap, runtimeB uint64
}

// StartHeapSampler starts sampling.
func StartHeapSampler() *HeapSampler {
	s := &HeapSampler{stop: make(chan struct{})}
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
	}
	read := func() {
		metrics.Read(samples)
		h := samples[0].Value.Uint64()
		r := samples[1].Value.Uint64() - samples[2].Value.Uint64()
		s.mu.Lock()
		s.heap, s.runtimeB = max(s.heap, h), max(s.runtimeB, r)
		s.mu.Unlock()
	}
	read()
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				read()
				return
			case <-t.C:
				read()
			}
		}
	}()
	return s
}

// Stop ends sampling and returns the peak heap and the peak memory mapped
// by the runtime, in bytes.
func (s *HeapSampler) Stop() (heap, runtimeBytes uint64) {
	close(s.stop)
	s.done.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.heap, s.runtimeB
}

// ResetPeakRSS resets the kernel's peak resident set size of this process
// (VmHWM) to the current RSS, so that PeakRSS measures what follows. It
// reports false where that is not possible (not Linux, no permission).
func ResetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// PeakRSS returns the process's peak resident set size (VmHWM in
// /proc/self/status) in bytes; 0 when unknown.
func PeakRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmHWM:")); ok {
			f := bytes.Fields(rest)
			if len(f) == 2 && string(f[1]) == "kB" {
				n, _ := strconv.ParseUint(string(f[0]), 10, 64)
				return n << 10
			}
		}
	}
	return 0
}
