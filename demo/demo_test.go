package demo_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/demo"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// demoBridge serves a Bridge whose only provider is the demo, without
// retries, and returns an openai-go client pointed at it.
func demoBridge(t *testing.T, cfg demo.Config) (*openai.Client, *llmbridge.Bridge) {
	t.Helper()
	d := demo.New(cfg)
	b, err := llmbridge.New(llmbridge.WithProvider(d), llmbridge.WithAccessKeys("demo-test-key"), llmbridge.WithRetry(llmbridge.RetryPolicy{}))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	t.Cleanup(func() {
		srv.Close()
		b.Close()
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	})
	c := openai.NewClient(option.WithBaseURL(srv.URL+"/v1"), option.WithAPIKey("demo-test-key"), option.WithMaxRetries(0))
	return &c, b
}

var demoWeatherTool = openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
	Name: "get_weather",
	Parameters: shared.FunctionParameters{"type": "object",
		"properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []string{"city"}},
})

func TestDemoSDKNonStreaming(t *testing.T) {
	c, _ := demoBridge(t, demo.Config{})
	resp, err := c.Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{
		Model:    "demo/echo",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Hello from the SDK")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Choices[0].Message.Content; got != "Hello from the SDK" || resp.Choices[0].FinishReason != "stop" {
		t.Errorf("content %q, finish %q", got, resp.Choices[0].FinishReason)
	}
	// Usage is the tokenizer's count of this very request and reply.
	tc := llmbridge.NewTokenCounter()
	prompt, _ := tc.CountPrompt("echo", &llmbridge.ChatRequest{Model: "echo", Messages: []llmbridge.Message{
		llmbridge.SystemMessage("Be brief."), llmbridge.UserMessage("Hello from the SDK")}})
	if u := resp.Usage; u.PromptTokens != int64(prompt) || u.CompletionTokens != int64(tc.CountText("echo", "Hello from the SDK")) || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
		t.Errorf("usage %+v, want prompt %d", u, prompt)
	}
}

func TestDemoSDKStreamAccumulated(t *testing.T) {
	c, _ := demoBridge(t, demo.Config{Delay: time.Millisecond})
	const text = "The quick brown fox  jumps\nover the lazy dog."
	for _, includeUsage := range []bool{false, true} {
		t.Run(fmt.Sprint("include_usage=", includeUsage), func(t *testing.T) {
			params := openai.ChatCompletionNewParams{Model: "demo/echo", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(text)}}
			if includeUsage {
				params.StreamOptions.IncludeUsage = openai.Bool(true)
			}
			stream := c.Chat.Completions.NewStreaming(ctxTimeout(t), params)
			acc := openai.ChatCompletionAccumulator{}
			chunks := 0
			for stream.Next() {
				acc.AddChunk(stream.Current())
				chunks++
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			if got := acc.Choices[0].Message.Content; got != text || acc.Choices[0].FinishReason != "stop" {
				t.Errorf("accumulated %q, finish %q", got, acc.Choices[0].FinishReason)
			}
			// Word by word: a role chunk, 9 words, the finish chunk, the usage chunk.
			want := 11
			if includeUsage {
				want++
				if acc.Usage.CompletionTokens == 0 || acc.Usage.TotalTokens != acc.Usage.PromptTokens+acc.Usage.CompletionTokens {
					t.Errorf("usage %+v", acc.Usage)
				}
			}
			if chunks != want {
				t.Errorf("%d chunks, want %d", chunks, want)
			}
		})
	}
}

// TestDemoSDKToolConversation holds a two-turn tool conversation through
// the SDK: the demo calls the offered tool, then reports its result.
func TestDemoSDKToolConversation(t *testing.T) {
	c, _ := demoBridge(t, demo.Config{})
	params := openai.ChatCompletionNewParams{
		Model:    "demo/echo",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Use the tool: weather in Paris")},
		Tools:    []openai.ChatCompletionToolUnionParam{demoWeatherTool},
	}
	stream := c.Chat.Completions.NewStreaming(ctxTimeout(t), params)
	acc := openai.ChatCompletionAccumulator{}
	var finished []openai.FinishedChatCompletionToolCall
	for stream.Next() {
		acc.AddChunk(stream.Current())
		if tool, ok := acc.JustFinishedToolCall(); ok {
			finished = append(finished, tool)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	msg := acc.Choices[0].Message
	if len(msg.ToolCalls) != 1 || msg.ToolCalls[0].Function.Name != "get_weather" || acc.Choices[0].FinishReason != "tool_calls" || len(finished) != 1 {
		t.Fatalf("tool calls %+v, finish %q, finished %v", msg.ToolCalls, acc.Choices[0].FinishReason, finished)
	}
	var args struct{ City string }
	if err := json.Unmarshal([]byte(msg.ToolCalls[0].Function.Arguments), &args); err != nil || args.City != "Use the tool: weather in Paris" {
		t.Errorf("arguments %s: %v", msg.ToolCalls[0].Function.Arguments, err)
	}

	params.Messages = append(params.Messages, msg.ToParam(), openai.ToolMessage("18°C and sunny", msg.ToolCalls[0].ID))
	resp, err := c.Chat.Completions.New(ctxTimeout(t), params)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Choices[0].Message.Content; got != "The tool returned: 18°C and sunny" {
		t.Errorf("second turn %q", got)
	}
}

func TestDemoSDKErrorModels(t *testing.T) {
	c, _ := demoBridge(t, demo.Config{})
	for _, tc := range []struct {
		model  string
		stream bool
		status int
		code   string
	}{
		{"demo/error-429", false, 429, "rate_limit_exceeded"},
		{"demo/error-429", true, 429, "rate_limit_exceeded"},
		{"demo/error-500", false, 500, ""},
		{"demo/error-500", true, 500, ""},
	} {
		t.Run(fmt.Sprint(tc.model, " stream=", tc.stream), func(t *testing.T) {
			params := openai.ChatCompletionNewParams{Model: tc.model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
			var err error
			if tc.stream {
				s := c.Chat.Completions.NewStreaming(ctxTimeout(t), params)
				for s.Next() {
					t.Error("a chunk from an error model")
				}
				err = s.Err()
			} else {
				_, err = c.Chat.Completions.New(ctxTimeout(t), params)
			}
			var apiErr *openai.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("got %v, want *openai.Error", err)
			}
			if apiErr.StatusCode != tc.status || apiErr.Code != tc.code || !strings.Contains(apiErr.Message, "demo") {
				t.Errorf("got %d code=%q type=%q msg=%q", apiErr.StatusCode, apiErr.Code, apiErr.Type, apiErr.Message)
			}
			if tc.status == 429 && apiErr.Response.Header.Get("Retry-After") != "1" {
				t.Errorf("Retry-After %q", apiErr.Response.Header.Get("Retry-After"))
			}
		})
	}
}

func TestDemoModelsListed(t *testing.T) {
	c, b := demoBridge(t, demo.Config{})
	page, err := c.Models.List(ctxTimeout(t))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	if got := strings.Join(ids, ","); got != "demo/echo,demo/error-429,demo/error-500" {
		t.Errorf("models %s", got)
	}
	if len(b.Models()) != 3 {
		t.Errorf("Bridge.Models %v", b.Models())
	}
}

// TestDemoModelsOwnedBy pins the label: the demo's models are owned by
// "llmbridge-demo" (ModelOwner), in the list and for one model.
func TestDemoModelsOwnedBy(t *testing.T) {
	c, b := demoBridge(t, demo.Config{})
	page, err := c.Models.List(ctxTimeout(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range page.Data {
		if m.OwnedBy != "llmbridge-demo" {
			t.Errorf("%s owned_by %q", m.ID, m.OwnedBy)
		}
	}
	for _, m := range b.Models() {
		if m.OwnedBy != "llmbridge-demo" {
			t.Errorf("Bridge.Models: %s owned_by %q", m.ID, m.OwnedBy)
		}
	}
	m, err := c.Models.Get(ctxTimeout(t), "demo/echo")
	if err != nil || m.OwnedBy != "llmbridge-demo" {
		t.Errorf("get: %+v %v", m, err)
	}
}

func TestDemoInProcess(t *testing.T) {
	d := demo.New(demo.Config{Name: "try"})
	defer d.Close()
	b, err := llmbridge.New(llmbridge.WithProvider(d))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var words []string
	req := &llmbridge.ChatRequest{Model: "try/echo", Messages: []llmbridge.Message{llmbridge.UserMessage("one two three")},
		StreamOptions: &llmbridge.StreamOptions{IncludeUsage: true}}
	var usage *llmbridge.Usage
	for ch, err := range b.ChatCompletionStream(ctxTimeout(t), req) {
		if err != nil {
			t.Fatal(err)
		}
		if ch.Usage != nil {
			usage = ch.Usage
		}
		for _, c := range ch.Choices {
			if c.Delta.Content != nil && *c.Delta.Content != "" {
				words = append(words, *c.Delta.Content)
			}
		}
	}
	if strings.Join(words, "|") != "one| two| three" || usage == nil || usage.CompletionTokens != 3 {
		t.Errorf("words %q, usage %+v", words, usage)
	}
	d.Close()
	_, err = b.ChatCompletion(ctxTimeout(t), &llmbridge.ChatRequest{Model: "try/echo", Messages: req.Messages})
	var ae *llmbridge.APIError
	if !errors.As(err, &ae) || ae.Status != 500 {
		t.Errorf("after Close: %v", err)
	}
}

// The demo provider answers without any key: handy in examples and in the
// tests of code that calls a Bridge.
func ExampleNew() {
	d := demo.New(demo.Config{})
	defer d.Close()
	b, err := llmbridge.New(llmbridge.WithProvider(d))
	if err != nil {
		panic(err)
	}
	defer b.Close()
	resp, err := b.ChatCompletion(context.Background(), &llmbridge.ChatRequest{
		Model:    "demo/echo",
		Messages: []llmbridge.Message{llmbridge.UserMessage("Hello, bridge")},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.Choices[0].Message.Content.String(), resp.Usage.CompletionTokens)
	// Output: Hello, bridge 3
}

func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
