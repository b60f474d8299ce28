package keys

import (
	"testing"
	"time"
)

// TestDayMonthFollowsTheClock: the kept period names change at UTC
// midnight and at the month's turn, whatever the caller's time zone.
func TestDayMonthFollowsTheClock(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	for _, c := range []struct {
		at         time.Time
		day, month string
	}{
		{time.Date(2026, 1, 31, 23, 59, 59, 0, time.UTC), "2026-01-31", "2026-01"},
		{time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), "2026-02-01", "2026-02"},
		{time.Date(2026, 2, 1, 0, 30, 0, 0, paris), "2026-01-31", "2026-01"},
		{time.Date(2026, 2, 1, 0, 0, 1, 0, time.UTC), "2026-02-01", "2026-02"},
	} {
		if d, m := dayMonth(c.at); d != c.day || m != c.month {
			t.Errorf("dayMonth(%v) = %s %s, want %s %s", c.at, d, m, c.day, c.month)
		}
	}
}
