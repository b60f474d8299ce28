package llmbridge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// parse reads the envelope and, when it is good, checks every member the
// API documents (the envelope parser has checked the JSON already); a
// model name refused for its length is clipped for the record.
func (chatFormat) parse(body []byte) envelope {
	env := parseEnvelope(body)
	if env.bad == nil {
		env.bad = openai.ValidateChatJSON(body)
	}
	env.model = openai.ClipModel(env.model)
	return env
}

func (chatFormat) decode(body []byte) (*ChatRequest, *APIError) { return decodeRequest(body) }

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
func (chatFormat) relayNative(c *call, o *httpOutput, resp *http.Response) {
	if c.env.stream {
		err := relayRaw(o.sw, resp.Body, c)
		resp.Body.Close()
		endStream(c, o.sw, err)
		return
	}
	o.relayBody(c, resp, func(out []byte) {
		// One pass over the top level of a read-only view (out is JSON,
		// so not empty): the usage, and for the cache the finish reasons.
		var u gjson.Result
		gjson.Parse(unsafe.String(&out[0], len(out))).ForEach(func(k, v gjson.Result) bool {
			switch k.Str {
			case "usage":
				u = v
			case "choices":
				if c.tap != nil {
					c.tap.body = out
					c.tap.choices(v)
				}
			}
			return true
		})
		if u.IsObject() {
			c.rawUsage = []byte(u.Raw)
		} else {
			c.text = openai.AppendMessageText(c.text, out)
			c.boundText()
		}
	})
}

// newStream encodes canonical chunks as OpenAI chunks, applying the usage
// rules of openai.SplitUsage, and ends a finished stream with [DONE].
func (chatFormat) newStream(c *call, sw *streamWriter) streamEncoder {
	return &chatStream{c: c, sw: sw}
}

type chatStream struct {
	c  *call
	sw *streamWriter
}

func (s *chatStream) chunk(ch *ChatChunk) error {
	for _, out := range openai.SplitUsage(ch, s.c.env.includeUsage) {
		b, err := openai.Marshal(out)
		if err != nil {
			return err
		}
		if err := s.sw.data(b); err != nil {
			return err
		}
	}
	return nil
}

func (s *chatStream) end(err error) {
	if err == nil {
		err = s.sw.end("", sse.Done)
	}
	endStream(s.c, s.sw, err)
}

// parseEnvelope validates the top level of a request body: valid JSON, an
// object, "model" a non-empty string, "messages" a non-empty array,
// "stream" a boolean and "stream_options" an object when present, none
// of these given twice, and no member that differs from a member of the
// API only in case. Whatever it could read is kept even when the body
// is refused (envelope.bad), for the record.
func parseEnvelope(body []byte) envelope {
	var env envelope
	if !json.Valid(body) {
		env.bad = badRequest("", "invalid_json", "We could not parse the JSON body of your request: it is not valid JSON.")
		return env
	}
	root := gjson.ParseBytes(body)
	if !root.IsObject() {
		env.bad = badRequest("", "invalid_request", "The request body must be a JSON object.")
		return env
	}
	top := readChatTop(root)
	if top.dup == "" && top.variant == nil && top.model.Type == gjson.String {
		env.model = top.model.Str
	}
	env.stream = top.stream.Type == gjson.True
	if env.bad = top.check(); env.bad == nil {
		env.includeUsage = top.opts.Get("include_usage").Type == gjson.True
	}
	return env
}

// chatTop is what parseEnvelope reads of a request's top level: the
// members it checks (the zero Result when not given), and the first
// refused name, if any: one of them given twice (dup), or a member that
// differs from a member of the API only in case (variant).
type chatTop struct {
	model, messages, stream, opts gjson.Result
	dup                           string
	variant                       *openai.MemberFault
}

// readChatTop reads root's members up to the first refused name.
func readChatTop(root gjson.Result) chatTop {
	var top chatTop
	seen := map[string]bool{}
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "model", "messages", "stream", "stream_options":
			if seen[k.Str] {
				top.dup = k.Str
				return false
			}
			seen[k.Str] = true
		default:
			// "Model" beside or instead of "model": a Go upstream would
			// read it as model, unseen by admission and validation.
			// (ValidateChatJSON checks every object for names given twice.)
			top.variant = openai.ChatMembers().CheckName(k.Str)
			return top.variant == nil
		}
		switch k.Str {
		case "model":
			top.model = v
		case "messages":
			top.messages = v
		case "stream":
			top.stream = v
		case "stream_options":
			top.opts = v
		}
		return true
	})
	return top
}

// check is the error for the top level's first problem: a refused name,
// a missing or ill-typed member, or empty messages; nil when it has none.
func (top *chatTop) check() *APIError {
	switch {
	case top.variant != nil:
		return top.variant.APIError()
	case top.dup != "":
		return badRequest(top.dup, "invalid_request", "The member %q is given more than once.", top.dup)
	case !top.model.Exists():
		return badRequest("model", "missing_required_parameter", "You must provide a model parameter.")
	case top.model.Type != gjson.String:
		return badRequest("model", "invalid_type", "model must be a string.")
	case top.model.Str == "":
		return badRequest("model", "invalid_value", "model must not be empty.")
	case !top.messages.Exists():
		return badRequest("messages", "missing_required_parameter", "Missing required parameter: 'messages'.")
	case !top.messages.IsArray():
		return badRequest("messages", "invalid_type", "messages must be an array.")
	case len(top.messages.Array()) == 0:
		return badRequest("messages", "invalid_value", "messages must contain at least one message.")
	case top.stream.Exists() && top.stream.Type != gjson.True && top.stream.Type != gjson.False && top.stream.Type != gjson.Null:
		return badRequest("stream", "invalid_type", "stream must be a boolean.")
	case top.opts.Exists() && top.opts.Type != gjson.Null && !top.opts.IsObject():
		return badRequest("stream_options", "invalid_type", "stream_options must be an object.")
	}
	return nil
}

// decodeRequest decodes a full typed request for providers without raw
// pass-through, naming the offending member in the error.
func decodeRequest(body []byte) (*ChatRequest, *APIError) {
	var req ChatRequest
	if err := json.Unmarshal(body, &req); err != nil {
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
// chunk when it did. Usage seen is stored in c.
func relayRaw(sw *streamWriter, body io.Reader, c *call) error {
	r := sse.NewReader(body)
	if c.tap != nil {
		c.tap.startStream()
	}
	for {
		ev, err := r.Next()
		if err != nil {
			if err == io.EOF {
				return ErrTruncated
			}
			return err
		}
		data := ev.Data
		if bytes.Equal(data, sse.Done) {
			if c.tap != nil {
				c.tap.done = true
			}
			return sw.end("", data)
		}
		info := openai.InspectChunk(data, &c.text)
		c.boundText()
		if info.Error {
			if c.failOverEvent(sw) {
				return errFailedOver
			}
			// The upstream's own error event: pass it on, without the
			// key it may echo, and end without [DONE], whatever follows.
			if err := sw.data(redactKey(c, data)); err != nil {
				return err
			}
			return errReported
		}
		if c.tap != nil {
			c.tap.event(data, &info)
		}
		if info.Usage != nil {
			c.rawUsage = append(c.rawUsage[:0], info.Usage...)
		}
		if err := writeChunk(sw, data, &info, c.env.includeUsage); err != nil {
			return err
		}
	}
}

// redactKey removes the provider key of c's target from an upstream error
// event before it is relayed: upstreams echo the key they were sent
// ("Incorrect API key provided: sk-…"), and what the bridge says of a
// non-streamed error has it redacted by the provider (Endpoint.Redact)
// the same way.
func redactKey(c *call, data []byte) []byte {
	p := c.target.up.p
	if c.target.key != nil {
		p = c.target.key.p // the key this request used
	}
	if k, ok := p.(interface{ APIKey() string }); ok {
		return openai.RedactJSON(data, k.APIKey())
	}
	return data
}

// writeChunk writes an OpenAI chunk to the client under the usage rules:
// a usage-only chunk only when the client asked for usage, and a chunk
// with both choices and usage (DeepSeek's last) split in two when it did.
func writeChunk(sw *streamWriter, data []byte, info *openai.ChunkInfo, includeUsage bool) error {
	if info.Usage != nil {
		switch {
		case info.NoChoices && !includeUsage:
			return nil
		case !info.NoChoices && includeUsage:
			finish, err := sjson.SetRawBytes(data, "usage", []byte("null"))
			if err != nil {
				return err
			}
			if err := sw.data(finish); err != nil {
				return err
			}
			data = openai.UsageChunk(data, info.Usage)
		}
	}
	return sw.data(data)
}

// usageMember is how a usage object starts in a chunk. It cannot occur
// inside a JSON string (a quote there is escaped), so a chunk without it
// has no usage (replayChunks' fast path).
var usageMember = []byte(`"usage":{`)

// replayChunks writes stored OpenAI chunks (a cache hit) to the client:
// the usage rules of the relay, without reading the chunks that carry no
// usage.
func replayChunks(sw *streamWriter, chunks []json.RawMessage, includeUsage bool) error {
	for _, ch := range chunks {
		var info openai.ChunkInfo
		if bytes.Contains(ch, usageMember) {
			info = openai.InspectChunk(ch, nil)
		}
		if err := writeChunk(sw, ch, &info, includeUsage); err != nil {
			return err
		}
	}
	return sw.end("", sse.Done)
}

// replayEntry makes the chat format a cacheReplayer: the canonical wire is
// the chat client's own, so stored chunks (or a stored body split into
// chunks) are written as they are under the relay's usage rules
// (replayChunks) and a stored body goes through the pass-through relay;
// nothing is decoded. Native entries of other formats are not its.
func (chatFormat) replayEntry(c *call, o *httpOutput, e *codec.Entry) bool {
	switch {
	case e.Format != "":
		return false
	case c.env.stream:
		chunks, err := e.RawChunks()
		if err != nil {
			o.fail(c, c.ownError("cache", err))
			return true
		}
		o.openStream(c)
		endStream(c, o.sw, replayChunks(o.sw, chunks, c.env.includeUsage))
		return true
	case e.Response != nil:
		o.native(c, &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(e.Response))})
		return true
	}
	return false
}

// tapped makes the chat format a tappedFormat: relayRaw and relayNative
// feed c.tap as they write.
func (chatFormat) tapped() {}
