package bedrock

import (
	"encoding/json"
	"unsafe"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/tidwall/gjson"
)

// decodeEvent decodes one ConverseStream event payload into e (zero)
// exactly as json.Unmarshal does (FuzzDecodeEvent holds the two equal).
// The events a text or tool stream is made of — messageStart, the text
// and tool-input deltas, contentBlockStop, messageStop, metadata's usage
// — are read by hand
// on a tape (openai.WithValue), their strings copied into mem (the
// payload is the frame reader's buffer); a tool's start, reasoning,
// exceptions and anything unusual (a name given twice or a case
// variant of a known one, which encoding/json binds) go to json.Unmarshal.
func decodeEvent(payload []byte, e *event, mem *eventMemory) error {
	ok := false
	openai.WithValue(payload, func(root openai.Value) { ok = fastEvent(root, e, mem) })
	if ok {
		return nil
	}
	*e = event{}
	return json.Unmarshal(payload, e)
}

// eventMemory is where a stream's events keep what they read: the
// strings, and the texts a delta points to.
type eventMemory struct {
	strs  openai.Arena
	texts openai.Slab[string]
}

// The JSON names of event, its delta, a tool's input and usageJSON, in
// the order of the readers'
// switches (TestEventReaderNames holds them to the types').
var (
	eventNames     = []string{"role", "contentBlockIndex", "stopReason", "start", "delta", "usage", "message"}
	deltaNames     = []string{"text", "toolUse", "reasoningContent"}
	toolInputNames = []string{"input"}
	usageNames     = []string{"inputTokens", "outputTokens", "cacheReadInputTokens", "cacheWriteInputTokens"}
)

// fastEvent fills e from root and reports whether it could.
func fastEvent(root openai.Value, e *event, mem *eventMemory) bool {
	return openai.ReadMembers(root, eventNames, func(i int, v openai.Value) bool {
		if v.Type() == gjson.Null {
			if i == 5 {
				e.Usage = nil
			}
			return i != 3 && i != 4 // null start or delta: encoding/json's
		}
		switch i {
		case 0:
			return str(v, &e.Role, mem)
		case 1:
			return v.ReadInt(&e.Index)
		case 2:
			return str(v, &e.StopReason, mem)
		case 4:
			return fastDelta(v, e, mem)
		case 5:
			u := new(usageJSON)
			e.Usage = u
			dst := [...]*int{&u.InputTokens, &u.OutputTokens, &u.CacheReadInputTokens, &u.CacheWriteInputTokens}
			return openai.ReadMembers(v, usageNames, func(i int, v openai.Value) bool {
				return v.Type() == gjson.Null || v.ReadInt(dst[i])
			}, nil)
		case 6:
			return str(v, &e.Message, mem)
		default:
			return false // a tool's start: encoding/json's
		}
	}, nil)
}

// fastDelta reads a contentBlockDelta's text or tool input.
func fastDelta(v openai.Value, e *event, mem *eventMemory) bool {
	return openai.ReadMembers(v, deltaNames, func(i int, v openai.Value) bool {
		switch {
		case v.Type() == gjson.Null:
			return i != 1 // a null toolUse: encoding/json's
		case i == 0:
			s := mem.texts.New()
			e.Delta.Text = s
			return str(v, s, mem)
		case i == 1:
			return fastToolInput(v, e, mem)
		default:
			return false // reasoning: encoding/json's
		}
	}, nil)
}

// toolInput is the type of event.Delta.ToolUse's value.
type toolInput = struct {
	Input string `json:"input"`
}

// fastToolInput reads a tool-input delta ({"input": "…"}).
func fastToolInput(v openai.Value, e *event, mem *eventMemory) bool {
	t := new(toolInput)
	e.Delta.ToolUse = t
	return openai.ReadMembers(v, toolInputNames, func(_ int, v openai.Value) bool { return str(v, &t.Input, mem) }, nil)
}

// str reads a JSON string into *dst, a copy in arena (null leaves it).
func str(v openai.Value, dst *string, mem *eventMemory) bool {
	var view string
	if !v.ReadStringView(&view) {
		return false
	}
	if view != "" {
		*dst = mem.strs.String(unsafe.Slice(unsafe.StringData(view), len(view)))
	}
	return true
}
