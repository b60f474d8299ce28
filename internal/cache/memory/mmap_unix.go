//go:build unix && !race

package memory

import (
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mapRing maps n bytes of anonymous memory for the rings. It is outside
// the Go heap, so the collector neither scans it nor counts it in its
// goal, and the kernel backs a page only once it is written.
func mapRing(n int) ([]byte, error) {
	return syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
}

// unmapRing releases what mapRing mapped.
func unmapRing(b []byte) error { return syscall.Munmap(b) }

// releaseRing gives the pages wholly inside b back to the kernel
// (MADV_DONTNEED): an emptied ring's memory leaves the process's RSS and
// reads as zeros when it is written again.
func releaseRing(b []byte) {
	page := uintptr(os.Getpagesize())
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	from := (start + page - 1) &^ (page - 1)
	to := (start + uintptr(len(b))) &^ (page - 1)
	if to > from {
		_ = unix.Madvise(b[from-start:to-start], unix.MADV_DONTNEED)
	}
}
