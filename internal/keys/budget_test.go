package keys

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/usage"
)

func chat(model string) string {
	return `{"model":"` + model + `","messages":[{"role":"user","content":"Hi"}]}`
}

// A budgeted key's request to a model without a price is refused before
// anything goes upstream (the probe: o1-pro, gpt-4.5-preview and o3-pro
// ran under openai/* with the spend staying 0); priced models and keys
// without a budget are not affected.
func TestBudgetRefusesUnpricedModel(t *testing.T) {
	s := NewStore(openStore(t, sqlitePath(t)))
	_, daily := create(t, s, Params{Name: ptr("d"), Models: &[]string{"openai/*"}, DailyBudgetUSD: ptr(5.0)})
	_, monthly := create(t, s, Params{Name: ptr("m"), MonthlyBudgetUSD: ptr(50.0)})
	_, free := create(t, s, Params{Name: ptr("f"), Models: &[]string{"openai/*"}, RPM: ptr[int64](100)})
	h := newHarness(t, newAdmitter(t, Options{Store: s}))
	for _, tc := range []struct {
		secret, model string
		want          int
	}{
		{daily, "openai/o1-pro", 403},
		{daily, "openai/gpt-4.5-preview", 403},
		{daily, "openai/o3-pro", 403},
		{monthly, "openai/o3-pro", 403},
		{monthly, "o3-pro", 403}, // a bare name nobody prices
		{daily, "openai/gpt-4o", 200},
		{daily, "openai/gpt-4o-2024-08-06", 200}, // a dated name has its undated price
		{monthly, "gpt-4o", 200},                 // a bare name priced under openai
		{free, "openai/o1-pro", 200},             // no budget: nothing to count
	} {
		before := len(h.up.Requests())
		rec := h.post(tc.secret, chat(tc.model))
		if rec.Code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.model, rec.Code, rec.Body, tc.want)
			continue
		}
		if tc.want != 403 {
			continue
		}
		body := rec.Body.String()
		for _, want := range []string{`"type":"invalid_request_error"`, `"code":"model_not_priced"`, `"param":"model"`, "`" + tc.model + "`", "prices:", "budget"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: %s lacks %s", tc.model, body, want)
			}
		}
		if n := len(h.up.Requests()); n != before {
			t.Errorf("%s: %d requests went upstream", tc.model, n-before)
		}
	}
}

// The same refusal for an access key with a budget (the YAML file's
// keys:), Options.Priced replacing the price table, and counting tokens
// (not billed) allowed.
func TestPricedHook(t *testing.T) {
	id := llmbridge.KeyID("static-key")
	policies := map[string]Policy{id: {Limits: Limits{DailyBudgetUSD: 1}}}
	admit := func(a *Admitter, format, model string) error {
		r := &llmbridge.Request{Format: format, Model: model, Header: http.Header{"Authorization": {"Bearer static-key"}}}
		t, err := a.Admit(context.Background(), r)
		if t != nil {
			t.Settle(llmbridge.UsageRecord{})
		}
		return err
	}
	notPriced := func(err error) bool {
		var ae *llmbridge.APIError
		return errors.As(err, &ae) && ae.Status == 403 && ae.Code == "model_not_priced"
	}
	table := newAdmitter(t, Options{AccessKeys: []string{"static-key"}, Policies: policies})
	if err := admit(table, "chat", "smart"); !notPriced(err) {
		t.Errorf("route name with the price table: %v, want model_not_priced", err)
	}
	if err := admit(table, "anthropic_count_tokens", "anthropic/claude-opus-4-8"); err != nil {
		t.Errorf("count_tokens: %v", err)
	}
	if err := admit(table, "embeddings", "openai/text-embedding-3-small"); err != nil {
		t.Errorf("priced embeddings: %v", err)
	}
	table.SetPrices(usage.DefaultPrices().Merge(usage.Prices{"openai/o1-pro": {Input: 150, Output: 600}}))
	if err := admit(table, "chat", "openai/o1-pro"); err != nil {
		t.Errorf("after its price was set: %v", err)
	}
	var asked []string
	var mu sync.Mutex
	hook := newAdmitter(t, Options{AccessKeys: []string{"static-key"}, Policies: policies, Priced: func(m string) bool {
		mu.Lock()
		asked = append(asked, m)
		mu.Unlock()
		return m == "smart"
	}})
	if err := admit(hook, "chat", "smart"); err != nil {
		t.Errorf("route the hook prices: %v", err)
	}
	if err := admit(hook, "chat", "openai/gpt-4o"); !notPriced(err) {
		t.Errorf("a name the hook does not price: %v, want model_not_priced", err)
	}
	if strings.Join(asked, ",") != "smart,openai/gpt-4o" {
		t.Errorf("Priced asked about %q", asked)
	}
}

// A budgeted request that still reaches a model without a price (here
// through a Priced hook that vouched for it) is charged nothing, and the
// log says so once per provider/model.
func TestSettleUnpricedWarnsOnce(t *testing.T) {
	var logs syncBuffer
	s := NewStore(openStore(t, sqlitePath(t)))
	_, secret := create(t, s, Params{Name: ptr("d"), DailyBudgetUSD: ptr(0.00004)})
	a := newAdmitter(t, Options{Store: s, Priced: func(string) bool { return true }, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	h := newHarness(t, a)
	for _, model := range []string{"openai/o1-pro", "openai/o1-pro", "openai/o3-pro", "openai/o1-pro"} {
		if rec := h.post(secret, chat(model)); rec.Code != 200 {
			t.Fatalf("%s: %d %s", model, rec.Code, rec.Body)
		}
	}
	out := logs.String()
	if strings.Count(out, "level=WARN") != 2 || strings.Count(out, "model=openai/o1-pro") != 1 || strings.Count(out, "model=openai/o3-pro") != 1 ||
		!strings.Contains(out, "charged nothing") || strings.Contains(out, secret) {
		t.Errorf("log:\n%s\nwant one warning for each unpriced model", out)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Creation warns about a budgeted key's patterns that cover known models
// without a price; a glob is priced only when every known model it
// matches is.
func TestCatalogWarnings(t *testing.T) {
	bridgeModels := []string{"openai/gpt-4o", "openai/gpt-4.5-preview", "openai/o1-pro", "openai/o3-pro", "deepseek/deepseek-chat",
		"gemini/gemini-exp-1206", "smart"}
	many := make([]string, 14)
	for i := range many {
		many[i] = "local/m" + string(rune('a'+i))
	}
	budget := Limits{DailyBudgetUSD: 5}
	for _, tc := range []struct {
		name   string
		c      Catalog
		p      Policy
		want   []string // one warning each, containing every "|"-separated part
		absent []string // in no warning
	}{
		{name: "no budget", c: Catalog{Models: bridgeModels}, p: Policy{Models: []string{"openai/*"}, Limits: Limits{RPM: 5}}},
		{name: "glob over priced and unpriced", c: Catalog{Models: bridgeModels}, p: Policy{Models: []string{"openai/*"}, Limits: budget},
			want:   []string{`models[0] "openai/*"|openai/gpt-4.5-preview, openai/o1-pro, openai/o3-pro)|refused while the key has a budget|prices:`},
			absent: []string{"openai/gpt-4o,", "deepseek", "gemini"}},
		{name: "narrower glob", c: Catalog{Models: bridgeModels}, p: Policy{Models: []string{"openai/gpt-4*", "deepseek/*"}, Limits: budget},
			want: []string{`models[0] "openai/gpt-4*" covers models without a price (openai/gpt-4.5-preview)`}},
		{name: "price table only", p: Policy{Models: []string{"openai/*", "anthropic/*"}, Limits: budget}},
		{name: "literal names", p: Policy{Models: []string{"openai/gpt-4o", "local/llama", "gpt-4o-mini"}, Limits: budget},
			want: []string{`models[1] "local/llama" has no price`}},
		{name: "any model", c: Catalog{Models: bridgeModels}, p: Policy{Limits: Limits{MonthlyBudgetUSD: 9}},
			want: []string{"models (empty: any model)|gemini/gemini-exp-1206|smart"}},
		{name: "a price set in the file", c: Catalog{Models: bridgeModels, Prices: usage.DefaultPrices().Merge(usage.Prices{"openai/o1-pro": {Input: 150}})},
			p: Policy{Models: []string{"openai/*"}, Limits: budget}, want: []string{"openai/gpt-4.5-preview, openai/o3-pro)"}},
		{name: "Priced hook knows the route", c: Catalog{Models: bridgeModels, Priced: func(m string) bool { return m != "openai/o3-pro" }},
			p: Policy{Models: []string{"smart", "openai/*"}, Limits: budget}, want: []string{`models[1] "openai/*" covers models without a price (openai/o3-pro)`}},
		{name: "at most ten named", c: Catalog{Models: many}, p: Policy{Models: []string{"local/*"}, Limits: budget},
			want: []string{"local/ma, local/mb|local/mj and 4 more"}, absent: []string{"local/mk"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.c.Warnings(&tc.p)
			if len(got) != len(tc.want) {
				t.Fatalf("warnings %q, want %d", got, len(tc.want))
			}
			for i, w := range tc.want {
				for _, part := range strings.Split(w, "|") {
					if !strings.Contains(got[i], part) {
						t.Errorf("warning %q lacks %q", got[i], part)
					}
				}
			}
			for _, w := range got {
				for _, a := range tc.absent {
					if strings.Contains(w, a) {
						t.Errorf("warning %q names %q", w, a)
					}
				}
			}
		})
	}
}
