package openai

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"strings"

	"github.com/llmbridge/llmbridge/internal/openai"
)

// Compat wraps a Provider for Gemini's OpenAI-compatibility endpoint, which
// deviates from OpenAI in known ways (shared/reference/wire-formats.md §2.7):
// streamed tool-call deltas carry no index, a stream that called tools
// finishes with "stop", tool calls may have empty ids, and errors may come as
// a JSON array. Compat repairs each, so it deliberately offers no raw
// pass-through: every chunk is decoded, fixed and re-encoded.
type Compat struct {
	p *Provider
}

// NewCompat returns a Compat for cfg.
func NewCompat(cfg Config) *Compat { return &Compat{p: New(cfg)} }

// Name returns the routing prefix.
func (c *Compat) Name() string { return c.p.Name() }

// Models returns the configured model names.
func (c *Compat) Models() []string { return c.p.Models() }

// APIKey returns the provider key (never logged).
func (c *Compat) APIKey() string { return c.p.APIKey() }

// Validate reports configuration errors.
func (c *Compat) Validate() error { return c.p.Validate() }

// NewRequest builds the upstream request.
func (c *Compat) NewRequest(ctx context.Context, req *openai.ChatRequest) (*http.Request, error) {
	return c.p.NewRequest(ctx, req)
}

// DecodeError decodes an error response (object or array form). An
// error in Google's shape ({"code":429,"status":"RESOURCE_EXHAUSTED"})
// gets OpenAI's type and code for its status (openai.TranslatedError):
// clients match on "rate_limit_exceeded", not on Google's names.
func (c *Compat) DecodeError(resp *http.Response) error {
	err := c.p.DecodeError(resp)
	e, ok := err.(*openai.APIError)
	if !ok || e.Type == "" || strings.ToUpper(e.Type) != e.Type {
		return err
	}
	return openai.TranslatedError(e.Status, e.Provider, e.Message, e.RetryAfter)
}

// DecodeResponse decodes a response, giving tool calls without an id one.
func (c *Compat) DecodeResponse(resp *http.Response) (*openai.ChatResponse, error) {
	out, err := c.p.DecodeResponse(resp)
	if err != nil {
		return nil, err
	}
	for i := range out.Choices {
		calls := out.Choices[i].Message.ToolCalls
		for j := range calls {
			if calls[j].ID == "" {
				calls[j].ID = fmt.Sprintf("call_%s_%d_%d", shortID(out.ID), i, j)
			}
		}
		if len(calls) > 0 && out.Choices[i].FinishReason == "stop" {
			out.Choices[i].FinishReason = "tool_calls"
		}
	}
	return out, nil
}

// DecodeStream yields the upstream chunks with tool-call indexes and ids
// filled in, finish_reason "tool_calls" when the choice called tools,
// in OpenAI's stream shape (openai.Shape).
func (c *Compat) DecodeStream(resp *http.Response) iter.Seq2[*openai.ChatChunk, error] {
	return func(yield func(*openai.ChatChunk, error) bool) {
		type state struct {
			calls int // tool calls seen so far in this choice
		}
		seen := map[int]*state{}
		for chunk, err := range c.p.DecodeStream(resp) {
			if err != nil {
				yield(nil, err)
				return
			}
			for i := range chunk.Choices {
				ch := &chunk.Choices[i]
				st := seen[ch.Index]
				if st == nil {
					st = &state{}
					seen[ch.Index] = st
				}
				for j := range ch.Delta.ToolCalls {
					tc := &ch.Delta.ToolCalls[j]
					if tc.Index == nil {
						// Gemini sends each call whole in one delta; number
						// them in arrival order.
						idx := st.calls
						tc.Index = &idx
					}
					if tc.ID == "" && tc.Function.Name != "" {
						tc.ID = fmt.Sprintf("call_%s_%d_%d", shortID(chunk.ID), ch.Index, *tc.Index)
					}
					if tc.Function.Name != "" || tc.ID != "" {
						st.calls = max(st.calls, *tc.Index+1)
					}
				}
				if ch.FinishReason != nil && *ch.FinishReason == "stop" && st.calls > 0 {
					reason := "tool_calls"
					ch.FinishReason = &reason
				}
			}
			if !openai.YieldShaped(chunk, yield) {
				return
			}
		}
	}
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	if id == "" {
		return "gemini"
	}
	return id
}
