package memory

import (
	"encoding/binary"
	"sync"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/cache"
)

// A record is one answer in a shard's ring: a header, then the key's
// scope and model, then the value.
//
//	[0:4]   the record's length in bytes, header included
//	[4:36]  its id
//	[36:44] when it expires, in Unix nanoseconds
//	[44:46] the scope's length, [46:48] the model's
const header = 48

// shard is one part of the cache: a ring of bytes written front to back,
// and an index from id to the offset of the id's record. Records of the
// lap before the current one lie in [tail, end), the oldest at tail; the
// current lap's in [0, head). A record is written at head after the
// records it would overwrite are evicted from tail on, so the index
// only ever names whole, live records, and an answer is evicted first
// in, first out, unless a hit moves it back to head first (get).
//
// The index is keyed by an id's short form (short): 16 bytes an entry
// where the whole id made 40, so that the look-ups, which under load find
// the index out of the CPU's caches, touch less memory. Two ids with one
// short form are two answers, of which the index holds the later: each
// short form names at most one live record, which holds the whole id, and
// a look-up that finds another id there is a miss.
//
// Neither the ring nor the index holds a pointer: the collector never
// scans what the cache stores, however many answers it holds.
type shard struct {
	mu              sync.Mutex
	buf             []byte            // the ring; nil once the cache is closed
	m               map[uint64]uint32 // short id → offset of its record in buf
	head, tail, end uint32
	bytes           int64    // the live records' bytes
	_               [64]byte // shards side by side do not share a cache line
}

func (s *shard) length(off uint32) uint32 { return binary.LittleEndian.Uint32(s.buf[off:]) }

// short is k's key in a shard's index: both ends of k mixed, as the
// shard is chosen (a Bridge's k is a digest, a caller's Hash need not
// be).
func (k *id) short() uint64 {
	return binary.LittleEndian.Uint64(k[:8]) ^ binary.BigEndian.Uint64(k[24:])
}

// drop removes the record at off, which the index names under sk, from
// the index and marks it dead: an expiry of 0, which no stored record has.
func (s *shard) drop(sk uint64, off uint32) {
	delete(s.m, sk)
	s.bytes -= int64(s.length(off))
	binary.LittleEndian.PutUint64(s.buf[off+36:], 0)
}

// evictTo evicts the previous lap's records that start before limit. A
// record not marked dead is the one the index names for its id's short
// form.
func (s *shard) evictTo(limit uint32) {
	for s.tail < s.end && s.tail < limit {
		r := s.buf[s.tail:]
		n := binary.LittleEndian.Uint32(r)
		if n < header || n > s.end-s.tail { // not a record: never so, but a broken ring must not loop
			s.reset()
			return
		}
		if binary.LittleEndian.Uint64(r[36:]) != 0 {
			k := id(r[4:36])
			delete(s.m, k.short())
			s.bytes -= int64(n)
		}
		s.tail += n
	}
}

// put writes a record at head, evicting what it overwrites, in place of
// any record of k. It reports false, storing nothing, for a record over
// a sixteenth of the ring (one answer must not flush a shard, and a read
// answer must outlive any one put: see get), for a scope or model over
// 65,535 bytes, and once the cache is closed.
func (s *shard) put(k id, exp int64, scope, model string, v []byte) bool {
	sk := k.short()
	if off, ok := s.m[sk]; ok {
		s.drop(sk, off) // k's answer, or another id's with k's short form
	}
	n := header + len(scope) + len(model) + len(v)
	if s.buf == nil || n > len(s.buf)/16 || len(scope) > 0xffff || len(model) > 0xffff {
		return false
	}
	if int(s.head)+n > len(s.buf) { // the next lap
		s.evictTo(s.end)
		s.end, s.tail, s.head = s.head, 0, 0
	}
	s.evictTo(s.head + uint32(n))
	r := s.buf[s.head : int(s.head)+n]
	binary.LittleEndian.PutUint32(r, uint32(n))
	copy(r[4:36], k[:])
	binary.LittleEndian.PutUint64(r[36:], uint64(exp))
	binary.LittleEndian.PutUint16(r[44:], uint16(len(scope)))
	binary.LittleEndian.PutUint16(r[46:], uint16(len(model)))
	copy(r[header+copy(r[header:], scope):], model)
	copy(r[header+len(scope)+len(model):], v)
	s.m[sk] = s.head
	s.head += uint32(n)
	s.bytes += int64(n)
	return true
}

// fields returns the record at off's expiry, scope, model and value, the
// last three in the ring.
func (s *shard) fields(off uint32) (exp int64, scope, model, v []byte) {
	r := s.buf[off : off+s.length(off)]
	sl, ml := int(binary.LittleEndian.Uint16(r[44:])), int(binary.LittleEndian.Uint16(r[46:]))
	return int64(binary.LittleEndian.Uint64(r[36:])), r[header : header+sl], r[header+sl : header+sl+ml], r[header+sl+ml:]
}

// get returns a copy of the value stored under k for scope and model if
// it has not expired by now. An answer that is next in line for
// eviction (an eighth of the ring or less from head) is written again at
// head. One put takes less than an eighth (at most a sixteenth for its
// record, and less again skipped at the ring's end), so an answer read
// between any two puts into its shard (stores, and the re-writes of
// other answers read) is never evicted; what is not read leaves first.
func (s *shard) get(k id, scope, model string, now int64) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sk := k.short()
	off, ok := s.m[sk]
	if !ok || id(s.buf[off+4:off+36]) != k {
		return nil, false // none, or another id's with k's short form
	}
	exp, sc, mo, v := s.fields(off)
	if exp <= now {
		s.drop(sk, off)
		return nil, false
	}
	if string(sc) != scope || string(mo) != model { // one id, another key: never served across scopes
		return nil, false
	}
	out := make([]byte, len(v))
	copy(out, v)
	if s.untilOverwritten(off) <= len(s.buf)/8 {
		s.put(k, exp, scope, model, out)
	}
	return out, true
}

// untilOverwritten is how many bytes are written at head before the
// record at off is evicted: the rest of this lap and the next up to off.
func (s *shard) untilOverwritten(off uint32) int {
	if off >= s.head {
		return int(off - s.head)
	}
	return len(s.buf) - int(s.head) + int(off)
}

// purge drops the records f matches (the zero Filter: all, emptying the
// shard) and reports how many of them had not expired by now.
func (s *shard) purge(f cache.Filter, now int64) int {
	all, n := f == (cache.Filter{}), 0
	for sk, off := range s.m {
		exp, scope, model, _ := s.fields(off)
		if all || f.Match(llmbridge.CacheKey{Scope: string(scope), Model: string(model)}) {
			if !all {
				s.drop(sk, off)
			}
			if exp > now {
				n++
			}
		}
	}
	if all {
		s.reset()
	}
	return n
}

// reset empties the shard; the ring's memory stays mapped.
func (s *shard) reset() {
	clear(s.m)
	s.head, s.tail, s.end, s.bytes = 0, 0, 0, 0
}
