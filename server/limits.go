package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/admin"
	"github.com/llmbridge/llmbridge/internal/alerts"
	"github.com/llmbridge/llmbridge/internal/keys"
	"github.com/redis/go-redis/v9"
)

// limits is the server's admission of access and virtual keys; it
// outlives Bridges (a reload keeps what was counted).
type limits struct {
	a   *keys.Admitter
	rdb *redis.Client
}

// openLimits builds the admitter when there is something to admit with:
// the usage store (virtual keys), limits for access keys or the MCP
// gateway (which identifies callers through it).
func (s *server) openLimits(ctx context.Context, cfg *config) error {
	if cfg.ExpectedReplicas < 1 {
		return fmt.Errorf("LLMBRIDGE_EXPECTED_REPLICAS must be at least 1, got %d", cfg.ExpectedReplicas)
	}
	if s.store == nil && len(cfg.KeyPolicies) == 0 && len(cfg.MCP.Servers) == 0 {
		if cfg.RedisURL != "" {
			s.log.Warn("LLMBRIDGE_REDIS_URL is set but there are no limits to share (the usage store is off and the YAML file has no keys:)")
		}
		return nil
	}
	o := keys.Options{AccessKeys: cfg.AccessKeys, Policies: cfg.KeyPolicies, Tokens: s.tokens, Prices: cfg.allPrices(),
		Replicas: cfg.ExpectedReplicas, Logger: s.log, Priced: s.priced, Targets: func(m string) []llmbridge.Target { return s.cur.Load().Targets(m) }}
	if s.store != nil {
		o.Store = keys.NewStore(s.store)
	}
	l := &limits{}
	if cfg.RedisURL != "" {
		var err error
		if l.rdb, err = newRedis(cfg.RedisURL, 1); err != nil {
			return err
		}
		o.Redis = l.rdb
	}
	a, err := keys.NewAdmitter(ctx, o)
	if err != nil {
		if l.rdb != nil {
			l.rdb.Close()
		}
		return fmt.Errorf("virtual keys: %w", err)
	}
	l.a, s.limits = a, l
	if s.usage != nil {
		s.usage.SetAttribution(a.Attribution) // usage records carry the key's team and owner
	}
	mode, _ := a.Status()
	s.log.Info("keys and limits on", "limits", mode, "expected_replicas", cfg.ExpectedReplicas, "access_keys_with_limits", len(cfg.KeyPolicies))
	for id := range cfg.KeyPolicies {
		if !keys.HasKeyID(cfg.AccessKeys, id) {
			s.log.Warn("YAML keys: names a key_id that is not one of ACCESS_API_KEYS", "key_id", id)
		}
	}
	return nil
}

// newRedis returns a client of LLMBRIDGE_REDIS_URL for the limits and the
// response cache: short timeouts (a slow Redis must not hold requests), a
// pool for many concurrent requests, and maxRetries retries. Its error
// never repeats the URL, which may hold a password.
func newRedis(url string, maxRetries int) (*redis.Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, errors.New("LLMBRIDGE_REDIS_URL does not parse: want redis://[user:password@]host:port[/db] or rediss://…")
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = time.Second, 500*time.Millisecond, 500*time.Millisecond
	opt.PoolSize, opt.MaxRetries = 256, maxRetries
	return redis.NewClient(opt), nil
}

func (s *server) closeLimits() {
	if s.limits == nil {
		return
	}
	_ = s.limits.a.Close()
	if s.limits.rdb != nil {
		_ = s.limits.rdb.Close()
	}
}

// keysChanged applies a key change of the admin API before it answers.
func (s *server) keysChanged(ctx context.Context) error {
	if s.limits == nil {
		return nil
	}
	return s.limits.a.Changed(ctx)
}

// bridgeOptions is cfg.Options with the access keys handed to the keys
// admitter when it is on (it checks them as WithAccessKeys would, and the
// virtual keys too). The Bridge's rule that a provider key is never an
// access key is kept here.
func (s *server) bridgeOptions(cfg *config) ([]llmbridge.Option, error) {
	if s.limits == nil {
		return cfg.options(s.log), nil
	}
	provider := map[string]bool{}
	for _, k := range cfg.providerKeys() {
		provider[k] = k != ""
	}
	for _, p := range cfg.Providers {
		provider[p.Key] = p.Key != ""
	}
	for _, k := range cfg.AccessKeys {
		if provider[k] {
			return nil, errors.New("an access key equals a provider key: provider keys are never accepted from clients")
		}
	}
	c := *cfg
	c.AccessKeys = nil
	return append(c.options(s.log), llmbridge.WithAdmitter(s.limits.a)), nil
}

// reloadLimits gives the admitter a reloaded configuration's access keys,
// limits and prices.
func (s *server) reloadLimits(cfg *config) {
	if s.limits == nil {
		if len(cfg.KeyPolicies) > 0 {
			s.log.Warn("the YAML file now has keys: limits; restart the server to apply them")
		}
		return
	}
	s.limits.a.SetAccessKeys(cfg.AccessKeys, cfg.KeyPolicies)
	s.limits.a.SetPrices(cfg.allPrices())
}

// serveHealth answers GET /healthz with where the limits are kept
// (keys.Admitter.ServeHealthz). Without limits, and for methods other
// than GET, the Bridge answers.
func (s *server) serveHealth(w http.ResponseWriter, r *http.Request) {
	if s.limits == nil || r.Method != http.MethodGet {
		s.serveBridge(w, r)
		return
	}
	s.limits.a.ServeHealthz(w)
}

// adminHealth is the admin API's health source: the routing targets of
// the bridge served now and where the limits are kept, with the whole
// reason (admin.LimitsSource).
func (s *server) adminHealth() admin.HealthSource {
	var limits func() (string, string)
	if s.limits != nil {
		limits = s.limits.a.Status
	}
	return admin.WithLimits(admin.HealthFunc(func() []llmbridge.TargetHealth {
		if b := s.cur.Load(); b != nil {
			return b.Health()
		}
		return nil
	}), limits)
}

// keyBudgets is the keys' spend against their budgets for the key_budget
// alert (called by the alert loop, off the request path).
func (s *server) keyBudgets() []alerts.Budget {
	if s.limits == nil {
		return nil
	}
	return s.limits.a.AlertBudgets()
}
