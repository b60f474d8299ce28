package liveconfig

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/alerts"
	"github.com/llmbridge/llmbridge/internal/configfile"
	"github.com/llmbridge/llmbridge/internal/usage"
)

// deleteItem serves DELETE of a stored item of kind.
func (m *Manager) deleteItem(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if kind == KindPrice {
			name = r.PathValue("model")
		}
		target := kind + "/" + name
		if kind == KindCache {
			target = "cache/policy"
		}
		e := &Entry{Action: kind + ".delete", Target: target}
		m.change(w, r, e, func(l *configfile.Layer) error {
			if !removeItem(l, kind, name) {
				if src := m.sourceOf(kind, name); src != "" {
					return m.readOnly(strings.ReplaceAll(kind, "_", " "), name, src)
				}
				return notFound("no stored %s %q", strings.ReplaceAll(kind, "_", " "), name)
			}
			return nil
		})
	}
}

// sourceOf is where the environment or the file defines an item.
func (m *Manager) sourceOf(kind, name string) string {
	b := m.base()
	switch kind {
	case KindProvider:
		return b.providerSource(name)
	case KindRoute:
		return b.routeSource(name)
	case KindPrice:
		return b.priceSource(name)
	case KindAlertRule:
		return b.ruleSource(name)
	case KindCache:
		if b.File != nil && b.File.Cache != nil {
			return SourceFile
		}
	}
	return ""
}

// removeItem removes a stored item and reports whether there was one.
func removeItem(l *configfile.Layer, kind, name string) bool {
	n := 0
	switch kind {
	case KindProvider:
		n = len(l.Providers)
		l.Providers = slices.DeleteFunc(l.Providers, func(p configfile.Provider) bool { return p.Name == name })
		return len(l.Providers) < n
	case KindRoute:
		n = len(l.Routes)
		l.Routes = slices.DeleteFunc(l.Routes, func(x configfile.RouteFile) bool { return x.Name == name })
		return len(l.Routes) < n
	case KindPrice:
		_, ok := l.Prices[name]
		delete(l.Prices, name)
		return ok
	case KindCache:
		had := l.Cache != nil
		l.Cache = nil
		return had
	case KindAlertRule:
		n = len(l.AlertRules)
		l.AlertRules = slices.DeleteFunc(l.AlertRules, func(x alerts.Rule) bool { return x.Name == name })
		return len(l.AlertRules) < n
	}
	return false
}

// TestResult is POST /admin/api/providers/{name}/test's answer.
type TestResult struct {
	OK        bool    `json:"ok"`
	Model     string  `json:"model"`
	LatencyMS float64 `json:"latency_ms"`
	Status    int     `json:"status,omitempty"` // the error's HTTP status
	Error     string  `json:"error,omitempty"`  // never holds the provider's key
}

// testProvider sends one real, cheap request: a one-token completion of
// the provider's first model (or the body's "model") through the running
// Bridge.
func (m *Manager) testProvider(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var body struct {
		Model string `yaml:"model"`
	}
	if r.ContentLength != 0 {
		if err := readBody(w, r, &body); err != nil {
			fail(w, err)
			return
		}
	}
	p, ok := m.findProvider(name)
	if !ok {
		fail(w, notFound("no provider %q is configured", name))
		return
	}
	model := body.Model
	if model == "" && len(p.Models) > 0 {
		model = p.Models[0]
	}
	if model == "" && m.o.Bridge != nil { // the models it lists upstream
		for _, bm := range m.o.Bridge().Models() {
			if rest, ok := strings.CutPrefix(bm.ID, name+"/"); ok {
				model = rest
				break
			}
		}
	}
	if model == "" || m.o.Bridge == nil {
		fail(w, badFields([]string{"model: the provider lists no models; name one to test with"}, []string{"model"}))
		return
	}
	res := m.runTest(r.Context(), name+"/"+model, secretsOf(p))
	e := &Entry{Actor: m.Actor(r), Action: "provider.test", Target: "provider/" + name, Fields: map[string]any{"model": model, "ok": res.OK}}
	if err := m.Audit(context.WithoutCancel(r.Context()), *e); err != nil {
		m.o.Logger.Error("audit log: writing an entry failed", "action", e.Action, "err", err)
	}
	writeJSON(w, http.StatusOK, res)
}

// runTest runs the test completion, scrubbing secrets from its error.
func (m *Manager) runTest(ctx context.Context, model string, secrets []string) TestResult {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	one := 1
	start := time.Now()
	_, err := m.o.Bridge().ChatCompletion(ctx, &llmbridge.ChatRequest{Model: model, MaxTokens: &one,
		Messages: []llmbridge.Message{llmbridge.UserMessage("ping")}})
	res := TestResult{OK: err == nil, Model: model, LatencyMS: float64(time.Since(start).Microseconds()) / 1000}
	if err != nil {
		msg := err.Error()
		if ae, ok := err.(*llmbridge.APIError); ok {
			res.Status, msg = ae.Status, ae.Message
		}
		for _, s := range secrets {
			if len(s) >= 4 {
				msg = strings.ReplaceAll(msg, s, "[REDACTED]")
			}
		}
		res.Error = msg
	}
	return res
}

// findProvider finds a provider of any source, keys resolved.
func (m *Manager) findProvider(name string) (configfile.Provider, bool) {
	b := m.base()
	list := slices.Clone(b.Env)
	if b.File != nil {
		list = append(list, b.File.Providers...)
	}
	list = append(list, m.Layer().Providers...)
	i := slices.IndexFunc(list, func(p configfile.Provider) bool { return p.Name == name })
	if i < 0 {
		return configfile.Provider{}, false
	}
	return list[i], true
}

// secretsOf lists a provider's keys, to scrub them from messages.
func secretsOf(p configfile.Provider) []string {
	return slices.Concat([]string{p.Key, p.APIKey}, p.APIKeys, p.More)
}

// document is the YAML of export and import: the file's own shape, so
// an exported document serves as LLMBRIDGE_CONFIG.
type document struct {
	Providers []configfile.Provider  `yaml:"providers,omitempty"`
	Prices    usage.Prices           `yaml:"prices,omitempty"`
	Routes    []configfile.RouteFile `yaml:"routes,omitempty"`
	Cache     *configfile.CacheFile  `yaml:"cache,omitempty"`
	Alerts    *struct {
		Rules []alerts.Rule `yaml:"rules"`
	} `yaml:"alerts,omitempty"`
}

// exportYAML is the stored layer as a YAML file, without its secrets
// (keys, header values, the proxy URL).
func exportYAML(l *configfile.Layer) string {
	d := document{Prices: l.Prices, Routes: l.Routes, Cache: l.Cache}
	for _, p := range l.Providers {
		p.APIKey, p.APIKeys, p.Proxy = "", nil, ""
		names := map[string]string{}
		for h := range p.Headers {
			names[h] = "" // the names only
		}
		if len(names) > 0 {
			p.Headers = names
		}
		d.Providers = append(d.Providers, p)
	}
	if len(l.AlertRules) > 0 {
		d.Alerts = &struct {
			Rules []alerts.Rule `yaml:"rules"`
		}{l.AlertRules}
	}
	return "# LLM Bridge: the configuration stored by the admin API, exported.\n" +
		"# Providers' keys are not exported: importing this keeps the stored ones;\n" +
		"# to use it as LLMBRIDGE_CONFIG give each provider api_key_env.\n" + mustYAML(d)
}

// serveImport adds or replaces the stored items a YAML (or JSON) document
// names, validated together and written in one transaction. A provider
// without a key, proxy or header value keeps its stored one (as export
// leaves them out) while its base_url and Entra authority are unchanged.
func (m *Manager) serveImport(w http.ResponseWriter, r *http.Request) {
	var d document
	if err := readBody(w, r, &d); err != nil {
		fail(w, err)
		return
	}
	var problems, params []string
	for _, p := range d.Providers {
		if err := checkProvider(&p); err != nil {
			problems, params = append(problems, err.Error()), append(params, "providers")
		}
		if src := m.base().providerSource(p.Name); src != "" {
			problems, params = append(problems, m.readOnly("provider", p.Name, src).Error()), append(params, "providers")
		}
	}
	if err := badFields(problems, params); err != nil {
		fail(w, err)
		return
	}
	e := &Entry{Action: "config.import", Target: "config", Fields: map[string]any{"providers": len(d.Providers), "routes": len(d.Routes), "prices": len(d.Prices)}}
	m.change(w, r, e, func(l *configfile.Layer) error { return importInto(l, &d) })
}

// importInto merges d into l, item by item. A provider keeps its stored
// secrets only while it sends them where it did (keepKeys).
func importInto(l *configfile.Layer, d *document) error {
	var errs []error
	for _, p := range d.Providers {
		if i := indexProvider(l, p.Name); i >= 0 {
			if err := keepKeys(&p, &l.Providers[i]); err != nil {
				errs = append(errs, fmt.Errorf("provider %s: %w", p.Name, err))
				continue
			}
			if p.Proxy == "" { // exported without it
				p.Proxy = l.Providers[i].Proxy
			}
			if err := checkIdentity(&p); err != nil {
				errs = append(errs, fmt.Errorf("provider %s: %w", p.Name, err))
				continue
			}
			l.Providers[i] = p
		} else {
			if err := checkIdentity(&p); err != nil {
				errs = append(errs, fmt.Errorf("provider %s: %w", p.Name, err))
				continue
			}
			l.Providers = append(l.Providers, p)
		}
	}
	if len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, err := range errs {
			msgs[i] = err.Error()
		}
		return badFields([]string{strings.Join(msgs, "; ")}, []string{"providers"})
	}
	for _, rt := range d.Routes {
		l.Routes = slices.DeleteFunc(l.Routes, func(x configfile.RouteFile) bool { return x.Name == rt.Name })
		l.Routes = append(l.Routes, rt)
	}
	for k, v := range d.Prices {
		if l.Prices == nil {
			l.Prices = usage.Prices{}
		}
		l.Prices[k] = v
	}
	if d.Cache != nil {
		l.Cache = d.Cache
	}
	if d.Alerts != nil {
		for _, a := range d.Alerts.Rules {
			l.AlertRules = slices.DeleteFunc(l.AlertRules, func(x alerts.Rule) bool { return x.Name == a.Name })
			l.AlertRules = append(l.AlertRules, a)
		}
	}
	return nil
}
