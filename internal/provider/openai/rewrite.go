package openai

import (
	"encoding/json"
	"unsafe"

	"github.com/tidwall/gjson"
)

// rewriteInOne is RewriteBody in one copy of the body: the edits are
// found first ("model"'s value, and for a stream the place of
// stream_options.include_usage), then the body is copied once around
// them. It reports false, leaving the body to sjson, when the body has no
// "model" or is not an object without space around it.
func rewriteInOne(body []byte, model string, stream bool) ([]byte, bool) {
	if len(body) < 2 || body[0] != '{' || body[len(body)-1] != '}' {
		return nil, false
	}
	doc := unsafe.String(&body[0], len(body)) // read only, not kept
	m := gjson.Get(doc, "model")
	if m.Index <= 0 {
		return nil, false
	}
	var e [2]edit
	e[0] = edit{start: m.Index, end: m.Index + len(m.Raw)}
	n := 1
	if stream {
		so := gjson.Get(doc, "stream_options")
		switch {
		case so.Exists() && !so.IsObject():
			if so.Index <= 0 {
				return nil, false
			}
			e[1] = edit{start: so.Index, end: so.Index + len(so.Raw), text: `{"include_usage":true}`}
		case so.Exists():
			if so.Index <= 0 {
				return nil, false
			}
			iu := gjson.Get(so.Raw, "include_usage")
			if iu.Exists() {
				if iu.Index <= 0 {
					return nil, false
				}
				at := so.Index + iu.Index
				e[1] = edit{start: at, end: at + len(iu.Raw), text: "true"}
			} else {
				e[1] = appendMember(body, so.Index+len(so.Raw)-1, so.Raw, `"include_usage":true`)
			}
		default:
			e[1] = appendMember(body, len(body)-1, doc, `"stream_options":{"include_usage":true}`)
		}
		n = 2
		if e[1].start < e[0].start {
			e[0], e[1] = e[1], e[0]
		}
	}
	size := len(body) + len(model) + 2
	for _, x := range e[:n] {
		size += len(x.text) - (x.end - x.start)
	}
	out := make([]byte, 0, size+8)
	last := 0
	for _, x := range e[:n] {
		out = append(out, body[last:x.start]...)
		if x.text == "" {
			out = appendModel(out, model)
		} else {
			out = append(out, x.text...)
		}
		last = x.end
	}
	return append(out, body[last:]...), true
}

// edit replaces body[start:end] with text ("" is the model, quoted).
type edit struct {
	start, end int
	text       string
}

// appendMember is the edit that adds member to the object obj (its raw
// text), whose closing brace is at body[brace]: before the brace, with a
// comma when the object has members, as sjson adds one.
func appendMember(body []byte, brace int, obj, member string) edit {
	empty := true
	for i := 1; i < len(obj); i++ {
		if obj[i] > ' ' {
			empty = obj[i] == '}'
			break
		}
	}
	if !empty {
		member = "," + member
	}
	return edit{start: brace, end: brace, text: member}
}

// appendModel appends model as a JSON string as sjson writes it: as is
// in quotes when it needs no escape, otherwise encoding/json's encoding.
func appendModel(out []byte, model string) []byte {
	for i := 0; i < len(model); i++ {
		if c := model[i]; c < ' ' || c > 0x7f || c == '"' || c == '\\' {
			b, _ := json.Marshal(model)
			return append(out, b...)
		}
	}
	out = append(out, '"')
	out = append(out, model...)
	return append(out, '"')
}
