//go:build !unix || race

package memory

// mapRing allocates the rings in the Go heap where there is no mmap, and
// under the race detector, which sees only the heap's memory: a byte
// slice, which the collector does not scan.
func mapRing(n int) ([]byte, error) { return make([]byte, n), nil }

// unmapRing leaves b to the collector.
func unmapRing([]byte) error { return nil }

// releaseRing does nothing: the heap's pages are the runtime's to
// return.
func releaseRing([]byte) {}
