package llmbridge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// claudeEnv is a bridge in front of an OpenAI, a DeepSeek, a Gemini
// (native) and an Anthropic fake, called with the official Anthropic SDK
// the way Claude Code calls a gateway.
type claudeEnv struct {
	openai, deepseek, gemini, claude *testupstream.Server
	srv                              *httptest.Server

	mu      sync.Mutex
	records []llmbridge.UsageRecord
}

func newClaudeEnv(t *testing.T, opts ...llmbridge.Option) *claudeEnv {
	t.Helper()
	e := &claudeEnv{
		openai:   testupstream.New(t, testupstream.OpenAI),
		deepseek: testupstream.New(t, testupstream.DeepSeek),
		gemini:   testupstream.New(t, testupstream.GeminiNative),
		claude:   testupstream.New(t, testupstream.Anthropic),
	}
	base := []llmbridge.Option{
		llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: e.openai.BaseURL(), APIKey: e.openai.Key})),
		llmbridge.WithProvider(llmbridge.DeepSeek(llmbridge.ProviderConfig{BaseURL: e.deepseek.BaseURL(), APIKey: e.deepseek.Key})),
		llmbridge.WithProvider(llmbridge.Gemini(llmbridge.ProviderConfig{BaseURL: e.gemini.BaseURL(), APIKey: e.gemini.Key})),
		llmbridge.WithProvider(llmbridge.Anthropic(llmbridge.ProviderConfig{BaseURL: e.claude.BaseURL(), APIKey: e.claude.Key})),
		llmbridge.WithAccessKeys(accessKey),
		llmbridge.WithRetry(llmbridge.RetryPolicy{Max: 2, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxRetryAfter: 50 * time.Millisecond}),
		llmbridge.WithUsageSink(func(r llmbridge.UsageRecord) { e.mu.Lock(); e.records = append(e.records, r); e.mu.Unlock() }),
	}
	b, err := llmbridge.New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(b)
	t.Cleanup(func() { e.srv.Close(); b.Close() })
	return e
}

// client is the Anthropic SDK pointed at the bridge: ANTHROPIC_BASE_URL
// and ANTHROPIC_API_KEY (x-api-key), or ANTHROPIC_AUTH_TOKEN (bearer).
func (e *claudeEnv) client(opts ...aoption.RequestOption) *anthropic.Client {
	c := anthropic.NewClient(append([]aoption.RequestOption{aoption.WithBaseURL(e.srv.URL), aoption.WithAPIKey(accessKey), aoption.WithMaxRetries(0)}, opts...)...)
	return &c
}

// lastRecord waits for the record of the latest request (finish runs after
// the response is complete).
func (e *claudeEnv) lastRecord(t *testing.T, n int) llmbridge.UsageRecord {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		e.mu.Lock()
		if len(e.records) >= n {
			r := e.records[n-1]
			e.mu.Unlock()
			return r
		}
		e.mu.Unlock()
	}
	t.Fatalf("no record %d", n)
	return llmbridge.UsageRecord{}
}

func (e *claudeEnv) post(t *testing.T, path, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("X-Api-Key", accessKey)
	req.Header.Set("Anthropic-Version", "2023-06-01")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var claudeModels = []string{"openai/gpt-4o", "deepseek/deepseek-chat", "gemini/gemini-2.0-flash-exp", "anthropic/claude-sonnet-4-5"}

func hi(model string) anthropic.MessageNewParams {
	return anthropic.MessageNewParams{Model: anthropic.Model(model), MaxTokens: 1024,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hi"))}}
}

func TestAnthropicSDKNonStreaming(t *testing.T) {
	e := newClaudeEnv(t)
	for i, model := range claudeModels {
		t.Run(model, func(t *testing.T) {
			msg, err := e.client().Messages.New(ctxTimeout(t), hi(model))
			if err != nil {
				t.Fatal(err)
			}
			if len(msg.Content) != 1 || msg.Content[0].Text != "Hello world" || msg.StopReason != anthropic.StopReasonEndTurn || msg.Role != "assistant" {
				t.Errorf("message %s", msg.RawJSON())
			}
			if msg.Usage.InputTokens != 9 || msg.Usage.OutputTokens != 2 {
				t.Errorf("usage %s", msg.Usage.RawJSON())
			}
			r := e.lastRecord(t, i+1)
			if r.Format != "anthropic" || r.PromptTokens != 9 || r.CompletionTokens != 2 || r.Status != 200 || r.Path != "/v1/messages" || r.Estimated {
				t.Errorf("record %+v", r)
			}
		})
	}
}

// streamMessage streams with the SDK and accumulates with its own
// accumulator, which refuses out-of-order block indexes.
func streamMessage(t *testing.T, c *anthropic.Client, params anthropic.MessageNewParams) (anthropic.Message, error) {
	t.Helper()
	stream := c.Messages.NewStreaming(ctxTimeout(t), params)
	defer stream.Close()
	var msg anthropic.Message
	for stream.Next() {
		if err := msg.Accumulate(stream.Current()); err != nil {
			t.Fatalf("accumulate: %v", err)
		}
	}
	return msg, stream.Err()
}

func TestAnthropicSDKStreaming(t *testing.T) {
	e := newClaudeEnv(t)
	e.claude.SetDefault(testupstream.Reply{Content: []string{"Hello", " world"}, Usage: testupstream.Usage{Prompt: 1496, Cached: 1024, CacheWrite: 100, Completion: 2}})
	for i, model := range claudeModels {
		t.Run(model, func(t *testing.T) {
			msg, err := streamMessage(t, e.client(), hi(model))
			if err != nil {
				t.Fatal(err)
			}
			if len(msg.Content) != 1 || msg.Content[0].Text != "Hello world" || msg.StopReason != anthropic.StopReasonEndTurn {
				t.Errorf("message %s", msg.RawJSON())
			}
			r := e.lastRecord(t, i+1)
			if r.Format != "anthropic" || !r.Stream || r.CompletionTokens != 2 || r.TTFT <= 0 {
				t.Errorf("record %+v", r)
			}
			if strings.HasPrefix(model, "anthropic/") {
				// Pass-through: usage read from the relayed bytes, cache
				// reads and writes included.
				if msg.Usage.InputTokens != 372 || msg.Usage.CacheReadInputTokens != 1024 || msg.Usage.CacheCreationInputTokens != 100 ||
					r.PromptTokens != 1496 || r.CachedTokens != 1024 || r.CacheWriteTokens != 100 {
					t.Errorf("usage %s record %+v", msg.Usage.RawJSON(), r)
				}
			} else if msg.Usage.InputTokens != 9 || msg.Usage.OutputTokens != 2 || r.PromptTokens != 9 {
				t.Errorf("usage %s record %+v", msg.Usage.RawJSON(), r)
			}
		})
	}
}

var weather = anthropic.ToolUnionParam{OfTool: &anthropic.ToolParam{Name: "get_weather", Description: anthropic.String("Current weather"),
	InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"location": map[string]any{"type": "string"}}}}}

// A two-turn tool conversation, streamed, against every upstream: the
// tool_use id the client got is the one the upstream sees in the tool
// result; Gemini 3's thought signature rides in it (the fake refuses a
// turn that lost it).
func TestAnthropicSDKTwoTurnToolUse(t *testing.T) {
	e := newClaudeEnv(t)
	for _, tc := range []struct {
		model string
		up    *testupstream.Server
		id    string
	}{
		{"openai/gpt-4o", e.openai, "call_ZR5UUuTt3pf61kjwAJIYdVMj"},
		{"deepseek/deepseek-chat", e.deepseek, "call_0_2b7c"},
		{"gemini/gemini-3-pro-preview", e.gemini, ""},
		{"anthropic/claude-sonnet-4-5", e.claude, "toolu_01T1x1fJ34qAmk2tNTrN7Up6"},
	} {
		t.Run(tc.model, func(t *testing.T) {
			before := len(tc.up.Requests())
			tc.up.Enqueue(
				testupstream.Reply{Content: []string{"Let me check."}, ToolCalls: []testupstream.ToolCall{{ID: tc.id, Name: "get_weather", Args: []string{`{"location": "San Fra`, `ncisco, CA"}`}}},
					Usage: testupstream.Usage{Prompt: 50, Completion: 20}},
				testupstream.Reply{Content: []string{"It is sunny."}, Usage: testupstream.Usage{Prompt: 80, Completion: 5}},
			)
			params := anthropic.MessageNewParams{Model: anthropic.Model(tc.model), MaxTokens: 1024, Tools: []anthropic.ToolUnionParam{weather},
				System:   []anthropic.TextBlockParam{{Text: "Be brief."}},
				Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Weather in SF?"))}}
			msg, err := streamMessage(t, e.client(), params)
			if err != nil {
				t.Fatal(err)
			}
			// Blocks come in the upstream's order (the OpenAI-style fakes
			// send the call before the text).
			var use anthropic.ToolUseBlock
			text := ""
			for _, b := range msg.Content {
				switch b.Type {
				case "tool_use":
					use = b.AsToolUse()
				case "text":
					text += b.Text
				}
			}
			if msg.StopReason != anthropic.StopReasonToolUse || len(msg.Content) != 2 || text != "Let me check." {
				t.Fatalf("turn 1: %s", msg.RawJSON())
			}
			if use.Name != "get_weather" || string(use.Input) != `{"location": "San Francisco, CA"}` || use.ID == "" || tc.id != "" && use.ID != tc.id {
				t.Fatalf("tool use %s", msg.RawJSON())
			}
			params.Messages = append(params.Messages, msg.ToParam(), anthropic.NewUserMessage(anthropic.NewToolResultBlock(use.ID, "sunny, 18°C", false)))
			second, err := e.client().Messages.New(ctxTimeout(t), params)
			if err != nil {
				t.Fatal(err)
			}
			if second.Content[0].Text != "It is sunny." {
				t.Errorf("turn 2: %s", second.RawJSON())
			}
			sent := string(tc.up.Requests()[before+1].Body)
			if strings.HasPrefix(tc.model, "gemini/") {
				// Gemini matches results by name; the signature minted in
				// turn 1 must come back on the call.
				if !strings.Contains(use.ID, "__thought__") || !strings.Contains(sent, `"thoughtSignature":"EpwICpkIget_weatherAXLI2nx"`) || !strings.Contains(sent, "sunny, 18°C") {
					t.Errorf("thought signature not carried (id %s): %s", use.ID, sent)
				}
			} else if !strings.Contains(sent, jsonQuote(use.ID)) || !strings.Contains(sent, "sunny, 18°C") {
				t.Errorf("turn 2 upstream body lacks the tool id %s or result: %s", use.ID, sent)
			}
		})
	}
}

func jsonQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

// Thinking asked of DeepSeek and Gemini becomes their reasoning control;
// their reasoning comes back as a thinking block, streamed and not.
func TestAnthropicSDKThinking(t *testing.T) {
	e := newClaudeEnv(t)
	for _, tc := range []struct {
		model, want string
		up          *testupstream.Server
	}{
		{"deepseek/deepseek-reasoner", `"reasoning_effort":"low"`, e.deepseek},
		{"gemini/gemini-2.5-pro", `"thinkingBudget":1024`, e.gemini},
	} {
		t.Run(tc.model, func(t *testing.T) {
			reply := testupstream.Reply{Reasoning: []string{"The user ", "says hi."}, Content: []string{"Hello!"}, Usage: testupstream.Usage{Prompt: 10, Completion: 30, Reasoning: 20}}
			tc.up.Enqueue(reply, reply)
			params := hi(tc.model)
			params.MaxTokens = 4096
			params.Thinking = anthropic.ThinkingConfigParamOfEnabled(2048)
			msg, err := streamMessage(t, e.client(), params)
			if err != nil {
				t.Fatal(err)
			}
			if len(msg.Content) != 2 || msg.Content[0].Type != "thinking" || msg.Content[0].Thinking != "The user says hi." || msg.Content[1].Text != "Hello!" {
				t.Errorf("stream: %s", msg.RawJSON())
			}
			if sent := string(tc.up.Requests()[len(tc.up.Requests())-1].Body); !strings.Contains(sent, tc.want) {
				t.Errorf("upstream body lacks %s: %s", tc.want, sent)
			}
			full, err := e.client().Messages.New(ctxTimeout(t), params)
			if err != nil || full.Content[0].Thinking != "The user says hi." || full.Content[1].Text != "Hello!" {
				t.Errorf("non-stream: %v %s", err, full.RawJSON())
			}
		})
	}
}

func TestAnthropicSDKImages(t *testing.T) {
	e := newClaudeEnv(t)
	params := anthropic.MessageNewParams{Model: "openai/gpt-4o", MaxTokens: 100, Messages: []anthropic.MessageParam{anthropic.NewUserMessage(
		anthropic.NewTextBlock("What is this?"),
		anthropic.NewImageBlockBase64("image/png", "iVBORw0KGgo="),
		anthropic.NewImageBlock(anthropic.URLImageSourceParam{URL: "https://example.com/cat.jpg"}),
	)}}
	if _, err := e.client().Messages.New(ctxTimeout(t), params); err != nil {
		t.Fatal(err)
	}
	var sent struct {
		Messages []struct {
			Content []struct {
				Type     string `json:"type"`
				ImageURL struct {
					URL string `json:"url"`
				} `json:"image_url"`
			} `json:"content"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(e.openai.Requests()[0].Body, &sent); err != nil || len(sent.Messages) != 1 || len(sent.Messages[0].Content) != 3 {
		t.Fatalf("%v %s", err, e.openai.Requests()[0].Body)
	}
	parts := sent.Messages[0].Content
	if parts[1].ImageURL.URL != "data:image/png;base64,iVBORw0KGgo=" || parts[2].ImageURL.URL != "https://example.com/cat.jpg" {
		t.Errorf("images %+v", parts)
	}
}

func TestAnthropicSDKCountTokens(t *testing.T) {
	e := newClaudeEnv(t)
	params := anthropic.MessageCountTokensParams{Model: "anthropic/claude-sonnet-4-5",
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("How many tokens is this?"))}}
	n, err := e.client().Messages.CountTokens(ctxTimeout(t), params)
	if err != nil {
		t.Fatal(err)
	}
	up := e.claude.Requests()
	if len(up) != 1 || up[0].Path != "/v1/messages/count_tokens" || n.InputTokens != int64(len(up[0].Body)/4) || !strings.Contains(string(up[0].Body), `"model":"claude-sonnet-4-5"`) {
		t.Fatalf("upstream count: %d %+v", n.InputTokens, up)
	}
	params.Model = "openai/gpt-4o"
	var raw *http.Response
	n, err = e.client().Messages.CountTokens(ctxTimeout(t), params, aoption.WithResponseInto(&raw))
	if err != nil {
		t.Fatal(err)
	}
	hdr := raw.Header
	if n.InputTokens < 10 || n.InputTokens > 20 || hdr.Get("X-Token-Count") != "approximate" || len(e.openai.Requests()) != 0 {
		t.Errorf("local count %d, header %q, upstream calls %d", n.InputTokens, hdr.Get("X-Token-Count"), len(e.openai.Requests()))
	}
	for i := 1; i <= 2; i++ {
		if r := e.lastRecord(t, i); r.Format != "anthropic_count_tokens" || r.TotalTokens != 0 || r.Estimated || r.Status != 200 {
			t.Errorf("record %d: %+v", i, r)
		}
	}
}

// Errors reach the SDK typed: Anthropic's shape, the right status and type.
func TestAnthropicSDKErrorsAreTyped(t *testing.T) {
	e := newClaudeEnv(t)
	e.openai.Enqueue(testupstream.Reply{Status: 429, RetryAfter: "1"}, testupstream.Reply{Status: 429, RetryAfter: "1"}, testupstream.Reply{Status: 429, RetryAfter: "1"})
	e.claude.Enqueue(testupstream.Reply{Status: 529}, testupstream.Reply{Status: 529}, testupstream.Reply{Status: 529})
	bc := anthropic.NewClient(aoption.WithBaseURL(e.srv.URL), aoption.WithAuthToken(accessKey), aoption.WithMaxRetries(0))
	bearer := &bc
	for _, tc := range []struct {
		name, model string
		client      *anthropic.Client
		status      int
		typ         string
	}{
		{"access key as bearer token", "deepseek/deepseek-chat", bearer, 200, ""},
		{"unknown model", "nope/x", e.client(), 404, "not_found_error"},
		{"wrong access key", "openai/gpt-4o", e.client(aoption.WithAPIKey("wrong")), 401, "authentication_error"},
		{"openai rate limit", "openai/gpt-4o", e.client(), 429, "rate_limit_error"},
		{"anthropic overloaded", "anthropic/claude-haiku-4-5", e.client(), 529, "overloaded_error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.client.Messages.New(ctxTimeout(t), hi(tc.model))
			if tc.status == 200 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ae *anthropic.Error
			if !errors.As(err, &ae) {
				t.Fatalf("got %v, want *anthropic.Error", err)
			}
			if ae.StatusCode != tc.status || string(ae.Type()) != tc.typ || ae.Message == "" {
				t.Errorf("got %d %q %q", ae.StatusCode, ae.Type(), ae.Message)
			}
		})
	}
}

// Malformed bodies get a 400 in Anthropic's shape and never reach an
// upstream.
func TestAnthropicMalformedBodies(t *testing.T) {
	e := newClaudeEnv(t)
	for name, body := range map[string]string{
		"bad json":           `{"model":"openai/gpt-4o",`,
		"missing model":      `{"max_tokens":5,"messages":[{"role":"user","content":"x"}]}`,
		"missing messages":   `{"model":"anthropic/claude-sonnet-4-5","max_tokens":5}`,
		"missing max_tokens": `{"model":"anthropic/claude-sonnet-4-5","messages":[{"role":"user","content":"x"}]}`,
		"null message":       `{"model":"anthropic/claude-sonnet-4-5","max_tokens":5,"messages":[null]}`,
		"wrong type":         `{"model":"openai/gpt-4o","max_tokens":5,"messages":[{"role":"user","content":"x"}],"temperature":"hot"}`,
		"bad block":          `{"model":"openai/gpt-4o","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image"}]}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			resp, got := e.post(t, "/v1/messages?beta=true", body)
			var v struct {
				Type  string `json:"type"`
				Error struct{ Type, Message string }
			}
			if resp.StatusCode != 400 || json.Unmarshal([]byte(got), &v) != nil || v.Type != "error" || v.Error.Type != "invalid_request_error" || v.Error.Message == "" {
				t.Errorf("%d %s", resp.StatusCode, got)
			}
		})
	}
	if n := len(e.openai.Requests()) + len(e.claude.Requests()); n != 0 {
		t.Errorf("%d requests went upstream", n)
	}
}

// A stream that fails midway ends with an error event and no message_stop,
// translated or passed through; the SDK reports the error.
func TestAnthropicStreamErrorMidway(t *testing.T) {
	e := newClaudeEnv(t)
	body := `{"model":"%s","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"x"}]}`
	for _, tc := range []struct {
		model string
		up    *testupstream.Server
		reply testupstream.Reply
		want  string
	}{
		{"openai/gpt-4o", e.openai, testupstream.Reply{Content: []string{"a", "b", "c", "d"}, ErrorEvent: true}, "server had an error"},
		{"openai/gpt-4o", e.openai, testupstream.Reply{Content: []string{"a", "b", "c", "d"}, CutAfter: 3}, "upstream openai closed the stream before it finished"},
		{"anthropic/claude-sonnet-4-5", e.claude, testupstream.Reply{Content: []string{"a", "b", "c", "d"}, ErrorEvent: true}, "Overloaded"},
		{"anthropic/claude-sonnet-4-5", e.claude, testupstream.Reply{Content: []string{"a", "b", "c", "d"}, CutAfter: 3}, "upstream anthropic closed the stream before it finished"},
	} {
		t.Run(tc.model+tc.want, func(t *testing.T) {
			tc.up.Enqueue(tc.reply)
			resp, got := e.post(t, "/v1/messages", strings.Replace(body, "%s", tc.model, 1))
			if resp.StatusCode != 200 || !strings.Contains(got, "event: error\ndata: {\"type\":\"error\",\"error\":{") || strings.Contains(got, "message_stop") || !strings.Contains(got, tc.want) {
				t.Errorf("%d\n%s", resp.StatusCode, got)
			}
			tc.up.Enqueue(tc.reply)
			_, err := streamMessage(t, e.client(), hi(tc.model))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("SDK: %v", err)
			}
		})
	}
}

// Pass-through fidelity: unknown request members and headers reach
// Anthropic byte for byte (but for the model), and its stream, unknown
// event types included, reaches the client byte for byte.
func TestAnthropicPassThroughFidelity(t *testing.T) {
	e := newClaudeEnv(t)
	future := "event: content_block_future\ndata: {\"type\":\"content_block_future\",\"index\":0,\"payload\":{\"nested\":[1,\"<b>\",null]}}\n\n"
	reply := testupstream.Reply{Content: []string{"Hi"}, RawEvents: []string{future, "event: ping\ndata: {\"type\": \"ping\"}\n\n"}, Usage: testupstream.Usage{Prompt: 5, Completion: 1}}
	e.claude.Enqueue(reply, reply)
	body := `{"model":"anthropic/claude-opus-4-1",  "max_tokens":64000,"stream":true,` +
		`"messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral","ttl":"1h"}}]}],` +
		`"thinking":{"type":"adaptive"},"output_config":{"effort":"high"},"context_management":{"edits":[{"type":"clear_tool_uses_20250919"}]},` +
		`"tools":[{"type":"web_search_20250305","name":"web_search","max_uses":5}],"metadata":{"user_id":"u1"},"future_member":{"x":[1.50,2e3]}}`
	resp, got := e.post(t, "/v1/messages?beta=true", body, "Anthropic-Beta", "context-management-2025-06-27,interleaved-thinking-2025-05-14", "Anthropic-Version", "2023-06-01")
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, got)
	}
	up := e.claude.Requests()[0]
	if want := strings.Replace(body, "anthropic/claude-opus-4-1", "claude-opus-4-1", 1); string(up.Body) != want {
		t.Errorf("upstream body:\n%s\nwant:\n%s", up.Body, want)
	}
	if up.Header.Get("Anthropic-Beta") != "context-management-2025-06-27,interleaved-thinking-2025-05-14" || up.Header.Get("Anthropic-Version") != "2023-06-01" ||
		up.Header.Get("X-Api-Key") != e.claude.Key || strings.Contains(strings.Join(headerValues(up.Header), " "), accessKey) {
		t.Errorf("upstream headers %v", up.Header)
	}
	// What the fake sends for the same request, straight.
	direct, _ := http.NewRequest(http.MethodPost, e.claude.URL+"/v1/messages", bytes.NewReader(up.Body))
	direct.Header = up.Header.Clone()
	dresp, err := http.DefaultClient.Do(direct)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := io.ReadAll(dresp.Body)
	dresp.Body.Close()
	if got != string(want) || !strings.Contains(got, future) {
		t.Errorf("relayed stream differs:\n%s\nwant:\n%s", got, want)
	}
}

func headerValues(h http.Header) []string {
	var out []string
	for _, v := range h {
		out = append(out, v...)
	}
	return out
}

// During silence a Messages stream gets ping events, not SSE comments.
func TestAnthropicPingDuringSilence(t *testing.T) {
	e := newClaudeEnv(t, llmbridge.WithKeepAlive(20*time.Millisecond))
	e.openai.Enqueue(testupstream.Reply{Content: []string{"a", "b"}, Delay: 120 * time.Millisecond})
	resp, got := e.post(t, "/v1/messages", `{"model":"openai/gpt-4o","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"x"}]}`)
	if resp.StatusCode != 200 || !strings.Contains(got, "event: ping\ndata: {\"type\": \"ping\"}\n\n") || strings.Contains(got, ": keep-alive") || !strings.HasSuffix(got, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n") {
		t.Errorf("%s", got)
	}
}

// An Anthropic client listing models gets Anthropic's shape; others keep
// OpenAI's.
func TestAnthropicSDKModels(t *testing.T) {
	e := newClaudeEnv(t)
	var ids []string
	iter := e.client().Models.ListAutoPaging(ctxTimeout(t), anthropic.ModelListParams{Limit: anthropic.Int(3)})
	for iter.Next() {
		m := iter.Current()
		if m.Type != "model" || m.DisplayName != m.ID || m.CreatedAt.IsZero() {
			t.Errorf("model %s", m.RawJSON())
		}
		ids = append(ids, m.ID)
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	if len(ids) < 10 || ids[0] != "openai/gpt-4o" || ids[len(ids)-1] != "anthropic/claude-haiku-4-5" {
		t.Errorf("ids %v", ids)
	}
	m, err := e.client().Models.Get(ctxTimeout(t), "deepseek/deepseek-chat", anthropic.ModelGetParams{})
	if err != nil || m.ID != "deepseek/deepseek-chat" {
		t.Errorf("get: %v %+v", err, m)
	}
	_, err = e.client().Models.Get(ctxTimeout(t), "nope/x", anthropic.ModelGetParams{})
	var ae *anthropic.Error
	if !errors.As(err, &ae) || ae.StatusCode != 404 || ae.Type() != "not_found_error" {
		t.Errorf("unknown model: %v", err)
	}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, e.srv.URL+"/v1/models", nil)
	req.Header.Set("Authorization", "Bearer "+accessKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(b), `{"object":"list"`) {
		t.Errorf("OpenAI clients: %s", b)
	}
}
