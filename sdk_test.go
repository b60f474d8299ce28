package llmbridge_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge/internal/testupstream"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
)

// The official Go SDK, pointed at the running handler, is the real-world
// caller these tests stand in for.
func (e *env) sdk(opts ...option.RequestOption) *openai.Client {
	c := openai.NewClient(append([]option.RequestOption{option.WithBaseURL(e.srv.URL + "/v1"), option.WithAPIKey(accessKey), option.WithMaxRetries(0)}, opts...)...)
	return &c
}

func TestSDKNonStreaming(t *testing.T) {
	e := newEnv(t)
	for _, model := range []string{"openai/gpt-4o-mini", "deepseek/deepseek-reasoner", "gemini/gemini-2.0-flash-exp"} {
		t.Run(model, func(t *testing.T) {
			resp, err := e.sdk().Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{
				Model:    model,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")},
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.Choices[0].Message.Content; got != "Hello world" {
				t.Errorf("content %q", got)
			}
			if resp.Usage.PromptTokens != 9 || resp.Usage.CompletionTokens != 2 {
				t.Errorf("usage %+v", resp.Usage)
			}
		})
	}
}

func TestSDKStreaming(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		model        string
		includeUsage bool
	}{{"openai/gpt-4o", false}, {"openai/gpt-4o", true}, {"deepseek/deepseek-chat", false}, {"deepseek/deepseek-chat", true}, {"gemini/gemini-2.0-flash-exp", true}} {
		t.Run(tc.model, func(t *testing.T) {
			params := openai.ChatCompletionNewParams{Model: tc.model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")}}
			if tc.includeUsage {
				params.StreamOptions.IncludeUsage = openai.Bool(true)
			}
			stream := e.sdk().Chat.Completions.NewStreaming(ctxTimeout(t), params)
			acc := openai.ChatCompletionAccumulator{}
			usageChunks := 0
			for stream.Next() {
				c := stream.Current()
				acc.AddChunk(c)
				if len(c.Choices) == 0 {
					usageChunks++
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			if got := acc.Choices[0].Message.Content; got != "Hello world" {
				t.Errorf("content %q", got)
			}
			if tc.includeUsage {
				if usageChunks != 1 || acc.Usage.TotalTokens != 11 {
					t.Errorf("asked for usage: %d usage chunks, usage %+v", usageChunks, acc.Usage)
				}
			} else if usageChunks != 0 {
				t.Errorf("client did not ask for usage but got %d usage-only chunks", usageChunks)
			}
		})
	}
}

func TestSDKToolCallStream(t *testing.T) {
	e := newEnv(t)
	call := testupstream.ToolCall{ID: "call_ZR5UUuTt3pf61kjwAJIYdVMj", Name: "get_capital", Args: []string{`{"`, `country`, `":"`, `UK`, `"}`}}
	for _, tc := range []struct {
		srv   *testupstream.Server
		model string
	}{{e.openai, "openai/gpt-4o-mini"}, {e.gemini, "gemini/gemini-2.0-flash-exp"}} {
		t.Run(tc.model, func(t *testing.T) {
			tc.srv.Enqueue(testupstream.Reply{ToolCalls: []testupstream.ToolCall{call, {ID: "call_2", Name: "get_time", Args: []string{`{}`}}}, Usage: testupstream.Usage{Prompt: 53, Completion: 15}})
			stream := e.sdk().Chat.Completions.NewStreaming(ctxTimeout(t), openai.ChatCompletionNewParams{
				Model:    tc.model,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Capital of the UK?")},
				Tools: []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
					Name: "get_capital", Parameters: shared.FunctionParameters{"type": "object"}})},
			})
			acc := openai.ChatCompletionAccumulator{}
			var finished []string
			for stream.Next() {
				acc.AddChunk(stream.Current())
				if tool, ok := acc.JustFinishedToolCall(); ok {
					finished = append(finished, tool.Name+tool.Arguments)
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			msg := acc.Choices[0].Message
			if len(msg.ToolCalls) != 2 || msg.ToolCalls[0].Function.Arguments != `{"country":"UK"}` || msg.ToolCalls[1].Function.Name != "get_time" || msg.ToolCalls[0].ID == "" {
				t.Fatalf("accumulated tool calls %+v", msg.ToolCalls)
			}
			if acc.Choices[0].FinishReason != "tool_calls" {
				t.Errorf("finish reason %q, want tool_calls", acc.Choices[0].FinishReason)
			}
			if len(finished) != 2 {
				t.Errorf("the SDK saw tool calls finish %q, want both", finished)
			}
		})
	}
}

func TestSDKErrorsAreTyped(t *testing.T) {
	e := newEnv(t)
	e.openai.Enqueue(testupstream.Reply{Status: 400, ErrorBody: `{"error":{"code":"unsupported_value","message":"Unsupported value: 'messages[0].role' does not support 'developer' with this model.","param":"messages[0].role","type":"invalid_request_error"}}`})
	e.gemini.Enqueue(testupstream.Reply{Status: 400})
	tests := []struct {
		name, model string
		client      *openai.Client
		status      int
		code        string
		msg         string
	}{
		{"upstream 400 keeps code and message", "openai/o1-mini", e.sdk(), 400, "unsupported_value", "does not support 'developer'"},
		{"gemini array error unwrapped, OpenAI code", "gemini/gemini-exp-1206", e.sdk(), 400, "", "fake gemini error 400"},
		{"unknown model", "nope/x", e.sdk(), 404, "model_not_found", "does not exist"},
		{"wrong access key", "openai/gpt-4o", e.sdk(option.WithAPIKey("wrong")), 401, "invalid_api_key", "access key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.client.Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{
				Model: tt.model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}})
			var apiErr *openai.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("got %v, want *openai.Error", err)
			}
			if apiErr.StatusCode != tt.status || apiErr.Code != tt.code || !strings.Contains(apiErr.Message, tt.msg) {
				t.Errorf("got %d code=%q msg=%q", apiErr.StatusCode, apiErr.Code, apiErr.Message)
			}
		})
	}
}

func TestSDKStreamErrorMidway(t *testing.T) {
	e := newEnv(t)
	e.openai.Enqueue(testupstream.Reply{Content: []string{"a", "b", "c", "d"}, ErrorEvent: true})
	stream := e.sdk().Chat.Completions.NewStreaming(ctxTimeout(t), openai.ChatCompletionNewParams{
		Model: "openai/gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}})
	n := 0
	for stream.Next() {
		n++
	}
	if stream.Err() == nil || !strings.Contains(stream.Err().Error(), "server had an error") {
		t.Fatalf("after %d chunks: err %v, want the upstream's error event", n, stream.Err())
	}
}

func TestSDKModels(t *testing.T) {
	e := newEnv(t)
	page, err := e.sdk().Models.List(ctxTimeout(t))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, m := range page.Data {
		ids[m.ID] = m.OwnedBy
	}
	if ids["openai/gpt-4o"] != "openai" || ids["deepseek/deepseek-reasoner"] != "deepseek" || ids["gemini/gemini-exp-1206"] != "gemini" {
		t.Errorf("model list %v", ids)
	}
	m, err := e.sdk().Models.Get(ctxTimeout(t), "openai/gpt-4o")
	if err != nil || m.ID != "openai/gpt-4o" || m.OwnedBy != "openai" {
		t.Fatalf("get: %+v %v", m, err)
	}
}
