package tokens

import (
	"strings"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/tidwall/gjson"
)

// Prompt counts a chat request's prompt as OpenAI does (cookbook
// "How to count tokens with tiktoken"): 3 per message plus its role,
// content and name (+1 for a name), 3 for reply priming, tool calls and
// tool definitions, and images by the tile rule. exact is false when an
// image's size had to be assumed (http(s) URLs are never fetched) or when
// the prompt's text went beyond the bounds of Count (ExactBytes in all).
func (c *Counter) Prompt(model string, req *openai.ChatRequest) (n int, exact bool) {
	m := c.meter(model)
	images := true
	for _, msg := range req.Messages {
		n += 3 + m.count(msg.Role)
		if msg.Name != "" {
			n += m.count(msg.Name) + 1
		}
		if msg.Content.Parts == nil {
			n += m.count(msg.Content.Text)
		}
		for _, p := range msg.Content.Parts {
			switch {
			case p.Type == "text":
				n += m.count(p.Text)
			case p.Type == "image_url" && p.ImageURL != nil:
				t, ok := ImageTokens(model, p.ImageURL.URL, p.ImageURL.Detail)
				n += t
				images = images && ok
			}
		}
		for _, tc := range msg.ToolCalls {
			n += m.count(tc.Function.Name) + m.count(tc.Function.Arguments)
		}
		if msg.ToolCallID != "" {
			n += m.count(msg.ToolCallID)
		}
	}
	n += 3
	n += m.tools(model, req.Tools)
	return n, m.exact && images
}

// tools counts function definitions with the cookbook's constants.
func (m *meter) tools(model string, tools []openai.Tool) int {
	funcInit, propInit, propKey, enumInit, enumItem, funcEnd := 7, 3, 3, -3, 3, 12
	if EncodingFor(model) == CL100k {
		funcInit = 10
	}
	n := 0
	for _, t := range tools {
		f := t.Function
		if f == nil {
			continue
		}
		n += funcInit
		n += m.count(f.Name + ":" + strings.TrimSuffix(f.Description, "."))
		props := gjson.GetBytes(f.Parameters, "properties")
		if props.IsObject() && len(props.Map()) > 0 {
			n += propInit
			props.ForEach(func(k, v gjson.Result) bool {
				n += propKey
				if enum := v.Get("enum"); enum.IsArray() {
					n += enumInit
					for _, item := range enum.Array() {
						n += enumItem + m.count(item.String())
					}
				}
				desc := strings.TrimSuffix(v.Get("description").String(), ".")
				n += m.count(k.String() + ":" + v.Get("type").String() + ":" + desc)
				return true
			})
		}
	}
	if n > 0 {
		n += funcEnd
	}
	return n
}

// Completion counts generated text (content, reasoning and tool calls)
// within the bounds of Count.
func (c *Counter) Completion(model, text string) int { return c.Text(model, text) }
