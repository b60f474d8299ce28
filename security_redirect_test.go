package llmbridge_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// Canaries of the redirect tests: none may reach the client or the
// redirect's target.
const (
	redirectBodyCanary = "redirect-body-canary-5521"
	redirectKeyOpenAI  = "sk-redirect-key-openai-compatible-0001"
	redirectKeyClaude  = "sk-ant-redirect-key-anthropic-0002"
	redirectKeyGemini  = "AIza-redirect-key-gemini-0003"
)

// redirectCapture is an "internal" server a provider redirects to. It
// records every request it gets and the credential headers they carried.
type redirectCapture struct {
	srv  *httptest.Server
	mu   sync.Mutex
	hits []string // method, path and any credential header of each request
}

func newRedirectCapture(t *testing.T) *redirectCapture {
	c := &redirectCapture{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.hits = append(c.hits, r.Method+" "+r.URL.Path+" authorization="+r.Header.Get("Authorization")+
			" x-api-key="+r.Header.Get("X-Api-Key")+" x-goog-api-key="+r.Header.Get("X-Goog-Api-Key"))
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"internal":"metadata-secret"}`)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *redirectCapture) requests() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.hits...)
}

// redirector answers every request with status and a Location on target,
// counting the requests it gets.
func redirector(t *testing.T, status int, target string) (*httptest.Server, func() int) {
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
		w.Header().Set("Location", target+r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"error":{"message":"`+redirectBodyCanary+`"}}`)
	}))
	t.Cleanup(srv.Close)
	return srv, func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// redirectProviders are the root's constructors, one per way a key
// travels: a bearer token, x-api-key and x-goog-api-key.
var redirectProviders = []struct {
	name, model, key string
	build            func(llmbridge.ProviderConfig) llmbridge.Provider
}{
	{"vendorx", "vendorx/some-model", redirectKeyOpenAI, func(c llmbridge.ProviderConfig) llmbridge.Provider {
		c.Name = "vendorx"
		return llmbridge.OpenAICompatible(c)
	}},
	{"anthropic", "anthropic/claude-sonnet-4-5", redirectKeyClaude, llmbridge.Anthropic},
	{"gemini", "gemini/gemini-2.5-flash", redirectKeyGemini, llmbridge.Gemini},
}

// redirectFormats are the client formats that reach a provider, with a
// body for model m (stream is filled in).
var redirectFormats = []struct {
	name, path string
	body       func(m string, stream bool) string
	noStream   bool
}{
	{"chat", "/v1/chat/completions", func(m string, s bool) string {
		return `{"model":"` + m + `","messages":[{"role":"user","content":"hi"}],"stream":` + redirectJSONBool(s) + `}`
	}, false},
	{"anthropic", "/v1/messages", func(m string, s bool) string {
		return `{"model":"` + m + `","max_tokens":16,"messages":[{"role":"user","content":"hi"}],"stream":` + redirectJSONBool(s) + `}`
	}, false},
	{"responses", "/v1/responses", func(m string, s bool) string {
		return `{"model":"` + m + `","input":"hi","stream":` + redirectJSONBool(s) + `}`
	}, false},
	{"embeddings", "/v1/embeddings", func(m string, _ bool) string {
		return `{"model":"` + m + `","input":"hi"}`
	}, true},
}

func redirectJSONBool(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// TestRedirectFromProviderIsNotFollowed: a provider answering 302 or 307
// with a Location elsewhere (an internal address) gets a 502 naming it;
// the Location is not fetched, no key reaches it, and neither the
// redirect's body nor its Location reaches the client, in every client
// format, streamed or not, for keys in every header.
func TestRedirectFromProviderIsNotFollowed(t *testing.T) {
	internal := newRedirectCapture(t)
	for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect} {
		up, count := redirector(t, status, internal.srv.URL)
		for _, p := range redirectProviders {
			for _, f := range redirectFormats {
				for _, stream := range []bool{false, true} {
					if stream && f.noStream || f.name == "embeddings" && p.name == "anthropic" { // Anthropic has no embeddings
						continue
					}
					name := http.StatusText(status) + "/" + p.name + "/" + f.name
					if stream {
						name += "/stream"
					}
					t.Run(name, func(t *testing.T) {
						// A bridge per case: the breaker would eject the
						// redirecting target after a few cases.
						var logs redirectLogBuffer
						b, err := llmbridge.New(
							llmbridge.WithProvider(p.build(llmbridge.ProviderConfig{BaseURL: up.URL, APIKey: p.key})),
							llmbridge.WithRetry(llmbridge.RetryPolicy{Max: 2}),
							llmbridge.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
						)
						if err != nil {
							t.Fatal(err)
						}
						srv := httptest.NewServer(b)
						defer func() { srv.Close(); b.Close() }()
						before := count()
						resp, err := http.Post(srv.URL+f.path, "application/json", strings.NewReader(f.body(p.model, stream)))
						if err != nil {
							t.Fatal(err)
						}
						body, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						if resp.StatusCode != http.StatusBadGateway {
							t.Fatalf("status %d, want 502: %s", resp.StatusCode, body)
						}
						got := string(body)
						if !strings.Contains(got, "provider "+p.name+" answered with a redirect ("+strconv.Itoa(status)+")") {
							t.Errorf("the error does not name the redirect of %s: %s", p.name, got)
						}
						if f.name != "anthropic" && !strings.Contains(got, `"code":"upstream_redirect"`) { // Anthropic's error shape has no code
							t.Errorf("the error lacks code upstream_redirect: %s", got)
						}
						if !json.Valid(body) {
							t.Errorf("not one JSON error body: %s", got)
						}
						for _, leak := range []string{redirectBodyCanary, strings.TrimPrefix(internal.srv.URL, "http://"), p.key, "metadata-secret"} {
							if strings.Contains(got, leak) || strings.Contains(strings.Join(resp.Header.Values("Location"), " "), leak) {
								t.Errorf("the answer carries %q: %s", leak, got)
							}
							if strings.Contains(logs.String(), leak) {
								t.Errorf("the log carries %q: %s", leak, logs.String())
							}
						}
						if n := count() - before; n != 1 {
							t.Errorf("the provider got %d requests, want 1 (a redirect is not retried on the same target)", n)
						}
					})
				}
			}
		}
	}
	if got := internal.requests(); len(got) > 0 {
		t.Errorf("the redirect's target got %d requests, e.g. %s", len(got), got[0])
	}
}

// redirectLogBuffer is a bytes.Buffer safe for the bridge's concurrent logging.
type redirectLogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *redirectLogBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *redirectLogBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRedirectFailsOverToTheNextTarget: a redirect is the upstream
// misbehaving, like a 502: the request moves on to the route's next
// target (whatever RetryOn says) without trying the redirecting one again.
func TestRedirectFailsOverToTheNextTarget(t *testing.T) {
	internal := newRedirectCapture(t)
	up, count := redirector(t, http.StatusFound, internal.srv.URL)
	good := testupstream.New(t, testupstream.DeepSeek)
	b, err := llmbridge.New(
		llmbridge.WithProvider(llmbridge.OpenAICompatible(llmbridge.ProviderConfig{Name: "vendorx", BaseURL: up.URL, APIKey: redirectKeyOpenAI})),
		llmbridge.WithProvider(llmbridge.DeepSeek(llmbridge.ProviderConfig{BaseURL: good.BaseURL(), APIKey: good.Key})),
		llmbridge.WithRoute(llmbridge.Route{Name: "smart", Strategy: llmbridge.StrategyOrdered, RetryOn: []string{"429"},
			Targets: []llmbridge.RouteTarget{{Model: "vendorx/m"}, {Model: "deepseek/deepseek-chat"}}}),
		llmbridge.WithRetry(llmbridge.RetryPolicy{Max: 2}),
	)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	t.Cleanup(func() { srv.Close(); b.Close() })
	for _, stream := range []bool{false, true} {
		if code, body := chat(t, srv, "smart", stream); code != http.StatusOK || strings.Contains(body, redirectBodyCanary) {
			t.Fatalf("stream %v: %d %s", stream, code, body)
		}
	}
	if n := count(); n != 2 {
		t.Errorf("the redirecting target got %d requests, want 2 (one per request)", n)
	}
	if got := internal.requests(); len(got) > 0 {
		t.Errorf("the redirect's target got %d requests, e.g. %s", len(got), got[0])
	}
}
