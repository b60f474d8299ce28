package models

import (
	"fmt"
	"slices"
)

// The vendors' families: the names their upstreams serve today and will
// serve tomorrow. Each call returns a new slice.

// OpenAIPatterns are OpenAI's model names.
func OpenAIPatterns() []string {
	return []string{"gpt-*", "o1*", "o3*", "o4*", "chatgpt-*", "codex-*", "text-embedding-*"}
}

// AnthropicPatterns are Anthropic's model names.
func AnthropicPatterns() []string { return []string{"claude-*"} }

// GeminiPatterns are the Gemini API's model names.
func GeminiPatterns() []string { return []string{"gemini-*", "gemma-*"} }

// DeepSeekPatterns are DeepSeek's model names.
func DeepSeekPatterns() []string { return []string{"deepseek-*"} }

// BedrockPatterns are AWS Bedrock's model IDs: "{vendor}.{model}"
// foundation models, "{geography}.{vendor}.{model}" inference profiles
// and ARNs. Dots set them apart from the vendors' own names
// ("anthropic.claude-…", not "claude-…").
func BedrockPatterns() []string {
	return []string{"anthropic.*", "amazon.*", "meta.*", "mistral.*", "cohere.*", "ai21.*", "deepseek.*", "openai.*",
		"qwen.*", "writer.*", "us.*", "eu.*", "apac.*", "jp.*", "au.*", "global.*", "arn:aws:bedrock:*"}
}

// VertexPatterns are Vertex AI's names of its own: partner models with
// a version ("claude-sonnet-4-5@20250929"). Gemini names on Vertex are
// the Gemini API's; a Vertex provider serves those it lists.
func VertexPatterns() []string { return []string{"claude-*@*"} }

// Families holds the patterns each provider declares, by the provider's
// index (the order providers were added). The zero value matches nothing.
// It is immutable and safe for concurrent use.
type Families struct {
	owners [][]string
}

// NewFamilies checks every pattern of every provider (patterns[i] are
// provider i's; names[i] names it in errors) and returns the families
// with the errors of the patterns it dropped.
func NewFamilies(names []string, patterns [][]string) (Families, []error) {
	var errs []error
	f := Families{owners: make([][]string, len(patterns))}
	for i, ps := range patterns {
		for _, p := range ps {
			if err := CheckPattern(p); err != nil {
				errs = append(errs, fmt.Errorf("provider %s: %w", names[i], err))
				continue
			}
			f.owners[i] = append(f.owners[i], p)
		}
	}
	return f, errs
}

// Match returns the providers whose family claims name, in provider
// order: of those with a matching pattern, the ones whose best match is
// the most specific (the most characters other than "*"). One provider
// is an answer; several are a tie the caller reports (naming them); none
// means no family claims the name. A name longer than MaxNameLen matches
// nothing.
func (f Families) Match(name string) []int {
	if len(name) > MaxNameLen {
		return nil
	}
	var out []int
	best := -1
	for i, ps := range f.owners {
		score := -1
		for _, p := range ps {
			if l := literals(p); l > score && Match(p, name) {
				score = l
			}
		}
		switch {
		case score < 0 || score < best:
		case score > best:
			best, out = score, append(out[:0], i)
		default:
			out = append(out, i)
		}
	}
	return out
}

// Patterns returns provider i's patterns.
func (f Families) Patterns(i int) []string {
	if i < 0 || i >= len(f.owners) {
		return nil
	}
	return slices.Clone(f.owners[i])
}
