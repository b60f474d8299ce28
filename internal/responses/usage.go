package responses

import (
	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/tidwall/gjson"
)

// UsageOf reads a Response's usage object into the canonical
// Usage.
func UsageOf(u gjson.Result) *openai.Usage {
	f := gjson.GetMany(u.Raw, "input_tokens", "output_tokens", "total_tokens", "input_tokens_details.cached_tokens", "output_tokens_details.reasoning_tokens")
	out := &openai.Usage{PromptTokens: int(f[0].Int()), CompletionTokens: int(f[1].Int()), TotalTokens: int(f[2].Int())}
	if !f[2].Exists() {
		out.TotalTokens = out.PromptTokens + out.CompletionTokens
	}
	if f[3].Exists() {
		out.PromptTokensDetails = &openai.PromptTokensDetails{CachedTokens: int(f[3].Int())}
	}
	if f[4].Exists() {
		out.CompletionTokensDetails = &openai.CompletionTokensDetails{ReasoningTokens: int(f[4].Int())}
	}
	return out
}

// AppendOutputText appends the generated text of a Response's output
// items (message text, refusals, reasoning summaries, function names and
// arguments), for counting when the upstream reported no usage.
func AppendOutputText(dst []byte, output gjson.Result) []byte {
	output.ForEach(func(_, it gjson.Result) bool {
		dst = append(dst, it.Get("name").Str...)
		dst = append(dst, it.Get("arguments").Str...)
		for _, list := range []string{"content", "summary"} {
			it.Get(list).ForEach(func(_, p gjson.Result) bool {
				dst = append(dst, p.Get("text").Str...)
				dst = append(dst, p.Get("refusal").Str...)
				return true
			})
		}
		return true
	})
	return dst
}
