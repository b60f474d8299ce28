package testupstream

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Anthropic is the Messages API: POST /v1/messages with x-api-key and
// anthropic-version, max_tokens required, roles that must alternate, named
// SSE events (message_start … message_stop, ping, no [DONE]) and errors as
// {"type":"error","error":{"type","message"}}; POST /v1/messages/count_tokens
// answers {"input_tokens": len(body)/4}. Like the real API it
// rejects, with thinking on, a tool-result turn whose assistant turn lost
// its thinking block.
const Anthropic Flavor = 4

var anthropicErrType = map[int]string{400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found_error", 429: "rate_limit_error", 500: "api_error", 529: "overloaded_error"}

func anthropicError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"type":"error","error":{"type":%q,"message":%q}}`, anthropicErrType[status], msg)
}

// AnthropicRequestID is the request-id header of every answer of the
// Anthropic fake, which also sends anthropic-ratelimit-* headers, as the
// API does.
const AnthropicRequestID = "req_011CUpstreamFakeId"

func (s *Server) serveAnthropic(w http.ResponseWriter, r *http.Request, body []byte) {
	h := w.Header()
	h.Set("Request-Id", AnthropicRequestID)
	h.Set("Anthropic-Ratelimit-Requests-Limit", "50")
	h.Set("Anthropic-Ratelimit-Requests-Remaining", "49")
	h.Set("Anthropic-Ratelimit-Requests-Reset", "2026-01-01T00:00:01Z")
	h.Set("Anthropic-Ratelimit-Tokens-Limit", "30000")
	h.Set("Anthropic-Organization-Id", "org-fake") // not a rate limit: stays upstream
	if r.URL.Path != "/v1/messages" && r.URL.Path != "/v1/messages/count_tokens" {
		anthropicError(w, 404, "not found")
		return
	}
	if s.Key != "" && r.Header.Get("X-Api-Key") != s.Key {
		anthropicError(w, 401, "invalid x-api-key")
		return
	}
	if r.Header.Get("Anthropic-Version") == "" {
		anthropicError(w, 400, "anthropic-version: header is required")
		return
	}
	if r.URL.Path == "/v1/messages/count_tokens" {
		// A count the tests can predict: a quarter of the body's length.
		if !json.Valid(body) {
			anthropicError(w, 400, "invalid JSON")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"input_tokens":%d}`, len(body)/4)
		return
	}
	var req struct {
		Model     string `json:"model"`
		MaxTokens int    `json:"max_tokens"`
		Stream    bool   `json:"stream"`
		Thinking  *struct {
			BudgetTokens int `json:"budget_tokens"`
		} `json:"thinking"`
		Messages []struct {
			Role    string       `json:"role"`
			Content blockContent `json:"content"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		anthropicError(w, 400, "invalid JSON")
		return
	}
	if req.MaxTokens <= 0 {
		anthropicError(w, 400, "max_tokens: Field required")
		return
	}
	if req.Thinking != nil && req.MaxTokens <= req.Thinking.BudgetTokens {
		anthropicError(w, 400, "max_tokens must be greater than thinking.budget_tokens")
		return
	}
	turn := 0
	for i, m := range req.Messages {
		if m.Role == "system" {
			continue // system messages may stand between turns (Claude Code 2.1 sends them)
		}
		if want := []string{"user", "assistant"}[turn%2]; m.Role != want {
			anthropicError(w, 400, fmt.Sprintf("messages.%d: roles must alternate between user and assistant, starting with user", i))
			return
		}
		turn++
		if req.Thinking != nil && m.Role == "assistant" && i == len(req.Messages)-2 {
			hasTool, first := false, ""
			for j, b := range m.Content {
				if j == 0 {
					first = b.Type
				}
				hasTool = hasTool || b.Type == "tool_use"
			}
			if hasTool && first != "thinking" && first != "redacted_thinking" {
				anthropicError(w, 400, "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`. When `thinking` is enabled, a final `assistant` message must start with a thinking block.")
				return
			}
		}
	}
	if msg := anthropicFormatError(body); msg != "" {
		anthropicError(w, 400, msg)
		return
	}
	rep := s.next()
	if rep.Status >= 400 {
		if rep.RetryAfter != "" {
			w.Header().Set("Retry-After", rep.RetryAfter)
		}
		anthropicError(w, rep.Status, fmt.Sprintf("fake anthropic error %d", rep.Status))
		return
	}
	stop := "end_turn"
	if len(rep.ToolCalls) > 0 {
		stop = "tool_use"
	}
	u := rep.Usage
	usage := fmt.Sprintf(`{"input_tokens":%d,"cache_creation_input_tokens":%d,"cache_read_input_tokens":%d,"output_tokens":%d}`,
		u.Prompt-u.Cached-u.CacheWrite, u.CacheWrite, u.Cached, u.Completion)
	if !req.Stream {
		var blocks []string
		if len(rep.Reasoning) > 0 && req.Thinking != nil {
			blocks = append(blocks, fmt.Sprintf(`{"type":"thinking","thinking":%s,"signature":"ErUBCkYIBRgCIkD-sig"}`, jsonString(strings.Join(rep.Reasoning, ""))))
		}
		if len(rep.Content) > 0 {
			blocks = append(blocks, fmt.Sprintf(`{"type":"text","text":%s}`, jsonString(strings.Join(rep.Content, ""))))
		}
		for _, tc := range rep.ToolCalls {
			blocks = append(blocks, fmt.Sprintf(`{"type":"tool_use","id":%q,"name":%q,"input":%s}`, tc.ID, tc.Name, strings.Join(tc.Args, "")))
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"msg_01Fg","type":"message","role":"assistant","model":%q,"content":[%s],"stop_reason":%q,"stop_sequence":null,"usage":%s}`,
			req.Model, strings.Join(blocks, ","), stop, usage)
		return
	}
	type ev struct{ name, data string } // no name: data is a raw frame
	events := []ev{{"message_start", fmt.Sprintf(`{"type":"message_start","message":{"id":"msg_01Fg","type":"message","role":"assistant","content":[],"model":%q,"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":%d,"cache_creation_input_tokens":%d,"cache_read_input_tokens":%d,"output_tokens":1}}}`,
		req.Model, u.Prompt-u.Cached-u.CacheWrite, u.CacheWrite, u.Cached)}}
	for _, raw := range rep.RawEvents {
		events = append(events, ev{"", raw})
	}
	idx := 0
	if len(rep.Reasoning) > 0 && req.Thinking != nil {
		events = append(events, ev{"content_block_start", fmt.Sprintf(`{"type":"content_block_start","index":%d,"content_block":{"type":"thinking","thinking":""}}`, idx)}, ev{"ping", `{"type": "ping"}`})
		for _, t := range rep.Reasoning {
			events = append(events, ev{"content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":%d,"delta":{"type":"thinking_delta","thinking":%s}}`, idx, jsonString(t))})
		}
		events = append(events, ev{"content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":%d,"delta":{"type":"signature_delta","signature":"ErUBCkYIBRgCIkD-sig"}}`, idx)},
			ev{"content_block_stop", fmt.Sprintf(`{"type":"content_block_stop","index":%d}`, idx)})
		idx++
	}
	if len(rep.Content) > 0 {
		events = append(events, ev{"content_block_start", fmt.Sprintf(`{"type":"content_block_start","index":%d,"content_block":{"type":"text","text":""}}`, idx)})
		for _, t := range rep.Content {
			events = append(events, ev{"content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":%d,"delta":{"type":"text_delta","text":%s}}`, idx, jsonString(t))})
		}
		events = append(events, ev{"content_block_stop", fmt.Sprintf(`{"type":"content_block_stop","index":%d}`, idx)})
		idx++
	}
	for _, tc := range rep.ToolCalls {
		events = append(events, ev{"content_block_start", fmt.Sprintf(`{"type":"content_block_start","index":%d,"content_block":{"type":"tool_use","id":%q,"name":%q,"input":{}}}`, idx, tc.ID, tc.Name)})
		for _, a := range tc.Args {
			events = append(events, ev{"content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":%d,"delta":{"type":"input_json_delta","partial_json":%s}}`, idx, jsonString(a))})
		}
		events = append(events, ev{"content_block_stop", fmt.Sprintf(`{"type":"content_block_stop","index":%d}`, idx)})
		idx++
	}
	events = append(events, ev{"message_delta", fmt.Sprintf(`{"type":"message_delta","delta":{"stop_reason":%q,"stop_sequence":null},"usage":{"output_tokens":%d}}`, stop, rep.Usage.Completion)},
		ev{"message_stop", `{"type":"message_stop"}`})
	if rep.ErrorEvent {
		events = append(events[:len(events)/2], ev{"error", `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`})
	}
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	rc := http.NewResponseController(w)
	for i, e := range events {
		if rep.CutAfter > 0 && i == rep.CutAfter || rep.FailFirst == "cut" {
			s.cut(w)
			return
		}
		if !pause(r.Context(), rep.Delay) {
			return
		}
		if e.name == "" {
			fmt.Fprint(w, e.data)
		} else {
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", e.name, e.data)
		}
		if rc.Flush() != nil {
			return
		}
	}
}

// blockContent is message content: an array of blocks, or a string (one
// text block).
type blockContent []struct {
	Type string `json:"type"`
}

func (c *blockContent) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*c = blockContent{{Type: "text"}}
		return nil
	}
	type plain blockContent
	return json.Unmarshal(b, (*plain)(c))
}
