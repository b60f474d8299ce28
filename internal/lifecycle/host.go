package lifecycle

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/lmittmann/tint"
)

// NewLogger returns the console logger at level (an slog.Level name):
// tint's coloured text on a terminal, for people; logfmt (slog's
// TextHandler) anywhere else — journald, a container runtime, a file —
// for collectors, at less than half tint's cost a line (its plain mode
// rebuilds every key and value rune by rune to strip colour codes; the
// TextHandler quotes control characters instead), which matters at one
// line a request. A file that is not a terminal is written in batches
// (see consoleDelay); flush writes what waits, and is to be called before
// the process exits (it does nothing for other writers).
func NewLogger(w io.Writer, level string) (l *slog.Logger, flush func(), err error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, nil, fmt.Errorf("LLMBRIDGE_LOG_LEVEL: %w", err)
	}
	f, ok := w.(*os.File)
	if !ok {
		return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl})), func() {}, nil
	}
	if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		return slog.New(tint.NewTextHandler(w, &tint.Options{Level: lvl, TimeFormat: time.DateTime})), func() {}, nil
	}
	b := newBatchWriter(f, consoleDelay)
	return slog.New(urgentFlush{slog.NewTextHandler(b, &slog.HandlerOptions{Level: lvl}), b}), b.Flush, nil
}

// IsLoopback reports whether addr (host:port) listens on loopback only.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// FileStamp is path's modification time and size, "" when it cannot be
// read: a changed stamp is a changed file.
func FileStamp(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	return fmt.Sprint(fi.ModTime().UnixNano(), fi.Size())
}
