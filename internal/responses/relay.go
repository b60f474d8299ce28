package responses

import (
	"unsafe"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/tidwall/gjson"
)

// EventMembers returns what gjson.GetManyBytes(data, "type",
// "sequence_number", "delta") returns — the first member of each name —
// for the relay of a native Responses stream, which reads them from
// every event. A valid event is read in one pass over a view of data
// rather than copies: the strings point into data and are valid as long
// as it is. Anything else goes to gjson.GetManyBytes. FuzzEventMembers
// holds the two equal.
func EventMembers(data []byte) (f [3]gjson.Result) {
	if !openai.ValidJSON(data) {
		copy(f[:], gjson.GetManyBytes(data, "type", "sequence_number", "delta"))
		return f
	}
	root := gjson.Parse(unsafe.String(unsafe.SliceData(data), len(data)))
	if !root.IsObject() {
		return f
	}
	root.ForEach(func(k, v gjson.Result) bool {
		i := -1
		switch k.Str {
		case "type":
			i = 0
		case "sequence_number":
			i = 1
		case "delta":
			i = 2
		}
		if i >= 0 && !f[i].Exists() {
			f[i] = v
		}
		return true
	})
	return f
}
