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
// (BenchmarkDecodeMessages). Each level is read once onto a tape
// (openai.DecodeExactFast), and each reader below fills its value exactly
// as json.Unmarshal would (FuzzDecodeMessagesFast holds the two equal) or
// reports false; the caller then decodes the whole value with
// json.Unmarshal, which also gives the errors. Members that are rare or
// have more forms (tool choice, thinking, output formats, metadata, a
// block's source) are decoded one by one with json.Unmarshal, which
// reads a member alone as it reads it in its object.

var requestNames = []string{"model", "max_tokens", "messages", "system", "tools", "tool_choice", "stop_sequences",
	"stream", "temperature", "top_p", "thinking", "output_config", "output_format", "metadata"}

// fastRequest reads a Messages request's root into *dst.
func fastRequest(root openai.Value, dst *inRequest) bool {
	var in inRequest
	ok := openai.ReadMembers(root, requestNames, func(i int, v openai.Value) bool {
		if v.Type() == gjson.Null {
			return false // json.Unmarshal's null rules differ per field: its path
		}
		switch requestNames[i] {
		case "model":
			return v.ReadString(&in.Model)
		case "max_tokens":
			var n int
			in.MaxTokens = &n
			return v.ReadInt(&n)
		case "messages":
			return openai.ReadArray(v, &in.Messages, fastMessage)
		case "system":
			in.System = v.ReadRaw()
			return true
		case "tools":
			return openai.ReadArray(v, &in.Tools, fastTool)
		case "stream":
			return v.ReadBool(&in.Stream)
		case "temperature":
			return v.ReadFloatPtr(&in.Temperature)
		case "top_p":
			return v.ReadFloatPtr(&in.TopP)
		case "tool_choice":
			return v.Unmarshal(&in.ToolChoice)
		case "stop_sequences":
			return v.Unmarshal(&in.StopSequences)
		case "thinking":
			return v.Unmarshal(&in.Thinking)
		case "output_config":
			return v.Unmarshal(&in.OutputConfig)
		case "output_format":
			return v.Unmarshal(&in.OutputFormat)
		default: // metadata
			return v.Unmarshal(&in.Metadata)
		}
	}, nil)
	if ok {
		*dst = in
	}
	return ok
}

var messageNames = []string{"role", "content"}

func fastMessage(e openai.Value, m *inMessage) bool {
	return openai.ReadMembers(e, messageNames, func(i int, v openai.Value) bool {
		switch {
		case v.Type() == gjson.Null:
			return false
		case i == 0:
			return v.ReadString(&m.Role)
		}
		m.Content = v.ReadRaw()
		return true
	}, nil)
}

var toolNames = []string{"type", "name", "description", "input_schema"}

func fastTool(e openai.Value, t *inTool) bool {
	return openai.ReadMembers(e, toolNames, func(i int, v openai.Value) bool {
		switch {
		case v.Type() == gjson.Null:
			return false
		case i == 0:
			return v.ReadString(&t.Type)
		case i == 1:
			return v.ReadString(&t.Name)
		case i == 2:
			return v.ReadString(&t.Description)
		}
		t.InputSchema = v.ReadRaw()
		return true
	}, nil)
}

var blockNames = []string{"type", "text", "source", "title", "id", "name", "input", "tool_use_id", "content", "is_error", "thinking"}

// fastBlocks reads a list of content blocks into *dst.
func fastBlocks(root openai.Value, dst *[]inBlock) bool {
	return openai.ReadArray(root, dst, fastBlock)
}

func fastBlock(e openai.Value, b *inBlock) bool {
	return openai.ReadMembers(e, blockNames, func(i int, v openai.Value) bool {
		if v.Type() == gjson.Null {
			return false
		}
		switch blockNames[i] {
		case "type":
			return v.ReadString(&b.Type)
		case "text":
			return v.ReadString(&b.Text)
		case "source":
			return v.Unmarshal(&b.Source)
		case "title":
			return v.ReadString(&b.Title)
		case "id":
			return v.ReadString(&b.ID)
		case "name":
			return v.ReadString(&b.Name)
		case "input":
			b.Input = v.ReadRaw()
			return true
		case "tool_use_id":
			return v.ReadString(&b.ToolUseID)
		case "content":
			b.Content = v.ReadRaw()
			return true
		case "is_error":
			return v.ReadBool(&b.IsError)
		default: // thinking
			return v.ReadString(&b.Thinking)
		}
	}, nil)
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
