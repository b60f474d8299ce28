package usage

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Start opens the store at dsn (within 30 s) and starts its Writer, as
// the server does at start-up; the errors say how to run without it.
func Start(ctx context.Context, dsn string, o WriterOptions) (*Store, *Writer, error) {
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := Open(octx, dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("%w (set LLMBRIDGE_DB=off to run without the usage store)", err)
	}
	w, err := NewWriter(st, o)
	if err != nil {
		st.Close()
		return nil, nil, fmt.Errorf("usage spool %s: %w", o.SpoolPath, err)
	}
	kind := "SQLite"
	if st.Postgres() {
		kind = "PostgreSQL"
	}
	if o.Logger != nil {
		o.Logger.Info("usage store open", "kind", kind, "store", st.String(), "retention_days", int(o.Retention/(24*time.Hour)))
	}
	return st, w, nil
}

// Stop writes what w still holds (saving it to the spool file if the
// store is down) and closes st, logging what went wrong to log.
func Stop(st *Store, w *Writer, log *slog.Logger) {
	if err := w.Close(10 * time.Second); err != nil {
		log.Error("closing the usage writer", "err", err)
	}
	if d := w.Dropped(); d > 0 {
		log.Warn("usage records dropped (too many waiting while the store was down); the request log has them", "dropped", d)
	}
	if err := st.Close(); err != nil {
		log.Warn("closing the usage store", "err", err)
	}
}
