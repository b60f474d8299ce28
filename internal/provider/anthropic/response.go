package anthropic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/http"
	"strings"
	"time"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/provider/endpoint"
	"github.com/llmbridge/llmbridge/internal/sse"
)

type (
	response struct {
		ID         string    `json:"id"`
		Model      string    `json:"model"`
		Content    []rblock  `json:"content"`
		StopReason string    `json:"stop_reason"`
		Usage      usageJSON `json:"usage"`
	}
	rblock struct {
		Type      string          `json:"type"`
		Text      string          `json:"text"`
		Thinking  string          `json:"thinking"`
		Signature string          `json:"signature"`
		ID        string          `json:"id"`
		Name      string          `json:"name"`
		Input     json.RawMessage `json:"input"`
	}
	usageJSON struct {
		InputTokens              int `json:"input_tokens"`
		OutputTokens             int `json:"output_tokens"`
		CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
		CacheReadInputTokens     int `json:"cache_read_input_tokens"`
	}
)

// usage maps Anthropic's counts: cache reads and writes are part of the
// prompt (input_tokens excludes them), cache reads are cached tokens and
// cache writes are cache_write_tokens.
func (u usageJSON) usage() *openai.Usage {
	return openai.CacheUsage(u.InputTokens, u.OutputTokens, u.CacheReadInputTokens, u.CacheCreationInputTokens)
}

func finishReason(r string) string {
	switch r {
	case "end_turn", "stop_sequence", "pause_turn":
		return "stop"
	case "max_tokens", "model_context_window_exceeded":
		return "length"
	case "tool_use":
		return "tool_calls"
	case "refusal":
		return "content_filter"
	}
	return "stop"
}

// DecodeResponse translates a Messages response and closes the body.
func (p *Provider) DecodeResponse(resp *http.Response) (*openai.ChatResponse, error) {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	var r response
	if err := decodeResponse(body, &r); err != nil {
		return nil, fmt.Errorf("decoding Anthropic response: %w", err)
	}
	msg := openai.Message{Role: "assistant"}
	var text, thoughts strings.Builder
	sig := ""
	for _, b := range r.Content {
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
		case "thinking":
			thoughts.WriteString(b.Thinking)
			sig = b.Signature
		case "tool_use":
			msg.ToolCalls = append(msg.ToolCalls, openai.ToolCall{ID: b.ID, Type: "function", Function: openai.FunctionCall{Name: b.Name, Arguments: inputJSON(b.Input)}})
		}
	}
	msg.Content = openai.TextContent(text.String())
	if text.Len() == 0 && len(msg.ToolCalls) > 0 {
		msg.Content = openai.NullContent()
	}
	msg.ReasoningContent = thoughts.String()
	if sig != "" {
		raw, _ := openai.Marshal(sig)
		msg.Extra = map[string]json.RawMessage{SignatureField: raw}
	}
	return &openai.ChatResponse{ID: r.ID, Object: "chat.completion", Created: time.Now().Unix(), Model: r.Model,
		Choices: []openai.Choice{{Message: msg, FinishReason: finishReason(r.StopReason)}}, Usage: r.Usage.usage()}, nil
}

func inputJSON(raw json.RawMessage) string {
	if len(bytes.TrimSpace(raw)) == 0 {
		return "{}"
	}
	return string(raw)
}

// errTruncated ends a stream that stopped before message_stop.
var errTruncated = openai.Truncated("no message_stop")

// event is the union of the stream's event payloads.
type event struct {
	Type    string   `json:"type"`
	Message response `json:"message"` // message_start
	Index   int      `json:"index"`
	Block   rblock   `json:"content_block"` // content_block_start
	Delta   struct {
		Type        string `json:"type"`
		Text        string `json:"text"`
		PartialJSON string `json:"partial_json"`
		Thinking    string `json:"thinking"`
		Signature   string `json:"signature"`
		StopReason  string `json:"stop_reason"`
	} `json:"delta"`
	Usage *usageJSON `json:"usage"` // message_delta: cumulative output_tokens
	Error *struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

// DecodeStream translates the Messages event stream into OpenAI chunks: a
// role chunk at message_start, text, reasoning (and its signature) and
// tool-call deltas with indexes, the finish chunk at message_delta and a
// usage chunk at message_stop. It owns and closes resp.Body.
func (p *Provider) DecodeStream(resp *http.Response) iter.Seq2[*openai.ChatChunk, error] {
	return func(yield func(*openai.ChatChunk, error) bool) {
		// Every return below, including a consumer that stops early,
		// closes the body here, but the one at the stream's last event,
		// which hands it to EndBody, to be read to its end.
		finished := false
		defer func() {
			if !finished {
				resp.Body.Close()
			}
		}()
		r := sse.NewReader(resp.Body)
		defer r.Release()
		d := streamDecoder{p: p, created: time.Now().Unix()}
		// The tool calls live apart from d: chunks carry d's strings to
		// the consumer, and escape analysis would move a map stored in d
		// to the heap with them.
		toolIndex := map[int]int{} // content block index → tool call index
		var e event
		for {
			ev, err := r.Next()
			if err == io.EOF {
				yield(nil, errTruncated)
				return
			}
			if err != nil {
				yield(nil, err)
				return
			}
			e = event{}
			chunk, last, err := d.event(ev.Data, &e, toolIndex)
			if err != nil {
				yield(nil, err)
				return
			}
			if chunk != nil && !yield(chunk, nil) {
				return
			}
			if last {
				finished = true
				endpoint.EndBody(resp.Body) // read to its end, which keeps the connection
				return
			}
		}
	}
}

// streamDecoder is what a Messages stream remembers between events
// besides its tool calls: message_start's id and model, and the usage so
// far; and where its events' copies and its chunks come from, a few
// allocations for many events.
type streamDecoder struct {
	p         *Provider
	created   int64
	id, model string
	usage     usageJSON
	arena     openai.Arena
	blocks    openai.Slab[chunkBlock]
}

// chunkBlock is a chunk of one choice with room for what it points to.
type chunkBlock struct {
	c      openai.ChatChunk
	choice [1]openai.ChunkChoice
	call   [1]openai.ToolCall
	text   string
	finish string
	index  int
}

// event translates one SSE event, decoded into e (zero), into a chunk, or
// nil when it carries nothing for the client; last is set at
// message_stop, after which the stream ends. An error event becomes the
// error.
func (d *streamDecoder) event(data []byte, e *event, toolIndex map[int]int) (chunk *openai.ChatChunk, last bool, err error) {
	if err := decodeEvent(data, e, &d.arena); err != nil {
		return nil, false, fmt.Errorf("decoding Anthropic event: %w", err)
	}
	switch e.Type {
	case "message_start":
		d.id, d.model, d.usage = e.Message.ID, e.Message.Model, e.Message.Usage
		b := d.blocks.New()
		return d.chunk(b, openai.Delta{Role: "assistant", Content: &b.text}, ""), false, nil
	case "content_block_start":
		if e.Block.Type == "tool_use" {
			b := d.blocks.New()
			b.index = len(toolIndex)
			toolIndex[e.Index] = b.index
			b.call[0] = openai.ToolCall{Index: &b.index, ID: e.Block.ID, Type: "function", Function: openai.FunctionCall{Name: e.Block.Name}}
			return d.chunk(b, openai.Delta{ToolCalls: b.call[:]}, ""), false, nil
		}
	case "content_block_delta":
		return d.delta(e, toolIndex), false, nil
	case "message_delta":
		if e.Usage != nil {
			d.usage.OutputTokens = e.Usage.OutputTokens
			if e.Usage.InputTokens > 0 {
				d.usage.InputTokens = e.Usage.InputTokens
			}
		}
		if e.Delta.StopReason != "" {
			return d.chunk(d.blocks.New(), openai.Delta{}, finishReason(e.Delta.StopReason)), false, nil
		}
	case "message_stop":
		return &openai.ChatChunk{ID: d.id, Object: "chat.completion.chunk", Created: d.created, Model: d.model, Choices: []openai.ChunkChoice{}, Usage: d.usage.usage()}, true, nil
	case "error":
		return nil, true, d.p.apiError(0, e.Error.Type, e.Error.Message)
	}
	return nil, false, nil
}

// delta translates a content_block_delta: text, thinking, a thinking
// block's signature, or a tool call's arguments.
func (d *streamDecoder) delta(e *event, toolIndex map[int]int) *openai.ChatChunk {
	switch e.Delta.Type {
	case "text_delta":
		b := d.blocks.New()
		b.text = e.Delta.Text
		return d.chunk(b, openai.Delta{Content: &b.text}, "")
	case "thinking_delta":
		b := d.blocks.New()
		b.text = e.Delta.Thinking
		return d.chunk(b, openai.Delta{ReasoningContent: &b.text}, "")
	case "signature_delta":
		raw, _ := openai.Marshal(e.Delta.Signature)
		return d.chunk(d.blocks.New(), openai.Delta{Extra: map[string]json.RawMessage{SignatureField: raw}}, "")
	case "input_json_delta":
		if idx, ok := toolIndex[e.Index]; ok {
			b := d.blocks.New()
			b.index = idx
			b.call[0] = openai.ToolCall{Index: &b.index, Function: openai.FunctionCall{Arguments: e.Delta.PartialJSON}}
			return d.chunk(b, openai.Delta{ToolCalls: b.call[:]}, "")
		}
	}
	return nil
}

// chunk fills b (new from d.blocks) as a chunk of one choice carrying
// delta, and finish when it is not empty, and returns it.
func (d *streamDecoder) chunk(b *chunkBlock, delta openai.Delta, finish string) *openai.ChatChunk {
	b.choice[0] = openai.ChunkChoice{Delta: delta}
	if finish != "" {
		b.finish = finish
		b.choice[0].FinishReason = &b.finish
	}
	b.c = openai.ChatChunk{ID: d.id, Object: "chat.completion.chunk", Created: d.created, Model: d.model, Choices: b.choice[:]}
	return &b.c
}

// statusFor maps Anthropic error types to statuses, for in-stream errors.
var statusFor = map[string]int{
	"invalid_request_error": 400, "authentication_error": 401, "billing_error": 402, "permission_error": 403,
	"not_found_error": 404, "request_too_large": 413, "rate_limit_error": 429, "api_error": 500, "overloaded_error": 529,
}

// apiError builds the error; status 0 (in-stream errors) takes the status
// of the error type.
func (p *Provider) apiError(status int, typ, msg string) *openai.APIError {
	if status == 0 {
		status = http.StatusBadGateway
		if s, ok := statusFor[typ]; ok {
			status = s
		}
	}
	// OpenAI's type and code for the status (openai.TranslatedError):
	// the Anthropic client format maps them back to Anthropic's types.
	return openai.TranslatedError(status, p.Name(), p.Redact(msg), "")
}

// DecodeError translates {"type":"error","error":{"type","message"}} into
// an *openai.APIError with the upstream's status and Retry-After.
func (p *Provider) DecodeError(resp *http.Response) error {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var e struct {
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	var out *openai.APIError
	if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
		out = p.apiError(resp.StatusCode, e.Error.Type, e.Error.Message)
	} else {
		text := strings.TrimSpace(string(body))
		if len(text) > 200 {
			text = text[:200] + "…"
		}
		out = p.apiError(resp.StatusCode, "", fmt.Sprintf("upstream %s returned HTTP %d: %s", p.Name(), resp.StatusCode, text))
	}
	out.RetryAfter = resp.Header.Get("Retry-After")
	return out
}
