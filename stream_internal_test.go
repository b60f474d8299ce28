package llmbridge

import (
	"errors"
	"runtime"
	"testing"
)

// onOwnStack hands back f's error, its panic, and its ending its
// goroutine as a panic, never a wait without end.
func TestOnOwnStack(t *testing.T) {
	want := errors.New("e")
	if err := onOwnStack(func() error { return want }); err != want {
		t.Fatalf("error %v", err)
	}
	for _, c := range []struct {
		f    func() error
		want any
	}{
		{func() error { panic("boom") }, "boom"},
		{func() error { runtime.Goexit(); return nil }, errGoexit},
	} {
		func() {
			defer func() {
				if p := recover(); p != c.want {
					t.Errorf("recovered %v, want %v", p, c.want)
				}
			}()
			_ = onOwnStack(c.f)
			t.Errorf("no panic, want %v", c.want)
		}()
	}
}
