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
// image's size had to be assumed (http(s) URLs are never fetched).
func (c *Counter) Prompt(model string, req *openai.ChatRequest) (n int, exact bool) {
	exact = true
	for _, m := range req.Messages {
		n += 3 + c.Text(model, m.Role)
		if m.Name != "" {
			n += c.Text(model, m.Name) + 1
		}
		if m.Content.Parts == nil {
			n += c.Text(model, m.Content.Text)
		}
		for _, p := range m.Content.Parts {
			switch {
			case p.Type == "text":
				n += c.Text(model, p.Text)
			case p.Type == "image_url" && p.ImageURL != nil:
				t, ok := ImageTokens(model, p.ImageURL.URL, p.ImageURL.Detail)
				n += t
				exact = exact && ok
			}
		}
		for _, tc := range m.ToolCalls {
			n += c.Text(model, tc.Function.Name) + c.Text(model, tc.Function.Arguments)
		}
		if m.ToolCallID != "" {
			n += c.Text(model, m.ToolCallID)
		}
	}
	n += 3
	n += c.tools(model, req.Tools)
	return n, exact
}

// tools counts function definitions with the cookbook's constants.
func (c *Counter) tools(model string, tools []openai.Tool) int {
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
		n += c.Text(model, f.Name+":"+strings.TrimSuffix(f.Description, "."))
		props := gjson.GetBytes(f.Parameters, "properties")
		if props.IsObject() && len(props.Map()) > 0 {
			n += propInit
			props.ForEach(func(k, v gjson.Result) bool {
				n += propKey
				if enum := v.Get("enum"); enum.IsArray() {
					n += enumInit
					for _, item := range enum.Array() {
						n += enumItem + c.Text(model, item.String())
					}
				}
				desc := strings.TrimSuffix(v.Get("description").String(), ".")
				n += c.Text(model, k.String()+":"+v.Get("type").String()+":"+desc)
				return true
			})
		}
	}
	if n > 0 {
		n += funcEnd
	}
	return n
}

// Completion counts generated text: content, reasoning and tool calls.
func (c *Counter) Completion(model, text string) int { return c.Text(model, text) }
