package llmbridge_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/shared"
)

func nativeGemini(t *testing.T) (*openai.Client, *testupstream.Server) {
	c, up, _ := sdkFor(t, testupstream.GeminiNative, llmbridge.Gemini)
	return c, up
}

// An unmodified OpenAI client holds a two-turn, tool-using, streaming
// conversation with Gemini 3 (which rejects a history whose function call
// lost its thought signature) and Gemini 2.x.
func TestGeminiNativeTwoTurnToolUse(t *testing.T) {
	for _, model := range []string{"gemini-3-pro-preview", "gemini-2.5-flash"} {
		t.Run(model, func(t *testing.T) {
			client, up := nativeGemini(t)
			up.Enqueue(
				testupstream.Reply{Reasoning: []string{"I should look it up."}, ToolCalls: []testupstream.ToolCall{{Name: "get_capital", Args: []string{`{"country":"UK"}`}}}, Usage: testupstream.Usage{Prompt: 29, Completion: 10, Reasoning: 202}},
				testupstream.Reply{Content: []string{"The capital", " is London."}, Usage: testupstream.Usage{Prompt: 60, Completion: 7}},
			)
			params := openai.ChatCompletionNewParams{
				Model:    "gemini/" + model,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Capital of the UK?")},
				Tools: []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
					Name: "get_capital", Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{"country": map[string]any{"type": "string"}}, "additionalProperties": false}})},
				StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
			}
			acc, reasoning := streamTurn(t, client, params)
			msg := acc.Choices[0].Message
			if len(msg.ToolCalls) != 1 || msg.ToolCalls[0].Function.Arguments != `{"country":"UK"}` || acc.Choices[0].FinishReason != "tool_calls" {
				t.Fatalf("turn 1: %+v finish %q", msg.ToolCalls, acc.Choices[0].FinishReason)
			}
			if reasoning != "I should look it up." || strings.Contains(msg.Content, "look it up") {
				t.Errorf("reasoning %q content %q: thoughts must stay out of content", reasoning, msg.Content)
			}
			if acc.Usage.CompletionTokens != 212 || acc.Usage.CompletionTokensDetails.ReasoningTokens != 202 {
				t.Errorf("usage %+v", acc.Usage)
			}

			// Turn 2: the client sends the history back as any OpenAI client does.
			params.Messages = append(params.Messages, msg.ToParam(), openai.ToolMessage(`{"capital":"London"}`, msg.ToolCalls[0].ID))
			acc, _ = streamTurn(t, client, params)
			if got := acc.Choices[0].Message.Content; got != "The capital is London." {
				t.Errorf("turn 2 content %q", got)
			}
			second := up.Requests()[1]
			if !strings.Contains(string(second.Body), `"functionResponse":{"name":"get_capital","response":{"capital":"London"}}`) {
				t.Errorf("tool result not sent as functionResponse: %s", second.Body)
			}
			if strings.HasPrefix(model, "gemini-3") && !strings.Contains(string(second.Body), `"thoughtSignature":"EpwICpkIget_capitalAXLI2nx"`) {
				t.Errorf("thought signature not carried back: %s", second.Body)
			}
			if strings.Contains(string(second.Body), "additionalProperties") {
				t.Errorf("schema not sanitised for Gemini: %s", second.Body)
			}
		})
	}
}

func TestGeminiNativeErrorsAndImages(t *testing.T) {
	client, up := nativeGemini(t)
	up.Enqueue(testupstream.Reply{Status: 429, RetryAfter: "0"}, testupstream.Reply{Status: 429, RetryAfter: "0"}, testupstream.Reply{Status: 429, RetryAfter: "0"})
	_, err := client.Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{Model: "gemini/gemini-2.5-flash", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Code != "rate_limit_exceeded" {
		t.Fatalf("429: %v", err)
	}
	n := len(up.Requests())
	_, err = client.Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{Model: "gemini/gemini-2.5-flash", Messages: []openai.ChatCompletionMessageParamUnion{
		openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: "https://example.com/cat.png"})})}})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || !strings.Contains(apiErr.Message, "data: URL") || len(up.Requests()) != n {
		t.Fatalf("http image: %v (requests %d→%d)", err, n, len(up.Requests()))
	}
	resp, err := client.Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{Model: "gemini/gemini-2.5-flash", Messages: []openai.ChatCompletionMessageParamUnion{
		openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{openai.TextContentPart("What is this?"), openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: "data:image/png;base64,iVBORw0KGgo="})})}})
	if err != nil || resp.Choices[0].Message.Content != "Hello world" {
		t.Fatalf("image: %v %+v", err, resp)
	}
	if last := up.Requests()[len(up.Requests())-1]; !strings.Contains(string(last.Body), `"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}`) {
		t.Errorf("image not inlined: %s", last.Body)
	}
}

// Gemini 2.x streams function calls in the event that finishes the turn,
// often with no responseId. openai-go's accumulator must see each tool
// call finish (JustFinishedToolCall, its documented way to act on a
// call while streaming): that needs OpenAI's closing chunk, whose delta
// is empty, after the calls; and every chunk has a non-empty id.
func TestGeminiNativeToolCallsFinishForTheSDK(t *testing.T) {
	client, up := nativeGemini(t)
	srvCalls := []testupstream.ToolCall{{Name: "get_weather", Args: []string{`{"city":"Paris"}`}}, {Name: "get_time", Args: []string{`{"zone":"CET"}`}}}
	for _, includeUsage := range []bool{false, true} {
		up.Enqueue(testupstream.Reply{ToolCalls: srvCalls, GeminiFinishInLast: true, GeminiNoResponseID: true, Usage: testupstream.Usage{Prompt: 20, Completion: 5}})
		params := openai.ChatCompletionNewParams{
			Model:    "gemini/gemini-2.5-flash",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather and time in Paris?")},
			Tools: []openai.ChatCompletionToolUnionParam{
				openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{Name: "get_weather", Parameters: shared.FunctionParameters{"type": "object"}}),
				openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{Name: "get_time", Parameters: shared.FunctionParameters{"type": "object"}}),
			},
		}
		if includeUsage {
			params.StreamOptions.IncludeUsage = openai.Bool(true)
		}
		stream := client.Chat.Completions.NewStreaming(ctxTimeout(t), params)
		acc := openai.ChatCompletionAccumulator{}
		var finished []string
		for stream.Next() {
			c := stream.Current()
			if c.ID == "" {
				t.Errorf("chunk without an id: %s", c.RawJSON())
			}
			acc.AddChunk(c)
			if tool, ok := acc.JustFinishedToolCall(); ok {
				finished = append(finished, tool.Name+tool.Arguments)
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		want := []string{`get_weather{"city":"Paris"}`, `get_time{"zone":"CET"}`}
		if strings.Join(finished, " ") != strings.Join(want, " ") {
			t.Errorf("include_usage %v: the SDK saw tool calls finish %q, want %q", includeUsage, finished, want)
		}
		if acc.Choices[0].FinishReason != "tool_calls" || acc.ID == "" {
			t.Errorf("finish reason %q, id %q", acc.Choices[0].FinishReason, acc.ID)
		}
	}
}
