package llmbridge_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/bedrock"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// An open stream's handler keeps the 8 KiB stack a goroutine grows to:
// 8 KiB more a stream would be 8 MiB for a thousand held streams. The
// call that writes the response's header, which comes from deep in the
// relay, is what used to double it (see internal/ownstack), and the nested
// decoders of encoding/json and gjson (the translated paths' requests and
// events) took more. The bridge runs in a child process whose stacks may
// not grow past 8 KiB (debug.SetMaxStack): a goroutine that needs more
// ends it with "stack overflow" and the trace of the deepest call. The
// fake upstreams run here, in the parent, where their stacks are free.
// Each stream's first event is flushed while its upstream is silent (the
// deep case: the OpenAI fake waits until the client has seen it; the
// Anthropic and Gemini fakes pause before every event), and each ends.
// Pass-through chat, Messages and Responses translated to chat, and the
// three client formats to Anthropic, Gemini and Bedrock (SigV4-signed).
func TestStreamHandlerStaysWithinEightKiB(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's frames are larger; scripts/test.sh runs this test without it")
	}
	if urls := os.Getenv("LLMBRIDGE_STACK_CHILD"); urls != "" {
		streamsWithinEightKiB(t, strings.Fields(urls))
		return
	}
	chunk := func(delta string) string {
		return "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\"," +
			"\"choices\":[{\"index\":0,\"delta\":" + delta + "}]}\n\n"
	}
	seen := make(chan struct{}, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/seen" { // the child's client has the first event
			seen <- struct{}{}
			return
		}
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		// Longer than the 2 KiB net/http holds before it writes the
		// header: the write, not the flush, writes it (ownstack.Writer.Write).
		w.Write([]byte(chunk(`{"role":"assistant","content":"first ` + strings.Repeat("x", 5000) + `"}`)))
		w.(http.Flusher).Flush()
		select { // silent until the client has the first event: the bridge's read waited
		case <-seen:
		case <-r.Context().Done():
			return
		}
		w.Write([]byte(strings.Replace(chunk(`{}`), `}]}`, `,"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}`, 1) +
			"data: [DONE]\n\n"))
	}))
	defer up.Close()
	an, gm, br := testupstream.New(t, testupstream.Anthropic), testupstream.New(t, testupstream.GeminiNative), testupstream.New(t, testupstream.Bedrock)
	for _, s := range []*testupstream.Server{an, gm, br} {
		s.SetDefault(testupstream.Reply{Content: []string{"Hello", " world", "!"}, Usage: testupstream.Usage{Prompt: 9, Completion: 3}, Delay: 5 * time.Millisecond})
	}
	// The child's own timeout comes first, with its goroutines' traces.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestStreamHandlerStaysWithinEightKiB$", "-test.count=1", "-test.v", "-test.timeout=90s")
	// A goroutine starts small unless the runtime adapts its starting
	// size to the average stack, which could hide a growth.
	cmd.Env = append(os.Environ(), "LLMBRIDGE_STACK_CHILD="+up.URL+" "+an.BaseURL()+" "+an.Key+" "+gm.BaseURL()+" "+gm.Key+" "+br.BaseURL(),
		"GODEBUG=adaptivestackstart=0",
		// Bedrock's fake checks the SigV4 signature these credentials make.
		"AWS_ACCESS_KEY_ID="+testupstream.BedrockAccessKeyID, "AWS_SECRET_ACCESS_KEY="+testupstream.BedrockSecretKey,
		"AWS_SESSION_TOKEN="+testupstream.BedrockSessionToken, "AWS_CONFIG_FILE="+filepath.Join(t.TempDir(), "c"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(t.TempDir(), "k"), "AWS_EC2_METADATA_DISABLED=true", "AWS_PROFILE=", "AWS_REGION=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the child: %v\n%.6000s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestStreamHandlerStaysWithinEightKiB") {
		t.Fatalf("the child ran no stream:\n%.6000s", out)
	}
}

// streamsWithinEightKiB is the child's part: a bridge in front of the
// parent's fakes (urls: the OpenAI fake, then the Anthropic and Gemini
// fakes' base URLs and keys, then Bedrock's base URL), each stream once with any stack, then again
// with no stack past 8 KiB.
func streamsWithinEightKiB(t *testing.T, urls []string) {
	openaiURL := urls[0]
	b, err := llmbridge.New(llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: openaiURL + "/v1", APIKey: "sk-x"})),
		llmbridge.WithProvider(llmbridge.DeepSeek(llmbridge.ProviderConfig{BaseURL: openaiURL + "/v1", APIKey: "sk-x"})),
		llmbridge.WithProvider(llmbridge.Anthropic(llmbridge.ProviderConfig{BaseURL: urls[1], APIKey: urls[2]})),
		llmbridge.WithProvider(llmbridge.Gemini(llmbridge.ProviderConfig{BaseURL: urls[3], APIKey: urls[4]})),
		llmbridge.WithProvider(bedrock.New(llmbridge.ProviderConfig{Region: testupstream.BedrockRegion, BaseURL: urls[5], Models: []string{bedrockModel}})),
		llmbridge.WithAccessKeys(accessKey))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	front := httptest.NewServer(b)
	defer front.Close()
	ends := map[string]string{"/v1/chat/completions": "data: [DONE]", "/v1/messages": "message_stop", "/v1/responses": "response.completed"}
	stream := func(path, body string) {
		t.Helper()
		gated := strings.Contains(body, `"openai/`) || strings.Contains(body, `"deepseek/`)
		req, _ := http.NewRequest(http.MethodPost, front.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+accessKey)
		req.Header.Set("anthropic-version", "2023-06-01")
		req.Close = true // a new connection, so a new handler goroutine
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var all strings.Builder
		for sc.Scan() {
			if gated && strings.Contains(sc.Text(), "first") {
				gated = false
				r, err := http.Get(openaiURL + "/seen")
				if err != nil {
					t.Fatal(err)
				}
				r.Body.Close()
			}
			all.WriteString(sc.Text() + "\n")
		}
		if gated || resp.StatusCode != http.StatusOK || !strings.Contains(all.String(), ends[path]) {
			t.Fatalf("%s %s: %d, %v\n%s", path, body, resp.StatusCode, sc.Err(), all.String())
		}
	}
	const chat, messages, responses = `"messages":[{"role":"user","content":"hi"}]`, `"max_tokens":50,"messages":[{"role":"user","content":"hi"}]`, `"input":"hi"`
	// OpenAI: chat passed through (its Responses would be too); DeepSeek
	// (the same fake): Messages and Responses translated to chat.
	cases := []struct{ path, body string }{
		{"/v1/chat/completions", `{"model":"openai/gpt-4o-mini","stream":true,` + chat + `}`},
		{"/v1/messages", `{"model":"deepseek/deepseek-chat","stream":true,` + messages + `}`},
		{"/v1/responses", `{"model":"deepseek/deepseek-chat","stream":true,` + responses + `}`},
	}
	for _, model := range []string{"anthropic/claude-sonnet-4-5", "gemini/gemini-2.0-flash", "bedrock/" + bedrockModel} {
		cases = append(cases, []struct{ path, body string }{
			{"/v1/chat/completions", `{"model":"` + model + `","stream":true,` + chat + `}`},
			{"/v1/messages", `{"model":"` + model + `","stream":true,` + messages + `}`},
			{"/v1/responses", `{"model":"` + model + `","stream":true,` + responses + `}`},
		}...)
	}
	// Once with any stack: what a process does once (encoding/json's
	// type cache, the first dial) is not what a stream costs.
	for _, c := range cases {
		stream(c.path, c.body)
	}
	defer debug.SetMaxStack(debug.SetMaxStack(8 << 10))
	for _, c := range cases {
		// A collection empties the sync.Pools, whose next Get takes a
		// slower, deeper path: every stream then takes it, not only the
		// ones that happen to follow a collection.
		runtime.GC()
		stream(c.path, c.body)
	}
}

// bedrockModel is a model the Bedrock fake serves.
const bedrockModel = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
