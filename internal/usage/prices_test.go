package usage

import (
	"testing"

	"github.com/llmbridge/llmbridge"
)

// The expected costs below are worked by hand from the built-in prices
// (USD per million tokens) and the providers' usage conventions: cached
// and cache-write tokens are part of the prompt, reasoning tokens part of
// the completion.
func TestCostPerProvider(t *testing.T) {
	p := DefaultPrices()
	for _, tc := range []struct {
		name                                         string
		provider, model                              string
		prompt, cached, write, completion, reasoning int
		want                                         *float64
	}{
		// OpenAI gpt-4o-mini: 400 × 0.15 + 600 × 0.075 + 200 × 0.60 = 225 µ$.
		{"openai cached", "openai", "gpt-4o-mini", 1000, 600, 0, 200, 0, f(0.000225)},
		// A dated snapshot uses the undated price: 1M × 2.50.
		{"openai dated snapshot", "openai", "gpt-4o-2024-08-06", 1_000_000, 0, 0, 0, 0, f(2.5)},
		// An exact entry beats the undated one: the first gpt-4o snapshot.
		{"openai exact snapshot", "openai", "gpt-4o-2024-05-13", 1_000_000, 0, 0, 0, 0, f(5)},
		// o3-mini reasoning billed as output: 100 × 1.10 + 1000 × 4.40.
		{"openai reasoning", "openai", "o3-mini", 100, 0, 0, 1000, 800, f(0.00451)},
		// Not a version suffix: a different model, no price.
		{"openai other model", "openai", "gpt-4o-audio-preview", 10, 0, 0, 10, 0, nil},
		// Anthropic (input 20, cache write 5, cache read 100, output 10):
		// 20 × 3 + 100 × 0.30 + 5 × 3.75 + 10 × 15 = 258.75 µ$.
		{"anthropic cache read and write", "anthropic", "claude-sonnet-4-5-20250929", 125, 100, 5, 10, 0, f(0.00025875)},
		// Haiku 4.5 with thinking: 1000 × 1 + 500 × 5.
		{"anthropic thinking", "anthropic", "claude-haiku-4-5", 1000, 0, 0, 500, 300, f(0.0035)},
		// Gemini 2.5 Pro at 200k prompt tokens (not above): 200k × 1.25 + 1000 × 10.
		{"gemini short context", "gemini", "gemini-2.5-pro", 200_000, 0, 0, 1000, 600, f(0.26)},
		// Above 200k the whole request takes the long-context rates:
		// 200k × 2.50 + 100k × 0.25 + 1000 × 15.
		{"gemini long context", "gemini", "gemini-2.5-pro", 300_000, 100_000, 0, 1000, 0, f(0.54)},
		// Gemini 2.5 Flash cached: 900 × 0.30 + 100 × 0.03 + 50 × 2.50.
		{"gemini cached", "gemini", "gemini-2.5-flash", 1000, 100, 0, 50, 0, f(0.000398)},
		{"gemini experimental is unpriced", "gemini", "gemini-exp-1206", 10, 0, 0, 10, 0, nil},
		// DeepSeek reasoner (recorded usage from wire-formats.md §3):
		// 12 × 0.28 + 789 × 0.42 = 334.74 µ$.
		{"deepseek reasoner", "deepseek", "deepseek-reasoner", 12, 0, 0, 789, 415, f(0.00033474)},
		// DeepSeek cache hit: 4 × 0.28 + 16 × 0.028 + 2 × 0.42 = 2.408 µ$.
		{"deepseek cache hit", "deepseek", "deepseek-chat", 20, 16, 0, 2, 0, f(0.000002408)},
		// Bedrock, a us. profile of Sonnet 4.5 (input 20, cache write 5,
		// cache read 100, output 10): 20 × 3.30 + 100 × 0.33 + 5 × 4.125 + 10 × 16.50 = 284.625 µ$.
		{"bedrock cache read and write", "bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", 125, 100, 5, 10, 0, f(0.000284625)},
		// Nova Lite: 1000 × 0.06 + 100 × 0.24.
		{"bedrock nova", "bedrock", "amazon.nova-lite-v1:0", 1000, 0, 0, 100, 0, f(0.000084)},
		{"no tokens, priced", "openai", "gpt-4o", 0, 0, 0, 0, 0, f(0)},
		{"no tokens, unpriced", "", "", 0, 0, 0, 0, 0, nil},
		{"unknown provider", "myvendor", "gpt-4o-mini", 10, 0, 0, 10, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := llmbridge.UsageRecord{Provider: tc.provider, UpstreamModel: tc.model, PromptTokens: tc.prompt, CachedTokens: tc.cached,
				CacheWriteTokens: tc.write, CompletionTokens: tc.completion, ReasoningTokens: tc.reasoning}
			got := p.CostOf(&r)
			switch {
			case tc.want == nil && got != nil:
				t.Fatalf("cost %v, want null (no price)", *got)
			case tc.want != nil && got == nil:
				t.Fatalf("cost null, want %v", *tc.want)
			case tc.want != nil && *got != *tc.want:
				t.Fatalf("cost %v, want %v", *got, *tc.want)
			}
		})
	}
}

func TestCostOverridesAndReasoningPrice(t *testing.T) {
	p := DefaultPrices().Merge(Prices{
		"openai/gpt-4o-mini": {Input: 1, CachedInput: f(0.5), Output: 2},
		"vendor/thinker":     {Input: 1, Output: 2, Reasoning: f(3)},
	})
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	r := llmbridge.UsageRecord{Provider: "openai", UpstreamModel: "gpt-4o-mini", PromptTokens: 10, CachedTokens: 4, CompletionTokens: 1}
	if got := *p.CostOf(&r); got != 0.000010 { // 6 × 1 + 4 × 0.5 + 1 × 2
		t.Errorf("override: %v", got)
	}
	r = llmbridge.UsageRecord{Provider: "vendor", UpstreamModel: "thinker", CompletionTokens: 10, ReasoningTokens: 4}
	if got := *p.CostOf(&r); got != 0.000024 { // 6 × 2 + 4 × 3
		t.Errorf("reasoning price: %v", got)
	}
	// Counts a provider reports inconsistently never make a cost negative.
	r = llmbridge.UsageRecord{Provider: "openai", UpstreamModel: "gpt-4o-mini", PromptTokens: 5, CachedTokens: 50, CompletionTokens: 1, ReasoningTokens: 9}
	if got := *p.CostOf(&r); got != 0.0000045 { // 5 × 0.5 + 1 × 2
		t.Errorf("clamped: %v", got)
	}
}

func TestPricesValidate(t *testing.T) {
	for _, bad := range []Prices{
		{"gpt-4o": {Input: 1}},
		{"openai/x": {Input: -1}},
		{"openai/x": {Input: 1, CachedInput: f(-0.1)}},
		{"openai/x": {Input: 1, LongContext: &LongContextPrice{Above: 0}}},
	} {
		if bad.Validate() == nil {
			t.Errorf("%v: no error", bad)
		}
	}
	if err := DefaultPrices().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestTrimVersion(t *testing.T) {
	for in, want := range map[string]string{
		"openai/gpt-4o-mini-2024-07-18":        "openai/gpt-4o-mini",
		"anthropic/claude-sonnet-4-5-20250929": "anthropic/claude-sonnet-4-5",
		"gemini/gemini-2.0-flash-001":          "gemini/gemini-2.0-flash",
		"anthropic/claude-3-5-haiku-latest":    "anthropic/claude-3-5-haiku",
		"vertex/claude-sonnet-4-5@20250929":    "vertex/claude-sonnet-4-5",
		"openai/gpt-4o-audio-preview":          "",
		"openai/o1-mini-2024":                  "",
		"x/-20250929":                          "x/",
		"20250929":                             "",
	} {
		got, ok := trimVersion(in)
		if !ok {
			got = ""
		}
		if got != want {
			t.Errorf("%s: %q, want %q", in, got, want)
		}
	}
}

// Priced answers for a client's model name as given, before routing: the
// budgets of internal/keys refuse the names it says have no price.
func TestPriced(t *testing.T) {
	p := DefaultPrices().Merge(Prices{"ollama/llama3.2": {Input: 0}, "openrouter/meta-llama/llama-3-8b": {Input: 1}})
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"openai/gpt-4o", true},
		{"openai/gpt-4o-2024-08-06", true}, // the undated entry
		{"anthropic/claude-sonnet-4-5-latest", true},
		{"gpt-4o-mini", true},                      // bare, priced under openai
		{"claude-sonnet-4-5-20250929", true},       // bare and dated
		{"llama3.2", true},                         // bare, priced under a configured provider
		{"ollama/llama3.2", true},                  // free is a price
		{"meta-llama/llama-3-8b", true},            // a bare name with a slash
		{"openrouter/meta-llama/llama-3-8b", true}, // and with its provider
		{"openai/o1-pro", false},
		{"openai/gpt-4.5-preview", false},
		{"o3-pro", false},
		{"gemini/gemini-exp-1206", false},
		{"deepseek/gpt-4o", false}, // priced under another provider only
		{"smart", false},           // a route name
		{"openai/", false},
		{"", false},
	} {
		if got := p.Priced(tc.name); got != tc.want {
			t.Errorf("Priced(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}
