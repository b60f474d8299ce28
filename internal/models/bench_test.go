package models

import (
	"strings"
	"testing"
)

// BenchmarkFamiliesMatch is the family lookup a bare name no list names
// costs on the request path: the built-in vendors' patterns and a
// YAML provider's.
func BenchmarkFamiliesMatch(b *testing.B) {
	f, _ := NewFamilies([]string{"openai", "anthropic", "gemini", "deepseek", "vllm"},
		[][]string{OpenAIPatterns(), AnthropicPatterns(), GeminiPatterns(), DeepSeekPatterns(), {"llama-*", "gpt-oss-*"}})
	for _, name := range []string{"claude-opus-5-5", "gpt-oss-120b", "mistral-large-2512", strings.Repeat("a*", 128)} {
		b.Run(name[:min(len(name), 20)], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				f.Match(name)
			}
		})
	}
}
