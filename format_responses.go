package llmbridge

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/llmbridge/llmbridge/internal/cache/codec"
	"github.com/llmbridge/llmbridge/internal/openai"
	openaiprov "github.com/llmbridge/llmbridge/internal/provider/openai"
	"github.com/llmbridge/llmbridge/internal/responses"
	"github.com/llmbridge/llmbridge/internal/sse"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// responsesFormat is OpenAI's Responses API (POST /v1/responses), as
// Codex CLI, the Agents SDK and the newer OpenAI SDKs speak it. Providers
// that implement ResponsesWire get the client's bytes and every event of
// their answer is relayed unchanged (the upstream keeps
// previous_response_id state, encrypted reasoning and hosted tools); for
// every other provider the body is translated to the canonical Chat
// request by internal/responses, and the answer back to a Response object
// or event stream. The translation is per-call state (relay.state) that
// the encoders echo. Errors have OpenAI's shape; a stream that breaks after it
// started ends with a response.failed event continuing its sequence
// numbers, never with a completion.
type responsesFormat struct{}

// The built-in OpenAI provider is the pass-through target.
var _ ResponsesWire = (*openaiprov.Responses)(nil)

func (responsesFormat) name() string { return "responses" }

func (responsesFormat) patterns() []string {
	return []string{"POST /v1/responses", "POST /responses"}
}

// parse checks what every route needs (a JSON object whose member names
// every decoder reads alike, a model, stream a boolean). The members are
// validated in full by decode, on the translated path only: an OpenAI
// upstream judges its own API, new members included.
func (responsesFormat) parse(body []byte) envelope { return responsesEnvelope(body) }

func responsesEnvelope(body []byte) envelope {
	var env envelope
	bad := func(param, code, format string, args ...any) envelope {
		env.bad = badRequest(param, code, format, args...)
		return env
	}
	// The pass-through sends the body as it came: no member may be one an
	// upstream's decoder reads differently from gjson (a case variant of a
	// documented member, a name given twice in any object: checkObject
	// refuses both). What is read of model and stream is read while the
	// tape is there. A body of more JSON values than a tape takes is
	// refused with a 413, as a chat request is.
	var modelStr string
	var model, stream gjson.Type = -1, -1 // -1: not given
	e := checkObject(body, responses.Members(), func(root openai.Value) {
		env.text, env.textRead = root.DocTextBytes(), true
		root.ForEach(func(k, v openai.Value) bool {
			switch k.Str() {
			case "model":
				model, modelStr = v.Type(), v.Str()
			case "stream":
				stream = v.Type()
			}
			return true
		})
	})
	if e != nil {
		env.bad = e
		return env
	}
	if model == gjson.String {
		env.model = openai.ClipModel(modelStr)
	}
	env.stream = stream == gjson.True
	if e := modelError(model >= 0, model, modelStr); e != nil {
		env.bad = e
		return env
	}
	switch {
	case stream >= 0 && stream != gjson.True && stream != gjson.False && stream != gjson.Null:
		return bad("stream", "invalid_type", "stream must be a boolean.")
	}
	return env
}

func (responsesFormat) decode(body []byte, _ *slog.Logger) (*ChatRequest, *APIError) {
	chat, _, e := responses.ToChat(body)
	return chat, e
}

// decodeCall translates the body and returns the Translation, kept for
// the encoders.
func (responsesFormat) decodeCall(body []byte) (*ChatRequest, any, *APIError) {
	chat, t, e := responses.ToChat(body)
	if e != nil {
		return nil, nil, e
	}
	return chat, t, nil
}

// translation returns the call's Translation (nil echoes defaults).
func translation(r relay) *responses.Translation {
	t, _ := r.state().(*responses.Translation)
	return t
}

func (responsesFormat) passThrough(p Provider) rawRequest {
	if w, ok := p.(ResponsesWire); ok {
		return func(ctx context.Context, body []byte, model string, stream bool, _ http.Header) (*http.Request, error) {
			return w.NewRawResponsesRequest(ctx, body, model, stream)
		}
	}
	return nil
}

// relayNative relays a Responses answer unchanged: every stream event
// (its "event:" line included) or the response body, reading the usage
// from the response object on the way.
func (responsesFormat) relayNative(r relay, resp *http.Response) {
	if r.stream() {
		var st relayState
		err := relayResponses(r, resp.Body, &st)
		closeRelayed(resp.Body, err)
		endResponsesStream(r, err, func(e *APIError) []responses.Event { return []responses.Event{st.failed(e)} })
		return
	}
	m := r.meter()
	r.relayBody(resp, func(out []byte) {
		root := gjson.ParseBytes(out)
		if u := root.Get("usage"); u.IsObject() {
			m.noteUsage(responses.UsageOf(u))
		} else {
			m.text = responses.AppendOutputText(m.text, root.Get("output"))
			m.boundText()
		}
	})
}

// nativeEnd makes the Responses format a nativeCachedFormat: a stream
// ends with response.completed (normally; the response is in it), or
// response.incomplete, response.failed or error; a body is the response.
// Only a response whose status is "completed" is a normal end: an
// incomplete one was cut (max_output_tokens) or withheld (content_filter).
func (responsesFormat) nativeEnd(data []byte, stream bool) (resp []byte, end, ok bool) {
	r := gjson.ParseBytes(data)
	if stream {
		switch r.Get("type").Str {
		case "response.completed":
			r = r.Get("response")
		case "response.incomplete", "response.failed", "error":
			return nil, true, false
		default:
			return nil, false, false
		}
	}
	if !r.IsObject() || r.Get("status").Str != "completed" {
		return nil, true, false
	}
	return []byte(r.Raw), true, true
}

// relayState is what a pass-through relay remembers to report a failure
// in the stream's own terms: the upstream's response id and the last
// sequence number.
type relayState struct {
	id  string
	seq int64
}

// failed is a response.failed event for e that continues the relayed
// stream: the next sequence number, the upstream's response id.
func (st *relayState) failed(e *APIError) responses.Event {
	ev := responses.FailedEvent(e)
	if data, err := sjson.SetBytes(ev.Data, "sequence_number", st.seq+1); err == nil {
		ev.Data = data
	}
	if st.id != "" {
		if data, err := sjson.SetBytes(ev.Data, "response.id", st.id); err == nil {
			ev.Data = data
		}
	}
	return ev
}

// relayResponses copies a Responses event stream to the client event by
// event, noting usage (or, without usage, the generated text) in r's
// meter. It
// ends after response.completed or response.incomplete; an upstream
// response.failed or error event is relayed (the provider key redacted
// from it) and ends it with errReported — unless nothing reached the
// client yet and another target may answer (errFailedOver, as the chat and
// Messages relays do); a stream that stops before any of these ends with
// ErrTruncated.
func relayResponses(r relay, body io.Reader, st *relayState) error {
	sr := sse.NewReader(body)
	defer sr.Release()
	m := r.meter()
	st.seq = -1
	for {
		ev, err := sr.Next()
		if err != nil {
			if err == io.EOF {
				return openai.Truncated("no response.completed")
			}
			return err
		}
		f := responses.EventMembers(ev.Data)
		typ := f[0].Str
		if f[1].Exists() {
			st.seq = f[1].Int()
		}
		if f[2].Type == gjson.String && strings.HasSuffix(typ, ".delta") {
			m.noteText(f[2].Str)
		}
		var resp gjson.Result
		switch typ {
		case "response.created", "response.completed", "response.incomplete", "response.failed":
			resp = gjson.GetBytes(ev.Data, "response")
			if id := resp.Get("id"); st.id == "" && id.Type == gjson.String {
				st.id = id.Str
			}
			if u := resp.Get("usage"); u.IsObject() {
				m.noteUsage(responses.UsageOf(u))
			}
		}
		failed := typ == "response.failed" || typ == "error" || ev.Name == "error"
		if failed && r.failOverEvent() {
			return errFailedOver // the same rule as the chat and Messages relays
		}
		data := ev.Data
		if failed {
			data = r.redact(data) // the key an upstream echoes goes no further
		}
		if typ == "response.completed" || typ == "response.incomplete" {
			return r.end(ev.Name, data) // out with the response's end
		}
		if err := r.event(ev.Name, data); err != nil {
			return err
		}
		if failed {
			if err := r.flush(); err != nil {
				return err
			}
			return errReported
		}
	}
}

func (responsesFormat) encodeResponse(r *ChatResponse) ([]byte, error) {
	return responses.FromChat(r, nil)
}

// encodeCall encodes a translated answer as a Response echoing the
// request, with the hosted tools dropped named in
// X-LLMBridge-Dropped-Tools, and the usage estimated when the upstream
// reported none.
func (responsesFormat) encodeCall(r relay, resp *ChatResponse) ([]byte, error) {
	t := translation(r)
	if v := t.DroppedToolsValue(); v != "" {
		r.header().Set(responses.DroppedToolsHeader, v)
	}
	if resp.Usage == nil && r.fromUpstream() {
		cp := *resp
		cp.Usage = r.estimatedUsage()
		resp = &cp
	}
	return responses.FromChat(resp, t)
}

// newStream encodes a canonical stream as the Responses event sequence.
func (responsesFormat) newStream(r relay) streamEncoder {
	t := translation(r)
	if v := t.DroppedToolsValue(); v != "" {
		r.header().Set(responses.DroppedToolsHeader, v) // before the first event commits the headers
	}
	return &responsesStream{r: r, enc: responses.NewStreamEncoder(t)}
}

type responsesStream struct {
	r   relay
	enc *responses.StreamEncoder
	buf []responses.Event
}

// chunk writes the chunk's events. They are flushed when the relay next
// waits for the upstream (httpOutput.relayBody: the provider's decoder
// reads the body the output wrapped), so the events of chunks that arrived
// together go out in one write.
func (s *responsesStream) chunk(ch *ChatChunk) error {
	s.buf = s.enc.Chunk(s.buf[:0], ch)
	return s.write(false)
}

// write writes the events in buf; the last of the stream's (last) as its
// end, which goes out with the response's end (streamWriter.end).
func (s *responsesStream) write(last bool) error {
	for i, ev := range s.buf {
		if last && i == len(s.buf)-1 {
			return s.r.end(ev.Name, ev.Data)
		}
		if err := s.r.event(ev.Name, ev.Data); err != nil {
			return err
		}
	}
	return nil
}

// end closes a finished stream with response.completed (or
// response.incomplete) carrying the usage, estimated when the upstream
// reported none; a failed one gets response.failed, numbered after the
// events sent.
func (s *responsesStream) end(err error) {
	if err == nil {
		s.buf = s.buf[:0]
		if s.r.meter().usage == nil {
			s.buf = s.enc.Chunk(s.buf, &ChatChunk{Usage: s.r.estimatedUsage()})
		}
		s.buf = s.enc.End(s.buf)
		err = s.write(true)
	}
	endResponsesStream(s.r, err, func(e *APIError) []responses.Event { return s.enc.Fail(nil, e) })
}

// endResponsesStream is endStream for Responses streams: once the stream
// has started, a failure is reported by the events failed returns (a
// response.failed that continues the stream) rather than by the
// format's stateless errorEvent.
func endResponsesStream(r relay, err error, failed func(*APIError) []responses.Event) {
	if err == nil || errors.Is(err, errReported) || !r.committed() {
		r.endStream(err) // done, relayed, or still able to answer with an error status
		return
	}
	e := r.failStarted(err)
	if e == nil {
		return // nobody reads any more
	}
	for _, ev := range failed(e) {
		if r.event(ev.Name, ev.Data) != nil {
			return
		}
	}
	_ = r.flush()
}

func (responsesFormat) writeError(w http.ResponseWriter, e *APIError) { openai.WriteError(w, e) }

// errorEvent reports a failure outside any stream state: a response.failed
// event of its own (sequence_number 0). The relays above report their
// failures themselves, continuing the stream's numbering.
func (responsesFormat) errorEvent(e *APIError) (string, []byte) {
	ev := responses.FailedEvent(e)
	return ev.Name, ev.Data
}

func (responsesFormat) keepAlive() (string, []byte, bool) { return "", nil, false }

// replayEntry makes the Responses format a cacheReplayer of the answers
// it keeps in its own wire (replayNative).
func (f responsesFormat) replayEntry(r relay, e *codec.Entry) bool {
	if e.Format != f.name() {
		return false
	}
	replayNative(r, f, e)
	return true
}
