package anthropic

import (
	"encoding/json"
	"strconv"
	"strings"
	"unsafe"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/tidwall/gjson"
)

// The Messages request is read by hand for the shapes clients send —
// text, tool_use and tool_result blocks, tools, numbers and flags — and
// by json.Unmarshal for the rest: encoding/json validated each nested
// raw member again and read every string through its state machine, so
// a coding agent's 170 kB request took 2.7 ms to decode. Each reader
// below fills its value exactly as json.Unmarshal would
// (FuzzDecodeMessagesFast holds the two equal) or reports false; the
// caller then decodes the whole value with json.Unmarshal, which also
// gives the errors. Members that are rare or have more forms (tool
// choice, thinking, output formats, metadata, a block's source) are
// decoded one by one with json.Unmarshal, which reads a member alone as
// it reads it in its object.

var requestNames = []string{"model", "max_tokens", "messages", "system", "tools", "tool_choice", "stop_sequences",
	"stream", "temperature", "top_p", "thinking", "output_config", "output_format", "metadata"}

// fastRequest reads a Messages request's root into *dst.
func fastRequest(root gjson.Result, dst *inRequest) bool {
	if !root.IsObject() {
		return false
	}
	var in inRequest
	ok := openai.KnownMembers(root, requestNames, func(i int, v gjson.Result) bool {
		switch requestNames[i] {
		case "model":
			return ownString(v, &in.Model)
		case "max_tokens":
			var n int
			in.MaxTokens = &n
			return openai.IntMember(v, &n)
		case "messages":
			return fastArray(v, &in.Messages, func(e gjson.Result, m *inMessage) bool {
				return e.IsObject() && openai.KnownMembers(e, messageNames, func(i int, v gjson.Result) bool {
					if i == 0 {
						return ownString(v, &m.Role)
					}
					m.Content = ownRaw(v)
					return true
				})
			})
		case "system":
			in.System = ownRaw(v)
			return true
		case "tools":
			return fastArray(v, &in.Tools, fastTool)
		case "stream":
			return boolMember(v, &in.Stream)
		case "temperature":
			return floatMember(v, &in.Temperature)
		case "top_p":
			return floatMember(v, &in.TopP)
		case "tool_choice":
			return unmarshalMember(v, &in.ToolChoice)
		case "stop_sequences":
			return unmarshalMember(v, &in.StopSequences)
		case "thinking":
			return unmarshalMember(v, &in.Thinking)
		case "output_config":
			return unmarshalMember(v, &in.OutputConfig)
		case "output_format":
			return unmarshalMember(v, &in.OutputFormat)
		default: // metadata
			return unmarshalMember(v, &in.Metadata)
		}
	})
	if ok {
		*dst = in
	}
	return ok
}

var messageNames = []string{"role", "content"}

var toolNames = []string{"type", "name", "description", "input_schema"}

func fastTool(e gjson.Result, t *inTool) bool {
	return e.IsObject() && openai.KnownMembers(e, toolNames, func(i int, v gjson.Result) bool {
		switch i {
		case 0:
			return ownString(v, &t.Type)
		case 1:
			return ownString(v, &t.Name)
		case 2:
			return ownString(v, &t.Description)
		}
		t.InputSchema = ownRaw(v)
		return true
	})
}

var blockNames = []string{"type", "text", "source", "title", "id", "name", "input", "tool_use_id", "content", "is_error", "thinking"}

// fastBlocks reads a list of content blocks into *dst.
func fastBlocks(root gjson.Result, dst *[]inBlock) bool {
	var blocks []inBlock
	if !fastArray(root, &blocks, fastBlock) {
		return false
	}
	*dst = blocks
	return true
}

func fastBlock(e gjson.Result, b *inBlock) bool {
	return e.IsObject() && openai.KnownMembers(e, blockNames, func(i int, v gjson.Result) bool {
		switch blockNames[i] {
		case "type":
			return ownString(v, &b.Type)
		case "text":
			return ownString(v, &b.Text)
		case "source":
			return unmarshalMember(v, &b.Source)
		case "title":
			return ownString(v, &b.Title)
		case "id":
			return ownString(v, &b.ID)
		case "name":
			return ownString(v, &b.Name)
		case "input":
			b.Input = ownRaw(v)
			return true
		case "tool_use_id":
			return ownString(v, &b.ToolUseID)
		case "content":
			b.Content = ownRaw(v)
			return true
		case "is_error":
			return boolMember(v, &b.IsError)
		default: // thinking
			return ownString(v, &b.Thinking)
		}
	})
}

// fastArray reads the array v into *dst, each element by elem, into a
// new slice (an empty one for [], as json.Unmarshal makes).
func fastArray[T any](v gjson.Result, dst *[]T, elem func(gjson.Result, *T) bool) bool {
	if !v.IsArray() {
		return false
	}
	out := make([]T, 0, 4)
	ok := true
	v.ForEach(func(_, e gjson.Result) bool {
		out = append(out, *new(T))
		ok = elem(e, &out[len(out)-1])
		return ok
	})
	if ok {
		*dst = out
	}
	return ok
}

// ownString reads a JSON string into *dst as json.Unmarshal does, as a
// copy: v refers to the request body.
func ownString(v gjson.Result, dst *string) bool {
	if v.Type != gjson.String {
		return false
	}
	s, ok := openai.Unquote(v.Raw)
	if ok && len(s) == len(v.Raw)-2 { // no escape: a substring of v.Raw
		s = strings.Clone(s)
	}
	*dst = s
	return ok
}

// rawString reads raw, a JSON string a decoder kept as a
// json.RawMessage (valid JSON), as json.Unmarshal reads it into a string;
// false for anything else.
func rawString(raw json.RawMessage) (string, bool) {
	s, ok := openai.Unquote(unsafe.String(unsafe.SliceData(raw), len(raw)))
	if ok && len(s) == len(raw)-2 { // no escape: raw's own bytes
		s = strings.Clone(s)
	}
	return s, ok
}

// ownRaw is a copy of v's JSON text, as json.Unmarshal fills a
// json.RawMessage.
func ownRaw(v gjson.Result) json.RawMessage {
	return json.RawMessage(append([]byte(nil), v.Raw...))
}

func boolMember(v gjson.Result, dst *bool) bool {
	*dst = v.Type == gjson.True
	return v.Type == gjson.True || v.Type == gjson.False
}

func floatMember(v gjson.Result, dst **float64) bool {
	if v.Type != gjson.Number {
		return false
	}
	f, err := strconv.ParseFloat(v.Raw, 64)
	*dst = &f
	return err == nil
}

// unmarshalMember decodes one member's value into dst with
// json.Unmarshal.
func unmarshalMember[T any](v gjson.Result, dst *T) bool {
	return json.Unmarshal([]byte(v.Raw), dst) == nil
}
