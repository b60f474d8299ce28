package configfile

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/keys"
)

// RouteFile is one route (model group) of the file:
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
	Model       string           `yaml:"model"`
	Weight      *int             `yaml:"weight"`
	HealthCheck *HealthCheckFile `yaml:"health_check"` // provider/model targets only
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

// KeyFile is one entry of the file's keys: the models and limits of an
// access key, named by its key_id (go run ./server usage --keys).
type KeyFile struct {
	KeyID       string `yaml:"key_id"`
	keys.Policy `yaml:",inline"`
}

// keyPolicies checks the keys: entries and maps them by key_id.
func keyPolicies(list []KeyFile) (map[string]keys.Policy, error) {
	if len(list) == 0 {
		return nil, nil
	}
	out := map[string]keys.Policy{}
	var errs []error
	for i, k := range list {
		where := fmt.Sprintf("keys[%d] (%s)", i, k.KeyID)
		p := keys.Params{Models: &k.Models, MCPServers: &k.MCPServers, RPM: &k.RPM, TPM: &k.TPM, MaxParallel: &k.MaxParallel,
			DailyBudgetUSD: &k.DailyBudgetUSD, MonthlyBudgetUSD: &k.MonthlyBudgetUSD}
		switch _, dup := out[k.KeyID]; {
		case k.KeyID == "":
			errs = append(errs, fmt.Errorf("%s: key_id is required (see: go run ./server usage --keys)", where))
		case dup:
			errs = append(errs, fmt.Errorf("%s: key_id listed twice", where))
		}
		if err := p.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
		}
		out[k.KeyID] = k.Policy
	}
	return out, errors.Join(errs...)
}

// CacheFile is the file's cache: section, the response cache:
//
//	cache:
//	  ttl: 1h
//	  models: ["openai/*", "smart"]
//	  max_bytes: 256MiB          # the memory backend's bound
//	  max_value_bytes: 1MiB      # the largest answer kept
//	  scope: key                 # or shared
//	  cache_nondeterministic: false
//
// With LLMBRIDGE_REDIS_URL set the answers are kept in Redis (shared by
// replicas) instead of in memory.
type CacheFile struct {
	TTL              time.Duration `yaml:"ttl"`
	Models           []string      `yaml:"models"`
	MaxBytes         string        `yaml:"max_bytes"`
	MaxValueBytes    string        `yaml:"max_value_bytes"`
	Scope            string        `yaml:"scope"`
	Nondeterministic bool          `yaml:"cache_nondeterministic"`
}

// DefaultCacheMaxBytes bounds the memory backend when max_bytes is unset.
const DefaultCacheMaxBytes = 256 << 20

// Cache is a checked cache: section.
type Cache struct {
	Policy   llmbridge.CachePolicy
	MaxBytes int64 // the memory backend's bound
}

// cacheConfig checks a cache: section; nil means the cache is off.
func cacheConfig(f *CacheFile) (*Cache, error) {
	if f == nil {
		return nil, nil
	}
	var errs []error
	c := &Cache{Policy: llmbridge.CachePolicy{TTL: f.TTL, Models: f.Models, Nondeterministic: f.Nondeterministic}, MaxBytes: DefaultCacheMaxBytes}
	if f.TTL < 0 {
		errs = append(errs, fmt.Errorf("cache: ttl %v is negative", f.TTL))
	}
	switch f.Scope {
	case "", "key":
	case "shared":
		c.Policy.Shared = true
	default:
		errs = append(errs, fmt.Errorf("cache: scope %q: want key (the default) or shared", f.Scope))
	}
	if f.MaxBytes != "" {
		n, err := parseBytes(f.MaxBytes)
		if err != nil || n <= 0 {
			errs = append(errs, fmt.Errorf("cache: max_bytes %q: want a positive size such as 256MiB", f.MaxBytes))
		}
		c.MaxBytes = n
	}
	if f.MaxValueBytes != "" {
		n, err := parseBytes(f.MaxValueBytes)
		if err != nil || n <= 0 || n > 1<<30 {
			errs = append(errs, fmt.Errorf("cache: max_value_bytes %q: want a positive size up to 1GiB such as 1MiB", f.MaxValueBytes))
		}
		c.Policy.MaxValueBytes = int(n)
	}
	for _, m := range f.Models {
		if m == "" || strings.Contains(strings.TrimSuffix(m, "*"), "*") {
			errs = append(errs, fmt.Errorf("cache: model %q: want a name, or a prefix ending in a single *", m))
		}
	}
	return c, errors.Join(errs...)
}

// parseBytes reads a size: a number with an optional unit B, KB, MB, GB
// (powers of 1000) or KiB, MiB, GiB (powers of 1024).
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.TrimSpace(s[i:])
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, err
	}
	mult := map[string]float64{"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30}[strings.ToUpper(unit)]
	if mult == 0 {
		return 0, fmt.Errorf("unknown unit %q", unit)
	}
	return int64(v * mult), nil
}
