package main

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestSetDefaultMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	tests := []struct {
		name string
		env  map[string]string
		set  int64 // the limit before the call
		want int64
	}{
		{"unset: the default", map[string]string{}, math.MaxInt64, defaultMemoryLimit},
		{"set: left as the runtime applied it", map[string]string{"GOMEMLIMIT": "1GiB"}, 1 << 30, 1 << 30},
		{"off: left off", map[string]string{"GOMEMLIMIT": "off"}, math.MaxInt64, math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			debug.SetMemoryLimit(tt.set)
			setDefaultMemoryLimit(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if got := debug.SetMemoryLimit(-1); got != tt.want {
				t.Errorf("memory limit = %d; want %d", got, tt.want)
			}
		})
	}
}

func TestSetDefaultGCPercent(t *testing.T) {
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })
	tests := []struct {
		name string
		env  map[string]string
		set  int // the GC percent before the call
		want int
	}{
		{"unset: the default", map[string]string{}, 100, defaultGCPercent},
		{"set: left as the runtime applied it", map[string]string{"GOGC": "50"}, 50, 50},
		{"off: left off", map[string]string{"GOGC": "off"}, -1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			debug.SetGCPercent(tt.set)
			setDefaultGCPercent(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if got := debug.SetGCPercent(tt.set); got != tt.want {
				t.Errorf("GC percent = %d; want %d", got, tt.want)
			}
		})
	}
}
