package anthropic

import (
	"encoding/json"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/tidwall/gjson"
)

// decodeEvent decodes one Messages stream event into e exactly as
// json.Unmarshal does (FuzzDecodeEvent holds the two equal). The events
// that carry a stream's text — content_block_delta, and the ping,
// content_block_stop and message_stop around it — are read by hand over
// one copy of data; message_start, content_block_start, message_delta,
// errors and anything unusual go to json.Unmarshal.
//
// The copy of data comes from arena when it is not nil (a stream's
// decoder), otherwise from a string of its own.
func decodeEvent(data []byte, e *event, arena *openai.Arena) error {
	if fastEvent(data, e, arena) {
		return nil
	}
	*e = event{}
	return json.Unmarshal(data, e)
}

// eventNames are event's JSON names; deltaNames those of its delta.
var (
	eventNames = []string{"type", "message", "index", "content_block", "delta", "usage", "error"}
	deltaNames = []string{"type", "text", "partial_json", "thinking", "signature", "stop_reason"}
)

// fastEvent fills e from data and reports whether it could.
func fastEvent(data []byte, e *event, arena *openai.Arena) bool {
	if len(data) == 0 || !openai.ValidJSON(data) {
		return false
	}
	// The strings below outlive data, which the SSE reader reuses.
	var own string
	if arena != nil {
		own = arena.String(data)
	} else {
		own = string(data)
	}
	root := gjson.Parse(own)
	if !root.IsObject() {
		return false
	}
	return openai.KnownMembers(root, eventNames, func(i int, v gjson.Result) bool {
		switch i {
		case 0:
			return openai.StringMember(v, &e.Type)
		case 2:
			return openai.IntMember(v, &e.Index)
		case 4:
			d := &e.Delta
			dst := [...]*string{&d.Type, &d.Text, &d.PartialJSON, &d.Thinking, &d.Signature, &d.StopReason}
			return v.IsObject() && openai.KnownMembers(v, deltaNames, func(i int, v gjson.Result) bool {
				return openai.StringMember(v, dst[i])
			})
		default:
			return false // message, content_block, usage, error: encoding/json's
		}
	})
}
