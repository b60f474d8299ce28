package anthropic

import (
	"encoding/json"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/tidwall/gjson"
)

// decodeEvent decodes one Messages stream event into e exactly as
// json.Unmarshal does (FuzzDecodeEvent holds the two equal). The events a
// stream is made of — message_start, content_block_start, the deltas,
// message_delta and the ping and stops between them — are read by hand
// over one copy of data, on a tape (openai.WithValue); errors and anything
// unusual (a name given twice or a case variant of a known one, which
// encoding/json binds) go to json.Unmarshal. A member given null leaves
// its field as it is, as json.Unmarshal does, but for a pointer (nil)
// and input, a json.RawMessage, which holds null.
//
// The copy of data comes from arena when it is not nil (a stream's
// decoder), otherwise from a buffer of its own; the strings read are
// views of it (openai.Value.ReadStringView), the raw input a copy.
func decodeEvent(data []byte, e *event, arena *openai.Arena) error {
	if fastEvent(data, e, arena) {
		return nil
	}
	*e = event{}
	return json.Unmarshal(data, e)
}

// decodeResponse decodes a non-streamed Messages response into r (zero)
// as json.Unmarshal does (FuzzDecodeResponse holds the two equal): read by
// hand on a tape like message_start's message, its strings views of body,
// and by json.Unmarshal when the readers give up.
func decodeResponse(body []byte, r *response) error {
	ok := false
	openai.WithValue(body, func(root openai.Value) { ok = readResponse(root, r) })
	if ok {
		return nil
	}
	*r = response{}
	return json.Unmarshal(body, r)
}

// The JSON names of event, its delta, response, rblock and usageJSON,
// in the order of the readers' switches (TestReaderNames holds them to
// the types').
var (
	eventNames    = []string{"type", "message", "index", "content_block", "delta", "usage", "error"}
	deltaNames    = []string{"type", "text", "partial_json", "thinking", "signature", "stop_reason"}
	responseNames = []string{"id", "model", "content", "stop_reason", "usage"}
	rblockNames   = []string{"type", "text", "thinking", "signature", "id", "name", "input"}
	usageNames    = []string{"input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"}
)

// fastEvent fills e from data and reports whether it could.
func fastEvent(data []byte, e *event, arena *openai.Arena) bool {
	if len(data) == 0 {
		return false
	}
	// The strings below outlive data, which the SSE reader reuses.
	var own []byte
	if arena != nil {
		own = arena.Bytes(data)
	} else {
		own = append([]byte(nil), data...)
	}
	ok := false
	openai.WithValue(own, func(root openai.Value) {
		ok = openai.ReadMembers(root, eventNames, func(i int, v openai.Value) bool {
			if v.Type() == gjson.Null {
				if i == 5 {
					e.Usage = nil
				}
				return i != 6 // error: encoding/json's
			}
			switch i {
			case 0:
				return v.ReadStringView(&e.Type)
			case 1:
				return readResponse(v, &e.Message)
			case 2:
				return v.ReadInt(&e.Index)
			case 3:
				return readBlock(v, &e.Block)
			case 4:
				d := &e.Delta
				dst := [...]*string{&d.Type, &d.Text, &d.PartialJSON, &d.Thinking, &d.Signature, &d.StopReason}
				return openai.ReadMembers(v, deltaNames, func(i int, v openai.Value) bool { return v.ReadStringView(dst[i]) }, nil)
			case 5:
				e.Usage = new(usageJSON)
				return readUsage(v, e.Usage)
			default:
				return false // error: encoding/json's
			}
		}, nil)
	})
	return ok
}

// integer reads an int member; null leaves it as it is.
func integer(v openai.Value, dst *int) bool { return v.Type() == gjson.Null || v.ReadInt(dst) }

// readResponse reads message_start's message.
func readResponse(v openai.Value, r *response) bool {
	return openai.ReadMembers(v, responseNames, func(i int, v openai.Value) bool {
		switch i {
		case 0:
			return v.ReadStringView(&r.ID)
		case 1:
			return v.ReadStringView(&r.Model)
		case 2:
			if v.Type() == gjson.Null {
				r.Content = nil
				return true
			}
			return openai.ReadArray(v, &r.Content, readBlock)
		case 3:
			return v.ReadStringView(&r.StopReason)
		default:
			return v.Type() == gjson.Null || readUsage(v, &r.Usage)
		}
	}, nil)
}

// readBlock reads a content block (content_block_start's, or one of a
// message's).
func readBlock(v openai.Value, b *rblock) bool {
	dst := [...]*string{&b.Type, &b.Text, &b.Thinking, &b.Signature, &b.ID, &b.Name}
	return openai.ReadMembers(v, rblockNames, func(i int, v openai.Value) bool {
		if i < len(dst) {
			return v.ReadStringView(dst[i])
		}
		b.Input = v.ReadRaw()
		return true
	}, nil)
}

// readUsage reads a usage object.
func readUsage(v openai.Value, u *usageJSON) bool {
	dst := [...]*int{&u.InputTokens, &u.OutputTokens, &u.CacheCreationInputTokens, &u.CacheReadInputTokens}
	return openai.ReadMembers(v, usageNames, func(i int, v openai.Value) bool { return integer(v, dst[i]) }, nil)
}
