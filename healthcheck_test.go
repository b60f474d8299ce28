package llmbridge

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// A provider that goes down is ejected by its health check before any
// user request fails: the route's next target answers the first one. When
// it comes back, a check after the ejection lets it in again. Checks are
// no traffic: no usage record, no request statistics.
func TestHealthCheckEjectsBeforeUsersFail(t *testing.T) {
	var recs []UsageRecord
	var mu sync.Mutex
	b, a, bu, clk := routed(t, WithRoute(smart), WithUsageSink(func(r UsageRecord) { mu.Lock(); recs = append(recs, r); mu.Unlock() }))
	a.SetDefault(testupstream.Reply{Status: 503})
	target := Target{Provider: "a", Model: "m"}
	if err := b.CheckHealth(context.Background(), target); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("check of a dead target: %v", err)
	}
	if got := a.Requests(); len(got) != 1 || got[0].Method != "GET" || !strings.HasSuffix(got[0].Path, "/models") {
		t.Fatalf("the check sent %d requests, not one models list: %v", len(got), got) // the cheapest call: no tokens
	}
	th := healthOf(b, "a")
	if th.State != StateOpen || th.CheckError == "" || th.Requests1m != 0 {
		t.Fatalf("a after its check: %+v", th)
	}
	rec := post(b, `{"model":"smart","messages":[{"role":"user","content":"hi"}]}`)
	if rec.Code != 200 || len(a.Requests()) != 1 || len(bu.Requests()) != 1 {
		t.Fatalf("user request: %d, a got %d, b got %d", rec.Code, len(a.Requests()), len(bu.Requests()))
	}

	a.SetDefault(testupstream.Reply{Content: []string{"back"}, Usage: testupstream.Usage{Prompt: 1, Completion: 1}})
	if err := b.CheckHealth(context.Background(), target); err != nil {
		t.Fatal(err)
	}
	if th := healthOf(b, "a"); th.State != StateOpen { // a pass within the ejection does not shorten it
		t.Fatalf("a readmitted within its ejection: %+v", th)
	}
	clk.advance(DefaultBreakerPolicy().BaseEjection + time.Second)
	if err := b.CheckHealth(context.Background(), target); err != nil {
		t.Fatal(err)
	}
	if th := healthOf(b, "a"); th.State != StateClosed || th.CheckError != "" || th.CheckedAt.IsZero() {
		t.Fatalf("a after it came back: %+v", th)
	}
	if rec := post(b, `{"model":"smart","messages":[{"role":"user","content":"hi"}]}`); rec.Code != 200 || !strings.Contains(rec.Body.String(), "back") {
		t.Fatalf("a does not serve again: %d %s", rec.Code, rec.Body)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(recs) != 2 {
		t.Errorf("%d usage records for 2 user requests and 3 checks", len(recs))
	}
}

// WithHealthCheck checks at once from New and stops at Close; a check of
// a target the bridge does not have is refused by New.
func TestWithHealthCheck(t *testing.T) {
	down := testupstream.New(t, testupstream.OpenAI)
	down.SetDefault(testupstream.Reply{Status: 500})
	b, err := New(WithProvider(OpenAICompatible(ProviderConfig{Name: "a", BaseURL: down.BaseURL(), APIKey: down.Key})),
		WithHealthCheck(HealthCheck{Target: Target{Provider: "a", Model: "m"}, Interval: time.Minute}))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for healthOf(b, "a").State != StateOpen {
		if time.Now().After(deadline) {
			t.Fatal("the check at start did not eject the dead target")
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.Close()
	for _, hc := range []HealthCheck{{Target: Target{Provider: "x", Model: "m"}, Interval: time.Minute}, {Target: Target{Provider: "a", Model: "m"}, Interval: time.Millisecond}, {Target: Target{Provider: "a"}, Interval: time.Minute}} {
		if _, err := New(WithProvider(OpenAICompatible(ProviderConfig{Name: "a", BaseURL: down.BaseURL(), APIKey: down.Key})), WithHealthCheck(hc)); err == nil {
			t.Errorf("%+v accepted", hc)
		}
	}
}

// noList is a provider without a models list (no ModelSource).
type noList struct{ Provider }

// A provider without a models list is checked with a one-token
// completion to the target's model.
func TestHealthCheckWithoutAModelsList(t *testing.T) {
	up := testupstream.New(t, testupstream.OpenAI)
	b, err := New(WithProvider(noList{OpenAICompatible(ProviderConfig{Name: "a", BaseURL: up.BaseURL(), APIKey: up.Key})}))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.CheckHealth(context.Background(), Target{Provider: "a", Model: "m"}); err != nil {
		t.Fatal(err)
	}
	if got := up.Requests(); len(got) != 1 || !strings.Contains(string(got[0].Body), `"max_tokens":1`) || !strings.Contains(string(got[0].Body), `"model":"m"`) {
		t.Fatalf("the check sent %v", got)
	}
}
