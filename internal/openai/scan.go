package openai

import (
	"strings"

	"github.com/tidwall/gjson"
)

// ChunkInfo is what the relay needs to know about one OpenAI-format stream
// chunk, read without decoding it.
type ChunkInfo struct {
	// Usage is the raw usage object, nil when absent or null.
	Usage []byte
	// NoChoices is true when "choices" is an empty array (the usage chunk).
	NoChoices bool
	// Error is true when the chunk is an error event ({"error":…}).
	Error bool
	// Choices is the raw "choices" array, for AppendDeltaText.
	Choices string
}

// InspectChunk looks at the top-level members of a chunk. Only top-level
// members count: a "usage" key nested in a tool's arguments does not.
func InspectChunk(data []byte) ChunkInfo {
	var info ChunkInfo
	gjson.ParseBytes(data).ForEach(func(key, value gjson.Result) bool {
		switch key.Str {
		case "usage":
			if value.IsObject() {
				info.Usage = []byte(value.Raw)
			}
		case "choices":
			info.NoChoices = value.IsArray() && isEmptyArray(value.Raw)
			info.Choices = value.Raw
		case "error":
			info.Error = value.Exists() && value.Type != gjson.Null
		}
		return true
	})
	return info
}

func isEmptyArray(raw string) bool {
	// gjson reports a truncated array ("[") as an array too.
	if len(raw) < 2 || raw[len(raw)-1] != ']' {
		return false
	}
	return strings.TrimSpace(raw[1:len(raw)-1]) == ""
}

// AppendDeltaText appends the generated text of a chunk's choices (delta
// content, reasoning_content, refusal, tool-call names and arguments) to
// dst, for counting completion tokens when the upstream reports none.
func AppendDeltaText(dst []byte, choices string) []byte {
	gjson.Parse(choices).ForEach(func(_, ch gjson.Result) bool {
		return appendText(&dst, ch.Get("delta"))
	})
	return dst
}

// AppendMessageText does the same for a non-streamed response body.
func AppendMessageText(dst []byte, body []byte) []byte {
	gjson.GetBytes(body, "choices").ForEach(func(_, ch gjson.Result) bool {
		return appendText(&dst, ch.Get("message"))
	})
	return dst
}

func appendText(dst *[]byte, msg gjson.Result) bool {
	msg.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "content", "reasoning_content", "refusal":
			if v.Type == gjson.String {
				*dst = append(*dst, v.Str...)
			}
		case "tool_calls":
			v.ForEach(func(_, tc gjson.Result) bool {
				f := tc.Get("function")
				*dst = append(*dst, f.Get("name").Str...)
				*dst = append(*dst, f.Get("arguments").Str...)
				return true
			})
		}
		return true
	})
	return true
}
