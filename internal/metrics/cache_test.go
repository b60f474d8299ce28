package metrics

import (
	"testing"

	"github.com/llmbridge/llmbridge"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCacheResultsAndSavedCost(t *testing.T) {
	m := New(Options{Cost: func(r llmbridge.UsageRecord) (float64, bool) {
		return float64(r.PromptTokens+r.CompletionTokens) / 1000, true
	}})
	hit := llmbridge.UsageRecord{Provider: "openai", UpstreamModel: "gpt-4o", Format: "chat", Status: 200, Cache: llmbridge.CacheHit,
		Saved: llmbridge.TokenCounts{Prompt: 1000, Completion: 500, Total: 1500}}
	m.End(hit)
	m.End(hit)
	m.End(llmbridge.UsageRecord{Provider: "openai", UpstreamModel: "gpt-4o", Format: "chat", Status: 200, Cache: llmbridge.CacheMiss, PromptTokens: 1000})
	m.End(llmbridge.UsageRecord{Provider: "openai", UpstreamModel: "gpt-4o", Format: "chat", Status: 200, Cache: llmbridge.CacheBypass})
	m.End(llmbridge.UsageRecord{Provider: "openai", UpstreamModel: "gpt-4o", Format: "chat", Status: 200}) // no cache
	for result, want := range map[string]float64{"hit": 2, "miss": 1, "bypass": 1} {
		if got := testutil.ToFloat64(m.cacheRequests.WithLabelValues(result)); got != want {
			t.Errorf("cache %s: %v, want %v", result, got, want)
		}
	}
	if got := testutil.ToFloat64(m.cacheSaved.WithLabelValues("openai", "gpt-4o")); got != 3 {
		t.Errorf("saved %v USD, want 3", got)
	}
	// The hits cost nothing: only the miss's 1000 tokens are priced.
	if got := testutil.ToFloat64(m.cost.WithLabelValues("openai", "gpt-4o")); got != 1 {
		t.Errorf("cost %v USD, want 1", got)
	}
}
