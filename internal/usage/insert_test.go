package usage

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
)

// days.of remembers the last date; it must give Format's answer for any
// instant, in any zone, across midnights and back.
func TestDaysOfMatchesFormat(t *testing.T) {
	east := time.FixedZone("east", 5*3600+1800)
	midnight := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	times := []time.Time{
		midnight.Add(-time.Millisecond), midnight, midnight.Add(-time.Nanosecond), midnight.Add(time.Nanosecond),
		midnight.In(east), midnight.Add(-time.Millisecond).In(east), midnight.AddDate(0, 0, 1).Add(-time.Microsecond),
		midnight.AddDate(0, 0, 1), midnight, time.Date(1969, 12, 31, 23, 59, 59, 999_999_999, time.UTC), time.Unix(0, 0),
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		times = append(times, midnight.Add(time.Duration(r.Int64N(int64(72*time.Hour))-int64(36*time.Hour))).In(east))
	}
	var d days
	for _, at := range times {
		if got, want := d.of(at), at.UTC().Format(time.DateOnly); got != want {
			t.Fatalf("days.of(%v) = %s, want %s", at, got, want)
		}
	}
}

// The columns bound as NULL when empty (emptyAsNull) are stored and read
// back as empty strings, and as themselves when set.
func TestEmptyColumnsStoredEmpty(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
		empty := RowOf(llmbridge.UsageRecord{ID: llmbridge.NewRecordID(at), Time: at, Provider: "openai", Model: "openai/m", UpstreamModel: "m", Status: 200}, nil)
		full := RowOf(llmbridge.UsageRecord{ID: llmbridge.NewRecordID(at.Add(time.Second)), Time: at.Add(time.Second), RequestID: "req_1", KeyID: "vk_1",
			Provider: "openai", Model: "openai/m", UpstreamModel: "m", Status: 500, Error: "boom", Cache: llmbridge.CacheMiss}, nil)
		full.TeamID, full.User = "tm_1", "ada"
		if n, err := s.Insert(ctx, []Row{empty, full}); err != nil || n != 2 {
			t.Fatalf("insert: %d %v", n, err)
		}
		got, err := s.Requests(ctx, 10, "")
		if err != nil || len(got) != 2 {
			t.Fatalf("requests: %v %v", got, err)
		}
		for _, r := range got {
			want := empty
			if r.ID == full.ID {
				want = full
			}
			if r.RequestID != want.RequestID || r.KeyID != want.KeyID || r.Error != want.Error || r.Cache != want.Cache ||
				r.TeamID != want.TeamID || r.User != want.User {
				t.Errorf("row %s read back as %+v, want %+v", r.ID, r, want)
			}
		}
	})
}
