package usage

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
)

// benchInsert measures Store.Insert with batches of the writer's size:
// rows per second is what the writer can sustain.
func benchInsert(b *testing.B, s *Store) {
	const batch = 256
	p := DefaultPrices()
	start := time.Now()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rs := make([]Row, batch)
		for j := range rs {
			r := rec(start.Add(time.Duration(i*batch+j)*time.Microsecond), fmt.Sprintf("key-%d", j%4), "openai", "gpt-4o-mini", 1000, 200, 100, 200)
			rs[j] = RowOf(r, p)
		}
		if _, err := s.Insert(context.Background(), rs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkInsertSQLite(b *testing.B) {
	s := openStore(b, filepath.Join(b.TempDir(), "u.db"))
	benchInsert(b, s)
}

var _ = llmbridge.UsageRecord{}
