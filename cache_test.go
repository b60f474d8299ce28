package llmbridge_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
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
	"github.com/llmbridge/llmbridge/internal/cache/memory"
	"github.com/llmbridge/llmbridge/internal/testupstream"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"
)

// cacheRecords collects the usage records of a bridge.
type cacheRecords struct {
	mu   sync.Mutex
	list []llmbridge.UsageRecord
}

func (r *cacheRecords) sink(rec llmbridge.UsageRecord) {
	r.mu.Lock()
	r.list = append(r.list, rec)
	r.mu.Unlock()
}

func (r *cacheRecords) len() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.list) }

// nth waits for the n-th record (from 1): a record is written after the
// response is complete, which the client may see first.
func (r *cacheRecords) nth(t *testing.T, n int) llmbridge.UsageRecord {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); r.len() < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no usage record %d (have %d)", n, r.len())
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.list[n-1]
}

// newMemoryCache is a memory backend closed with the test.
func newMemoryCache(t testing.TB) *memory.Cache {
	m, err := memory.New(64 << 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// cacheEnv is the standard env with a memory cache of policy p and a
// record sink.
func cacheEnv(t *testing.T, p llmbridge.CachePolicy, opts ...llmbridge.Option) (*env, *cacheRecords) {
	t.Helper()
	recs := &cacheRecords{}
	e := newEnv(t, append([]llmbridge.Option{llmbridge.WithCache(newMemoryCache(t), p), llmbridge.WithUsageSink(recs.sink)}, opts...)...)
	return e, recs
}

func zeroTemp(p openai.ChatCompletionNewParams) openai.ChatCompletionNewParams {
	p.Temperature = openai.Float(0)
	return p
}

func cacheParams(model, prompt string) openai.ChatCompletionNewParams {
	return zeroTemp(openai.ChatCompletionNewParams{Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)}})
}

// ask sends a non-streamed request and returns the answer and the
// response's X-Cache.
func ask(t *testing.T, c *openai.Client, p openai.ChatCompletionNewParams, opts ...option.RequestOption) (*openai.ChatCompletion, http.Header) {
	t.Helper()
	var raw *http.Response
	resp, err := c.Chat.Completions.New(ctxTimeout(t), p, append(opts, option.WithResponseInto(&raw))...)
	if err != nil {
		t.Fatal(err)
	}
	return resp, raw.Header
}

func TestCacheHitMissBypassMatrix(t *testing.T) {
	e, recs := cacheEnv(t, llmbridge.CachePolicy{Models: []string{"openai/*"}})
	c := e.sdk()
	upstream := func() int { return len(e.openai.Requests()) + len(e.deepseek.Requests()) }
	for _, tc := range []struct {
		name     string
		params   openai.ChatCompletionNewParams
		opts     []option.RequestOption
		want     string // X-Cache
		upstream bool   // whether the upstream is called
	}{
		{"first is a miss", cacheParams("openai/gpt-4o", "one"), nil, "MISS", true},
		{"repeat is a hit", cacheParams("openai/gpt-4o", "one"), nil, "HIT", false},
		{"stream_options and user do not change the key", func() openai.ChatCompletionNewParams {
			p := cacheParams("openai/gpt-4o", "one")
			p.User = openai.String("someone")
			return p
		}(), nil, "HIT", false},
		{"another prompt misses", cacheParams("openai/gpt-4o", "two"), nil, "MISS", true},
		{"no-cache skips the lookup", cacheParams("openai/gpt-4o", "one"), []option.RequestOption{option.WithHeader("Cache-Control", "no-cache")}, "BYPASS", true},
		{"no-cache still stores", cacheParams("openai/gpt-4o", "three"), []option.RequestOption{option.WithHeader("Cache-Control", "no-cache")}, "BYPASS", true},
		{"stored by no-cache", cacheParams("openai/gpt-4o", "three"), nil, "HIT", false},
		{"no-store neither reads", cacheParams("openai/gpt-4o", "one"), []option.RequestOption{option.WithHeader("Cache-Control", "no-store")}, "BYPASS", true},
		{"no-store does not store", cacheParams("openai/gpt-4o", "four"), []option.RequestOption{option.WithHeader("Cache-Control", "no-store")}, "BYPASS", true},
		{"not stored by no-store", cacheParams("openai/gpt-4o", "four"), nil, "MISS", true},
		{"max-age=0 refuses any stored answer", cacheParams("openai/gpt-4o", "one"), []option.RequestOption{option.WithHeader("Cache-Control", "max-age=0")}, "MISS", true},
		{"max-age=3600 takes it", cacheParams("openai/gpt-4o", "one"), []option.RequestOption{option.WithHeader("Cache-Control", "max-age=3600")}, "HIT", false},
		{"temperature absent samples", openai.ChatCompletionNewParams{Model: "openai/gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("one")}}, nil, "BYPASS", true},
		{"temperature above 0 samples", func() openai.ChatCompletionNewParams {
			p := cacheParams("openai/gpt-4o", "one")
			p.Temperature = openai.Float(0.7)
			return p
		}(), nil, "BYPASS", true},
		{"n > 1", func() openai.ChatCompletionNewParams {
			p := cacheParams("openai/gpt-4o", "one")
			p.N = openai.Int(2)
			return p
		}(), nil, "BYPASS", true},
		{"model not in the policy", cacheParams("deepseek/deepseek-chat", "one"), nil, "BYPASS", true},
		{"and not stored either", cacheParams("deepseek/deepseek-chat", "one"), nil, "BYPASS", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, n := upstream(), recs.len()
			resp, h := ask(t, c, tc.params, tc.opts...)
			if got := h.Get("X-Cache"); got != tc.want {
				t.Errorf("X-Cache %q, want %q", got, tc.want)
			}
			if called := upstream() > before; called != tc.upstream {
				t.Errorf("upstream called: %v, want %v", called, tc.upstream)
			}
			if resp.Choices[0].Message.Content != "Hello world" || resp.Usage.PromptTokens != 9 || resp.Usage.CompletionTokens != 2 {
				t.Errorf("answer %q, usage %+v", resp.Choices[0].Message.Content, resp.Usage)
			}
			rec := recs.nth(t, n+1)
			if rec.Cache != strings.ToLower(tc.want) {
				t.Errorf("record Cache %q, want %q", rec.Cache, strings.ToLower(tc.want))
			}
			if tc.want == "HIT" {
				if h.Get("Age") == "" {
					t.Error("a hit without Age")
				}
				want := llmbridge.TokenCounts{Prompt: 9, Completion: 2, Total: 11}
				if rec.PromptTokens != 0 || rec.CompletionTokens != 0 || rec.Saved != want || rec.Provider != "openai" || rec.UpstreamModel != "gpt-4o" || rec.Status != 200 {
					t.Errorf("hit record: tokens %d/%d, saved %+v, provider %q/%q, status %d", rec.PromptTokens, rec.CompletionTokens, rec.Saved, rec.Provider, rec.UpstreamModel, rec.Status)
				}
				if s := rec.SavedRecord(); s.PromptTokens != 9 || s.TotalTokens != 11 {
					t.Errorf("SavedRecord %+v", s)
				}
			} else if rec.PromptTokens != 9 || rec.Saved != (llmbridge.TokenCounts{}) {
				t.Errorf("record of an upstream answer: prompt tokens %d, saved %+v", rec.PromptTokens, rec.Saved)
			}
		})
	}
}

func TestCacheWithoutPolicyHasNoHeader(t *testing.T) {
	e := newEnv(t)
	_, h := ask(t, e.sdk(), cacheParams("openai/gpt-4o", "one"))
	if got := h.Get("X-Cache"); got != "" {
		t.Errorf("X-Cache %q without a cache", got)
	}
}

// streamed runs a streaming request through the SDK's accumulator.
func streamed(t *testing.T, c *openai.Client, p openai.ChatCompletionNewParams) (openai.ChatCompletionAccumulator, http.Header) {
	t.Helper()
	var raw *http.Response
	s := c.Chat.Completions.NewStreaming(ctxTimeout(t), p, option.WithResponseInto(&raw))
	acc := openai.ChatCompletionAccumulator{}
	for s.Next() {
		if !acc.AddChunk(s.Current()) {
			t.Fatalf("the accumulator refused chunk %s", s.Current().RawJSON())
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return acc, raw.Header
}

func TestCacheStreamReplayEqualsOriginal(t *testing.T) {
	e, recs := cacheEnv(t, llmbridge.CachePolicy{})
	call := testupstream.ToolCall{ID: "call_1", Name: "get_capital", Args: []string{`{"`, `country`, `":"UK"}`}}
	for _, tc := range []struct {
		name  string
		model string
		reply testupstream.Reply
	}{
		{"text, pass-through", "openai/gpt-4o", testupstream.Reply{Content: []string{"Hel", "lo ", "there"}, Usage: testupstream.Usage{Prompt: 21, Completion: 3, Cached: 5}}},
		{"reasoning, pass-through", "deepseek/deepseek-reasoner", testupstream.Reply{Reasoning: []string{"think", "ing"}, Content: []string{"ok"}, Usage: testupstream.Usage{Prompt: 7, Completion: 4, Reasoning: 2}}},
		{"tool calls", "openai/gpt-4o-mini", testupstream.Reply{ToolCalls: []testupstream.ToolCall{call}, Usage: testupstream.Usage{Prompt: 53, Completion: 15}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := cacheParams(tc.model, tc.name)
			p.StreamOptions.IncludeUsage = openai.Bool(true)
			p.Tools = []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{Name: "get_capital", Parameters: shared.FunctionParameters{"type": "object"}})}
			for _, s := range []*testupstream.Server{e.openai, e.deepseek} {
				s.Enqueue(tc.reply)
			}
			n := recs.len()
			live, h := streamed(t, e.sdk(), p)
			if h.Get("X-Cache") != "MISS" {
				t.Fatalf("first X-Cache %q", h.Get("X-Cache"))
			}
			recs.nth(t, n+1) // stored before the record is written; the client may see [DONE] first
			replay, h := streamed(t, e.sdk(), p)
			if h.Get("X-Cache") != "HIT" {
				t.Fatalf("repeat X-Cache %q", h.Get("X-Cache"))
			}
			sameAnswer(t, "stream hit", &live.ChatCompletion, &replay.ChatCompletion)
			// The same request not streamed: the stored stream, accumulated.
			resp, h := ask(t, e.sdk(), p)
			if h.Get("X-Cache") != "HIT" {
				t.Fatalf("non-streamed repeat X-Cache %q", h.Get("X-Cache"))
			}
			sameAnswer(t, "non-stream hit of a stream", &live.ChatCompletion, resp)
		})
	}
}

func TestCacheResponseReplayedAsStream(t *testing.T) {
	e, _ := cacheEnv(t, llmbridge.CachePolicy{})
	e.openai.Enqueue(testupstream.Reply{Content: []string{"Stored ", "whole"}, Usage: testupstream.Usage{Prompt: 12, Completion: 2}})
	p := cacheParams("openai/gpt-4o", "reverse")
	orig, h := ask(t, e.sdk(), p)
	if h.Get("X-Cache") != "MISS" {
		t.Fatalf("X-Cache %q", h.Get("X-Cache"))
	}
	p.StreamOptions.IncludeUsage = openai.Bool(true)
	replay, h := streamed(t, e.sdk(), p)
	if h.Get("X-Cache") != "HIT" {
		t.Fatalf("X-Cache %q", h.Get("X-Cache"))
	}
	sameAnswer(t, "stream hit of a response", orig, &replay.ChatCompletion)
	// Without include_usage the replay has no usage-only chunk, as live.
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{}
	s := e.sdk().Chat.Completions.NewStreaming(ctxTimeout(t), p)
	for s.Next() {
		if len(s.Current().Choices) == 0 {
			t.Error("a usage-only chunk the client did not ask for")
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
}

func sameAnswer(t *testing.T, what string, want, got *openai.ChatCompletion) {
	t.Helper()
	w, g := want.Choices[0], got.Choices[0]
	if w.Message.Content != g.Message.Content || w.FinishReason != g.FinishReason || len(w.Message.ToolCalls) != len(g.Message.ToolCalls) {
		t.Errorf("%s: content %q finish %q tools %d, want %q %q %d", what, g.Message.Content, g.FinishReason, len(g.Message.ToolCalls), w.Message.Content, w.FinishReason, len(w.Message.ToolCalls))
	}
	for i := range w.Message.ToolCalls {
		if i < len(g.Message.ToolCalls) && (w.Message.ToolCalls[i].ID != g.Message.ToolCalls[i].ID || w.Message.ToolCalls[i].Function.Name != g.Message.ToolCalls[i].Function.Name || w.Message.ToolCalls[i].Function.Arguments != g.Message.ToolCalls[i].Function.Arguments) {
			t.Errorf("%s: tool call %d %+v, want %+v", what, i, g.Message.ToolCalls[i], w.Message.ToolCalls[i])
		}
	}
	if wr, gr := w.Message.JSON.ExtraFields["reasoning_content"].Raw(), g.Message.JSON.ExtraFields["reasoning_content"].Raw(); wr != gr {
		t.Errorf("%s: reasoning %s, want %s", what, gr, wr)
	}
	if want.Usage.PromptTokens != got.Usage.PromptTokens || want.Usage.CompletionTokens != got.Usage.CompletionTokens || want.Usage.TotalTokens != got.Usage.TotalTokens ||
		want.Usage.PromptTokensDetails.CachedTokens != got.Usage.PromptTokensDetails.CachedTokens ||
		want.Usage.CompletionTokensDetails.ReasoningTokens != got.Usage.CompletionTokensDetails.ReasoningTokens || want.Usage.TotalTokens == 0 {
		t.Errorf("%s: usage %+v, want %+v", what, got.Usage, want.Usage)
	}
}

func TestCacheStreamCutIsNotStored(t *testing.T) {
	e, recs := cacheEnv(t, llmbridge.CachePolicy{})
	e.openai.Enqueue(testupstream.Reply{Content: []string{"a", "b", "c", "d"}, CutAfter: 2})
	p := cacheParams("openai/gpt-4o", "cut")
	n := recs.len()
	s := e.sdk().Chat.Completions.NewStreaming(ctxTimeout(t), p)
	for s.Next() {
	}
	if s.Err() == nil {
		t.Fatal("a cut stream ended without an error")
	}
	if rec := recs.nth(t, n+1); rec.Cache != llmbridge.CacheMiss || rec.Error == "" {
		t.Fatalf("cut record: cache %q error %q", rec.Cache, rec.Error)
	}
	before := len(e.openai.Requests())
	_, h := streamed(t, e.sdk(), p)
	if h.Get("X-Cache") != "MISS" || len(e.openai.Requests()) != before+1 {
		t.Errorf("after a cut stream: X-Cache %q, upstream calls %d → %d", h.Get("X-Cache"), before, len(e.openai.Requests()))
	}
}

func TestCacheStoresOnlyCleanAnswers(t *testing.T) {
	for _, tc := range []struct{ finish, want string }{{"stop", "HIT"}, {"length", "MISS"}, {"content_filter", "MISS"}} {
		t.Run(tc.finish, func(t *testing.T) {
			calls := 0
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls++
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"partial"},"finish_reason":"`+tc.finish+`"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`)
			}))
			defer up.Close()
			b, err := llmbridge.New(llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: up.URL, APIKey: "k"})), llmbridge.WithCache(newMemoryCache(t), llmbridge.CachePolicy{}))
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(b)
			defer srv.Close()
			c := openai.NewClient(option.WithBaseURL(srv.URL+"/v1"), option.WithAPIKey("x"), option.WithMaxRetries(0))
			ask(t, &c, cacheParams("openai/m", "q"))
			_, h := ask(t, &c, cacheParams("openai/m", "q"))
			if h.Get("X-Cache") != tc.want {
				t.Errorf("finish %s: repeat X-Cache %q, want %q (upstream calls %d)", tc.finish, h.Get("X-Cache"), tc.want, calls)
			}
		})
	}
}

func TestCacheErrorsAreNotStored(t *testing.T) {
	e, _ := cacheEnv(t, llmbridge.CachePolicy{})
	e.openai.Enqueue(testupstream.Reply{Status: 400})
	c := e.sdk()
	if _, err := c.Chat.Completions.New(ctxTimeout(t), cacheParams("openai/gpt-4o", "err")); err == nil {
		t.Fatal("no error")
	}
	_, h := ask(t, c, cacheParams("openai/gpt-4o", "err"))
	if h.Get("X-Cache") != "MISS" {
		t.Errorf("after an error: X-Cache %q", h.Get("X-Cache"))
	}
}

func TestCacheIsolatesKeys(t *testing.T) {
	const other = "sk-another-access-key-for-tests"
	for _, shared := range []bool{false, true} {
		e, _ := cacheEnv(t, llmbridge.CachePolicy{Shared: shared}, llmbridge.WithAccessKeys(other))
		p := cacheParams("openai/gpt-4o", "secret question")
		ask(t, e.sdk(), p)
		_, h := ask(t, e.sdk(option.WithAPIKey(other)), p)
		want := "MISS"
		if shared {
			want = "HIT"
		}
		if got := h.Get("X-Cache"); got != want {
			t.Errorf("shared %v: another key's repeat X-Cache %q, want %q", shared, got, want)
		}
		if _, h := ask(t, e.sdk(), p); h.Get("X-Cache") != "HIT" {
			t.Errorf("shared %v: the same key's repeat X-Cache %q", shared, h.Get("X-Cache"))
		}
	}
}

func TestCacheInProcess(t *testing.T) {
	recs := &cacheRecords{}
	up := testupstream.New(t, testupstream.OpenAI)
	b, err := llmbridge.New(llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: up.BaseURL(), APIKey: up.Key})),
		llmbridge.WithCache(newMemoryCache(t), llmbridge.CachePolicy{}), llmbridge.WithUsageSink(recs.sink))
	if err != nil {
		t.Fatal(err)
	}
	zero := 0.0
	req := &llmbridge.ChatRequest{Model: "openai/gpt-4o", Messages: []llmbridge.Message{llmbridge.UserMessage("hi")}, Temperature: &zero}
	for i, want := range []string{llmbridge.CacheMiss, llmbridge.CacheHit} {
		r, err := b.ChatCompletion(context.Background(), req)
		if err != nil || r.Choices[0].Message.Content.String() != "Hello world" || r.Usage.TotalTokens != 11 {
			t.Fatalf("call %d: %v %+v", i, err, r)
		}
		if got := recs.nth(t, i+1).Cache; got != want {
			t.Errorf("call %d: record Cache %q, want %q", i, got, want)
		}
	}
	var text strings.Builder
	var usage *llmbridge.Usage
	req.StreamOptions = &llmbridge.StreamOptions{IncludeUsage: true}
	for ch, err := range b.ChatCompletionStream(context.Background(), req) {
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range ch.Choices {
			if c.Delta.Content != nil {
				text.WriteString(*c.Delta.Content)
			}
		}
		if ch.Usage != nil {
			usage = ch.Usage
		}
	}
	if text.String() != "Hello world" || usage == nil || usage.TotalTokens != 11 || recs.nth(t, 3).Cache != llmbridge.CacheHit {
		t.Errorf("streamed hit: %q usage %+v cache %q", text.String(), usage, recs.nth(t, 3).Cache)
	}
	if len(up.Requests()) != 1 {
		t.Errorf("upstream called %d times, want 1", len(up.Requests()))
	}
}

func TestCacheAnthropicClientReplay(t *testing.T) {
	recs := &cacheRecords{}
	e := newClaudeEnv(t, llmbridge.WithCache(newMemoryCache(t), llmbridge.CachePolicy{}), llmbridge.WithUsageSink(recs.sink))
	zeroTemp := aoption.WithJSONSet("temperature", 0)
	for _, model := range []string{"anthropic/claude-sonnet-4-5", "openai/gpt-4o"} { // pass-through, translated
		t.Run(model, func(t *testing.T) {
			params := anthropic.MessageNewParams{Model: anthropic.Model(model), MaxTokens: 100,
				Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hi " + model))}}
			var first anthropic.Message
			for i, want := range []string{"MISS", "HIT"} {
				n := recs.len()
				var raw *http.Response
				s := e.client(zeroTemp).Messages.NewStreaming(ctxTimeout(t), params, aoption.WithResponseInto(&raw))
				msg := anthropic.Message{}
				for s.Next() {
					if err := msg.Accumulate(s.Current()); err != nil {
						t.Fatal(err)
					}
				}
				if err := s.Err(); err != nil {
					t.Fatal(err)
				}
				if got := raw.Header.Get("X-Cache"); got != want {
					t.Fatalf("stream %d: X-Cache %q, want %q", i, got, want)
				}
				recs.nth(t, n+1)
				if i == 0 {
					first = msg
					continue
				}
				if len(msg.Content) == 0 || msg.Content[0].Text != first.Content[0].Text || msg.StopReason != first.StopReason ||
					msg.Usage.InputTokens != first.Usage.InputTokens || msg.Usage.OutputTokens != first.Usage.OutputTokens || first.Usage.OutputTokens == 0 {
					t.Errorf("replayed message %+v, want %+v", msg, first)
				}
			}
			// Not streamed: the stored stream, converted.
			var raw *http.Response
			msg, err := e.client(zeroTemp).Messages.New(ctxTimeout(t), params, aoption.WithResponseInto(&raw))
			if err != nil {
				t.Fatal(err)
			}
			if raw.Header.Get("X-Cache") != "HIT" || msg.Content[0].Text != first.Content[0].Text || msg.Usage.InputTokens != first.Usage.InputTokens {
				t.Errorf("non-streamed hit: X-Cache %q, %+v", raw.Header.Get("X-Cache"), msg)
			}
		})
	}
}

// TestCacheHitIsWellFormedSSE reads a replayed chat stream as raw lines:
// data events then [DONE], and X-Cache/Age headers.
// storedValues is a cache that keeps a copy of every value stored.
type storedValues struct {
	llmbridge.Cache
	mu   sync.Mutex
	vals [][]byte
}

func (s *storedValues) Set(ctx context.Context, key llmbridge.CacheKey, v []byte, ttl time.Duration) error {
	s.mu.Lock()
	s.vals = append(s.vals, bytes.Clone(v))
	s.mu.Unlock()
	return s.Cache.Set(ctx, key, v, ttl)
}

// TestCacheHitIsWellFormedSSE: a streamed hit is the live stream's
// events, byte for byte, also when the stream was stored with its chunks
// cut short (an OpenAI stream repeats each chunk's head).
func TestCacheHitIsWellFormedSSE(t *testing.T) {
	recs := &cacheRecords{}
	stored := &storedValues{Cache: newMemoryCache(t)}
	e := newEnv(t, llmbridge.WithCache(stored, llmbridge.CachePolicy{}), llmbridge.WithUsageSink(recs.sink))
	n := 0
	send := func(t *testing.T, body, cacheControl, want string) []string {
		t.Helper()
		req, _ := http.NewRequest("POST", e.srv.URL+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+accessKey)
		if cacheControl != "" {
			req.Header.Set("Cache-Control", cacheControl)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.Header.Get("X-Cache") != want || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("X-Cache %q (want %s), Content-Type %q", resp.Header.Get("X-Cache"), want, resp.Header.Get("Content-Type"))
		}
		var events []string
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if line := sc.Text(); line != "" {
				if !strings.HasPrefix(line, "data: ") {
					t.Errorf("line %q", line)
				}
				events = append(events, strings.TrimPrefix(line, "data: "))
			}
		}
		n++
		recs.nth(t, n)
		if len(events) < 2 || events[len(events)-1] != "[DONE]" {
			t.Errorf("events %q", events)
		}
		return events
	}
	usageOnly := func(events []string) int {
		k := 0
		for _, ev := range events {
			if strings.Contains(ev, `"choices":[]`) && strings.Contains(ev, `"usage":{`) {
				k++
			}
		}
		return k
	}
	// OpenAI sends usage in a chunk of its own; DeepSeek in its last chunk
	// with choices, which the relay splits when the client asks for usage.
	for _, model := range []string{"openai/gpt-4o", "deepseek/deepseek-chat"} {
		t.Run(model, func(t *testing.T) {
			plain := `{"model":"` + model + `","temperature":0,"stream":true,"messages":[{"role":"user","content":"sse"}]}`
			withUsage := `{"model":"` + model + `","temperature":0,"stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"sse"}]}`
			live := send(t, plain, "", "MISS")
			if hit := send(t, plain, "", "HIT"); strings.Join(hit, "\n") != strings.Join(live, "\n") {
				t.Errorf("hit events\n%s\nwant the live ones\n%s", strings.Join(hit, "\n"), strings.Join(live, "\n"))
			}
			if usageOnly(live) != 0 {
				t.Errorf("a usage chunk the client did not ask for: %q", live)
			}
			live = send(t, withUsage, "no-cache", "BYPASS") // called live, and stored
			if hit := send(t, withUsage, "", "HIT"); strings.Join(hit, "\n") != strings.Join(live, "\n") {
				t.Errorf("hit events with usage\n%s\nwant the live ones\n%s", strings.Join(hit, "\n"), strings.Join(live, "\n"))
			}
			if usageOnly(live) != 1 {
				t.Errorf("%d usage chunks, want 1: %q", usageOnly(live), live)
			}
			// The entry stored with usage, replayed to a client that did
			// not ask for it: no usage chunk.
			if hit := send(t, plain, "", "HIT"); usageOnly(hit) != 0 || len(hit) >= len(live) {
				t.Errorf("hit without include_usage: %q", hit)
			}
			stored.mu.Lock()
			last := stored.vals[len(stored.vals)-1]
			stored.mu.Unlock()
			if !bytes.Contains(last, []byte(`"short":"01`)) {
				t.Errorf("the stream was stored with no chunk cut short: %s", last)
			}
		})
	}
}

func TestWithCacheValidates(t *testing.T) {
	_, err := llmbridge.New(llmbridge.WithCache(nil, llmbridge.CachePolicy{TTL: -1, Models: []string{"a*b", ""}}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"nil cache", "negative", `"a*b"`, `""`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

// slowCache answers after a delay longer than the budget.
type slowCache struct{ d time.Duration }

func (s slowCache) Get(ctx context.Context, _ llmbridge.CacheKey) ([]byte, bool, error) {
	select {
	case <-ctx.Done():
		return nil, false, ctx.Err()
	case <-time.After(s.d):
		return nil, false, nil
	}
}

func (s slowCache) Set(ctx context.Context, _ llmbridge.CacheKey, _ []byte, _ time.Duration) error {
	_, _, err := s.Get(ctx, llmbridge.CacheKey{})
	return err
}

func TestCacheSlowBackendIsAMiss(t *testing.T) {
	e := newEnv(t, llmbridge.WithCache(slowCache{time.Hour}, llmbridge.CachePolicy{}))
	for range 2 {
		resp, h := ask(t, e.sdk(), cacheParams("openai/gpt-4o", "slow"))
		if h.Get("X-Cache") != "MISS" || resp.Choices[0].Message.Content != "Hello world" {
			t.Errorf("X-Cache %q, %q", h.Get("X-Cache"), resp.Choices[0].Message.Content)
		}
	}
}

// TestCacheResponsesClientReplay: the Responses API through the cache,
// with the official SDK: passed through to OpenAI (stored as the events
// came) and translated (stored canonical), streamed and not, replayed in
// both modes with the original text and usage.
func TestCacheResponsesClientReplay(t *testing.T) {
	recs := &cacheRecords{}
	e := newClaudeEnv(t, llmbridge.WithCache(newMemoryCache(t), llmbridge.CachePolicy{}), llmbridge.WithUsageSink(recs.sink))
	for _, model := range []string{"openai/gpt-4o", "deepseek/deepseek-chat", "anthropic/claude-sonnet-4-5"} {
		t.Run(model, func(t *testing.T) {
			params := hiParams(model)
			params.Temperature = openai.Float(0)
			params.Input.OfString = openai.String("Hi, cache " + model)
			fake := e.fake(model)
			var first *responses.Response
			for i, want := range []string{"MISS", "HIT"} {
				before, n := len(fake.Requests()), recs.len()
				var raw *http.Response
				stream := e.oai().Responses.NewStreaming(ctxTimeout(t), params, option.WithResponseInto(&raw))
				var done *responses.Response
				for stream.Next() {
					if ev := stream.Current(); ev.Type == "response.completed" {
						r := ev.Response
						done = &r
					}
				}
				if err := stream.Err(); err != nil {
					t.Fatal(err)
				}
				if raw.Header.Get("X-Cache") != want || done == nil {
					t.Fatalf("stream %d: X-Cache %q (want %s), completed %v", i, raw.Header.Get("X-Cache"), want, done != nil)
				}
				rec := recs.nth(t, n+1)
				if i == 0 {
					first = done
					continue
				}
				if got := len(fake.Requests()) - before; got != 0 {
					t.Errorf("a hit called the upstream %d times", got)
				}
				if done.OutputText() != first.OutputText() || first.OutputText() == "" || done.Usage.InputTokens != first.Usage.InputTokens || done.Usage.OutputTokens != first.Usage.OutputTokens || first.Usage.OutputTokens == 0 {
					t.Errorf("replayed %q usage %+v, want %q %+v", done.OutputText(), done.Usage, first.OutputText(), first.Usage)
				}
				if rec.Cache != llmbridge.CacheHit || rec.PromptTokens != 0 || rec.Saved.Prompt != int(first.Usage.InputTokens) || rec.Saved.Completion != int(first.Usage.OutputTokens) {
					t.Errorf("hit record: cache %q prompt %d saved %+v, want saved %d/%d", rec.Cache, rec.PromptTokens, rec.Saved, first.Usage.InputTokens, first.Usage.OutputTokens)
				}
			}
			// Not streamed: the stored stream's response.
			var raw *http.Response
			before := len(fake.Requests())
			resp, err := e.oai().Responses.New(ctxTimeout(t), params, option.WithResponseInto(&raw))
			if err != nil {
				t.Fatal(err)
			}
			if raw.Header.Get("X-Cache") != "HIT" || len(fake.Requests()) != before || resp.OutputText() != first.OutputText() || resp.Usage.OutputTokens != first.Usage.OutputTokens || resp.Status != "completed" {
				t.Errorf("non-streamed hit: X-Cache %q, upstream %d → %d, %q %+v", raw.Header.Get("X-Cache"), before, len(fake.Requests()), resp.OutputText(), resp.Usage)
			}
		})
	}
	// A body stored first: a non-streamed repeat is a hit; a stream cannot
	// be made from a passed-through body, so it misses and its own stream
	// is stored (and then serves both).
	params := hiParams("openai/gpt-4o")
	params.Temperature = openai.Float(0)
	params.Input.OfString = openai.String("body first")
	for i, want := range []string{"MISS", "HIT"} {
		var raw *http.Response
		if _, err := e.oai().Responses.New(ctxTimeout(t), params, option.WithResponseInto(&raw)); err != nil {
			t.Fatal(err)
		}
		if raw.Header.Get("X-Cache") != want {
			t.Fatalf("body %d: X-Cache %q, want %s", i, raw.Header.Get("X-Cache"), want)
		}
	}
	for i, want := range []string{"MISS", "HIT"} {
		n := recs.len()
		var raw *http.Response
		stream := e.oai().Responses.NewStreaming(ctxTimeout(t), params, option.WithResponseInto(&raw))
		for stream.Next() {
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if raw.Header.Get("X-Cache") != want {
			t.Fatalf("stream %d after a body: X-Cache %q, want %s", i, raw.Header.Get("X-Cache"), want)
		}
		recs.nth(t, n+1)
	}
}

// streamParams is a cacheable streamed request, the i-th of its kind.
func streamParams(i int) openai.ChatCompletionNewParams {
	p := cacheParams("openai/gpt-4o", fmt.Sprint("prompt ", i))
	p.StreamOptions.IncludeUsage = openai.Bool(true)
	return p
}

// keepingCache keeps the very slices it is given, as the Cache contract
// allows: a value the Bridge reused after Set would change in it.
type keepingCache struct {
	mu sync.Mutex
	m  map[llmbridge.CacheKey][]byte
}

func (c *keepingCache) Get(_ context.Context, k llmbridge.CacheKey) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok, nil
}

func (c *keepingCache) Set(_ context.Context, k llmbridge.CacheKey, v []byte, _ time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[k] = v
	return nil
}

// TestCacheStreamsStoredFromOneBuffer: with a cache that copies what it
// is given (the memory backend), a stream's value is built in the tap's
// pooled buffer, which the next stream reuses; with one that keeps the
// slice, never. Either way every answer stored is still itself when it
// is hit after the others.
func TestCacheStreamsStoredFromOneBuffer(t *testing.T) {
	mem := newMemoryCache(t)
	if !mem.CopiesValues() {
		t.Fatal("the memory cache does not say it copies: this test would not cover the reuse")
	}
	for name, c := range map[string]llmbridge.Cache{"copying": mem, "keeping": &keepingCache{m: map[llmbridge.CacheKey][]byte{}}} {
		t.Run(name, func(t *testing.T) {
			recs := &cacheRecords{}
			e := newEnv(t, llmbridge.WithCache(c, llmbridge.CachePolicy{}), llmbridge.WithUsageSink(recs.sink))
			var live []openai.ChatCompletion
			for i, words := range [][]string{{"one ", "two"}, {"three ", "four ", "five"}, {"six"}, {"seven ", "eight"}} {
				e.openai.Enqueue(testupstream.Reply{Content: words, Usage: testupstream.Usage{Prompt: 9, Completion: len(words)}})
				n := recs.len()
				s, h := streamed(t, e.sdk(), streamParams(i))
				if h.Get("X-Cache") != "MISS" {
					t.Fatalf("stream %d: X-Cache %q", i, h.Get("X-Cache"))
				}
				recs.nth(t, n+1)
				live = append(live, s.ChatCompletion)
			}
			for i := range live {
				replay, h := streamed(t, e.sdk(), streamParams(i))
				if h.Get("X-Cache") != "HIT" {
					t.Fatalf("stream %d again: X-Cache %q", i, h.Get("X-Cache"))
				}
				sameAnswer(t, fmt.Sprint("hit ", i), &live[i], &replay.ChatCompletion)
			}
		})
	}
}
