package usage

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/renameio/v2"
	"github.com/llmbridge/llmbridge"
)

// WriterOptions configure a Writer. Zero values take the defaults.
type WriterOptions struct {
	Prices     Prices        // prices at start (SetPrices replaces them)
	FlushEvery time.Duration // longest a record waits before its batch is written (250ms)
	BatchSize  int           // rows per transaction; a full batch is written at once (defaultBatchSize)
	// MaxPending bounds the records waiting in memory while the store
	// cannot be written (100,000 ≈ 40 MB). Beyond it new records are
	// dropped and counted (Dropped) — the request log still has them.
	MaxPending int
	// SpoolPath is where records still unwritten at Close are saved (JSON
	// lines), to be written at the next start. While the store is failing
	// the waiting records are saved there every SpoolEvery too, so a crash
	// during an outage loses at most that long's records. Empty: not saved.
	SpoolPath  string
	SpoolEvery time.Duration // 10s
	// Retention is how long request rows are kept; older ones are deleted
	// at start and every hour. Daily rollups are kept forever. 0 keeps
	// request rows forever.
	Retention time.Duration
	Logger    *slog.Logger
}

// defaultBatchSize is WriterOptions.BatchSize's default. A transaction
// has a cost of its own (the commit's WAL frames, the checkpoints):
// SQLite stores 9 % more rows a second in batches of 1,024 than of 256
// (BenchmarkInsertSQLite, five interleaved pairs, each won by 1,024:
// 182k against 167k rows/s; 2,048 and 4,096 gain nothing more), and
// PostgreSQL no fewer (two pairs: 63k and 59k against 56k and 60k). Under
// load a batch fills in well under FlushEvery; with less, FlushEvery
// decides.
const defaultBatchSize = 1024

// Writer is the usage sink that writes records to a Store: in batches,
// off the request path, retrying with backoff while the store is
// unwritable, and draining at Close. Record never blocks on the database.
type Writer struct {
	store  *Store
	opts   WriterOptions
	prices atomic.Pointer[Prices]
	attr   atomic.Pointer[Attribution]
	log    *slog.Logger

	// batch is flush's copy of the rows it inserts, kept for the next
	// batch: flush runs on one goroutine at a time (run's, then Close's).
	batch []Row

	mu      sync.Mutex
	pending []Row // pending[head:] wait to be written, oldest first
	head    int
	closed  bool
	spooled int // rows at the front of pending that came from the spool file

	wake    chan struct{}
	quit    chan struct{}
	done    chan struct{}
	written atomic.Int64
	dropped atomic.Int64
	failing atomic.Bool // the last insert failed
}

// NewWriter starts a writer for store. Records saved in the spool file by
// an earlier Close are queued first; they are written once (ids already
// stored are skipped).
func NewWriter(store *Store, o WriterOptions) (*Writer, error) {
	if o.FlushEvery <= 0 {
		o.FlushEvery = 250 * time.Millisecond
	}
	if o.BatchSize <= 0 {
		o.BatchSize = defaultBatchSize
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 100_000
	}
	if o.SpoolEvery <= 0 {
		o.SpoolEvery = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	w := &Writer{store: store, opts: o, log: o.Logger, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	p := o.Prices
	w.prices.Store(&p)
	if o.SpoolPath != "" {
		rows, err := readSpool(o.SpoolPath)
		if err != nil {
			return nil, err
		}
		if len(rows) > 0 {
			w.log.Info("usage: writing records saved at the last shutdown", "records", len(rows), "spool", o.SpoolPath)
		}
		w.pending, w.spooled = rows, len(rows)
	}
	go w.run()
	return w, nil
}

// SetPrices replaces the prices used for records from now on (a config
// reload). Stored costs are not recomputed.
func (w *Writer) SetPrices(p Prices) { w.prices.Store(&p) }

// Attribution names the team ("tm_…") and the user (the key's owner) of
// the caller with key_id keyID, "" for none. It is called on the request
// path, once per finished request with a key, and must be safe for
// concurrent use and quick (a map lookup: keys.Admitter.Attribution).
type Attribution func(keyID string) (teamID, user string)

// SetAttribution sets who records are attributed to from now on (nil:
// nobody). Records carry the team and user of their key when they
// finish, which is when the request was made for all but the requests
// in flight while the key changed team.
func (w *Writer) SetAttribution(f Attribution) {
	if f == nil {
		w.attr.Store(nil)
		return
	}
	w.attr.Store(&f)
}

// Record is the llmbridge usage sink (llmbridge.WithUsageSink): it prices
// the record, attributes it (SetAttribution) and queues it.
func (w *Writer) Record(r llmbridge.UsageRecord) {
	row := RowOf(r, *w.prices.Load())
	if f := w.attr.Load(); f != nil && r.KeyID != "" {
		row.TeamID, row.User = (*f)(r.KeyID)
	}
	w.mu.Lock()
	if w.closed || len(w.pending)-w.head >= w.opts.MaxPending {
		w.mu.Unlock()
		w.dropped.Add(1)
		return
	}
	w.pending = append(w.pending, row)
	full := len(w.pending)-w.head >= w.opts.BatchSize
	w.mu.Unlock()
	if full {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// Writable reports whether the store accepted the last batch: false from
// a failed insert until an insert succeeds again (records wait in memory
// and the spool meanwhile).
func (w *Writer) Writable() bool { return !w.failing.Load() }

// Written returns how many records the writer has stored (not counting
// ones the store already had).
func (w *Writer) Written() int64 { return w.written.Load() }

// Dropped returns how many records were dropped because MaxPending were
// already waiting (or the writer was closed).
func (w *Writer) Dropped() int64 { return w.dropped.Load() }

// Pending returns how many records wait to be written.
func (w *Writer) Pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending) - w.head
}

// Close writes what is pending (trying for up to timeout), saves what
// could not be written to the spool file, and stops the writer.
func (w *Writer) Close(timeout time.Duration) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	close(w.quit)
	<-w.done
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for w.Pending() > 0 && ctx.Err() == nil {
		if err := w.flush(ctx); err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	left := w.take(nil, w.Pending())
	if w.opts.SpoolPath == "" {
		if len(left) > 0 {
			return fmt.Errorf("usage: %d records could not be written to %s and no spool file is set", len(left), w.store)
		}
		return nil
	}
	if len(left) == 0 {
		if err := os.Remove(w.opts.SpoolPath); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	if err := writeSpool(w.opts.SpoolPath, left); err != nil {
		return fmt.Errorf("usage: %d records could not be written or saved: %w", len(left), err)
	}
	w.log.Warn("usage: the store could not be written; records saved for the next start", "records", len(left), "spool", w.opts.SpoolPath)
	return nil
}

// take returns a copy of up to n pending rows, in dst's array when it
// has room, without removing them.
func (w *Writer) take(dst []Row, n int) []Row {
	w.mu.Lock()
	defer w.mu.Unlock()
	avail := w.pending[w.head:]
	return append(dst[:0], avail[:min(n, len(avail))]...)
}

// drop removes the first n pending rows (written) and reports whether
// the last of the rows read from the spool file went with them.
func (w *Writer) drop(n int) (fromSpool bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	clear(w.pending[w.head : w.head+n])
	w.head += n
	if w.spooled > 0 {
		w.spooled = max(0, w.spooled-n)
		fromSpool = w.spooled == 0
	}
	if w.head == len(w.pending) {
		w.pending, w.head = w.pending[:0], 0
	} else if w.head > 4096 && w.head > len(w.pending)/2 {
		n := copy(w.pending, w.pending[w.head:])
		clear(w.pending[n:])
		w.pending, w.head = w.pending[:n], 0
	}
	return fromSpool
}

// flush writes pending rows batch by batch until none are left or the
// store fails.
func (w *Writer) flush(ctx context.Context) error {
	defer func() { clear(w.batch[:cap(w.batch)]) }() // keep no record's strings alive
	for {
		w.batch = w.take(w.batch, w.opts.BatchSize)
		batch := w.batch
		if len(batch) == 0 {
			return nil
		}
		ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
		n, err := w.store.Insert(ictx, batch)
		cancel()
		if err != nil {
			return err
		}
		w.written.Add(int64(n))
		if w.drop(len(batch)) && w.opts.SpoolPath != "" {
			// Everything the spool held is stored now.
			_ = os.Remove(w.opts.SpoolPath)
		}
	}
}

// run is the writer's goroutine: it flushes on every wake and tick,
// prunes hourly, and backs off while the store refuses writes.
func (w *Writer) run() {
	defer close(w.done)
	tick := time.NewTicker(w.opts.FlushEvery)
	defer tick.Stop()
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	ctx, cancel := w.storeContext()
	defer cancel()
	w.prune(ctx)
	var o retryState
	for {
		select {
		case <-w.quit:
			return
		case <-prune.C:
			w.prune(ctx)
			continue
		case <-w.wake:
		case <-tick.C:
		}
		if !w.round(ctx, &o) {
			return
		}
	}
}

// storeContext is the context of run's store calls. Close's quit cancels
// it, stopping an insert stuck on a dead database (Close retries); the
// goroutine watching quit ends with cancel.
func (w *Writer) storeContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-w.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// retryState is run's bookkeeping while the store refuses writes; its zero
// value is a writable store.
type retryState struct {
	failing   bool
	backoff   time.Duration
	retryAt   time.Time // no flush before then
	spooledAt time.Time // last save of the waiting records during the outage
}

// round is one flush attempt of run: during an outage it saves the
// waiting records to the spool now and then, and it flushes unless the
// backoff says to wait. It reports false when ctx was cancelled (Close).
func (w *Writer) round(ctx context.Context, o *retryState) bool {
	if o.failing && w.opts.SpoolPath != "" && time.Since(o.spooledAt) >= w.opts.SpoolEvery {
		if err := writeSpool(w.opts.SpoolPath, w.take(nil, w.Pending())); err != nil {
			w.log.Warn("usage: saving the waiting records failed", "spool", w.opts.SpoolPath, "err", err)
		}
		o.spooledAt = time.Now()
	}
	if time.Now().Before(o.retryAt) {
		return true
	}
	err := w.flush(ctx)
	switch {
	case err == nil:
		w.recovered(o)
	case ctx.Err() != nil:
		return false
	default:
		w.failed(o, err)
	}
	return true
}

// recovered ends an outage, if there was one, after a successful flush.
func (w *Writer) recovered(o *retryState) {
	if o.failing {
		w.log.Info("usage: the store is writable again", "store", w.store.String(), "pending", w.Pending())
		if !o.spooledAt.IsZero() {
			// Everything saved during the outage is stored now.
			_ = os.Remove(w.opts.SpoolPath)
		}
	}
	*o = retryState{}
	w.failing.Store(false)
}

// failed records a failed flush: the next one waits twice as long as the
// last (1 s to 30 s), and only the first failure of an outage is logged.
func (w *Writer) failed(o *retryState, err error) {
	o.backoff = min(max(2*o.backoff, time.Second), 30*time.Second)
	o.retryAt = time.Now().Add(o.backoff)
	if !o.failing {
		w.log.Error("usage: cannot write to the store; records wait in memory and are retried", "store", w.store.String(), "err", err,
			"pending", w.Pending(), "max_pending", w.opts.MaxPending)
	}
	o.failing = true
	w.failing.Store(true)
}

func (w *Writer) prune(ctx context.Context) {
	if w.opts.Retention <= 0 {
		return
	}
	n, err := w.store.Prune(ctx, time.Now().Add(-w.opts.Retention))
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("usage: deleting old request rows failed", "err", err)
		}
		return
	}
	if n > 0 {
		w.log.Info("usage: deleted request rows past retention (daily totals are kept)", "rows", n)
	}
}

// readSpool reads the rows an earlier Close saved.
func readSpool(path string) ([]Row, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return decodeSpool(f), nil
}

// decodeSpool reads spool lines until the end or the first line that does
// not decode (a torn last line after a crash loses only that line).
func decodeSpool(r io.Reader) []Row {
	var rows []Row
	dec := json.NewDecoder(bufio.NewReader(r))
	for {
		var r Row
		err := dec.Decode(&r)
		if err != nil {
			return rows
		}
		if r.ID != "" {
			rows = append(rows, r)
		}
	}
}

// writeSpool saves rows atomically (renameio: temp file, fsync, rename).
func writeSpool(path string, rows []Row) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := range rows {
		if err := enc.Encode(&rows[i]); err != nil {
			return err
		}
	}
	return renameio.WriteFile(path, buf.Bytes(), 0o600)
}
