package openai

import (
	"strings"
	"testing"
)

// Shape splits what OpenAI never sends in one chunk: several tool calls,
// or content with its finish reason; anything else is left alone.
func TestShape(t *testing.T) {
	stop, calls := "stop", "tool_calls"
	text := "Paris."
	call := func(i int, name string) ToolCall {
		return ToolCall{Index: &i, ID: "c" + name, Type: "function", Function: FunctionCall{Name: name, Arguments: "{}"}}
	}
	tests := []struct {
		name string
		in   *ChatChunk
		want string // each output chunk's choices, "|" between chunks; "" for none
	}{
		{"text", &ChatChunk{Choices: []ChunkChoice{{Delta: Delta{Content: &text}}}}, ""},
		{"finish only", &ChatChunk{Choices: []ChunkChoice{{FinishReason: &stop}}}, ""},
		{"text and finish", &ChatChunk{Choices: []ChunkChoice{{Delta: Delta{Content: &text}, FinishReason: &stop}}}, "0:content|0:finish=stop"},
		{"two calls and finish", &ChatChunk{Choices: []ChunkChoice{{Delta: Delta{Role: "assistant", ToolCalls: []ToolCall{call(0, "a"), call(1, "b")}}, FinishReason: &calls}}},
			"0:role,call=a|0:call=b|0:finish=tool_calls"},
		{"two calls", &ChatChunk{Choices: []ChunkChoice{{Delta: Delta{ToolCalls: []ToolCall{call(0, "a"), call(1, "b")}}}}}, "0:call=a|0:call=b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, ch := range Shape(tc.in) {
				var cs []string
				for _, c := range ch.Choices {
					cs = append(cs, describeChoice(c))
				}
				got = append(got, strings.Join(cs, ";"))
			}
			if g := strings.Join(got, "|"); g != tc.want {
				t.Errorf("got %q, want %q", g, tc.want)
			}
		})
	}
}

func describeChoice(c ChunkChoice) string {
	var parts []string
	if c.Delta.Role != "" {
		parts = append(parts, "role")
	}
	if c.Delta.Content != nil {
		parts = append(parts, "content")
	}
	for _, tc := range c.Delta.ToolCalls {
		parts = append(parts, "call="+tc.Function.Name)
	}
	if c.FinishReason != nil {
		parts = append(parts, "finish="+*c.FinishReason)
	}
	return string(rune('0'+c.Index)) + ":" + strings.Join(parts, ",")
}
