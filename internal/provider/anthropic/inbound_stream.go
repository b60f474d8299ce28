package anthropic

import (
	"encoding/json"
	"strconv"

	"github.com/llmbridge/llmbridge/internal/openai"
)

// Event is one event of a Messages stream: its name (the "event:" line,
// equal to the data's "type") and its JSON data.
type Event struct {
	Name string
	Data []byte
}

// blockKind is the type of the open content block.
type blockKind uint8

const (
	noBlock blockKind = iota
	textBlock
	thinkingBlock
	toolBlock
)

// StreamEncoder turns a canonical chunk stream into the Messages event
// sequence: message_start (with the usage known so far), then for each
// content block content_block_start, its deltas (text_delta,
// thinking_delta, signature_delta, input_json_delta) and
// content_block_stop, with indexes counting up from 0 without gaps, one
// block open at a time; then message_delta with the stop_reason and the
// usage, and message_stop. Reasoning becomes thinking blocks, content and
// refusals text blocks, tool calls tool_use blocks (ids kept, see ToolID).
// Only the first choice is encoded. A StreamEncoder is not safe for
// concurrent use; the zero value is not usable (NewStreamEncoder).
type StreamEncoder struct {
	model   string
	started bool
	ended   bool
	next    int       // index of the next block
	open    blockKind // the open block's kind
	tool    int       // the open tool block's chunk index
	tools   map[int]int
	finish  string
	sawTool bool
	usage   *openai.Usage

	buf    []byte
	spans  []span
	events []Event
}

type span struct {
	name       string
	start, end int
}

// NewStreamEncoder returns an encoder for a stream answering model (the
// model named in message_start until a chunk names the upstream's).
func NewStreamEncoder(model string) *StreamEncoder {
	return &StreamEncoder{model: model, tools: map[int]int{}}
}

// Chunk encodes one canonical chunk and returns the events it gives, often
// none. The events and their data are valid until the next call.
func (e *StreamEncoder) Chunk(ch *openai.ChatChunk) []Event {
	e.reset()
	if e.ended {
		return nil
	}
	if ch.Usage != nil {
		e.usage = ch.Usage
	}
	e.start(ch)
	for i := range ch.Choices {
		c := &ch.Choices[i]
		if c.Index != 0 {
			continue
		}
		d := &c.Delta
		if d.ReasoningContent != nil && *d.ReasoningContent != "" {
			e.openBlock(thinkingBlock, -1, nil)
			e.delta("thinking_delta", "thinking", *d.ReasoningContent)
		}
		if raw, ok := d.Extra[SignatureField]; ok && e.open == thinkingBlock {
			var sig string
			if json.Unmarshal(raw, &sig) == nil && sig != "" {
				e.delta("signature_delta", "signature", sig)
			}
		}
		for _, s := range []*string{d.Content, d.Refusal} {
			if s != nil && *s != "" {
				e.openBlock(textBlock, -1, nil)
				e.delta("text_delta", "text", *s)
			}
		}
		for j := range d.ToolCalls {
			e.toolCall(&d.ToolCalls[j], j)
		}
		if c.FinishReason != nil && *c.FinishReason != "" {
			e.finish = *c.FinishReason
		}
	}
	return e.out()
}

// End closes the stream: the open block's content_block_stop,
// message_delta with the stop_reason and usage (u when not nil, else the
// last usage a chunk carried), and message_stop. A stream that gave no
// chunk still gets its message_start first. End returns nothing after the
// first call. The events are valid until the next call.
func (e *StreamEncoder) End(u *openai.Usage) []Event {
	e.reset()
	if e.ended {
		return nil
	}
	e.start(nil)
	e.closeBlock()
	if u == nil {
		u = e.usage
	}
	stop := StopReason(e.finish, e.sawTool)
	s := len(e.buf)
	e.buf = append(e.buf, `{"type":"message_delta","delta":{"stop_reason":`...)
	e.buf = openai.AppendString(e.buf, stop)
	e.buf = append(e.buf, `,"stop_sequence":null},"usage":`...)
	e.buf = appendUsage(e.buf, usageOf(u))
	e.buf = append(e.buf, '}')
	e.done("message_delta", s)
	s = len(e.buf)
	e.buf = append(e.buf, `{"type":"message_stop"}`...)
	e.done("message_stop", s)
	e.ended = true
	return e.out()
}

func (e *StreamEncoder) reset() {
	e.buf, e.spans, e.events = e.buf[:0], e.spans[:0], e.events[:0]
}

// start writes message_start before the first block.
func (e *StreamEncoder) start(ch *openai.ChatChunk) {
	if e.started {
		return
	}
	e.started = true
	id, model := "", e.model
	if ch != nil {
		id = ch.ID
		if ch.Model != "" {
			model = ch.Model
		}
	}
	s := len(e.buf)
	e.buf = append(e.buf, `{"type":"message_start","message":{"id":`...)
	e.buf = openai.AppendString(e.buf, MessageID(id))
	e.buf = append(e.buf, `,"type":"message","role":"assistant","model":`...)
	e.buf = openai.AppendString(e.buf, model)
	e.buf = append(e.buf, `,"content":[],"stop_reason":null,"stop_sequence":null,"usage":`...)
	e.buf = appendUsage(e.buf, usageOf(e.usage))
	e.buf = append(e.buf, "}}"...)
	e.done("message_start", s)
}

// openBlock starts a block of kind k unless one is open already (for a
// tool block: the same call's), closing the open one first.
func (e *StreamEncoder) openBlock(k blockKind, tool int, tc *openai.ToolCall) {
	if e.open == k && (k != toolBlock || e.tool == tool) {
		return
	}
	e.closeBlock()
	s := len(e.buf)
	e.buf = append(e.buf, `{"type":"content_block_start","index":`...)
	e.buf = strconv.AppendInt(e.buf, int64(e.next), 10)
	switch k {
	case textBlock:
		e.buf = append(e.buf, `,"content_block":{"type":"text","text":""}}`...)
	case thinkingBlock:
		e.buf = append(e.buf, `,"content_block":{"type":"thinking","thinking":"","signature":""}}`...)
	case toolBlock:
		e.buf = append(e.buf, `,"content_block":{"type":"tool_use","id":`...)
		e.buf = openai.AppendString(e.buf, ToolID(tc.ID))
		e.buf = append(e.buf, `,"name":`...)
		e.buf = openai.AppendString(e.buf, tc.Function.Name)
		e.buf = append(e.buf, `,"input":{}}}`...)
		e.tools[tool] = e.next
		e.tool = tool
		e.sawTool = true
	}
	e.done("content_block_start", s)
	e.open = k
	e.next++
}

func (e *StreamEncoder) closeBlock() {
	if e.open == noBlock {
		return
	}
	s := len(e.buf)
	e.buf = append(e.buf, `{"type":"content_block_stop","index":`...)
	e.buf = strconv.AppendInt(e.buf, int64(e.next-1), 10)
	e.buf = append(e.buf, '}')
	e.done("content_block_stop", s)
	e.open = noBlock
}

// toolCall handles one tool-call delta: a call not seen before opens a
// tool_use block; argument fragments become input_json_delta events on
// that call's block (also after it was closed, should an upstream
// interleave calls).
func (e *StreamEncoder) toolCall(tc *openai.ToolCall, pos int) {
	idx := pos
	if tc.Index != nil {
		idx = *tc.Index
	}
	block, seen := e.tools[idx]
	if !seen {
		e.openBlock(toolBlock, idx, tc)
		block = e.tools[idx]
	}
	if tc.Function.Arguments == "" {
		return
	}
	s := len(e.buf)
	e.buf = append(e.buf, `{"type":"content_block_delta","index":`...)
	e.buf = strconv.AppendInt(e.buf, int64(block), 10)
	e.buf = append(e.buf, `,"delta":{"type":"input_json_delta","partial_json":`...)
	e.buf = openai.AppendString(e.buf, tc.Function.Arguments)
	e.buf = append(e.buf, "}}"...)
	e.done("content_block_delta", s)
}

// delta writes a delta of the open block.
func (e *StreamEncoder) delta(typ, field, value string) {
	s := len(e.buf)
	e.buf = append(e.buf, `{"type":"content_block_delta","index":`...)
	e.buf = strconv.AppendInt(e.buf, int64(e.next-1), 10)
	e.buf = append(e.buf, `,"delta":{"type":"`...)
	e.buf = append(e.buf, typ...)
	e.buf = append(e.buf, `","`...)
	e.buf = append(e.buf, field...)
	e.buf = append(e.buf, `":`...)
	e.buf = openai.AppendString(e.buf, value)
	e.buf = append(e.buf, "}}"...)
	e.done("content_block_delta", s)
}

func (e *StreamEncoder) done(name string, start int) {
	e.spans = append(e.spans, span{name: name, start: start, end: len(e.buf)})
}

func (e *StreamEncoder) out() []Event {
	for _, s := range e.spans {
		e.events = append(e.events, Event{Name: s.name, Data: e.buf[s.start:s.end:s.end]})
	}
	return e.events
}

func appendUsage(b []byte, u outUsage) []byte {
	b = append(b, `{"input_tokens":`...)
	b = strconv.AppendInt(b, int64(u.InputTokens), 10)
	b = append(b, `,"cache_creation_input_tokens":`...)
	b = strconv.AppendInt(b, int64(u.CacheCreationInputTokens), 10)
	b = append(b, `,"cache_read_input_tokens":`...)
	b = strconv.AppendInt(b, int64(u.CacheReadInputTokens), 10)
	b = append(b, `,"output_tokens":`...)
	b = strconv.AppendInt(b, int64(u.OutputTokens), 10)
	return append(b, '}')
}
