package liveconfig

import (
	"net/url"
	"slices"
	"sort"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/alerts"
	"github.com/llmbridge/llmbridge/internal/configfile"
	"github.com/llmbridge/llmbridge/internal/usage"
	"go.yaml.in/yaml/v3"
)

// The sources of an item (View).
const (
	SourceEnv   = "env"
	SourceFile  = "file"
	SourceStore = "store"
)

// Base is what the environment and the file define: shown with its
// source, and read-only through the API.
type Base struct {
	// Env are the built-in providers the environment turns on (with a key).
	Env []configfile.Provider
	// File is LLMBRIDGE_CONFIG's content; nil without one.
	File *configfile.File
}

// View is GET /admin/api/config: the effective configuration, each item
// with its source. Secrets are never shown: a key is api_key_set and at
// most its last four characters.
type View struct {
	Providers  []ProviderView `json:"providers"`
	Routes     []Item         `json:"routes"`
	Prices     []PriceView    `json:"prices"`
	Cache      Item           `json:"cache"` // null: no cache policy
	Alerts     []Item         `json:"alert_rules"`
	Precedence string         `json:"precedence"`
	// Defaults counts the built-in items beneath all three (prices).
	Defaults map[string]int `json:"defaults"`
	Version  int64          `json:"version"`
}

// ProviderView is a provider without its secrets.
type ProviderView struct {
	Name        string   `json:"name"`
	Kind        string   `json:"kind"`
	BaseURL     string   `json:"base_url,omitempty"`
	Models      []string `json:"models"`
	Headers     []string `json:"header_names,omitempty"` // values may be secrets
	Proxy       string   `json:"proxy,omitempty"`        // scheme://host only
	UseProxy    bool     `json:"use_proxy,omitempty"`
	APIKeySet   bool     `json:"api_key_set"`
	APIKeyLast4 string   `json:"api_key_last4,omitempty"`
	APIKeyEnv   string   `json:"api_key_env,omitempty"`
	Keys        int      `json:"keys"`
	Source      string   `json:"source"`
	// ShadowedBy names the source that defines the same name over a
	// stored item, which is then not in force.
	ShadowedBy string `json:"shadowed_by,omitempty"`
}

// Item is a route, the cache policy or an alert rule as the file writes
// it (its YAML names), with "source" and, when hidden, "shadowed_by".
type Item map[string]any

// item is v's fields by their YAML names, with its source.
func item(v any, source, shadowedBy string) Item {
	var m Item
	_ = yaml.Unmarshal([]byte(mustYAML(v)), &m)
	if m == nil {
		m = Item{}
	}
	m["source"] = source
	if shadowedBy != "" {
		m["shadowed_by"] = shadowedBy
	}
	return m
}

// PriceView is a price with its model and source.
type PriceView struct {
	Model      string      `json:"model"`
	Price      usage.Price `json:"price"`
	Source     string      `json:"source"`
	ShadowedBy string      `json:"shadowed_by,omitempty"`
}

// Precedence documents which source wins.
const Precedence = "env over file over store: an item the environment or LLMBRIDGE_CONFIG defines is read-only in the admin API, and hides a stored item of the same name"

// providerView shows p without its secrets.
func providerView(p configfile.Provider, source string) ProviderView {
	key := p.Key
	if key == "" {
		key = p.APIKey
	}
	v := ProviderView{Name: p.Name, Kind: p.Kind, BaseURL: p.BaseURL, Models: p.Models, UseProxy: p.UseProxy,
		APIKeySet: key != "" || len(p.APIKeys)+len(p.More) > 0, APIKeyEnv: p.APIKeyEnv, Source: source}
	if v.Models == nil {
		v.Models = []string{}
	}
	if len(key) >= 12 {
		v.APIKeyLast4 = key[len(key)-4:]
	}
	v.Keys = len(p.APIKeys) + len(p.APIKeyEnvs)
	if key != "" || p.APIKeyEnv != "" {
		v.Keys++
	}
	for h := range p.Headers {
		v.Headers = append(v.Headers, h)
	}
	sort.Strings(v.Headers)
	v.Proxy = hostOnly(p.Proxy)
	return v
}

// hostOnly is a URL as scheme://host, without credentials or path.
func hostOnly(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Scheme + "://" + u.Host
}

// routeFile turns a route back into the file's shape.
func routeFile(r llmbridge.Route) configfile.RouteFile {
	rf := configfile.RouteFile{Name: r.Name, Strategy: string(r.Strategy), Fallbacks: r.Fallbacks, RetryOn: r.RetryOn}
	for _, t := range r.Targets {
		w := t.Weight
		rf.Targets = append(rf.Targets, configfile.RouteTargetFile{Model: t.Model, Weight: &w})
	}
	return rf
}

// view builds the View of base and the stored layer.
func view(base Base, l *configfile.Layer) *View {
	v := &View{Precedence: Precedence, Providers: []ProviderView{}, Routes: []Item{}, Prices: []PriceView{}, Alerts: []Item{}}
	f := base.File
	if f == nil {
		f = &configfile.File{}
	}
	for _, p := range base.Env {
		v.Providers = append(v.Providers, providerView(p, SourceEnv))
	}
	for _, p := range f.Providers {
		v.Providers = append(v.Providers, providerView(p, SourceFile))
	}
	for _, p := range l.Providers {
		pv := providerView(p, SourceStore)
		pv.ShadowedBy = base.providerSource(p.Name)
		v.Providers = append(v.Providers, pv)
	}
	for _, r := range f.Routes {
		v.Routes = append(v.Routes, item(routeFile(r), SourceFile, ""))
	}
	for _, r := range l.Routes {
		v.Routes = append(v.Routes, item(r, SourceStore, base.routeSource(r.Name)))
	}
	for _, m := range sortedKeys(f.Prices) {
		v.Prices = append(v.Prices, PriceView{Model: m, Price: f.Prices[m], Source: SourceFile})
	}
	for _, m := range sortedKeys(l.Prices) {
		v.Prices = append(v.Prices, PriceView{Model: m, Price: l.Prices[m], Source: SourceStore, ShadowedBy: base.priceSource(m)})
	}
	v.Cache = base.cacheView(l)
	for _, r := range f.Alerts.Rules {
		v.Alerts = append(v.Alerts, item(r, SourceFile, ""))
	}
	for _, r := range l.AlertRules {
		v.Alerts = append(v.Alerts, item(r, SourceStore, base.ruleSource(r.Name)))
	}
	v.Defaults = map[string]int{"prices": len(usage.DefaultPrices())}
	return v
}

// cacheView is the cache policy in force: the file's, else the store's.
func (b Base) cacheView(l *configfile.Layer) Item {
	if b.File != nil && b.File.Cache != nil {
		p := b.File.Cache.Policy
		scope := "key"
		if p.Shared {
			scope = "shared"
		}
		f := &configfile.CacheFile{TTL: p.TTL, Models: p.Models, Nondeterministic: p.Nondeterministic, Scope: scope}
		it := item(f, SourceFile, "")
		if l.Cache != nil {
			it["hides_stored_policy"] = true
		}
		return it
	}
	if l.Cache != nil {
		return item(l.Cache, SourceStore, "")
	}
	return nil
}

func sortedKeys(p usage.Prices) []string {
	var out []string
	for k := range p {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// providerSource is where the environment or the file defines a provider
// named name ("" when neither does).
func (b Base) providerSource(name string) string {
	if slices.ContainsFunc(b.Env, func(p configfile.Provider) bool { return p.Name == name }) {
		return SourceEnv
	}
	if b.File != nil && slices.ContainsFunc(b.File.Providers, func(p configfile.Provider) bool { return p.Name == name }) {
		return SourceFile
	}
	return ""
}

func (b Base) routeSource(name string) string {
	if b.File != nil && slices.ContainsFunc(b.File.Routes, func(r llmbridge.Route) bool { return r.Name == name }) {
		return SourceFile
	}
	return ""
}

func (b Base) priceSource(model string) string {
	if b.File != nil {
		if _, ok := b.File.Prices[model]; ok {
			return SourceFile
		}
	}
	return ""
}

func (b Base) ruleSource(name string) string {
	if b.File != nil && slices.ContainsFunc(b.File.Alerts.Rules, func(r alerts.Rule) bool { return r.Name == name }) {
		return SourceFile
	}
	return ""
}

// where says where a source defines items, for 409 messages.
func (b Base) where(source string) string {
	if source == SourceEnv {
		return "the environment (.env or a variable); change it there"
	}
	path := ""
	if b.File != nil {
		path = b.File.Path
	}
	return "LLMBRIDGE_CONFIG (" + path + "); change it in that file"
}
