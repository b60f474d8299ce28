package gemini

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/llmbridge/llmbridge/internal/openai"
)

const maxBody = 64 << 20

// Wire types of a response (always camelCase).
type (
	response struct {
		Candidates     []candidate `json:"candidates"`
		PromptFeedback *struct {
			BlockReason string `json:"blockReason"`
		} `json:"promptFeedback"`
		UsageMetadata *usageMetadata `json:"usageMetadata"`
		ModelVersion  string         `json:"modelVersion"`
		ResponseID    string         `json:"responseId"`
	}
	candidate struct {
		Content      content `json:"content"`
		FinishReason string  `json:"finishReason"`
		Index        int     `json:"index"`
	}
	usageMetadata struct {
		PromptTokenCount        int `json:"promptTokenCount"`
		CandidatesTokenCount    int `json:"candidatesTokenCount"`
		ThoughtsTokenCount      int `json:"thoughtsTokenCount"`
		ToolUsePromptTokenCount int `json:"toolUsePromptTokenCount"`
		CachedContentTokenCount int `json:"cachedContentTokenCount"`
		TotalTokenCount         int `json:"totalTokenCount"`
	}
)

// usage maps Gemini's counts to OpenAI's: thoughts are part of completion
// tokens (and reported as reasoning tokens), tool-use prompt tokens part of
// the prompt, cached content tokens are cached prompt tokens.
func (u *usageMetadata) usage() *openai.Usage {
	prompt := u.PromptTokenCount + u.ToolUsePromptTokenCount
	completion := u.CandidatesTokenCount + u.ThoughtsTokenCount
	total := u.TotalTokenCount
	if total < prompt+completion {
		total = prompt + completion
	}
	return &openai.Usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: total,
		PromptTokensDetails:     &openai.PromptTokensDetails{CachedTokens: u.CachedContentTokenCount},
		CompletionTokensDetails: &openai.CompletionTokensDetails{ReasoningTokens: u.ThoughtsTokenCount}}
}

// finishReason maps Gemini's finish reason; a choice that called tools
// finishes with "tool_calls" (Gemini says STOP).
func finishReason(r string, calledTools bool) string {
	switch r {
	case "":
		return ""
	case "STOP":
		if calledTools {
			return "tool_calls"
		}
		return "stop"
	case "MAX_TOKENS":
		return "length"
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "LANGUAGE", "OTHER",
		"IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_OTHER", "IMAGE_RECITATION", "NO_IMAGE":
		return "content_filter"
	}
	if calledTools {
		return "tool_calls"
	}
	return "stop"
}

// callID mints an OpenAI tool-call id for a Gemini function call, carrying
// its thought signature.
func callID(fc *functionCall, sig string) string {
	id := fc.ID
	if id == "" {
		var b [9]byte
		_, _ = rand.Read(b[:])
		id = "call_g" + hex.EncodeToString(b[:])
	}
	if sig != "" {
		id += signatureSep + sig
	}
	return id
}

// readJSON reads a response body, bounded.
func readJSON(resp *http.Response, v any) error {
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return err
	}
	if len(body) > maxBody {
		return errors.New("upstream response too large")
	}
	return json.Unmarshal(bytes.TrimSpace(body), v)
}

func blocked(reason string) *openai.APIError {
	return &openai.APIError{Status: http.StatusBadRequest, Type: openai.TypeInvalidRequest, Code: "content_filter",
		Message: "Gemini blocked the prompt: " + reason}
}

// DecodeResponse translates a generateContent response and closes the body.
func (p *Provider) DecodeResponse(resp *http.Response) (*openai.ChatResponse, error) {
	defer resp.Body.Close()
	var r response
	if err := readJSON(resp, &r); err != nil {
		return nil, fmt.Errorf("decoding Gemini response: %w", err)
	}
	if len(r.Candidates) == 0 && r.PromptFeedback != nil && r.PromptFeedback.BlockReason != "" {
		return nil, blocked(r.PromptFeedback.BlockReason)
	}
	id := "chatcmpl-" + r.ResponseID
	if r.ResponseID == "" {
		id = mintID()
	}
	out := &openai.ChatResponse{ID: id, Object: "chat.completion", Created: time.Now().Unix(), Model: r.ModelVersion, Choices: []openai.Choice{}}
	for _, c := range r.Candidates {
		msg := openai.Message{Role: "assistant"}
		var text, thoughts strings.Builder
		for _, pt := range c.Content.Parts {
			switch {
			case pt.FunctionCall != nil:
				msg.ToolCalls = append(msg.ToolCalls, openai.ToolCall{ID: callID(pt.FunctionCall, pt.ThoughtSignature), Type: "function",
					Function: openai.FunctionCall{Name: pt.FunctionCall.Name, Arguments: args(pt.FunctionCall.Args)}})
			case pt.Thought:
				thoughts.WriteString(pt.Text)
			default:
				text.WriteString(pt.Text)
			}
		}
		msg.Content = openai.TextContent(text.String())
		if len(msg.ToolCalls) > 0 && text.Len() == 0 {
			msg.Content = openai.NullContent()
		}
		msg.ReasoningContent = thoughts.String()
		out.Choices = append(out.Choices, openai.Choice{Index: c.Index, Message: msg, FinishReason: finishReason(c.FinishReason, len(msg.ToolCalls) > 0)})
	}
	if r.UsageMetadata != nil {
		out.Usage = r.UsageMetadata.usage()
	}
	return out, nil
}

func args(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "{}"
	}
	return string(raw)
}

// statusFor maps google.rpc status names to HTTP statuses.
var statusFor = map[string]int{
	"INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 400, "OUT_OF_RANGE": 400, "UNAUTHENTICATED": 401,
	"PERMISSION_DENIED": 403, "NOT_FOUND": 404, "RESOURCE_EXHAUSTED": 429, "CANCELLED": 499,
	"INTERNAL": 500, "UNKNOWN": 500, "NOT_IMPLEMENTED": 501, "UNAVAILABLE": 503, "DEADLINE_EXCEEDED": 504,
}

// DecodeError translates {"error":{"code","message","status","details"}}
// (or its array form) into an OpenAI *openai.APIError with the matching
// status and OpenAI's type and code for it (openai.TranslatedError); an
// invalid key (400 API_KEY_INVALID) becomes 401 invalid_api_key.
func (p *Provider) DecodeError(resp *http.Response) error {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '[' {
		var arr []json.RawMessage
		if json.Unmarshal(body, &arr) == nil && len(arr) > 0 {
			body = arr[0]
		}
	}
	var g struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Status  string `json:"status"`
			Details []struct {
				Reason string `json:"reason"`
			} `json:"details"`
		} `json:"error"`
	}
	e := &openai.APIError{Status: resp.StatusCode, Provider: p.Name(), RetryAfter: resp.Header.Get("Retry-After")}
	if json.Unmarshal(body, &g) == nil && g.Error.Message != "" {
		e.Message = g.Error.Message
		if s, ok := statusFor[g.Error.Status]; ok {
			e.Status = s
		}
		for _, d := range g.Error.Details {
			if d.Reason == "API_KEY_INVALID" {
				e.Status = http.StatusUnauthorized
			}
		}
	} else {
		text := string(body)
		if len(text) > 200 {
			text = text[:200] + "…"
		}
		e.Message = fmt.Sprintf("upstream %s returned HTTP %d: %s", p.Name(), resp.StatusCode, text)
	}
	// OpenAI's type and code for the status, not Gemini's status name.
	return openai.TranslatedError(e.Status, p.Name(), p.Redact(e.Message), e.RetryAfter)
}
