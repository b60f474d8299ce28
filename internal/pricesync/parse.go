package pricesync

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/llmbridge/llmbridge/internal/usage"
)

// MaxPrice is the highest price per million tokens a source may state;
// above it a number is taken for a unit error (a price per token read as
// per million, cents as dollars) and its entry is skipped.
const MaxPrice = 5000.0

// maxSkipped is the share of a source's priced entries that may be
// skipped as insane before the whole source is refused as broken.
const maxSkipped = 0.1

// Parse reads a price list in LiteLLM's model_prices_and_context_window.json
// format (USD per token, litellm_provider) or models.dev's api.json
// format (providers → models → cost in USD per million tokens) into
// prices keyed "provider/model", each marked with source and asOf. It
// refuses the whole list — never returns a part of it — when it is not
// JSON of either shape, prices nothing, or more than a tenth of its
// priced entries are insane (negative, not finite, above MaxPrice);
// fewer insane entries are left out and counted in skipped.
func Parse(data []byte, source string, asOf time.Time) (p usage.Prices, skipped int, err error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, 0, fmt.Errorf("price list: not a JSON object: %w", err)
	}
	p = usage.Prices{}
	var seen int
	if modelsDev(top) {
		seen, skipped = parseModelsDev(top, p)
	} else {
		seen, skipped = parseLiteLLM(top, p)
	}
	switch {
	case len(p) == 0:
		return nil, skipped, errors.New("price list: no priced model in it (neither LiteLLM's nor models.dev's format?)")
	case float64(skipped) > maxSkipped*float64(seen):
		return nil, skipped, fmt.Errorf("price list: %d of %d prices are not sane numbers; the list is refused", skipped, seen)
	}
	for k, v := range p {
		v.Source, v.AsOf = source, asOf
		if v.LongContext != nil {
			v.LongContext.Source, v.LongContext.AsOf = source, asOf
		}
		p[k] = v
	}
	if err := p.Validate(); err != nil {
		return nil, skipped, fmt.Errorf("price list: %w", err)
	}
	return p, skipped, nil
}

// modelsDev reports whether the list is models.dev's: providers holding
// a models object.
func modelsDev(top map[string]json.RawMessage) bool {
	for _, v := range top {
		var probe struct {
			Models map[string]json.RawMessage `json:"models"`
		}
		if json.Unmarshal(v, &probe) == nil && probe.Models != nil {
			return true
		}
	}
	return false
}

// providerNames maps a source's provider ids to the bridge's provider
// names where they differ.
var providerNames = map[string]string{"google": "gemini", "vertex_ai-language-models": "vertex", "google-vertex": "vertex", "azure_ai": "azure"}

func bridgeProvider(id string) string {
	if n, ok := providerNames[id]; ok {
		return n
	}
	return id
}

type liteLLMEntry struct {
	Provider        string   `json:"litellm_provider"`
	Input           *float64 `json:"input_cost_per_token"`
	Output          *float64 `json:"output_cost_per_token"`
	CacheRead       *float64 `json:"cache_read_input_token_cost"`
	CacheWrite      *float64 `json:"cache_creation_input_token_cost"`
	Reasoning       *float64 `json:"output_cost_per_reasoning_token"`
	InputAbove200k  *float64 `json:"input_cost_per_token_above_200k_tokens"`
	OutputAbove200k *float64 `json:"output_cost_per_token_above_200k_tokens"`
}

// parseLiteLLM adds LiteLLM's entries (prices per token) to p, keyed by
// litellm_provider and the name without that provider's prefix.
func parseLiteLLM(top map[string]json.RawMessage, p usage.Prices) (seen, skipped int) {
	for name, raw := range top {
		var e liteLLMEntry
		if name == "sample_spec" || json.Unmarshal(raw, &e) != nil || e.Provider == "" || e.Input == nil && e.Output == nil {
			continue
		}
		seen++
		perM := func(v *float64) *float64 { return scale(v, 1e6) }
		pr := usage.Price{Input: val(perM(e.Input)), Output: val(perM(e.Output)), CachedInput: perM(e.CacheRead), CacheWrite: perM(e.CacheWrite), Reasoning: perM(e.Reasoning)}
		if e.InputAbove200k != nil || e.OutputAbove200k != nil {
			lc := pr
			lc.Input, lc.Output = or(perM(e.InputAbove200k), pr.Input), or(perM(e.OutputAbove200k), pr.Output)
			pr.LongContext = &usage.LongContextPrice{Above: 200_000, Price: lc}
		}
		model := strings.TrimPrefix(name, e.Provider+"/")
		if !add(p, bridgeProvider(e.Provider), model, pr) {
			skipped++
		}
	}
	return seen, skipped
}

type modelsDevCost struct {
	Input      *float64       `json:"input"`
	Output     *float64       `json:"output"`
	CacheRead  *float64       `json:"cache_read"`
	CacheWrite *float64       `json:"cache_write"`
	Reasoning  *float64       `json:"reasoning"`
	Over200k   *modelsDevCost `json:"context_over_200k"`
}

func (c *modelsDevCost) price() usage.Price {
	return usage.Price{Input: val(c.Input), Output: val(c.Output), CachedInput: c.CacheRead, CacheWrite: c.CacheWrite, Reasoning: c.Reasoning}
}

// parseModelsDev adds models.dev's entries (prices per million tokens) to p.
func parseModelsDev(top map[string]json.RawMessage, p usage.Prices) (seen, skipped int) {
	for id, raw := range top {
		var prov struct {
			Models map[string]struct {
				Cost *modelsDevCost `json:"cost"`
			} `json:"models"`
		}
		if json.Unmarshal(raw, &prov) != nil {
			continue
		}
		for model, m := range prov.Models {
			if m.Cost == nil || m.Cost.Input == nil && m.Cost.Output == nil {
				continue
			}
			seen++
			pr := m.Cost.price()
			if o := m.Cost.Over200k; o != nil {
				pr.LongContext = &usage.LongContextPrice{Above: 200_000, Price: o.price()}
			}
			if !add(p, bridgeProvider(id), model, pr) {
				skipped++
			}
		}
	}
	return seen, skipped
}

// add puts a sane price under provider/model and reports whether it was.
func add(p usage.Prices, provider, model string, pr usage.Price) bool {
	if provider == "" || model == "" || strings.ContainsAny(provider, "/ ") || !sane(pr) || pr.LongContext != nil && !sane(pr.LongContext.Price) {
		return false
	}
	p[provider+"/"+model] = pr
	return true
}

func sane(pr usage.Price) bool {
	for _, v := range []*float64{&pr.Input, &pr.Output, pr.CachedInput, pr.CacheWrite, pr.Reasoning} {
		if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0) || *v < 0 || *v > MaxPrice) {
			return false
		}
	}
	return true
}

// scale returns v×k rounded to 1e-9 (USD per token × 1e6 in floating
// point is not exact), nil for nil.
func scale(v *float64, k float64) *float64 {
	if v == nil {
		return nil
	}
	x := *v * k
	if !math.IsNaN(x) && !math.IsInf(x, 0) {
		x = math.Round(x*1e9) / 1e9
	}
	return &x
}

func val(v *float64) float64 {
	if v == nil {
		return 0
	}
	return *v
}

func or(v *float64, def float64) float64 {
	if v == nil {
		return def
	}
	return *v
}
