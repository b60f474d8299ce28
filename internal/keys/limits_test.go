package keys

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
	"github.com/llmbridge/llmbridge/internal/usage"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// A spent budget refuses the next request with 429 budget_exceeded: the
// default reply (9 prompt + 2 completion tokens of gpt-4o) costs
// $0.0000425, so a $0.00004 budget allows one request.
func TestBudgetRefusesAfterPricedSpend(t *testing.T) {
	s := NewStore(openStore(t, sqlitePath(t)))
	_, daily := create(t, s, Params{Name: ptr("d"), DailyBudgetUSD: ptr(0.00004)})
	_, monthly := create(t, s, Params{Name: ptr("m"), MonthlyBudgetUSD: ptr(0.00008)})
	h := newHarness(t, newAdmitter(t, Options{Store: s}))
	for _, tc := range []struct {
		secret string
		ok     int
	}{{daily, 1}, {monthly, 2}} {
		for i := range tc.ok {
			if rec := h.post(tc.secret, chatBody); rec.Code != 200 {
				t.Fatalf("request %d: %d %s", i, rec.Code, rec.Body)
			}
		}
		rec := h.post(tc.secret, chatBody)
		if rec.Code != 429 || !strings.Contains(rec.Body.String(), `"code":"budget_exceeded"`) || rec.Header().Get("Retry-After") == "" {
			t.Errorf("after the budget: %d %v %s", rec.Code, rec.Header(), rec.Body)
		}
	}
}

// The budget counts what the store already holds for the key today.
func TestBudgetSeededFromStore(t *testing.T) {
	u := openStore(t, sqlitePath(t))
	s := NewStore(u)
	k, secret := create(t, s, Params{Name: ptr("d"), DailyBudgetUSD: ptr(1.0)})
	now := time.Now()
	rec := llmbridge.UsageRecord{ID: llmbridge.NewRecordID(now), Time: now, KeyID: k.ID, Provider: "openai", UpstreamModel: "gpt-4o",
		Status: 200, PromptTokens: 400_000, TotalTokens: 400_000}
	if _, err := u.Insert(context.Background(), []usage.Row{usage.RowOf(rec, usage.DefaultPrices())}); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, newAdmitter(t, Options{Store: s}))
	if rec := h.post(secret, chatBody); rec.Code != 429 || !strings.Contains(rec.Body.String(), "budget_exceeded") {
		t.Errorf("with $1 spent of $1: %d %s", rec.Code, rec.Body)
	}
}

// TPM reserves the prompt estimate up front and corrects it with the real
// usage at Settle.
func TestTPMReservesAndCorrects(t *testing.T) {
	s := NewStore(openStore(t, sqlitePath(t)))
	_, secret := create(t, s, Params{Name: ptr("t"), TPM: ptr[int64](30)})
	h := newHarness(t, newAdmitter(t, Options{Store: s}))
	h.up.SetDefault(testupstream.Reply{Content: []string{"ok"}, Usage: testupstream.Usage{Prompt: 9, Completion: 1}})
	// A body that does not decode is a 400 and costs no tokens: the three
	// requests below still fit.
	if rec := h.post(secret, `{"model":"openai/gpt-4o","messages":"nope"}`); rec.Code != 400 {
		t.Errorf("bad body: %d %s", rec.Code, rec.Body)
	}
	// Each request uses 10 tokens: three fit, the fourth does not.
	for i := range 3 {
		rec := h.post(secret, chatBody)
		if rec.Code != 200 {
			t.Fatalf("request %d: %d %s", i, rec.Code, rec.Body)
		}
		if got, want := rec.Header().Get("X-Ratelimit-Limit-Tokens"), "30"; got != want {
			t.Errorf("limit header %q", got)
		}
	}
	rec := h.post(secret, chatBody)
	if rec.Code != 429 || !strings.Contains(rec.Body.String(), `"type":"tokens"`) || rec.Header().Get("X-Ratelimit-Remaining-Tokens") != "0" {
		t.Errorf("fourth: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	// A prompt over the whole limit is refused before it goes upstream.
	n := len(h.up.Requests())
	big := `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"` + strings.Repeat("word ", 100) + `"}]}`
	if rec := h.post(secret, big); rec.Code != 429 || len(h.up.Requests()) != n {
		t.Errorf("oversized prompt: %d %s", rec.Code, rec.Body)
	}
}

func TestLocalWindowCorrection(t *testing.T) {
	l := newLocal()
	at := time.Unix(1_000_000, 0)
	lim := Limits{TPM: 100, RPM: 3}
	d := l.reserve("k", lim, 80, at)
	if !d.ok || d.remTok != 20 || d.remReq != 2 {
		t.Fatalf("first: %+v", d)
	}
	if d2 := l.reserve("k", lim, 30, at); d2.ok || d2.reason != reasonTokens {
		t.Fatalf("over TPM admitted: %+v", d2)
	}
	l.settle("k", d, 10, at.Add(time.Second)) // it used 10, not 80
	if d3 := l.reserve("k", lim, 30, at.Add(2*time.Second)); !d3.ok || d3.remTok != 60 {
		t.Fatalf("after correction: %+v", d3)
	}
	l.reserve("k", lim, 0, at.Add(3*time.Second))
	d4 := l.reserve("k", lim, 0, at.Add(4*time.Second))
	if d4.ok || d4.reason != reasonRequests || d4.retry != 56*time.Second || d4.resetReq != 56*time.Second {
		t.Fatalf("fourth request: %+v", d4)
	}
	// The window slides: at +60s the first request has left it.
	if d5 := l.reserve("k", lim, 0, at.Add(60*time.Second)); !d5.ok {
		t.Fatalf("after the window: %+v", d5)
	}
}

// TestLocalResets holds the x-ratelimit-reset values of admitted
// requests: the time until the oldest counted request (tokens) leaves the
// window, counting the request just admitted, and none for tokens while
// none are counted.
func TestLocalResets(t *testing.T) {
	l := newLocal()
	at := time.Unix(1_000_000, 250e6) // a quarter into second 1,000,000
	lim := Limits{TPM: 100, RPM: 10}
	d := l.reserve("k", lim, 0, at)
	if !d.ok || d.resetReq != 59750*time.Millisecond || d.resetTok != 0 {
		t.Fatalf("first (no tokens): %+v", d)
	}
	d = l.reserve("k", lim, 5, at.Add(10*time.Second))
	if !d.ok || d.resetReq != 49750*time.Millisecond || d.resetTok != 59750*time.Millisecond {
		t.Fatalf("second, 10 s on: %+v", d)
	}
	d = l.reserve("k", lim, 5, at.Add(65*time.Second)) // the first has left; the second is oldest
	if !d.ok || d.resetReq != 4750*time.Millisecond || d.resetTok != 4750*time.Millisecond {
		t.Fatalf("third, 65 s on: %+v", d)
	}
}

func TestMaxParallel(t *testing.T) {
	s := NewStore(openStore(t, sqlitePath(t)))
	_, secret := create(t, s, Params{Name: ptr("p"), MaxParallel: ptr[int64](2)})
	h := newHarness(t, newAdmitter(t, Options{Store: s}))
	h.up.SetDefault(testupstream.Reply{Content: []string{"a", "b"}, Delay: 300 * time.Millisecond})
	stream := `{"model":"openai/gpt-4o","stream":true,"messages":[{"role":"user","content":"Hi"}]}`
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range 5 {
		wg.Go(func() {
			rec := h.post(secret, stream)
			mu.Lock()
			codes[rec.Code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[200] != 2 || codes[429] != 3 {
		t.Errorf("statuses %v, want 2 × 200 and 3 × 429", codes)
	}
	// Settled: the slots are free again.
	if rec := h.post(secret, chatBody); rec.Code != 200 {
		t.Errorf("after the others finished: %d %s", rec.Code, rec.Body)
	}
}

// Access keys get the limits of YAML keys: by key_id.
func TestAccessKeyPolicy(t *testing.T) {
	id := llmbridge.KeyID("static-key")
	a := newAdmitter(t, Options{AccessKeys: []string{"static-key", "free-key"}, Policies: map[string]Policy{id: {Models: []string{"openai/*"}, Limits: Limits{RPM: 1}}}})
	h := newHarness(t, a)
	if rec := h.post("static-key", chatBody); rec.Code != 200 || rec.Header().Get("X-Ratelimit-Remaining-Requests") != "0" {
		t.Errorf("first: %d %v", rec.Code, rec.Header())
	}
	if rec := h.post("static-key", chatBody); rec.Code != 429 {
		t.Errorf("second: %d", rec.Code)
	}
	for range 3 {
		if rec := h.post("free-key", chatBody); rec.Code != 200 || rec.Header().Get("X-Ratelimit-Limit-Requests") != "" {
			t.Errorf("unlimited key: %d %v", rec.Code, rec.Header())
		}
	}
	a.SetAccessKeys([]string{"other"}, nil)
	if rec := h.post("static-key", chatBody); rec.Code != 401 {
		t.Errorf("after the keys changed: %d", rec.Code)
	}
}

// Revocation is seen by a second instance sharing the store within a
// second.
func TestRevocationSeenByAnotherInstance(t *testing.T) {
	path := sqlitePath(t)
	s1, s2 := NewStore(openStore(t, path)), NewStore(openStore(t, path))
	k, secret := create(t, s1, Params{Name: ptr("r")})
	h := newHarness(t, newAdmitter(t, Options{Store: s2}))
	if rec := h.post(secret, chatBody); rec.Code != 200 {
		t.Fatalf("before: %d %s", rec.Code, rec.Body)
	}
	if _, err := s1.Revoke(context.Background(), k.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for h.post(secret, chatBody).Code != 401 {
		if time.Since(start) > time.Second {
			t.Fatal("the revoked key still works after 1s on the other instance")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("revocation seen after %v", time.Since(start))
}

// The official SDK sees an OpenAI-shaped 429 with the code and headers.
func TestSDKSees429(t *testing.T) {
	s := NewStore(openStore(t, sqlitePath(t)))
	_, secret := create(t, s, Params{Name: ptr("sdk"), RPM: ptr[int64](1)})
	h := newHarness(t, newAdmitter(t, Options{Store: s}))
	srv := httptest.NewServer(h.b)
	defer srv.Close()
	c := openai.NewClient(option.WithBaseURL(srv.URL+"/v1"), option.WithAPIKey(secret), option.WithMaxRetries(0))
	params := openai.ChatCompletionNewParams{Model: "openai/gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")}}
	var first *http.Response
	if _, err := c.Chat.Completions.New(context.Background(), params, option.WithResponseInto(&first)); err != nil {
		t.Fatal(err)
	}
	if first.Header.Get("x-ratelimit-remaining-requests") != "0" || first.Header.Get("x-ratelimit-limit-requests") != "1" {
		t.Errorf("200 headers %v", first.Header)
	}
	_, err := c.Chat.Completions.New(context.Background(), params)
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != 429 || ae.Code != "rate_limit_exceeded" || ae.Response.Header.Get("Retry-After") == "" ||
		ae.Response.Header.Get("x-ratelimit-reset-requests") == "" {
		t.Fatalf("got %v", err)
	}
}

// Budgets reports each budget of each key against the store's spend (for
// the key_budget alert).
func TestBudgetsForAlerts(t *testing.T) {
	u := openStore(t, sqlitePath(t))
	s := NewStore(u)
	k, _ := create(t, s, Params{Name: ptr("alice"), DailyBudgetUSD: ptr(2.0), MonthlyBudgetUSD: ptr(10.0)})
	create(t, s, Params{Name: ptr("unbudgeted")})
	now := time.Now()
	rec := llmbridge.UsageRecord{ID: llmbridge.NewRecordID(now), Time: now, KeyID: k.ID, Provider: "openai", UpstreamModel: "gpt-4o",
		Status: 200, PromptTokens: 400_000, TotalTokens: 400_000}
	if _, err := u.Insert(context.Background(), []usage.Row{usage.RowOf(rec, usage.DefaultPrices())}); err != nil {
		t.Fatal(err)
	}
	a := newAdmitter(t, Options{Store: s})
	got, err := a.Budgets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("budgets %+v, want alice's daily and monthly", got)
	}
	for _, b := range got {
		if b.KeyID != k.ID || b.SpentUSD <= 0 || (b.Name == "alice (daily)") != (b.LimitUSD == 2) {
			t.Errorf("budget %+v", b)
		}
	}
}
