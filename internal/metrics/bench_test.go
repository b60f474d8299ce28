package metrics

import (
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/usage"
)

// BenchmarkObserveRequest is what the metrics cost one streamed request:
// Start, FirstByte and End with a priced, answered record.
func BenchmarkObserveRequest(b *testing.B) {
	prices := usage.DefaultPrices()
	m := New(Options{Cost: func(r llmbridge.UsageRecord) (float64, bool) {
		pr, ok := prices.Lookup(r.Provider, r.UpstreamModel)
		return pr.Cost(&r), ok
	}})
	rec := llmbridge.UsageRecord{Provider: "openai", Model: "openai/gpt-4o", UpstreamModel: "gpt-4o", Format: "chat", Stream: true,
		Status: 200, PromptTokens: 900, CompletionTokens: 200, TotalTokens: 1100, CachedTokens: 512,
		Duration: 2 * time.Second, TTFT: 300 * time.Millisecond, KeyID: "key-12345678"}
	b.ReportAllocs()
	for b.Loop() {
		m.Start(rec)
		m.FirstByte(rec)
		m.End(rec)
	}
}

// BenchmarkObserveRequestKeyLabels adds the per-key series.
func BenchmarkObserveRequestKeyLabels(b *testing.B) {
	m := New(Options{KeyLabels: true})
	rec := llmbridge.UsageRecord{Provider: "openai", UpstreamModel: "gpt-4o", Format: "chat", Stream: true,
		Status: 200, PromptTokens: 900, CompletionTokens: 200, Duration: 2 * time.Second, TTFT: 300 * time.Millisecond, KeyID: "key-12345678"}
	b.ReportAllocs()
	for b.Loop() {
		m.Start(rec)
		m.FirstByte(rec)
		m.End(rec)
	}
}
