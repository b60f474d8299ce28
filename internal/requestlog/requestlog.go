// Package requestlog writes the request log: one JSON object per line per
// request, rotated by size with lumberjack. Records go into a bounded
// queue drained by a single writer goroutine, so a response never waits on
// disk I/O; when the queue is full a record is dropped and counted
// (Dropped) instead of blocking. Close drains the queue and flushes.
//
// Every text field of a line is bounded (a client's 5 MB model name is
// cut, with a marker saying how much), and a failed write loses only the
// lines it carried (counted by Failed): the writer keeps going.
package requestlog

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

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
	out     io.WriteCloser // lumberjack, but for tests
	maxLine int            // the longest line the file accepts (its rotation size)
	log     *slog.Logger
	every   time.Duration
	dropped atomic.Int64
	written atomic.Int64
	failed  atomic.Int64

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
	out := &lumberjack.Logger{Filename: o.Path, MaxSize: o.MaxSizeMB, MaxBackups: o.Backups}
	return start(o, out, o.MaxSizeMB<<20), nil
}

// start starts a Writer onto out, which refuses writes longer than
// maxLine; o has its defaults.
func start(o Options, out io.WriteCloser, maxLine int) *Writer {
	w := &Writer{
		every:   o.FlushInterval,
		queue:   make(chan llmbridge.UsageRecord, o.QueueSize),
		done:    make(chan struct{}),
		out:     out,
		maxLine: maxLine,
		log:     o.Logger,
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	go w.run()
	return w
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

// Failed returns how many records were lost to a failed write: a record
// that could not be encoded or whose line is longer than the file may
// grow, or the records of a batch the file refused (disk full, …). The
// writer goes on with the next record after each.
func (w *Writer) Failed() int64 { return w.failed.Load() }

// CloseLogged is Close that tells log what went wrong and how many
// records were dropped.
func (w *Writer) CloseLogged(log *slog.Logger) {
	if err := w.Close(); err != nil {
		log.Warn("closing the request log", "err", err)
	}
	if d := w.Dropped(); d > 0 {
		log.Warn("request log records dropped (queue full)", "dropped", d)
	}
}

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

// flushSize is how much the writer batches before it writes at once.
const flushSize = 64 << 10

// run is the single writer: it encodes records into a batch as they
// come and writes the batch at most every FlushInterval (and when it
// fills, and at Close).
func (w *Writer) run() {
	defer close(w.done)
	b := &batch{}
	reported := int64(0)
	var flush <-chan time.Time
	timer := time.NewTimer(w.every)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case r, ok := <-w.queue:
			if !ok {
				w.flush(b)
				return
			}
			w.add(b, r)
			if len(b.pending) >= flushSize {
				w.flush(b)
			}
			if flush == nil {
				timer.Reset(w.every)
				flush = timer.C
			}
		case <-flush:
			flush = nil
			w.flush(b)
			if d := w.dropped.Load(); d != reported {
				w.log.Warn("request log: queue full, records dropped", "dropped_total", d)
				reported = d
			}
		}
	}
}

// batch is the writer's state: lines waiting to be written.
type batch struct {
	line    []byte // the line being encoded
	pending []byte // whole lines
	lines   int    // in pending
	torn    bool   // a failed write left part of a line in the file
}

// add encodes r onto the batch; a record that cannot be written is
// counted and dropped.
func (w *Writer) add(b *batch, r llmbridge.UsageRecord) {
	l := toLine(r)
	var err error
	if b.line, err = appendLine(b.line[:0], &l); err != nil {
		w.failed.Add(1)
		w.log.Warn("request log: record not encoded", "err", err, "failed_total", w.failed.Load())
		return
	}
	if len(b.line) > w.maxLine {
		w.failed.Add(1)
		w.log.Warn("request log: line longer than the file size limit", "bytes", len(b.line), "failed_total", w.failed.Load())
		return
	}
	if len(b.pending)+len(b.line) > w.maxLine {
		w.flush(b)
	}
	b.pending = append(b.pending, b.line...)
	b.lines++
}

// flush writes the batch. On failure its lines are dropped and counted,
// and a line torn by a partial write is ended before the next batch, so
// the file stays one JSON object per line.
func (w *Writer) flush(b *batch) {
	if b.lines == 0 {
		return
	}
	data := b.pending
	if b.torn {
		data = append([]byte{'\n'}, data...)
	}
	n, err := w.out.Write(data)
	if err != nil {
		b.torn = b.torn && n == 0 || n > 0 && n < len(data)
		w.failed.Add(int64(b.lines))
		w.log.Warn("request log: write failed, records dropped", "err", err, "records", b.lines, "failed_total", w.failed.Load())
	} else {
		b.torn = false
		w.written.Add(int64(b.lines))
	}
	b.pending, b.lines = b.pending[:0], 0
	if cap(b.pending) > 4*flushSize {
		b.pending = nil // do not keep a rare large batch's memory
	}
}

// Bounds of the text fields of a line, in bytes: generous for any real
// value, small enough that no client can make a line the file refuses.
const (
	maxName  = 256  // model names, provider, key id, request id, method
	maxPath  = 1024 // the URL path
	maxError = 4096 // the error message
)

// bound returns s cut to at most max bytes on a rune boundary, with a
// marker saying how many bytes were cut.
func bound(s string, max int) string {
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…[truncated " + strconv.Itoa(len(s)-i) + " bytes]"
}

func toLine(r llmbridge.UsageRecord) line {
	return line{
		ID: bound(r.ID, maxName), Time: r.Time.UTC().Format(time.RFC3339Nano), RequestID: bound(r.RequestID, maxName), KeyID: bound(r.KeyID, maxName),
		Method: bound(r.Method, maxName), Path: bound(r.Path, maxPath), Provider: bound(r.Provider, maxName), Model: bound(r.Model, maxName),
		UpstreamModel: bound(r.UpstreamModel, maxName), Stream: r.Stream, Status: r.Status, DurationMS: ms(r.Duration), TTFTMS: ms(r.TTFT),
		PromptTokens: r.PromptTokens, CompletionTokens: r.CompletionTokens, TotalTokens: r.TotalTokens,
		CachedTokens: r.CachedTokens, ReasoningTokens: r.ReasoningTokens, CacheWriteTokens: r.CacheWriteTokens, Estimated: r.Estimated, Error: bound(r.Error, maxError),
	}
}
