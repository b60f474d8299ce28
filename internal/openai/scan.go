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
