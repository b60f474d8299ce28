package keys

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/llmbridge/llmbridge/internal/alerts"
	"github.com/llmbridge/llmbridge/internal/usage"
)

// Catalog is what a key's models are checked against when the key is
// created or changed (the admin API, the keys command): a budget can only
// count models with a price, and Admit refuses a budgeted key's requests
// to the others (403 model_not_priced).
type Catalog struct {
	// Prices are the prices budgets are charged with; nil: the built-in
	// prices. Their names are known models too.
	Prices usage.Prices
	// Models are the other model names clients can ask for that the
	// caller knows of: a Bridge's model list ("provider/model" and route
	// names). A pattern is checked against these and the price table's
	// names only; a name nobody listed cannot be warned about (Admit still
	// refuses it when it has no price).
	Models []string
	// Priced is the Admitter's Options.Priced; nil: the price table as
	// given (usage.Prices.Priced).
	Priced func(model string) bool
}

// maxNamed is how many unpriced models one warning names.
const maxNamed = 10

// Warnings returns what to tell the operator about a key with policy p
// that does not stop the change: for a key with a budget, each model
// pattern that covers known models without a price (a pattern is priced
// only when every known model it matches is), naming up to ten of them.
// Empty Models (any model) is checked as the pattern "*". Nil when there
// is nothing to say.
func (c Catalog) Warnings(p *Policy) []string {
	if p == nil || !p.budgeted() {
		return nil
	}
	prices := c.Prices
	if prices == nil {
		prices = usage.DefaultPrices()
	}
	priced := c.Priced
	if priced == nil {
		priced = prices.Priced
	}
	known := make([]string, 0, len(prices)+len(c.Models))
	for name := range prices {
		known = append(known, name)
	}
	known = append(known, c.Models...)
	slices.Sort(known)
	known = slices.Compact(known)

	patterns, fields := p.Models, make([]string, len(p.Models))
	for i := range patterns {
		fields[i] = fmt.Sprintf("models[%d] %q", i, patterns[i])
	}
	if len(patterns) == 0 {
		patterns, fields = []string{"*"}, []string{"models (empty: any model)"}
	}
	var out []string
	for i, pat := range patterns {
		if !strings.Contains(pat, "*") {
			if !priced(pat) {
				out = append(out, fields[i]+" has no price, so requests to it will be refused while the key has a budget. "+fixUnpriced)
			}
			continue
		}
		var unpriced []string
		for _, name := range known {
			if Match(pat, name) && !priced(name) {
				unpriced = append(unpriced, name)
			}
		}
		if len(unpriced) > 0 {
			out = append(out, fmt.Sprintf("%s covers models without a price (%s), so requests to them will be refused while the key has a budget. %s",
				fields[i], names(unpriced), fixUnpriced))
		}
	}
	return out
}

// fixUnpriced is how to resolve a warning of Warnings.
const fixUnpriced = "Set a price for each under prices: in the YAML file, or remove the budget."

// names lists up to maxNamed names and how many more there are.
func names(list []string) string {
	if len(list) <= maxNamed {
		return strings.Join(list, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(list[:maxNamed], ", "), len(list)-maxNamed)
}

// AlertBudgets is Budgets for the key_budget alert rules (called by the
// alert loop, off the request path): bounded to 5 seconds, and nothing
// when the store cannot be read (logged).
func (a *Admitter) AlertBudgets() []alerts.Budget {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	list, err := a.Budgets(ctx)
	if err != nil {
		a.log.Warn("budget alerts: reading the keys' spend failed", "err", err)
		return nil
	}
	out := make([]alerts.Budget, len(list))
	for i, b := range list {
		out[i] = alerts.Budget{KeyID: b.KeyID, Name: b.Name, SpentUSD: b.SpentUSD, LimitUSD: b.LimitUSD}
	}
	return out
}
