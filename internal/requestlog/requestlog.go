// Package requestlog writes the request log: one JSON object per line per
// request, rotated by size with lumberjack. A record is encoded as its
// line by its caller and waits in a bounded buffer that a single writer
// goroutine writes out FlushInterval after the first line came (or once
// 64 KiB waits), so a response never waits on disk I/O, and a busy
// server does not wake the writer for every request; when the buffer is
// full a record is dropped and counted (Dropped) instead of blocking.
// Close writes what waits.
//
// Every text field of a line is bounded (a client's 5 MB model name is
// cut, with a marker saying how much), and a failed write loses only the
// lines it carried (counted by Failed): the writer keeps going.
package requestlog

import (
	"bytes"
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
	QueueSize int    // records waiting for the writer (default 8192); more are dropped
	// FlushInterval bounds how long a written record may wait in the
	// buffer before it reaches the file (default 100ms); Close flushes at
	// once. Batching keeps a quiet server from paying a write per request.
	FlushInterval time.Duration
	// Logger reports dropped records and write errors; nil discards.
	Logger *slog.Logger
}

// Writer is a request log. Record is safe for concurrent use.
type Writer struct {
	ready   chan struct{} // one token: the first line waits, or a batch's worth
	quit    chan struct{} // closed by Close
	done    chan struct{}
	out     io.WriteCloser // lumberjack, but for tests
	maxLine int            // the longest line the file accepts (its rotation size)
	log     *slog.Logger
	every   time.Duration
	max     int // lines that may wait (QueueSize)
	dropped atomic.Int64
	written atomic.Int64
	failed  atomic.Int64

	mu      sync.Mutex
	pending []byte // whole lines waiting for the writer
	lines   int    // in pending
	closed  bool

	torn bool // the writer's own: a failed write left part of a line in the file
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
		max:     o.QueueSize,
		ready:   make(chan struct{}, 1),
		quit:    make(chan struct{}),
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

// lineBufs are the buffers Record encodes a line in.
var lineBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// offer encodes r and adds its line to what waits for the writer; false:
// there is no room (or the Writer is closed). A record that cannot be
// written is counted as failed, and offered all the same.
func (w *Writer) offer(r llmbridge.UsageRecord) bool {
	bp := lineBufs.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 64<<10 {
			lineBufs.Put(bp)
		}
	}()
	l := toLine(r)
	line, err := appendLine((*bp)[:0], &l)
	*bp = line
	switch {
	case err != nil:
		w.failed.Add(1)
		w.log.Warn("request log: record not encoded", "err", err, "failed_total", w.failed.Load())
		return true
	case len(line) > w.maxLine:
		w.failed.Add(1)
		w.log.Warn("request log: line longer than the file size limit", "bytes", len(line), "failed_total", w.failed.Load())
		return true
	}
	w.mu.Lock()
	if w.closed || w.lines >= w.max {
		w.mu.Unlock()
		return false
	}
	before := len(w.pending)
	w.pending = append(w.pending, line...)
	w.lines++
	// The writer is woken by the first line, which starts its wait of
	// FlushInterval, and again when a batch's worth has gathered.
	wake := w.lines == 1 || before < flushSize && len(w.pending) >= flushSize
	w.mu.Unlock()
	if wake {
		select {
		case w.ready <- struct{}{}:
		default:
		}
	}
	return true
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
	close(w.quit)
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

// flushSize is how much the writer lets gather before it writes at
// once, without waiting for the rest of FlushInterval.
const flushSize = 64 << 10

// run is the single writer: woken by the first line that waits, it lets
// more gather for FlushInterval (or until flushSize have), then writes
// them all; Close has it write what is left and end.
func (w *Writer) run() {
	defer close(w.done)
	timer := time.NewTimer(w.every)
	timer.Stop()
	defer timer.Stop()
	var spare []byte
	reported := int64(0)
	for {
		select {
		case <-w.ready:
		case <-w.quit:
			w.write(w.take(nil))
			return
		}
		timer.Reset(w.every)
	gather:
		for !w.full() {
			select {
			case <-w.ready: // a batch's worth, or a stale token
			case <-timer.C:
				break gather
			case <-w.quit:
				w.write(w.take(nil))
				return
			}
		}
		timer.Stop()
		spare = w.write(w.take(spare))
		if d := w.dropped.Load(); d != reported {
			w.log.Warn("request log: queue full, records dropped", "dropped_total", d)
			reported = d
		}
	}
}

// full reports whether a batch's worth waits.
func (w *Writer) full() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending) >= flushSize
}

// take returns the lines waiting, and has the next ones gather in spare.
func (w *Writer) take(spare []byte) []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	lines := w.pending
	w.pending, w.lines = spare[:0], 0
	return lines
}

// write writes lines in pieces of whole lines, each at most flushSize
// bytes (a longer line alone) and never more than the file accepts
// (maxLine), and returns the emptied buffer for the next take (nil when
// it was a rare large one). A piece that fails loses only its lines,
// counted as failed.
func (w *Writer) write(lines []byte) []byte {
	limit := min(flushSize, w.maxLine)
	for rest := lines; len(rest) > 0; {
		cut := len(rest)
		if cut > limit {
			if i := bytes.LastIndexByte(rest[:limit], '\n'); i >= 0 {
				cut = i + 1
			} else { // a line longer than flushSize (but not than maxLine)
				cut = bytes.IndexByte(rest, '\n') + 1
			}
		}
		w.writePiece(rest[:cut])
		rest = rest[cut:]
	}
	if cap(lines) > 4*flushSize {
		return nil // do not keep a rare large batch's memory
	}
	return lines[:0]
}

// writePiece writes whole lines in one write. A line a failed write
// tore is ended first, by a write of its own (so that no write is longer
// than the piece), and the file stays one JSON object per line.
func (w *Writer) writePiece(piece []byte) {
	n := int64(bytes.Count(piece, newline))
	if w.torn {
		if _, err := w.out.Write(newline); err != nil {
			w.failed.Add(n)
			w.log.Warn("request log: write failed, records dropped", "err", err, "records", n, "failed_total", w.failed.Load())
			return
		}
		w.torn = false
	}
	if written, err := w.out.Write(piece); err != nil {
		w.torn = written > 0 && written < len(piece)
		w.failed.Add(n)
		w.log.Warn("request log: write failed, records dropped", "err", err, "records", n, "failed_total", w.failed.Load())
		return
	}
	w.written.Add(n)
}

var newline = []byte{'\n'}

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
