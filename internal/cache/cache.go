package cache

import (
	"context"

	"github.com/llmbridge/llmbridge"
)

// Backend is a response cache store the server can manage: an
// llmbridge.Cache that can also remove answers and report its state. All
// methods are safe for concurrent use.
type Backend interface {
	llmbridge.Cache
	// Purge removes the answers f matches and returns how many it
	// removed (for Redis, how many keys it deleted).
	Purge(ctx context.Context, f Filter) (int, error)
	// Stats reports the cache's size and the lookups so far.
	Stats(ctx context.Context) Stats
	// Close releases the backend's resources (goroutines, connections);
	// the cache must not be used after.
	Close() error
}

// Filter selects cached answers; empty fields match anything, so the
// zero Filter matches every answer.
type Filter struct {
	// Model is the model (or route) the clients asked for
	// (llmbridge.CacheKey.Model).
	Model string
	// Scope is the caller's key id (llmbridge.CacheKey.Scope). Answers
	// stored under a shared policy have no scope and match only an empty
	// Scope.
	Scope string
}

// Match reports whether f selects k.
func (f Filter) Match(k llmbridge.CacheKey) bool {
	return (f.Model == "" || f.Model == k.Model) && (f.Scope == "" || f.Scope == k.Scope)
}

// Stats describe a cache backend.
type Stats struct {
	Backend string `json:"backend"` // "memory" or "redis"
	// Up is false while the backend is unreachable (Redis down): every
	// lookup is then a miss.
	Up bool `json:"up"`
	// Entries and Bytes are the answers stored and their size (for Redis,
	// the keys and the memory of the answers of this bridge, -1 when
	// unknown).
	Entries int64 `json:"entries"`
	Bytes   int64 `json:"bytes"`
	// Hits and Misses count lookups since the backend was opened (errors
	// are misses).
	Hits   int64 `json:"hits"`
	Misses int64 `json:"misses"`
}

// HitRatio is Hits / (Hits + Misses), or 0 before any lookup.
func (s Stats) HitRatio() float64 {
	if n := s.Hits + s.Misses; n > 0 {
		return float64(s.Hits) / float64(n)
	}
	return 0
}
