package configfile

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/llmbridge/llmbridge"
)

// HealthCheckFile is a provider's or a route target's active health
// check (llmbridge.HealthCheck):
//
//	providers:
//	  - name: azure-eu
//	    health_check: {interval: 30s, model: gpt-4o}   # model: the first of models when omitted
//	routes:
//	  - name: smart
//	    targets:
//	      - {model: openai/gpt-4o, health_check: {interval: 1m}}
//
// Interval defaults to DefaultCheckInterval and must be at least a second.
type HealthCheckFile struct {
	Interval time.Duration `yaml:"interval"`
	Model    string        `yaml:"model"`
}

// DefaultCheckInterval is a health check's interval when the file names none.
const DefaultCheckInterval = 30 * time.Second

// healthChecks collects the providers' and route targets' health checks,
// reporting every problem at once.
func (s *schema) healthChecks(where string) ([]llmbridge.HealthCheck, error) {
	var out []llmbridge.HealthCheck
	var errs []error
	add := func(at string, hc *HealthCheckFile, provider, model string) {
		iv := hc.Interval
		if iv == 0 {
			iv = DefaultCheckInterval
		}
		switch {
		case iv < time.Second:
			errs = append(errs, fmt.Errorf("%s: %s: health_check interval %s is under 1s", where, at, iv))
		case provider == "" || model == "":
			errs = append(errs, fmt.Errorf("%s: %s: health_check needs a model (provider/model for a route target)", where, at))
		default:
			out = append(out, llmbridge.HealthCheck{Target: llmbridge.Target{Provider: provider, Model: model}, Interval: iv})
		}
	}
	for i, p := range s.Providers {
		if hc := p.HealthCheck; hc != nil {
			model := hc.Model
			if model == "" && len(p.Models) > 0 {
				model = p.Models[0]
			}
			add(fmt.Sprintf("provider %d (%s)", i+1, p.Name), hc, p.Name, model)
		}
	}
	for i, r := range s.Routes {
		for j, t := range r.Targets {
			if hc := t.HealthCheck; hc != nil {
				provider, model, _ := strings.Cut(t.Model, "/")
				if hc.Model != "" {
					model = hc.Model
				}
				add(fmt.Sprintf("route %d (%s) target %d (%s)", i+1, r.Name, j+1, t.Model), hc, provider, model)
			}
		}
	}
	return out, errors.Join(errs...)
}
