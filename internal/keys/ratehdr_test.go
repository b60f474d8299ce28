package keys

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestAppendResetIsString holds appendReset to what it replaced,
// time.Duration's String of the duration rounded to the millisecond, on
// the edges of every unit and on random durations up to a few days.
func TestAppendResetIsString(t *testing.T) {
	want := func(d time.Duration) string {
		if d <= 0 {
			return "0s"
		}
		return d.Round(time.Millisecond).String()
	}
	ds := []time.Duration{-time.Second, 0, 1, 499 * time.Microsecond, 500 * time.Microsecond, time.Millisecond, 999 * time.Millisecond,
		999500 * time.Microsecond, time.Second, 1001 * time.Millisecond, 1010 * time.Millisecond, 1100 * time.Millisecond,
		59999 * time.Millisecond, time.Minute, 6 * time.Minute, time.Hour, time.Hour + time.Millisecond, 25*time.Hour + 61*time.Second}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		ds = append(ds, time.Duration(r.Int64N(int64(72*time.Hour))), time.Duration(r.Int64N(int64(2*time.Second))))
	}
	for _, d := range ds {
		if got := string(appendReset(nil, d)); got != want(d) {
			t.Fatalf("appendReset(%d) = %q, want %q", d, got, want(d))
		}
	}
}
