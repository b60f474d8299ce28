package keys

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/usage"
)

// TestModelsAllowedByTarget: a key's model patterns apply to where the
// name goes (the resolved provider/model), so "anthropic/*" allows a bare
// Claude name its family routes there, and nothing else; a budget refuses
// the new model while it has no price.
func TestModelsAllowedByTarget(t *testing.T) {
	b, err := llmbridge.New(
		llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: "http://127.0.0.1:1/v1", APIKey: "sk-o"})),
		llmbridge.WithProvider(llmbridge.Anthropic(llmbridge.ProviderConfig{BaseURL: "http://127.0.0.1:1/v1", APIKey: "sk-a"})),
		llmbridge.WithRoute(llmbridge.Route{Name: "mixed", Targets: []llmbridge.RouteTarget{{Model: "anthropic/claude-x"}, {Model: "openai/gpt-4o"}}}),
		llmbridge.WithRoute(llmbridge.Route{Name: "claude-only", Targets: []llmbridge.RouteTarget{{Model: "anthropic/claude-opus-4-1"}}}),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	prices := usage.DefaultPrices()
	priced := func(m string) bool {
		for _, t := range b.Targets(m) {
			if _, ok := prices.Lookup(t.Provider, t.Model); !ok {
				return false
			}
		}
		return true
	}
	id := llmbridge.KeyID("static-key")
	code := func(a *Admitter, model string) string {
		tk, err := a.Admit(context.Background(), &llmbridge.Request{Format: "chat", Model: model, Header: http.Header{"Authorization": {"Bearer static-key"}}})
		if tk != nil {
			tk.Settle(llmbridge.UsageRecord{})
		}
		var ae *llmbridge.APIError
		if errors.As(err, &ae) {
			return ae.Code
		}
		return "ok"
	}
	a := newAdmitter(t, Options{AccessKeys: []string{"static-key"}, Policies: map[string]Policy{id: {Models: []string{"anthropic/*"}}}, Targets: b.Targets})
	for model, want := range map[string]string{
		"claude-opus-5-5":    "ok", // family → anthropic/claude-opus-5-5
		"anthropic/claude-x": "ok",
		"claude-*":           "ok", // literally anthropic/claude-*: still Anthropic
		"claude-only":        "ok", // every target is Anthropic's
		"gpt-5.5":            "model_not_allowed",
		"mixed":              "model_not_allowed", // one target is OpenAI's
		"mistral":            "model_not_allowed", // nothing serves it
		"*":                  "model_not_allowed",
	} {
		if got := code(a, model); got != want {
			t.Errorf("%s: %s, want %s", model, got, want)
		}
	}
	noHook := newAdmitter(t, Options{AccessKeys: []string{"static-key"}, Policies: map[string]Policy{id: {Models: []string{"anthropic/*"}}}})
	if got := code(noHook, "claude-opus-5-5"); got != "model_not_allowed" {
		t.Errorf("without Targets the name as sent is all: %s", got)
	}
	budget := newAdmitter(t, Options{AccessKeys: []string{"static-key"}, Policies: map[string]Policy{id: {Limits: Limits{DailyBudgetUSD: 1}}}, Targets: b.Targets, Priced: priced})
	if got := code(budget, "claude-opus-5-5"); got != "model_not_priced" {
		t.Errorf("a new unpriced model under a budget: %s", got)
	}
	if got := code(budget, "claude-opus-4-1"); got != "ok" {
		t.Errorf("a priced model under a budget: %s", got)
	}
}
