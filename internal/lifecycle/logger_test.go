package lifecycle

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lmittmann/tint"
)

// TestNewLoggerPiped: away from a terminal the console log is logfmt at
// the level asked, one line a record, and a client's string cannot
// smuggle a terminal escape or a line break into it.
func TestNewLoggerPiped(t *testing.T) {
	var buf bytes.Buffer
	l, _, err := NewLogger(&buf, "info")
	if err != nil {
		t.Fatal(err)
	}
	l.Debug("hidden")
	l.Info("request", slog.String("request_id", "evil\x1b[31mred\nlevel=ERROR"), slog.Int("status", 200))
	out := buf.String()
	if strings.Count(out, "\n") != 1 || strings.Contains(out, "hidden") {
		t.Fatalf("want one info line:\n%s", out)
	}
	for _, want := range []string{"level=INFO", "msg=request", `request_id="evil\x1b[31mred\nlevel=ERROR"`, "status=200"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %s in %s", want, out)
		}
	}
	if strings.ContainsRune(out, 0x1b) {
		t.Errorf("a raw escape reached the log: %q", out)
	}
	// A file is not a terminal either.
	f, err := os.Create(filepath.Join(t.TempDir(), "console.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l, flush, err := NewLogger(f, "info")
	if err != nil {
		t.Fatal(err)
	}
	l.Info("waits")
	l.Warn("careful", "n", 1) // written at once, after the line before it
	flush()
	b, _ := os.ReadFile(f.Name())
	if !strings.HasPrefix(string(b), "time=") || !strings.Contains(string(b), "level=INFO msg=waits\n") || !strings.HasSuffix(string(b), "level=WARN msg=careful n=1\n") {
		t.Errorf("file log %q", b)
	}
	if _, _, err := NewLogger(&buf, "loud"); err == nil {
		t.Error("an unknown level was accepted")
	}
}

// countingWriter records each write it is given.
type countingWriter struct {
	mu     sync.Mutex
	writes []string
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

func (w *countingWriter) get() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.writes)
}

// TestConsoleBatches: a console that is not a terminal gets lines in
// batches — info lines wait (here for an hour), a warning takes them out
// with it in one write, a full batch goes by itself, and flush writes the
// rest; with the real delay, a lone line goes out by itself.
func TestConsoleBatches(t *testing.T) {
	var w countingWriter
	b := newBatchWriter(&w, time.Hour)
	l := slog.New(urgentFlush{slog.NewTextHandler(b, nil), b})
	for i := range 3 {
		l.Info("request", "n", i)
	}
	if got := w.get(); len(got) != 0 {
		t.Fatalf("info lines written before their batch: %q", got)
	}
	l.With("k", "v").WithGroup("g").Error("broken", "n", 3)
	got := w.get()
	if len(got) != 1 || strings.Count(got[0], "\n") != 4 || !strings.Contains(got[0], "n=0") || !strings.HasSuffix(got[0], "level=ERROR msg=broken k=v g.n=3\n") {
		t.Fatalf("the error's write: %q", got)
	}
	long := strings.Repeat("x", 1000)
	for range 2 * consoleBatch / 1000 {
		l.Info(long)
	}
	b.Flush()
	got = w.get()[1:]
	n := 0
	for _, g := range got {
		if len(g) > consoleBatch {
			t.Errorf("a write of %d bytes, above the batch's %d", len(g), consoleBatch)
		}
		n += strings.Count(g, "\n")
	}
	if n != 2*consoleBatch/1000 || len(got) < 2 || len(got) > 3 {
		t.Errorf("%d lines in %d writes", n, len(got))
	}

	var w2 countingWriter
	b = newBatchWriter(&w2, consoleDelay)
	slog.New(slog.NewTextHandler(b, nil)).Info("alone")
	for deadline := time.Now().Add(10 * time.Second); len(w2.get()) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a lone line was never written")
		}
	}
}

// BenchmarkConsoleLine: one request's console line as the bridge writes
// it, piped (logfmt), against tint's plain text, which the console used
// everywhere before.
func BenchmarkConsoleLine(b *testing.B) {
	var buf bytes.Buffer
	piped, _, _ := NewLogger(&buf, "info")
	for name, l := range map[string]*slog.Logger{
		"logfmt":     piped,
		"tint-plain": slog.New(tint.NewTextHandler(&buf, &tint.Options{TimeFormat: time.DateTime, NoColor: true})),
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				buf.Reset()
				l.LogAttrs(context.Background(), slog.LevelInfo, "request", slog.String("request_id", "req_0123456789abcdef"), slog.String("format", "chat"),
					slog.Int("status", 200), slog.String("model", "openai/gpt-4o-mini"), slog.String("provider", "openai"), slog.Bool("stream", true),
					slog.String("key_id", "k_abcdef"), slog.Int("prompt_tokens", 53), slog.Int("completion_tokens", 20))
			}
		})
	}
}
