package llmbridge_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

func TestRequestFidelity(t *testing.T) {
	e := newEnv(t)
	body := `{"model":"openai/gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA","detail":"low"}}]},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"},"extra_content":{"google":{"thought_signature":"sig"}}}]},{"role":"tool","tool_call_id":"c1","content":"ok"}],"stream":true,"stream_options":{"include_obfuscation":false},"logit_bias":{"1":-100},"service_tier":"flex","future_field":{"a":[1,2.50,"x"]},"temperature":0.7}`
	resp, _ := e.post(t, "/v1/chat/completions", body, "X-Api-Key", "ignored", "OpenAI-Organization", "client-org")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	got := e.openai.Requests()[0]
	var sent, want map[string]any
	if err := json.Unmarshal(got.Body, &sent); err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal([]byte(body), &want)
	want["model"] = "gpt-4o"
	want["stream_options"] = map[string]any{"include_obfuscation": false, "include_usage": true}
	if !reflect.DeepEqual(sent, want) {
		t.Errorf("upstream got\n%s\nwant every field unchanged but model and include_usage", got.Body)
	}
	if !strings.Contains(string(got.Body), `2.50`) {
		t.Errorf("number formatting changed: %s", got.Body)
	}
	if got.ContentLength != int64(len(got.Body)) || len(got.TransferEncoding) > 0 {
		t.Errorf("upstream body sent with Content-Length %d, Transfer-Encoding %v; want a plain Content-Length of %d",
			got.ContentLength, got.TransferEncoding, len(got.Body))
	}
	if h := got.Header.Get("Authorization"); h != "Bearer "+e.openai.Key {
		t.Errorf("upstream Authorization %q", h)
	}
	for _, k := range []string{"X-Api-Key", "Openai-Organization"} {
		if got.Header.Get(k) != "" {
			t.Errorf("client header %s reached the upstream", k)
		}
	}
}

func TestResponseFidelity(t *testing.T) {
	e := newEnv(t)
	_, body := e.post(t, "/v1/chat/completions", `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_usage":true}}`)
	evs := dataEvents(body)
	if len(evs) < 3 || evs[len(evs)-1] != "[DONE]" {
		t.Fatalf("events %q", evs)
	}
	for _, ev := range evs[:len(evs)-2] {
		if !strings.Contains(ev, `"obfuscation":"C63r"`) || !strings.Contains(ev, `"service_tier":"default"`) || !strings.Contains(ev, `"logprobs":null`) {
			t.Errorf("unknown chunk fields lost: %s", ev)
		}
	}
	_, body = e.post(t, "/v1/chat/completions", `{"model":"deepseek/deepseek-reasoner","messages":[{"role":"user","content":"x"}]}`)
	if strings.HasPrefix(body, "\n") || !strings.Contains(body, `"prompt_cache_miss_tokens"`) {
		t.Errorf("DeepSeek body not trimmed or fields lost: %q", body)
	}
}

func TestDeepSeekStream(t *testing.T) {
	e := newEnv(t)
	e.deepseek.SetDefault(testupstream.Reply{Reasoning: []string{"H", "mm"}, Content: []string{"Hello"}, Usage: testupstream.Usage{Prompt: 6, Completion: 212, Reasoning: 198}})
	for _, includeUsage := range []bool{false, true} {
		opts := ""
		if includeUsage {
			opts = `,"stream_options":{"include_usage":true}`
		}
		_, body := e.post(t, "/v1/chat/completions", `{"model":"deepseek/deepseek-reasoner","messages":[{"role":"user","content":"Hello"}],"stream":true`+opts+`}`)
		if strings.Contains(body, "keep-alive") {
			t.Error("upstream keep-alive comments relayed (the bridge sends its own)")
		}
		evs := dataEvents(body)
		if !strings.Contains(body, `"reasoning_content":"mm"`) || evs[len(evs)-1] != "[DONE]" {
			t.Fatalf("stream %q", evs)
		}
		finish, last := evs[len(evs)-3], evs[len(evs)-2]
		if includeUsage {
			if !strings.Contains(finish, `"finish_reason":"stop"`) || !strings.Contains(finish, `"usage":null`) {
				t.Errorf("finish chunk not split from usage: %s", finish)
			}
			if !strings.HasPrefix(last, `{"id":"33be18fc`) || !strings.Contains(last, `"choices":[],"usage":{"prompt_tokens":6,"completion_tokens":212`) {
				t.Errorf("usage chunk %s", last)
			}
		} else if strings.Contains(body, `"choices":[]`) || strings.Contains(body, `"usage":{`) {
			t.Errorf("usage shown to a client that did not ask: %s", finish)
		}
	}
}

func TestValidationSendsNothingUpstream(t *testing.T) {
	e := newEnv(t, llmbridge.WithMaxBodyBytes(1<<10))
	tests := []struct {
		name, body string
		status     int
		param      any
	}{
		{"malformed JSON", `{"model":`, 400, nil},
		{"array body", `[1]`, 400, nil},
		{"missing model", `{"messages":[{"role":"user","content":"x"}]}`, 400, "model"},
		{"model not a string", `{"model":5,"messages":[{"role":"user","content":"x"}]}`, 400, "model"},
		{"missing messages", `{"model":"openai/gpt-4o"}`, 400, "messages"},
		{"messages not an array", `{"model":"openai/gpt-4o","messages":"hi"}`, 400, "messages"},
		{"empty messages", `{"model":"openai/gpt-4o","messages":[]}`, 400, "messages"},
		{"stream not a boolean", `{"model":"openai/gpt-4o","messages":[{}],"stream":"yes"}`, 400, "stream"},
		{"duplicate model", `{"model":"openai/gpt-4o","model":"deepseek/x","messages":[{}]}`, 400, "model"},
		{"typed provider rejects bad content", `{"model":"gemini/g","messages":[{"role":"user","content":5}]}`, 400, nil},
		{"too large", `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"` + strings.Repeat("x", 2000) + `"}]}`, 413, nil},
		{"unknown model", `{"model":"acme/x","messages":[{"role":"user","content":"x"}]}`, 404, "model"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.post(t, "/v1/chat/completions", tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			fields := errorBody(t, body)
			if tt.param != nil && fields["param"] != tt.param {
				t.Errorf("param %v, want %v", fields["param"], tt.param)
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id")
			}
		})
	}
	if n := len(e.openai.Requests()) + len(e.deepseek.Requests()) + len(e.gemini.Requests()); n != 0 {
		t.Errorf("%d invalid requests reached an upstream", n)
	}
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	body := `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"x"}]}`
	tests := []struct {
		name   string
		hdr    []string
		status int
	}{
		{"no key", nil, 401},
		{"wrong key", []string{"Authorization", "Bearer nope"}, 401},
		{"provider key is not an access key", []string{"Authorization", "Bearer " + e.openai.Key}, 401},
		{"bearer", []string{"Authorization", "Bearer " + accessKey}, 200},
		{"lower-case scheme", []string{"Authorization", "bearer " + accessKey}, 200},
		{"x-api-key", []string{"X-Api-Key", accessKey}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, got := e.do(t, http.MethodPost, "/v1/chat/completions", body, tt.hdr...)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, got)
			}
			if tt.status == 401 {
				errorBody(t, got)
			}
		})
	}
	for _, r := range e.openai.Requests() {
		if strings.Contains(r.Header.Get("Authorization"), accessKey) || r.Header.Get("X-Api-Key") != "" {
			t.Error("the client's key went upstream")
		}
	}
	if resp, _ := e.do(t, http.MethodGet, "/healthz", ""); resp.StatusCode != 200 {
		t.Errorf("healthz needs no key, got %d", resp.StatusCode)
	}
}

func TestAccessKeyEqualToProviderKeyIsRefused(t *testing.T) {
	_, err := llmbridge.New(llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{APIKey: "sk-same"})), llmbridge.WithAccessKeys("sk-same"))
	if err == nil {
		t.Fatal("New accepted a provider key as an access key")
	}
}

func TestNewReportsAllErrors(t *testing.T) {
	_, err := llmbridge.New(
		llmbridge.WithProvider(llmbridge.OpenAICompatible(llmbridge.ProviderConfig{Name: "a/b", BaseURL: "ftp://x"})),
		llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{})),
		llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{})),
		llmbridge.WithMaxBodyBytes(-1),
	)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"a/b", "ftp://x", "added twice", "WithMaxBodyBytes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestRouting(t *testing.T) {
	local := testupstream.New(t, testupstream.OpenAI)
	other := testupstream.New(t, testupstream.OpenAI)
	b, err := llmbridge.New(
		llmbridge.WithProvider(llmbridge.OpenAICompatible(llmbridge.ProviderConfig{Name: "local", BaseURL: local.BaseURL(), APIKey: local.Key, Models: []string{"llama3.1-8b", "shared"}, Headers: map[string]string{"X-Tenant": "acme"}})),
		llmbridge.WithProvider(llmbridge.OpenAICompatible(llmbridge.ProviderConfig{Name: "other", BaseURL: other.BaseURL(), APIKey: other.Key, Models: []string{"meta/llama-3", "shared"}})),
	)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	defer srv.Close()
	defer b.Close()
	tests := []struct {
		model    string
		status   int
		upstream *testupstream.Server
		sent     string
	}{
		{"local/llama3.1-8b", 200, local, "llama3.1-8b"},
		{"local/unlisted-model", 200, local, "unlisted-model"},
		{"llama3.1-8b", 200, local, "llama3.1-8b"},
		{"meta/llama-3", 200, other, "meta/llama-3"},
		{"other/meta/llama-3", 200, other, "meta/llama-3"},
		{"shared", 404, nil, ""},
		{"nobody/x", 404, nil, ""},
		{"gpt-4o", 404, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"`+tt.model+`","messages":[{"role":"user","content":"x"}]}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.upstream == nil {
				return
			}
			reqs := tt.upstream.Requests()
			last := reqs[len(reqs)-1]
			var sent struct{ Model string }
			_ = json.Unmarshal(last.Body, &sent)
			if sent.Model != tt.sent {
				t.Errorf("upstream model %q, want %q", sent.Model, tt.sent)
			}
			if tt.upstream == local && last.Header.Get("X-Tenant") != "acme" {
				t.Error("configured header not sent upstream")
			}
		})
	}
}

func TestRetries(t *testing.T) {
	e := newEnv(t)
	e.openai.Enqueue(testupstream.Reply{Status: 503}, testupstream.Reply{Status: 429, RetryAfter: "0"})
	resp, body := e.post(t, "/v1/chat/completions", `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"x"}]}`)
	if resp.StatusCode != 200 || len(e.openai.Requests()) != 3 {
		t.Fatalf("status %d after %d attempts: %s", resp.StatusCode, len(e.openai.Requests()), body)
	}
	// Exhausted: the client gets the upstream's own status, body and Retry-After.
	e.deepseek.Enqueue(testupstream.Reply{Status: 429, RetryAfter: "0"}, testupstream.Reply{Status: 429, RetryAfter: "0"}, testupstream.Reply{Status: 429, RetryAfter: "0"})
	resp, body = e.post(t, "/v1/chat/completions", `{"model":"deepseek/deepseek-chat","messages":[{"role":"user","content":"x"}]}`)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "0" || errorBody(t, body)["message"] != "fake upstream error 429" {
		t.Fatalf("status %d Retry-After %q body %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	// Not retried: client errors, and a Retry-After longer than the bound.
	e.gemini.Enqueue(testupstream.Reply{Status: 400}, testupstream.Reply{Status: 429, RetryAfter: "3600"})
	for range 2 {
		e.post(t, "/v1/chat/completions", `{"model":"gemini/g","messages":[{"role":"user","content":"x"}]}`)
	}
	if n := len(e.gemini.Requests()); n != 2 {
		t.Errorf("non-retryable responses were retried: %d upstream requests", n)
	}
}

func TestUnreachableAndTimeouts(t *testing.T) {
	dead := "http://" + testupstream.DeadAddr(t) + "/v1"
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	b, err := llmbridge.New(
		llmbridge.WithProvider(llmbridge.OpenAICompatible(llmbridge.ProviderConfig{Name: "dead", BaseURL: dead})),
		llmbridge.WithProvider(llmbridge.OpenAICompatible(llmbridge.ProviderConfig{Name: "slow", BaseURL: slow.URL})),
		// Streams wait Header for their first byte, non-streamed calls
		// NonStream for the whole answer.
		llmbridge.WithTimeouts(llmbridge.Timeouts{Header: 100 * time.Millisecond, NonStream: 200 * time.Millisecond}),
		llmbridge.WithRetry(llmbridge.RetryPolicy{Max: 1, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond}),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, tc := range []struct {
		model  string
		stream bool
		status int
		code   string
	}{{"dead/m", false, 502, "upstream_unreachable"}, {"slow/m", false, 504, "upstream_timeout"}, {"slow/m", true, 504, "upstream_timeout"}} {
		rec := httptest.NewRecorder()
		started := time.Now()
		req := httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(`{"model":"`+tc.model+`","messages":[{"role":"user","content":"x"}],"stream":`+fmt.Sprint(tc.stream)+`}`))
		req.Header.Set("Content-Type", "application/json")
		b.ServeHTTP(rec, req)
		if tc.model == "slow/m" && !tc.stream && time.Since(started) < 200*time.Millisecond {
			t.Errorf("a non-streamed call was cut before its NonStream timeout (after %v)", time.Since(started))
		}
		if rec.Code != tc.status || errorBody(t, rec.Body.String())["code"] != tc.code {
			t.Errorf("%s: %d %s", tc.model, rec.Code, rec.Body)
		}
	}
}

func TestStreamFailures(t *testing.T) {
	e := newEnv(t, llmbridge.WithTimeouts(llmbridge.Timeouts{StreamIdle: 150 * time.Millisecond}))
	tests := []struct {
		name string
		rep  testupstream.Reply
		code string
	}{
		{"stall after first events hits the idle timeout", testupstream.Reply{Content: []string{"a", "b", "c"}, StallAfter: 2}, "upstream_idle_timeout"},
		{"cut connection", testupstream.Reply{Content: []string{"a", "b", "c"}, CutAfter: 2}, "upstream_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.openai.Enqueue(tt.rep)
			resp, body := e.post(t, "/v1/chat/completions", `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"x"}],"stream":true}`)
			evs := dataEvents(body)
			if resp.StatusCode != 200 || len(evs) != 3 {
				t.Fatalf("status %d events %q", resp.StatusCode, evs)
			}
			last := evs[len(evs)-1]
			if strings.Contains(body, "[DONE]") {
				t.Error("[DONE] after a failure: the client cannot tell it from success")
			}
			if errorBody(t, last)["code"] != tt.code {
				t.Errorf("error event %s", last)
			}
		})
	}
}

// A stream whose events keep coming is never idle, however long it lasts:
// each event restarts the idle timeout.
func TestStreamIdleRestartsOnEveryEvent(t *testing.T) {
	e := newEnv(t, llmbridge.WithTimeouts(llmbridge.Timeouts{StreamIdle: 150 * time.Millisecond}))
	content := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	e.openai.Enqueue(testupstream.Reply{Content: content, Delay: 60 * time.Millisecond}) // ~600 ms in all
	resp, body := e.post(t, "/v1/chat/completions", `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"x"}],"stream":true}`)
	if resp.StatusCode != 200 || !strings.HasSuffix(body, "data: [DONE]\n\n") || strings.Contains(body, "idle") {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
}

func TestStreamFailsBeforeFirstEventKeepsStatus(t *testing.T) {
	e := newEnv(t, llmbridge.WithTimeouts(llmbridge.Timeouts{StreamIdle: 100 * time.Millisecond}))
	e.openai.Enqueue(testupstream.Reply{StallAfter: -1, Delay: 2 * time.Second})
	resp, body := e.post(t, "/v1/chat/completions", `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"x"}],"stream":true}`)
	if resp.StatusCode != 504 || errorBody(t, body)["code"] != "upstream_idle_timeout" {
		t.Fatalf("status %d body %s", resp.StatusCode, body)
	}
	select {
	case <-e.openai.Cancelled():
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream request was not cancelled")
	}
}

func TestClientHangUpCancelsUpstream(t *testing.T) {
	e := newEnv(t)
	e.openai.Enqueue(testupstream.Reply{Content: []string{"a", "b", "c"}, StallAfter: 2})
	e.hangUpMidStream(t, "")
	select {
	case <-e.openai.Cancelled():
	case <-time.After(5 * time.Second):
		t.Fatal("the client hung up but the upstream request went on")
	}
}

func TestKeepAliveDuringSilence(t *testing.T) {
	e := newEnv(t, llmbridge.WithKeepAlive(20*time.Millisecond))
	e.openai.Enqueue(testupstream.Reply{Content: []string{"a"}, Delay: 120 * time.Millisecond})
	resp, body := e.post(t, "/v1/chat/completions", `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"x"}],"stream":true}`)
	if resp.StatusCode != 200 || !strings.Contains(body, ": keep-alive\n\n") || !strings.HasSuffix(body, "data: [DONE]\n\n") {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestRequestID(t *testing.T) {
	e := newEnv(t)
	resp, _ := e.post(t, "/v1/chat/completions", `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"x"}]}`, "X-Request-Id", "client-id-42")
	if got := resp.Header.Get("X-Request-Id"); got != "client-id-42" {
		t.Errorf("echoed id %q", got)
	}
	resp, _ = e.post(t, "/v1/chat/completions", `{}`, "X-Request-Id", "bad id\twith spaces")
	if got := resp.Header.Get("X-Request-Id"); !strings.HasPrefix(got, "req_") {
		t.Errorf("generated id %q", got)
	}
	resp, body := e.do(t, http.MethodGet, "/v1/nothing", "", "Authorization", "Bearer "+accessKey)
	if resp.StatusCode != 404 || resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("unknown path: %d", resp.StatusCode)
	}
	errorBody(t, body)
	resp, body = e.do(t, http.MethodGet, "/v1/chat/completions", "", "Authorization", "Bearer "+accessKey)
	if resp.StatusCode != 405 {
		t.Errorf("GET chat: %d", resp.StatusCode)
	}
	errorBody(t, body)
}

func TestModelsEndpoint(t *testing.T) {
	e := newEnv(t)
	resp, body := e.do(t, http.MethodGet, "/v1/models", "", "Authorization", "Bearer "+accessKey)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || !strings.HasPrefix(body, `{"object":"list","data":[{"id":"openai/gpt-4o","object":"model","created":`) {
		t.Fatalf("%d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if resp, _ := e.do(t, http.MethodGet, "/v1/models", ""); resp.StatusCode != 401 {
		t.Errorf("models without a key: %d", resp.StatusCode)
	}
	if resp, _ := e.do(t, http.MethodGet, "/v1/models/zzz/x", "", "Authorization", "Bearer "+accessKey); resp.StatusCode != 404 {
		t.Errorf("unknown model: %d", resp.StatusCode)
	}
}

func TestInProcess(t *testing.T) {
	e := newEnv(t)
	resp, err := e.bridge.ChatCompletion(ctxTimeout(t), &llmbridge.ChatRequest{Model: "deepseek/deepseek-chat", Messages: []llmbridge.Message{llmbridge.UserMessage("hi")}})
	if err != nil || resp.Choices[0].Message.Content.String() != "Hello world" || resp.Usage.TotalTokens != 11 {
		t.Fatalf("%+v %v", resp, err)
	}
	req := &llmbridge.ChatRequest{Model: "openai/gpt-4o", Messages: []llmbridge.Message{llmbridge.UserMessage("hi")}, StreamOptions: &llmbridge.StreamOptions{IncludeUsage: true}}
	stream := e.bridge.ChatCompletionStream(ctxTimeout(t), req)
	var text strings.Builder
	var usage *llmbridge.Usage
	for chunk, err := range stream {
		if err != nil {
			t.Fatal(err)
		}
		if chunk.Usage != nil {
			usage = chunk.Usage
		}
		for _, c := range chunk.Choices {
			if c.Delta.Content != nil {
				text.WriteString(*c.Delta.Content)
			}
		}
	}
	if text.String() != "Hello world" || usage == nil || usage.TotalTokens != 11 {
		t.Fatalf("text %q usage %+v", text.String(), usage)
	}
	for _, err := range stream {
		if err == nil {
			t.Fatal("a second range over the stream did not fail")
		}
	}
	_, err = e.bridge.ChatCompletion(ctxTimeout(t), &llmbridge.ChatRequest{Model: "x/y", Messages: []llmbridge.Message{llmbridge.UserMessage("hi")}})
	if ae, ok := err.(*llmbridge.APIError); !ok || ae.Status != 404 {
		t.Fatalf("got %v", err)
	}
	// Stopping early cancels the upstream.
	e.openai.Enqueue(testupstream.Reply{Content: []string{"a", "b", "c"}, StallAfter: 3})
	for range e.bridge.ChatCompletionStream(ctxTimeout(t), req) {
		break
	}
	select {
	case <-e.openai.Cancelled():
	case <-time.After(5 * time.Second):
		t.Fatal("breaking out of the stream did not cancel the upstream")
	}
}

// TestTooManyJSONValuesIs413: a chat body of more JSON values than the
// request reader keeps (2M numbers, 4 MiB) is refused with a 413 in
// OpenAI's shape before anything goes upstream, instead of a tape of
// eight times the body.
func TestTooManyJSONValuesIs413(t *testing.T) {
	e := newEnv(t)
	body := `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"x"}],"x_ids":[` + strings.Repeat("0,", 2<<20) + `0]}`
	resp, got := e.post(t, "/v1/chat/completions", body)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d: %.200s", resp.StatusCode, got)
	}
	if f := errorBody(t, got); f["code"] != "request_too_large" || f["type"] != "invalid_request_error" {
		t.Errorf("error %v", f)
	}
	if n := len(e.openai.Requests()); n != 0 {
		t.Errorf("%d requests reached the upstream", n)
	}
}
