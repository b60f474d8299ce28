package demo

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/tidwall/gjson"
)

// Scripted models: the upstream answers them with that error, whatever the
// request says.
const (
	ModelEcho     = "echo"
	ModelError429 = "error-429"
	ModelError500 = "error-500"
)

// emptyText is the answer to a conversation with no text to echo.
const emptyText = "(The demo echoes your last message, and it had no text.)"

// reply is what the upstream answers: text, or one tool call.
type reply struct {
	text string
	call *openai.ToolCall // nil for a text answer
}

// answer decides the reply to req. It echoes the text of the last user
// message; after a tool result it reports the result; when the request
// offers function tools and asks for a call (tool_choice "required" or a
// named function, or the last user message says "tool" or names a tool)
// it calls one.
func answer(req *openai.ChatRequest) reply {
	last := len(req.Messages) - 1
	for last >= 0 && req.Messages[last].Role != "user" && req.Messages[last].Role != "tool" {
		last--
	}
	if last < 0 {
		return reply{text: emptyText}
	}
	m := req.Messages[last]
	text := messageText(m)
	if m.Role == "tool" {
		return reply{text: "The tool returned: " + text}
	}
	if fn := chosenTool(req, text); fn != nil {
		return reply{call: &openai.ToolCall{ID: "call_demo_" + strconv.Itoa(len(req.Messages)), Type: "function",
			Function: openai.FunctionCall{Name: fn.Name, Arguments: arguments(fn.Parameters, text)}}}
	}
	if strings.TrimSpace(text) == "" {
		text = emptyText
	}
	return reply{text: text}
}

// messageText is a message's text: its string content, or its text parts
// joined by newlines (other parts, such as images, have no text to echo).
func messageText(m openai.Message) string {
	if m.Content.Parts == nil {
		return m.Content.Text
	}
	var parts []string
	for _, p := range m.Content.Parts {
		if p.Type == "text" {
			parts = append(parts, p.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// chosenTool returns the function to call, or nil for a text answer.
func chosenTool(req *openai.ChatRequest, text string) *openai.FunctionDefinition {
	var fns []*openai.FunctionDefinition
	for _, t := range req.Tools {
		if t.Type == "function" && t.Function != nil && t.Function.Name != "" {
			fns = append(fns, t.Function)
		}
	}
	if len(fns) == 0 {
		return nil
	}
	mode, name, err := req.ToolChoiceMode()
	if err != nil || mode == "none" {
		return nil
	}
	if name != "" {
		for _, f := range fns {
			if f.Name == name {
				return f
			}
		}
		return nil
	}
	lower := strings.ToLower(text)
	for _, f := range fns {
		if strings.Contains(lower, strings.ToLower(f.Name)) {
			return f
		}
	}
	if mode == "required" || slices.Contains(strings.FieldsFunc(lower, notLetter), "tool") {
		return fns[0]
	}
	return nil
}

func notLetter(r rune) bool { return !unicode.IsLetter(r) }

// arguments builds a call's JSON arguments from the function's parameter
// schema: every required property, a string being the user's message (or
// the first value of its enum), a number 1, a boolean true, an array [] and
// an object {}.
func arguments(schema json.RawMessage, text string) string {
	s := gjson.ParseBytes(schema)
	props := s.Get("properties")
	var b strings.Builder
	b.WriteByte('{')
	n := 0
	for _, req := range s.Get("required").Array() {
		name := req.String()
		p := props.Get(gjson.Escape(name))
		var v any
		switch p.Get("type").String() {
		case "string":
			v = text
			if e := p.Get("enum.0"); e.Exists() {
				v = e.Value()
			}
		case "integer", "number":
			v = 1
		case "boolean":
			v = true
		case "array":
			v = []any{}
		case "object":
			v = map[string]any{}
		}
		if n > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(name)
		val, _ := json.Marshal(v)
		b.Write(k)
		b.WriteByte(':')
		b.Write(val)
		n++
	}
	b.WriteByte('}')
	return b.String()
}

// words splits s into the pieces a stream sends: each piece is a run of
// white space followed by a run of other characters ("Hello", " world"),
// so the pieces joined are s and none is empty.
func words(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		for i < len(s) && !isSpace(s[i]) {
			i++
		}
		out = append(out, s[:i])
		s = s[i:]
	}
	return out
}

// isSpace reports ASCII white space; multi-byte characters never split,
// so every piece is valid UTF-8 when s is.
func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }
