package alerts

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config is the alerts: section of the server's YAML file.
//
//	alerts:
//	  interval: 30s
//	  webhooks:
//	    - {name: ops, url: "https://hooks.slack.com/services/…", format: slack}
//	  rules:
//	    - {name: openai-failing, kind: error_rate, provider: openai, above: 5%, window: 5m}
//	    - {name: slow-first-token, kind: ttft_p95, above: 10s, window: 10m}
//	    - {name: request-log-drops, kind: request_log_drops, above: 0, window: 5m}
//	    - {name: budget-80, kind: key_budget, above: 80%}
type Config struct {
	// Interval is how often the rules are evaluated (default 30s).
	Interval time.Duration `yaml:"interval"`
	Webhooks []Webhook     `yaml:"webhooks"`
	Rules    []Rule        `yaml:"rules"`
}

// Webhook is where alerts are posted.
type Webhook struct {
	Name string `yaml:"name"`
	URL  string `yaml:"url"` // http or https; a secret, never logged
	// Format is "json" (default: the Notification object) or "slack"
	// ({"text": "…"}, which Slack, Mattermost, Rocket.Chat and Discord's
	// /slack endpoint accept).
	Format string `yaml:"format"`
}

// Rule is one alert rule.
type Rule struct {
	Name string `yaml:"name"`
	// Kind is error_rate, ttft_p95, request_log_drops, key_budget or
	// target_ejected.
	Kind string `yaml:"kind"`
	// Provider limits error_rate and ttft_p95 to one provider; empty
	// watches each provider apart.
	Provider string `yaml:"provider"`
	// Above is the threshold: a percentage for error_rate ("5%", above
	// which it fires) and key_budget ("80%", at which it fires); a
	// duration for ttft_p95 ("10s"); a count of dropped records for
	// request_log_drops ("0"). target_ejected takes none.
	Above string `yaml:"above"`
	// Window is the sliding window of error_rate, ttft_p95 and
	// request_log_drops (default 5m).
	Window time.Duration `yaml:"window"`
	// MinRequests is the fewest requests (streams for ttft_p95) in the
	// window for error_rate and ttft_p95 to judge at all (default 10).
	MinRequests int `yaml:"min_requests"`
	// Cooldown is the least time between two messages of a firing alert
	// (default 1h).
	Cooldown time.Duration `yaml:"cooldown"`
	// Webhooks names the webhooks to send to; empty means all.
	Webhooks []string `yaml:"webhooks"`

	threshold float64 // parsed Above: percent, seconds or count
}

// The rule kinds.
const (
	KindErrorRate       = "error_rate"
	KindTTFTP95         = "ttft_p95"
	KindRequestLogDrops = "request_log_drops"
	KindKeyBudget       = "key_budget"
	KindTargetEjected   = "target_ejected"
)

// Validate reports every problem of the section at once.
func (c *Config) Validate() error {
	_, err := c.compile()
	return err
}

// compile validates c and returns a copy with defaults and parsed
// thresholds.
func (c Config) compile() (Config, error) {
	var errs []error
	if c.Interval == 0 {
		c.Interval = 30 * time.Second
	}
	if c.Interval < 0 {
		errs = append(errs, fmt.Errorf("alerts: interval %v must be positive", c.Interval))
	}
	hooks := map[string]bool{}
	c.Webhooks = append([]Webhook(nil), c.Webhooks...)
	for i, w := range c.Webhooks {
		where := fmt.Sprintf("alerts: webhook %d (%s)", i+1, w.Name)
		errs = append(errs, nameProblems(where, w.Name, hooks)...)
		errs = append(errs, w.problems(where)...)
	}
	if len(c.Rules) > 0 && len(c.Webhooks) == 0 {
		errs = append(errs, errors.New("alerts: rules need at least one webhook"))
	}
	names := map[string]bool{}
	c.Rules = append([]Rule(nil), c.Rules...) // compile sets defaults: not in the caller's slice
	for i := range c.Rules {
		r := &c.Rules[i]
		where := fmt.Sprintf("alerts: rule %d (%s)", i+1, r.Name)
		errs = append(errs, nameProblems(where, r.Name, names)...)
		errs = append(errs, r.compile(where, hooks)...)
	}
	return c, errors.Join(errs...)
}

// nameProblems reports a missing name or one already in seen, and adds
// name to seen. Rules refer to webhooks by name, and alerts are told
// apart by rule name, so both must be unique.
func nameProblems(where, name string, seen map[string]bool) []error {
	var errs []error
	if name == "" {
		errs = append(errs, fmt.Errorf("%s: needs a name", where))
	} else if seen[name] {
		errs = append(errs, fmt.Errorf("%s: the name is used twice", where))
	}
	seen[name] = true
	return errs
}

// problems reports what is wrong with w's URL and format.
func (w *Webhook) problems(where string) []error {
	var errs []error
	if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("%s: url must be an http:// or https:// URL", where)) // the URL itself is a secret
	}
	switch w.Format {
	case "", "json", "slack":
	default:
		errs = append(errs, fmt.Errorf("%s: format %q is not json or slack", where, w.Format))
	}
	return errs
}

// compile fills r's defaults and parses its threshold, and reports what
// is wrong with it, including webhooks it names that hooks lacks.
func (r *Rule) compile(where string, hooks map[string]bool) []error {
	var errs []error
	if r.Window == 0 {
		r.Window = 5 * time.Minute
	}
	if r.MinRequests == 0 {
		r.MinRequests = 10
	}
	if r.Cooldown == 0 {
		r.Cooldown = time.Hour
	}
	if r.Window < 0 || r.MinRequests < 0 || r.Cooldown < 0 {
		errs = append(errs, fmt.Errorf("%s: window, min_requests and cooldown must not be negative", where))
	}
	if err := r.parseThreshold(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", where, err))
	}
	for _, h := range r.Webhooks {
		if !hooks[h] {
			errs = append(errs, fmt.Errorf("%s: no webhook named %q", where, h))
		}
	}
	return errs
}

func (r *Rule) parseThreshold() error {
	percent := func() error {
		v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(r.Above), "%")), 64)
		if err != nil || !(v >= 0) || math.IsInf(v, 1) { // !(v >= 0) also refuses NaN
			return fmt.Errorf("above %q: want a percentage like 5%%", r.Above)
		}
		r.threshold = v
		return nil
	}
	switch r.Kind {
	case KindErrorRate:
		return percent()
	case KindKeyBudget:
		if err := percent(); err != nil {
			return err
		}
		if r.threshold == 0 {
			return fmt.Errorf("above %q: a budget alert needs a percentage above 0", r.Above)
		}
		return nil
	case KindTTFTP95:
		d, err := time.ParseDuration(strings.TrimSpace(r.Above))
		if err != nil || d <= 0 {
			return fmt.Errorf("above %q: want a duration like 10s", r.Above)
		}
		r.threshold = d.Seconds()
	case KindRequestLogDrops:
		if r.Above == "" {
			return nil // any drop
		}
		n, err := strconv.ParseInt(strings.TrimSpace(r.Above), 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("above %q: want a number of records like 0", r.Above)
		}
		r.threshold = float64(n)
	case KindTargetEjected:
		if r.Above != "" {
			return fmt.Errorf("above: target_ejected takes no threshold")
		}
	default:
		return fmt.Errorf("kind %q is not one of error_rate, ttft_p95, request_log_drops, key_budget, target_ejected", r.Kind)
	}
	return nil
}
