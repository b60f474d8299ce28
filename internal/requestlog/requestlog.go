// Package requestlog writes the request log: one JSON object per line per
// request, rotated by size with lumberjack. Records go into a bounded
// queue drained by a single writer goroutine, so a response never waits on
// disk I/O; when the queue is full a record is dropped and counted
// (Dropped) instead of blocking. Close drains the queue and flushes.
package requestlog

import (
	"bufio"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmbridge/llmbridge"
	"gopkg.in/natefinch/lumberjack.v2"
)

// Options configure a Writer.
type Options struct {
	Path      string // the log file; its directory is created
	MaxSizeMB int    // rotate at this size (default 10)
	Backups   int    // rotated files kept (default 5)
	QueueSize int    // records waiting for the writer (default 8192)
	// FlushInterval bounds how long a written record may wait in the
	// buffer before it reaches the file (default 100ms); Close flushes at
	// once. Batching keeps a quiet server from paying a write per request.
	FlushInterval time.Duration
	// Logger reports dropped records and write errors; nil discards.
	Logger *slog.Logger
}

// Writer is a request log. Record is safe for concurrent use.
type Writer struct {
	queue   chan llmbridge.UsageRecord
	done    chan struct{}
	out     *lumberjack.Logger
	log     *slog.Logger
	every   time.Duration
	dropped atomic.Int64
	written atomic.Int64

	mu     sync.RWMutex // guards closed against Record racing Close
	closed bool
}

// Open opens (creating directories as needed) and starts a Writer.
func Open(o Options) (*Writer, error) {
	if o.Path == "" {
		return nil, errors.New("requestlog: no path")
	}
	if o.MaxSizeMB <= 0 {
		o.MaxSizeMB = 10
	}
	if o.Backups < 0 {
		o.Backups = 0
	} else if o.Backups == 0 {
		o.Backups = 5
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 8192
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = 100 * time.Millisecond
	}
	if err := os.MkdirAll(filepath.Dir(o.Path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(o.Path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	f.Close()
	w := &Writer{
		every: o.FlushInterval,
		queue: make(chan llmbridge.UsageRecord, o.QueueSize),
		done:  make(chan struct{}),
		out:   &lumberjack.Logger{Filename: o.Path, MaxSize: o.MaxSizeMB, MaxBackups: o.Backups},
		log:   o.Logger,
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	go w.run()
	return w, nil
}

// Record queues r; it never blocks. Use it as a llmbridge.WithUsageSink.
func (w *Writer) Record(r llmbridge.UsageRecord) {
	if !w.offer(r) {
		w.dropped.Add(1)
	}
}

// offer queues r if there is room.
func (w *Writer) offer(r llmbridge.UsageRecord) bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return false
	}
	select {
	case w.queue <- r:
		return true
	default:
		return false
	}
}

// Dropped returns how many records were dropped because the queue was full
// (or the Writer closed).
func (w *Writer) Dropped() int64 { return w.dropped.Load() }

// Written returns how many records reached the file.
func (w *Writer) Written() int64 { return w.written.Load() }

// Close stops accepting records, writes those queued, flushes and closes
// the file.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	close(w.queue)
	w.mu.Unlock()
	<-w.done
	return w.out.Close()
}

// line is the JSON shape of one log line.
type line struct {
	ID               string  `json:"id"`
	Time             string  `json:"time"`
	RequestID        string  `json:"request_id"`
	KeyID            string  `json:"key_id"`
	Method           string  `json:"method"`
	Path             string  `json:"path"`
	Provider         string  `json:"provider"`
	Model            string  `json:"model"`
	UpstreamModel    string  `json:"upstream_model"`
	Stream           bool    `json:"stream"`
	Status           int     `json:"status"`
	DurationMS       float64 `json:"duration_ms"`
	TTFTMS           float64 `json:"ttft_ms"`
	PromptTokens     int     `json:"prompt_tokens"`
	CompletionTokens int     `json:"completion_tokens"`
	TotalTokens      int     `json:"total_tokens"`
	CachedTokens     int     `json:"cached_tokens"`
	ReasoningTokens  int     `json:"reasoning_tokens"`
	CacheWriteTokens int     `json:"cache_write_tokens,omitempty"`
	Estimated        bool    `json:"estimated"`
	Error            string  `json:"error"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// run is the single writer: it encodes records into a buffer as they
// come and flushes the buffer at most every FlushInterval (and when it
// fills, and at Close).
func (w *Writer) run() {
	defer close(w.done)
	buf := bufio.NewWriterSize(w.out, 64<<10)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	reported := int64(0)
	var flush <-chan time.Time
	timer := time.NewTimer(w.every)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case r, ok := <-w.queue:
			if !ok {
				if err := buf.Flush(); err != nil {
					w.log.Warn("request log: flush failed", "err", err)
				}
				return
			}
			if err := enc.Encode(toLine(r)); err != nil {
				w.log.Warn("request log: write failed", "err", err)
			} else {
				w.written.Add(1)
			}
			if flush == nil {
				timer.Reset(w.every)
				flush = timer.C
			}
		case <-flush:
			flush = nil
			if err := buf.Flush(); err != nil {
				w.log.Warn("request log: flush failed", "err", err)
			}
			if d := w.dropped.Load(); d != reported {
				w.log.Warn("request log: queue full, records dropped", "dropped_total", d)
				reported = d
			}
		}
	}
}

func toLine(r llmbridge.UsageRecord) line {
	return line{
		ID: r.ID, Time: r.Time.UTC().Format(time.RFC3339Nano), RequestID: r.RequestID, KeyID: r.KeyID,
		Method: r.Method, Path: r.Path, Provider: r.Provider, Model: r.Model, UpstreamModel: r.UpstreamModel,
		Stream: r.Stream, Status: r.Status, DurationMS: ms(r.Duration), TTFTMS: ms(r.TTFT),
		PromptTokens: r.PromptTokens, CompletionTokens: r.CompletionTokens, TotalTokens: r.TotalTokens,
		CachedTokens: r.CachedTokens, ReasoningTokens: r.ReasoningTokens, CacheWriteTokens: r.CacheWriteTokens, Estimated: r.Estimated, Error: r.Error,
	}
}
