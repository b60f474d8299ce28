package configfile

import (
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/alerts"
	"github.com/llmbridge/llmbridge/internal/usage"
)

// The stored layer lies beneath the file and the environment: an item of
// the same name there hides the stored one, prices merge file over store.
func TestUnder(t *testing.T) {
	top := &File{Providers: []Provider{{Name: "filed"}}, Routes: []llmbridge.Route{{Name: "r1"}},
		Prices: usage.Prices{"a/m": {Input: 1}}, Alerts: alerts.Config{Rules: []alerts.Rule{{Name: "x"}}}}
	lower := &File{Providers: []Provider{{Name: "filed", BaseURL: "store"}, {Name: "openai"}, {Name: "mine"}},
		Routes: []llmbridge.Route{{Name: "r1", Strategy: "ordered"}, {Name: "r2"}}, Prices: usage.Prices{"a/m": {Input: 9}, "b/m": {Input: 2}},
		Cache: &Cache{MaxBytes: 1}, Alerts: alerts.Config{Rules: []alerts.Rule{{Name: "x", Kind: "store"}, {Name: "y"}}}}
	m := Under(top, lower, []string{"openai"})
	if len(m.Providers) != 2 || m.Providers[0].BaseURL != "" || m.Providers[1].Name != "mine" {
		t.Errorf("providers %+v", m.Providers)
	}
	if len(m.Routes) != 2 || m.Routes[0].Strategy != "" || m.Routes[1].Name != "r2" {
		t.Errorf("routes %+v", m.Routes)
	}
	if m.Prices["a/m"].Input != 1 || m.Prices["b/m"].Input != 2 || m.Cache == nil {
		t.Errorf("prices %+v cache %v", m.Prices, m.Cache)
	}
	if len(m.Alerts.Rules) != 2 || m.Alerts.Rules[0].Kind != "" {
		t.Errorf("rules %+v", m.Alerts.Rules)
	}
	if len(top.Providers) != 1 || len(top.Routes) != 1 {
		t.Error("Under changed top")
	}
}

// CheckLayer reports with the file's code, every problem at once, under
// its own label.
func TestCheckLayerMessages(t *testing.T) {
	w := 0
	_, err := CheckLayer(&Layer{Providers: []Provider{{Name: "p", APIKey: "k", APIKeyEnv: "E"}},
		Routes: []RouteFile{{Name: "r", Targets: []RouteTargetFile{{Model: "p/m", Weight: &w}}}},
		Cache:  &CacheFile{Scope: "everyone"}}, nil)
	for _, want := range []string{
		"stored configuration: provider 1 (p): set api_key or api_key_env, not both",
		"stored configuration: route 1 (r) target 1 (p/m): weight 0 must be positive",
		`stored configuration: cache: scope "everyone"`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v lacks %q", err, want)
		}
	}
}
