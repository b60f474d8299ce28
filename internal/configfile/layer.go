package configfile

import (
	"slices"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/alerts"
	"github.com/llmbridge/llmbridge/internal/usage"
)

// StoreLabel starts the messages about the stored configuration.
const StoreLabel = "stored configuration"

// Layer is configuration kept outside the file, in the file's own shapes:
// the items the admin API keeps in the usage store (internal/liveconfig).
// It lies beneath the environment and the file (Under).
type Layer struct {
	Providers  []Provider    `yaml:"providers,omitempty"`
	Prices     usage.Prices  `yaml:"prices,omitempty"`
	Routes     []RouteFile   `yaml:"routes,omitempty"`
	Cache      *CacheFile    `yaml:"cache,omitempty"`
	AlertRules []alerts.Rule `yaml:"alert_rules,omitempty"`
}

// CheckLayer checks l with the code and messages that check the file
// (messages start with StoreLabel), resolving key variables in environ.
// As Read, it returns the File as far as it could be read with the error.
// The alert rules are not checked here: they go with the file's webhooks
// (check the merged alerts.Config).
func CheckLayer(l *Layer, environ map[string]string) (*File, error) {
	s := schema{Providers: slices.Clone(l.Providers), Prices: l.Prices, Routes: l.Routes, Cache: l.Cache}
	f, err := s.check(StoreLabel, "", environ)
	f.Alerts.Rules = l.AlertRules
	return f, err
}

// Under returns top with lower's items beneath it: lower's providers,
// routes, prices and alert rules whose names top does not use (nor
// taken, the environment's providers), and lower's cache policy when top
// has none. top's webhooks and alert interval stay.
func Under(top, lower *File, taken []string) *File {
	out := *top
	names := slices.Clone(taken)
	for _, p := range top.Providers {
		names = append(names, p.Name)
	}
	for _, p := range lower.Providers {
		if !slices.Contains(names, p.Name) {
			out.Providers = append(slices.Clip(out.Providers), p)
		}
	}
	out.Routes = slices.Clip(top.Routes)
	for _, r := range lower.Routes {
		if !slices.ContainsFunc(top.Routes, func(t llmbridge.Route) bool { return t.Name == r.Name }) {
			out.Routes = append(out.Routes, r)
		}
	}
	out.Prices = lower.Prices.Merge(top.Prices)
	if out.Cache == nil {
		out.Cache = lower.Cache
	}
	out.Alerts.Rules = slices.Clip(top.Alerts.Rules)
	for _, r := range lower.Alerts.Rules {
		if !slices.ContainsFunc(top.Alerts.Rules, func(t alerts.Rule) bool { return t.Name == r.Name }) {
			out.Alerts.Rules = append(out.Alerts.Rules, r)
		}
	}
	return &out
}
