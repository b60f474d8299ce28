package llmbridge

import (
	"bufio"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge/internal/health"
	"github.com/llmbridge/llmbridge/internal/testupstream"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// routed builds a Bridge over two fake OpenAI upstreams, "a" and "b", and
// the given routes, on a fake clock.
func routed(t testing.TB, opts ...Option) (*Bridge, *testupstream.Server, *testupstream.Server, *fakeClock) {
	t.Helper()
	a := testupstream.New(t, testupstream.OpenAI)
	bu := testupstream.New(t, testupstream.OpenAI)
	base := []Option{
		WithProvider(OpenAICompatible(ProviderConfig{Name: "a", BaseURL: a.BaseURL(), APIKey: a.Key, Models: []string{"m"}})),
		WithProvider(OpenAICompatible(ProviderConfig{Name: "b", BaseURL: bu.BaseURL(), APIKey: bu.Key, Models: []string{"m"}})),
		WithRetry(RetryPolicy{Max: 0}),
	}
	b, err := New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	clk := &fakeClock{now: time.Unix(1_800_000_000, 0)}
	b.clock = clk
	return b, a, bu, clk
}

func (f *fakeClock) advance(d time.Duration) { f.mu.Lock(); f.now = f.now.Add(d); f.mu.Unlock() }

var smart = Route{Name: "smart", Strategy: StrategyOrdered, Targets: []RouteTarget{{Model: "a/m"}}, Fallbacks: []string{"b/m"}}

func streamBody(model string) string {
	return `{"model":"` + model + `","stream":true,"messages":[{"role":"user","content":"hi"}]}`
}

// sseData returns the data lines of an SSE body.
func sseData(t testing.TB, body string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			out = append(out, d)
		}
	}
	return out
}

func TestRouteFailsOverAndNamesTheTarget(t *testing.T) {
	var recs []UsageRecord
	var mu sync.Mutex
	b, a, bu, _ := routed(t, WithRoute(smart), WithUsageSink(func(r UsageRecord) { mu.Lock(); recs = append(recs, r); mu.Unlock() }))
	a.Enqueue(testupstream.Reply{Status: 503})
	rec := post(b, `{"model":"smart","messages":[{"role":"user","content":"hi"}]}`)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "Hello world") {
		t.Fatalf("status %d body %s", rec.Code, rec.Body)
	}
	if got := rec.Header().Get("X-LLMBridge-Target"); got != "b/m; key="+KeyID(bu.Key) {
		t.Errorf("X-LLMBridge-Target %q", got)
	}
	if len(a.Requests()) != 1 || len(bu.Requests()) != 1 {
		t.Errorf("requests a %d b %d", len(a.Requests()), len(bu.Requests()))
	}
	mu.Lock()
	defer mu.Unlock()
	if r := recs[0]; r.Route != "smart" || r.Provider != "b" || r.UpstreamModel != "m" || r.ProviderKey != KeyID(bu.Key) || r.Retries != 1 {
		t.Errorf("record %+v", r)
	}
}

func TestRouteClientErrorsDoNotFailOver(t *testing.T) {
	for _, status := range []int{400, 404, 413, 422} {
		b, a, bu, _ := routed(t, WithRoute(smart))
		a.Enqueue(testupstream.Reply{Status: status})
		if rec := post(b, `{"model":"smart","messages":[{"role":"user","content":"hi"}]}`); rec.Code != status {
			t.Errorf("%d: got %d", status, rec.Code)
		}
		if len(bu.Requests()) != 0 {
			t.Errorf("%d: the fallback was called", status)
		}
	}
}

func TestRouteRetryOnLimitsFailover(t *testing.T) {
	r := smart
	r.RetryOn = []string{"connect"}
	b, a, bu, _ := routed(t, WithRoute(r))
	a.Enqueue(testupstream.Reply{Status: 503})
	if rec := post(b, `{"model":"smart","messages":[{"role":"user","content":"hi"}]}`); rec.Code != 503 || len(bu.Requests()) != 0 {
		t.Errorf("got %d, fallback requests %d: 5xx is not in retry_on", rec.Code, len(bu.Requests()))
	}
}

// TestRandomFaultPointsNeverDuplicate runs 1,000 streams whose first target
// fails at a random point: before headers (5xx, 429, connection refused
// stand-in) or after k events. Each client sees exactly one coherent
// stream; the fallback is called exactly when nothing was committed.
func TestRandomFaultPointsNeverDuplicate(t *testing.T) {
	b, a, bu, _ := routed(t, WithRoute(smart), WithBreaker(BreakerPolicy{Failures: 1 << 30}))
	words := []string{"w0", "w1", "w2", "w3", "w4", "w5"}
	a.SetDefault(testupstream.Reply{Content: words, Usage: testupstream.Usage{Prompt: 1, Completion: 6}})
	bu.SetDefault(testupstream.Reply{Content: []string{"fallback"}, Usage: testupstream.Usage{Prompt: 1, Completion: 1}})
	rng := rand.New(rand.NewPCG(1, 2))
	for run := range 1000 {
		point := rng.IntN(len(words) + 3) // 0..2: before headers; else cut after point-2 events
		var rep testupstream.Reply
		switch point {
		case 0:
			rep = testupstream.Reply{Status: 503}
		case 1:
			rep = testupstream.Reply{Status: 429}
		case 2:
			rep = testupstream.Reply{Status: 502}
		default:
			rep = testupstream.Reply{Content: words, CutAfter: point - 2}
		}
		a.Enqueue(rep)
		before := len(bu.Requests())
		rec := post(b, streamBody("smart"))
		data := sseData(t, rec.Body.String())
		fallbackCalls := len(bu.Requests()) - before
		var text strings.Builder
		errs, done := 0, 0
		for _, d := range data {
			if d == "[DONE]" {
				done++
				continue
			}
			var ch struct {
				Error   any `json:"error"`
				Choices []struct {
					Delta struct{ Content string } `json:"delta"`
				} `json:"choices"`
			}
			if err := json.Unmarshal([]byte(d), &ch); err != nil {
				t.Fatalf("run %d: bad event %q", run, d)
			}
			if ch.Error != nil {
				errs++
			}
			for _, c := range ch.Choices {
				text.WriteString(c.Delta.Content)
			}
		}
		if point < 3 {
			if fallbackCalls != 1 || text.String() != "fallback" || done != 1 || errs != 0 {
				t.Fatalf("run %d (fault before headers): fallback calls %d, text %q, [DONE] %d, errors %d", run, fallbackCalls, text.String(), done, errs)
			}
			continue
		}
		// Cut after k events: the events that were sent, once, then one error.
		want := strings.Join(words[:point-2], "")
		// The role chunk may be the first event; the text is a prefix either way.
		if fallbackCalls != 0 || done != 0 || errs != 1 || !strings.HasPrefix(strings.Join(words, ""), text.String()) || len(text.String()) > len(want) {
			t.Fatalf("run %d (cut after %d): fallback calls %d, text %q (want a prefix of %q), [DONE] %d, errors %d", run, point-2, fallbackCalls, text.String(), want, done, errs)
		}
	}
}

// TestOutageEjectsProbesAndRecovers: the first target fails every request
// for 10 s at 100 requests/s (fake clock); it is ejected after 5
// failures, probed when each ejection ends, and closed again once it heals.
func TestOutageEjectsProbesAndRecovers(t *testing.T) {
	b, a, bu, clk := routed(t, WithRoute(smart), WithBreaker(BreakerPolicy{BaseEjection: time.Second, MaxEjection: 4 * time.Second}))
	a.SetDefault(testupstream.Reply{Status: 503})
	const n = 1000
	for i := range n {
		if rec := post(b, `{"model":"smart","messages":[{"role":"user","content":"hi"}]}`); rec.Code != 200 {
			t.Fatalf("request %d: %d %s", i, rec.Code, rec.Body)
		}
		if i == 4 {
			if h := healthOf(b, "a"); h.State != StateOpen || h.Ejections != 1 {
				t.Fatalf("after 5 failures: %+v", h)
			}
		}
		clk.advance(10 * time.Millisecond)
	}
	attempts := len(a.Requests()) + len(bu.Requests())
	if ratio := float64(attempts) / n; ratio > 1.2 {
		t.Errorf("%d attempts for %d requests (%.2f)", attempts, n, ratio)
	}
	// Ejections 1 s, 2 s, 3 s, 4 s, 4 s: a probe after each.
	h := healthOf(b, "a")
	if h.Ejections < 4 || h.State != StateOpen || len(a.Requests()) != 5+h.Ejections-1 {
		t.Errorf("health %+v, requests to a %d", h, len(a.Requests()))
	}
	a.SetDefault(testupstream.Reply{Content: []string{"back"}})
	clk.advance(5 * time.Second)
	rec := post(b, `{"model":"smart","messages":[{"role":"user","content":"hi"}]}`)
	if !strings.Contains(rec.Body.String(), "back") || healthOf(b, "a").State != StateClosed {
		t.Errorf("after healing: %s, %+v", rec.Body, healthOf(b, "a"))
	}
}

func healthOf(b *Bridge, provider string) TargetHealth {
	for _, h := range b.Health() {
		if h.Provider == provider {
			return h
		}
	}
	return TargetHealth{}
}

func TestEveryTargetEjectedAnswers503AtOnce(t *testing.T) {
	b, a, bu, _ := routed(t, WithRoute(smart), WithBreaker(BreakerPolicy{Failures: 1}))
	a.SetDefault(testupstream.Reply{Status: 500})
	bu.SetDefault(testupstream.Reply{Status: 500})
	post(b, `{"model":"smart","messages":[{"role":"user","content":"hi"}]}`)
	before := len(a.Requests()) + len(bu.Requests())
	rec := post(b, `{"model":"smart","messages":[{"role":"user","content":"hi"}]}`)
	if rec.Code != 503 || rec.Header().Get("Retry-After") != "30" || !strings.Contains(rec.Body.String(), "targets_unavailable") {
		t.Errorf("got %d Retry-After %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	if after := len(a.Requests()) + len(bu.Requests()); after != before {
		t.Errorf("%d upstream attempts while every target was ejected", after-before)
	}
}

func TestKeysSpreadRefusedAndCooling(t *testing.T) {
	up := testupstream.New(t, testupstream.OpenAI)
	keys := []string{"sk-one-0000000000", "sk-two-0000000000", "sk-three-00000000"}
	up.AcceptKeys(keys...)
	b, err := New(WithProvider(OpenAICompatible(ProviderConfig{Name: "x", BaseURL: up.BaseURL(), APIKeys: keys, Models: []string{"m"}})), WithRetry(RetryPolicy{Max: 0}))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	clk := &fakeClock{now: time.Unix(1_800_000_000, 0)}
	b.clock = clk
	for range 30 {
		post(b, `{"model":"x/m","messages":[{"role":"user","content":"hi"}]}`)
	}
	for _, k := range keys {
		if n := up.RequestsFor(k); n != 10 {
			t.Errorf("key %s: %d of 30 requests", KeyID(k), n)
		}
	}
	up.SetDefaultFor(keys[0], testupstream.Reply{Status: 401})
	up.EnqueueFor(keys[1], testupstream.Reply{Status: 429, RetryAfter: "30"})
	for i := range 30 {
		if rec := post(b, `{"model":"x/m","messages":[{"role":"user","content":"hi"}]}`); rec.Code != 200 {
			t.Fatalf("request %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	if n := up.RequestsFor(keys[0]); n != 11 {
		t.Errorf("the refused key was asked %d times in all, want 10+1", n)
	}
	if n := up.RequestsFor(keys[1]); n != 11 {
		t.Errorf("the cooling key was asked %d times, want 10+1 within its 30 s", n)
	}
	hs := b.Health()
	states := map[string]string{}
	for _, h := range hs {
		states[h.Key] = h.KeyState
		if strings.Contains(h.LastError, "sk-") {
			t.Errorf("a key in the health report: %q", h.LastError)
		}
	}
	if states[KeyID(keys[0])] != "refused" || states[KeyID(keys[1])] != "cooling" || states[KeyID(keys[2])] != "ok" {
		t.Errorf("key states %v", states)
	}
	clk.advance(31 * time.Second)
	for range 4 {
		post(b, `{"model":"x/m","messages":[{"role":"user","content":"hi"}]}`)
	}
	if n := up.RequestsFor(keys[1]); n == 11 {
		t.Errorf("the rested key got no request after its cooldown")
	}
}

func TestWeightedSpread(t *testing.T) {
	r := Route{Name: "w", Targets: []RouteTarget{{Model: "a/m", Weight: 3}, {Model: "b/m", Weight: 1}}}
	b, _, _, _ := routed(t, WithRoute(r))
	first := map[string]int{}
	const n = 10_000
	req := &Request{Model: "w"}
	for range n {
		ts, err := b.router.Route(context.Background(), req)
		if err != nil || len(ts) != 2 || ts[0].Provider == ts[1].Provider {
			t.Fatalf("%v %v", ts, err)
		}
		first[ts[0].Provider]++
	}
	if got := float64(first["a"]) / n; math.Abs(got-0.75) > 0.05*0.75 {
		t.Errorf("a first in %.3f of picks, want 0.75 ± 5%%", got)
	}
}

func TestLeastBusyPrefersTheIdleTarget(t *testing.T) {
	r := Route{Name: "lb", Strategy: StrategyLeastBusy, Targets: []RouteTarget{{Model: "a/m"}, {Model: "b/m"}}}
	b, _, _, _ := routed(t, WithRoute(r))
	ua := b.byName["a"]
	h := b.health.Get(ua.keys[0].Key, "m")
	h.Acquire()
	h.Acquire()
	for range 100 {
		ts, _ := b.router.Route(context.Background(), &Request{Model: "lb"})
		if ts[0].Provider != "b" {
			t.Fatalf("busy a first: %v", ts)
		}
	}
}

// The public circuit state names are the engine's (Health converts the
// engine's Status to TargetHealth field by field).
func TestBreakerStatesAreTheEngines(t *testing.T) {
	if StateClosed != health.Closed || StateOpen != health.Open || StateHalfOpen != health.HalfOpen {
		t.Errorf("states %q %q %q, engine's %q %q %q", StateClosed, StateOpen, StateHalfOpen, health.Closed, health.Open, health.HalfOpen)
	}
}

func TestRoutesInModelsAndBadRoutesFailNew(t *testing.T) {
	b, _, _, _ := routed(t, WithRoute(smart), WithRoute(Route{Name: "a/m", Fallbacks: []string{"b/m"}}))
	rec := httptest.NewRecorder()
	b.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/models", nil))
	if !strings.Contains(rec.Body.String(), `{"id":"smart","object":"model","created":`) || !strings.Contains(rec.Body.String(), `"owned_by":"llmbridge"`) {
		t.Errorf("models %s", rec.Body)
	}
	a := testupstream.New(t, testupstream.OpenAI)
	_, err := New(WithProvider(OpenAICompatible(ProviderConfig{Name: "a", BaseURL: a.BaseURL(), APIKey: a.Key})),
		WithProvider(OpenAI(ProviderConfig{APIKeys: []string{"k1", ""}})),
		WithRoute(Route{Name: "r1", Strategy: "random", Targets: []RouteTarget{{Model: "nope/m"}, {Model: "a/m", Weight: -1}}, RetryOn: []string{"4xx"}}),
		WithRoute(Route{Name: "r2", Targets: []RouteTarget{{Model: "a/m"}}, Fallbacks: []string{"r3"}}),
		WithRoute(Route{Name: "r3", Targets: []RouteTarget{{Model: "a/m"}}, Fallbacks: []string{"r2", "ghost"}}),
		WithRoute(Route{Name: "a/x", Targets: []RouteTarget{{Model: "a/m"}}}))
	if err == nil {
		t.Fatal("New accepted bad routes")
	}
	for _, want := range []string{`strategy "random"`, `"nope/m"`, "weight -1", `retry_on "4xx"`, `route "r2": its fallbacks lead back`, `fallback "ghost"`, "shadows the provider model a/x", "key 2 of the list is empty"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// TestSDKSeesOneAnswerInEveryFailoverCase points openai-go at the handler
// while the first target fails in each way failover handles.
func TestSDKSeesOneAnswerInEveryFailoverCase(t *testing.T) {
	cases := map[string]testupstream.Reply{
		"503":             {Status: 503},
		"429 Retry-After": {Status: 429, RetryAfter: "30"},
		"529":             {Status: 529},
		"stall":           {StallHeaders: true},
	}
	for name, fault := range cases {
		t.Run(name, func(t *testing.T) {
			b, a, _, _ := routed(t, WithRoute(smart), WithTimeouts(Timeouts{Header: 200 * time.Millisecond, NonStream: 200 * time.Millisecond}))
			b.clock = realClock{}
			srv := httptest.NewServer(b)
			defer srv.Close()
			cl := openai.NewClient(option.WithBaseURL(srv.URL+"/v1"), option.WithAPIKey("x"), option.WithMaxRetries(0))
			for _, stream := range []bool{false, true} {
				a.Enqueue(fault)
				params := openai.ChatCompletionNewParams{Model: "smart", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
				var got string
				if stream {
					s := cl.Chat.Completions.NewStreaming(context.Background(), params)
					for s.Next() {
						if c := s.Current(); len(c.Choices) > 0 {
							got += c.Choices[0].Delta.Content
						}
					}
					if err := s.Err(); err != nil {
						t.Fatalf("stream: %v", err)
					}
				} else {
					resp, err := cl.Chat.Completions.New(context.Background(), params)
					if err != nil {
						t.Fatal(err)
					}
					got = resp.Choices[0].Message.Content
				}
				if got != "Hello world" {
					t.Errorf("stream %v: %q", stream, got)
				}
			}
		})
	}
	// The "connection refused" case: a provider whose server is gone.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	bu := testupstream.New(t, testupstream.OpenAI)
	b, err := New(WithProvider(OpenAICompatible(ProviderConfig{Name: "a", BaseURL: dead.URL + "/v1", APIKey: "sk-a"})),
		WithProvider(OpenAICompatible(ProviderConfig{Name: "b", BaseURL: bu.BaseURL(), APIKey: bu.Key})), WithRoute(smart))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	defer srv.Close()
	cl := openai.NewClient(option.WithBaseURL(srv.URL+"/v1"), option.WithAPIKey("x"), option.WithMaxRetries(0))
	resp, err := cl.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "smart", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	if err != nil || resp.Choices[0].Message.Content != "Hello world" {
		t.Fatalf("connection refused: %v", err)
	}
}

// BenchmarkRouteThreeTargets measures the router stage for a 3-target
// weighted route: the default router, key expansion and breaker checks.
func BenchmarkRouteThreeTargets(b *testing.B) {
	c := testupstream.New(b, testupstream.OpenAI)
	br, a, bu, _ := routed(b, WithProvider(OpenAICompatible(ProviderConfig{Name: "c", BaseURL: c.BaseURL(), APIKey: c.Key})),
		WithRoute(Route{Name: "three", Targets: []RouteTarget{{Model: "a/m", Weight: 3}, {Model: "b/m"}, {Model: "c/m"}}}))
	_, _ = a, bu
	cl := br.newCall(context.Background(), chatFormat{}, "r", envelope{model: "three"})
	cl.begin()
	b.ReportAllocs()
	for b.Loop() {
		if ts, e := cl.route(); e != nil || len(ts) != 3 {
			b.Fatal(e)
		}
	}
}

// Targets resolves a route, a provider model, a bare name and nothing, as
// the default router does.
func TestBridgeTargets(t *testing.T) {
	b, err := New(
		WithProvider(OpenAI(ProviderConfig{BaseURL: "http://127.0.0.1:1", APIKey: "k", Models: []string{"gpt-4o"}})),
		WithProvider(DeepSeek(ProviderConfig{BaseURL: "http://127.0.0.1:1", APIKey: "k2"})),
		WithRoute(Route{Name: "smart", Targets: []RouteTarget{{Model: "openai/gpt-4o"}}, Fallbacks: []string{"deepseek/deepseek-chat"}}),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for model, want := range map[string]string{
		"smart":          "openai/gpt-4o deepseek/deepseek-chat",
		"openai/o3-pro":  "openai/o3-pro",
		"gpt-4o":         "openai/gpt-4o",
		"nowhere/thing":  "",
		"unlisted-model": "",
	} {
		var got []string
		for _, t := range b.Targets(model) {
			got = append(got, t.Provider+"/"+t.Model)
		}
		if strings.Join(got, " ") != want {
			t.Errorf("Targets(%q) = %v, want %q", model, got, want)
		}
	}
}

// A PrefixOnly provider's models are listed but never reached by a bare
// name (issue 24, item 11).
func TestPrefixOnlyProviderHasNoBareNames(t *testing.T) {
	up := testupstream.New(t, testupstream.OpenAI)
	b, err := New(WithProvider(OpenAI(ProviderConfig{Name: "local", BaseURL: up.BaseURL(), APIKey: up.Key, Models: []string{"claude-opus-4-8"}}), PrefixOnly()))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if ts := b.Targets("claude-opus-4-8"); ts != nil {
		t.Errorf("a bare name reached a prefix-only provider: %v", ts)
	}
	if ts := b.Targets("local/claude-opus-4-8"); len(ts) != 1 {
		t.Errorf("the prefixed name: %v", ts)
	}
	found := false
	for _, m := range b.Models() {
		found = found || m.ID == "local/claude-opus-4-8"
	}
	if !found {
		t.Errorf("not listed: %v", b.Models())
	}
}
