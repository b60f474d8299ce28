package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/admin"
	"github.com/llmbridge/llmbridge/internal/cache"
	"github.com/llmbridge/llmbridge/internal/cache/memory"
	rcache "github.com/llmbridge/llmbridge/internal/cache/redis"
	"github.com/redis/go-redis/v9"
)

// CacheFile is the YAML file's cache: section, the response cache:
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

// CacheConfig is a checked cache: section.
type CacheConfig struct {
	Policy   llmbridge.CachePolicy
	MaxBytes int64
}

// cacheConfig checks a cache: section; nil means the cache is off.
func cacheConfig(f *CacheFile) (*CacheConfig, error) {
	if f == nil {
		return nil, nil
	}
	var errs []error
	c := &CacheConfig{Policy: llmbridge.CachePolicy{TTL: f.TTL, Models: f.Models, Nondeterministic: f.Nondeterministic}, MaxBytes: DefaultCacheMaxBytes}
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

// responseCache is the server's response cache backend, kept across
// reloads; b is nil when the cache is off.
type responseCache struct {
	b   cache.Backend
	rdb *redis.Client // its own Redis client, when the limits have none
}

// openCache opens the response cache's backend: Redis when
// LLMBRIDGE_REDIS_URL is set (sharing the limits' client when there is
// one), else memory. It outlives Bridges: a reload keeps the answers.
func (s *server) openCache(cfg *Config) error {
	if cfg.Cache == nil {
		return nil
	}
	if cfg.RedisURL == "" {
		m, err := memory.New(cfg.Cache.MaxBytes)
		if err != nil {
			return err
		}
		s.cache.b = m
		s.log.Info("response cache on", "backend", "memory", "max_bytes", cfg.Cache.MaxBytes, "ttl", cfg.Cache.Policy.TTL)
		return nil
	}
	var rdb *redis.Client
	if s.limits != nil && s.limits.rdb != nil {
		rdb = s.limits.rdb
	} else {
		opt, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return errors.New("LLMBRIDGE_REDIS_URL does not parse: want redis://[user:password@]host:port[/db] or rediss://…") // the text may hold a password
		}
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = time.Second, 500*time.Millisecond, 500*time.Millisecond
		opt.PoolSize, opt.MaxRetries = 256, 0
		rdb = redis.NewClient(opt)
		s.cache.rdb = rdb
	}
	c, err := rcache.New(rcache.Options{Client: rdb, Logger: s.log})
	if err != nil {
		return err
	}
	s.cache.b = c
	s.log.Info("response cache on", "backend", "redis", "ttl", cfg.Cache.Policy.TTL)
	return nil
}

// closeCache closes what openCache opened.
func (s *server) closeCache() {
	if s.cache.b != nil {
		_ = s.cache.b.Close()
	}
	if s.cache.rdb != nil {
		_ = s.cache.rdb.Close()
	}
}

// cacheOptions is WithCache for a Bridge built from cfg, or nothing. A
// reload that turns the cache: section on needs a restart (the backend
// is opened at start).
func (s *server) cacheOptions(cfg *Config) []llmbridge.Option {
	if s.cache.b == nil || cfg.Cache == nil {
		if cfg.Cache != nil {
			s.log.Warn("the YAML file now has a cache: section; restart the server to turn the response cache on")
		}
		return nil
	}
	return []llmbridge.Option{llmbridge.WithCache(s.cache.b, cfg.Cache.Policy)}
}

// cacheAdmin is the cache the admin API manages (nil when the cache is
// off, which keeps /admin/api/cache answering 404).
func (s *server) cacheAdmin() admin.CacheAdmin {
	if s.cache.b == nil {
		return nil
	}
	return s.cache.b
}
