package azure_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"go.uber.org/goleak"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/provider/azure"
	"github.com/llmbridge/llmbridge/internal/provider/endpoint"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const accessKey = "sk-bridge-access-azure-test"

// bridge serves p through a Bridge and returns an openai-go client for it.
func bridge(t *testing.T, p llmbridge.Provider) *openai.Client {
	t.Helper()
	b, err := llmbridge.New(llmbridge.WithProvider(p), llmbridge.WithAccessKeys(accessKey),
		llmbridge.WithRetry(llmbridge.RetryPolicy{Max: 1, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, MaxRetryAfter: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	t.Cleanup(func() { srv.Close(); b.Close() })
	c := openai.NewClient(option.WithBaseURL(srv.URL+"/v1"), option.WithAPIKey(accessKey), option.WithMaxRetries(0))
	return &c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// keyed is an Azure fake with one deployment and a provider using its key.
func keyed(t *testing.T, cfg azure.Config) (*testupstream.Server, *openai.Client) {
	up := testupstream.New(t, testupstream.Azure)
	up.Deployments = map[string]string{"prod-4o-mini": "gpt-4o-mini-2024-07-18"}
	cfg.Name, cfg.BaseURL, cfg.APIKey = "azure", up.BaseURL(), up.Key
	if cfg.Deployments == nil {
		cfg.Deployments = map[string]string{"gpt-4o-mini": "prod-4o-mini"}
	}
	return up, bridge(t, azure.New(cfg))
}

func hi(model string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")}}
}

// A chat request reaches the model's deployment with the default
// api-version and the api-key header (never the client's key), and
// Azure's content filter members reach the client unchanged.
func TestAzureChatPassThrough(t *testing.T) {
	up, c := keyed(t, azure.Config{})
	resp, err := c.Chat.Completions.New(ctx(t), hi("azure/gpt-4o-mini"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].Message.Content != "Hello world" || resp.Usage.TotalTokens != 11 || resp.Model != "gpt-4o-mini-2024-07-18" {
		t.Errorf("response %+v", resp)
	}
	raw := resp.RawJSON()
	if !strings.Contains(raw, `"prompt_filter_results":[{"prompt_index":0`) || !strings.Contains(raw, `"content_filter_results":{"hate"`) {
		t.Errorf("Azure's members lost: %s", raw)
	}
	r := up.Requests()[0]
	if r.Path != "/openai/deployments/prod-4o-mini/chat/completions" || r.Header.Get("Api-Key") != up.Key || r.Header.Get("Authorization") != "" {
		t.Errorf("upstream got %s with headers %v", r.Path, r.Header)
	}
	if strings.Contains(string(r.Body), accessKey) {
		t.Error("the client's key went upstream")
	}
}

func TestAzureStream(t *testing.T) {
	up, c := keyed(t, azure.Config{APIVersion: "2025-04-01-preview"})
	stream := c.Chat.Completions.NewStreaming(ctx(t), hi("azure/gpt-4o-mini"))
	acc := openai.ChatCompletionAccumulator{}
	var filters int
	for stream.Next() {
		ch := stream.Current()
		acc.AddChunk(ch)
		if strings.Contains(ch.RawJSON(), "prompt_filter_results") {
			filters++
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.Choices[0].Message.Content != "Hello world" || filters != 1 {
		t.Errorf("content %q, %d prompt filter chunks", acc.Choices[0].Message.Content, filters)
	}
	if len(up.Requests()) != 1 || !strings.Contains(string(up.Requests()[0].Body), `"include_usage":true`) {
		t.Errorf("upstream body %s", up.Requests()[0].Body)
	}
}

// Tools and images pass through; tool calls come back.
func TestAzureToolsAndImages(t *testing.T) {
	up, c := keyed(t, azure.Config{})
	up.Enqueue(testupstream.Reply{ToolCalls: []testupstream.ToolCall{{ID: "call_1", Name: "get_weather", Args: []string{`{"city":`, `"Paris"}`}}}})
	params := openai.ChatCompletionNewParams{Model: "azure/gpt-4o-mini", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{
		openai.TextContentPart("What is here?"), openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: "data:image/png;base64,iVBORw0KGgo="}),
	})}, Tools: []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{Name: "get_weather"})}}
	stream := c.Chat.Completions.NewStreaming(ctx(t), params)
	acc := openai.ChatCompletionAccumulator{}
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	tc := acc.Choices[0].Message.ToolCalls
	if len(tc) != 1 || tc[0].Function.Name != "get_weather" || tc[0].Function.Arguments != `{"city":"Paris"}` {
		t.Errorf("tool calls %+v", tc)
	}
	if body := string(up.Requests()[0].Body); !strings.Contains(body, "data:image/png;base64,iVBORw0KGgo=") || !strings.Contains(body, `"get_weather"`) {
		t.Errorf("upstream body %s", body)
	}
}

// apiError is the openai-go error of err.
func apiError(t *testing.T, err error) *openai.Error {
	t.Helper()
	var ae *openai.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %T %v", err, err)
	}
	return ae
}

// Azure's error shapes reach the client as OpenAI errors with Azure's
// status, code, param and message.
func TestAzureErrors(t *testing.T) {
	up, c := keyed(t, azure.Config{})
	_, err := c.Chat.Completions.New(ctx(t), openai.ChatCompletionNewParams{Model: "azure/gpt-4o-mini", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("JAILBREAK now")}})
	ae := apiError(t, err)
	if ae.StatusCode != 400 || ae.Code != "content_filter" || ae.Param != "prompt" || ae.Type != "invalid_request_error" ||
		!strings.Contains(ae.Message, "content management policy") || !strings.Contains(ae.Message, "(ResponsibleAIPolicyViolation: filtered jailbreak)") {
		t.Errorf("content filter: %d %q %q %q %q", ae.StatusCode, ae.Type, ae.Code, ae.Param, ae.Message)
	}
	_, err = c.Chat.Completions.New(ctx(t), hi("azure/gpt-4o")) // no such deployment
	if ae := apiError(t, err); ae.StatusCode != 404 || ae.Code != "DeploymentNotFound" {
		t.Errorf("unknown deployment: %d %q %q", ae.StatusCode, ae.Code, ae.Message)
	}
	up.Enqueue(testupstream.Reply{Status: 429, RetryAfter: "7"}, testupstream.Reply{Status: 429, RetryAfter: "7"})
	_, err = c.Chat.Completions.New(ctx(t), hi("azure/gpt-4o-mini"))
	if ae := apiError(t, err); ae.StatusCode != 429 || ae.Response.Header.Get("Retry-After") != "7" {
		t.Errorf("429: %d %q", ae.StatusCode, ae.Response.Header.Get("Retry-After"))
	}

	_, c = keyed(t, azure.Config{APIVersion: "2023-01-01"})
	_, err = c.Chat.Completions.New(ctx(t), hi("azure/gpt-4o-mini"))
	if ae := apiError(t, err); ae.StatusCode != 400 || ae.Message != "API version not supported" || ae.Code != "BadRequest" {
		t.Errorf("unknown api-version: %d %q %q", ae.StatusCode, ae.Code, ae.Message)
	}
}

// The fake answers as Azure does without an api-version, and refuses a
// wrong key.
func TestAzureFakeChecks(t *testing.T) {
	up := testupstream.New(t, testupstream.Azure)
	for _, tc := range []struct {
		url, key string
		status   int
		body     string
	}{
		{"/openai/deployments/x/chat/completions", up.Key, 404, `{"error":{"code":"404","message":"Resource not found"}}`},
		{"/openai/deployments/x/chat/completions?api-version=2024-10-21", "wrong", 401, `"code":"401"`},
		{"/openai/deployments/x/chat/completions?api-version=2024-10-21", up.Key, 200, `"prompt_filter_results"`},
	} {
		req := httptest.NewRequest("POST", up.URL+tc.url, strings.NewReader(`{"messages":[{"role":"user","content":"hi"}]}`))
		req.RequestURI = ""
		req.Header.Set("Api-Key", tc.key)
		resp, err := up.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		_, _ = copyN(&b, resp)
		if resp.StatusCode != tc.status || !strings.Contains(b.String(), tc.body) {
			t.Errorf("%s: %d %s", tc.url, resp.StatusCode, b.String())
		}
	}
}

// Codex speaks the Responses API; the bridge translates it to Chat for
// Azure.
func TestAzureResponsesAndEmbeddings(t *testing.T) {
	up, c := keyed(t, azure.Config{Deployments: map[string]string{"gpt-4o-mini": "prod-4o-mini", "text-embedding-3-small": "prod-4o-mini"}})
	r, err := c.Responses.New(ctx(t), responses.ResponseNewParams{Model: "azure/gpt-4o-mini", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Hi")}})
	if err != nil {
		t.Fatal(err)
	}
	if r.OutputText() != "Hello world" {
		t.Errorf("responses output %q", r.OutputText())
	}
	e, err := c.Embeddings.New(ctx(t), openai.EmbeddingNewParams{Model: "azure/text-embedding-3-small", Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hello")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Data) != 1 || len(e.Data[0].Embedding) == 0 {
		t.Errorf("embeddings %+v", e)
	}
	last := up.Requests()[len(up.Requests())-1]
	if last.Path != "/openai/deployments/prod-4o-mini/embeddings" {
		t.Errorf("embeddings went to %s", last.Path)
	}
}

// An upstream that echoes the key in its error: the client never sees it.
func TestAzureEchoedKeyRedacted(t *testing.T) {
	up, c := keyed(t, azure.Config{})
	up.Enqueue(testupstream.Reply{Status: 400, ErrorBody: `{"error":{"code":"BadRequest","message":"key ` + up.Key + ` is odd"}}`})
	_, err := c.Chat.Completions.New(ctx(t), hi("azure/gpt-4o-mini"))
	if ae := apiError(t, err); strings.Contains(ae.RawJSON(), up.Key) || !strings.Contains(ae.Message, "[redacted]") {
		t.Errorf("error %s", ae.RawJSON())
	}
}

// Validate lists every configuration problem.
func TestAzureValidate(t *testing.T) {
	err := azure.New(azure.Config{Config: endpoint.Config{Name: "az", BaseURL: "https://x.openai.azure.com"}, APIVersion: "2024-10-21&x=1",
		Deployments: map[string]string{"m": ""}}).Validate()
	for _, want := range []string{"api_version", "no credentials", "deployments"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	err = azure.New(azure.Config{Config: endpoint.Config{Name: "az", BaseURL: "https://x.openai.azure.com", APIKey: "k"}, Entra: &azure.Entra{TenantID: "t"}}).Validate()
	for _, want := range []string{"not both", "tenant_id, client_id and a client secret"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}
