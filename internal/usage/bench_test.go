package usage

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/pgtest"
)

// benchInsert measures Store.Insert with batches of the writer's size
// (and, for comparison, of 256 rows, its size before): rows per second is
// what the writer can sustain. Each size gets a new store.
func benchInsert(b *testing.B, open func(testing.TB) *Store) {
	for _, batch := range []int{defaultBatchSize, 256} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) { benchInsertBatch(b, open(b), batch) })
	}
}

func benchInsertBatch(b *testing.B, s *Store, batch int) {
	p := DefaultPrices()
	start := time.Now()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer() // the rows are made outside the measure
		rs := make([]Row, batch)
		for j := range rs {
			r := rec(start.Add(time.Duration(i*batch+j)*time.Microsecond), fmt.Sprintf("key-%d", j%4), "openai", "gpt-4o-mini", 1000, 200, 100, 200)
			rs[j] = RowOf(r, p)
		}
		b.StartTimer()
		if _, err := s.Insert(context.Background(), rs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkInsertSQLite(b *testing.B) {
	benchInsert(b, func(tb testing.TB) *Store { return openStore(tb, filepath.Join(tb.TempDir(), "u.db")) })
}

func BenchmarkInsertPostgres(b *testing.B) {
	benchInsert(b, func(tb testing.TB) *Store { return openStore(tb, pgtest.URL(tb)) })
}

// BenchmarkRowOf is the request path's share of the usage store: Record
// prices the record (RowOf) and appends it to the queue under a mutex.
// The writer's share is BenchmarkInsert*.
func BenchmarkRowOf(b *testing.B) {
	p := DefaultPrices()
	r := llmbridge.UsageRecord{ID: llmbridge.NewRecordID(time.Now()), Time: time.Now(), RequestID: "req_1", KeyID: "key-1", Provider: "openai",
		Model: "openai/gpt-4o-mini", UpstreamModel: "gpt-4o-mini-2024-07-18", Status: 200, PromptTokens: 1000, CachedTokens: 200, CompletionTokens: 100}
	b.ReportAllocs()
	for b.Loop() {
		row := RowOf(r, p)
		if row.CostUSD == nil {
			b.Fatal("unpriced")
		}
	}
}
