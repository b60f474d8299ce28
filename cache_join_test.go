package llmbridge_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/cache/codec"
	iopenai "github.com/llmbridge/llmbridge/internal/openai"
)

// keptCache is a memory cache that keeps the last value stored.
type keptCache struct {
	llmbridge.Cache
	mu   sync.Mutex
	last []byte
}

func (k *keptCache) Set(ctx context.Context, key llmbridge.CacheKey, v []byte, ttl time.Duration) error {
	k.mu.Lock()
	k.last = v
	k.mu.Unlock()
	return k.Cache.Set(ctx, key, v, ttl)
}

func (k *keptCache) stored(t *testing.T) []byte {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		k.mu.Lock()
		v := k.last
		k.mu.Unlock()
		if v != nil {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatal("nothing stored")
		}
	}
}

// TestCacheNonStreamHitOfStreamIsTheTypedAnswer: a chat client's
// non-streamed hit of a stored stream (now joined from the raw chunks)
// answers byte for byte what the typed path answered (the chunks decoded,
// accumulated and encoded), for streams with tool calls, several choices,
// usage with details, logprobs (kept, joined as the API answers them
// unstreamed), refusals, reasoning, escapes and unknown
// members, and for one the joiner leaves to the typed path.
func TestCacheNonStreamHitOfStreamIsTheTypedAnswer(t *testing.T) {
	head := `"object":"chat.completion.chunk","created":1782955817,"model":"gpt-4o-mini","service_tier":"default","system_fingerprint":"fp_1"`
	for name, chunks := range map[string][]string{
		"tool calls and usage details": {
			`{"id":"c1",` + head + `,"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_capital","arguments":""}}]},"logprobs":null,"finish_reason":null}],"usage":null}`,
			`{"id":"c1",` + head + `,"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"country\":"}}]},"logprobs":null,"finish_reason":null}],"usage":null}`,
			`{"id":"c1",` + head + `,"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"UK\"}"}},{"index":1,"id":"call_2","type":"function","function":{"name":"now","arguments":"{}"}}]},"logprobs":null,"finish_reason":null}],"usage":null}`,
			`{"id":"c1",` + head + `,"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}],"usage":null}`,
			`{"id":"c1",` + head + `,"choices":[],"usage":{"prompt_tokens":53,"completion_tokens":15,"total_tokens":68,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}`,
		},
		"two choices, logprobs, refusal, reasoning": {
			`{"id":"c2",` + head + `,"choices":[{"index":1,"delta":{"role":"assistant","refusal":"I can\u2019t"},"logprobs":{"content":null,"refusal":[{"token":"I","logprob":-0.01,"bytes":[73],"top_logprobs":[]}]},"finish_reason":null},{"index":0,"delta":{"role":"assistant","content":"Line one\nline \"two\" <b>\u00e9</b>\t\u2028","annotations":[]},"logprobs":{"content":[{"token":"Line","logprob":-0.2,"bytes":[76],"top_logprobs":[]}],"refusal":null},"finish_reason":null}],"usage":null,"obfuscation":"x1"}`,
			`{"id":"c2",` + head + `,"choices":[{"index":0,"delta":{"reasoning_content":"thought","reasoning_signature":"sig"},"finish_reason":"stop"},{"index":1,"delta":{"refusal":" do that."},"finish_reason":"stop"}],"usage":null,"obfuscation":"x2"}`,
			`{"id":"c2",` + head + `,"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":9,"total_tokens":14}}`,
		},
		"left to the typed path": {
			`{"id":"c3",` + head + `,"Extra_Upper":1,"choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}]}`,
		},
	} {
		t.Run(name, func(t *testing.T) {
			var sse strings.Builder
			for _, ch := range chunks {
				sse.WriteString("data: " + ch + "\n\n")
			}
			sse.WriteString("data: [DONE]\n\n")
			srv, kc := cachingBridge(t, sse.String())
			body := `{"model":"openai/gpt-4o-mini","temperature":0,"messages":[{"role":"user","content":"` + name + `"}],"stream":true}`
			if _, h := postChat(t, srv.URL, body); h.Get("X-Cache") != "MISS" {
				t.Fatalf("first X-Cache %q", h.Get("X-Cache"))
			}
			e, err := codec.Decode(kc.stored(t))
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := e.JoinedResponse(); ok != (name != "left to the typed path") {
				t.Fatalf("joined from the raw chunks: %v", ok)
			}
			r, err := e.DecodeResponse()
			if err != nil {
				t.Fatal(err)
			}
			want, _ := iopenai.Marshal(r)
			got, h := postChat(t, srv.URL, strings.Replace(body, `"stream":true`, `"stream":false`, 1))
			if h.Get("X-Cache") != "HIT" || h.Get("Content-Type") != "application/json" {
				t.Fatalf("repeat X-Cache %q, Content-Type %q", h.Get("X-Cache"), h.Get("Content-Type"))
			}
			if got != string(want) {
				t.Errorf("non-streamed hit\n got %s\nwant %s", got, want)
			}
			// The stream's log probabilities, as the API answers them
			// unstreamed (they were dropped from such hits).
			for _, lp := range []string{
				`"finish_reason":"stop","logprobs":{"content":[{"token":"Line","logprob":-0.2,"bytes":[76],"top_logprobs":[]}],"refusal":null}}`,
				`"finish_reason":"stop","logprobs":{"content":null,"refusal":[{"token":"I","logprob":-0.01,"bytes":[73],"top_logprobs":[]}]}}`,
			} {
				if strings.Contains(name, "logprobs") && !strings.Contains(got, lp) {
					t.Errorf("non-streamed hit without %s:\n%s", lp, got)
				}
			}
		})
	}
}

// postChat sends a chat request and returns the answer's body and headers.
func postChat(t *testing.T, url, body string) (string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	return string(b), resp.Header
}

// TestCacheReplayAppliesUsageRulesToSpacedUsage: a stored stream whose
// upstream writes `"usage": {` (space after the colon) is replayed with the
// usage rules, as it was relayed live: a client that did not ask for usage
// gets no usage-only chunk from a hit either (the replay's quick test
// looked for `"usage":{` only, and passed such a chunk through).
func TestCacheReplayAppliesUsageRulesToSpacedUsage(t *testing.T) {
	head := `"object":"chat.completion.chunk","created":1782955817,"model":"gpt-4o-mini"`
	sse := "data: {\"id\":\"c\"," + head + ",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"finish_reason\":null}], \"usage\": null}\n\n" +
		"data: {\"id\":\"c\"," + head + ",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}], \"usage\": null}\n\n" +
		"data: {\"id\":\"c\"," + head + ",\"choices\":[], \"usage\": {\"prompt_tokens\":5,\"completion_tokens\":1,\"total_tokens\":6}}\n\n" +
		"data: [DONE]\n\n"
	srv, kc := cachingBridge(t, sse)
	body := `{"model":"openai/gpt-4o-mini","temperature":0,"messages":[{"role":"user","content":"spaced"}],"stream":true}`
	live, h := postChat(t, srv.URL, body)
	if h.Get("X-Cache") != "MISS" {
		t.Fatalf("first X-Cache %q", h.Get("X-Cache"))
	}
	kc.stored(t)
	hit, h := postChat(t, srv.URL, body)
	if h.Get("X-Cache") != "HIT" {
		t.Fatalf("repeat X-Cache %q", h.Get("X-Cache"))
	}
	for name, s := range map[string]string{"live": live, "hit": hit} {
		if strings.Contains(s, "prompt_tokens") {
			t.Errorf("%s answer has the usage chunk the client did not ask for:\n%s", name, s)
		}
		if !strings.HasSuffix(s, "data: [DONE]\n\n") {
			t.Errorf("%s answer does not end with [DONE]:\n%s", name, s)
		}
	}
}

// cachingBridge is a bridge with a kept memory cache in front of an
// upstream that answers every request with the stream sse.
func cachingBridge(t *testing.T, sse string) (*httptest.Server, *keptCache) {
	t.Helper()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, sse)
	}))
	t.Cleanup(upstream.Close)
	kc := &keptCache{Cache: newMemoryCache(t)}
	br, err := llmbridge.New(llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: upstream.URL + "/v1", APIKey: "sk-x"})),
		llmbridge.WithAccessKeys("k"), llmbridge.WithCache(kc, llmbridge.CachePolicy{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { br.Close() })
	srv := httptest.NewServer(br)
	t.Cleanup(srv.Close)
	return srv, kc
}
