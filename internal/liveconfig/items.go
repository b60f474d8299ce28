package liveconfig

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/llmbridge/llmbridge/internal/alerts"
	"github.com/llmbridge/llmbridge/internal/configfile"
	"github.com/llmbridge/llmbridge/internal/usage"
)

// nameRE is what a provider, route or alert rule name may be: it becomes
// part of model names ("name/model") and of URLs.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// badFields is a 400 naming every bad field.
func badFields(problems []string, params []string) error {
	if len(problems) == 0 {
		return nil
	}
	return &httpError{status: http.StatusBadRequest, code: "invalid_field", param: params[0], msg: strings.Join(problems, "; ")}
}

// checkName checks a name field.
func checkName(field, name string) (problem string) {
	switch {
	case name == "":
		return field + ": required"
	case !nameRE.MatchString(name):
		return fmt.Sprintf("%s %q: use letters, digits, '.', '_' and '-' (up to 64, starting with a letter or digit)", field, name)
	}
	return ""
}

// checkProvider checks what the fields alone can tell; the rest (kind,
// keys, proxy) is checked with the whole configuration, as at start-up.
// A provider stored by the admin API carries its own secrets (api_key,
// api_keys, sealed): it may not name an environment variable, a file or
// the bridge's own cloud identity, which the API would then send to the
// base_url it names.
func checkProvider(p *configfile.Provider) error {
	var problems, params []string
	add := func(param, problem string) {
		if problem != "" {
			problems, params = append(problems, problem), append(params, param)
		}
	}
	add("name", checkName("name", p.Name))
	if p.BaseURL != "" {
		add("base_url", checkBaseURL(p.BaseURL))
	}
	for i, m := range p.Models {
		if strings.TrimSpace(m) == "" {
			add("models", fmt.Sprintf("models: entry %d is empty", i+1))
		}
	}
	if p.Proxy != "" {
		if u, err := url.Parse(p.Proxy); err != nil || u.Host == "" {
			add("proxy", "proxy: want a URL such as http://host:port or socks5h://host:port")
		}
	}
	if p.APIKeyEnv != "" {
		add("api_key_env", "api_key_env: not accepted by the admin API (it would read the bridge's environment): send the key itself as api_key, or configure the provider in the YAML file")
	}
	if len(p.APIKeyEnvs) > 0 {
		add("api_key_envs", "api_key_envs: not accepted by the admin API (it would read the bridge's environment): send the keys themselves as api_keys, or configure the provider in the YAML file")
	}
	if p.Entra != nil {
		if p.Entra.ClientSecretEnv != "" {
			add("entra.client_secret_env", "entra.client_secret_env: not accepted by the admin API (it would read the bridge's environment)")
		}
		add("entra", "entra: Microsoft Entra ID credentials are not accepted by the admin API: use api_key, or configure the provider in the YAML file (LLMBRIDGE_CONFIG)")
	}
	if p.CredentialsFile != "" {
		add("credentials_file", "credentials_file: not accepted by the admin API (it would read a file of the bridge's host): configure the provider in the YAML file (LLMBRIDGE_CONFIG)")
	}
	if p.Kind == "vertex" {
		add("kind", "kind vertex: not accepted by the admin API (it would use the bridge's own Google credentials): configure the provider in the YAML file (LLMBRIDGE_CONFIG)")
	}
	return badFields(problems, params)
}

// secretQuery are the query parameters base_url may not carry: the view,
// the audit log and the export show base_url in clear.
var secretQuery = []string{"key", "api_key", "apikey", "api-key", "token", "access_token"}

// checkBaseURL checks base_url: an http(s) URL without user info or a
// key in its query.
func checkBaseURL(s string) (problem string) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("base_url %q: want an http:// or https:// URL", s)
	}
	if u.User != nil {
		return "base_url: user info (user:password@) is not accepted: base_url is shown in clear; send the key as api_key or a header"
	}
	for q := range u.Query() {
		if slices.Contains(secretQuery, strings.ToLower(q)) {
			return fmt.Sprintf("base_url: the query parameter %q is not accepted: base_url is shown in clear; send the key as api_key or a header", q)
		}
	}
	return ""
}

// checkIdentity refuses a stored provider that would use the bridge's
// own cloud identity: kind bedrock without a key of its own (the host's
// AWS credentials). It checks p as it will be stored (keys kept).
func checkIdentity(p *configfile.Provider) error {
	if p.Kind == "bedrock" && p.APIKey == "" && len(p.APIKeys) == 0 {
		return badFields([]string{"api_key: kind bedrock needs api_key from the admin API (without one it would use the bridge's own AWS credentials): send it, or configure the provider in the YAML file (LLMBRIDGE_CONFIG)"}, []string{"api_key"})
	}
	return nil
}

// hasKeys reports whether p names any key.
func hasKeys(p *configfile.Provider) bool {
	return p.APIKey != "" || p.APIKeyEnv != "" || len(p.APIKeys)+len(p.APIKeyEnvs) > 0
}

// sameDestination reports whether p sends its requests where old does:
// the same base_url, no new proxy and the same Entra authority.
func sameDestination(p, old *configfile.Provider) bool {
	authority := func(x *configfile.Provider) string {
		if x.Entra == nil {
			return ""
		}
		return x.Entra.Authority
	}
	return p.BaseURL == old.BaseURL && (p.Proxy == "" || p.Proxy == old.Proxy) && authority(p) == authority(old)
}

// keepKeys gives p old's keys when p names none (an omitted api_key
// keeps the stored one), and old's value of a header p names without one
// — only while p sends them where old did (sameDestination): otherwise
// it is a 400 asking for the secrets again, so a change of base_url,
// proxy or authority cannot send the stored secrets to another host.
// Variables (api_key_env, api_key_envs) are never carried over.
func keepKeys(p, old *configfile.Provider) error {
	var problems, params []string
	same := sameDestination(p, old)
	if !hasKeys(p) {
		p.APIKeyEnv, p.APIKeyEnvs, p.APIKeys = "", nil, nil // an exported [] says nothing
	}
	if !hasKeys(p) && (old.APIKey != "" || len(old.APIKeys) > 0) {
		if !same {
			problems, params = append(problems, "api_key: base_url, proxy or the Entra authority changed: send the key (api_key or api_keys) again"), append(params, "api_key")
		} else {
			p.APIKey, p.APIKeys = old.APIKey, old.APIKeys
		}
	}
	for _, h := range slices.Sorted(maps.Keys(p.Headers)) {
		if p.Headers[h] == "" && old.Headers[h] != "" {
			if !same {
				problems, params = append(problems, fmt.Sprintf("headers: base_url, proxy or the Entra authority changed: send the value of %s again", h)), append(params, "headers")
				continue
			}
			p.Headers[h] = old.Headers[h]
		}
	}
	return badFields(problems, params)
}

// changed are the fields of after (JSON names) that differ from before;
// nil before is everything.
func changed(before, after any) map[string]any {
	var b, a map[string]any
	bj, _ := json.Marshal(before)
	aj, _ := json.Marshal(after)
	_ = json.Unmarshal(bj, &b)
	_ = json.Unmarshal(aj, &a)
	out := map[string]any{}
	for k, v := range a {
		if !reflect.DeepEqual(b[k], v) && (b != nil || !empty(v)) {
			out[k] = v
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out[k] = nil
		}
	}
	delete(out, "source")
	return out
}

// empty reports whether a JSON value says nothing: null, "", [] or {}.
func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// auditProvider is a provider as the audit log shows it: no secret, not
// even its last four characters; "api_key" says only that it changed.
func auditProvider(p *configfile.Provider) ProviderView {
	v := providerView(*p, "")
	v.APIKeyLast4 = ""
	return v
}

func indexProvider(l *configfile.Layer, name string) int {
	return slices.IndexFunc(l.Providers, func(p configfile.Provider) bool { return p.Name == name })
}

func (m *Manager) base() Base {
	if m.o.Base == nil {
		return Base{}
	}
	return m.o.Base()
}

// readOnly is the 409 for an item the environment or the file defines.
func (m *Manager) readOnly(what, name, source string) error {
	return conflict("%s %q is defined in %s: it is read-only here", what, name, m.base().where(source))
}

func (m *Manager) createProvider(w http.ResponseWriter, r *http.Request) {
	var p configfile.Provider
	if err := readBody(w, r, &p); err != nil {
		fail(w, err)
		return
	}
	if err := checkProvider(&p); err != nil {
		fail(w, err)
		return
	}
	if src := m.base().providerSource(p.Name); src != "" {
		fail(w, m.readOnly("provider", p.Name, src))
		return
	}
	fields := changed(nil, auditProvider(&p))
	if hasKeys(&p) {
		fields["api_key"] = "set"
	}
	if err := checkIdentity(&p); err != nil {
		fail(w, err)
		return
	}
	m.change(w, r, &Entry{Action: "provider.create", Target: "provider/" + p.Name, Fields: fields}, func(l *configfile.Layer) error {
		if indexProvider(l, p.Name) >= 0 {
			return conflict("provider %q exists: PUT /admin/api/providers/%s changes it", p.Name, p.Name)
		}
		l.Providers = append(l.Providers, p)
		return nil
	})
}

func (m *Manager) putProvider(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var p configfile.Provider
	if err := readBody(w, r, &p); err != nil {
		fail(w, err)
		return
	}
	if p.Name == "" {
		p.Name = name
	}
	if p.Name != name {
		fail(w, badFields([]string{fmt.Sprintf("name %q differs from the URL's %q (renaming is delete and create)", p.Name, name)}, []string{"name"}))
		return
	}
	if err := checkProvider(&p); err != nil {
		fail(w, err)
		return
	}
	if src := m.base().providerSource(name); src != "" {
		fail(w, m.readOnly("provider", name, src))
		return
	}
	e := Entry{Action: "provider.update", Target: "provider/" + name}
	m.change(w, r, &e, func(l *configfile.Layer) error {
		i := indexProvider(l, name)
		if i < 0 {
			if err := checkIdentity(&p); err != nil {
				return err
			}
			e.Action, e.Fields = "provider.create", changed(nil, auditProvider(&p))
			l.Providers = append(l.Providers, p)
			return nil
		}
		if err := keepKeys(&p, &l.Providers[i]); err != nil {
			return err
		}
		if err := checkIdentity(&p); err != nil {
			return err
		}
		e.Fields = changed(auditProvider(&l.Providers[i]), auditProvider(&p))
		if hasKeys(&p) && !reflect.DeepEqual(keys{APIKey: p.APIKey, APIKeys: p.APIKeys}, keys{APIKey: l.Providers[i].APIKey, APIKeys: l.Providers[i].APIKeys}) {
			e.Fields["api_key"] = "changed"
		}
		l.Providers[i] = p
		return nil
	})
}

func (m *Manager) putRoute(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var rf configfile.RouteFile
	if err := readBody(w, r, &rf); err != nil {
		fail(w, err)
		return
	}
	if rf.Name == "" {
		rf.Name = name
	}
	if p := checkName("name", rf.Name); p != "" || rf.Name != name {
		fail(w, badFields([]string{cmpOr(p, fmt.Sprintf("name %q differs from the URL's %q", rf.Name, name))}, []string{"name"}))
		return
	}
	if src := m.base().routeSource(name); src != "" {
		fail(w, m.readOnly("route", name, src))
		return
	}
	e := Entry{Action: "route.put", Target: "route/" + name}
	m.change(w, r, &e, func(l *configfile.Layer) error {
		i := slices.IndexFunc(l.Routes, func(x configfile.RouteFile) bool { return x.Name == name })
		if i < 0 {
			e.Fields = changed(nil, item(rf, "", ""))
			l.Routes = append(l.Routes, rf)
			return nil
		}
		e.Fields = changed(item(l.Routes[i], "", ""), item(rf, "", ""))
		l.Routes[i] = rf
		return nil
	})
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (m *Manager) putPrice(w http.ResponseWriter, r *http.Request) {
	model := r.PathValue("model")
	var p usage.Price
	if err := readBody(w, r, &p); err != nil {
		fail(w, err)
		return
	}
	if !strings.Contains(model, "/") || strings.HasPrefix(model, "/") || strings.HasSuffix(model, "/") {
		fail(w, badFields([]string{fmt.Sprintf("model %q: want provider/model, e.g. openai/gpt-4o", model)}, []string{"model"}))
		return
	}
	if src := m.base().priceSource(model); src != "" {
		fail(w, m.readOnly("price", model, src))
		return
	}
	e := Entry{Action: "price.put", Target: "price/" + model}
	m.change(w, r, &e, func(l *configfile.Layer) error {
		old, had := l.Prices[model]
		if had {
			e.Fields = changed(old, p)
		} else {
			e.Fields = changed(nil, p)
		}
		if l.Prices == nil {
			l.Prices = usage.Prices{}
		}
		l.Prices[model] = p
		return nil
	})
}

func (m *Manager) putCache(w http.ResponseWriter, r *http.Request) {
	var c configfile.CacheFile
	if err := readBody(w, r, &c); err != nil {
		fail(w, err)
		return
	}
	if b := m.base(); b.File != nil && b.File.Cache != nil {
		fail(w, m.readOnly("the cache policy", "cache", SourceFile))
		return
	}
	e := Entry{Action: "cache_policy.put", Target: "cache/policy"}
	m.change(w, r, &e, func(l *configfile.Layer) error {
		var before any
		if l.Cache != nil {
			before = item(l.Cache, "", "")
		}
		e.Fields = changed(before, item(c, "", ""))
		l.Cache = &c
		return nil
	})
}

func (m *Manager) putRule(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var a alerts.Rule
	if err := readBody(w, r, &a); err != nil {
		fail(w, err)
		return
	}
	if a.Name == "" {
		a.Name = name
	}
	if p := checkName("name", a.Name); p != "" || a.Name != name {
		fail(w, badFields([]string{cmpOr(p, fmt.Sprintf("name %q differs from the URL's %q", a.Name, name))}, []string{"name"}))
		return
	}
	if src := m.base().ruleSource(name); src != "" {
		fail(w, m.readOnly("alert rule", name, src))
		return
	}
	e := Entry{Action: "alert_rule.put", Target: "alert_rule/" + name}
	m.change(w, r, &e, func(l *configfile.Layer) error {
		i := slices.IndexFunc(l.AlertRules, func(x alerts.Rule) bool { return x.Name == name })
		if i < 0 {
			e.Fields = changed(nil, item(a, "", ""))
			l.AlertRules = append(l.AlertRules, a)
			return nil
		}
		e.Fields = changed(item(l.AlertRules[i], "", ""), item(a, "", ""))
		l.AlertRules[i] = a
		return nil
	})
}
