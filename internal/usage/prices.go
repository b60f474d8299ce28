package usage

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/llmbridge/llmbridge"
)

// Price is what a model costs in USD per million tokens. A nil field is
// "the same as Input" for CachedInput and CacheWrite, and "the same as
// Output" for Reasoning.
type Price struct {
	Input       float64  `yaml:"input" json:"input"`
	CachedInput *float64 `yaml:"cached_input" json:"cached_input,omitempty"` // prompt tokens read from the provider's cache
	CacheWrite  *float64 `yaml:"cache_write" json:"cache_write,omitempty"`   // prompt tokens written to it (Anthropic: 1.25 × input)
	Output      float64  `yaml:"output" json:"output"`
	Reasoning   *float64 `yaml:"reasoning" json:"reasoning,omitempty"` // reasoning tokens, when priced apart from output
	// LongContext, when set, replaces the prices above for requests whose
	// prompt has more than LongContext.Above tokens (Gemini 2.5 Pro bills
	// the whole request at its higher rate above 200k prompt tokens).
	LongContext *LongContextPrice `yaml:"long_context" json:"long_context,omitempty"`
	// Source says where the price comes from (BuiltinSource, the YAML
	// file, a price list's URL) and AsOf how recent it is (the list's
	// date); the admin API shows both for every price.
	Source string    `yaml:"-" json:"source,omitempty"`
	AsOf   time.Time `yaml:"-" json:"as_of,omitzero"`
}

// LongContextPrice is a Price for prompts above a number of tokens.
type LongContextPrice struct {
	Above int `yaml:"above" json:"above"`
	Price `yaml:",inline"`
}

// Prices maps "provider/model" to a Price. A model's dated or versioned
// names (gpt-4o-mini-2024-07-18, claude-sonnet-4-5-20250929,
// gemini-2.0-flash-001, …-latest, Vertex's claude-sonnet-4-5@20250929)
// use the undated entry.
type Prices map[string]Price

// Lookup returns the price of provider's model (the upstream name): the
// exact entry, or else the entry of the name without its version suffix
// (a release date -YYYY-MM-DD or -YYYYMMDD, a three-digit version,
// -latest, or an @version).
func (p Prices) Lookup(provider, model string) (Price, bool) {
	key := provider + "/" + model
	if pr, ok := p[key]; ok {
		return pr, true
	}
	if base, ok := trimVersion(key); ok {
		pr, ok := p[base]
		return pr, ok
	}
	return Price{}, false
}

// Priced reports whether a model name as a client sends it has a price:
// as "provider/model" (Lookup's rules), or else as a bare model name
// priced under any provider (a bare name reaches whichever provider lists
// it, which the price table cannot tell). It does not know routes: a
// route name has no price here.
func (p Prices) Priced(name string) bool {
	if prov, model, ok := strings.Cut(name, "/"); ok {
		if _, found := p.Lookup(prov, model); found {
			return true
		}
	}
	// Lookup(prov, name) for every provider of the table, without
	// building a key per entry: this runs on the request path.
	base, trimmed := trimVersion(name)
	for k := range p {
		if _, model, ok := strings.Cut(k, "/"); ok && (model == name || trimmed && model == base) {
			return true
		}
	}
	return false
}

// trimVersion removes a version suffix (see Lookup) from name.
func trimVersion(name string) (string, bool) {
	digits := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return true
	}
	if i := strings.LastIndexByte(name, '@'); i > 0 && !strings.Contains(name[i:], "/") {
		return name[:i], true // Vertex AI's claude-sonnet-4-5@20250929
	}
	n := len(name)
	switch {
	case strings.HasSuffix(name, "-latest"):
		return name[:n-7], true
	case n > 11 && name[n-11] == '-' && digits(name[n-10:n-6]) && name[n-6] == '-' && digits(name[n-5:n-3]) && name[n-3] == '-' && digits(name[n-2:]):
		return name[:n-11], true
	case n > 9 && name[n-9] == '-' && digits(name[n-8:]):
		return name[:n-9], true
	case n > 4 && name[n-4] == '-' && digits(name[n-3:]):
		return name[:n-4], true
	}
	return name, false
}

// Merge returns p with over's entries added or replacing p's.
func (p Prices) Merge(over Prices) Prices {
	out := make(Prices, len(p)+len(over))
	for k, v := range p {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

// Validate reports prices that cannot be right: negative numbers, names
// without a provider, long-context tiers without a threshold.
func (p Prices) Validate() error {
	for k, v := range p {
		if prov, model, ok := strings.Cut(k, "/"); !ok || prov == "" || model == "" {
			return fmt.Errorf("prices: %q: want provider/model", k)
		}
		if err := v.validate(); err != nil {
			return fmt.Errorf("prices: %s: %w", k, err)
		}
		if lc := v.LongContext; lc != nil {
			if lc.Above <= 0 {
				return fmt.Errorf("prices: %s: long_context.above must be a positive number of tokens", k)
			}
			if lc.LongContext != nil {
				return fmt.Errorf("prices: %s: long_context cannot nest", k)
			}
			if err := lc.validate(); err != nil {
				return fmt.Errorf("prices: %s: long_context: %w", k, err)
			}
		}
	}
	return nil
}

func (pr Price) validate() error {
	for name, v := range map[string]*float64{"input": &pr.Input, "output": &pr.Output, "cached_input": pr.CachedInput,
		"cache_write": pr.CacheWrite, "reasoning": pr.Reasoning} {
		if v != nil && (*v < 0 || math.IsNaN(*v) || math.IsInf(*v, 0)) {
			return fmt.Errorf("%s price %v is not a price", name, *v)
		}
	}
	return nil
}

// Cost returns the cost in USD of a request with these token counts:
//
//	(prompt − cached − cache_write) × input + cached × cached_input
//	  + cache_write × cache_write_price
//	  + (completion − reasoning) × output + reasoning × reasoning_price
//
// all per million tokens. Reasoning tokens are part of completion tokens
// and cached and cache-write tokens part of prompt tokens, as the
// providers report them. The result is rounded to 1e-10 USD.
func (pr Price) Cost(r *llmbridge.UsageRecord) float64 {
	if lc := pr.LongContext; lc != nil && r.PromptTokens > lc.Above {
		pr = lc.Price
	}
	cached, write, reasoning := clamp(r.CachedTokens, r.PromptTokens), clamp(r.CacheWriteTokens, r.PromptTokens), clamp(r.ReasoningTokens, r.CompletionTokens)
	if cached+write > r.PromptTokens {
		write = r.PromptTokens - cached
	}
	usd := float64(r.PromptTokens-cached-write)*pr.Input +
		float64(cached)*or(pr.CachedInput, pr.Input) +
		float64(write)*or(pr.CacheWrite, pr.Input) +
		float64(r.CompletionTokens-reasoning)*pr.Output +
		float64(reasoning)*or(pr.Reasoning, pr.Output)
	return RoundUSD(usd / 1e6)
}

// RoundUSD rounds to 1e-10 USD, the precision costs are stored and
// reported with (prices have at most four decimals per million tokens).
func RoundUSD(v float64) float64 { return math.Round(v*1e10) / 1e10 }

func clamp(n, max int) int {
	if n < 0 {
		return 0
	}
	if n > max {
		return max
	}
	return n
}

func or(p *float64, def float64) float64 {
	if p != nil {
		return *p
	}
	return def
}

// CostOf returns the cost of a record, or nil when no price is known for
// its model: unknown is not free, and reports show it as null.
func (p Prices) CostOf(r *llmbridge.UsageRecord) *float64 {
	pr, ok := p.Lookup(r.Provider, r.UpstreamModel)
	if !ok {
		return nil
	}
	c := pr.Cost(r)
	return &c
}

// RecordCost is the cost of a record and whether its model has a known
// price: the shape of metrics.Options.Cost and live.Options.Cost.
func (p Prices) RecordCost(r llmbridge.UsageRecord) (usd float64, ok bool) {
	pr, ok := p.Lookup(r.Provider, r.UpstreamModel)
	if !ok {
		return 0, false
	}
	return pr.Cost(&r), true
}

func f(v float64) *float64 { return &v }

// PricesSource says where and when the built-in prices were read.
const PricesSource = `USD per million tokens, standard (not batch, not priority) tier, as listed on 2025-12-09 on
https://platform.openai.com/docs/pricing, https://docs.claude.com/en/docs/about-claude/pricing,
https://ai.google.dev/gemini-api/docs/pricing (paid tier), https://api-docs.deepseek.com/quick_start/pricing and
https://aws.amazon.com/bedrock/pricing/ (on-demand, US regions; Bedrock as of 2025-12).
Providers change prices: check them and override in the YAML config's prices section.`

// DefaultPrices are the built-in prices (see PricesSource). Experimental
// Gemini models (gemini-exp-1206, …-exp) have no published price and are
// left unpriced.
func DefaultPrices() Prices {
	p := builtinPrices()
	for k, v := range p {
		v.Source, v.AsOf = BuiltinSource, time.Date(2025, 12, 9, 0, 0, 0, 0, time.UTC) // PricesSource's date
		p[k] = v
	}
	return p
}

// BuiltinSource is the Source of the built-in prices.
const BuiltinSource = "built-in"

// MarkSource returns p with every price marked as from source at asOf
// (nil for nil).
func (p Prices) MarkSource(source string, asOf time.Time) Prices {
	if p == nil {
		return nil
	}
	out := make(Prices, len(p))
	for k, v := range p {
		v.Source, v.AsOf = source, asOf
		out[k] = v
	}
	return out
}

func builtinPrices() Prices {
	return Prices{
		// OpenAI: cached input is half price on the 4o/o1 generation, a
		// quarter on 4.1/o3/o4, a tenth on GPT-5; reasoning tokens are
		// billed as output.
		"openai/gpt-4o":            {Input: 2.50, CachedInput: f(1.25), Output: 10.00},
		"openai/gpt-4o-2024-05-13": {Input: 5.00, Output: 15.00}, // the first snapshot kept its launch price
		"openai/gpt-4o-mini":       {Input: 0.15, CachedInput: f(0.075), Output: 0.60},
		"openai/o1":                {Input: 15.00, CachedInput: f(7.50), Output: 60.00},
		"openai/o1-mini":           {Input: 1.10, CachedInput: f(0.55), Output: 4.40},
		"openai/o3-mini":           {Input: 1.10, CachedInput: f(0.55), Output: 4.40},
		"openai/o3":                {Input: 2.00, CachedInput: f(0.50), Output: 8.00},
		"openai/o4-mini":           {Input: 1.10, CachedInput: f(0.275), Output: 4.40},
		"openai/gpt-4.1":           {Input: 2.00, CachedInput: f(0.50), Output: 8.00},
		"openai/gpt-4.1-mini":      {Input: 0.40, CachedInput: f(0.10), Output: 1.60},
		"openai/gpt-4.1-nano":      {Input: 0.10, CachedInput: f(0.025), Output: 0.40},
		"openai/gpt-5":             {Input: 1.25, CachedInput: f(0.125), Output: 10.00},
		"openai/gpt-5-mini":        {Input: 0.25, CachedInput: f(0.025), Output: 2.00},
		"openai/gpt-5-nano":        {Input: 0.05, CachedInput: f(0.005), Output: 0.40},
		"openai/gpt-3.5-turbo":     {Input: 0.50, Output: 1.50},
		// Embeddings (POST /v1/embeddings) bill input only.
		"openai/text-embedding-3-small": {Input: 0.02},
		"openai/text-embedding-3-large": {Input: 0.13},
		"openai/text-embedding-ada-002": {Input: 0.10},

		// Google Gemini (paid tier, text input): cached input is a tenth
		// (2.5) or a quarter (2.0) of input; thinking tokens are billed as
		// output. 2.5 Pro doubles its input price above 200k prompt tokens.
		"gemini/gemini-2.5-pro": {Input: 1.25, CachedInput: f(0.125), Output: 10.00,
			LongContext: &LongContextPrice{Above: 200_000, Price: Price{Input: 2.50, CachedInput: f(0.25), Output: 15.00}}},
		"gemini/gemini-2.5-flash":      {Input: 0.30, CachedInput: f(0.03), Output: 2.50},
		"gemini/gemini-2.5-flash-lite": {Input: 0.10, CachedInput: f(0.01), Output: 0.40},
		"gemini/gemini-2.0-flash":      {Input: 0.10, CachedInput: f(0.025), Output: 0.40},
		"gemini/gemini-2.0-flash-lite": {Input: 0.075, Output: 0.30},
		"gemini/gemini-embedding-001":  {Input: 0.15}, // embeddings: input only

		// DeepSeek (V3.2; chat and reasoner alike): cache hits are a tenth
		// of a miss; reasoning is billed as output.
		"deepseek/deepseek-chat":     {Input: 0.28, CachedInput: f(0.028), Output: 0.42},
		"deepseek/deepseek-reasoner": {Input: 0.28, CachedInput: f(0.028), Output: 0.42},

		// Anthropic: cache reads 0.1 × input, 5-minute cache writes 1.25 ×
		// input; extended thinking is billed as output.
		"anthropic/claude-opus-4-5":   {Input: 5.00, CachedInput: f(0.50), CacheWrite: f(6.25), Output: 25.00},
		"anthropic/claude-opus-4-1":   {Input: 15.00, CachedInput: f(1.50), CacheWrite: f(18.75), Output: 75.00},
		"anthropic/claude-opus-4":     {Input: 15.00, CachedInput: f(1.50), CacheWrite: f(18.75), Output: 75.00},
		"anthropic/claude-opus-4-0":   {Input: 15.00, CachedInput: f(1.50), CacheWrite: f(18.75), Output: 75.00},
		"anthropic/claude-sonnet-4-5": {Input: 3.00, CachedInput: f(0.30), CacheWrite: f(3.75), Output: 15.00},
		"anthropic/claude-sonnet-4":   {Input: 3.00, CachedInput: f(0.30), CacheWrite: f(3.75), Output: 15.00},
		"anthropic/claude-sonnet-4-0": {Input: 3.00, CachedInput: f(0.30), CacheWrite: f(3.75), Output: 15.00},
		"anthropic/claude-3-7-sonnet": {Input: 3.00, CachedInput: f(0.30), CacheWrite: f(3.75), Output: 15.00},
		"anthropic/claude-haiku-4-5":  {Input: 1.00, CachedInput: f(0.10), CacheWrite: f(1.25), Output: 5.00},
		"anthropic/claude-3-5-haiku":  {Input: 0.80, CachedInput: f(0.08), CacheWrite: f(1.00), Output: 4.00},
		"anthropic/claude-3-haiku":    {Input: 0.25, CachedInput: f(0.03), CacheWrite: f(0.30), Output: 1.25},

		// AWS Bedrock (provider "bedrock"), on-demand: Claude at
		// Anthropic's prices, cache reads 0.1 × and writes 1.25 × input;
		// for the 4.5 models a geographic inference profile (us., eu.)
		// costs 10% more than the global one. Nova cache reads are a
		// quarter of input.
		"bedrock/global.anthropic.claude-sonnet-4-5-20250929-v1:0": {Input: 3.00, CachedInput: f(0.30), CacheWrite: f(3.75), Output: 15.00},
		"bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0":     {Input: 3.30, CachedInput: f(0.33), CacheWrite: f(4.125), Output: 16.50},
		"bedrock/global.anthropic.claude-haiku-4-5-20251001-v1:0":  {Input: 1.00, CachedInput: f(0.10), CacheWrite: f(1.25), Output: 5.00},
		"bedrock/us.anthropic.claude-haiku-4-5-20251001-v1:0":      {Input: 1.10, CachedInput: f(0.11), CacheWrite: f(1.375), Output: 5.50},
		"bedrock/anthropic.claude-3-5-haiku-20241022-v1:0":         {Input: 0.80, CachedInput: f(0.08), CacheWrite: f(1.00), Output: 4.00},
		"bedrock/us.anthropic.claude-3-5-haiku-20241022-v1:0":      {Input: 0.80, CachedInput: f(0.08), CacheWrite: f(1.00), Output: 4.00},
		"bedrock/amazon.nova-pro-v1:0":                             {Input: 0.80, CachedInput: f(0.20), Output: 3.20},
		"bedrock/us.amazon.nova-pro-v1:0":                          {Input: 0.80, CachedInput: f(0.20), Output: 3.20},
		"bedrock/amazon.nova-lite-v1:0":                            {Input: 0.06, CachedInput: f(0.015), Output: 0.24},
		"bedrock/us.amazon.nova-lite-v1:0":                         {Input: 0.06, CachedInput: f(0.015), Output: 0.24},
		"bedrock/amazon.nova-micro-v1:0":                           {Input: 0.035, CachedInput: f(0.00875), Output: 0.14},
		"bedrock/us.amazon.nova-micro-v1:0":                        {Input: 0.035, CachedInput: f(0.00875), Output: 0.14},

		// Azure OpenAI (kind: azure, named azure), global standard
		// deployments: OpenAI's own prices.
		"azure/gpt-4o":                 {Input: 2.50, CachedInput: f(1.25), Output: 10.00},
		"azure/gpt-4o-mini":            {Input: 0.15, CachedInput: f(0.075), Output: 0.60},
		"azure/gpt-4.1":                {Input: 2.00, CachedInput: f(0.50), Output: 8.00},
		"azure/gpt-4.1-mini":           {Input: 0.40, CachedInput: f(0.10), Output: 1.60},
		"azure/gpt-4.1-nano":           {Input: 0.10, CachedInput: f(0.025), Output: 0.40},
		"azure/gpt-5":                  {Input: 1.25, CachedInput: f(0.125), Output: 10.00},
		"azure/gpt-5-mini":             {Input: 0.25, CachedInput: f(0.025), Output: 2.00},
		"azure/o3-mini":                {Input: 1.10, CachedInput: f(0.55), Output: 4.40},
		"azure/o4-mini":                {Input: 1.10, CachedInput: f(0.275), Output: 4.40},
		"azure/text-embedding-3-small": {Input: 0.02},
		"azure/text-embedding-3-large": {Input: 0.13},

		// Google Vertex AI (kind: vertex, named vertex): Gemini at the
		// Gemini API's paid prices; Claude at Anthropic's (global
		// endpoint; regional endpoints cost 10% more for Claude 4.5
		// models, which a prices: entry can say). Names with @version
		// take the price of the name without it.
		"vertex/gemini-2.5-pro": {Input: 1.25, CachedInput: f(0.125), Output: 10.00,
			LongContext: &LongContextPrice{Above: 200_000, Price: Price{Input: 2.50, CachedInput: f(0.25), Output: 15.00}}},
		"vertex/gemini-2.5-flash":      {Input: 0.30, CachedInput: f(0.03), Output: 2.50},
		"vertex/gemini-2.5-flash-lite": {Input: 0.10, CachedInput: f(0.01), Output: 0.40},
		"vertex/gemini-2.0-flash":      {Input: 0.15, CachedInput: f(0.0375), Output: 0.60},
		"vertex/claude-opus-4-5":       {Input: 5.00, CachedInput: f(0.50), CacheWrite: f(6.25), Output: 25.00},
		"vertex/claude-opus-4-1":       {Input: 15.00, CachedInput: f(1.50), CacheWrite: f(18.75), Output: 75.00},
		"vertex/claude-sonnet-4-5":     {Input: 3.00, CachedInput: f(0.30), CacheWrite: f(3.75), Output: 15.00},
		"vertex/claude-sonnet-4":       {Input: 3.00, CachedInput: f(0.30), CacheWrite: f(3.75), Output: 15.00},
		"vertex/claude-haiku-4-5":      {Input: 1.00, CachedInput: f(0.10), CacheWrite: f(1.25), Output: 5.00},
		"vertex/claude-3-5-haiku":      {Input: 0.80, CachedInput: f(0.08), CacheWrite: f(1.00), Output: 4.00},
	}
}
