package usage

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func count(t *testing.T, s *Store) int64 {
	t.Helper()
	rep, err := s.Report(context.Background(), Query{From: "2000-01-01", To: "2100-01-01"})
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := s.db.QueryRow(`SELECT COUNT(*) FROM requests`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != rep.Totals.Requests {
		t.Fatalf("%d request rows but the rollups count %d", n, rep.Totals.Requests)
	}
	return n
}

// outage makes the store unwritable the way a real one fails — its
// table is gone for a while (a migration or restore in progress) — and
// returns the function that ends it.
func outage(t *testing.T, s *Store) (end func()) {
	t.Helper()
	if _, err := s.db.Exec(`ALTER TABLE requests RENAME TO requests_away`); err != nil {
		t.Fatal(err)
	}
	return func() {
		if _, err := s.db.Exec(`ALTER TABLE requests_away RENAME TO requests`); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWriterBatchesConcurrentRecordsAndDrainsOnClose(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		w, err := NewWriter(s, WriterOptions{Prices: DefaultPrices(), FlushEvery: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 250 {
					w.Record(rec(time.Now(), "k", "openai", "gpt-4o-mini", 100+g, 0, i, 200))
				}
			})
		}
		wg.Wait()
		if err := w.Close(10 * time.Second); err != nil {
			t.Fatal(err)
		}
		if n := count(t, s); n != 2000 || w.Written() != 2000 || w.Dropped() != 0 {
			t.Fatalf("stored %d, written %d, dropped %d", n, w.Written(), w.Dropped())
		}
	})
}

func TestWriterKeepsRecordsThroughAnOutage(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		var logs bytes.Buffer
		var mu sync.Mutex
		w, err := NewWriter(s, WriterOptions{Prices: DefaultPrices(), FlushEvery: 10 * time.Millisecond,
			Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close(time.Second)
		end := outage(t, s)
		for i := range 300 {
			w.Record(rec(time.Now(), "k", "openai", "gpt-4o", 10, 0, i, 200))
		}
		waitFor(t, "a failed write", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return strings.Contains(logs.String(), "cannot write to the store")
		})
		if w.Pending() != 300 || w.Written() != 0 {
			t.Fatalf("pending %d written %d during the outage", w.Pending(), w.Written())
		}
		end()
		waitFor(t, "recovery", func() bool { return w.Written() == 300 })
		if n := count(t, s); n != 300 || w.Pending() != 0 {
			t.Fatalf("stored %d pending %d", n, w.Pending())
		}
		mu.Lock()
		defer mu.Unlock()
		if !strings.Contains(logs.String(), "writable again") {
			t.Errorf("no recovery message in %s", logs.String())
		}
	})
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestWriterSpoolsAtCloseAndReplaysOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		spool := filepath.Join(t.TempDir(), "spool", "usage-spool.jsonl")
		w, err := NewWriter(s, WriterOptions{Prices: DefaultPrices(), FlushEvery: 10 * time.Millisecond, SpoolPath: spool})
		if err != nil {
			t.Fatal(err)
		}
		end := outage(t, s)
		for i := range 50 {
			w.Record(rec(time.Now(), "k", "openai", "gpt-4o", 10, 0, i, 200))
		}
		if err := w.Close(300 * time.Millisecond); err != nil {
			t.Fatal(err)
		}
		saved, err := os.ReadFile(spool)
		if err != nil || bytes.Count(saved, []byte("\n")) != 50 {
			t.Fatalf("spool: %v, %d lines", err, bytes.Count(saved, []byte("\n")))
		}
		end()

		// The next start writes them, then removes the spool file.
		w, err = NewWriter(s, WriterOptions{FlushEvery: 10 * time.Millisecond, SpoolPath: spool})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the spooled records", func() bool { return w.Written() == 50 })
		waitFor(t, "the spool file to go", func() bool { _, err := os.Stat(spool); return os.IsNotExist(err) })
		if err := w.Close(time.Second); err != nil {
			t.Fatal(err)
		}
		// A crash between writing and removing the file replays it: the
		// ids are already stored, so nothing is counted twice.
		if err := os.WriteFile(spool, saved, 0o600); err != nil {
			t.Fatal(err)
		}
		w, err = NewWriter(s, WriterOptions{FlushEvery: 10 * time.Millisecond, SpoolPath: spool})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the replay", func() bool { return w.Pending() == 0 })
		if err := w.Close(time.Second); err != nil {
			t.Fatal(err)
		}
		if n := count(t, s); n != 50 || w.Written() != 0 {
			t.Fatalf("stored %d, replay wrote %d", n, w.Written())
		}
	})
}

func TestWriterBoundsWhatWaits(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "u.db"))
	w, err := NewWriter(s, WriterOptions{FlushEvery: 10 * time.Millisecond, MaxPending: 10})
	if err != nil {
		t.Fatal(err)
	}
	end := outage(t, s)
	for range 15 {
		w.Record(rec(time.Now(), "k", "openai", "gpt-4o", 10, 0, 1, 200))
	}
	if w.Pending() != 10 || w.Dropped() != 5 {
		t.Fatalf("pending %d dropped %d", w.Pending(), w.Dropped())
	}
	end()
	if err := w.Close(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s); n != 10 {
		t.Fatalf("stored %d", n)
	}
	w.Record(llmbridge.UsageRecord{}) // after Close: dropped, no panic
	if w.Dropped() != 6 {
		t.Fatalf("dropped %d", w.Dropped())
	}
}

func TestWriterPrunesPastRetention(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "u.db"))
	old := time.Now().AddDate(0, 0, -31)
	if _, err := s.Insert(context.Background(), rows(nil, rec(old, "k", "x", "y", 1, 0, 1, 200))); err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(s, WriterOptions{Retention: 30 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the prune at start", func() bool {
		var n int
		_ = s.db.QueryRow(`SELECT COUNT(*) FROM requests`).Scan(&n)
		return n == 0
	})
	if err := w.Close(time.Second); err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := s.db.QueryRow(`SELECT SUM(requests) FROM usage_daily`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("rollup %d %v", n, err)
	}
}

// TestWriterSavesWaitingRecordsDuringAnOutage: a crash while the store is
// down loses at most SpoolEvery of records, because the waiting ones are
// saved as they wait; when the store recovers the file goes.
func TestWriterSavesWaitingRecordsDuringAnOutage(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		spool := filepath.Join(t.TempDir(), "usage-spool.jsonl")
		w, err := NewWriter(s, WriterOptions{FlushEvery: 10 * time.Millisecond, SpoolPath: spool, SpoolEvery: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close(time.Second)
		lines := func() int {
			b, _ := os.ReadFile(spool)
			return bytes.Count(b, []byte("\n"))
		}
		end := outage(t, s)
		for i := range 30 {
			w.Record(rec(time.Now(), "k", "openai", "gpt-4o", 10, 0, i, 200))
		}
		waitFor(t, "30 records saved", func() bool { return lines() == 30 })
		for i := range 30 {
			w.Record(rec(time.Now(), "k", "openai", "gpt-4o", 10, 0, i, 200))
		}
		waitFor(t, "60 records saved", func() bool { return lines() == 60 })
		crashCopy, _ := os.ReadFile(spool) // what a crash now would leave
		end()
		waitFor(t, "recovery", func() bool { return w.Written() == 60 })
		waitFor(t, "the spool file to go", func() bool { _, err := os.Stat(spool); return os.IsNotExist(err) })

		// The restart after such a crash replays the file: nothing twice.
		os.WriteFile(spool, crashCopy, 0o600)
		w2, err := NewWriter(s, WriterOptions{FlushEvery: 10 * time.Millisecond, SpoolPath: spool})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the replay", func() bool { return w2.Pending() == 0 })
		if err := w2.Close(time.Second); err != nil {
			t.Fatal(err)
		}
		if n := count(t, s); n != 60 || w2.Written() != 0 {
			t.Fatalf("stored %d, replay wrote %d", n, w2.Written())
		}
	})
}

// TestSpoolKeepsCacheFields: a hit saved in the spool at Close comes
// back with what it saved; a line spooled before the cache columns
// existed reads as no cache.
func TestSpoolKeepsCacheFields(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.jsonl")
	hit := RowOf(hitRec(day1, "k", "openai", "gpt-4o-mini", 1000, 600, 200), DefaultPrices())
	if err := writeSpool(path, []Row{hit}); err != nil {
		t.Fatal(err)
	}
	got, err := readSpool(path)
	if err != nil || len(got) != 1 || got[0].Cache != "hit" || got[0].SavedUSD != 0.000225 || got[0].CostUSD == nil || *got[0].CostUSD != 0 {
		t.Fatalf("%+v %v", got, err)
	}
	old := decodeSpool(strings.NewReader(`{"id":"0190000000001234567890abcdef","model":"openai/gpt-4o","cost_usd":0.1}` + "\n"))
	if len(old) != 1 || old[0].Cache != "" || old[0].SavedUSD != 0 {
		t.Fatalf("%+v", old)
	}
}
