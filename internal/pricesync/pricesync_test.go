package pricesync

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
	"github.com/llmbridge/llmbridge/internal/usage"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var asOf = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func TestParseLiteLLM(t *testing.T) {
	p, skipped, err := Parse([]byte(testupstream.LiteLLMPrices), "src", asOf)
	if err != nil || skipped != 0 {
		t.Fatal(skipped, err)
	}
	if len(p) != 10 {
		t.Errorf("%d prices, want 10 (no sample_spec, no image model): %v", len(p), keys(p))
	}
	want := map[string]string{
		"openai/gpt-4o":                 "2.5 10 1.25 <nil>",
		"anthropic/claude-sonnet-4-5":   "3 15 0.3 3.75",
		"gemini/gemini-2.5-pro":         "1.25 10 0.125 <nil>",
		"deepseek/deepseek-chat":        "0.28 0.42 0.028 <nil>",
		"openai/text-embedding-3-small": "0.02 0 <nil> <nil>",
	}
	for k, w := range want {
		if got := show(p[k]); got != w {
			t.Errorf("%s: %s, want %s", k, got, w)
		}
	}
	pro := p["gemini/gemini-2.5-pro"]
	if lc := pro.LongContext; lc == nil || lc.Above != 200_000 || lc.Input != 2.5 || lc.Output != 15 || pro.Source != "src" || !pro.AsOf.Equal(asOf) {
		t.Errorf("gemini-2.5-pro: %+v", pro)
	}
	rec := llmbridge.UsageRecord{PromptTokens: 1_000_000, CompletionTokens: 1_000_000}
	if c := p["openai/gpt-4o"].Cost(&rec); c != 12.5 {
		t.Errorf("cost %v", c)
	}
}

func TestParseModelsDev(t *testing.T) {
	p, _, err := Parse([]byte(testupstream.ModelsDevPrices), "md", asOf)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != 4 || show(p["gemini/gemini-2.5-pro"]) != "1.25 10 0.31 <nil>" || show(p["anthropic/claude-sonnet-4-5"]) != "3 15 0.3 3.75" {
		t.Errorf("%v", keys(p))
	}
	if lc := p["gemini/gemini-2.5-pro"].LongContext; lc == nil || lc.Input != 2.5 {
		t.Errorf("long context %+v", lc)
	}
}

// A list is taken whole or not at all.
func TestParseRefuses(t *testing.T) {
	unitError := strings.ReplaceAll(testupstream.LiteLLMPrices, "e-0", "e+0") // per token read as huge numbers
	oneBad := strings.Replace(testupstream.LiteLLMPrices, `"gpt-4o-mini": {"input_cost_per_token": 1.5e-07`, `"gpt-4o-mini": {"input_cost_per_token": -1`, 1)
	for name, body := range map[string]string{"not JSON": "<html>rate limited</html>", "array": "[]", "empty": "{}", "unit error": unitError,
		"no prices": `{"a": {"litellm_provider": "x", "mode": "chat"}}`, "truncated": testupstream.LiteLLMPrices[:500]} {
		if p, _, err := Parse([]byte(body), "s", asOf); err == nil || p != nil {
			t.Errorf("%s: accepted %d prices", name, len(p))
		}
	}
	p, skipped, err := Parse([]byte(oneBad), "s", asOf) // 1 of 11: left out, the rest taken
	if err != nil || skipped != 1 || len(p) != 9 {
		t.Errorf("one insane price: %d prices, %d skipped, %v", len(p), skipped, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(testupstream.LiteLLMPrices))
	f.Add([]byte(testupstream.ModelsDevPrices))
	f.Add([]byte(`{"x":{"models":{"m":{"cost":{"input":1e308,"output":-0}}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, _, err := Parse(data, "s", asOf)
		if err == nil && (len(p) == 0 || p.Validate() != nil) {
			t.Fatalf("accepted an unusable table: %v", p)
		}
		for _, v := range p {
			if !sane(v) {
				t.Fatalf("insane price accepted: %+v", v)
			}
		}
	})
}

func show(p usage.Price) string {
	s := func(v *float64) string {
		if v == nil {
			return "<nil>"
		}
		return fmt.Sprint(*v)
	}
	return fmt.Sprint(p.Input, " ", p.Output, " ", s(p.CachedInput), " ", s(p.CacheWrite))
}

func keys(p usage.Prices) []string {
	var out []string
	for k := range p {
		out = append(out, k)
	}
	return out
}

func newSyncer(t *testing.T, url string) (*Syncer, *Settings, *bytes.Buffer) {
	s := &Settings{URL: url, Refresh: time.Hour, CacheFile: filepath.Join(t.TempDir(), "data", "prices.json")}
	var buf bytes.Buffer
	return New(*s, nil, slog.New(slog.NewTextHandler(&buf, nil))), s, &buf
}

// Fetched, checked, cached; a 304 keeps the table; a broken source
// keeps the last good table and is logged once; a stale one is said to be.
func TestSync(t *testing.T) {
	modified := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	src := testupstream.NewPriceSource(t, testupstream.LiteLLMPrices, modified)
	y, s, log := newSyncer(t, src.URL)
	ctx := context.Background()
	if err := y.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	s.Load()
	gpt := s.Prices()["openai/gpt-4o"]
	if gpt.Input != 2.5 || gpt.Source != src.URL || !gpt.AsOf.Equal(modified) {
		t.Fatalf("synced gpt-4o: %+v", gpt)
	}
	st, _ := os.Stat(s.CacheFile)
	if err := y.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if reqs := src.Requests(); reqs[1].Get("If-None-Match") == "" {
		t.Error("the second fetch was not conditional")
	}
	if st2, _ := os.Stat(s.CacheFile); !st2.ModTime().Equal(st.ModTime()) {
		t.Error("an unchanged list rewrote the cache")
	}

	for _, fault := range []func(){func() { src.Fail(http.StatusInternalServerError) }, func() { src.Fail(0); src.Set(`{"truncated": `, modified) },
		func() { src.Set(strings.Repeat(" ", MaxBytes+1), modified) }} {
		fault()
		if err := y.Sync(ctx); err == nil {
			t.Fatal("a broken source was taken")
		}
		s.Load()
		if s.Prices()["openai/gpt-4o"].Input != 2.5 {
			t.Fatal("a failed fetch lost the last good table")
		}
	}
	if n := strings.Count(log.String(), "price sync failed"); n != 1 {
		t.Errorf("%d failure lines for one run of failures:\n%s", n, log)
	}

	src.Set(strings.Replace(testupstream.LiteLLMPrices, "2.5e-06, \"output_cost_per_token\": 1e-05", "3e-06, \"output_cost_per_token\": 1e-05", 1), time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC))
	if err := y.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	s.Load()
	if p := s.Prices()["openai/gpt-4o"]; p.Input != 3 || !strings.Contains(log.String(), "price sync works again") || !strings.Contains(log.String(), "stale") {
		t.Errorf("after the source healed with an old list: %+v\n%s", p, log)
	}
}

// An offline start uses the cached table; a cache of another URL or a
// corrupt one is ignored.
func TestOfflineStartUsesCache(t *testing.T) {
	src := testupstream.NewPriceSource(t, testupstream.ModelsDevPrices, asOf)
	y, s, _ := newSyncer(t, src.URL)
	if err := y.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	src.Close()
	offline := New(*s, nil, slog.New(slog.DiscardHandler))
	if offline.Sync(context.Background()) == nil {
		t.Fatal("fetched from a closed source")
	}
	s.Load()
	if s.Prices()["openai/gpt-5"].Input != 1.25 {
		t.Error("the cached table was not loaded")
	}
	other := *s
	other.URL = "http://elsewhere.example/prices.json"
	if other.Load(); other.Prices() != nil {
		t.Error("a cache of another URL was used")
	}
	os.WriteFile(s.CacheFile, []byte(`{"url":"`+src.URL+`","prices":{"x":{"input":-1}}}`), 0o600)
	if s.Load(); s.Prices() != nil {
		t.Error("a corrupt cache was used")
	}
	off := Settings{}
	if off.Load(); off.Prices() != nil || off.Check() != nil {
		t.Error("sync off has prices")
	}
	if bad := (Settings{URL: "http://x", Refresh: time.Second, CacheFile: "p"}); bad.Check() == nil {
		t.Error("a 1s refresh accepted")
	}
}

// Start fetches at once and at every refresh; Stop ends it.
func TestStartStop(t *testing.T) {
	src := testupstream.NewPriceSource(t, testupstream.LiteLLMPrices, asOf)
	y, _, _ := newSyncer(t, src.URL)
	ticks := make(chan chan time.Time)
	y.after = func(time.Duration) <-chan time.Time { c := make(chan time.Time, 1); ticks <- c; return c }
	y.Start()
	tick := <-ticks
	if n := len(src.Requests()); n != 1 {
		t.Fatalf("%d fetches at start", n)
	}
	tick <- time.Now()
	<-ticks
	if n := len(src.Requests()); n != 2 {
		t.Fatalf("%d fetches after a refresh", n)
	}
	y.Stop()
	New(Settings{}, nil, slog.New(slog.DiscardHandler)).Start().Stop() // off: nothing runs
}
