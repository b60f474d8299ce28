package redis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/cache"
	"github.com/llmbridge/llmbridge/internal/redistest"
	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// logBuf is a slog handler target safe for concurrent use.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func newCache(t testing.TB, srv *redistest.Server, log *logBuf) (*Cache, *goredis.Client) {
	opt, err := goredis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	opt.MaxRetries = 0
	rdb := goredis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	o := Options{Client: rdb}
	if log != nil {
		o.Logger = slog.New(slog.NewTextHandler(log, nil))
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c, rdb
}

func key(scope, model string, i int) llmbridge.CacheKey {
	return llmbridge.CacheKey{Scope: scope, Model: model, Hash: fmt.Sprintf("%064x", i)}
}

func budget(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), llmbridge.CacheBudget)
	t.Cleanup(cancel)
	return ctx
}

func TestRoundTripCompressedWithTTL(t *testing.T) {
	srv := redistest.Start(t)
	c, rdb := newCache(t, srv, nil)
	big := bytes.Repeat([]byte(`{"content":"the same words again and again "}`), 200)
	for i, v := range [][]byte{[]byte("small"), big} {
		k := key("key-1", "openai/gpt-4o", i)
		if err := c.Set(budget(t), k, v, time.Minute); err != nil {
			t.Fatal(err)
		}
		got, ok, err := c.Get(budget(t), k)
		if err != nil || !ok || !bytes.Equal(got, v) {
			t.Fatalf("value %d: ok %v err %v, %d bytes back of %d", i, ok, err, len(got), len(v))
		}
		raw, _ := rdb.Get(context.Background(), Key(k)).Bytes()
		if ttl := rdb.PTTL(context.Background(), Key(k)).Val(); ttl <= 0 || ttl > time.Minute {
			t.Errorf("value %d: Redis TTL %v", i, ttl)
		}
		if i == 1 && len(raw) > len(v)/5 {
			t.Errorf("a repetitive %d-byte value is stored in %d bytes: not compressed", len(v), len(raw))
		}
	}
	if _, ok, err := c.Get(budget(t), key("key-2", "openai/gpt-4o", 0)); ok || err != nil {
		t.Errorf("another scope: ok %v err %v", ok, err)
	}
	if s := c.Stats(context.Background()); s.Hits != 2 || s.Misses != 1 || !s.Up {
		t.Errorf("stats %+v", s)
	}
}

// TestLongValuesAreMisses: a value that is, or inflates to, more than
// MaxValueBytes is a miss, inflated no further than the bound — a small
// deflated value in a shared Redis can stand for a thousandfold.
func TestLongValuesAreMisses(t *testing.T) {
	srv := redistest.Start(t)
	c, rdb := newCache(t, srv, nil)
	c.SetMaxValueBytes(64 << 10)
	bomb := bytes.Repeat([]byte{' '}, 64<<20) // deflates to about 64 kB
	for i, v := range [][]byte{bytes.Repeat([]byte("x"), 64<<10), bytes.Repeat([]byte(`{"a":1}`), 10<<10), bomb} {
		k := key("key-1", "m", i)
		if err := rdb.Set(context.Background(), Key(k), c.encode(v), time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		got, ok, err := c.Get(budget(t), k)
		if want := len(v) <= 64<<10; ok != want || ok && !bytes.Equal(got, v) || !ok && !errors.Is(err, errTooLong) {
			t.Errorf("a %d-byte value: ok %v (want %v), err %v", len(v), ok, want, err)
		}
	}
}

func TestKeysEscapeScopeAndModel(t *testing.T) {
	k := llmbridge.CacheKey{Scope: "a:b*", Model: "x/y:z[1]?", Hash: "ab"}
	if got, want := Key(k), Prefix+"a%3Ab%2A:x/y%3Az%5B1%5D%3F:ab"; got != want {
		t.Errorf("Key %q, want %q", got, want)
	}
	if strings.Count(strings.TrimPrefix(Key(k), Prefix), ":") != 2 {
		t.Error("a key holds more than its two separators")
	}
}

func TestPurgeByModelAndScope(t *testing.T) {
	srv := redistest.Start(t)
	c, rdb := newCache(t, srv, nil)
	ctx := context.Background()
	keys := []llmbridge.CacheKey{key("a", "m1", 1), key("a", "m:2", 2), key("b", "m1", 3), key("", "m1", 4), key("a", "m1x", 5)}
	for _, tc := range []struct {
		f    cache.Filter
		want int
	}{{cache.Filter{Model: "m1"}, 3}, {cache.Filter{Scope: "a"}, 3}, {cache.Filter{Scope: "a", Model: "m:2"}, 1}, {cache.Filter{}, 5}} {
		for _, k := range keys {
			_ = c.Set(ctx, k, []byte("v"), time.Minute)
		}
		_ = rdb.Set(ctx, "someone-else:key", "v", 0).Err()
		n, err := c.Purge(ctx, tc.f)
		if err != nil || n != tc.want {
			t.Errorf("purge %+v: %d %v, want %d", tc.f, n, err, tc.want)
		}
		for _, k := range keys {
			_, ok, _ := c.Get(ctx, k)
			if ok == tc.f.Match(k) {
				t.Errorf("purge %+v: key %+v present %v", tc.f, k, ok)
			}
		}
		if rdb.Exists(ctx, "someone-else:key").Val() != 1 {
			t.Fatal("purge removed a key that is not the cache's")
		}
		_, _ = c.Purge(ctx, cache.Filter{})
	}
}

// TestRedisDownIsAMissWithinBudget: with Redis killed, lookups and stores
// fail fast (a miss), the outage is logged once, and the cache serves
// again after Redis is back.
func TestRedisDownIsAMissWithinBudget(t *testing.T) {
	srv := redistest.Start(t)
	log := &logBuf{}
	c, _ := newCache(t, srv, log)
	k := key("a", "m", 1)
	if err := c.Set(budget(t), k, []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	for range 50 {
		start := time.Now()
		_, ok, err := c.Get(budget(t), k)
		if ok || err == nil {
			t.Fatalf("Redis down: ok %v err %v", ok, err)
		}
		if d := time.Since(start); d > 2*llmbridge.CacheBudget {
			t.Fatalf("a lookup with Redis down took %v", d)
		}
		if err := c.Set(budget(t), k, []byte("v"), time.Minute); err == nil {
			t.Fatal("a store with Redis down succeeded")
		}
	}
	if n := strings.Count(log.String(), "unreachable"); n != 1 {
		t.Errorf("the outage was logged %d times:\n%s", n, log)
	}
	if c.Stats(context.Background()).Up {
		t.Error("stats say up while Redis is down")
	}
	srv.Restart()
	time.Sleep(pause + 50*time.Millisecond)
	if err := c.Set(budget(t), k, []byte("v2"), time.Minute); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
	if v, ok, _ := c.Get(budget(t), k); !ok || string(v) != "v2" {
		t.Errorf("after the restart: %q %v", v, ok)
	}
	if !strings.Contains(log.String(), "answers again") {
		t.Errorf("the recovery was not logged:\n%s", log)
	}
}

// BenchmarkGetHit: one lookup of a 2 KiB answer over loopback.
func BenchmarkGetHit(b *testing.B) {
	srv := redistest.Start(b)
	c, _ := newCache(b, srv, nil)
	k := key("a", "m", 1)
	_ = c.Set(context.Background(), k, bytes.Repeat([]byte("answer "), 300), time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, err := c.Get(context.Background(), k); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
