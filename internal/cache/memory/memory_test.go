package memory

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/cache"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newCache(t testing.TB, max int64) *Cache {
	c, err := New(max)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func key(scope, model string, i int) llmbridge.CacheKey {
	return llmbridge.CacheKey{Scope: scope, Model: model, Hash: fmt.Sprintf("%064x", i)}
}

// TestIDs: the Bridge's hashes key the cache by their 32 bytes; any
// other Hash by a digest of the whole key, so keys that differ in scope
// or model stay apart.
func TestIDs(t *testing.T) {
	k := key("a", "m", 7)
	want, _ := hex.DecodeString(k.Hash)
	if got := idOf(k); !bytes.Equal(got[:], want) {
		t.Errorf("id %x, want the hash's bytes %x", got, want)
	}
	other := []llmbridge.CacheKey{{Scope: "a", Model: "m", Hash: "h"}, {Scope: "b", Model: "m", Hash: "h"}, {Scope: "a", Model: "n", Hash: "h"}, {Scope: "a", Model: "m", Hash: strings.Repeat("z", 64)}}
	seen := map[id]bool{}
	for _, k := range other {
		seen[idOf(k)] = true
	}
	if len(seen) != len(other) {
		t.Errorf("%d ids for %d keys", len(seen), len(other))
	}
}

func TestGetSetAndStats(t *testing.T) {
	c := newCache(t, 1<<20)
	ctx := context.Background()
	if _, ok, err := c.Get(ctx, key("a", "m", 1)); ok || err != nil {
		t.Fatalf("empty cache: ok %v err %v", ok, err)
	}
	if err := c.Set(ctx, key("a", "m", 1), []byte("v1"), time.Hour); err != nil {
		t.Fatal(err)
	}
	v, ok, err := c.Get(ctx, key("a", "m", 1))
	if !ok || err != nil || string(v) != "v1" {
		t.Fatalf("got %q %v %v", v, ok, err)
	}
	if _, ok, _ := c.Get(ctx, key("b", "m", 1)); ok {
		t.Error("another scope's key hit")
	}
	s := c.Stats(ctx)
	if s.Hits != 1 || s.Misses != 2 || s.Entries != 1 || s.Bytes <= 2 || !s.Up || s.HitRatio() != 1.0/3 {
		t.Errorf("stats %+v", s)
	}
	if err := c.Set(ctx, key("a", "m", 2), []byte("x"), 0); err == nil {
		t.Error("a zero ttl was accepted")
	}
}

func TestBoundedByBytes(t *testing.T) {
	const max = 64 << 10
	c := newCache(t, max)
	ctx := context.Background()
	v := bytes.Repeat([]byte("x"), 1024)
	for i := range 1000 {
		if err := c.Set(ctx, key("", "m", i), v, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	c.c.CleanUp()
	if s := c.Stats(ctx); s.Bytes > max || s.Entries > max/1024 || s.Entries == 0 {
		t.Errorf("after 1000 KiB into a 64 KiB cache: %+v", s)
	}
}

func TestExpiresAfterTTL(t *testing.T) {
	c := newCache(t, 1<<20)
	ctx := context.Background()
	_ = c.Set(ctx, key("", "m", 1), []byte("short"), 20*time.Millisecond)
	_ = c.Set(ctx, key("", "m", 2), []byte("long"), time.Hour)
	time.Sleep(60 * time.Millisecond)
	if _, ok, _ := c.Get(ctx, key("", "m", 1)); ok {
		t.Error("an expired answer was served")
	}
	if _, ok, _ := c.Get(ctx, key("", "m", 2)); !ok {
		t.Error("an answer within its TTL is gone")
	}
}

func TestPurge(t *testing.T) {
	c := newCache(t, 1<<20)
	ctx := context.Background()
	fill := func() {
		for i, k := range []llmbridge.CacheKey{key("a", "m1", 1), key("a", "m2", 2), key("b", "m1", 3), key("", "m1", 4)} {
			_ = c.Set(ctx, k, []byte{byte(i)}, time.Hour)
		}
	}
	for _, tc := range []struct {
		f    cache.Filter
		want int
	}{{cache.Filter{Model: "m1"}, 3}, {cache.Filter{Scope: "a"}, 2}, {cache.Filter{Scope: "a", Model: "m2"}, 1}, {cache.Filter{}, 4}} {
		fill()
		n, err := c.Purge(ctx, tc.f)
		if err != nil || n != tc.want {
			t.Errorf("purge %+v: %d %v, want %d", tc.f, n, err, tc.want)
		}
		left := 0
		for _, it := range c.c.All() {
			if k := (llmbridge.CacheKey{Scope: it.scope, Model: it.model}); tc.f.Match(k) {
				t.Errorf("purge %+v left %+v", tc.f, k)
			}
			left++
		}
		if left != 4-tc.want {
			t.Errorf("purge %+v: %d left, want %d", tc.f, left, 4-tc.want)
		}
		c.c.InvalidateAll()
	}
}

// BenchmarkGetHit: one lookup that hits.
func BenchmarkGetHit(b *testing.B) {
	c := newCache(b, 1<<20)
	ctx := context.Background()
	_ = c.Set(ctx, key("a", "m", 1), make([]byte, 2048), time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, _ := c.Get(ctx, key("a", "m", 1)); !ok {
			b.Fatal("miss")
		}
	}
}

// BenchmarkHeapPerCachedKB: what the cache holds in the heap per KiB of
// answers it stores, for a short answer (a non-streamed chat.completion,
// 700 B) and a stream's chunks (7 KiB). The metric is heap bytes per
// KiB of values: 1024 would be no overhead at all.
func BenchmarkHeapPerCachedKB(b *testing.B) {
	for _, size := range []int{700, 7 << 10} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			const n = 20000
			var perKB float64
			for b.Loop() {
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				c, err := New(1 << 40)
				if err != nil {
					b.Fatal(err)
				}
				for i := range n {
					v := make([]byte, size)
					_ = c.Set(context.Background(), key("vk_0123456789abcdef", "openai/gpt-4o", i), v, time.Hour)
				}
				c.c.CleanUp()
				runtime.GC()
				runtime.ReadMemStats(&after)
				if c.c.EstimatedSize() != n {
					b.Fatalf("%d entries, want %d", c.c.EstimatedSize(), n)
				}
				perKB = float64(after.HeapAlloc-before.HeapAlloc) / (float64(n*size) / 1024)
				runtime.KeepAlive(c)
				c.Close()
			}
			b.ReportMetric(perKB, "heapB/KiB")
		})
	}
}

// BenchmarkSetEvicting: storing a new stream's answer (7 KiB) in a full
// cache, which evicts an older one: what a miss costs the memory backend
// once the cache is warm.
func BenchmarkSetEvicting(b *testing.B) {
	c := newCache(b, 8<<20)
	ctx := context.Background()
	keys := make([]llmbridge.CacheKey, 1<<14)
	for i := range keys {
		keys[i] = key("vk_0123456789abcdef", "openai/gpt-4o", i)
	}
	for i := range keys {
		_ = c.Set(ctx, keys[i], make([]byte, 7<<10), time.Hour)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		_ = c.Set(ctx, keys[i%len(keys)], make([]byte, 7<<10), time.Hour)
	}
}
