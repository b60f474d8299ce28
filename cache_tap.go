package llmbridge

import (
	"bytes"
	"sync"

	"github.com/llmbridge/llmbridge/internal/cache/codec"
	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/tidwall/gjson"
)

// cacheTap records a Chat Completions answer as the pass-through relay
// (relayRaw, relayNative) reads it; it hangs on the meter (meter.tap). A stream's events' data are written
// in the encoded entry's form (codec.Entry.Encode's: the chunks member
// first, the tail appended when storing: AppendTail) into a pooled buffer, copied
// once into a value of the exact size when stored; a non-streamed body is
// kept as the relay read it (its buffer is not reused).
//
// A chunk the relay's inspector read from the head of the chunk before
// it on, when that one was written whole, is written short, as "{" + its
// rest, and so is every later chunk with that head; which ones and where
// the head is are said once, when stored (codec.AppendShortTail): an
// OpenAI stream's value takes half the bytes.
type cacheTap struct {
	buf      *[]byte // from tapBufs: `{"chunks":[` and the events' data, comma-separated
	room     int     // the largest value allowed (MaxValueBytes)
	over     bool    // the stream outgrew room: nothing is stored
	finished int     // choices that ended with a finish_reason
	bad      bool    // one of them did not end normally
	done     bool    // [DONE] was read
	body     []byte  // the non-streamed answer
	marks    []byte  // per chunk: '1' written short, '0' whole
	markBuf  [32]byte
	// The head the short chunks lost is the first headLen bytes of chunk
	// headFrom (-1: none yet), at headStart in buf; the last chunk
	// written whole is chunk lastFrom (-1: none), lastLen bytes at
	// lastStart.
	headFrom, headStart, headLen int
	lastFrom, lastStart, lastLen int
}

// tapBufs holds the buffers of cacheTaps; buffers above maxTapBuf are
// left to the collector.
var tapBufs = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

const maxTapBuf = 256 << 10

// copies reports whether c copies the values it is given to Set (a
// CopiesValues method reporting true, as the server's memory cache has),
// so the Bridge may reuse their bytes after.
func copies(c Cache) bool {
	cv, ok := c.(interface{ CopiesValues() bool })
	return ok && cv.CopiesValues()
}

// startStream forgets what an earlier attempt's relay recorded.
func (t *cacheTap) startStream() {
	t.release()
	t.over, t.finished, t.bad, t.done = false, 0, false, false
	t.marks, t.headFrom, t.lastFrom = t.markBuf[:0], -1, -1
}

// release returns the tap's buffer to the pool.
func (t *cacheTap) release() {
	if t.buf != nil && cap(*t.buf) <= maxTapBuf {
		tapBufs.Put(t.buf)
	}
	t.buf = nil
}

// event records one event's data (before any change made for the
// client: the usage chunk is kept) and what the relay saw in it; head and
// rest are what its inspector's Short said of it.
func (t *cacheTap) event(data []byte, info *openai.ChunkInfo, head, rest []byte) {
	t.finished += info.Finished
	t.bad = t.bad || info.BadFinish
	if t.over || len(data) == 0 {
		return
	}
	if t.buf == nil {
		t.buf = tapBufs.Get().(*[]byte)
		*t.buf = append((*t.buf)[:0], `{"chunks":[`...)
	} else {
		*t.buf = append(*t.buf, ',')
	}
	i, at := len(t.marks), len(*t.buf)
	mark := byte('0')
	if rest != nil {
		// A head that begins with "{" (no space before it, which a
		// decoder's reading of the chunk would drop) and is not long.
		if t.headFrom < 0 && t.lastFrom >= 0 && len(head) < t.lastLen && len(head) <= codec.MaxChunkHead && head[0] == '{' &&
			bytes.HasPrefix((*t.buf)[t.lastStart:], head) {
			t.headFrom, t.headStart, t.headLen = t.lastFrom, t.lastStart, len(head)
		}
		if t.headFrom >= 0 && bytes.Equal(head, (*t.buf)[t.headStart:t.headStart+t.headLen]) {
			data, mark = rest, '1'
		}
	}
	if len(*t.buf)+len(data)+codec.ShortTailSize(t.marks) > t.room {
		t.over = true
		t.release()
		return
	}
	*t.buf = append(*t.buf, data...)
	t.marks = append(t.marks, mark)
	if mark == '0' {
		t.lastFrom, t.lastStart, t.lastLen = i, at, len(data)
	}
}

// choices notes the finish reasons of a non-streamed answer's choices.
func (t *cacheTap) choices(v gjson.Result) {
	v.ForEach(func(_, ch gjson.Result) bool {
		if f := ch.Get("finish_reason"); f.Type == gjson.String {
			t.finished++
			t.bad = t.bad || openai.BadFinish(f.Str)
		} else {
			t.bad = true // a choice that did not finish
		}
		return true
	})
}

// store stores what the tap recorded if the call ended cleanly: a body,
// or a stream that reached [DONE] with every choice finished normally.
func (t *cacheTap) store(c *call, rc *responseCache, key CacheKey) {
	if !c.storable() {
		return
	}
	if !c.env.stream {
		if t.body != nil && t.finished > 0 && !t.bad {
			e := &codec.Entry{Response: t.body}
			c.stamp(e)
			if v, err := e.Encode(); err == nil {
				c.storeValue(rc, key, v)
			}
		}
		return
	}
	if !t.done || t.over || t.buf == nil || t.finished == 0 || t.bad {
		return
	}
	e := &codec.Entry{}
	c.stamp(e)
	var v []byte
	if copies(rc.c) { // the value is built in the tap's own buffer, which goes back to the pool
		v = *t.buf
		defer func() { *t.buf = v[:0] }()
	} else {
		v = append(make([]byte, 0, len(*t.buf)+1+codec.ShortTailSize(t.marks)+e.TailSize()), *t.buf...)
	}
	v = append(v, ']')
	if t.headFrom >= 0 {
		v = e.AppendShortTail(v, t.headFrom, t.headLen, t.marks)
	} else {
		v = e.AppendTail(v)
	}
	c.storeValue(rc, key, v)
}
