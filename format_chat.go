package llmbridge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"unsafe"

	"github.com/llmbridge/llmbridge/internal/cache/codec"
	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/sse"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// chatFormat is OpenAI's Chat Completions API, the canonical format:
// providers that implement OpenAIWire get the client's bytes; the others
// translate the decoded request.
type chatFormat struct{}

func (chatFormat) name() string { return "chat" }

func (chatFormat) patterns() []string {
	// Some clients append the path to a base URL without /v1.
	return []string{"POST /v1/chat/completions", "POST /chat/completions"}
}

// parse reads the envelope and checks every member the API documents, in
// one reading of the body (openai.ParseChat); a model name refused for
// its length is clipped for the record.
func (chatFormat) parse(body []byte) envelope {
	e, bad := openai.ParseChat(body)
	return envelope{model: openai.ClipModel(e.Model), stream: e.Stream, includeUsage: e.IncludeUsage, bad: bad,
		sampling: sampling{n: e.N, temp: e.Temperature, read: true, hasN: e.HasN, hasTemp: e.HasTemperature},
		text:     e.TextBytes, textRead: true}
}

func (chatFormat) decode(body []byte, _ *slog.Logger) (*ChatRequest, *APIError) {
	return decodeRequest(body)
}

func (chatFormat) passThrough(p Provider) rawRequest {
	if w, ok := p.(OpenAIWire); ok {
		return openAIRaw(w)
	}
	return nil
}

func (chatFormat) encodeResponse(r *ChatResponse) ([]byte, error) { return openai.Marshal(r) }

func (chatFormat) writeError(w http.ResponseWriter, e *APIError) { openai.WriteError(w, e) }

func (chatFormat) keepAlive() (string, []byte, bool) { return "", nil, false }

func (chatFormat) errorEvent(e *APIError) (string, []byte) {
	body, _ := openai.Marshal(e)
	return "", body
}

// relayNative relays an OpenAI-format answer. A non-streamed body is
// passed on as it came, its usage (or, without usage, its text) noted.
func (chatFormat) relayNative(r relay, resp *http.Response) {
	if r.stream() {
		err := relayRaw(r, resp.Body)
		closeRelayed(resp.Body, err)
		r.endStream(err)
		return
	}
	m := r.meter()
	r.relayBody(resp, func(out []byte) {
		// One pass over the top level of a read-only view (out is JSON,
		// so not empty): the usage, and for the cache the finish reasons.
		var u gjson.Result
		gjson.Parse(unsafe.String(&out[0], len(out))).ForEach(func(k, v gjson.Result) bool {
			switch k.Str {
			case "usage":
				u = v
			case "choices":
				if m.tap != nil {
					m.tap.body = out
					m.tap.choices(v)
				}
			}
			return true
		})
		if u.IsObject() {
			m.noteRawUsageString(u.Raw)
		} else {
			m.text = openai.AppendMessageText(m.text, out)
			m.boundText()
		}
	})
}

// newStream encodes canonical chunks as OpenAI chunks, applying the usage
// rules of openai.SplitUsage, and ends a finished stream with [DONE].
func (chatFormat) newStream(r relay) streamEncoder {
	return &chatStream{r: r}
}

type chatStream struct{ r relay }

func (s *chatStream) chunk(ch *ChatChunk) error {
	for _, out := range openai.SplitUsage(ch, s.r.includeUsage()) {
		b, err := openai.Marshal(out)
		if err != nil {
			return err
		}
		if err := s.r.data(b); err != nil {
			return err
		}
	}
	return nil
}

func (s *chatStream) end(err error) {
	if err == nil {
		err = s.r.end("", sse.Done)
	}
	s.r.endStream(err)
}

// decodeRequest decodes a full typed request for providers without raw
// pass-through, naming the offending member in the error.
func decodeRequest(body []byte) (*ChatRequest, *APIError) {
	var req ChatRequest
	if err := openai.UnmarshalChat(body, &req); err != nil {
		msg := err.Error()
		param := ""
		var te *json.UnmarshalTypeError
		var mf *openai.MemberFault
		switch {
		case errors.As(err, &mf):
			// A member below the top level that differs from a known one
			// only in case ("Content" in a message): the decoders refuse
			// to bind it (openai.DecodeWithExtra). Its path is relative
			// to the object that holds it.
			return nil, mf.APIError()
		case errors.As(err, &te):
			param = te.Field
			msg = fmt.Sprintf("Invalid type for '%s': expected %s, got %s.", te.Field, te.Type, te.Value)
		}
		return nil, &APIError{Status: http.StatusBadRequest, Type: ErrorTypeInvalidRequest, Code: "invalid_type", Param: param, Message: msg}
	}
	return &req, nil
}

// relayRaw copies an OpenAI-format SSE body to the client event by event,
// unchanged except for usage handling: the usage chunk the bridge asked for
// is dropped when the client did not ask for it, and a finish chunk carrying
// usage (DeepSeek) is split into the finish chunk and an OpenAI-style usage
// chunk when it did. Usage and text seen are noted in r's meter.
func relayRaw(r relay, body io.Reader) error {
	sr := sse.NewReader(body)
	defer sr.Release()
	m := r.meter()
	if m.tap != nil {
		m.tap.startStream()
	}
	var chunks openai.ChunkInspector // reads each chunk from its stream's repeated head on
	for {
		ev, err := sr.Next()
		if err != nil {
			if err == io.EOF {
				return ErrTruncated
			}
			return err
		}
		data := ev.Data
		if bytes.Equal(data, sse.Done) {
			if m.tap != nil {
				m.tap.done = true
			}
			return r.end("", data)
		}
		info := chunks.Inspect(data, &m.text)
		m.boundText()
		if info.Error {
			if r.failOverEvent() {
				return errFailedOver
			}
			// The upstream's own error event: pass it on, without the
			// key it may echo, and end without [DONE], whatever follows.
			if err := r.data(r.redact(data)); err != nil {
				return err
			}
			return errReported
		}
		if m.tap != nil {
			head, rest := chunks.Short()
			m.tap.event(data, &info, head, rest)
		}
		if info.Usage != nil {
			m.noteRawUsage(info.Usage)
		}
		if err := writeChunk(r, data, &info); err != nil {
			return err
		}
	}
}

// writeChunk writes an OpenAI chunk to the client under the usage rules:
// a usage-only chunk only when the client asked for usage, and a chunk
// with both choices and usage (DeepSeek's last) split in two when it did,
// or without its usage when it did not (the bridge asked for it).
func writeChunk(r relay, data []byte, info *openai.ChunkInfo) error {
	if info.Usage != nil {
		switch {
		case info.NoChoices && !r.includeUsage():
			return nil
		case !r.includeUsage():
			var err error
			if data, err = sjson.DeleteBytes(data, "usage"); err != nil {
				return err
			}
		case !info.NoChoices:
			finish, err := sjson.SetRawBytes(data, "usage", []byte("null"))
			if err != nil {
				return err
			}
			if err := r.data(finish); err != nil {
				return err
			}
			data = openai.UsageChunk(data, info.Usage)
		}
	}
	return r.data(data)
}

// usageName is the name of a chunk's usage member, quoted: a chunk
// without these bytes has no usage (replayChunks' fast path). Only the
// name: an upstream may write space before the colon or the brace
// ("usage": {), which a test for `"usage":{` missed.
var usageName = []byte(`"usage"`)

// replayChunks writes stored OpenAI chunks (a cache hit) to the client:
// the usage rules of the relay, without reading the chunks that carry no
// usage.
func replayChunks(r relay, chunks []json.RawMessage) error {
	for _, ch := range chunks {
		var info openai.ChunkInfo
		if bytes.Contains(ch, usageName) {
			info = openai.InspectChunk(ch, nil)
		}
		if err := writeChunk(r, ch, &info); err != nil {
			return err
		}
	}
	return r.end("", sse.Done)
}

// replayEntry makes the chat format a cacheReplayer: the canonical wire is
// the chat client's own, so stored chunks (or a stored body split into
// chunks) are written as they are under the relay's usage rules
// (replayChunks) and a stored body goes through the pass-through relay;
// nothing is decoded. Native entries of other formats are not its.
func (chatFormat) replayEntry(r relay, e *codec.Entry) bool {
	switch {
	case e.Format != "":
		return false
	case r.stream():
		chunks, err := e.RawChunks()
		if err != nil {
			r.failOwn("cache", err)
			return true
		}
		r.openStream()
		r.endStream(replayChunks(r, chunks))
		return true
	case e.Response != nil:
		r.native(&http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(e.Response))})
		return true
	}
	return false
}

// tapped makes the chat format a tappedFormat: relayRaw and relayNative
// feed the meter's tap as they write.
func (chatFormat) tapped() {}

// sampling is a request's "n" and "temperature" (when numbers), which the
// cache asks about (call.deterministic); read says the format's parse
// read them, so that the body is not read again.
type sampling struct {
	n                   int64
	temp                float64
	read, hasN, hasTemp bool
}

// bodySampling reads "n" and "temperature" from the top level of a body
// in one pass over a read-only view of it (nothing read outlives the
// call); the last of each counts, as a decoder takes them.
func bodySampling(body []byte) sampling {
	var sp sampling
	gjson.Parse(unsafe.String(&body[0], len(body))).ForEach(func(k, v gjson.Result) bool {
		switch {
		case v.Type != gjson.Number:
		case k.Str == "n":
			sp.n, sp.hasN = v.Int(), true
		case k.Str == "temperature":
			sp.temp, sp.hasTemp = v.Float(), true
		}
		return true
	})
	return sp
}

// chatSampling is an in-process request's sampling.
func chatSampling(r *ChatRequest) sampling {
	var sp sampling
	if r.N != nil {
		sp.n, sp.hasN = int64(*r.N), true
	}
	if r.Temperature != nil {
		sp.temp, sp.hasTemp = *r.Temperature, true
	}
	return sp
}
