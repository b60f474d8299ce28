package llmbridge

import "github.com/llmbridge/llmbridge/internal/openai"

// Usage is token usage as OpenAI reports it. Upstream usage is
// authoritative and reaches the client unchanged.
type Usage = openai.Usage

// PromptTokensDetails breaks prompt tokens down (cached_tokens, …).
type PromptTokensDetails = openai.PromptTokensDetails

// CompletionTokensDetails breaks completion tokens down (reasoning_tokens, …).
type CompletionTokensDetails = openai.CompletionTokensDetails
