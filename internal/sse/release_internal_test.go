package sse

import (
	"strings"
	"testing"
	"unsafe"
)

// An event's data never lies in the read buffer, before or after the
// buffer grows for a burst: Release gives that buffer to another Reader,
// and the last event's data must stay the relay's.
func TestEventDataIsNeverTheReadBuffer(t *testing.T) {
	var in strings.Builder
	for i := range 60 {
		in.WriteString("data: {\"i\":" + strings.Repeat("7", i%9+1) + "}\n\n")
	}
	r := NewReader(strings.NewReader(in.String()))
	overlaps := func(a, b []byte) bool {
		if len(a) == 0 || len(b) == 0 {
			return false
		}
		a0, b0 := uintptr(unsafe.Pointer(unsafe.SliceData(a))), uintptr(unsafe.Pointer(unsafe.SliceData(b)))
		return a0 < b0+uintptr(cap(b)) && b0 < a0+uintptr(cap(a))
	}
	grew := false
	for {
		ev, err := r.Next()
		if err != nil {
			break
		}
		grew = grew || len(r.buf) == burstSize
		if overlaps(ev.Data, r.buf) {
			t.Fatalf("event %q lies in the read buffer", ev.Data)
		}
	}
	if !grew {
		t.Error("the buffer never grew for a burst: the test did not test it")
	}
	r.Release()
	if _, err := r.Next(); err != errReleased {
		t.Errorf("Next after Release: %v, want errReleased", err)
	}
}
