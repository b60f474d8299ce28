package bedrock

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"iter"
	"net/http"
	"strings"
	"time"
	"unsafe"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/provider/endpoint"
)

// maxFrame bounds one event-stream message: the format's 16 MiB payload
// and 128 KiB headers, with room for the prelude. A larger length is a
// broken stream, refused before anything is read into memory.
const maxFrame = 16<<20 + 128<<10 + 64

// preludeLen is the prelude (total and headers length, prelude CRC);
// minFrame the smallest message (prelude and message CRC).
const (
	preludeLen = 12
	minFrame   = 16
)

// FrameReader reads the binary event-stream messages of a
// ConverseStream response, one at a time, checking both CRCs. It bounds
// each message by maxFrame. A message's strings and payload are valid
// until the next call of Next.
type FrameReader struct {
	br    *bufio.Reader
	frame []byte
}

// NewFrameReader returns a FrameReader reading r.
func NewFrameReader(r io.Reader) *FrameReader {
	return &FrameReader{br: bufio.NewReaderSize(r, 32<<10)}
}

// Frame is one event-stream message: the string headers a ConverseStream
// message is told apart by ("" when absent or not a string) and its
// payload, views of the reader's buffer until its next Next.
type Frame struct {
	MessageType   string // :message-type: event, exception or error
	EventType     string // :event-type of an event
	ExceptionType string // :exception-type of an exception
	ErrorCode     string // :error-code of an error
	ErrorMessage  string // :error-message of an error
	Payload       []byte
}

// Next returns the next message; io.EOF at a clean end between messages,
// an error wrapping io.ErrUnexpectedEOF inside one.
func (f *FrameReader) Next() (Frame, error) {
	prelude, err := f.br.Peek(preludeLen)
	if len(prelude) == 0 && err == io.EOF {
		return Frame{}, io.EOF
	}
	if err != nil {
		return Frame{}, fmt.Errorf("reading an event-stream prelude: %w", io.ErrUnexpectedEOF)
	}
	if crc32.ChecksumIEEE(prelude[:8]) != binary.BigEndian.Uint32(prelude[8:12]) {
		// Checked before the length is trusted with an allocation.
		return Frame{}, errors.New("event-stream prelude checksum mismatch")
	}
	total := binary.BigEndian.Uint32(prelude[0:4])
	headers := binary.BigEndian.Uint32(prelude[4:8])
	if total > maxFrame || total < minFrame || headers > total-minFrame {
		return Frame{}, fmt.Errorf("event-stream message of %d bytes with %d bytes of headers is malformed", total, headers)
	}
	if cap(f.frame) < int(total) {
		f.frame = make([]byte, total)
	}
	f.frame = f.frame[:total]
	if _, err := io.ReadFull(f.br, f.frame); err != nil {
		return Frame{}, fmt.Errorf("reading an event-stream message: %w", io.ErrUnexpectedEOF)
	}
	m, err := parseFrame(f.frame)
	if err != nil {
		return Frame{}, fmt.Errorf("decoding an event-stream message: %w", err)
	}
	return m, nil
}

// parseFrame reads a whole message whose prelude Next has checked, as
// the AWS SDK's eventstream.Decoder reads it (FuzzParseFrame holds the
// two equal) but without an allocation: the SDK's made a string and a
// boxed value of every header and went through four reader wrappers,
// some 35 allocations a message. Headers other than Frame's are skipped.
func parseFrame(b []byte) (Frame, error) {
	total := len(b)
	if crc32.ChecksumIEEE(b[:total-4]) != binary.BigEndian.Uint32(b[total-4:]) {
		return Frame{}, errors.New("event-stream message checksum mismatch")
	}
	headersEnd := preludeLen + int(binary.BigEndian.Uint32(b[4:8]))
	var m Frame
	for h := b[preludeLen:headersEnd]; len(h) > 0; {
		n := int(h[0])
		if len(h) == 1 && n > 0 {
			break // a name's length with no name: the SDK takes it for the headers' end
		}
		if len(h) < 2+n {
			return Frame{}, errHeader
		}
		name, typ, v := h[1:1+n], h[1+n], h[2+n:]
		size := 0
		switch typ {
		case 0, 1: // true, false
		case 2:
			size = 1
		case 3:
			size = 2
		case 4:
			size = 4
		case 5, 8: // int64, timestamp
			size = 8
		case 9: // UUID
			size = 16
		case 6, 7: // bytes, string
			if len(v) < 2 {
				return Frame{}, errHeader
			}
			size = 2 + int(binary.BigEndian.Uint16(v))
		default:
			return Frame{}, fmt.Errorf("event-stream header of unknown value type %d", typ)
		}
		if len(v) < size {
			return Frame{}, errHeader
		}
		if dst := m.header(name); dst != nil {
			*dst = "" // a later header of the name replaces the earlier, as in the SDK
			if typ == 7 && size > 2 {
				*dst = unsafe.String(&v[2], size-2)
			}
		}
		h = v[size:]
	}
	m.Payload = b[headersEnd : total-4]
	return m, nil
}

// errHeader is a header cut short by the end of the headers.
var errHeader = fmt.Errorf("event-stream header: %w", io.ErrUnexpectedEOF)

// header is where m keeps the header named name; nil for the others.
func (m *Frame) header(name []byte) *string {
	switch string(name) {
	case ":message-type":
		return &m.MessageType
	case ":event-type":
		return &m.EventType
	case ":exception-type":
		return &m.ExceptionType
	case ":error-code":
		return &m.ErrorCode
	case ":error-message":
		return &m.ErrorMessage
	}
	return nil
}

// errTruncated ends a stream that stopped before messageStop.
var errTruncated = openai.Truncated("no messageStop")

// event is the union of the ConverseStream event payloads.
type event struct {
	Role       string `json:"role"` // messageStart
	Index      int    `json:"contentBlockIndex"`
	StopReason string `json:"stopReason"` // messageStop
	Start      struct {
		ToolUse *rtool `json:"toolUse"`
	} `json:"start"` // contentBlockStart
	Delta struct {
		Text    *string `json:"text"`
		ToolUse *struct {
			Input string `json:"input"`
		} `json:"toolUse"`
		ReasoningContent *struct {
			Text      *string `json:"text"`
			Signature string  `json:"signature"`
		} `json:"reasoningContent"`
	} `json:"delta"` // contentBlockDelta
	Usage   *usageJSON `json:"usage"`   // metadata
	Message string     `json:"message"` // exceptions
}

// DecodeStream translates ConverseStream's event-stream messages into
// OpenAI chunks: a role chunk at messageStart, text, reasoning (and its
// signature) and tool-call deltas with indexes, "{}" arguments for a
// tool block closed without input, the finish chunk at messageStop and a
// usage chunk at metadata, after which the stream ends. An exception
// message becomes the error. It owns and closes resp.Body.
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
		r := NewFrameReader(resp.Body)
		d := streamDecoder{p: p, resp: resp, id: responseID(resp), model: modelOf(resp), created: time.Now().Unix()}
		tools := map[int]*toolState{} // content block index → its tool call
		for {
			m, err := r.Next()
			if err == io.EOF && d.stopped {
				return // metadata is optional: messageStop ended the answer
			}
			if err == io.EOF {
				err = errTruncated
			}
			if err != nil {
				yield(nil, err)
				return
			}
			chunk, last, err := d.message(&m, tools)
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

// toolState is a tool call of the stream: its index among the tool calls
// and whether any input arrived.
type toolState struct {
	index int
	input bool
}

// streamDecoder is what a stream remembers between messages.
type streamDecoder struct {
	p         *Provider
	resp      *http.Response // for the session token to redact
	id, model string
	created   int64
	stopped   bool // messageStop seen
	// The event being read; dec holds the events' strings and blocks the
	// chunks: a few allocations for a stream's many events.
	e      event
	dec    eventMemory
	blocks openai.Slab[chunkBlock]
}

// chunkBlock is a chunk with room for its one choice, allocated at once.
type chunkBlock struct {
	c      openai.ChatChunk
	choice [1]openai.ChunkChoice
	finish string
}

// message translates one event-stream message into a chunk, or nil;
// last is set at metadata, the stream's final event.
func (d *streamDecoder) message(m *Frame, tools map[int]*toolState) (chunk *openai.ChatChunk, last bool, err error) {
	switch m.MessageType {
	case "exception":
		var e event
		_ = json.Unmarshal(m.Payload, &e)
		return nil, true, d.p.apiError(0, exceptionName(strings.Clone(m.ExceptionType)), redactToken(d.resp, e.Message))
	case "error":
		return nil, true, d.p.apiError(0, exceptionName(strings.Clone(m.ErrorCode)), redactToken(d.resp, strings.Clone(m.ErrorMessage)))
	case "event":
	default:
		return nil, false, errors.New("event-stream message without a known :message-type")
	}
	// One event value serves every message (nothing keeps it or a
	// pointer into it: the chunks copy what they carry).
	d.e = event{}
	e := &d.e
	if err := decodeEvent(m.Payload, e, &d.dec); err != nil {
		return nil, false, fmt.Errorf("decoding a Bedrock %s event: %w", m.EventType, err)
	}
	switch m.EventType {
	case "messageStart":
		return d.chunk(openai.Delta{Role: "assistant", Content: ptr("")}, ""), false, nil
	case "contentBlockStart":
		if t := e.Start.ToolUse; t != nil {
			idx := len(tools)
			tools[e.Index] = &toolState{index: idx}
			return d.chunk(openai.Delta{ToolCalls: []openai.ToolCall{{Index: &idx, ID: t.ToolUseID, Type: "function", Function: openai.FunctionCall{Name: t.Name}}}}, ""), false, nil
		}
	case "contentBlockDelta":
		return d.delta(e, tools), false, nil
	case "contentBlockStop":
		if t, ok := tools[e.Index]; ok && !t.input {
			// A tool called without input still needs JSON arguments.
			t.input = true
			return d.chunk(openai.Delta{ToolCalls: []openai.ToolCall{{Index: &t.index, Function: openai.FunctionCall{Arguments: "{}"}}}}, ""), false, nil
		}
	case "messageStop":
		d.stopped = true
		return d.chunk(openai.Delta{}, finishReason(e.StopReason)), false, nil
	case "metadata":
		if e.Usage == nil {
			return nil, true, nil
		}
		return &openai.ChatChunk{ID: d.id, Object: "chat.completion.chunk", Created: d.created, Model: d.model, Choices: []openai.ChunkChoice{}, Usage: e.Usage.usage()}, true, nil
	}
	return nil, false, nil
}

// delta translates a contentBlockDelta: text, reasoning text or
// signature, or a tool call's input.
func (d *streamDecoder) delta(e *event, tools map[int]*toolState) *openai.ChatChunk {
	switch {
	case e.Delta.Text != nil:
		return d.chunk(openai.Delta{Content: e.Delta.Text}, "")
	case e.Delta.ToolUse != nil:
		t, ok := tools[e.Index]
		if !ok || e.Delta.ToolUse.Input == "" {
			return nil
		}
		t.input = true
		return d.chunk(openai.Delta{ToolCalls: []openai.ToolCall{{Index: &t.index, Function: openai.FunctionCall{Arguments: e.Delta.ToolUse.Input}}}}, "")
	case e.Delta.ReasoningContent != nil:
		rc := e.Delta.ReasoningContent
		if rc.Signature != "" {
			raw, _ := openai.Marshal(rc.Signature)
			return d.chunk(openai.Delta{Extra: map[string]json.RawMessage{openai.SignatureField: raw}}, "")
		}
		if rc.Text != nil {
			return d.chunk(openai.Delta{ReasoningContent: rc.Text}, "")
		}
	}
	return nil
}

// chunk is a chunk of one choice carrying delta, and finish when it is
// not empty.
func (d *streamDecoder) chunk(delta openai.Delta, finish string) *openai.ChatChunk {
	b := d.blocks.New()
	b.choice[0] = openai.ChunkChoice{Delta: delta}
	if finish != "" {
		b.finish = finish
		b.choice[0].FinishReason = &b.finish
	}
	b.c = openai.ChatChunk{ID: d.id, Object: "chat.completion.chunk", Created: d.created, Model: d.model, Choices: b.choice[:]}
	return &b.c
}

// ptr is a pointer to a copy of s.
func ptr(s string) *string { return &s }
