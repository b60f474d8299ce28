package responses

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/llmbridge/llmbridge/internal/openai"
)

// Event is one server-sent event of a Responses stream: Name is the
// "event:" line (equal to the data's type) and Data the JSON object.
type Event struct {
	Name string
	Data []byte
}

// StreamEncoder turns a canonical chat stream into the Responses event
// stream, in the order the API documents:
//
//	response.created, response.in_progress
//	per output item: response.output_item.added, then
//	  reasoning: response.reasoning_summary_part.added,
//	    response.reasoning_summary_text.delta…, response.reasoning_summary_text.done,
//	    response.reasoning_summary_part.done
//	  message: response.content_part.added, response.output_text.delta…,
//	    response.output_text.done, response.content_part.done
//	  function call: response.function_call_arguments.delta…,
//	    response.function_call_arguments.done
//	  and response.output_item.done
//	response.completed, or response.incomplete (length or content filter),
//	or response.failed (Fail)
//
// Every event carries sequence_number (0, 1, …); item events carry the
// item's output_index and item_id, content events content_index 0 (or
// summary_index 0). An item closes when another kind of output starts, or
// at the end; function calls stay open together until then, so parallel
// calls may interleave. Usage, which chat streams send last, goes in the
// final response object.
//
// Chunk, End and Fail append events to dst and return it. After End or
// Fail the encoder emits nothing more. A StreamEncoder is for one stream
// and not safe for concurrent use.
type StreamEncoder struct {
	t       *Translation
	ids     ids
	env     envelope
	seq     int
	started bool
	ended   bool

	items     []*item
	reasoning *item   // open reasoning item
	message   *item   // open message item
	calls     []*item // open function calls
	finish    string
	usage     *openai.Usage
	buf       []byte       // scratch for event bodies
	arena     openai.Arena // the events' data, allocated a block at a time
}

// NewStreamEncoder returns an encoder for the stream answering the request
// t translated (its members are echoed in the response objects; nil echoes
// defaults).
func NewStreamEncoder(t *Translation) *StreamEncoder { return &StreamEncoder{t: t} }

// Chunk encodes one canonical chunk. The first chunk also starts the
// stream (response.created and response.in_progress, named after the
// chunk's id and model). Only choice 0 is encoded.
func (e *StreamEncoder) Chunk(dst []Event, ch *openai.ChatChunk) []Event {
	if e.ended {
		return dst
	}
	if !e.started {
		dst = e.start(dst, ch)
	}
	if ch.Usage != nil {
		e.usage = ch.Usage
	}
	for i := range ch.Choices {
		c := &ch.Choices[i]
		if c.Index != 0 {
			continue
		}
		d := &c.Delta
		if d.ReasoningContent != nil && *d.ReasoningContent != "" {
			dst = e.reasoningDelta(dst, *d.ReasoningContent)
		}
		if e.reasoning != nil && len(d.Extra) > 0 {
			if sig := signatureOf(d.Extra); sig != nil {
				e.reasoning.signature = append(e.reasoning.signature, sig...)
			}
		}
		if d.Content != nil && *d.Content != "" {
			dst = e.textDelta(dst, *d.Content)
		}
		if d.Refusal != nil && *d.Refusal != "" {
			dst = e.textDelta(dst, *d.Refusal)
		}
		for j := range d.ToolCalls {
			dst = e.toolDelta(dst, &d.ToolCalls[j], j)
		}
		if c.FinishReason != nil && *c.FinishReason != "" {
			e.finish = *c.FinishReason
		}
	}
	return dst
}

// End finishes a stream that ended normally: open items are closed, then
// response.completed (or response.incomplete, with incomplete_details,
// when the chat stream finished for length or content filter) carries the
// whole response with its usage.
func (e *StreamEncoder) End(dst []Event) []Event {
	if e.ended {
		return dst
	}
	if !e.started {
		dst = e.start(dst, nil)
	}
	incomplete := e.finish == "length" || e.finish == "content_filter"
	for _, it := range e.items {
		if it.status == "in_progress" {
			dst = e.close(dst, it, incomplete)
		}
	}
	e.reasoning, e.message, e.calls = nil, nil, nil
	e.ended = true
	e.env.finish(e.finish, e.t.now(e.env.CreatedAt))
	name := "response.completed"
	if incomplete {
		name = "response.incomplete"
	}
	return e.emitResponse(dst, name)
}

// Fail ends a stream that broke: one response.failed event whose response
// has status failed, error {code, message} from err, the output so far
// (unfinished items marked incomplete) and the usage seen, if any. It
// never emits a completion, so a client cannot mistake the stream for a
// finished one.
func (e *StreamEncoder) Fail(dst []Event, err *openai.APIError) []Event {
	if e.ended {
		return dst
	}
	if !e.started {
		dst = e.start(dst, nil)
	}
	for _, it := range e.items {
		if it.status == "in_progress" {
			it.status = "incomplete"
		}
	}
	e.ended = true
	e.env.Status = "failed"
	e.env.Error = errorObject(err)
	return e.emitResponse(dst, "response.failed")
}

// FailedEvent returns a response.failed event for err outside any stream
// state: a fresh response id, sequence_number 0, no output. It is for
// failures reported before an encoder exists; inside a stream use Fail,
// whose event continues the stream's numbering.
func FailedEvent(err *openai.APIError) Event {
	e := NewStreamEncoder(nil)
	e.started = true
	e.ids = newIDs("")
	e.env = newEnvelope(nil, e.ids.response(), "", 0)
	e.env.CreatedAt = e.t.now(0)
	events := e.Fail(nil, err)
	return events[len(events)-1]
}

// errorObject is a Response's error member for err.
func errorObject(err *openai.APIError) json.RawMessage {
	code := err.Code
	if code == "" {
		code = "server_error"
		if err.StatusCode() == http.StatusTooManyRequests {
			code = "rate_limit_exceeded"
		}
	}
	msg := err.Message
	if msg == "" {
		msg = http.StatusText(err.StatusCode())
	}
	b := appendStringField([]byte{'{'}, "code", code)
	return append(appendStringField(b, "message", msg), '}')
}

func (e *StreamEncoder) start(dst []Event, ch *openai.ChatChunk) []Event {
	e.started = true
	var id, model string
	var created int64
	if ch != nil {
		id, model, created = ch.ID, ch.Model, ch.Created
	}
	if model == "" && e.t != nil && e.t.Request != nil {
		model = e.t.Request.Model
	}
	if created == 0 {
		created = e.t.now(0)
	}
	e.ids = newIDs(id)
	e.env = newEnvelope(e.t, e.ids.response(), model, created)
	e.env.Status = "in_progress"
	dst = e.emitResponse(dst, "response.created")
	return e.emitResponse(dst, "response.in_progress")
}

// emitResponse emits an event carrying the whole response.
func (e *StreamEncoder) emitResponse(dst []Event, name string) []Event {
	usage := e.usage
	if !e.ended {
		usage = nil
	}
	resp, err := e.env.marshal(e.items, usage)
	if err != nil { // only invalid JSON kept from the request could do this
		resp = []byte(`null`)
	}
	return e.emit(dst, name, appendRawField(e.buf[:0], "response", resp))
}

// emit appends the event name with body (members without braces) and the
// next sequence number.
func (e *StreamEncoder) emit(dst []Event, name string, body []byte) []Event {
	b := e.arena.Alloc(len(body) + len(name) + 52)[:0] // never written again: callers may keep events
	b = append(b, `{"type":`...)
	b = openai.AppendString(b, name)
	if len(body) > 0 {
		b = append(append(b, ','), body...)
	}
	b = append(b, `,"sequence_number":`...)
	b = strconv.AppendInt(b, int64(e.seq), 10)
	b = append(b, '}')
	e.seq++
	e.buf = body[:0]
	return append(dst, Event{Name: name, Data: b})
}

// itemRef starts a body with the item's id and output index.
func (e *StreamEncoder) itemRef(it *item, index int) []byte {
	b := appendStringField(e.buf[:0], "item_id", it.id)
	return appendIntField(b, "output_index", index)
}

func (e *StreamEncoder) open(dst []Event, it *item) []Event {
	index := len(e.items)
	it.id = e.ids.item(it.kind, index)
	it.status = "in_progress"
	e.items = append(e.items, it)
	b := it.appendJSON(appendKey(e.buf[:0], "item"))
	b = appendIntField(b, "output_index", index)
	dst = e.emit(dst, "response.output_item.added", b)
	switch it.kind {
	case kindMessage:
		b = appendRawField(e.itemRef(it, index), "content_index", []byte("0"))
		b = appendTextPart(appendKey(b, "part"), nil)
		dst = e.emit(dst, "response.content_part.added", b)
	case kindReasoning:
		b = appendSummaryPart(appendKey(e.itemRef(it, index), "part"), nil)
		b = appendRawField(b, "summary_index", []byte("0"))
		dst = e.emit(dst, "response.reasoning_summary_part.added", b)
	}
	return dst
}

// close emits the done events of an open item.
func (e *StreamEncoder) close(dst []Event, it *item, incomplete bool) []Event {
	index := e.indexOf(it)
	it.status = "completed"
	if incomplete {
		it.status = "incomplete"
	}
	switch it.kind {
	case kindMessage:
		b := appendRawField(e.itemRef(it, index), "content_index", []byte("0"))
		b = appendRawField(b, "logprobs", []byte("[]"))
		b = openai.AppendString(appendKey(b, "text"), string(it.text))
		dst = e.emit(dst, "response.output_text.done", b)
		b = appendRawField(e.itemRef(it, index), "content_index", []byte("0"))
		b = appendTextPart(appendKey(b, "part"), it.text)
		dst = e.emit(dst, "response.content_part.done", b)
	case kindReasoning:
		b := appendRawField(e.itemRef(it, index), "summary_index", []byte("0"))
		b = openai.AppendString(appendKey(b, "text"), string(it.text))
		dst = e.emit(dst, "response.reasoning_summary_text.done", b)
		b = appendSummaryPart(appendKey(e.itemRef(it, index), "part"), it.text)
		b = appendRawField(b, "summary_index", []byte("0"))
		dst = e.emit(dst, "response.reasoning_summary_part.done", b)
	case kindFunctionCall:
		b := openai.AppendString(appendKey(e.buf[:0], "arguments"), string(it.text))
		b = appendStringField(b, "item_id", it.id)
		b = appendIntField(b, "output_index", index)
		dst = e.emit(dst, "response.function_call_arguments.done", b)
	}
	b := it.appendJSON(appendKey(e.buf[:0], "item"))
	b = appendIntField(b, "output_index", index)
	return e.emit(dst, "response.output_item.done", b)
}

func (e *StreamEncoder) indexOf(it *item) int {
	for i, x := range e.items {
		if x == it {
			return i
		}
	}
	return -1
}

// closeOthers closes the open items of kinds other than keep.
func (e *StreamEncoder) closeOthers(dst []Event, keep int) []Event {
	if keep != kindReasoning && e.reasoning != nil {
		dst = e.close(dst, e.reasoning, false)
		e.reasoning = nil
	}
	if keep != kindMessage && e.message != nil {
		dst = e.close(dst, e.message, false)
		e.message = nil
	}
	if keep != kindFunctionCall && len(e.calls) > 0 {
		for _, c := range e.calls {
			dst = e.close(dst, c, false)
		}
		e.calls = e.calls[:0]
	}
	return dst
}

func (e *StreamEncoder) reasoningDelta(dst []Event, text string) []Event {
	if e.reasoning == nil {
		dst = e.closeOthers(dst, kindReasoning)
		e.reasoning = &item{kind: kindReasoning}
		dst = e.open(dst, e.reasoning)
	}
	it := e.reasoning
	it.text = append(it.text, text...)
	b := openai.AppendString(appendKey(e.buf[:0], "delta"), text)
	b = appendStringField(b, "item_id", it.id)
	b = appendIntField(b, "output_index", len(e.items)-1)
	b = appendRawField(b, "summary_index", []byte("0"))
	return e.emit(dst, "response.reasoning_summary_text.delta", b)
}

func (e *StreamEncoder) textDelta(dst []Event, text string) []Event {
	if e.message == nil {
		dst = e.closeOthers(dst, kindMessage)
		e.message = &item{kind: kindMessage}
		dst = e.open(dst, e.message)
	}
	it := e.message
	it.text = append(it.text, text...)
	b := appendRawField(e.buf[:0], "content_index", []byte("0"))
	b = openai.AppendString(appendKey(b, "delta"), text)
	b = appendStringField(b, "item_id", it.id)
	b = appendRawField(b, "logprobs", []byte("[]"))
	b = appendIntField(b, "output_index", len(e.items)-1)
	return e.emit(dst, "response.output_text.delta", b)
}

func (e *StreamEncoder) toolDelta(dst []Event, tc *openai.ToolCall, pos int) []Event {
	index := pos
	if tc.Index != nil {
		index = *tc.Index
	}
	var it *item
	for _, c := range e.calls {
		if c.chatIndex == index {
			it = c
			break
		}
	}
	if it == nil {
		dst = e.closeOthers(dst, kindFunctionCall)
		it = &item{kind: kindFunctionCall, chatIndex: index, callID: tc.ID, name: tc.Function.Name}
		if it.callID == "" {
			it.callID = e.ids.call(len(e.items))
		}
		e.calls = append(e.calls, it)
		dst = e.open(dst, it)
	}
	if tc.Function.Arguments == "" {
		return dst
	}
	it.text = append(it.text, tc.Function.Arguments...)
	b := openai.AppendString(appendKey(e.buf[:0], "delta"), tc.Function.Arguments)
	b = appendStringField(b, "item_id", it.id)
	b = appendIntField(b, "output_index", e.indexOf(it))
	return e.emit(dst, "response.function_call_arguments.delta", b)
}
