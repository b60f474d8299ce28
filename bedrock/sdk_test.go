package bedrock_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"
	"go.uber.org/goleak"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/bedrock"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	accessKey = "sk-bridge-access"
	haiku     = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
	arn       = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6"
)

// png1x1 is a one-pixel PNG as a data URL.
const png1x1 = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="

// env is a bridge in front of the fake Bedrock, whose provider signs with
// credentials from the AWS default chain (the AWS_* variables).
type env struct {
	up  *testupstream.Server
	url string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{"AWS_CONFIG_FILE": dir + "/c", "AWS_SHARED_CREDENTIALS_FILE": dir + "/k", "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_PROFILE": "", "AWS_REGION": "", "AWS_ACCESS_KEY_ID": testupstream.BedrockAccessKeyID,
		"AWS_SECRET_ACCESS_KEY": testupstream.BedrockSecretKey, "AWS_SESSION_TOKEN": testupstream.BedrockSessionToken} {
		t.Setenv(k, v)
	}
	up := testupstream.New(t, testupstream.Bedrock)
	p := bedrock.New(llmbridge.ProviderConfig{Region: testupstream.BedrockRegion, BaseURL: up.BaseURL(), Models: []string{haiku}})
	b, err := llmbridge.New(llmbridge.WithProvider(p), llmbridge.WithAccessKeys(accessKey), llmbridge.WithRetry(llmbridge.RetryPolicy{Max: 0}))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	t.Cleanup(func() { srv.Close(); b.Close() })
	return &env{up: up, url: srv.URL}
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

var weather = openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{Name: "get_weather",
	Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}}})

// openai-go, non-streamed, with a system message and an image, for a bare
// inference-profile ID and a prefixed ARN (whose '/' must survive
// routing and the path).
func TestOpenAISDKNonStreamImage(t *testing.T) {
	e := newEnv(t)
	for _, model := range []string{haiku, "bedrock/" + arn} {
		r, err := e.openai().Chat.Completions.New(ctx(t), openai.ChatCompletionNewParams{Model: model, MaxTokens: openai.Int(300),
			Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{
				openai.TextContentPart("What is this?"), openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: png1x1})})}})
		if err != nil {
			t.Fatalf("%s: %v", model, err)
		}
		if r.Choices[0].Message.Content != "Hello world" || r.Usage.TotalTokens != 11 || r.Choices[0].FinishReason != "stop" {
			t.Errorf("%s: %s", model, r.RawJSON())
		}
	}
	reqs := e.up.Requests()
	body := string(reqs[0].Body)
	for _, want := range []string{`"system":[{"text":"Be brief."}]`, `"image":{"format":"png","source":{"bytes":"iVBORw0KGgo`, `"inferenceConfig":{"maxTokens":300}`} {
		if !strings.Contains(body, want) {
			t.Errorf("upstream body lacks %s: %s", want, body)
		}
	}
	if reqs[1].Path != "/model/"+arn+"/converse" {
		t.Errorf("ARN path %q", reqs[1].Path)
	}
}

// openai-go streams a two-turn tool conversation: the tool call arrives
// whole, and the tool result goes back as a toolResult block.
func TestOpenAISDKStreamTools(t *testing.T) {
	e := newEnv(t)
	e.up.Enqueue(testupstream.Reply{Content: []string{"Checking."}, ToolCalls: []testupstream.ToolCall{{ID: "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", Name: "get_weather", Args: []string{`{"city":`, `"Paris"}`}}},
		Usage: testupstream.Usage{Prompt: 500, Cached: 400, Completion: 20}},
		testupstream.Reply{Content: []string{"Sunny."}, Usage: testupstream.Usage{Prompt: 600, Completion: 3}})
	params := openai.ChatCompletionNewParams{Model: "bedrock/" + haiku, Tools: []openai.ChatCompletionToolUnionParam{weather},
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather in Paris?")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}}
	acc := stream(t, e.openai(), params)
	msg := acc.Choices[0].Message
	if msg.Content != "Checking." || acc.Choices[0].FinishReason != "tool_calls" || len(msg.ToolCalls) != 1 ||
		msg.ToolCalls[0].Function.Arguments != `{"city":"Paris"}` || msg.ToolCalls[0].ID != "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q" {
		t.Fatalf("turn 1: %+v", acc.Choices[0])
	}
	if u := acc.Usage; u.PromptTokens != 500 || u.PromptTokensDetails.CachedTokens != 400 || u.TotalTokens != 520 {
		t.Errorf("usage %+v", u)
	}
	params.Messages = append(params.Messages, msg.ToParam(), openai.ToolMessage("18°C, sunny", msg.ToolCalls[0].ID))
	if acc = stream(t, e.openai(), params); acc.Choices[0].Message.Content != "Sunny." {
		t.Errorf("turn 2: %+v", acc.Choices[0])
	}
	second := string(e.up.Requests()[1].Body)
	if !strings.Contains(second, `{"toolResult":{"toolUseId":"tooluse_kZJMlvQmRJ6eAyJE5GIl7Q","content":[{"text":"18°C, sunny"}]}}`) ||
		!strings.Contains(second, `"toolUse":{"toolUseId":"tooluse_kZJMlvQmRJ6eAyJE5GIl7Q","name":"get_weather","input":{"city":"Paris"}}`) {
		t.Errorf("turn 2 body: %s", second)
	}
}

func stream(t *testing.T, c *openai.Client, params openai.ChatCompletionNewParams) openai.ChatCompletionAccumulator {
	t.Helper()
	acc := openai.ChatCompletionAccumulator{}
	s := c.Chat.Completions.NewStreaming(ctx(t), params)
	for s.Next() {
		acc.AddChunk(s.Current())
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return acc
}

// Errors reach openai-go with Bedrock's status, Retry-After and the
// exception's name; an exception mid-stream ends the stream with an error.
func TestOpenAISDKErrors(t *testing.T) {
	e := newEnv(t)
	for _, tt := range []struct {
		rep    testupstream.Reply
		status int
		code   string
	}{
		{testupstream.Reply{Status: 429, RetryAfter: "2"}, 429, "ThrottlingException"},
		{testupstream.Reply{Status: 400}, 400, "ValidationException"},
		{testupstream.Reply{Status: 403}, 403, "AccessDeniedException"},
		{testupstream.Reply{Status: 503}, 503, "ServiceUnavailableException"},
	} {
		e.up.Enqueue(tt.rep)
		_, err := e.openai().Chat.Completions.New(ctx(t), openai.ChatCompletionNewParams{Model: haiku, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
		var ae *openai.Error
		if !errors.As(err, &ae) || ae.StatusCode != tt.status || ae.Code != tt.code {
			t.Errorf("%s: %v", tt.code, err)
			continue
		}
		if tt.status == 429 && ae.Response.Header.Get("Retry-After") != "2" {
			t.Errorf("Retry-After %q", ae.Response.Header.Get("Retry-After"))
		}
	}
	e.up.Enqueue(testupstream.Reply{Content: []string{"a", "b", "c", "d"}, ErrorEvent: true})
	s := e.openai().Chat.Completions.NewStreaming(ctx(t), openai.ChatCompletionNewParams{Model: haiku, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	for s.Next() {
	}
	if err := s.Err(); err == nil || !strings.Contains(err.Error(), "stream failed") {
		t.Errorf("mid-stream exception: %v", err)
	}
	// An image by link is refused before anything goes upstream.
	n := len(e.up.Requests())
	_, err := e.openai().Chat.Completions.New(ctx(t), openai.ChatCompletionNewParams{Model: haiku, Messages: []openai.ChatCompletionMessageParamUnion{
		openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: "https://example.com/a.png"})})}})
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != 400 || len(e.up.Requests()) != n {
		t.Errorf("image link: %v", err)
	}
}

// The Responses API reaches Bedrock by translation.
func TestOpenAISDKResponses(t *testing.T) {
	e := newEnv(t)
	r, err := e.openai().Responses.New(ctx(t), responses.ResponseNewParams{Model: haiku, Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}})
	if err != nil || r.OutputText() != "Hello world" {
		t.Fatalf("%v %+v", err, r)
	}
}

// Claude Code's path: anthropic-sdk-go streams a tool-using turn through
// /v1/messages. Every content block is started and stopped, the tool
// input arrives whole, and usage counts the cache.
func TestAnthropicSDKStreamTools(t *testing.T) {
	e := newEnv(t)
	e.up.Enqueue(testupstream.Reply{Reasoning: []string{"Paris, ", "so weather."}, Content: []string{"Let me look."},
		ToolCalls: []testupstream.ToolCall{{ID: "tooluse_1", Name: "get_weather", Args: []string{`{"ci`, `ty":"Paris"}`}}, {ID: "tooluse_2", Name: "clock"}},
		Usage:     testupstream.Usage{Prompt: 3000, Cached: 2000, CacheWrite: 500, Completion: 60}})
	params := anthropic.MessageNewParams{Model: anthropic.Model("bedrock/" + haiku), MaxTokens: 1024,
		System:   []anthropic.TextBlockParam{{Text: "You are Claude Code."}},
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Weather?"))},
		Tools: []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{Name: "get_weather", InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"city": map[string]any{"type": "string"}}}}},
			{OfTool: &anthropic.ToolParam{Name: "clock", InputSchema: anthropic.ToolInputSchemaParam{}}}}}
	s := e.anthropic().Messages.NewStreaming(ctx(t), params)
	msg := anthropic.Message{}
	open := map[int64]bool{}
	for s.Next() {
		ev := s.Current()
		if err := msg.Accumulate(ev); err != nil {
			t.Fatal(err)
		}
		switch ev.Type {
		case "content_block_start":
			open[ev.Index] = true
		case "content_block_stop":
			delete(open, ev.Index)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if len(open) != 0 {
		t.Errorf("blocks left open: %v", open)
	}
	var tools []string
	for _, b := range msg.Content {
		if b.Type == "tool_use" {
			tools = append(tools, b.Name+string(b.Input))
		}
	}
	if strings.Join(tools, " ") != `get_weather{"city":"Paris"} clock{}` || msg.StopReason != anthropic.StopReasonToolUse {
		t.Errorf("tools %v stop %s: %s", tools, msg.StopReason, msg.RawJSON())
	}
	if u := msg.Usage; u.OutputTokens != 60 || u.CacheReadInputTokens != 2000 || u.CacheCreationInputTokens != 500 || u.InputTokens != 500 {
		t.Errorf("usage %s", u.RawJSON())
	}
	if body := string(e.up.Requests()[0].Body); !strings.Contains(body, `"system":[{"text":"You are Claude Code."}]`) || !strings.Contains(body, `"toolSpec":{"name":"clock"`) {
		t.Errorf("upstream body %s", body)
	}
}

// anthropic-sdk-go, non-streamed with an image, and an error in
// Anthropic's shape with Bedrock's status.
func TestAnthropicSDKImageAndErrors(t *testing.T) {
	e := newEnv(t)
	data := strings.TrimPrefix(png1x1, "data:image/png;base64,")
	msg, err := e.anthropic().Messages.New(ctx(t), anthropic.MessageNewParams{Model: anthropic.Model(haiku), MaxTokens: 100,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("What is it?"), anthropic.NewImageBlockBase64("image/png", data))}})
	if err != nil || msg.Content[0].Text != "Hello world" || msg.Usage.InputTokens != 9 {
		t.Fatalf("%v %+v", err, msg)
	}
	if body := string(e.up.Requests()[0].Body); !strings.Contains(body, `"image":{"format":"png","source":{"bytes":"`+data+`"}}`) {
		t.Errorf("upstream body %s", body)
	}
	for _, tt := range []struct {
		status int
		typ    string
	}{{429, "rate_limit_error"}, {403, "permission_error"}, {400, "invalid_request_error"}} {
		e.up.Enqueue(testupstream.Reply{Status: tt.status})
		_, err = e.anthropic().Messages.New(ctx(t), anthropic.MessageNewParams{Model: anthropic.Model(haiku), MaxTokens: 10,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
		var ae *anthropic.Error
		if !errors.As(err, &ae) || ae.StatusCode != tt.status || !strings.Contains(ae.RawJSON(), tt.typ) {
			t.Errorf("%d: %v", tt.status, err)
		}
	}
}

// With no credentials anywhere in the default chain, a client gets a 500
// naming the provider (the cause goes to the log), and nothing is sent.
func TestNoCredentialsThroughTheBridge(t *testing.T) {
	e := newEnv(t)
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
		t.Setenv(k, "")
	}
	p := bedrock.New(llmbridge.ProviderConfig{Region: testupstream.BedrockRegion, BaseURL: e.up.BaseURL()})
	b, err := llmbridge.New(llmbridge.WithProvider(p), llmbridge.WithAccessKeys(accessKey), llmbridge.WithRetry(llmbridge.RetryPolicy{Max: 0}))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	defer func() { srv.Close(); b.Close() }()
	c := openai.NewClient(option.WithBaseURL(srv.URL+"/v1"), option.WithAPIKey(accessKey), option.WithMaxRetries(0))
	_, err = c.Chat.Completions.New(ctx(t), openai.ChatCompletionNewParams{Model: "bedrock/" + haiku, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != 500 || !strings.Contains(ae.Message, "bedrock") || len(e.up.Requests()) != 0 {
		t.Fatalf("got %v (%d upstream requests)", err, len(e.up.Requests()))
	}
}

// A Bedrock ID no list names reaches Bedrock by its family (the day AWS
// ships it), beside an Anthropic provider whose family is "claude-*":
// the dotted IDs are Bedrock's alone, and a bare "claude-…" stays
// Anthropic's.
func TestNewModelIDsRouteByFamily(t *testing.T) {
	e := newEnv(t)
	anth := testupstream.New(t, testupstream.Anthropic)
	p := bedrock.New(llmbridge.ProviderConfig{Region: testupstream.BedrockRegion, BaseURL: e.up.BaseURL(), Models: []string{haiku}})
	b, err := llmbridge.New(llmbridge.WithProvider(p), llmbridge.WithProvider(llmbridge.Anthropic(llmbridge.ProviderConfig{BaseURL: anth.BaseURL(), APIKey: anth.Key})),
		llmbridge.WithAccessKeys(accessKey), llmbridge.WithRetry(llmbridge.RetryPolicy{Max: 0}))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	t.Cleanup(func() { srv.Close(); b.Close() })
	c := openai.NewClient(option.WithBaseURL(srv.URL+"/v1"), option.WithAPIKey(accessKey), option.WithMaxRetries(0))
	for model, want := range map[string]*testupstream.Server{"global.anthropic.claude-opus-9-20270101-v1:0": e.up, "amazon.nova-premier-v9:0": e.up, "claude-opus-9": anth} {
		before := len(want.Requests())
		if _, err := c.Chat.Completions.New(ctx(t), openai.ChatCompletionNewParams{Model: model,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}); err != nil {
			t.Fatalf("%s: %v", model, err)
		}
		if len(want.Requests()) != before+1 {
			t.Errorf("%s did not reach its family's provider", model)
		}
	}
}

// A stream's connection to Bedrock serves the next request, also when the
// event stream's body ends a moment after its last message (the decoder
// stops reading at metadata; the body's end is read before it is closed).
func TestStreamKeepsConnection(t *testing.T) {
	e := newEnv(t)
	e.up.EndLate = 5 * time.Millisecond
	for range 5 {
		s := e.openai().Chat.Completions.NewStreaming(ctx(t), openai.ChatCompletionNewParams{Model: haiku, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
		for s.Next() {
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(e.up.EndLate + 100*time.Millisecond) // a connection closed early is seen closed by then
	if n := e.up.Closed(); n != 0 {
		t.Errorf("5 streams closed %d of %d connections to Bedrock, want none", n, e.up.Conns())
	}
}
