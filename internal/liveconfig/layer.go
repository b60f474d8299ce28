package liveconfig

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/llmbridge/llmbridge/internal/alerts"
	"github.com/llmbridge/llmbridge/internal/configfile"
	"github.com/llmbridge/llmbridge/internal/usage"
	"go.yaml.in/yaml/v3"
)

// keys are a provider's secrets, as a row's secret holds them: its keys,
// and its headers and proxy URL, which may carry credentials too.
type keys struct {
	APIKey  string            `json:"api_key,omitempty"`
	APIKeys []string          `json:"api_keys,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Proxy   string            `json:"proxy,omitempty"`
}

// decodeStrict decodes YAML (or JSON, which is YAML) into v; unknown
// fields are errors.
func decodeStrict(b []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	return dec.Decode(v)
}

func mustYAML(v any) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		panic(err) // the item types always marshal
	}
	return string(b)
}

// rowsOf turns a layer into rows, one per item.
func rowsOf(l *configfile.Layer) []row {
	var out []row
	for _, p := range l.Providers {
		r := row{Kind: KindProvider, Name: p.Name}
		if k := (keys{p.APIKey, p.APIKeys, p.Headers, p.Proxy}); k.APIKey != "" || len(k.APIKeys)+len(k.Headers) > 0 || k.Proxy != "" {
			b, _ := json.Marshal(k)
			r.Secret = string(b)
		}
		p.APIKey, p.APIKeys, p.Key, p.More, p.Headers, p.Proxy = "", nil, "", nil, nil, ""
		r.Body = mustYAML(p)
		out = append(out, r)
	}
	for _, rt := range l.Routes {
		out = append(out, row{Kind: KindRoute, Name: rt.Name, Body: mustYAML(rt)})
	}
	for _, m := range sortedKeys(l.Prices) {
		out = append(out, row{Kind: KindPrice, Name: m, Body: mustYAML(l.Prices[m])})
	}
	if l.Cache != nil {
		out = append(out, row{Kind: KindCache, Body: mustYAML(l.Cache)})
	}
	for _, a := range l.AlertRules {
		out = append(out, row{Kind: KindAlertRule, Name: a.Name, Body: mustYAML(a)})
	}
	return out
}

// layerOf turns rows back into a layer.
func layerOf(rows []row) (*configfile.Layer, error) {
	l := &configfile.Layer{}
	for _, r := range rows {
		var err error
		switch r.Kind {
		case KindProvider:
			var p configfile.Provider
			err = decodeStrict([]byte(r.Body), &p)
			if len(p.APIKeyEnvs) == 0 {
				p.APIKeyEnvs = nil // written as [] by rowsOf: none
			}
			p.APIKeys, p.Headers = nil, nil // never in the body: the secret has them
			if err == nil && r.Secret != "" {
				var k keys
				err = json.Unmarshal([]byte(r.Secret), &k)
				p.APIKey, p.APIKeys, p.Headers, p.Proxy = k.APIKey, k.APIKeys, k.Headers, k.Proxy
			}
			l.Providers = append(l.Providers, p)
		case KindRoute:
			var rt configfile.RouteFile
			err = decodeStrict([]byte(r.Body), &rt)
			l.Routes = append(l.Routes, rt)
		case KindPrice:
			var p usage.Price
			err = decodeStrict([]byte(r.Body), &p)
			if l.Prices == nil {
				l.Prices = usage.Prices{}
			}
			l.Prices[r.Name] = p
		case KindCache:
			l.Cache = &configfile.CacheFile{}
			err = decodeStrict([]byte(r.Body), l.Cache)
		case KindAlertRule:
			var a alerts.Rule
			err = decodeStrict([]byte(r.Body), &a)
			l.AlertRules = append(l.AlertRules, a)
		default:
			err = fmt.Errorf("unknown kind")
		}
		if err != nil {
			return nil, &unreadable{fmt.Errorf("%s: stored item %s does not read: %w", configfile.StoreLabel, r.id(), err)}
		}
	}
	return l, nil
}

// diff returns the rows of after that are new or changed against
// before, and those of before that after lacks.
func diff(before, after []row) (puts, dels []row) {
	old := map[string]row{}
	for _, r := range before {
		old[r.id()] = r
	}
	for _, r := range after {
		if o, ok := old[r.id()]; !ok || o != r {
			puts = append(puts, r)
		}
		delete(old, r.id())
	}
	for _, r := range before {
		if _, gone := old[r.id()]; gone {
			dels = append(dels, r)
		}
	}
	return puts, dels
}

// clone deep-copies a layer through its rows.
func clone(l *configfile.Layer) *configfile.Layer {
	c, err := layerOf(rowsOf(l))
	if err != nil {
		panic(err) // rowsOf's output always reads back
	}
	return c
}
