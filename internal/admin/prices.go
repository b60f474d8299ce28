package admin

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/usage"
)

// PriceRow is one price in force, as GET /admin/api/prices lists it:
// the price (USD per million tokens), where it comes from (the built-in
// table, the YAML file, a synced price list's URL) and how old it is.
type PriceRow struct {
	Model string `json:"model"` // provider/model
	usage.Price
	// AgeDays is the whole days since AsOf; absent without a date (the
	// YAML file's prices).
	AgeDays *int `json:"age_days,omitempty"`
}

// PricesPage is the GET /admin/api/prices response.
type PricesPage struct {
	// Prices are sorted by model.
	Prices []PriceRow `json:"prices"`
	// Sources count the prices of each source, with the newest date.
	Sources []PriceSource `json:"sources"`
}

// PriceSource is one source of the prices in force.
type PriceSource struct {
	Source string    `json:"source"`
	AsOf   time.Time `json:"as_of,omitzero"`
	Models int       `json:"models"`
}

// servePrices answers GET /admin/api/prices from the prices SetPrices
// gave (the ones budgets and costs use).
func (a *API) servePrices(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		adminError(w, http.StatusMethodNotAllowed, openai.TypeInvalidRequest, "method_not_allowed", "%s is not allowed here; use GET", r.Method)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(pricesPage(a.prices, time.Now()))
}

// pricesPage lists p at now.
func pricesPage(p usage.Prices, now time.Time) PricesPage {
	page := PricesPage{Prices: make([]PriceRow, 0, len(p)), Sources: PriceSources(p)}
	for model, pr := range p {
		row := PriceRow{Model: model, Price: pr}
		if !pr.AsOf.IsZero() {
			d := max(int(now.Sub(pr.AsOf)/(24*time.Hour)), 0)
			row.AgeDays = &d
		}
		page.Prices = append(page.Prices, row)
	}
	slices.SortFunc(page.Prices, func(x, y PriceRow) int { return cmp.Compare(x.Model, y.Model) })
	return page
}

// PriceSources counts p's prices by source, each with its newest date,
// sorted by source.
func PriceSources(p usage.Prices) []PriceSource {
	bySource := map[string]*PriceSource{}
	for _, pr := range p {
		s := bySource[pr.Source]
		if s == nil {
			s = &PriceSource{Source: pr.Source}
			bySource[pr.Source] = s
		}
		s.Models++
		if pr.AsOf.After(s.AsOf) {
			s.AsOf = pr.AsOf
		}
	}
	out := make([]PriceSource, 0, len(bySource))
	for _, s := range bySource {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(x, y PriceSource) int { return cmp.Compare(x.Source, y.Source) })
	return out
}

// WritePriceSources writes the table report's footer line: where the
// prices in force come from and how old they are (the report's costs were
// priced when its requests were recorded).
func WritePriceSources(w io.Writer, p usage.Prices) error {
	var parts []string
	for _, s := range PriceSources(p) {
		part := fmt.Sprintf("%s (%d models", s.Source, s.Models)
		if !s.AsOf.IsZero() {
			part += ", as of " + s.AsOf.Format(time.DateOnly)
		}
		parts = append(parts, part+")")
	}
	if len(parts) == 0 {
		return nil
	}
	_, err := fmt.Fprintf(w, "\nPrices in force: %s.\n", strings.Join(parts, "; "))
	return err
}
