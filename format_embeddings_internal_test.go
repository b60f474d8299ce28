package llmbridge

import (
	"runtime"
	"strings"
	"testing"
)

// An embeddings request of token ids (millions of values) is checked
// without a tape (checkObject with no reader: openai.CheckJSON), where a
// tape would take 16 bytes a value, or refuse it past a million values.
func TestEmbeddingsEnvelopeLargeBodyNeedsNoTape(t *testing.T) {
	body := []byte(`{"model":"m","input":[[` + strings.Repeat("1,", 2<<20) + `1]]}`)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	env := embeddingsEnvelope(body)
	runtime.ReadMemStats(&after)
	if env.bad != nil || env.model != "m" {
		t.Fatalf("envelope %q, %v", env.model, env.bad)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("checking a %d-byte body allocated %d bytes", len(body), grew)
	}
}
