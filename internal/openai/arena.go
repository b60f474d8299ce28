package openai

import "unsafe"

// Arena hands out copies of byte strings carved from larger blocks, so
// that a stream decoder or encoder allocates once per many events rather
// than once per event. Nothing handed out is ever written again: a copy
// stays valid, and keeps its block alive, for as long as anything refers
// to it, so what a stream yields may be kept (a recorded stream keeps
// every chunk). Blocks start small and double up to a bound, so a short
// stream holds little. The zero value is ready; an Arena is not safe for
// concurrent use.
type Arena struct {
	buf  []byte
	size int // the size of the next block
}

const (
	arenaFirst = 512
	arenaMax   = 4 << 10
)

// Bytes returns a copy of b with room for nothing after it: appending to
// it copies.
func (a *Arena) Bytes(b []byte) []byte {
	p := a.Alloc(len(b))
	copy(p, b)
	return p
}

// String returns a copy of b as a string.
func (a *Arena) String(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	p := a.Bytes(b)
	return unsafe.String(unsafe.SliceData(p), len(p))
}

// Alloc returns n fresh bytes (zero), capped at n.
func (a *Arena) Alloc(n int) []byte {
	if cap(a.buf)-len(a.buf) < n {
		if n > arenaMax/4 {
			return make([]byte, n) // a large one of its own: no block wasted
		}
		a.size = max(a.size, arenaFirst)
		for a.size < 4*n {
			a.size *= 2 // room for a few of this size
		}
		a.buf = make([]byte, 0, a.size)
		a.size = min(2*a.size, arenaMax)
	}
	s := len(a.buf)
	a.buf = a.buf[:s+n]
	return a.buf[s : s+n : s+n]
}

// Slab hands out new T values allocated a few at a time: the chunks of a
// stream, one per event. Like an Arena it never reuses what it handed
// out; a value keeps its batch alive. Batches start at 2 values and
// double up to 8. The zero value is ready; a Slab is not safe for
// concurrent use.
type Slab[T any] struct {
	free []T
	size int
}

// New returns a pointer to a zero T.
func (s *Slab[T]) New() *T {
	if len(s.free) == 0 {
		s.size = min(max(2*s.size, 2), 8)
		s.free = make([]T, s.size)
	}
	p := &s.free[0]
	s.free = s.free[1:]
	return p
}
