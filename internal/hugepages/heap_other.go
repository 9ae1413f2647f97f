//go:build !linux

package hugepages

// Heap does nothing outside Linux.
func Heap(size int64) (Result, error) {
	return Result{Skipped: "not Linux"}, nil
}
