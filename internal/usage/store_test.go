package usage

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/pgtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	code := pgtest.Main(m)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// eachStore runs f against a fresh SQLite file and a fresh PostgreSQL
// schema: the two must behave the same.
func eachStore(t *testing.T, f func(t *testing.T, s *Store)) {
	t.Run("sqlite", func(t *testing.T) {
		f(t, openStore(t, filepath.Join(t.TempDir(), "data", "usage.db")))
	})
	t.Run("postgres", func(t *testing.T) {
		f(t, openStore(t, pgtest.URL(t)))
	})
}

func openStore(t testing.TB, dsn string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var day1 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// rec builds a record; provider "" means not routed.
func rec(at time.Time, key, provider, model string, prompt, cached, completion int, status int) llmbridge.UsageRecord {
	return llmbridge.UsageRecord{ID: llmbridge.NewRecordID(at), Time: at, RequestID: "req_x", KeyID: key, Provider: provider,
		Model: provider + "/" + model, UpstreamModel: model, Status: status, PromptTokens: prompt, CachedTokens: cached,
		CompletionTokens: completion, TotalTokens: prompt + completion, Duration: 120 * time.Millisecond}
}

func rows(prices Prices, recs ...llmbridge.UsageRecord) []Row {
	out := make([]Row, len(recs))
	for i, r := range recs {
		out[i] = RowOf(r, prices)
	}
	return out
}

func TestStoreInsertIsIdempotentAndRollsUp(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		p := DefaultPrices()
		batch := rows(p,
			rec(day1, "key-a", "openai", "gpt-4o-mini", 1000, 600, 200, 200),                 // 225 µ$
			rec(day1.Add(time.Hour), "key-a", "openai", "gpt-4o-mini", 1000, 0, 0, 200),      // 150 µ$
			rec(day1.Add(2*time.Hour), "key-b", "gemini", "gemini-exp-1206", 10, 0, 5, 200),  // unpriced
			rec(day1.Add(3*time.Hour), "key-b", "openai", "gpt-4o-mini", 0, 0, 0, 429),       // error, 0 $
			rec(day1.AddDate(0, 0, 1), "key-a", "deepseek", "deepseek-chat", 20, 16, 2, 200), // next day
		)
		batch = append(batch, batch[0]) // the same record twice in one batch
		n, err := s.Insert(ctx, batch)
		if err != nil || n != 5 {
			t.Fatalf("insert: %d %v", n, err)
		}
		// A retried batch (say the commit reply was lost) counts nothing twice.
		if n, err := s.Insert(ctx, batch); err != nil || n != 0 {
			t.Fatalf("second insert: %d %v", n, err)
		}
		// A batch of stored rows and a new one (a spool replayed after a
		// crash) stores and counts only the new one (its year is outside
		// the reports below).
		late := rows(p, rec(day1.AddDate(1, 0, 0), "key-a", "openai", "gpt-4o-mini", 1, 0, 1, 200))
		if n, err := s.Insert(ctx, append(batch[:2:2], late...)); err != nil || n != 1 {
			t.Fatalf("insert of two stored rows and a new one: %d %v", n, err)
		}
		if rep, err := s.Report(ctx, Query{From: "2027-11-23", To: "2027-11-23"}); err != nil || rep.Totals.Requests != 1 {
			t.Fatalf("the new row's day: %+v %v", rep.Totals, err)
		}
		rep, err := s.Report(ctx, Query{From: "2026-11-23", To: "2026-11-24", GroupBy: []string{"day", "model"}})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{
			`[2026-11-23 gemini/gemini-exp-1206] req=1 err=0 prompt=10 completion=5 cached=0 cost=<nil> unpriced=1`,
			`[2026-11-23 openai/gpt-4o-mini] req=3 err=1 prompt=2000 completion=200 cached=600 cost=0.000375 unpriced=0`,
			`[2026-11-24 deepseek/deepseek-chat] req=1 err=0 prompt=20 completion=2 cached=16 cost=2.408e-06 unpriced=0`,
		}
		if got := summarize(rep.Rows); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("rows\n got %q\nwant %q", got, want)
		}
		if tot := summarize([]ReportRow{rep.Totals}); tot[0] != `[] req=5 err=1 prompt=2030 completion=207 cached=616 cost=0.000377408 unpriced=1` {
			t.Fatalf("totals %s", tot[0])
		}
		// Date range and other groupings read the same rollups.
		rep, err = s.Report(ctx, Query{From: "2026-11-24", To: "2026-11-24", GroupBy: []string{"key", "provider"}})
		if err != nil || len(rep.Rows) != 1 || fmt.Sprint(rep.Rows[0].Group) != "[key-a deepseek]" {
			t.Fatalf("%+v %v", rep, err)
		}
		rep, err = s.Report(ctx, Query{From: "2020-01-01", To: "2020-01-02"})
		if err != nil || len(rep.Rows) != 0 || rep.Totals.Requests != 0 {
			t.Fatalf("empty range: %+v %v", rep, err)
		}
		rep, err = s.Report(ctx, Query{From: "2026-01-01", To: "2026-12-31"}) // no grouping: one row
		if err != nil || len(rep.Rows) != 1 || rep.Rows[0].Requests != 5 {
			t.Fatalf("ungrouped: %+v %v", rep, err)
		}
	})
}

func summarize(rs []ReportRow) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		var cost any = "<nil>"
		if c := r.Cost(); c != nil {
			cost = *c
		}
		out[i] = fmt.Sprintf("%v req=%d err=%d prompt=%d completion=%d cached=%d cost=%v unpriced=%d",
			r.Group, r.Requests, r.Errors, r.PromptTokens, r.CompletionTokens, r.CachedTokens, cost, r.Unpriced)
	}
	return out
}

func TestStoreManyRowsAndPaging(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		var recs []llmbridge.UsageRecord
		for i := range 1001 { // more than several statements' worth
			r := rec(day1.Add(time.Duration(i)*time.Second), fmt.Sprintf("key-%d", i%3), "openai", "gpt-4o", 10, 0, 1, 200)
			r.Stream, r.Estimated, r.TTFT, r.Error = i%2 == 0, i%5 == 0, 5*time.Millisecond, ""
			recs = append(recs, r)
		}
		if n, err := s.Insert(ctx, rows(DefaultPrices(), recs...)); err != nil || n != 1001 {
			t.Fatalf("%d %v", n, err)
		}
		var seen []string
		before := ""
		for {
			page, err := s.Requests(ctx, 300, before)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range page {
				seen = append(seen, r.ID)
			}
			if len(page) < 300 {
				break
			}
			before = page[len(page)-1].ID
		}
		if len(seen) != 1001 {
			t.Fatalf("paged %d rows", len(seen))
		}
		for i := range seen {
			if want := recs[1000-i].ID; seen[i] != want {
				t.Fatalf("row %d: %s, want %s (newest first)", i, seen[i], want)
			}
		}
		page, _ := s.Requests(ctx, 1, "")
		r := page[0]
		if r.Model != "openai/gpt-4o" || r.ClientModel != "openai/gpt-4o" || !r.Stream || !r.Estimated || r.TTFTMS != 5 || r.DurationMS != 120 ||
			r.CostUSD == nil || *r.CostUSD != 0.000035 || !r.Time.Equal(recs[1000].Time) || r.KeyID != "key-1" {
			t.Fatalf("row %+v", r)
		}
	})
}

func TestStorePruneKeepsRollups(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		old, recent := day1.AddDate(0, 0, -40), day1
		if _, err := s.Insert(ctx, rows(DefaultPrices(),
			rec(old, "k", "openai", "gpt-4o", 1, 0, 1, 200), rec(old.Add(time.Minute), "k", "openai", "gpt-4o", 1, 0, 1, 200),
			rec(recent, "k", "openai", "gpt-4o", 1, 0, 1, 200))); err != nil {
			t.Fatal(err)
		}
		n, err := s.Prune(ctx, day1.AddDate(0, 0, -30))
		if err != nil || n != 2 {
			t.Fatalf("pruned %d %v", n, err)
		}
		left, _ := s.Requests(ctx, 10, "")
		if len(left) != 1 {
			t.Fatalf("%d rows left", len(left))
		}
		rep, err := s.Report(ctx, Query{From: "2026-01-01", To: "2026-12-31"})
		if err != nil || rep.Totals.Requests != 3 {
			t.Fatalf("rollups after prune: %+v %v", rep.Totals, err)
		}
	})
}

func TestStoreReopenKeepsDataAndMigratesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "u.db")
	s := openStore(t, path)
	if _, err := s.Insert(context.Background(), rows(nil, rec(day1, "k", "x", "y", 1, 0, 1, 200))); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openStore(t, path)
	got, err := s.Requests(context.Background(), 5, "")
	if err != nil || len(got) != 1 || got[0].CostUSD != nil {
		t.Fatalf("%+v %v", got, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("database file mode %v %v", fi.Mode(), err)
	}
	db, _ := sql.Open("sqlite", path)
	defer db.Close()
	var n, distinct int
	files, _ := migrations.ReadDir("migrations")
	if err := db.QueryRow(`SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations`).Scan(&n, &distinct); err != nil || n != len(files) || distinct != n {
		t.Fatalf("%d migrations applied (%d distinct) for %d files %v", n, distinct, len(files), err)
	}
	var mode string
	if err := s.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal mode %q %v", mode, err)
	}
}

func TestQueryValidate(t *testing.T) {
	for _, q := range []Query{
		{From: "2026-13-01", To: "2026-12-01"},
		{From: "2026-12-02", To: "2026-12-01"},
		{From: "2026-12-01", To: "2026-12-01", GroupBy: []string{"model; DROP TABLE requests"}},
		{From: "2026-12-01", To: "2026-12-01", GroupBy: []string{"day", "day"}},
	} {
		if q.Validate() == nil {
			t.Errorf("%+v: no error", q)
		}
	}
}

// TestStoreSharedByInstances has two stores (two bridge instances) write
// their own records to one database at once, in batches whose rollup rows
// overlap and arrive in opposite orders: rollups exact, and no deadlock
// between their upserts of the same rollup rows.
func TestStoreSharedByInstances(t *testing.T) {
	run := func(t *testing.T, dsn string) {
		a, b := openStore(t, dsn), openStore(t, dsn)
		var all []Row
		for i := range 2000 {
			r := rec(day1.Add(time.Duration(i)*time.Second), fmt.Sprintf("key-%d", i%5), "openai", fmt.Sprintf("m%d", i%3), 10, 0, 1, 200)
			all = append(all, RowOf(r, nil))
		}
		errc := make(chan error, 2)
		for w, s := range []*Store{a, b} {
			var mine []Row // each instance has its own records
			for i := w; i < len(all); i += 2 {
				mine = append(mine, all[i])
			}
			go func() {
				for start := 0; start < len(mine); start += 100 + 37*w {
					end := min(start+100+37*w, len(mine))
					part := append([]Row(nil), mine[start:end]...)
					if w == 1 {
						for i, j := 0, len(part)-1; i < j; i, j = i+1, j-1 {
							part[i], part[j] = part[j], part[i]
						}
					}
					if _, err := s.Insert(context.Background(), part); err != nil {
						errc <- err
						return
					}
				}
				errc <- nil
			}()
		}
		for range 2 {
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
		}
		if n := count(t, a); n != 2000 {
			t.Fatalf("%d rows", n)
		}
	}
	t.Run("sqlite", func(t *testing.T) { run(t, filepath.Join(t.TempDir(), "u.db")) })
	t.Run("postgres", func(t *testing.T) { run(t, pgtest.URL(t)) })
}

func TestStoreErrorsNeverShowThePassword(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Open(ctx, "postgres://bridge:canary-db-password@127.0.0.1:1/usage?sslmode=disable")
	if err == nil || strings.Contains(err.Error(), "canary-db-password") {
		t.Fatalf("error %v", err)
	}
}

// hitRec is a cache hit of a request like rec's: no tokens spent (the
// record's counts are zero), the cached answer's counts in Saved.
func hitRec(at time.Time, key, provider, model string, prompt, cached, completion int) llmbridge.UsageRecord {
	r := rec(at, key, provider, model, 0, 0, 0, 200)
	r.Cache = llmbridge.CacheHit
	r.Saved = llmbridge.TokenCounts{Prompt: prompt, Cached: cached, Completion: completion, Total: prompt + completion}
	return r
}

func TestRowOfPricesWhatAHitSaved(t *testing.T) {
	p := DefaultPrices()
	// gpt-4o-mini: 400 × 0.15 + 600 × 0.075 + 200 × 0.60 = 225 µ$.
	hit := RowOf(hitRec(day1, "k", "openai", "gpt-4o-mini", 1000, 600, 200), p)
	if hit.Cache != "hit" || hit.CostUSD == nil || *hit.CostUSD != 0 || hit.SavedUSD != 0.000225 || hit.PromptTokens != 0 {
		t.Errorf("hit row %+v (cost %v)", hit, hit.CostUSD)
	}
	// Saved counts on a record that is not a hit save nothing.
	miss := rec(day1, "k", "openai", "gpt-4o-mini", 1000, 600, 200, 200)
	miss.Cache, miss.Saved = llmbridge.CacheMiss, llmbridge.TokenCounts{Prompt: 1000, Completion: 200, Total: 1200}
	if r := RowOf(miss, p); r.Cache != "miss" || r.SavedUSD != 0 || r.CostUSD == nil || *r.CostUSD != 0.000225 {
		t.Errorf("miss row %+v", r)
	}
	// A hit of a model without a price: counted, nothing known saved.
	if r := RowOf(hitRec(day1, "k", "gemini", "gemini-exp-1206", 10, 0, 5), p); r.Cache != "hit" || r.SavedUSD != 0 || r.CostUSD != nil {
		t.Errorf("unpriced hit %+v", r)
	}
	if r := RowOf(rec(day1, "k", "openai", "gpt-4o-mini", 1, 0, 1, 200), p); r.Cache != "" || r.SavedUSD != 0 {
		t.Errorf("no cache: %+v", r)
	}
}

// TestStoreCacheHitsAndSavedCost stores a hit, a miss and a bypass of
// one priced model and an unpriced hit, and reads back the request rows
// and the report: the hit costs 0 and saved the price of its counts.
func TestStoreCacheHitsAndSavedCost(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		p := DefaultPrices()
		miss := rec(day1, "key-a", "openai", "gpt-4o-mini", 1000, 600, 200, 200) // 225 µ$
		miss.Cache = llmbridge.CacheMiss
		hit := hitRec(day1.Add(time.Minute), "key-a", "openai", "gpt-4o-mini", 1000, 600, 200)    // saves 225 µ$
		bypass := rec(day1.Add(2*time.Minute), "key-b", "openai", "gpt-4o-mini", 1000, 0, 0, 200) // 150 µ$
		bypass.Cache = llmbridge.CacheBypass
		unpriced := hitRec(day1.Add(3*time.Minute), "key-b", "gemini", "gemini-exp-1206", 10, 0, 5)
		if n, err := s.Insert(ctx, rows(p, miss, hit, bypass, unpriced)); err != nil || n != 4 {
			t.Fatalf("insert: %d %v", n, err)
		}
		got, err := s.Requests(ctx, 10, "")
		if err != nil || len(got) != 4 {
			t.Fatalf("%d rows %v", len(got), err)
		}
		byID := map[string]Row{}
		for _, r := range got {
			byID[r.ID] = r
		}
		if r := byID[hit.ID]; r.Cache != "hit" || r.CostUSD == nil || *r.CostUSD != 0 || r.SavedUSD != 0.000225 || r.PromptTokens != 0 || r.CompletionTokens != 0 {
			t.Errorf("hit read back as %+v (cost %v)", r, r.CostUSD)
		}
		if r := byID[miss.ID]; r.Cache != "miss" || r.CostUSD == nil || *r.CostUSD != 0.000225 || r.SavedUSD != 0 {
			t.Errorf("miss read back as %+v", r)
		}
		if r := byID[bypass.ID]; r.Cache != "bypass" || r.SavedUSD != 0 {
			t.Errorf("bypass read back as %+v", r)
		}
		if r := byID[unpriced.ID]; r.Cache != "hit" || r.CostUSD != nil || r.SavedUSD != 0 {
			t.Errorf("unpriced hit read back as %+v", r)
		}

		rep, err := s.Report(ctx, Query{From: "2026-11-23", To: "2026-11-23", GroupBy: []string{"model", "key"}})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{
			"[gemini/gemini-exp-1206 key-b] req=1 hits=1 cost=<nil> saved=0",
			"[openai/gpt-4o-mini key-a] req=2 hits=1 cost=0.000225 saved=0.000225",
			"[openai/gpt-4o-mini key-b] req=1 hits=0 cost=0.00015 saved=0",
		}
		if got := cacheSummary(rep.Rows); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("rows\n got %q\nwant %q", got, want)
		}
		if got := cacheSummary([]ReportRow{rep.Totals})[0]; got != "[] req=4 hits=2 cost=0.000375 saved=0.000225" {
			t.Fatalf("totals %s", got)
		}
		// The rollups add up across batches (the upsert path).
		if _, err := s.Insert(ctx, rows(p, hitRec(day1.Add(time.Hour), "key-a", "openai", "gpt-4o-mini", 1000, 0, 0))); err != nil {
			t.Fatal(err)
		}
		rep, err = s.Report(ctx, Query{From: "2026-11-23", To: "2026-11-23"})
		if err != nil || len(rep.Rows) != 1 || rep.Totals.CacheHits != 3 || rep.Totals.SavedUSD != 0.000375 || *rep.Totals.Cost() != 0.000375 {
			t.Fatalf("after a second batch: %+v %v", rep.Totals, err)
		}
	})
}

func cacheSummary(rs []ReportRow) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		var cost any = "<nil>"
		if c := r.Cost(); c != nil {
			cost = *c
		}
		out[i] = fmt.Sprintf("%v req=%d hits=%d cost=%v saved=%v", r.Group, r.Requests, r.CacheHits, cost, r.SavedUSD)
	}
	return out
}

// TestStoreMigratesVersion2 builds a database as the bridge left it
// before the cache columns (migrations 1 and 2 applied, requests and
// rollups in the old shape), opens it: it migrates to 3, the old rows
// read as no cache and nothing saved, and new hits add up beside them.
func TestStoreMigratesVersion2(t *testing.T) {
	run := func(t *testing.T, driver, dsn string) {
		ctx := context.Background()
		db, err := sql.Open(driver, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, `CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		for v, f := range []string{"migrations/0001_init.sql", "migrations/0002_virtual_keys.sql"} {
			body, err := migrations.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, string(body)); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)`, v+1); err != nil {
				t.Fatal(err)
			}
		}
		// One request as version 2 wrote it (the column list of then).
		old := RowOf(rec(day1, "key-a", "openai", "gpt-4o-mini", 1000, 600, 200, 200), DefaultPrices())
		if _, err := db.ExecContext(ctx, `INSERT INTO requests (id, ts, day, request_id, key_id, provider, model, client_model, stream, status,
prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, cache_write_tokens, estimated, duration_ms, ttft_ms, cost_usd, error)
VALUES ($1, $2, '2026-11-23', 'req_old', 'key-a', 'openai', 'openai/gpt-4o-mini', 'openai/gpt-4o-mini', 0, 200, 1000, 200, 600, 0, 0, 0, 120, 0, 0.000225, '')`,
			old.ID, day1.UnixMilli()); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO usage_daily (day, key_id, provider, model, requests, errors, prompt_tokens, completion_tokens,
cached_tokens, reasoning_tokens, cache_write_tokens, cost_usd, unpriced) VALUES ('2026-11-23', 'key-a', 'openai', 'openai/gpt-4o-mini', 1, 0, 1000, 200, 600, 0, 0, 0.000225, 0)`); err != nil {
			t.Fatal(err)
		}
		s := openStore(t, dsn)
		var version int64
		if err := s.db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&version); err != nil || version != latestMigration(t) {
			t.Fatalf("schema version %d %v", version, err)
		}
		got, err := s.Requests(ctx, 10, "")
		if err != nil || len(got) != 1 {
			t.Fatalf("%+v %v", got, err)
		}
		if r := got[0]; r.ID != old.ID || r.Cache != "" || r.SavedUSD != 0 || r.CostUSD == nil || *r.CostUSD != 0.000225 || r.PromptTokens != 1000 {
			t.Fatalf("old row read back as %+v", r)
		}
		q := Query{From: "2026-11-23", To: "2026-11-23", GroupBy: []string{"model"}}
		rep, err := s.Report(ctx, q)
		if err != nil || len(rep.Rows) != 1 || rep.Totals.Requests != 1 || rep.Totals.CacheHits != 0 || rep.Totals.SavedUSD != 0 {
			t.Fatalf("old rollup: %+v %v", rep, err)
		}
		// A hit on the migrated database adds to the old rollup row.
		if _, err := s.Insert(ctx, rows(DefaultPrices(), hitRec(day1.Add(time.Minute), "key-a", "openai", "gpt-4o-mini", 1000, 600, 200))); err != nil {
			t.Fatal(err)
		}
		rep, err = s.Report(ctx, q)
		if err != nil || len(rep.Rows) != 1 || fmt.Sprint(cacheSummary(rep.Rows)) != "[[openai/gpt-4o-mini] req=2 hits=1 cost=0.000225 saved=0.000225]" {
			t.Fatalf("after a hit: %v %v", cacheSummary(rep.Rows), err)
		}
	}
	t.Run("sqlite", func(t *testing.T) {
		run(t, "sqlite", filepath.Join(t.TempDir(), "v2.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		run(t, "pgx", pgtest.URL(t))
	})
}

// latestMigration is the highest version among the embedded migrations
// (the numbers need not be consecutive).
func latestMigration(t *testing.T) int64 {
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	var top int64
	for _, f := range files {
		num, _, _ := strings.Cut(filepath.Base(f), "_")
		v, _ := strconv.ParseInt(num, 10, 64)
		top = max(top, v)
	}
	return top
}
