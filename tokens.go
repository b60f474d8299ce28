package llmbridge

import (
	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/tokens"
)

// Usage is token usage as OpenAI reports it. Upstream usage is
// authoritative and reaches the client unchanged.
type Usage = openai.Usage

// PromptTokensDetails breaks prompt tokens down (cached_tokens, …).
type PromptTokensDetails = openai.PromptTokensDetails

// CompletionTokensDetails breaks completion tokens down (reasoning_tokens, …).
type CompletionTokensDetails = openai.CompletionTokensDetails

// TokenCounter counts OpenAI tokens offline with tiktoken (o200k_base and
// cl100k_base are embedded in the binary; nothing is downloaded). Encodings
// load on first use, once. It is safe for concurrent use; share one across
// Bridges (WithTokenCounter) so a reloaded Bridge does not load them again.
type TokenCounter struct {
	c *tokens.Counter
}

// NewTokenCounter returns a TokenCounter that has loaded nothing yet.
func NewTokenCounter() *TokenCounter { return &TokenCounter{c: tokens.NewCounter()} }

// CountText returns the tokens of text under model's encoding (o200k_base
// for models OpenAI does not name, as an estimate). Its cost is bounded:
// beyond the first 32 kB text is estimated at 4 bytes a token, and runs of
// more than 256 bytes without a space are counted in pieces.
func (t *TokenCounter) CountText(model, text string) int { return t.c.Text(model, text) }

// CountPrompt returns the prompt tokens of req as OpenAI counts them
// (per-message overhead, names, tool definitions, images by tile). exact is
// false when an image's size had to be assumed or the prompt's text went
// beyond CountText's bounds (32 kB in all, runs of 256 bytes without a
// space); for models that are not OpenAI's every count is an estimate.
func (t *TokenCounter) CountPrompt(model string, req *ChatRequest) (n int, exact bool) {
	return t.c.Prompt(model, req)
}

// Loaded reports whether any encoding has been loaded.
func (t *TokenCounter) Loaded() bool { return t.c.Loaded() }

// EstimatePromptTokens counts req's prompt for the model the default
// resolution routes it to, before any call (for rate limits and budgets).
func (b *Bridge) EstimatePromptTokens(req *ChatRequest) (int, error) {
	if aerr := checkChat(req); aerr != nil {
		return 0, aerr
	}
	_, upModel, aerr := b.resolve(req.Model)
	if aerr != nil {
		return 0, aerr
	}
	n, _ := b.tokens.CountPrompt(upModel, req)
	return n, nil
}
