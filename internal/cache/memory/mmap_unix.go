//go:build unix && !race

package memory

import "syscall"

// mapRing maps n bytes of anonymous memory for the rings. It is outside
// the Go heap, so the collector neither scans it nor counts it in its
// goal, and the kernel backs a page only once it is written.
func mapRing(n int) ([]byte, error) {
	return syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
}

// unmapRing releases what mapRing mapped.
func unmapRing(b []byte) error { return syscall.Munmap(b) }
