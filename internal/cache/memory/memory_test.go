package memory

import (
	"bytes"
	"context"
	"fmt"
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
		for k := range c.c.Keys() {
			if tc.f.Match(k) {
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
