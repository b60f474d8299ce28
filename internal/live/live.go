package live

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmbridge/llmbridge"
)

// Options configure a Hub. Zero values take the defaults.
type Options struct {
	// Buffer is how many events may wait for a subscriber before it is
	// dropped (default 4096: 0.2 s of a gateway answering 10,000
	// requests a second, about 2 MiB of encoded events). A subscriber
	// stops gathering and takes them once half of Buffer waits.
	Buffer int
	// Cost prices a finished record in USD (ok false: unpriced, sent as
	// null). nil: cost_usd is always null.
	Cost func(r llmbridge.UsageRecord) (usd float64, ok bool)
	// KeyName names an access key by its fingerprint (key_name in the
	// events); nil or "" leaves key_name out.
	KeyName func(keyID string) string
	// KeepAlive is the interval of ": keep-alive" comments to HTTP
	// subscribers during silence (default 15s).
	KeepAlive time.Duration
	// WriteTimeout bounds one write to an HTTP subscriber (default 30s);
	// a subscriber that cannot take it in time is disconnected.
	WriteTimeout time.Duration
	// FlushInterval is how often at most an HTTP subscriber's events are
	// written while the feed is busy (default 100ms); an event after a
	// quiet spell goes out at once.
	FlushInterval time.Duration
}

// Hub fans request events out to subscribers. It is an llmbridge.Observer
// (with Start), safe for concurrent use, and never blocks the caller.
type Hub struct {
	opts    Options
	n       atomic.Int32 // subscribers, read without the lock on the hot path
	dropped atomic.Int64

	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

// New returns a Hub without subscribers.
func New(o Options) *Hub {
	if o.Buffer <= 0 {
		o.Buffer = 4096
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = 15 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 30 * time.Second
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = 100 * time.Millisecond
	}
	return &Hub{opts: o, subs: map[*Subscription]struct{}{}}
}

// Subscription receives the events published after Subscribe, in order,
// as Server-Sent Events frames ("event: end\ndata: {…}\n\n"). They wait
// in the subscription until Take; Ready says when there are some.
//
// A channel of events woke the subscriber for every event, two a request:
// a busy gateway paid a goroutine switch per event for a dashboard that
// writes ten times a second. Events now wait in a buffer, and only the
// first after a Take wakes it.
type Subscription struct {
	h       *Hub
	ready   chan struct{} // one token: events wait, or the subscription ended
	dropped atomic.Bool

	mu      sync.Mutex
	pending []byte // frames of the events not taken yet
	n       int    // events in pending
	ended   bool   // closed or dropped: nothing more is added
}

// Subscribe adds a subscriber. The caller must Close it.
func (h *Hub) Subscribe() *Subscription {
	s := &Subscription{h: h, ready: make(chan struct{}, 1)}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.n.Add(1)
	h.mu.Unlock()
	return s
}

// Ready has a value when events wait to be taken, or when the
// subscription has ended; Take then returns them, or that it ended. A
// value may come with nothing to take (Take took it already).
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Take returns the frames of the events waiting, how many events they
// are, and whether the subscription has ended: closed, or dropped for
// falling Buffer events behind (Dropped). Nothing follows a Take that
// reports the end. spare is where the next events are gathered: a buffer
// the caller is done with (what the Take before last returned), or nil.
func (s *Subscription) Take(spare []byte) (frames []byte, n int, ended bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	frames, n, ended = s.pending, s.n, s.ended
	s.pending, s.n = spare[:0], 0
	return frames, n, ended
}

// add appends one event's frame, and reports false when the subscriber
// has Buffer events waiting already (it is then dropped).
func (s *Subscription) add(frame []byte, max int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n >= max {
		return false
	}
	s.pending = append(s.pending, frame...)
	// Woken by the first event, the subscriber gathers for a while; it
	// is woken again when half its buffer waits, so a busy feed is taken
	// before it fills the buffer rather than dropped.
	if s.n++; s.n == 1 || s.n == halfOf(max) {
		s.wake()
	}
	return true
}

// half reports whether half the buffer (max events) waits, or the
// subscription ended: time to take what waits.
func (s *Subscription) half(max int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended || s.n >= halfOf(max)
}

// halfOf is half a buffer of max events, at least one.
func halfOf(max int) int { return (max + 1) / 2 }

// wake puts the Ready token, unless it is there already.
func (s *Subscription) wake() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// Close removes the subscriber; it may be called more than once, and
// after the subscriber was dropped. The events waiting can still be
// taken.
func (s *Subscription) Close() {
	s.h.mu.Lock()
	s.h.remove(s)
	s.h.mu.Unlock()
}

// Dropped reports whether the hub dropped the subscriber for falling
// behind.
func (s *Subscription) Dropped() bool { return s.dropped.Load() }

// remove takes s out of the hub and ends it. h.mu is held.
func (h *Hub) remove(s *Subscription) {
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		h.n.Add(-1)
		s.mu.Lock()
		s.ended = true
		s.mu.Unlock()
		s.wake()
	}
}

// Subscribers returns how many subscribers there are now.
func (h *Hub) Subscribers() int { return int(h.n.Load()) }

// DroppedSubscribers returns how many subscribers were dropped for
// falling behind.
func (h *Hub) DroppedSubscribers() int64 { return h.dropped.Load() }

// Start publishes a "start" event for a routed request.
func (h *Hub) Start(r llmbridge.UsageRecord) {
	if h.n.Load() == 0 || r.Unauthenticated {
		return
	}
	h.publish("start", r)
}

// End publishes an "end" event with the finished record. Records of
// requests refused before their caller was known (Unauthenticated) are
// not published: anyone can send them, thousands a second, and they
// would drown the feed (metrics count them instead).
func (h *Hub) End(r llmbridge.UsageRecord) {
	if h.n.Load() == 0 || r.Unauthenticated {
		return
	}
	h.publish("end", r)
}

// frames are the buffers publish encodes an event's frame in.
var frames = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// publish encodes r's event of type typ once, as a frame, and adds it to
// every subscriber without waiting, dropping those whose buffer is full.
// Holding the lock for the whole fan-out keeps the events of concurrent
// requests in one order for every subscriber.
func (h *Hub) publish(typ string, r llmbridge.UsageRecord) {
	bp := frames.Get().(*[]byte)
	frame := append((*bp)[:0], "event: "...)
	frame = append(frame, typ...)
	frame = append(frame, "\ndata: "...)
	frame = h.encode(frame, typ, r) // JSON has no line break: one data line
	frame = append(frame, "\n\n"...)
	h.mu.Lock()
	for s := range h.subs {
		if !s.add(frame, h.opts.Buffer) {
			s.dropped.Store(true)
			h.dropped.Add(1)
			h.remove(s)
		}
	}
	h.mu.Unlock()
	if cap(frame) <= 64<<10 {
		*bp = frame
		frames.Put(bp)
	}
}

// event is the JSON shape of an event. Keys never appear in it: key_id is
// the key's fingerprint.
type event struct {
	Type          string    `json:"type"`
	ID            string    `json:"id,omitempty"`
	Time          time.Time `json:"time"` // UTC: RFC 3339 with nanoseconds
	RequestID     string    `json:"request_id"`
	KeyID         string    `json:"key_id,omitempty"`
	KeyName       string    `json:"key_name,omitempty"`
	Format        string    `json:"format"`
	Model         string    `json:"model"`
	Provider      string    `json:"provider"`
	UpstreamModel string    `json:"upstream_model"`
	Target        string    `json:"target,omitempty"` // provider/upstream_model
	Stream        bool      `json:"stream"`
	Status        int       `json:"status,omitempty"`
	Retries       int       `json:"retries,omitempty"`
	Prompt        *int      `json:"prompt_tokens,omitempty"`
	Completion    *int      `json:"completion_tokens,omitempty"`
	Total         *int      `json:"total_tokens,omitempty"`
	Cached        int       `json:"cached_tokens,omitempty"`
	CacheWrite    int       `json:"cache_write_tokens,omitempty"`
	Reasoning     int       `json:"reasoning_tokens,omitempty"`
	Estimated     bool      `json:"estimated,omitempty"`
	CostUSD       *float64  `json:"cost_usd,omitempty"`
	TTFTMS        *float64  `json:"ttft_ms,omitempty"`
	DurationMS    *float64  `json:"duration_ms,omitempty"`
	Error         string    `json:"error,omitempty"`
	ErrorCode     string    `json:"error_code,omitempty"`
	Cache         string    `json:"cache,omitempty"`     // hit, miss or bypass (llmbridge.CacheHit…)
	SavedUSD      *float64  `json:"saved_usd,omitempty"` // a hit's saved cost (its Saved counts priced)
}

func ms(d time.Duration) *float64 {
	v := float64(d.Microseconds()) / 1000
	return &v
}

// encode appends r's event of type typ as JSON to b. It takes the record
// by value: a pointer would make every caller's record escape, even when
// nobody listens.
func (h *Hub) encode(b []byte, typ string, r llmbridge.UsageRecord) []byte {
	e := event{Type: typ, Time: r.Time.UTC(), RequestID: r.RequestID, KeyID: r.KeyID,
		Format: r.Format, Model: r.Model, Provider: r.Provider, UpstreamModel: r.UpstreamModel, Stream: r.Stream}
	if r.Provider != "" {
		e.Target = r.Provider + "/" + r.UpstreamModel
	}
	if h.opts.KeyName != nil && r.KeyID != "" {
		e.KeyName = h.opts.KeyName(r.KeyID)
	}
	if typ == "end" {
		e.ID, e.Status, e.Retries = r.ID, r.Status, r.Retries
		prompt, completion, total := r.PromptTokens, r.CompletionTokens, r.TotalTokens
		e.Prompt, e.Completion, e.Total = &prompt, &completion, &total
		e.Cached, e.CacheWrite, e.Reasoning, e.Estimated = r.CachedTokens, r.CacheWriteTokens, r.ReasoningTokens, r.Estimated
		e.DurationMS, e.TTFTMS = ms(r.Duration), ms(r.TTFT)
		e.Error, e.ErrorCode = r.Error, r.ErrorCode
		e.Cache = r.Cache
		if h.opts.Cost != nil && r.Provider != "" {
			if usd, ok := h.opts.Cost(r); ok {
				e.CostUSD = &usd
			}
			if r.Cache == llmbridge.CacheHit {
				if usd, ok := h.opts.Cost(r.SavedRecord()); ok {
					e.SavedUSD = &usd
				}
			}
		}
	}
	return appendEvent(b, &e)
}
