package anthropic

import (
	"encoding/json"
	"strings"
	"unsafe"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/tidwall/gjson"
)

// The Messages request is read by hand for the shapes clients send —
// text, tool_use and tool_result blocks, tools, numbers and flags — and
// by json.Unmarshal for the rest: encoding/json validated each nested
// raw member again and read every string through its state machine, so
// a coding agent's 110 kB request took 2.6 ms to decode
// (BenchmarkDecodeMessages). Each reader below fills its value exactly
// as json.Unmarshal would (FuzzDecodeMessagesFast holds the two equal) or
// reports false; the caller then decodes the whole value with
// json.Unmarshal, which also gives the errors. Members that are rare or
// have more forms (tool choice, thinking, output formats, metadata, a
// block's source) are decoded one by one with json.Unmarshal, which
// reads a member alone as it reads it in its object.

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
			return openai.OwnString(v, &in.Model)
		case "max_tokens":
			var n int
			in.MaxTokens = &n
			return openai.IntMember(v, &n)
		case "messages":
			return openai.ArrayMember(v, &in.Messages, func(e gjson.Result, m *inMessage) bool {
				return e.IsObject() && openai.KnownMembers(e, messageNames, func(i int, v gjson.Result) bool {
					if i == 0 {
						return openai.OwnString(v, &m.Role)
					}
					m.Content = openai.RawMember(v)
					return true
				})
			})
		case "system":
			in.System = openai.RawMember(v)
			return true
		case "tools":
			return openai.ArrayMember(v, &in.Tools, fastTool)
		case "stream":
			return openai.BoolMember(v, &in.Stream)
		case "temperature":
			return openai.FloatMember(v, &in.Temperature)
		case "top_p":
			return openai.FloatMember(v, &in.TopP)
		case "tool_choice":
			return openai.UnmarshalMember(v, &in.ToolChoice)
		case "stop_sequences":
			return openai.UnmarshalMember(v, &in.StopSequences)
		case "thinking":
			return openai.UnmarshalMember(v, &in.Thinking)
		case "output_config":
			return openai.UnmarshalMember(v, &in.OutputConfig)
		case "output_format":
			return openai.UnmarshalMember(v, &in.OutputFormat)
		default: // metadata
			return openai.UnmarshalMember(v, &in.Metadata)
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
			return openai.OwnString(v, &t.Type)
		case 1:
			return openai.OwnString(v, &t.Name)
		case 2:
			return openai.OwnString(v, &t.Description)
		}
		t.InputSchema = openai.RawMember(v)
		return true
	})
}

var blockNames = []string{"type", "text", "source", "title", "id", "name", "input", "tool_use_id", "content", "is_error", "thinking"}

// fastBlocks reads a list of content blocks into *dst.
func fastBlocks(root gjson.Result, dst *[]inBlock) bool {
	var blocks []inBlock
	if !openai.ArrayMember(root, &blocks, fastBlock) {
		return false
	}
	*dst = blocks
	return true
}

func fastBlock(e gjson.Result, b *inBlock) bool {
	return e.IsObject() && openai.KnownMembers(e, blockNames, func(i int, v gjson.Result) bool {
		switch blockNames[i] {
		case "type":
			return openai.OwnString(v, &b.Type)
		case "text":
			return openai.OwnString(v, &b.Text)
		case "source":
			return openai.UnmarshalMember(v, &b.Source)
		case "title":
			return openai.OwnString(v, &b.Title)
		case "id":
			return openai.OwnString(v, &b.ID)
		case "name":
			return openai.OwnString(v, &b.Name)
		case "input":
			b.Input = openai.RawMember(v)
			return true
		case "tool_use_id":
			return openai.OwnString(v, &b.ToolUseID)
		case "content":
			b.Content = openai.RawMember(v)
			return true
		case "is_error":
			return openai.BoolMember(v, &b.IsError)
		default: // thinking
			return openai.OwnString(v, &b.Thinking)
		}
	})
}

// rawString reads raw, a JSON string a decoder kept as a
// json.RawMessage (valid JSON), as json.Unmarshal reads it into a string;
// false for anything else. The text is copied even when it has no
// escape: raw is a decoder's own copy today, but a string must not
// depend on nobody writing to a byte slice later.
func rawString(raw json.RawMessage) (string, bool) {
	in := unsafe.String(unsafe.SliceData(raw), len(raw))
	s, ok := openai.Unquote(in)
	if ok && len(s) > 0 && unsafe.StringData(s) == unsafe.StringData(in[1:]) { // no escape: raw's own bytes
		s = strings.Clone(s)
	}
	return s, ok
}
