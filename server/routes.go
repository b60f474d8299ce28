package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/admin"
)

// RouteFile is one route (model group) of the LLMBRIDGE_CONFIG YAML file:
//
//	routes:
//	  - name: smart
//	    strategy: weighted          # weighted | ordered | least-busy | lowest-latency
//	    targets:
//	      - {model: openai/gpt-4o, weight: 3}
//	      - {model: azure-eu/gpt-4o, weight: 1}
//	    fallbacks: [anthropic/claude-sonnet-4-5]
//	    retry_on: [connect, timeout, 429, 5xx]
//
// Names, providers, strategies, fallbacks and cycles are checked by
// llmbridge.New, which lists every problem; the file's own checks are
// the ones the YAML alone can tell (an explicit weight ≤ 0).
type RouteFile struct {
	Name      string            `yaml:"name"`
	Strategy  string            `yaml:"strategy"`
	Targets   []RouteTargetFile `yaml:"targets"`
	Fallbacks []string          `yaml:"fallbacks"`
	RetryOn   []string          `yaml:"retry_on"`
}

// RouteTargetFile is one target of a RouteFile; weight defaults to 1.
type RouteTargetFile struct {
	Model  string `yaml:"model"`
	Weight *int   `yaml:"weight"`
}

// routes converts the file's routes, reporting every problem at once.
func routes(list []RouteFile, where string) ([]llmbridge.Route, error) {
	var out []llmbridge.Route
	var errs []error
	for i, rf := range list {
		r := llmbridge.Route{Name: rf.Name, Strategy: llmbridge.Strategy(rf.Strategy), Fallbacks: rf.Fallbacks, RetryOn: rf.RetryOn}
		for j, t := range rf.Targets {
			w := 1
			if t.Weight != nil {
				if w = *t.Weight; w <= 0 {
					errs = append(errs, fmt.Errorf("%s: route %d (%s) target %d (%s): weight %d must be positive", where, i+1, rf.Name, j+1, t.Model, w))
					continue
				}
			}
			r.Targets = append(r.Targets, llmbridge.RouteTarget{Model: t.Model, Weight: w})
		}
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}

// splitKeys reads a provider key variable: one key, or a comma list
// ("k1,k2,k3"). An empty entry is an error (a stray comma would otherwise
// hide a missing key).
func splitKeys(name, v string) ([]string, error) {
	if v == "" {
		return nil, nil
	}
	parts := strings.Split(v, ",")
	for i, p := range parts {
		if parts[i] = strings.TrimSpace(p); parts[i] == "" {
			return nil, fmt.Errorf("%s: key %d of the comma list is empty", name, i+1)
		}
	}
	return parts, nil
}

// withKeys puts a key list into a provider config: the first as APIKey,
// the rest as APIKeys.
func withKeys(pc llmbridge.ProviderConfig, keys []string) llmbridge.ProviderConfig {
	if len(keys) > 0 {
		pc.APIKey, pc.APIKeys = keys[0], keys[1:]
	}
	return pc
}

// health is the admin API's view of the bridge being served now.
func (s *server) health() admin.HealthSource {
	return admin.HealthFunc(func() []llmbridge.TargetHealth {
		if b := s.cur.Load(); b != nil {
			return b.Health()
		}
		return nil
	})
}
