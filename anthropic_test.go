package llmbridge_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/shared"
)

func claude(t *testing.T) (*openai.Client, *testupstream.Server, string) {
	return sdkFor(t, testupstream.Anthropic, llmbridge.Anthropic)
}

var weatherTool = openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{Name: "get_weather",
	Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{"location": map[string]any{"type": "string"}}}})

// An unmodified OpenAI client holds a two-turn, tool-using, streaming
// conversation with Claude with thinking on: reasoning arrives separately,
// usage is exact, and the tool turn works although the SDK drops the
// thinking signature (that turn runs without thinking).
func TestClaudeTwoTurnToolUse(t *testing.T) {
	client, up, _ := claude(t)
	up.Enqueue(
		testupstream.Reply{Reasoning: []string{"The user wants ", "the weather."}, Content: []string{"Let me check."},
			ToolCalls: []testupstream.ToolCall{{ID: "toolu_01T1x1fJ34qAmk2tNTrN7Up6", Name: "get_weather", Args: []string{`{"location": "San Fra`, `ncisco, CA"}`}}},
			Usage:     testupstream.Usage{Prompt: 1496, Cached: 1024, Completion: 89}},
		testupstream.Reply{Content: []string{"It is sunny."}, Usage: testupstream.Usage{Prompt: 1600, Completion: 6}},
	)
	params := openai.ChatCompletionNewParams{
		Model:           "anthropic/claude-sonnet-4-5",
		Messages:        []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Weather in SF?")},
		Tools:           []openai.ChatCompletionToolUnionParam{weatherTool},
		ReasoningEffort: shared.ReasoningEffortLow,
		StreamOptions:   openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	}
	acc, reasoning := streamTurn(t, client, params)
	msg := acc.Choices[0].Message
	if msg.Content != "Let me check." || reasoning != "The user wants the weather." || acc.Choices[0].FinishReason != "tool_calls" {
		t.Fatalf("content %q reasoning %q finish %q", msg.Content, reasoning, acc.Choices[0].FinishReason)
	}
	if len(msg.ToolCalls) != 1 || msg.ToolCalls[0].ID != "toolu_01T1x1fJ34qAmk2tNTrN7Up6" || msg.ToolCalls[0].Function.Arguments != `{"location": "San Francisco, CA"}` {
		t.Fatalf("tool calls %+v", msg.ToolCalls)
	}
	if u := acc.Usage; u.PromptTokens != 1496 || u.CompletionTokens != 89 || u.TotalTokens != 1585 || u.PromptTokensDetails.CachedTokens != 1024 {
		t.Errorf("usage %+v", u)
	}
	first := string(up.Requests()[0].Body)
	if !strings.Contains(first, `"thinking":{"type":"enabled","budget_tokens":2048}`) || !strings.Contains(first, `"system":"Be brief."`) || !strings.Contains(first, `"max_tokens":`) {
		t.Errorf("first request: %s", first)
	}

	params.Messages = append(params.Messages, msg.ToParam(), openai.ToolMessage("sunny, 18°C", msg.ToolCalls[0].ID))
	acc, _ = streamTurn(t, client, params)
	if acc.Choices[0].Message.Content != "It is sunny." {
		t.Errorf("turn 2: %q", acc.Choices[0].Message.Content)
	}
	if second := string(up.Requests()[1].Body); !strings.Contains(second, `{"type":"tool_result","tool_use_id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","content":"sunny, 18°C"}`) {
		t.Errorf("tool result: %s", second)
	}
}

// A client that sends the assistant message back as it received it
// (reasoning_content and reasoning_signature included) keeps thinking on
// across the tool turn.
func TestClaudeThinkingSurvivesForClientsThatKeepFields(t *testing.T) {
	_, up, base := claude(t)
	up.Enqueue(
		testupstream.Reply{Reasoning: []string{"Checking."}, ToolCalls: []testupstream.ToolCall{{ID: "toolu_9", Name: "get_weather", Args: []string{`{}`}}}, Usage: testupstream.Usage{Prompt: 10, Completion: 5}},
		testupstream.Reply{Content: []string{"Sunny."}, Usage: testupstream.Usage{Prompt: 20, Completion: 2}},
	)
	post := func(body string) map[string]any {
		resp, err := http.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != 200 {
			t.Fatalf("%d %v", resp.StatusCode, out)
		}
		return out
	}
	first := post(`{"model":"anthropic/claude-sonnet-4-5","reasoning_effort":"low","messages":[{"role":"user","content":"Weather?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]}`)
	msg := first["choices"].([]any)[0].(map[string]any)["message"]
	raw, _ := json.Marshal(msg)
	if !strings.Contains(string(raw), `"reasoning_signature":"ErUBCkYIBRgCIkD-sig"`) || !strings.Contains(string(raw), `"reasoning_content":"Checking."`) {
		t.Fatalf("first answer: %s", raw)
	}
	post(`{"model":"anthropic/claude-sonnet-4-5","reasoning_effort":"low","messages":[{"role":"user","content":"Weather?"},` + string(raw) + `,{"role":"tool","tool_call_id":"toolu_9","content":"sunny"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]}`)
	if second := string(up.Requests()[1].Body); !strings.Contains(second, `{"type":"thinking","thinking":"Checking.","signature":"ErUBCkYIBRgCIkD-sig"}`) || !strings.Contains(second, `"thinking":{"type":"enabled"`) {
		t.Errorf("thinking not carried: %s", second)
	}
}

func TestClaudeErrors(t *testing.T) {
	client, up, _ := claude(t)
	up.Enqueue(testupstream.Reply{Status: 529}, testupstream.Reply{Status: 529}, testupstream.Reply{Status: 529})
	_, err := client.Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{Model: "anthropic/claude-haiku-4-5", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 529 || apiErr.Type != "server_error" || apiErr.Code != "" || len(up.Requests()) != 3 {
		t.Fatalf("529 (retried, %d attempts): %v", len(up.Requests()), err)
	}
	up.Enqueue(testupstream.Reply{Content: []string{"a", "b"}, ErrorEvent: true})
	stream := client.Chat.Completions.NewStreaming(ctxTimeout(t), openai.ChatCompletionNewParams{Model: "anthropic/claude-haiku-4-5", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}})
	for stream.Next() {
	}
	if stream.Err() == nil || !strings.Contains(stream.Err().Error(), "Overloaded") {
		t.Fatalf("mid-stream error: %v", stream.Err())
	}
}
