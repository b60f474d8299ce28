package lifecycle

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lmittmann/tint"
)

// TestNewLoggerPiped: away from a terminal the console log is logfmt at
// the level asked, one line a record, and a client's string cannot
// smuggle a terminal escape or a line break into it.
func TestNewLoggerPiped(t *testing.T) {
	var buf bytes.Buffer
	l, err := NewLogger(&buf, "info")
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
	if l, err = NewLogger(f, "warn"); err != nil {
		t.Fatal(err)
	}
	l.Warn("careful", "n", 1)
	b, _ := os.ReadFile(f.Name())
	if !strings.HasPrefix(string(b), "time=") || !strings.Contains(string(b), "level=WARN msg=careful n=1") {
		t.Errorf("file log %q", b)
	}
	if _, err := NewLogger(&buf, "loud"); err == nil {
		t.Error("an unknown level was accepted")
	}
}

// BenchmarkConsoleLine: one request's console line as the bridge writes
// it, piped (logfmt), against tint's plain text, which the console used
// everywhere before.
func BenchmarkConsoleLine(b *testing.B) {
	var buf bytes.Buffer
	piped, _ := NewLogger(&buf, "info")
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
