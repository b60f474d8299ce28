package memory

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/cache"
)

// Shards: as many as give each a ring of shardBytes or more, from 1 to
// maxShards. A shard's ring is addressed with 32-bit offsets.
const (
	shardBytes = 32 << 20
	maxShards  = 64
	// MaxBytes is the largest bound New accepts (on a 32-bit platform,
	// math.MaxInt is).
	MaxBytes = maxShards * (1<<31 - 1)
)

// id is the cache's own key: the answer's hash as 32 bytes. CacheKey.Hash
// alone identifies an answer (it covers scope and model); a fixed-size
// key without pointers hashes in a fraction of the time of three strings
// and gives the collector nothing to scan.
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
// concurrent use.
type Cache struct {
	shards       []shard
	shift        uint   // 64 - log2(len(shards)); 64 (every h to 0) for one
	ring         []byte // all the shards' rings, mapped at once
	hits, misses atomic.Int64
	close        sync.Once
	closed       atomic.Bool
}

var (
	_ cache.Backend        = (*Cache)(nil)
	_ llmbridge.LocalCache = (*Cache)(nil)
)

// New returns a cache whose answers (with their keys and a 48-byte
// header each) take at most maxBytes. The memory is mapped at once and
// used as answers arrive; the index beside it takes about 30 bytes an
// answer more.
func New(maxBytes int64) (*Cache, error) {
	if maxBytes <= 0 || maxBytes > MaxBytes || uint64(maxBytes) > math.MaxInt {
		return nil, fmt.Errorf("memory cache: max bytes %d is not between 1 and %d", maxBytes, min(int64(MaxBytes), int64(math.MaxInt)))
	}
	n, shift := int64(1), uint(64)
	for n < maxShards && n*2*shardBytes <= maxBytes {
		n, shift = n*2, shift-1
	}
	size := maxBytes / n
	ring, err := mapRing(int(n * size))
	if err != nil {
		return nil, fmt.Errorf("memory cache: mapping %d bytes: %w", n*size, err)
	}
	c := &Cache{shards: make([]shard, n), shift: shift, ring: ring}
	for i := range c.shards {
		lo, hi := int64(i)*size, int64(i+1)*size
		c.shards[i].buf = ring[lo:hi:hi]
		c.shards[i].m = make(map[uint64]uint32)
	}
	return c, nil
}

// shard is k's shard, by both ends of k mixed: a Bridge's k is a
// digest, but a caller's Hash need not be.
func (c *Cache) shard(k id) *shard {
	h := (binary.LittleEndian.Uint64(k[:8]) ^ binary.BigEndian.Uint64(k[24:])) * 0x9e3779b97f4a7c15 // Fibonacci hashing: the low bits reach the top
	return &c.shards[h>>c.shift]
}

// Get returns a copy of the answer under key (its id, and the same scope
// and model). It never fails.
func (c *Cache) Get(_ context.Context, key llmbridge.CacheKey) ([]byte, bool, error) {
	k := idOf(key)
	v, ok := c.shard(k).get(k, key.Scope, key.Model, time.Now().UnixNano())
	if !ok {
		c.misses.Add(1)
		return nil, false, nil
	}
	c.hits.Add(1)
	return v, true, nil
}

// Set stores a copy of value under key for ttl, in place of any answer
// there. An answer over a sixteenth of its shard's ring is not stored
// (and the one there is removed): 2 to 4 MiB for caches of 64 MiB to
// 2 GiB, a sixteenth of the bound below, 1/1024 of it above.
func (c *Cache) Set(_ context.Context, key llmbridge.CacheKey, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return errors.New("memory cache: ttl must be positive")
	}
	now := time.Now().UnixNano()
	exp := now + int64(min(ttl, time.Duration(math.MaxInt64-now))) // a TTL of centuries is forever, not an overflow
	k := idOf(key)
	s := c.shard(k)
	s.mu.Lock()
	s.put(k, exp, key.Scope, key.Model, value)
	s.mu.Unlock()
	return nil
}

// Purge removes the answers f matches and reports how many it removed
// that had not expired.
func (c *Cache) Purge(_ context.Context, f cache.Filter) (int, error) {
	now, n := time.Now().UnixNano(), 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += s.purge(f, now)
		if f == (cache.Filter{}) && s.buf != nil {
			releaseRing(s.buf) // emptied: the pages go back to the kernel
		}
		s.mu.Unlock()
	}
	return n, nil
}

// Stats reports the entries, their bytes and the lookups. An answer past
// its TTL counts until it is looked up or overwritten.
func (c *Cache) Stats(context.Context) cache.Stats {
	st := cache.Stats{Backend: "memory", Up: !c.closed.Load(), Hits: c.hits.Load(), Misses: c.misses.Load()}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		st.Entries += int64(len(s.m))
		st.Bytes += s.bytes
		s.mu.Unlock()
	}
	return st
}

// MaxValue is the largest value Set stores (with an empty scope and
// model): a sixteenth of a shard's ring, less the record's header.
func (c *Cache) MaxValue() int {
	s := &c.shards[0]
	s.mu.Lock()
	defer s.mu.Unlock()
	return max(len(s.buf)/16-header, 0)
}

// CopiesValues reports true: Set copies its value into the ring, so the
// Bridge may reuse the bytes it passed (and builds a stream's value in a
// buffer of its own pool).
func (c *Cache) CopiesValues() bool { return true }

// Local reports true: Get and Set never block (llmbridge.LocalCache).
func (c *Cache) Local() bool { return true }

// Close releases the cache's memory. Lookups after Close miss and
// stores are dropped.
func (c *Cache) Close() error {
	var err error
	c.close.Do(func() {
		c.closed.Store(true)
		for i := range c.shards {
			s := &c.shards[i]
			s.mu.Lock()
			s.buf, s.m, s.bytes = nil, nil, 0
			s.mu.Unlock()
		}
		err = unmapRing(c.ring)
		c.ring = nil
	})
	return err
}
