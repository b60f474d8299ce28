package main

import (
	"cmp"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/admin"
	"github.com/llmbridge/llmbridge/internal/cache"
	"github.com/llmbridge/llmbridge/internal/cache/memory"
	rcache "github.com/llmbridge/llmbridge/internal/cache/redis"
	"github.com/redis/go-redis/v9"
)

// responseCache is the server's response cache backend, kept across
// reloads; b is nil when the cache is off.
type responseCache struct {
	b   cache.Backend
	rdb *redis.Client // its own Redis client, when the limits have none
}

// openCache opens the response cache's backend: Redis when
// LLMBRIDGE_REDIS_URL is set (sharing the limits' client when there is
// one), else memory. It outlives Bridges: a reload keeps the answers.
func (s *server) openCache(cfg *config) error {
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
		if want := cmp.Or(cfg.Cache.Policy.MaxValueBytes, llmbridge.DefaultCacheMaxValueBytes); m.MaxValue() < want {
			s.log.Warn("response cache: max_bytes is too small to keep answers of max_value_bytes; larger ones are served but not kept",
				"max_bytes", cfg.Cache.MaxBytes, "max_value_bytes", want, "largest_kept", m.MaxValue())
		}
		return nil
	}
	var rdb *redis.Client
	if s.limits != nil && s.limits.rdb != nil {
		rdb = s.limits.rdb
	} else {
		var err error
		if rdb, err = newRedis(cfg.RedisURL, 0); err != nil { // limits.go
			return err
		}
		s.cache.rdb = rdb
	}
	c, err := rcache.New(rcache.Options{Client: rdb, Logger: s.log, MaxValueBytes: cfg.Cache.Policy.MaxValueBytes})
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
func (s *server) cacheOptions(cfg *config) []llmbridge.Option {
	if s.cache.b == nil || cfg.Cache == nil {
		if cfg.Cache != nil {
			s.log.Warn("the YAML file now has a cache: section; restart the server to turn the response cache on")
		}
		return nil
	}
	if rc, ok := s.cache.b.(*rcache.Cache); ok {
		rc.SetMaxValueBytes(cfg.Cache.Policy.MaxValueBytes) // a reload's
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
