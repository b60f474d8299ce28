package llmbridge

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/sse"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

var (
	errIdleTimeout = errors.New("upstream stream idle timeout")
	errMaxDuration = errors.New("upstream request exceeded its maximum duration")
	// errTruncated: an OpenAI-format stream closed before "data: [DONE]".
	errTruncated = errors.New("upstream closed the stream before it finished")
	// errReported: the upstream's own error event was relayed; end quietly.
	errReported = errors.New("upstream error event relayed")
)

// idleBody cancels its call when no byte arrives for d. Every read that
// returns data restarts the timer.
type idleBody struct {
	io.ReadCloser
	timer *time.Timer
	d     time.Duration
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.timer.Reset(b.d)
	}
	return n, err
}

func (b *idleBody) Close() error {
	b.timer.Stop()
	return b.ReadCloser.Close()
}

// streamWriter writes SSE to the client. It commits the 200 and the
// event-stream headers only with the first event or keep-alive, so a stream
// that fails before any of those still gets a proper error status. During
// silence it sends ": keep-alive" comments from a timer; the mutex keeps the
// timer's writes apart from the relay's, and close stops both before the
// handler returns.
type streamWriter struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	every time.Duration
	timer *time.Timer

	mu      sync.Mutex
	started bool
	closed  bool
	pending bool      // events written but not flushed
	last    time.Time // last write, for the keep-alive timer
	first   time.Time // first event, for time to first token
}

func newStreamWriter(w http.ResponseWriter, every time.Duration) *streamWriter {
	s := &streamWriter{w: w, rc: http.NewResponseController(w), every: every, last: time.Now()}
	// tick takes the lock first, so it cannot see s.timer unset.
	s.mu.Lock()
	s.timer = time.AfterFunc(every, s.tick)
	s.mu.Unlock()
	return s
}

func (s *streamWriter) tick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if idle := time.Since(s.last); idle < s.every {
		s.timer.Reset(s.every - idle)
		return
	}
	s.startLocked()
	if sse.WriteComment(s.w, "keep-alive") == nil {
		_ = s.flushLocked()
	}
	s.last = time.Now()
	s.timer.Reset(s.every)
}

func (s *streamWriter) startLocked() {
	if s.started {
		return
	}
	s.started = true
	h := s.w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer
	s.w.WriteHeader(http.StatusOK)
}

// data writes one event. It is flushed before the relay next waits for the
// upstream (see flushingBody), so an event never waits in a buffer while
// the bridge waits, yet events that arrived together go out in one write.
func (s *streamWriter) data(p []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.startLocked()
	now := time.Now()
	if s.first.IsZero() {
		s.first = now
	}
	s.last = now
	s.pending = true
	return sse.WriteData(s.w, p)
}

// flush sends events written so far.
func (s *streamWriter) flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.pending {
		return nil
	}
	return s.flushLocked()
}

func (s *streamWriter) flushLocked() error {
	s.pending = false
	if err := s.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// flushingBody flushes the client stream before every read of the upstream
// body: a read is where the relay may block, so nothing relayed is held
// back while it waits. A failed flush (client gone) ends the read.
type flushingBody struct {
	io.ReadCloser
	sw *streamWriter
}

func (b *flushingBody) Read(p []byte) (int, error) {
	if err := b.sw.flush(); err != nil {
		return 0, err
	}
	return b.ReadCloser.Read(p)
}

// done ends the stream normally.
func (s *streamWriter) done() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.startLocked()
	if err := sse.WriteDone(s.w); err != nil {
		return err
	}
	return s.flushLocked()
}

// fail ends the stream with e: as a plain error response when nothing was
// sent yet, otherwise as one error event and no [DONE].
func (s *streamWriter) fail(e *APIError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		s.started = true
		writeError(s.w, e)
		return
	}
	body, _ := openai.Marshal(e)
	if sse.WriteData(s.w, body) == nil {
		_ = s.flushLocked()
	}
}

// firstEvent returns when the first event went out (zero if none).
func (s *streamWriter) firstEvent() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first
}

// close stops the keep-alive timer; nothing is written after it returns.
func (s *streamWriter) close() {
	s.mu.Lock()
	s.closed = true
	s.timer.Stop()
	s.mu.Unlock()
}

// committed reports whether the status line has gone out.
func (s *streamWriter) committed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started
}

// relayRaw copies an OpenAI-format SSE body to the client event by event,
// unchanged except for usage handling: the usage chunk the bridge asked for
// is dropped when the client did not ask for it, and a finish chunk carrying
// usage (DeepSeek) is split into the finish chunk and an OpenAI-style usage
// chunk when it did. Usage seen is stored in c.
func relayRaw(sw *streamWriter, body io.Reader, c *call) error {
	r := sse.NewReader(body)
	for {
		ev, err := r.Next()
		if err != nil {
			if err == io.EOF {
				return errTruncated
			}
			return err
		}
		data := ev.Data
		if bytes.Equal(data, sse.Done) {
			return sw.done()
		}
		info := openai.InspectChunk(data, &c.text)
		if info.Error {
			// The upstream's own error event: pass it on and end without
			// [DONE], whatever follows.
			if err := sw.data(data); err != nil {
				return err
			}
			return errReported
		}
		if info.Usage != nil {
			c.rawUsage = append(c.rawUsage[:0], info.Usage...)
			switch {
			case info.NoChoices && !c.includeUsage:
				continue
			case !info.NoChoices && c.includeUsage:
				finish, err := sjson.SetRawBytes(data, "usage", []byte("null"))
				if err != nil {
					return err
				}
				if err := sw.data(finish); err != nil {
					return err
				}
				data = usageChunk(data, info.Usage)
			}
		}
		if err := sw.data(data); err != nil {
			return err
		}
	}
}

// usageChunk builds an OpenAI usage chunk ("choices":[]) from the identity
// members of chunk.
func usageChunk(chunk, usage []byte) []byte {
	out := make([]byte, 0, 256+len(usage))
	out = append(out, '{')
	keys := [...]string{"id", "object", "created", "model", "system_fingerprint"}
	for i, r := range gjson.GetManyBytes(chunk, keys[:]...) {
		if !r.Exists() {
			continue
		}
		out = append(out, '"')
		out = append(out, keys[i]...)
		out = append(out, `":`...)
		out = append(out, r.Raw...)
		out = append(out, ',')
	}
	out = append(out, `"choices":[],"usage":`...)
	out = append(out, usage...)
	return append(out, '}')
}

// splitUsage applies the same usage rules to a typed chunk: it returns the
// chunks the consumer should see.
func splitUsage(ch *ChatChunk, includeUsage bool) []*ChatChunk {
	if ch.Usage == nil {
		return []*ChatChunk{ch}
	}
	if len(ch.Choices) == 0 {
		if includeUsage {
			return []*ChatChunk{ch}
		}
		return nil
	}
	if !includeUsage {
		return []*ChatChunk{ch}
	}
	u := &ChatChunk{ID: ch.ID, Object: ch.Object, Created: ch.Created, Model: ch.Model,
		SystemFingerprint: ch.SystemFingerprint, Choices: []ChunkChoice{}, Usage: ch.Usage}
	finish := *ch
	finish.Usage = nil
	return []*ChatChunk{&finish, u}
}

// relayTyped writes a provider's decoded stream to the client.
func relayTyped(sw *streamWriter, chunks func(func(*ChatChunk, error) bool), c *call) error {
	var failure error
	for ch, err := range chunks {
		if err != nil {
			failure = err
			break
		}
		c.observe(ch)
		for _, out := range splitUsage(ch, c.includeUsage) {
			b, err := openai.Marshal(out)
			if err != nil {
				return err
			}
			if err := sw.data(b); err != nil {
				return err
			}
		}
	}
	if failure != nil {
		return failure
	}
	return sw.done()
}
