package memory

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/cache"
	"github.com/maypok86/otter/v2"
)

// overhead is what an entry costs beside its value and key strings: the
// cache's node, the item and the key's headers, roughly.
const overhead = 160

// item is a stored answer, the TTL it was stored with and its key's
// scope and model (for Purge).
type item struct {
	v            []byte
	ttl          time.Duration
	scope, model string
}

// id is the cache's own key: the answer's hash as 32 bytes. CacheKey.Hash
// alone identifies an answer (it covers scope and model); a fixed-size
// key without pointers hashes in a fraction of the time of three strings,
// at each of the several lookups a Set makes, and gives the collector
// nothing to scan.
type id [32]byte

// idOf is k's id: its Hash decoded, or, for a Hash that is not 64 hex
// digits (not the Bridge's), the SHA-256 of all of k.
func idOf(k llmbridge.CacheKey) id {
	var out id
	if len(k.Hash) == 2*len(out) {
		if _, err := hex.Decode(out[:], unsafe.Slice(unsafe.StringData(k.Hash), len(k.Hash))); err == nil {
			return out
		}
	}
	return sha256.Sum256([]byte(k.Scope + "\x00" + k.Model + "\x00" + k.Hash))
}

// Cache is an in-memory llmbridge.Cache and cache.Backend. It is safe for
// concurrent use; Close stops its clean-up goroutine.
type Cache struct {
	c            *otter.Cache[id, item]
	hits, misses atomic.Int64
}

var (
	_ cache.Backend        = (*Cache)(nil)
	_ llmbridge.LocalCache = (*Cache)(nil)
)

// New returns a cache holding at most maxBytes of answers (their values,
// keys and a fixed overhead each); the least valuable answers by
// W-TinyLFU are evicted first.
func New(maxBytes int64) (*Cache, error) {
	if maxBytes <= 0 {
		return nil, fmt.Errorf("memory cache: max bytes %d is not positive", maxBytes)
	}
	c, err := otter.New(&otter.Options[id, item]{
		MaximumWeight:    uint64(maxBytes),
		Weigher:          weigh,
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[id, item]) time.Duration { return e.Value.ttl }),
	})
	if err != nil {
		return nil, fmt.Errorf("memory cache: %w", err)
	}
	return &Cache{c: c}, nil
}

func weigh(_ id, it item) uint32 {
	return uint32(min(len(it.v)+len(it.scope)+len(it.model)+len(id{})+overhead, math.MaxUint32))
}

// Get returns the answer under key (its id, and the same scope and
// model). It never fails.
func (c *Cache) Get(_ context.Context, key llmbridge.CacheKey) ([]byte, bool, error) {
	it, ok := c.c.GetIfPresent(idOf(key))
	if !ok || it.scope != key.Scope || it.model != key.Model { // one id, another key: never served across scopes
		ok = false
	}
	if !ok {
		c.misses.Add(1)
		return nil, false, nil
	}
	c.hits.Add(1)
	return it.v, true, nil
}

// Set stores value under key for ttl. The cache keeps value itself:
// the caller must not modify it after.
func (c *Cache) Set(_ context.Context, key llmbridge.CacheKey, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return errors.New("memory cache: ttl must be positive")
	}
	c.c.Set(idOf(key), item{v: value, ttl: ttl, scope: key.Scope, model: key.Model})
	return nil
}

// Purge removes the answers f matches.
func (c *Cache) Purge(_ context.Context, f cache.Filter) (int, error) {
	if f == (cache.Filter{}) {
		n := c.c.EstimatedSize()
		c.c.InvalidateAll()
		return n, nil
	}
	n := 0
	for k, it := range c.c.All() {
		if f.Match(llmbridge.CacheKey{Scope: it.scope, Model: it.model}) {
			if _, ok := c.c.Invalidate(k); ok {
				n++
			}
		}
	}
	return n, nil
}

// Stats reports the entries, their weight in bytes and the lookups. It
// first applies the writes the cache has buffered.
func (c *Cache) Stats(context.Context) cache.Stats {
	c.c.CleanUp()
	return cache.Stats{Backend: "memory", Up: true, Entries: int64(c.c.EstimatedSize()), Bytes: int64(c.c.WeightedSize()),
		Hits: c.hits.Load(), Misses: c.misses.Load()}
}

// Local reports true: Get and Set never block (llmbridge.LocalCache).
func (c *Cache) Local() bool { return true }

// Close stops the cache's goroutines.
func (c *Cache) Close() error {
	c.c.StopAllGoroutines()
	return nil
}
