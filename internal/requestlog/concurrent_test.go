//go:build unix

package requestlog

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge/internal/cpubench"
)

// BenchmarkConcurrent is what the request log costs a request at 10,000
// requests a second (cpubench): Record from 50 concurrent requests, and
// the writer goroutine. The log's cost is logged's cpu-µs/op less
// unlogged's.
func BenchmarkConcurrent(b *testing.B) {
	r := record(1)
	b.Run("logged", func(b *testing.B) {
		w, err := Open(Options{Path: filepath.Join(b.TempDir(), "r.log")})
		if err != nil {
			b.Fatal(err)
		}
		cpubench.Requests(b, 5*time.Millisecond, func() {}, func() { w.Record(r) })
		w.Close()
		if w.Dropped() > 0 {
			b.Fatalf("dropped %d", w.Dropped())
		}
	})
	b.Run("unlogged", func(b *testing.B) { cpubench.Requests(b, 5*time.Millisecond, func() {}, func() {}) })
}
