package memory

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"math"
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
	if s := c.Stats(ctx); s.Bytes > max || s.Entries > max/1024 || s.Entries < max/1024/2 {
		t.Errorf("after 1000 KiB into a 64 KiB cache: %+v", s)
	}
	// First in, first out: the last answers are there, the first gone.
	if _, ok, _ := c.Get(ctx, key("", "m", 999)); !ok {
		t.Error("the newest answer was evicted")
	}
	if _, ok, _ := c.Get(ctx, key("", "m", 0)); ok {
		t.Error("the oldest answer is still there")
	}
}

// TestReadAnswersStay: an answer that is read while it is next in line
// for eviction is written again, so a hot answer outlives any number of
// cold ones.
func TestReadAnswersStay(t *testing.T) {
	c := newCache(t, 64<<10)
	ctx := context.Background()
	hot := key("", "m", -1)
	_ = c.Set(ctx, hot, []byte("hot"), time.Hour)
	for i := range 2000 {
		_ = c.Set(ctx, key("", "m", i), make([]byte, 512), time.Hour)
		if v, ok, _ := c.Get(ctx, hot); !ok || string(v) != "hot" {
			t.Fatalf("the hot answer is gone after %d others: %q %v", i+1, v, ok)
		}
	}
}

func TestReplaceAndCopies(t *testing.T) {
	c := newCache(t, 1<<20)
	ctx := context.Background()
	k := key("a", "m", 1)
	v := []byte("first")
	_ = c.Set(ctx, k, v, time.Hour)
	v[0] = 'F' // Set copied it
	_ = c.Set(ctx, k, []byte("second"), time.Hour)
	got, ok, _ := c.Get(ctx, k)
	if !ok || string(got) != "second" {
		t.Fatalf("got %q %v, want the second answer", got, ok)
	}
	got[0] = 'S' // Get returned a copy
	if got, _, _ := c.Get(ctx, k); string(got) != "second" {
		t.Errorf("a caller's change reached the cache: %q", got)
	}
	if s := c.Stats(ctx); s.Entries != 1 || s.Bytes != int64(header+len("a")+len("m")+len("second")) {
		t.Errorf("after a replace: %+v", s)
	}
}

func TestTooBigAndBounds(t *testing.T) {
	c := newCache(t, 64<<10)
	ctx := context.Background()
	if err := c.Set(ctx, key("", "m", 1), make([]byte, 16<<10), time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := c.Get(ctx, key("", "m", 1)); ok {
		t.Error("an answer over a quarter of the ring was stored")
	}
	for _, n := range []int64{0, -1, MaxBytes + 1} {
		if _, err := New(n); err == nil {
			t.Errorf("New(%d) was accepted", n)
		}
	}
}

func TestClosedMisses(t *testing.T) {
	c, err := New(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_ = c.Set(ctx, key("", "m", 1), []byte("v"), time.Hour)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	_ = c.Set(ctx, key("", "m", 2), []byte("v"), time.Hour)
	if _, ok, _ := c.Get(ctx, key("", "m", 1)); ok {
		t.Error("a closed cache answered")
	}
	if n, _ := c.Purge(ctx, cache.Filter{Model: "m"}); n != 0 {
		t.Errorf("a closed cache purged %d", n)
	}
	if s := c.Stats(ctx); s.Entries != 0 {
		t.Errorf("closed: %+v", s)
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

// TestForever: a TTL of centuries does not overflow into the past.
func TestForever(t *testing.T) {
	c := newCache(t, 1<<20)
	ctx := context.Background()
	_ = c.Set(ctx, key("", "m", 1), []byte("v"), math.MaxInt64)
	if _, ok, _ := c.Get(ctx, key("", "m", 1)); !ok {
		t.Error("an answer stored for ever has expired")
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
		for _, k := range []llmbridge.CacheKey{key("a", "m1", 1), key("a", "m2", 2), key("b", "m1", 3), key("", "m1", 4)} {
			if _, ok, _ := c.Get(ctx, k); ok {
				if tc.f.Match(k) {
					t.Errorf("purge %+v left %+v", tc.f, k)
				}
				left++
			}
		}
		if s := c.Stats(ctx); left != 4-tc.want || s.Entries != int64(left) {
			t.Errorf("purge %+v: %d left (%d entries), want %d", tc.f, left, s.Entries, 4-tc.want)
		}
		_, _ = c.Purge(ctx, cache.Filter{})
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

// BenchmarkHeapPerCachedKB: what the cache holds in the Go heap per KiB
// of answers it stores, for a short answer (a non-streamed
// chat.completion, 700 B) and a stream's chunks (7 KiB): the index
// alone, the answers being in the mapped ring. The collector's work is
// the other metric: the objects it must mark per thousand answers.
func BenchmarkHeapPerCachedKB(b *testing.B) {
	for _, size := range []int{700, 7 << 10} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			const n = 20000
			var perKB, objects float64
			for b.Loop() {
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				c, err := New(int64(n) * int64(size+200))
				if err != nil {
					b.Fatal(err)
				}
				for i := range n {
					_ = c.Set(context.Background(), key("vk_0123456789abcdef", "openai/gpt-4o", i), make([]byte, size), time.Hour)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				if s := c.Stats(context.Background()); s.Entries != n {
					b.Fatalf("%d entries, want %d", s.Entries, n)
				}
				perKB = float64(after.HeapAlloc-before.HeapAlloc) / (float64(n*size) / 1024)
				objects = float64(after.HeapObjects-before.HeapObjects) / (n / 1000)
				runtime.KeepAlive(c)
				c.Close()
			}
			b.ReportMetric(perKB, "heapB/KiB")
			b.ReportMetric(objects, "objects/1000")
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

// check walks every shard's index: each entry names a whole record of
// its own id inside the ring, and the shard's bytes are its records'.
func (c *Cache) check(t testing.TB) {
	t.Helper()
	for i := range c.shards {
		s := &c.shards[i]
		var sum int64
		for k, off := range s.m {
			n := s.length(off)
			if int(off)+int(n) > len(s.buf) || id(s.buf[off+4:off+36]) != k {
				t.Fatalf("shard %d: %x names offset %d, a record of %d bytes for %x", i, k[:4], off, n, s.buf[off+4:off+8])
			}
			if off >= s.head && off < s.tail { // between the laps: overwritten space
				t.Fatalf("shard %d: a record at %d, in [head %d, tail %d)", i, off, s.head, s.tail)
			}
			sum += int64(n)
		}
		// Every record not marked dead, in both laps, is the one indexed.
		for _, lap := range [][2]uint32{{0, s.head}, {s.tail, s.end}} {
			for off := lap[0]; off < lap[1]; off += s.length(off) {
				if exp, _, _, _ := s.fields(off); exp != 0 && s.m[id(s.buf[off+4:off+36])] != off {
					t.Fatalf("shard %d: a live record at %d that the index does not name", i, off)
				}
			}
		}
		if sum != s.bytes || sum > int64(len(s.buf)) {
			t.Fatalf("shard %d: records of %d bytes, counted %d, ring %d", i, sum, s.bytes, len(s.buf))
		}
	}
}

// FuzzOps runs a random sequence of stores, lookups and purges against
// a small cache and a map: a lookup returns the answer last stored
// under its key or misses, never another's; a purge leaves nothing it
// matches; the index stays whole (check).
func FuzzOps(f *testing.F) {
	f.Add([]byte{0, 1, 40, 4, 1, 0, 2, 200, 5, 1, 4, 2, 6, 0, 3, 250})
	f.Add(bytes.Repeat([]byte{0, 7, 255, 4, 7, 1, 3, 100}, 40))
	f.Fuzz(func(t *testing.T, ops []byte) {
		c, err := New(4 << 10)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ctx := context.Background()
		keyOf := func(b byte) llmbridge.CacheKey {
			return key([]string{"", "a", "b"}[b%3], []string{"m", "n"}[b%2], int(b%16))
		}
		want := map[llmbridge.CacheKey][]byte{}
		for i := 0; i+2 < len(ops); i += 3 {
			op, k := ops[i]%8, keyOf(ops[i+1])
			switch {
			case op < 4:
				v := bytes.Repeat([]byte{ops[i+1]}, int(ops[i+2])*2)
				v = append(v, byte(i))
				_ = c.Set(ctx, k, v, time.Hour)
				want[k] = v
			case op < 6:
				got, ok, _ := c.Get(ctx, k)
				if ok && !bytes.Equal(got, want[k]) {
					t.Fatalf("op %d: %+v answered %d bytes, not the %d last stored", i/3, k, len(got), len(want[k]))
				}
			case op == 6:
				flt := cache.Filter{Scope: k.Scope, Model: k.Model}
				if ops[i+2]%2 == 0 {
					flt.Scope = ""
				}
				n, _ := c.Purge(ctx, flt)
				for wk := range want {
					if flt.Match(wk) {
						delete(want, wk)
						n--
					}
				}
				if n > 0 {
					t.Fatalf("op %d: purged %d answers more than were stored", i/3, n)
				}
			default:
				_, _ = c.Purge(ctx, cache.Filter{})
				clear(want)
			}
			c.check(t)
		}
	})
}
