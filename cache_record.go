package llmbridge

import (
	"bytes"
	"io"
	"net/http"

	"github.com/llmbridge/llmbridge/internal/cache/codec"
	"github.com/llmbridge/llmbridge/internal/provider/endpoint"
	"github.com/llmbridge/llmbridge/internal/sse"
)

// cacheRecorder is the output of a call whose answer may be stored: it
// passes everything to the real output and keeps the answer on the way,
// storing it once it went out cleanly (after the client has it all; a
// repeat sent before the first request's handler returned can miss).
//
// The typed paths hand it the canonical response or chunks, encoded when
// stored. A Chat Completions pass-through is the canonical form already:
// its relay hands the recorder (a cacheTap) each event's data as it reads
// it, and the finish reasons it saw, so the stream is stored with one copy
// and no second parse. Another format's pass-through moves bytes only: the
// recorder keeps a copy of the upstream's bytes as the relay reads them
// (up to the policy's MaxValueBytes, beyond which nothing is stored), to
// be decoded with the answering provider's own decoder when storing.
type cacheRecorder struct {
	output
	rc  *responseCache
	key CacheKey
	tap cacheTap // a tapped format's pass-through: in the recorder's allocation
}

func (r *cacheRecorder) response(c *call, resp *ChatResponse) {
	r.output.response(c, resp)
	if c.rec.Error == "" {
		if e, err := codec.EntryOf(resp, nil); err == nil {
			c.store(r.rc, r.key, e)
		}
	}
}

func (r *cacheRecorder) stream(c *call, resp *http.Response) streamEncoder {
	return &recordingStream{streamEncoder: r.output.stream(c, resp), r: r, c: c, room: r.rc.p.MaxValueBytes}
}

// uncachedFormat: formats whose answers are no completions (count_tokens).
type uncachedFormat interface{ uncached() }

// tappedFormat is implemented by client formats whose pass-through relay
// feeds c.tap as it writes, so a miss is recorded in the canonical wire
// without a copy of the body (chat).
type tappedFormat interface{ tapped() }

// cacheReplayer is implemented by client formats that answer a cache hit
// from the stored wire as it is, through the relay port: replayEntry
// reports false when e is not a wire it replays, and the call then decodes
// the entry and encodes it as any answer.
type cacheReplayer interface {
	replayEntry(r relay, e *codec.Entry) bool
}

func (r *cacheRecorder) native(c *call, resp *http.Response) {
	if _, ok := c.f.(tappedFormat); ok {
		t := &r.tap
		*t = cacheTap{room: r.rc.p.MaxValueBytes}
		c.tap = t
		r.output.native(c, resp)
		c.tap = nil
		t.store(c, r.rc, r.key)
		t.release()
		return
	}
	cb := &captureBody{ReadCloser: resp.Body, room: r.rc.p.MaxValueBytes}
	resp.Body = cb
	r.output.native(c, resp)
	if cb.over || c.rec.Error != "" {
		return
	}
	var e *codec.Entry
	if nf, ok := c.f.(nativeCachedFormat); ok {
		e = nativeEntry(nf, cb.buf.Bytes(), c.env.stream)
	} else {
		e = decodedEntry(c.target.prov(), resp, cb.buf.Bytes(), c.env.stream)
	}
	if e != nil {
		c.store(r.rc, r.key, e)
	}
}

// nativeCachedFormat is a client format whose pass-through answers are
// cached in its own wire, as they came: no provider decodes them to the
// canonical form (the Responses API; see codec.Entry.Format).
type nativeCachedFormat interface {
	clientFormat
	// nativeEnd looks at a native answer's body (stream false) or at one
	// event's data of its stream: end reports whether it ends the answer,
	// ok whether the answer completed normally (not cut, refused or
	// failed), and resp is then its whole response object.
	nativeEnd(data []byte, stream bool) (resp []byte, end, ok bool)
}

// nativeEntry is the entry of f's native answer b: the body, or the
// stream's events up to the one that ends it (their data copied into one
// buffer); nil unless the answer completed normally.
func nativeEntry(f nativeCachedFormat, b []byte, stream bool) *codec.Entry {
	e := &codec.Entry{Format: f.name()}
	if !stream {
		if _, _, ok := f.nativeEnd(b, false); !ok {
			return nil
		}
		e.Native = b // the capture's own buffer
		return e
	}
	all := make([]byte, 0, len(b)) // holds every event's data: never grows
	r := sse.NewReader(bytes.NewReader(b))
	defer r.Release()
	for {
		ev, err := r.Next()
		if err != nil {
			return nil // the stream ended before its last event
		}
		if len(ev.Data) == 0 {
			continue
		}
		start := len(all)
		all = append(all, ev.Data...)
		e.Events = append(e.Events, codec.Event{Name: ev.Name, Data: all[start:len(all):len(all)]})
		if _, end, ok := f.nativeEnd(ev.Data, true); end {
			if !ok {
				return nil
			}
			return e
		}
	}
}

// decodedEntry is the entry of another format's native answer: the
// provider's own decoder reads what the relay read, as if it came again.
// A format whose native bytes the provider cannot decode (its chat
// decoder given Responses events) yields nil and is not stored.
func decodedEntry(p Provider, resp *http.Response, b []byte, stream bool) *codec.Entry {
	again := &http.Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: io.NopCloser(bytes.NewReader(b))}
	if !stream {
		r, err := p.DecodeResponse(again)
		if err != nil {
			return nil
		}
		e, _ := codec.EntryOf(r, nil)
		return e
	}
	var chunks []*ChatChunk
	for ch, err := range p.DecodeStream(again) {
		if err != nil {
			return nil
		}
		chunks = append(chunks, ch)
	}
	e, _ := codec.EntryOf(nil, chunks)
	return e
}

// recordingStream keeps the chunks of a typed stream and stores them when
// the stream ended cleanly.
type recordingStream struct {
	streamEncoder
	r      *cacheRecorder
	c      *call
	chunks []*ChatChunk
	room   int // a rough bound on the encoded size still allowed
	over   bool
}

func (s *recordingStream) chunk(ch *ChatChunk) error {
	if !s.over {
		if s.room -= chunkSize(ch); s.room < 0 {
			s.over, s.chunks = true, nil
		} else {
			s.chunks = append(s.chunks, ch)
		}
	}
	return s.streamEncoder.chunk(ch)
}

func (s *recordingStream) end(err error) {
	s.streamEncoder.end(err)
	if err == nil && !s.over && s.c.rec.Error == "" {
		if e, err := codec.EntryOf(nil, s.chunks); err == nil {
			s.c.store(s.r.rc, s.r.key, e)
		}
	}
}

// chunkSize is a lower bound of ch's encoded size: its text, and the
// fixed members.
func chunkSize(ch *ChatChunk) int {
	n := 64 + len(ch.ID) + len(ch.Model)
	for i := range ch.Choices {
		d := &ch.Choices[i].Delta
		for _, s := range []*string{d.Content, d.ReasoningContent, d.Refusal} {
			if s != nil {
				n += len(*s)
			}
		}
		for _, tc := range d.ToolCalls {
			n += len(tc.ID) + len(tc.Function.Name) + len(tc.Function.Arguments)
		}
	}
	return n
}

// captureBody keeps a copy of what is read through it, up to room bytes;
// past that it keeps nothing and reports over.
type captureBody struct {
	io.ReadCloser
	buf  bytes.Buffer
	room int
	over bool
}

// EndStream: what follows the stream's last event is not captured.
func (b *captureBody) EndStream() bool { return endpoint.PassEnd(b.ReadCloser) }

func (b *captureBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 && !b.over {
		if b.buf.Len()+n > b.room {
			b.over = true
			b.buf = bytes.Buffer{}
		} else {
			b.buf.Write(p[:n])
		}
	}
	return n, err
}

// replayNative answers from a native entry of nf (codec.Entry.Format): its
// bytes go through the format's own pass-through relay, which notes the
// usage they carry; the record keeps it in Saved.
func replayNative(r relay, nf nativeCachedFormat, e *codec.Entry) {
	body := e.Native
	switch {
	case r.stream():
		n := 0
		for _, ev := range e.Events {
			n += len(ev.Name) + len(ev.Data) + 16
		}
		body = make([]byte, 0, n)
		for _, ev := range e.Events {
			if ev.Name != "" {
				body = append(body, "event: "...)
				body = append(body, ev.Name...)
				body = append(body, '\n')
			}
			body = append(body, "data: "...)
			body = append(body, ev.Data...)
			body = append(body, "\n\n"...)
		}
	case body == nil:
		body, _, _ = nf.nativeEnd(e.Events[len(e.Events)-1].Data, true)
	}
	r.native(&http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body))})
	r.meter().saveUsage()
}

// store encodes and stores e under key when it is a clean answer of
// acceptable size. It runs after the answer went to the client.
func (c *call) store(rc *responseCache, key CacheKey, e *codec.Entry) {
	if !c.storable() || !e.Clean() {
		return
	}
	c.stamp(e)
	v, err := e.Encode()
	if err != nil {
		return
	}
	c.storeValue(rc, key, v)
}

// storable reports whether the call ended cleanly, as far as the call
// knows: no error, and a 200 (or no status yet).
func (c *call) storable() bool {
	return c.rec.Error == "" && (c.rec.Status == 0 || c.rec.Status == http.StatusOK)
}

// stamp sets when and by whom e was made.
func (c *call) stamp(e *codec.Entry) {
	e.Stored = c.b.clock.Now().UnixMilli()
	if t := c.target; t.up != nil {
		e.Provider, e.UpstreamModel = t.up.name, t.model
	}
}

// storeValue stores an encoded entry unless it is larger than the policy
// allows.
func (c *call) storeValue(rc *responseCache, key CacheKey, v []byte) {
	if len(v) > rc.p.MaxValueBytes {
		return
	}
	ctx, cancel := rc.budget(c.parent)
	defer cancel()
	if err := rc.c.Set(ctx, key, v, rc.p.TTL); err != nil {
		c.b.log.Debug("cache set failed: not stored", "request_id", c.rec.RequestID, "error", err)
	}
}
