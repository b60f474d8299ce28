package vertex_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
	"go.uber.org/goleak"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/configfile"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	accessKey = "sk-bridge-access-vertex-test"
	gemini    = "vertex/gemini-2.5-flash"
	claude    = "vertex/claude-sonnet-4-5@20250929"
)

// env is a Vertex fake whose tokens come from a Google token endpoint
// that verifies the service account's JWT, and a bridge in front of it
// with a kind: vertex provider built from a key file, as the server
// builds it.
type env struct {
	up     *testupstream.Server
	tokens *testupstream.GoogleTokens
	url    string
}

func newEnv(t *testing.T, key *rsa.PrivateKey) *env {
	t.Helper()
	e := &env{up: testupstream.New(t, testupstream.Vertex), tokens: testupstream.NewGoogleTokens(t)}
	e.up.Bearer = e.tokens.Valid
	if key == nil {
		key = e.tokens.Key
	}
	file := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(file, e.tokens.ServiceAccountJSON(key), 0o600); err != nil {
		t.Fatal(err)
	}
	p := configfile.NewVertex(configfile.Provider{Vertex: configfile.Vertex{Project: "test-project", Location: "us-central1", CredentialsFile: file}},
		llmbridge.ProviderConfig{Name: "vertex", BaseURL: e.up.BaseURL()})
	b, err := llmbridge.New(llmbridge.WithProvider(p), llmbridge.WithAccessKeys(accessKey),
		llmbridge.WithRetry(llmbridge.RetryPolicy{Max: 1, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, MaxRetryAfter: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	t.Cleanup(func() { srv.Close(); b.Close() })
	e.url = srv.URL
	return e
}

func (e *env) openai() *openai.Client {
	c := openai.NewClient(option.WithBaseURL(e.url+"/v1"), option.WithAPIKey(accessKey), option.WithMaxRetries(0))
	return &c
}

func (e *env) anthropic() *anthropic.Client {
	c := anthropic.NewClient(aoption.WithBaseURL(e.url), aoption.WithAPIKey(accessKey), aoption.WithMaxRetries(0))
	return &c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func hi(model string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")}}
}

// Both families from a Chat client, streamed and not: Gemini models on
// Google's publisher path, Claude models on Anthropic's with Vertex's
// body; one token (from a verified JWT) for every call.
func TestVertexChat(t *testing.T) {
	e := newEnv(t, nil)
	for _, model := range []string{gemini, claude} {
		resp, err := e.openai().Chat.Completions.New(ctx(t), hi(model))
		if err != nil {
			t.Fatalf("%s: %v", model, err)
		}
		if resp.Choices[0].Message.Content != "Hello world" || resp.Usage.TotalTokens != 11 {
			t.Errorf("%s: %s", model, resp.RawJSON())
		}
		stream := e.openai().Chat.Completions.NewStreaming(ctx(t), hi(model))
		acc := openai.ChatCompletionAccumulator{}
		for stream.Next() {
			acc.AddChunk(stream.Current())
		}
		if err := stream.Err(); err != nil || acc.Choices[0].Message.Content != "Hello world" {
			t.Errorf("%s stream: %q %v", model, acc.Choices[0].Message.Content, err)
		}
	}
	want := []string{
		"/v1/projects/test-project/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent",
		"/v1/projects/test-project/locations/us-central1/publishers/google/models/gemini-2.5-flash:streamGenerateContent",
		"/v1/projects/test-project/locations/us-central1/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict",
		"/v1/projects/test-project/locations/us-central1/publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict",
	}
	for i, r := range e.up.Requests() {
		if r.Path != want[i] || !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ya29.") {
			t.Errorf("request %d: %s %v", i, r.Path, r.Header.Get("Authorization"))
		}
		if i >= 2 && (!strings.Contains(string(r.Body), `"anthropic_version":"vertex-2023-10-16"`) || strings.Contains(string(r.Body), `"model"`)) {
			t.Errorf("Claude body %s", r.Body)
		}
	}
	if n := e.tokens.Issued(); n != 1 {
		t.Errorf("%d token requests for 4 calls, want 1", n)
	}
}

// A key file whose private key is not the service account's: Google
// refuses the JWT, the client gets a 502 that names the refusal, and
// nothing reaches Vertex.
func TestVertexForgedKey(t *testing.T) {
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, other)
	_, err = e.openai().Chat.Completions.New(ctx(t), hi(gemini))
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != 502 || ae.Code != "upstream_auth_failed" || !strings.Contains(ae.Message, "HTTP 400 invalid_grant") {
		t.Fatalf("error %v", ae.RawJSON())
	}
	if strings.Contains(ae.RawJSON(), "PRIVATE KEY") || len(e.up.Requests()) != 0 || e.tokens.Issued() != 0 {
		t.Errorf("raw %s; %d upstream requests", ae.RawJSON(), len(e.up.Requests()))
	}
}

// A token Vertex refuses (revoked) is replaced once and the call goes
// through.
func TestVertexRefreshOn401(t *testing.T) {
	e := newEnv(t, nil)
	if _, err := e.openai().Chat.Completions.New(ctx(t), hi(gemini)); err != nil {
		t.Fatal(err)
	}
	e.tokens.RevokeAll()
	if _, err := e.openai().Chat.Completions.New(ctx(t), hi(claude)); err != nil {
		t.Fatal(err)
	}
	if e.tokens.Issued() != 2 || len(e.up.Requests()) != 3 {
		t.Errorf("%d tokens, %d upstream requests; want 2 and 3", e.tokens.Issued(), len(e.up.Requests()))
	}
}

// Messages API clients (Claude Code) pass through to Claude models:
// Vertex's body, the SDK's own events back; to Gemini models they are
// translated.
func TestVertexMessages(t *testing.T) {
	e := newEnv(t, nil)
	params := anthropic.MessageNewParams{Model: claude, MaxTokens: 1024, Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hi"))}}
	msg, err := e.anthropic().Messages.New(ctx(t), params, aoption.WithHeader("anthropic-beta", "claude-code-20250219,interleaved-thinking-2025-05-14,prompt-caching-scope-2026-01-05"))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Content[0].Text != "Hello world" || msg.Usage.InputTokens != 9 {
		t.Errorf("message %s", msg.RawJSON())
	}
	r := e.up.Requests()[0]
	if r.Header.Get("Anthropic-Beta") != "interleaved-thinking-2025-05-14" || r.Header.Get("X-Api-Key") != "" || strings.Contains(string(r.Body), `"model"`) {
		t.Errorf("upstream %v %s", r.Header, r.Body)
	}
	stream := e.anthropic().Messages.NewStreaming(ctx(t), params)
	var acc anthropic.Message
	for stream.Next() {
		if err := acc.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if stream.Err() != nil || acc.Content[0].Text != "Hello world" {
		t.Errorf("stream %v %s", stream.Err(), acc.RawJSON())
	}
	params.Model = gemini
	if msg, err := e.anthropic().Messages.New(ctx(t), params); err != nil || msg.Content[0].Text != "Hello world" {
		t.Errorf("gemini via Messages: %v", err)
	}
	count, err := e.anthropic().Messages.CountTokens(ctx(t), anthropic.MessageCountTokensParams{Model: claude,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hi"))}})
	if err != nil || count.InputTokens == 0 {
		t.Errorf("count_tokens: %v %+v", err, count)
	}
	last := e.up.Requests()[len(e.up.Requests())-1]
	if !strings.HasSuffix(last.Path, "/publishers/anthropic/models/count-tokens:rawPredict") {
		t.Errorf("count_tokens went to %s", last.Path)
	}
}

// Tool turns on Gemini 3 keep their thought signature through Vertex; on
// Claude the tool_use id comes back.
func TestVertexToolsAndImages(t *testing.T) {
	e := newEnv(t, nil)
	tool := openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{Name: "get_capital",
		Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{"country": map[string]any{"type": "string"}}}})
	for _, model := range []string{"vertex/gemini-3-pro-preview", claude} {
		e.up.Enqueue(testupstream.Reply{ToolCalls: []testupstream.ToolCall{{ID: "toolu_01A", Name: "get_capital", Args: []string{`{"country":"UK"}`}}}},
			testupstream.Reply{Content: []string{"London."}})
		params := openai.ChatCompletionNewParams{Model: model, Tools: []openai.ChatCompletionToolUnionParam{tool},
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{
				openai.TextContentPart("Capital of this flag?"), openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: "data:image/png;base64,iVBORw0KGgo="})})}}
		first, err := e.openai().Chat.Completions.New(ctx(t), params)
		if err != nil {
			t.Fatalf("%s: %v", model, err)
		}
		calls := first.Choices[0].Message.ToolCalls
		if len(calls) != 1 || calls[0].Function.Arguments != `{"country":"UK"}` {
			t.Fatalf("%s: %s", model, first.RawJSON())
		}
		params.Messages = append(params.Messages, first.Choices[0].Message.ToParam(), openai.ToolMessage("London", calls[0].ID))
		second, err := e.openai().Chat.Completions.New(ctx(t), params)
		if err != nil || second.Choices[0].Message.Content != "London." {
			t.Fatalf("%s turn 2: %v", model, err)
		}
		sent := string(e.up.Requests()[len(e.up.Requests())-1].Body)
		if strings.Contains(model, "gemini-3") && !strings.Contains(sent, `"thoughtSignature":"EpwICpkIget_capitalAXLI2nx"`) {
			t.Errorf("thought signature lost: %s", sent)
		}
		if strings.Contains(model, "claude") && (!strings.Contains(sent, `"tool_use_id":"toolu_01A"`) || !strings.Contains(sent, `"media_type":"image/png"`)) {
			t.Errorf("claude turn 2: %s", sent)
		}
	}
}

// Errors keep their family's shape: Claude's own (429 with Retry-After)
// and the platform's (a Claude model name on Google's path would be a
// 404; a 403 for a Gemini model).
func TestVertexErrors(t *testing.T) {
	e := newEnv(t, nil)
	e.up.Enqueue(testupstream.Reply{Status: 429, RetryAfter: "3"}) // longer than the bridge waits: not retried
	_, err := e.openai().Chat.Completions.New(ctx(t), hi(claude))
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != 429 || ae.Response.Header.Get("Retry-After") != "3" {
		t.Fatalf("429: %v", err)
	}
	e.up.Enqueue(testupstream.Reply{Status: 403})
	_, err = e.openai().Chat.Completions.New(ctx(t), hi(gemini))
	if !errors.As(err, &ae) || ae.StatusCode != 403 || ae.Code != "permission_denied" {
		t.Fatalf("403: %v", err)
	}
	_, err = e.anthropic().Messages.New(ctx(t), anthropic.MessageNewParams{Model: claude, MaxTokens: 0,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hi"))}})
	var aerr *anthropic.Error
	if !errors.As(err, &aerr) || aerr.StatusCode != 400 {
		t.Fatalf("Messages error: %v", err)
	}
}
