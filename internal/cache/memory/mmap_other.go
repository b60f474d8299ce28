//go:build !unix

package memory

// mapRing allocates the rings in the Go heap where there is no mmap: a
// byte slice, which the collector does not scan.
func mapRing(n int) ([]byte, error) { return make([]byte, n), nil }

// unmapRing leaves b to the collector.
func unmapRing([]byte) error { return nil }
