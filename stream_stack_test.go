package llmbridge_test

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge"
)

// An open stream's handler keeps the 8 KiB stack a goroutine starts with:
// 8 KiB more a stream would be 8 MiB for a thousand held streams. The
// first flush, which writes the response's header and comes from deep in
// the relay's read of the upstream, is what used to double it (see
// streamWriter.flushLocked). The stream runs in a child process whose
// stacks may not grow past 8 KiB (debug.SetMaxStack): a goroutine that
// needs more ends it with "stack overflow" and the trace of the deepest
// call. Pass-through chat and the two translated client formats, each
// with its first event flushed while the upstream is silent (the deep
// case) and with the response's end. (The translations to and from
// Anthropic and Gemini upstreams do not fit yet: their rarer events and
// a chat request to them are still decoded by encoding/json, whose
// nested decoders take more.)
func TestStreamHandlerStaysWithinEightKiB(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's frames are larger; scripts/test.sh runs this test without it")
	}
	if os.Getenv("LLMBRIDGE_STACK_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestStreamHandlerStaysWithinEightKiB$", "-test.count=1", "-test.v")
		// A goroutine starts with 8 KiB unless the runtime adapts its
		// starting size to the average stack, which would hide a growth.
		cmd.Env = append(os.Environ(), "LLMBRIDGE_STACK_CHILD=1", "GODEBUG=adaptivestackstart=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("the child: %v\n%.4000s", err, out)
		}
		if !strings.Contains(string(out), "--- PASS: TestStreamHandlerStaysWithinEightKiB") {
			t.Fatalf("the child ran no stream:\n%.4000s", out)
		}
		return
	}
	chunk := func(delta string) string {
		return "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\"," +
			"\"choices\":[{\"index\":0,\"delta\":" + delta + "}]}\n\n"
	}
	release := make(chan chan struct{}, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		seen := <-release
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte(chunk(`{"role":"assistant","content":"first"}`)))
		w.(http.Flusher).Flush()
		<-seen // silent until the client has the first event: the bridge's read waited
		w.Write([]byte(strings.Replace(chunk(`{}`), `}]}`, `,"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}`, 1) +
			"data: [DONE]\n\n"))
	}))
	defer up.Close()
	b, err := llmbridge.New(llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: up.URL + "/v1", APIKey: "sk-x"})),
		llmbridge.WithProvider(llmbridge.DeepSeek(llmbridge.ProviderConfig{BaseURL: up.URL + "/v1", APIKey: "sk-x"})),
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
		seen := make(chan struct{})
		release <- seen
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
			if strings.Contains(sc.Text(), "first") && seen != nil {
				close(seen)
				seen = nil
			}
			all.WriteString(sc.Text() + "\n")
		}
		if seen != nil || resp.StatusCode != http.StatusOK || !strings.Contains(all.String(), ends[path]) {
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
	// Once with any stack: what a process does once (encoding/json's
	// type cache, the first dial) is not what a stream costs.
	for _, c := range cases {
		stream(c.path, c.body)
	}
	defer debug.SetMaxStack(debug.SetMaxStack(8 << 10))
	for _, c := range cases {
		stream(c.path, c.body)
	}
}
