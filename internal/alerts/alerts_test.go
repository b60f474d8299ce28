package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// hook is an httptest webhook that keeps what it received.
type hook struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []map[string]any
	got    chan struct{}
}

func newHook(t *testing.T) *hook {
	h := &hook{got: make(chan struct{}, 100)}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("webhook got %s %v", r.Method, err)
		}
		h.mu.Lock()
		h.bodies = append(h.bodies, m)
		h.mu.Unlock()
		h.got <- struct{}{}
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hook) take() []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.bodies
	h.bodies = nil
	return out
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock() *clock                   { return &clock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)} }
func rec(provider string, status int) llmbridge.UsageRecord {
	return llmbridge.UsageRecord{Provider: provider, UpstreamModel: "m", Status: status}
}

func mustNew(t *testing.T, cfg Config, o Options) *Alerter {
	t.Helper()
	a, err := New(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestErrorRateFiresOncePerCooldownAndResolves(t *testing.T) {
	jsonHook, slackHook := newHook(t), newHook(t)
	clk := newClock()
	a := mustNew(t, Config{
		Webhooks: []Webhook{{Name: "ops", URL: jsonHook.URL + "/alerts"}, {Name: "chat", URL: slackHook.URL, Format: "slack"}},
		Rules:    []Rule{{Name: "openai-failing", Kind: KindErrorRate, Provider: "openai", Above: "50%", Window: time.Minute, MinRequests: 4, Cooldown: 10 * time.Minute}},
	}, Options{Now: clk.Now})
	ctx := context.Background()
	fail := func(n int) {
		for range n {
			a.End(rec("openai", 503))
		}
	}

	a.End(rec("openai", 200))
	fail(2)
	a.Evaluate(ctx) // 3 requests: fewer than min_requests
	if got := jsonHook.take(); len(got) != 0 {
		t.Fatalf("fired below min_requests: %v", got)
	}
	fail(1)
	a.End(rec("gemini", 503)) // another provider: not this rule's
	a.Evaluate(ctx)           // 3 of 4 failed: 75% > 50%
	got := jsonHook.take()
	if len(got) != 1 || got[0]["status"] != "firing" || got[0]["alert"] != "openai-failing" || got[0]["instance"] != "openai" ||
		got[0]["value"] != "75%" || got[0]["threshold"] != "50%" {
		t.Fatalf("first evaluation sent %v", got)
	}
	if s := slackHook.take(); len(s) != 1 || s[0]["text"] != "[FIRING] openai-failing: provider openai: 75% of requests failed over 1m0s (3 of 4)" || len(s[0]) != 1 {
		t.Fatalf("slack got %v", s)
	}

	// Still failing for the next 9 minutes: no message within the cooldown.
	for range 18 {
		clk.advance(30 * time.Second)
		fail(4)
		a.Evaluate(ctx)
	}
	if got := jsonHook.take(); len(got) != 0 {
		t.Fatalf("sent within the cooldown: %v", got)
	}
	// Past the cooldown and still failing: one reminder.
	clk.advance(time.Minute)
	fail(4)
	a.Evaluate(ctx)
	a.Evaluate(ctx)
	if got := jsonHook.take(); len(got) != 1 || got[0]["status"] != "firing" {
		t.Fatalf("after the cooldown: %v", got)
	}
	// The provider recovers: the failures leave the window.
	clk.advance(2 * time.Minute)
	for range 10 {
		a.End(rec("openai", 200))
	}
	a.Evaluate(ctx)
	a.Evaluate(ctx)
	got = jsonHook.take()
	if len(got) != 1 || got[0]["status"] != "resolved" || got[0]["value"] != "0%" {
		t.Fatalf("recovery sent %v", got)
	}
	if s := slackHook.take(); len(s) != 2 || !strings.HasPrefix(s[1]["text"].(string), "[RESOLVED] openai-failing") {
		t.Fatalf("slack got %v", s)
	}
}

func TestClientErrorsAndCancelsAreNotFailures(t *testing.T) {
	h := newHook(t)
	a := mustNew(t, Config{Webhooks: []Webhook{{Name: "h", URL: h.URL}},
		Rules: []Rule{{Name: "r", Kind: KindErrorRate, Above: "10%", MinRequests: 1}}}, Options{})
	a.End(rec("openai", 400))
	a.End(rec("openai", 499))
	a.End(llmbridge.UsageRecord{Status: 404}) // never routed
	a.Evaluate(context.Background())
	if got := h.take(); len(got) != 0 {
		t.Fatalf("fired on client errors: %v", got)
	}
	a.End(llmbridge.UsageRecord{Provider: "openai", Status: 200, Error: "cut", TTFT: time.Second}) // a cut stream is a failure
	a.Evaluate(context.Background())
	if got := h.take(); len(got) != 1 || got[0]["value"] != "50%" {
		t.Fatalf("cut stream: %v", got)
	}
}

// TestUnauthenticatedAreNeitherTrafficNorFailures: requests refused
// before their caller was known (401 wrong key, 429 throttled source)
// count neither towards min_requests nor as failures, even if a record
// named a provider: anyone can send them.
func TestUnauthenticatedAreNeitherTrafficNorFailures(t *testing.T) {
	h := newHook(t)
	a := mustNew(t, Config{Webhooks: []Webhook{{Name: "h", URL: h.URL}},
		Rules: []Rule{{Name: "r", Kind: KindErrorRate, Above: "40%", MinRequests: 2}}}, Options{})
	a.End(rec("openai", 503))
	for range 50 {
		a.End(llmbridge.UsageRecord{Format: "chat", Status: 401, ErrorCode: "invalid_api_key", Unauthenticated: true})
		a.End(llmbridge.UsageRecord{Provider: "openai", Format: "chat", Status: 429, Unauthenticated: true})
	}
	a.Evaluate(context.Background())
	if got := h.take(); len(got) != 0 {
		t.Fatalf("refused requests counted: %v", got)
	}
	a.End(rec("openai", 200))
	a.Evaluate(context.Background())
	if got := h.take(); len(got) != 1 || got[0]["value"] != "50%" || !strings.Contains(got[0]["message"].(string), "(1 of 2)") {
		t.Fatalf("after one more served request: %v", got)
	}
}

func TestTTFTP95(t *testing.T) {
	h := newHook(t)
	a := mustNew(t, Config{Webhooks: []Webhook{{Name: "h", URL: h.URL}},
		Rules: []Rule{{Name: "slow", Kind: KindTTFTP95, Above: "2s", MinRequests: 20}}}, Options{})
	stream := func(ttft time.Duration) {
		a.End(llmbridge.UsageRecord{Provider: "gemini", Stream: true, Status: 200, TTFT: ttft})
	}
	for range 19 {
		stream(500 * time.Millisecond)
	}
	stream(30 * time.Second) // 1 slow in 20: the p95 is still fast
	a.Evaluate(context.Background())
	if got := h.take(); len(got) != 0 {
		t.Fatalf("fired with a fast p95: %v", got)
	}
	for range 10 {
		stream(3 * time.Second)
	}
	a.Evaluate(context.Background())
	got := h.take()
	if len(got) != 1 || got[0]["instance"] != "gemini" {
		t.Fatalf("slow p95: %v", got)
	}
	// 3s lies in a bin whose bound is within 5% above it.
	if v, err := time.ParseDuration(got[0]["value"].(string)); err != nil || v < 3*time.Second || v > 3150*time.Millisecond {
		t.Errorf("p95 %s, want about 3s", v)
	}
}

func TestRequestLogDrops(t *testing.T) {
	h := newHook(t)
	clk := newClock()
	var dropped int64
	a := mustNew(t, Config{Webhooks: []Webhook{{Name: "h", URL: h.URL}},
		Rules: []Rule{{Name: "drops", Kind: KindRequestLogDrops, Above: "0", Window: 5 * time.Minute, Cooldown: 10 * time.Minute}}},
		Options{Now: clk.Now, RequestLogDropped: func() int64 { return dropped }})
	ctx := context.Background()
	dropped = 40 // dropped before: the first sample is the baseline
	a.Evaluate(ctx)
	if got := h.take(); len(got) != 0 {
		t.Fatalf("fired on the baseline: %v", got)
	}
	clk.advance(30 * time.Second)
	dropped = 43
	a.Evaluate(ctx)
	if got := h.take(); len(got) != 1 || got[0]["value"] != "3" {
		t.Fatalf("drops: %v", got)
	}
	for range 11 { // no new drops for 5.5 minutes
		clk.advance(30 * time.Second)
		a.Evaluate(ctx)
	}
	if got := h.take(); len(got) != 1 || got[0]["status"] != "resolved" {
		t.Fatalf("after the window: %v", got)
	}
}

func TestBudgetAndEjectedHooks(t *testing.T) {
	h := newHook(t)
	budgets := []Budget{{KeyID: "key-aaaa0000", Name: "team-a", SpentUSD: 85, LimitUSD: 100}, {KeyID: "key-bbbb0000", SpentUSD: 10, LimitUSD: 100}}
	ejected := []string{"openai/gpt-4o"}
	var mu sync.Mutex
	a := mustNew(t, Config{Webhooks: []Webhook{{Name: "h", URL: h.URL}}, Rules: []Rule{
		{Name: "budget-80", Kind: KindKeyBudget, Above: "80%"},
		{Name: "budget-100", Kind: KindKeyBudget, Above: "100%"},
		{Name: "ejected", Kind: KindTargetEjected},
	}}, Options{
		Budgets: func() []Budget { mu.Lock(); defer mu.Unlock(); return budgets },
		Ejected: func() []string { mu.Lock(); defer mu.Unlock(); return ejected },
	})
	a.Evaluate(context.Background())
	got := h.take()
	if len(got) != 2 || got[0]["alert"] != "budget-80" || got[0]["instance"] != "key-aaaa0000" ||
		!strings.Contains(got[0]["message"].(string), "team-a (key-aaaa0000) has spent 85% of its budget") ||
		got[1]["alert"] != "ejected" || got[1]["instance"] != "openai/gpt-4o" {
		t.Fatalf("got %v", got)
	}
	mu.Lock()
	budgets[0].SpentUSD, ejected = 100, nil
	mu.Unlock()
	a.Evaluate(context.Background())
	got = h.take()
	if len(got) != 2 || got[0]["alert"] != "budget-100" || got[1]["alert"] != "ejected" || got[1]["status"] != "resolved" {
		t.Fatalf("got %v", got)
	}
}

func TestWithoutSourcesHooksNeverFire(t *testing.T) {
	h := newHook(t)
	a := mustNew(t, Config{Webhooks: []Webhook{{Name: "h", URL: h.URL}}, Rules: []Rule{
		{Name: "b", Kind: KindKeyBudget, Above: "80%"}, {Name: "e", Kind: KindTargetEjected}, {Name: "d", Kind: KindRequestLogDrops}}}, Options{})
	a.Evaluate(context.Background())
	if got := h.take(); len(got) != 0 {
		t.Fatalf("got %v", got)
	}
}

func TestLoopEvaluatesEveryInterval(t *testing.T) {
	h := newHook(t)
	a := mustNew(t, Config{Webhooks: []Webhook{{Name: "h", URL: h.URL}},
		Rules: []Rule{{Name: "r", Kind: KindErrorRate, Above: "0%", MinRequests: 1}}}, Options{Interval: 10 * time.Millisecond})
	a.End(rec("openai", 502))
	a.Start()
	defer a.Close()
	select {
	case <-h.got:
	case <-time.After(5 * time.Second):
		t.Fatal("the loop sent nothing")
	}
	a.Close()
	a.Close() // twice is fine
}

func TestWebhookFailureIsLoggedWithoutTheURL(t *testing.T) {
	var logs bytes.Buffer
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) }))
	defer bad.Close()
	const secret = "/services/T000/B000/XXXXsecretXXXX"
	a := mustNew(t, Config{Webhooks: []Webhook{{Name: "slack", URL: bad.URL + secret, Format: "slack"}, {Name: "gone", URL: "http://127.0.0.2:1" + secret}},
		Rules: []Rule{{Name: "r", Kind: KindErrorRate, Above: "0%", MinRequests: 1}}},
		Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	a.End(rec("openai", 502))
	a.Evaluate(context.Background())
	out := logs.String()
	if strings.Count(out, "alert webhook failed") != 2 || !strings.Contains(out, "answered HTTP 500") {
		t.Errorf("log:\n%s", out)
	}
	if strings.Contains(out, "secret") {
		t.Errorf("the webhook URL leaked into the log:\n%s", out)
	}
}

func TestConfigFromYAMLAndValidation(t *testing.T) {
	const good = `
interval: 15s
webhooks:
  - {name: ops, url: "https://hooks.example.com/T0/B0/secret", format: slack}
rules:
  - {name: openai-failing, kind: error_rate, provider: openai, above: 5%, window: 10m}
  - {name: slow, kind: ttft_p95, above: 8s}
  - {name: drops, kind: request_log_drops}
  - {name: budget, kind: key_budget, above: 80%, webhooks: [ops]}
  - {name: ejected, kind: target_ejected}
`
	var c Config
	if err := yaml.Unmarshal([]byte(good), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	cc, _ := c.compile()
	if cc.Interval != 15*time.Second || cc.Rules[0].Window != 10*time.Minute || cc.Rules[0].threshold != 5 ||
		cc.Rules[1].threshold != 8 || cc.Rules[1].Window != 5*time.Minute || cc.Rules[2].MinRequests != 10 || cc.Rules[3].Cooldown != time.Hour {
		t.Errorf("compiled %+v", cc)
	}

	bad := Config{
		Webhooks: []Webhook{{Name: "a", URL: "ftp://secret-host/x"}, {Name: "a", URL: "https://h/x", Format: "teams"}},
		Rules: []Rule{
			{Name: "x", Kind: "cpu"},
			{Name: "x", Kind: KindErrorRate, Above: "lots"},
			{Name: "t", Kind: KindTTFTP95, Above: "5"},
			{Name: "w", Kind: KindTargetEjected, Webhooks: []string{"nobody"}},
			{Kind: KindKeyBudget, Above: "0%"},
		},
	}
	err := bad.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"url must be an http", "name is used twice", `format "teams"`, `kind "cpu"`, `above "lots"`,
		`above "5": want a duration`, `no webhook named "nobody"`, "needs a name", "needs a percentage above 0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "secret-host") {
		t.Errorf("a webhook URL appears in the error: %v", err)
	}
	if err := (&Config{Rules: []Rule{{Name: "r", Kind: KindTargetEjected}}}).Validate(); err == nil || !strings.Contains(err.Error(), "at least one webhook") {
		t.Errorf("rules without webhooks: %v", err)
	}
}

func TestConfigureKeepsWindowsAndForgetsRemovedRules(t *testing.T) {
	h := newHook(t)
	cfg := Config{Webhooks: []Webhook{{Name: "h", URL: h.URL}}, Rules: []Rule{{Name: "r", Kind: KindErrorRate, Above: "10%", MinRequests: 1}}}
	a := mustNew(t, cfg, Options{})
	a.End(rec("openai", 502))
	a.Evaluate(context.Background())
	if len(h.take()) != 1 {
		t.Fatal("did not fire")
	}
	cfg.Rules = []Rule{{Name: "r2", Kind: KindErrorRate, Above: "10%", MinRequests: 1}}
	if err := a.Configure(cfg); err != nil {
		t.Fatal(err)
	}
	a.Evaluate(context.Background()) // the new rule sees the kept window
	got := h.take()
	if len(got) != 1 || got[0]["alert"] != "r2" {
		t.Fatalf("got %v", got)
	}
	if err := a.Configure(Config{Rules: []Rule{{Name: "x", Kind: "nope"}}}); err == nil {
		t.Error("a bad configuration was accepted")
	}
}

// FuzzRuleThreshold: any "above" either is refused or parses to a
// usable, non-negative threshold.
func FuzzRuleThreshold(f *testing.F) {
	for _, s := range []string{"5%", "80", "10s", "0", "", "-1%", "1e400", "NaN", "1h2m", " 7 % "} {
		for _, k := range []string{KindErrorRate, KindTTFTP95, KindRequestLogDrops, KindKeyBudget, KindTargetEjected, "x"} {
			f.Add(k, s)
		}
	}
	f.Fuzz(func(t *testing.T, kind, above string) {
		r := Rule{Name: "r", Kind: kind, Above: above}
		if err := r.parseThreshold(); err != nil {
			return
		}
		if r.threshold < 0 || r.threshold != r.threshold {
			t.Fatalf("kind %q above %q: threshold %v", kind, above, r.threshold)
		}
	})
}
