package redis

import (
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/cache"
	goredis "github.com/redis/go-redis/v9"
)

// Prefix starts every key of the cache.
const Prefix = "llmbridge:cache:v1:"

// The first byte of a stored value says how the rest is encoded.
const (
	plain    byte = 0
	deflated byte = 1
)

// compressAbove is the value size from which values are compressed:
// smaller ones gain little and cost the compressor's setup.
const compressAbove = 512

// pause is how long the cache leaves Redis alone after a failure.
const pause = time.Second

// errPaused is the miss of a lookup made while Redis is being left alone.
var errPaused = errors.New("redis cache: paused after a failure")

// Options configure a Cache.
type Options struct {
	// Client is the Redis client; the server shares the limits' one. The
	// Cache does not close it.
	Client *goredis.Client
	// Logger gets the outage and recovery lines; nil discards.
	Logger *slog.Logger
	// MaxValueBytes is the longest value Get returns, as stored and once
	// inflated (the policy's llmbridge.CachePolicy.MaxValueBytes; 0 means
	// its default, 1 MiB): a longer one is a miss, read no further — a
	// value in a shared Redis may be anyone's, and a small deflated one
	// can inflate a thousandfold. SetMaxValueBytes changes it.
	MaxValueBytes int
}

// Cache is a Redis-backed llmbridge.Cache and cache.Backend, safe for
// concurrent use.
type Cache struct {
	rdb          *goredis.Client
	log          *slog.Logger
	hits, misses atomic.Int64
	down         atomic.Bool
	pausedUntil  atomic.Int64 // Unix nanoseconds
	maxValue     atomic.Int64 // Options.MaxValueBytes
	writers      sync.Pool    // *flate.Writer
}

var _ cache.Backend = (*Cache)(nil)

// New returns a cache over o.Client.
func New(o Options) (*Cache, error) {
	if o.Client == nil {
		return nil, errors.New("redis cache: nil client")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Cache{rdb: o.Client, log: o.Logger}
	c.SetMaxValueBytes(o.MaxValueBytes)
	return c, nil
}

// SetMaxValueBytes sets the longest value Get returns (Options.MaxValueBytes;
// 0 means 1 MiB), as a reloaded policy asks.
func (c *Cache) SetMaxValueBytes(n int) {
	if n <= 0 {
		n = 1 << 20
	}
	c.maxValue.Store(int64(n))
}

// Key returns the Redis key of k.
func Key(k llmbridge.CacheKey) string {
	return Prefix + escape(k.Scope) + ":" + escape(k.Model) + ":" + escape(k.Hash)
}

// pattern is the SCAN MATCH pattern of the keys f selects.
func pattern(f cache.Filter) string {
	switch {
	case f.Scope != "" && f.Model != "":
		return Prefix + escape(f.Scope) + ":" + escape(f.Model) + ":*"
	case f.Scope != "":
		return Prefix + escape(f.Scope) + ":*"
	case f.Model != "":
		return Prefix + "*:" + escape(f.Model) + ":*"
	}
	return Prefix + "*"
}

// escape percent-encodes every byte but letters, digits and ._/-, so
// the result holds no ':' and nothing SCAN MATCH treats specially.
func escape(s string) string {
	const hex = "0123456789ABCDEF"
	safe := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '/' || c == '-'
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if !safe(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		if c := s[i]; safe(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// paused reports whether Redis is being left alone after a failure.
func (c *Cache) paused() bool { return time.Now().UnixNano() < c.pausedUntil.Load() }

// failed notes a failed command: the outage is logged when it starts.
// A context that ended is the caller's budget, not an outage, unless
// the command could not even start.
func (c *Cache) failed(err error) {
	c.pausedUntil.Store(time.Now().Add(pause).UnixNano())
	if !c.down.Swap(true) {
		c.log.Warn("response cache: Redis is unreachable; lookups are misses and answers are not stored until it answers again", "error", err)
	}
}

// ok notes a command that worked: the recovery is logged once.
func (c *Cache) ok() {
	if c.down.Swap(false) {
		c.log.Info("response cache: Redis answers again")
	}
}

// Get returns the answer under key; a Redis failure is an error (a miss
// for the bridge).
func (c *Cache) Get(ctx context.Context, key llmbridge.CacheKey) ([]byte, bool, error) {
	if c.paused() {
		c.misses.Add(1)
		return nil, false, errPaused
	}
	v, err := c.rdb.Get(ctx, Key(key)).Bytes()
	switch {
	case errors.Is(err, goredis.Nil):
		c.ok()
		c.misses.Add(1)
		return nil, false, nil
	case err != nil:
		c.failed(err)
		c.misses.Add(1)
		return nil, false, err
	}
	c.ok()
	out, err := decode(v, c.maxValue.Load())
	if err != nil {
		c.misses.Add(1)
		return nil, false, err
	}
	c.hits.Add(1)
	return out, true, nil
}

// Set stores value under key with Redis's own expiry of ttl.
func (c *Cache) Set(ctx context.Context, key llmbridge.CacheKey, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return errors.New("redis cache: ttl must be positive")
	}
	if c.paused() {
		return errPaused
	}
	if err := c.rdb.Set(ctx, Key(key), c.encode(value), ttl).Err(); err != nil {
		c.failed(err)
		return err
	}
	c.ok()
	return nil
}

// encode prefixes value with its encoding, compressing large values.
func (c *Cache) encode(value []byte) []byte {
	if len(value) <= compressAbove {
		return append([]byte{plain}, value...)
	}
	var buf bytes.Buffer
	buf.Grow(len(value)/3 + 16)
	buf.WriteByte(deflated)
	w, _ := c.writers.Get().(*flate.Writer)
	if w == nil {
		w, _ = flate.NewWriter(&buf, flate.BestSpeed)
	} else {
		w.Reset(&buf)
	}
	_, _ = w.Write(value) // writes to a bytes.Buffer do not fail
	_ = w.Close()
	c.writers.Put(w)
	return buf.Bytes()
}

// errTooLong is the miss of a value longer than Options.MaxValueBytes.
var errTooLong = errors.New("redis cache: value longer than max_value_bytes")

// decode undoes encode, reading no more than max bytes of value.
func decode(v []byte, max int64) ([]byte, error) {
	if len(v) == 0 {
		return nil, errors.New("redis cache: empty value")
	}
	switch v[0] {
	case plain:
		if int64(len(v)-1) > max {
			return nil, errTooLong
		}
		return v[1:], nil
	case deflated:
		r := flate.NewReader(bytes.NewReader(v[1:]))
		defer r.Close()
		out, err := io.ReadAll(io.LimitReader(r, max+1))
		if err == nil && int64(len(out)) > max {
			return nil, errTooLong
		}
		return out, err
	}
	return nil, errors.New("redis cache: unknown value encoding")
}

// Purge deletes the keys f selects, scanning with SCAN MATCH.
func (c *Cache) Purge(ctx context.Context, f cache.Filter) (int, error) {
	n := 0
	it := c.rdb.Scan(ctx, 0, pattern(f), 1000).Iterator()
	batch := make([]string, 0, 500)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		d, err := c.rdb.Unlink(ctx, batch...).Result()
		n += int(d)
		batch = batch[:0]
		return err
	}
	for it.Next(ctx) {
		if batch = append(batch, it.Val()); len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := it.Err(); err != nil {
		return n, err
	}
	return n, flush()
}

// Stats reports whether Redis answers and the lookups so far; the size
// is not counted (-1): Redis is shared and counting means scanning.
func (c *Cache) Stats(context.Context) cache.Stats {
	return cache.Stats{Backend: "redis", Up: !c.down.Load(), Entries: -1, Bytes: -1, Hits: c.hits.Load(), Misses: c.misses.Load()}
}

// Close does nothing: the client belongs to the caller.
func (c *Cache) Close() error { return nil }
