package llmbridge

import (
	"bytes"
	"io"
	"net/http"

	"github.com/llmbridge/llmbridge/internal/sse"
)

// cacheRecorder is the output of a call whose answer may be stored: it
// passes everything to the real output and keeps the answer on the way,
// storing it once it went out cleanly (after the client has it all; a
// repeat sent before the first request's handler returned can miss).
//
// The typed paths hand it the canonical response or chunks, encoded when
// stored. A pass-through (native) relay moves bytes only: the recorder
// keeps a copy of the upstream's bytes as the relay reads them (up to the
// policy's MaxValueBytes, beyond which nothing is stored). Chat
// Completions bytes are the canonical form already and are stored as
// they are (the events' data, for a stream); another format's bytes are
// decoded with the answering provider's own decoder, only when storing.
type cacheRecorder struct {
	output
	rc  *responseCache
	key CacheKey
}

func (r *cacheRecorder) response(c *call, resp *ChatResponse) {
	r.output.response(c, resp)
	if c.rec.Error == "" {
		if e, err := entryOf(resp, nil); err == nil {
			c.store(r.rc, r.key, e)
		}
	}
}

func (r *cacheRecorder) stream(c *call, resp *http.Response) streamEncoder {
	return &recordingStream{streamEncoder: r.output.stream(c, resp), r: r, c: c, room: r.rc.p.MaxValueBytes}
}

func (r *cacheRecorder) native(c *call, resp *http.Response) {
	cb := &captureBody{ReadCloser: resp.Body, room: r.rc.p.MaxValueBytes}
	resp.Body = cb
	r.output.native(c, resp)
	if cb.over || c.rec.Error != "" {
		return
	}
	var e *cacheEntry
	if _, chat := c.f.(chatFormat); chat {
		e = chatEntry(cb.buf.Bytes(), c.env.stream)
	} else {
		e = decodedEntry(c.target.prov(), resp, cb.buf.Bytes(), c.env.stream)
	}
	if e != nil {
		c.store(r.rc, r.key, e)
	}
}

// chatEntry is the entry of a Chat Completions answer relayed unchanged:
// the body itself, or the data of its events up to [DONE] (copied into
// one buffer); nil when it is not one. The bytes are not validated here:
// an entry that is not JSON fails to decode on a hit, which is a miss.
func chatEntry(b []byte, stream bool) *cacheEntry {
	if !stream {
		return &cacheEntry{Response: bytes.Clone(b)}
	}
	e := &cacheEntry{}
	all := make([]byte, 0, len(b)) // holds every event's data: never grows
	r := sse.NewReader(bytes.NewReader(b))
	for {
		ev, err := r.Next()
		if err != nil {
			return nil // no [DONE]
		}
		if bytes.Equal(ev.Data, sse.Done) {
			return e
		}
		if len(ev.Data) > 0 {
			start := len(all)
			all = append(all, ev.Data...)
			e.Chunks = append(e.Chunks, all[start:len(all):len(all)])
		}
	}
}

// decodedEntry is the entry of another format's native answer: the
// provider's own decoder reads what the relay read, as if it came again.
// A format whose native bytes the provider cannot decode (its chat
// decoder given Responses events) yields nil and is not stored.
func decodedEntry(p Provider, resp *http.Response, b []byte, stream bool) *cacheEntry {
	again := &http.Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: io.NopCloser(bytes.NewReader(b))}
	if !stream {
		r, err := p.DecodeResponse(again)
		if err != nil {
			return nil
		}
		e, _ := entryOf(r, nil)
		return e
	}
	var chunks []*ChatChunk
	for ch, err := range p.DecodeStream(again) {
		if err != nil {
			return nil
		}
		chunks = append(chunks, ch)
	}
	e, _ := entryOf(nil, chunks)
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
		if e, err := entryOf(nil, s.chunks); err == nil {
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
