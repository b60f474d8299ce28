package providertest_test

import (
	"testing"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/bedrock"
	"github.com/llmbridge/llmbridge/providertest"
)

// TestBuiltin runs the suite against every built-in provider, built with
// the root package's constructors as a user would. Each fake's baseURL is
// what the constructor's ProviderConfig.BaseURL means for that provider:
// the API root before /chat/completions (OpenAI, DeepSeek,
// OpenAICompatible), before /openai/chat/completions (GeminiOpenAICompat,
// which appends /openai itself), before /models/… (Gemini) and before
// /messages (Anthropic).
func TestBuiltin(t *testing.T) {
	for _, tt := range []struct {
		name string
		wire providertest.Wire
		new  func(llmbridge.ProviderConfig) llmbridge.Provider
	}{
		{"openai", providertest.WireOpenAI, llmbridge.OpenAI},
		{"deepseek", providertest.WireDeepSeek, llmbridge.DeepSeek},
		{"gemini-compat", providertest.WireGeminiCompat, llmbridge.GeminiOpenAICompat},
		{"gemini", providertest.WireGemini, llmbridge.Gemini},
		{"anthropic", providertest.WireAnthropic, llmbridge.Anthropic},
		{"bedrock", providertest.WireBedrock, func(c llmbridge.ProviderConfig) llmbridge.Provider {
			c.Region = "us-east-1" // not read from the machine's AWS configuration
			return bedrock.New(c)
		}},
		{"openai-compatible", providertest.WireOpenAI, func(c llmbridge.ProviderConfig) llmbridge.Provider {
			c.Name = "local" // required by OpenAICompatible
			return llmbridge.OpenAICompatible(c)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			providertest.Run(t, providertest.Harness{
				Wire: tt.wire,
				New: func(baseURL, key string) llmbridge.Provider {
					return tt.new(llmbridge.ProviderConfig{BaseURL: baseURL, APIKey: key})
				},
			})
		})
	}
}

func TestWireString(t *testing.T) {
	for w, want := range map[providertest.Wire]string{
		providertest.WireOpenAI: "openai", providertest.WireDeepSeek: "deepseek", providertest.WireGeminiCompat: "gemini-compat",
		providertest.WireGemini: "gemini", providertest.WireAnthropic: "anthropic", providertest.WireBedrock: "bedrock", providertest.WireAzure: "azure",
		providertest.WireVertex: "vertex", 0: "Wire(0)", 99: "Wire(99)",
	} {
		if got := w.String(); got != want {
			t.Errorf("Wire(%d).String() = %q, want %q", int(w), got, want)
		}
	}
}
