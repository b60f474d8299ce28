package memory

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
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
// for eviction is written again, so an answer read between every two
// writes into its shard (here all stores: it is the only one read)
// outlives any number of others, of any size the cache takes.
func TestReadAnswersStay(t *testing.T) {
	for _, most := range []int{512, 4<<10 - header - 8} { // small answers; the largest a 64 KiB ring takes
		c := newCache(t, 64<<10)
		ctx := context.Background()
		hot := key("", "m", -1)
		_ = c.Set(ctx, hot, []byte("hot"), time.Hour)
		r := rand.New(rand.NewPCG(1, uint64(most)))
		for i := range 2000 {
			_ = c.Set(ctx, key("", "m", i), make([]byte, most/2+r.IntN(most/2)), time.Hour)
			if v, ok, _ := c.Get(ctx, hot); !ok || string(v) != "hot" {
				t.Fatalf("answers up to %d bytes: the hot answer is gone after %d others: %q %v", most, i+1, v, ok)
			}
		}
		c.check(t)
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
		t.Error("an answer over a sixteenth of the ring was stored")
	}
	// A store that is refused still replaces: the older answer is gone.
	_ = c.Set(ctx, key("", "m", 2), []byte("old"), time.Hour)
	_ = c.Set(ctx, key("", "m", 2), make([]byte, 16<<10), time.Hour)
	_ = c.Set(ctx, key(strings.Repeat("s", 1<<16), "m", 3), []byte("v"), time.Hour)
	if _, ok, _ := c.Get(ctx, key("", "m", 2)); ok {
		t.Error("a refused store left the older answer")
	}
	if s := c.Stats(ctx); s.Entries != 0 {
		t.Errorf("after refused stores: %+v", s)
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
	// An answer past its TTL is removed but not counted.
	_ = c.Set(ctx, key("a", "m1", 1), []byte("x"), time.Nanosecond)
	_ = c.Set(ctx, key("a", "m1", 2), []byte("y"), time.Hour)
	time.Sleep(time.Millisecond)
	for _, f := range []cache.Filter{{Model: "m1"}, {}} {
		if n, _ := c.Purge(ctx, f); n != 1 {
			t.Errorf("purge %+v with one answer expired: %d, want 1", f, n)
		}
		_ = c.Set(ctx, key("a", "m1", 1), []byte("x"), time.Nanosecond)
		_ = c.Set(ctx, key("a", "m1", 2), []byte("y"), time.Hour)
		time.Sleep(time.Millisecond)
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

// check walks both laps of every shard record by record: each length
// is a record's and the walk ends exactly at head and at end; head never
// passes tail; the index names exactly the records not marked dead, and
// the shard's bytes are theirs.
func (c *Cache) check(t testing.TB) {
	t.Helper()
	for i := range c.shards {
		s := &c.shards[i]
		if s.buf == nil {
			continue
		}
		if int(s.end) > len(s.buf) || s.head > s.end && s.tail < s.end || s.tail > s.end {
			t.Fatalf("shard %d: head %d tail %d end %d in %d bytes", i, s.head, s.tail, s.end, len(s.buf))
		}
		live, sum := map[uint32]bool{}, int64(0)
		for _, lap := range [][2]uint32{{0, s.head}, {s.tail, s.end}} {
			off := lap[0]
			for off < lap[1] {
				n := s.length(off)
				if n < header || off+n > lap[1] {
					t.Fatalf("shard %d: a length of %d at %d in [%d, %d)", i, n, off, lap[0], lap[1])
				}
				if exp, _, _, _ := s.fields(off); exp != 0 {
					if k := id(s.buf[off+4 : off+36]); s.m[k.short()] != off {
						t.Fatalf("shard %d: a live record at %d that the index does not name", i, off)
					}
					live[off] = true
					sum += int64(n)
				}
				off += n
			}
		}
		for k, off := range s.m {
			if !live[off] {
				t.Fatalf("shard %d: the index names %x at %d, no live record", i, k, off)
			}
		}
		if len(live) != len(s.m) || sum != s.bytes {
			t.Fatalf("shard %d: %d live records of %d bytes, index %d, counted %d", i, len(live), sum, len(s.m), s.bytes)
		}
	}
}

// TestRandomOpsAgainstAModel drives one shard of caches from 1 byte to
// 64 KiB with seeded random stores (up to past the size limit), lookups,
// purges and a clock of its own, against a map: a lookup returns the
// last answer stored under its key within its TTL or misses (and then
// the index no longer names it); a purge's count is exactly the
// matching answers that were there and had not expired; check holds
// after every step.
func TestRandomOpsAgainstAModel(t *testing.T) {
	type answer struct {
		scope, model string
		v            []byte
		exp          int64
	}
	scopes, models := []string{"", "a", "bb", "ccc"}, []string{"m", "nn", "ooo"}
	for _, size := range []int64{1, 100, 300, 4 << 10, 64 << 10} {
		for seed := range uint64(40) {
			r := rand.New(rand.NewPCG(seed, uint64(size)))
			c, err := New(size)
			if err != nil {
				t.Fatal(err)
			}
			s := &c.shards[0]
			keys := 8 + r.IntN(300)
			want := map[id]answer{}
			now := int64(1000)
			maxValue := max(int(size)/16-header, 1) + 20
			for op := range 3000 {
				i := r.IntN(keys)
				var k id
				binary.BigEndian.PutUint64(k[24:], uint64(i))
				scope, model := scopes[i%4], models[i%3]
				switch x := r.IntN(100); {
				case x < 45:
					v := make([]byte, r.IntN(maxValue))
					for j := range v {
						v[j] = byte(op + j)
					}
					exp := now + 1 + int64(r.IntN(500))
					s.mu.Lock()
					if s.put(k, exp, scope, model, v) {
						want[k] = answer{scope, model, v, exp}
					} else {
						delete(want, k)
					}
					s.mu.Unlock()
				case x < 90:
					got, ok := s.get(k, scope, model, now)
					w, had := want[k]
					if ok && (!had || !bytes.Equal(got, w.v) || w.exp <= now) {
						t.Fatalf("size %d seed %d op %d: a wrong answer", size, seed, op)
					}
					if !ok {
						if off, in := s.m[k.short()]; in && id(s.buf[off+4:off+36]) == k && (!had || w.exp <= now) {
							t.Fatalf("size %d seed %d op %d: a miss the index still names", size, seed, op)
						}
						delete(want, k)
					}
				case x < 95:
					now += int64(r.IntN(50))
				default:
					f := cache.Filter{Scope: scopes[r.IntN(4)], Model: models[r.IntN(3)]}
					if r.IntN(2) == 0 {
						f.Scope = ""
					}
					there := 0
					for k, w := range want {
						if off, in := s.m[k.short()]; in && id(s.buf[off+4:off+36]) == k && w.exp > now && f.Match(llmbridge.CacheKey{Scope: w.scope, Model: w.model}) {
							there++
						}
					}
					s.mu.Lock()
					n := s.purge(f, now)
					s.mu.Unlock()
					if n != there {
						t.Fatalf("size %d seed %d op %d: purged %d, want %d", size, seed, op, n, there)
					}
					for k, w := range want {
						if f.Match(llmbridge.CacheKey{Scope: w.scope, Model: w.model}) {
							delete(want, k)
						}
					}
				}
				c.check(t)
			}
			c.Close()
		}
	}
}

// TestConcurrentUseAndClose: lookups, stores, purges and stats from eight
// goroutines, with the cache closed under them (-race; the rings are in
// the heap then, where the detector sees them).
func TestConcurrentUseAndClose(t *testing.T) {
	for round := range 3 {
		c, err := New(32 << 20)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for g := range 8 {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(g), uint64(round)))
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					k := key([]string{"", "a"}[i%2], "m", r.IntN(5000))
					switch r.IntN(20) {
					case 0:
						_, _ = c.Purge(ctx, cache.Filter{Scope: "a"})
					case 1:
						_ = c.Stats(ctx)
					case 2, 3, 4, 5, 6, 7:
						v := bytes.Repeat([]byte{byte(k.Hash[63])}, r.IntN(16<<10))
						_ = c.Set(ctx, k, v, time.Hour)
					default:
						if v, ok, _ := c.Get(ctx, k); ok && len(v) > 0 && (v[0] != k.Hash[63] || v[len(v)-1] != k.Hash[63]) {
							t.Errorf("%s answered another key's bytes", k.Hash[60:])
						}
					}
				}
			})
		}
		time.Sleep(100 * time.Millisecond)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		close(stop)
		wg.Wait()
		if s := c.Stats(ctx); s.Up || s.Entries != 0 {
			t.Errorf("closed: %+v", s)
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

// BenchmarkMissThenStore is what a miss costs a full cache of the size
// bridgebench's bridge-all runs (256 MiB of 7 KiB stream answers, about
// 36,000 of them): the lookup that misses, then the store that evicts the
// oldest answer. Its index is megabytes, so the look-ups wait for memory,
// as they do under load, where the index is never in the CPU's caches.
func BenchmarkMissThenStore(b *testing.B) {
	c := newCache(b, 256<<20)
	ctx := context.Background()
	v := make([]byte, 7<<10)
	n := 0
	for ; n < 40000; n++ {
		_ = c.Set(ctx, key("vk_0123456789abcdef", "openai/gpt-4o", n), v, time.Hour)
	}
	b.ReportAllocs()
	for b.Loop() {
		n++
		k := key("vk_0123456789abcdef", "openai/gpt-4o", n)
		if _, ok, _ := c.Get(ctx, k); ok {
			b.Fatal("a hit")
		}
		_ = c.Set(ctx, k, v, time.Hour)
	}
}

// TestShortFormsShared: two ids with one short form (the index's key) are
// two answers; the index holds the later, and a look-up of the other
// misses rather than answering with the wrong one.
func TestShortFormsShared(t *testing.T) {
	c := newCache(t, 1<<20)
	ctx := context.Background()
	var a, b id
	binary.BigEndian.PutUint64(a[24:], 0x1234)
	binary.LittleEndian.PutUint64(b[:8], 1)
	binary.BigEndian.PutUint64(b[24:], 0x1234^1)
	if a.short() != b.short() || a == b {
		t.Fatal("the ids do not share a short form")
	}
	ka := llmbridge.CacheKey{Scope: "s", Model: "m", Hash: hex.EncodeToString(a[:])}
	kb := llmbridge.CacheKey{Scope: "s", Model: "m", Hash: hex.EncodeToString(b[:])}
	_ = c.Set(ctx, ka, []byte("A"), time.Hour)
	if _, ok, _ := c.Get(ctx, kb); ok {
		t.Fatal("b answered with a's answer")
	}
	if v, ok, _ := c.Get(ctx, ka); !ok || string(v) != "A" {
		t.Fatalf("a: %q %v", v, ok)
	}
	_ = c.Set(ctx, kb, []byte("B"), time.Hour)
	if v, ok, _ := c.Get(ctx, kb); !ok || string(v) != "B" {
		t.Fatalf("b: %q %v", v, ok)
	}
	if _, ok, _ := c.Get(ctx, ka); ok {
		t.Fatal("a still answered after b took its place in the index")
	}
	c.check(t)
}
