package llmbridge_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/requestlog"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// staticUpstream answers every request with fixed bytes at once, so the
// benchmarks measure what sits in front of it.
func staticUpstream(b *testing.B, contentType string, body []byte) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", contentType)
		if contentType == "application/json" {
			_, _ = w.Write(body)
			return
		}
		rc := http.NewResponseController(w)
		// Event by event, flushed, as a real upstream streams.
		for rest := body; len(rest) > 0; {
			i := bytes.Index(rest, []byte("\n\n")) + 2
			_, _ = w.Write(rest[:i])
			_ = rc.Flush()
			rest = rest[i:]
		}
	}))
	b.Cleanup(srv.Close)
	return srv
}

// stream22 is a 22-event OpenAI stream (role, 19 content deltas, finish,
// usage) and [DONE], shaped like the recordings.
func stream22() []byte {
	var buf bytes.Buffer
	head := `{"id":"chatcmpl-Dx0XpqH8w09uBXwq1zFGYdETjtnEl","object":"chat.completion.chunk","created":1782955817,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_d0469e1700","choices":`
	fmt.Fprintf(&buf, "data: %s[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null,\"obfuscation\":\"C63r\"}\n\n", head)
	for i := range 19 {
		fmt.Fprintf(&buf, "data: %s[{\"index\":0,\"delta\":{\"content\":\" word%d\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null,\"obfuscation\":\"qfQVOwfh\"}\n\n", head, i)
	}
	fmt.Fprintf(&buf, "data: %s[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null,\"obfuscation\":\"VskH\"}\n\n", head)
	fmt.Fprintf(&buf, "data: %s[],\"usage\":{\"prompt_tokens\":53,\"completion_tokens\":19,\"total_tokens\":72}}\n\n", head)
	buf.WriteString("data: [DONE]\n\n")
	return buf.Bytes()
}

// nonStreamBody is a recorded OpenAI chat.completion.
const nonStreamBody = `{"id":"chatcmpl-BExZy74Y67dd65ec2z4iuzM0Exnks","object":"chat.completion","created":1742905314,"model":"gpt-4o-mini","service_tier":"default","system_fingerprint":"fp_bf4a46b2e5","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"The name mentioned in the audio is Marcelo.","refusal":null,"annotations":[]}}],"usage":{"prompt_tokens":64,"completion_tokens":9,"total_tokens":73}}`

const benchRequest = `{"model":"openai/gpt-4o-mini","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Write twenty words."}],"stream":true,"stream_options":{"include_usage":true}}`

// front returns the bridge and a plain ReverseProxy, each serving over
// loopback in front of upstream.
func front(b *testing.B, upstream *httptest.Server, opts ...llmbridge.Option) (bridge, proxy *httptest.Server) {
	br, err := llmbridge.New(append([]llmbridge.Option{llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: upstream.URL + "/v1", APIKey: "sk-x"})), llmbridge.WithAccessKeys("k")}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { br.Close() })
	bridge = httptest.NewServer(br)
	b.Cleanup(bridge.Close)
	target, _ := url.Parse(upstream.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 256}
	proxy = httptest.NewServer(rp)
	b.Cleanup(proxy.Close)
	return bridge, proxy
}

func run(b *testing.B, srv *httptest.Server, body string, wantSuffix string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	defer client.CloseIdleConnections()
	b.ReportAllocs()
	for b.Loop() {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/chat/completions", bytes.NewReader([]byte(body)))
		req.Header.Set("Authorization", "Bearer k")
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || !bytes.HasSuffix(got, []byte(wantSuffix)) {
			b.Fatalf("status %d err %v body %q", resp.StatusCode, err, got)
		}
	}
}

// BenchmarkRelayStream: a 22-event stream end to end, through the bridge and
// through httputil.ReverseProxy (the floor). Their ratio is the overhead.
func BenchmarkRelayStream(b *testing.B) {
	upstream := staticUpstream(b, "text/event-stream; charset=utf-8", stream22())
	bridge, proxy := front(b, upstream)
	logged := withRequestLog(b, upstream)
	b.Run("bridge", func(b *testing.B) { run(b, bridge, benchRequest, "data: [DONE]\n\n") })
	b.Run("bridge+requestlog", func(b *testing.B) { run(b, logged, benchRequest, "data: [DONE]\n\n") })
	b.Run("reverseproxy", func(b *testing.B) { run(b, proxy, benchRequest, "data: [DONE]\n\n") })
}

// withRequestLog is the bridge as the server runs it: usage records written
// to a request log file.
func withRequestLog(b *testing.B, upstream *httptest.Server) *httptest.Server {
	w, err := requestlog.Open(requestlog.Options{Path: filepath.Join(b.TempDir(), "requests.log")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		w.Close()
		if w.Dropped() > 0 {
			b.Errorf("request log dropped %d records", w.Dropped())
		}
	})
	srv, _ := front(b, upstream, llmbridge.WithUsageSink(w.Record))
	return srv
}

// BenchmarkChatNonStream: one non-streamed completion end to end.
func BenchmarkChatNonStream(b *testing.B) {
	resp := []byte(nonStreamBody)
	upstream := staticUpstream(b, "application/json", resp)
	bridge, proxy := front(b, upstream)
	logged := withRequestLog(b, upstream)
	req := `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"Who is mentioned?"}]}`
	b.Run("bridge", func(b *testing.B) { run(b, bridge, req, "}") })
	b.Run("bridge+requestlog", func(b *testing.B) { run(b, logged, req, "}") })
	b.Run("reverseproxy", func(b *testing.B) { run(b, proxy, req, "}") })
}

// BenchmarkFallbackWhileEjected: a request for a route whose first target
// is ejected (its upstream refuses connections) goes straight to the
// fallback, against the same request to the fallback's model directly —
// the latency the outage adds to each request once the breaker is open.
func BenchmarkFallbackWhileEjected(b *testing.B) {
	up := testupstream.New(b, testupstream.OpenAI)
	dead := testupstream.DeadAddr(b)
	br, err := llmbridge.New(
		llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: up.BaseURL(), APIKey: up.Key})),
		llmbridge.WithProvider(llmbridge.OpenAICompatible(llmbridge.ProviderConfig{Name: "dead", BaseURL: "http://" + dead, APIKey: "k"})),
		llmbridge.WithRoute(llmbridge.Route{Name: "smart", Strategy: llmbridge.StrategyOrdered,
			Targets: []llmbridge.RouteTarget{{Model: "dead/m"}}, Fallbacks: []string{"openai/gpt-4o"}}),
		llmbridge.WithRetry(llmbridge.RetryPolicy{Max: 0}))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { br.Close() })
	post := func(model string) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions",
			strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Content-Type", "application/json")
		br.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("%s: %d %s", model, rec.Code, rec.Body)
		}
	}
	for range 10 { // five connection failures eject the first target
		post("smart")
	}
	for _, h := range br.Health() {
		if h.Provider == "dead" && h.State != llmbridge.StateOpen {
			b.Fatalf("the dead target is not ejected: %+v", h)
		}
	}
	for _, model := range []string{"openai/gpt-4o", "smart"} {
		b.Run(strings.ReplaceAll(model, "/", "_"), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				post(model)
			}
		})
	}
}
