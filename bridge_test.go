package llmbridge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The request log's rotation (lumberjack) keeps a goroutine per file.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("gopkg.in/natefinch/lumberjack%2ev2.(*Logger).millRun"))
}

const accessKey = "sk-bridge-access-key-for-tests"

// env is a bridge in front of one fake per flavor.
type env struct {
	openai, deepseek, gemini *testupstream.Server
	bridge                   *llmbridge.Bridge
	srv                      *httptest.Server
}

func newEnv(t *testing.T, opts ...llmbridge.Option) *env {
	t.Helper()
	e := &env{
		openai:   testupstream.New(t, testupstream.OpenAI),
		deepseek: testupstream.New(t, testupstream.DeepSeek),
		gemini:   testupstream.New(t, testupstream.GeminiCompat),
	}
	base := []llmbridge.Option{
		llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: e.openai.BaseURL(), APIKey: e.openai.Key})),
		llmbridge.WithProvider(llmbridge.DeepSeek(llmbridge.ProviderConfig{BaseURL: e.deepseek.BaseURL(), APIKey: e.deepseek.Key})),
		llmbridge.WithProvider(llmbridge.GeminiOpenAICompat(llmbridge.ProviderConfig{BaseURL: e.gemini.BaseURL(), APIKey: e.gemini.Key})),
		llmbridge.WithAccessKeys(accessKey),
		llmbridge.WithRetry(llmbridge.RetryPolicy{Max: 2, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxRetryAfter: 50 * time.Millisecond}),
	}
	b, err := llmbridge.New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	e.bridge = b
	e.srv = httptest.NewServer(b)
	t.Cleanup(func() {
		e.srv.Close()
		b.Close()
	})
	return e
}

// post sends a raw request to the bridge with the access key.
func (e *env) post(t *testing.T, path, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	return e.do(t, http.MethodPost, path, body, append([]string{"Authorization", "Bearer " + accessKey}, hdr...)...)
}

func (e *env) do(t *testing.T, method, path, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json") // as every SDK sends it
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return resp, string(b)
}

// errorBody checks an OpenAI-shaped error and returns its fields.
func errorBody(t *testing.T, body string) map[string]any {
	t.Helper()
	var v struct {
		Error map[string]any `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil || v.Error == nil {
		t.Fatalf("not an OpenAI error body: %q", body)
	}
	for _, k := range []string{"message", "type", "param", "code"} {
		if _, ok := v.Error[k]; !ok {
			t.Errorf("error body lacks %q: %s", k, body)
		}
	}
	return v.Error
}

// dataEvents returns the data payloads of an SSE body.
func dataEvents(body string) []string {
	var out []string
	for _, line := range strings.Split(body, "\n") {
		if p, ok := strings.CutPrefix(line, "data: "); ok {
			out = append(out, p)
		}
	}
	return out
}

func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// hangUpMidStream starts a stream through the bridge, reads until the body
// contains until (or just its first bytes when until is empty) and then
// hangs up, as a user pressing "stop" does.
func (e *env) hangUpMidStream(t *testing.T, until string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", e.srv.URL+"/v1/chat/completions", strings.NewReader(`{"model":"openai/gpt-4o","messages":[{"role":"user","content":"x"}],"stream":true}`))
	req.Header.Set("Authorization", "Bearer "+accessKey)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var seen []byte
	buf := make([]byte, 512)
	for len(seen) == 0 || !bytes.Contains(seen, []byte(until)) {
		n, err := resp.Body.Read(buf)
		seen = append(seen, buf[:n]...)
		if err != nil {
			t.Fatalf("stream ended before %q: %v", until, err)
		}
	}
}

// sdkFor serves a bridge with one provider, made by newProvider for a fake
// of flavor, and returns the official SDK pointed at it, the fake, and the
// bridge's URL.
func sdkFor(t *testing.T, flavor testupstream.Flavor, newProvider func(llmbridge.ProviderConfig) llmbridge.Provider) (*openai.Client, *testupstream.Server, string) {
	t.Helper()
	up := testupstream.New(t, flavor)
	b, err := llmbridge.New(llmbridge.WithProvider(newProvider(llmbridge.ProviderConfig{BaseURL: up.BaseURL(), APIKey: up.Key})))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	t.Cleanup(func() { srv.Close(); b.Close() })
	c := openai.NewClient(option.WithBaseURL(srv.URL+"/v1"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	return &c, up, srv.URL
}

// streamTurn streams one completion with the SDK and returns the
// accumulated message and the reasoning_content deltas (which the SDK does
// not model) joined.
func streamTurn(t *testing.T, client *openai.Client, params openai.ChatCompletionNewParams) (openai.ChatCompletionAccumulator, string) {
	t.Helper()
	acc := openai.ChatCompletionAccumulator{}
	var reasoning strings.Builder
	stream := client.Chat.Completions.NewStreaming(ctxTimeout(t), params)
	for stream.Next() {
		c := stream.Current()
		acc.AddChunk(c)
		for _, ch := range c.Choices {
			var d struct {
				ReasoningContent string `json:"reasoning_content"`
			}
			_ = json.Unmarshal([]byte(ch.Delta.RawJSON()), &d)
			reasoning.WriteString(d.ReasoningContent)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	return acc, reasoning.String()
}
