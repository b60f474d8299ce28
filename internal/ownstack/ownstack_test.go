package ownstack

import (
	"errors"
	"runtime"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Run hands back f's error, its panic, and its ending its goroutine as a
// panic, never a wait without end.
func TestRun(t *testing.T) {
	want := errors.New("e")
	if err := Run(func() error { return want }); err != want {
		t.Fatalf("error %v", err)
	}
	for _, c := range []struct {
		f    func() error
		want any
	}{
		{func() error { panic("boom") }, "boom"},
		{func() error { runtime.Goexit(); return nil }, ErrGoexit},
	} {
		func() {
			defer func() {
				if p := recover(); p != c.want {
					t.Errorf("recovered %v, want %v", p, c.want)
				}
			}()
			_ = Run(c.f)
			t.Errorf("no panic, want %v", c.want)
		}()
	}
}
