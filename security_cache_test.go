package llmbridge

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge/internal/cache/codec"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// cacheKeyOf is the cache key of a request in format f with body and the
// client's header h (nil: in-process).
func cacheKeyOf(t *testing.T, f clientFormat, shared bool, body string, h http.Header) CacheKey {
	t.Helper()
	env := f.parse([]byte(body))
	if env.bad != nil {
		t.Fatalf("bad body %s: %v", body, env.bad)
	}
	c := &call{f: f, input: input{body: []byte(body), env: env}, req: Request{Header: h}, meter: meter{rec: UsageRecord{KeyID: "key-1"}}}
	k, ok := c.cacheKey(shared)
	if !ok {
		t.Fatal("no key")
	}
	return k
}

// TestCacheKeyIncludesForwardedHeaders: requests that differ only in the
// anthropic-version or anthropic-beta headers, which the Messages
// pass-through sends upstream, have different keys, shared or not (issue
// 24: with scope shared they shared an answer).
func TestCacheKeyIncludesForwardedHeaders(t *testing.T) {
	const body = `{"model":"anthropic/claude-sonnet-4-5","max_tokens":16,"temperature":0,"messages":[{"role":"user","content":"hi"}]}`
	hdr := func(kv ...string) http.Header {
		h := http.Header{"Authorization": {"Bearer whoever"}, "User-Agent": {"x"}}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	distinct := []http.Header{
		hdr(),
		hdr("anthropic-version", "2023-06-01"),
		hdr("anthropic-version", "2023-01-01"),
		hdr("anthropic-beta", "context-1m-2025-08-07"),
		hdr("anthropic-beta", "interleaved-thinking-2025-05-14"),
		hdr("anthropic-beta", "context-1m-2025-08-07", "anthropic-beta", "interleaved-thinking-2025-05-14"),
		hdr("anthropic-beta", "context-1m-2025-08-07,interleaved-thinking-2025-05-14"),
		hdr("anthropic-beta", ""),
		hdr("anthropic-version", "2023-06-01", "anthropic-beta", "context-1m-2025-08-07"),
		// Values that a concatenation without lengths would confuse.
		hdr("anthropic-version", "a", "anthropic-version", "b"),
		hdr("anthropic-version", "ab"),
		hdr("anthropic-version", "a", "anthropic-beta", "b"),
	}
	for _, shared := range []bool{true, false} {
		seen := map[string]int{}
		for i, h := range distinct {
			k := cacheKeyOf(t, anthropicFormat{}, shared, body, h)
			if j, ok := seen[k.Hash]; ok {
				t.Errorf("shared %v: headers %v and %v share a key", shared, distinct[j], h)
			}
			seen[k.Hash] = i
		}
		// What does not go upstream does not count: the credentials, other
		// headers, the case of the names, and no header at all in-process.
		same := []http.Header{
			nil,
			{},
			{"Authorization": {"Bearer someone-else"}, "X-Api-Key": {"k"}, "Anthropic-Dangerous-Direct-Browser-Access": {"true"}},
		}
		want := cacheKeyOf(t, anthropicFormat{}, shared, body, hdr())
		for _, h := range same {
			if got := cacheKeyOf(t, anthropicFormat{}, shared, body, h); got != want {
				t.Errorf("shared %v: header %v changed the key", shared, h)
			}
		}
		lower := http.Header{}
		lower.Set("ANTHROPIC-BETA", "context-1m-2025-08-07")
		if cacheKeyOf(t, anthropicFormat{}, shared, body, lower) != cacheKeyOf(t, anthropicFormat{}, shared, body, hdr("anthropic-beta", "context-1m-2025-08-07")) {
			t.Errorf("shared %v: the case of a header's name changed the key", shared)
		}
	}
}

// TestCacheKeyCoversForwardedHeaders: every client header that any client
// format's pass-through sends to any built-in provider is in
// codec.KeyHeaders, so none can change an answer without changing its key.
func TestCacheKeyCoversForwardedHeaders(t *testing.T) {
	names := []string{
		"Anthropic-Version", "Anthropic-Beta", "Anthropic-Dangerous-Direct-Browser-Access",
		"Openai-Beta", "Openai-Organization", "Openai-Project", "X-Goog-User-Project", "X-Goog-Api-Client",
		"X-Stainless-Lang", "X-Stainless-Helper-Method", "User-Agent", "Accept", "Accept-Language", "Accept-Encoding",
		"Content-Type", "Cache-Control", "Prefer", "Idempotency-Key", "X-Request-Id", "Traceparent",
		"Authorization", "X-Api-Key", "X-Goog-Api-Key", "Cookie", "X-Custom-Anything", "Helicone-Auth",
	}
	client := http.Header{}
	for _, n := range names {
		client.Set(n, "canary-"+n)
	}
	cfg := ProviderConfig{BaseURL: "http://upstream.invalid", APIKey: "sk-provider", Name: "compat"}
	providers := map[string]Provider{
		"openai": OpenAI(cfg), "deepseek": DeepSeek(cfg), "gemini-compat": GeminiOpenAICompat(cfg),
		"gemini": Gemini(cfg), "anthropic": Anthropic(cfg), "openai-compatible": OpenAICompatible(cfg),
	}
	const body = `{"model":"m","max_tokens":8,"messages":[{"role":"user","content":"hi"}],"input":"hi"}`
	checked, forwarded := 0, 0
	for _, f := range clientFormats() {
		for pname, p := range providers {
			raw := f.passThrough(p)
			if raw == nil {
				continue
			}
			for _, stream := range []bool{false, true} {
				hreq, err := raw(context.Background(), []byte(body), "m", stream, client)
				if err != nil {
					continue // nothing is sent (count_tokens to a provider that cannot count)
				}
				checked++
				for name, vs := range hreq.Header {
					for _, v := range vs {
						if strings.Contains(v, "canary-") {
							forwarded++
						}
						if strings.Contains(v, "canary-") && !isCacheKeyHeader(name) {
							t.Errorf("%s → %s forwards the client's %s, which the cache key ignores", f.name(), pname, name)
						}
					}
				}
			}
		}
	}
	if checked == 0 || forwarded == 0 {
		t.Fatalf("%d pass-throughs checked, %d headers forwarded: the check found nothing to check", checked, forwarded)
	}
}

func isCacheKeyHeader(name string) bool {
	for _, n := range codec.KeyHeaders {
		if http.CanonicalHeaderKey(name) == n {
			return true
		}
	}
	return false
}

// keyTestCache is a LocalCache in a map, for tests in this package (the
// memory backend imports it).
type keyTestCache struct {
	mu sync.Mutex
	m  map[CacheKey][]byte
}

func (c *keyTestCache) Get(_ context.Context, k CacheKey) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok, nil
}

func (c *keyTestCache) Set(_ context.Context, k CacheKey, v []byte, _ time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[k] = v
	return nil
}

func (c *keyTestCache) Local() bool { return true }

func (c *keyTestCache) len() int { c.mu.Lock(); defer c.mu.Unlock(); return len(c.m) }

// TestCacheSharedScopeSeparatesAnthropicHeaders goes through the handler:
// a Messages request passed through to Anthropic with one anthropic-beta
// (or anthropic-version) is not answered from the entry of a request with
// another, under either scope; the upstream gets each one's header.
func TestCacheSharedScopeSeparatesAnthropicHeaders(t *testing.T) {
	const body = `{"model":"anthropic/claude-sonnet-4-5","max_tokens":16,"temperature":0,"messages":[{"role":"user","content":"hi"}]}`
	for _, shared := range []bool{true, false} {
		for _, h := range []struct{ name, a, b string }{
			{"Anthropic-Beta", "context-1m-2025-08-07", "interleaved-thinking-2025-05-14"},
			{"Anthropic-Version", "2023-06-01", "2023-01-01"},
		} {
			up := testupstream.New(t, testupstream.Anthropic)
			cache := &keyTestCache{m: map[CacheKey][]byte{}}
			b, err := New(WithProvider(Anthropic(ProviderConfig{BaseURL: up.BaseURL(), APIKey: up.Key})),
				WithAccessKeys("sk-bridge-cache-test-key"), WithCache(cache, CachePolicy{Shared: shared}))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			send := func(v string) string {
				r := httptest.NewRequest(http.MethodPost, "/v1/messages", strings.NewReader(body))
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set("Authorization", "Bearer sk-bridge-cache-test-key")
				r.Header.Set(h.name, v)
				rec := httptest.NewRecorder()
				b.ServeHTTP(rec, r)
				if rec.Code != http.StatusOK {
					t.Fatalf("%d %s", rec.Code, rec.Body)
				}
				for deadline := time.Now().Add(5 * time.Second); cache.len() == 0 && time.Now().Before(deadline); {
					time.Sleep(time.Millisecond) // the answer is stored after it went out
				}
				return rec.Header().Get("X-Cache")
			}
			if got := send(h.a); got != "MISS" {
				t.Fatalf("shared %v, %s: first request X-Cache %q", shared, h.name, got)
			}
			if got := send(h.b); got != "MISS" {
				t.Errorf("shared %v: a request with %s %q was answered (X-Cache %q) from the entry of one with %q", shared, h.name, h.b, got, h.a)
			}
			if got := send(h.a); got != "HIT" {
				t.Errorf("shared %v, %s: the repeat got X-Cache %q, want HIT", shared, h.name, got)
			}
			reqs := up.Requests()
			if len(reqs) != 2 || reqs[0].Header.Get(h.name) != h.a || reqs[1].Header.Get(h.name) != h.b {
				t.Errorf("shared %v: the upstream got %d requests, want 2 with %s %q then %q", shared, len(reqs), h.name, h.a, h.b)
			}
		}
	}
}
