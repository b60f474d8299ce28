package main

import (
	"net/http"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/keys"
	"github.com/llmbridge/llmbridge/internal/lifecycle"
	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/usage"
)

// throttled serves h for the endpoints outside the model API that check
// a key — the admin API, the admin UI's sign-in, the live feed, /metrics —
// under the same AuthThrottle as the model API: a source that is backed
// off is answered 429 before its key is looked at, and every 401 h
// answers counts against it (sign-ins refused by the UI are counted by
// its SignInFailed hook).
func (s *server) throttled(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d := s.throttle.Wait(r); d > 0 {
			e := llmbridge.ThrottledError(d)
			w.Header().Set("Retry-After", e.RetryAfter)
			openai.WriteError(w, openai.Errorf(e.Status, e.Type, e.Code, "%s", e.Message))
			return
		}
		sw := &lifecycle.StatusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.Status == http.StatusUnauthorized {
			s.throttle.Fail(r)
		}
	})
}

// priced reports whether every target the current Bridge sends a model
// name to has a price (keys.Options.Priced: budgets refuse the rest). A
// name nothing serves passes: routing answers it 404.
func (s *server) priced(model string) bool { return pricedOn(s.cur.Load(), *s.prices.Load(), model) }

// pricedOn reports whether every target b sends model to has a price in p.
func pricedOn(b *llmbridge.Bridge, p usage.Prices, model string) bool {
	for _, t := range b.Targets(model) {
		if _, ok := p.Lookup(t.Provider, t.Model); !ok {
			return false
		}
	}
	return true
}

// warnUnpricedKeys says which budgeted keys of the YAML file name models
// without a price (refused while the budget holds), at start and reload.
func (s *server) warnUnpricedKeys(cfg *config) {
	c := keys.Catalog{Prices: *s.prices.Load(), Models: s.modelIDs(), Priced: s.priced}
	for id, p := range cfg.KeyPolicies {
		for _, w := range c.Warnings(&p) {
			s.log.Warn("YAML keys: "+w, "key_id", id)
		}
	}
}

// modelIDs lists the current Bridge's model names (provider/model and
// routes).
func (s *server) modelIDs() (ids []string) {
	for _, m := range s.cur.Load().Models() {
		ids = append(ids, m.ID)
	}
	return ids
}

// setPrices makes p the prices budgets and warnings are judged by.
func (s *server) setPrices(p usage.Prices) { s.prices.Store(&p) }
