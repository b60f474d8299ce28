package usage

import (
	"context"
	"math/rand/v2"
	"strconv"
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

// randomRow is a row whose columns that may be written as literals
// (zeroLiteral) are each at their zero when zero has them, else at zero
// or not at random; and whose provider, models, status and stream differ
// from row to row when vary has them (else they are the same in every
// row).
func randomRow(r *rand.Rand, at time.Time, zero, vary colMask) Row {
	one := func(col int, vs ...string) string {
		if vary&(1<<col) == 0 {
			return vs[0]
		}
		return vs[r.IntN(len(vs))]
	}
	pick := func(col int) bool { return zero&(1<<col) != 0 || r.IntN(2) == 0 } // true: leave at zero
	str := func(col int, v string) string {
		if pick(col) {
			return ""
		}
		return v
	}
	num := func(col int) int64 {
		if pick(col) {
			return 0
		}
		return 1 + r.Int64N(1e6)
	}
	flt := func(col int) float64 {
		if pick(col) {
			return 0
		}
		return float64(1+r.IntN(1e6)) / 1000
	}
	status, _ := strconv.Atoi(one(9, "200", "500", "429"))
	row := Row{ID: llmbridge.NewRecordID(at), Time: at, RequestID: str(3, "req_1"), KeyID: str(4, "vk_1"), Provider: one(5, "openai", "anthropic"),
		Model: one(6, "openai/m", "anthropic/c"), ClientModel: one(7, "m", "c", "fast"), Stream: one(8, "", "s") != "", Status: status,
		PromptTokens:     1 + r.Int64N(1e6),
		CompletionTokens: r.Int64N(1e6), CachedTokens: num(12), ReasoningTokens: num(13), CacheWriteTokens: num(14),
		Estimated: !pick(15), DurationMS: flt(16), TTFTMS: flt(17), Error: str(19, "boom"), Cache: str(20, llmbridge.CacheMiss),
		SavedUSD: flt(21), TeamID: str(22, "tm_1"), User: str(23, "ada")}
	if !pick(18) {
		c := flt(18)
		row.CostUSD = &c
	}
	return row
}

// However a batch's pieces leave columns at zero — every row of a piece
// (written as literals), some rows, none —, hold the same value in a
// column in every row (bound once) or not, span a midnight or not, and
// past the number of statements a store prepares (maxStmts), every row
// reads back as it was written.
func TestInsertRoundTripsColumnsAtZero(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		r := rand.New(rand.NewPCG(3, 4))
		at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
		var want []Row
		add := func(n int, zero colMask) []Row {
			rows := make([]Row, n)
			vary := colMask(r.Uint32())
			for i := range rows {
				at = at.Add(time.Millisecond)
				if vary&1 != 0 && i == n/2 { // past a midnight half way
					at = at.Add(24*time.Hour - time.Duration(at.UnixMilli()%86400000)*time.Millisecond)
				}
				rows[i] = randomRow(r, at, zero, vary)
			}
			want = append(want, rows...)
			return rows
		}
		// Batches cut in pieces of 64, 16, 4 and 1 rows, each piece with
		// its own columns at zero and its own that vary.
		for range 8 {
			var batch []Row
			for _, n := range []int{64, 16, 4, 1} {
				zero := colMask(r.Uint32())
				zero &= colMask(r.Uint32()) // a quarter of the columns
				batch = append(batch, add(n, zero)...)
			}
			if got, err := s.Insert(ctx, batch); err != nil || got != len(batch) {
				t.Fatalf("insert: %d %v", got, err)
			}
		}
		// A batch stored before, with three new rows: only they are new
		// (the statements that return the ids they stored, each shape).
		again := append(append([]Row(nil), want[:85]...), add(3, 0)...)
		if got, err := s.Insert(ctx, again); err != nil || got != 3 {
			t.Fatalf("insert again: %d new, %v", got, err)
		}
		// One-row batches with more shapes than the store prepares.
		for range maxStmts + 40 {
			if got, err := s.Insert(ctx, add(1, colMask(r.Uint32()))); err != nil || got != 1 {
				t.Fatalf("insert: %d %v", got, err)
			}
		}
		s.mu.Lock()
		prepared := len(s.stmts)
		s.mu.Unlock()
		if prepared > maxStmts+8 { // past maxStmts, only statements that bind every column
			t.Errorf("%d statements prepared, more than %d", prepared, maxStmts+8)
		}
		if rep, err := s.Report(ctx, Query{From: "2000-01-01", To: "2100-01-01"}); err != nil || rep.Totals.Requests != int64(len(want)) {
			t.Fatalf("daily totals: %+v %v, want %d requests", rep.Totals, err, len(want))
		}
		got, err := s.Requests(ctx, len(want)+10, "")
		if err != nil || len(got) != len(want) {
			t.Fatalf("requests: %d of %d, %v", len(got), len(want), err)
		}
		byID := map[string]Row{}
		for _, g := range got {
			byID[g.ID] = g
		}
		// The day column, which no Row holds: each row's own UTC date.
		q, err := s.db.QueryContext(ctx, `SELECT id, day FROM requests`)
		if err != nil {
			t.Fatal(err)
		}
		for q.Next() {
			var id, day string
			if err := q.Scan(&id, &day); err != nil {
				t.Fatal(err)
			}
			if want := byID[id].Time.UTC().Format(time.DateOnly); day != want {
				t.Fatalf("row %s stored on %s, want %s", id, day, want)
			}
		}
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			g, ok := byID[w.ID]
			if !ok {
				t.Fatalf("row %s not stored", w.ID)
			}
			if !g.Time.Equal(w.Time) || (g.CostUSD == nil) != (w.CostUSD == nil) || g.CostUSD != nil && *g.CostUSD != *w.CostUSD {
				t.Fatalf("row %s: time %v cost %v, want %v %v", w.ID, g.Time, g.CostUSD, w.Time, w.CostUSD)
			}
			g.Time, w.Time, g.CostUSD, w.CostUSD = time.Time{}, time.Time{}, nil, nil
			if g != w {
				t.Fatalf("row read back as\n%+v\nwant\n%+v", g, w)
			}
		}
	})
}
