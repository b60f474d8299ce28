package llmbridge

import (
	"context"
	"log/slog"
	"runtime"
	"sync/atomic"
	"time"
)

// logRecord writes the console line of a request. Keys never appear in it.
func (b *Bridge) logRecord(r *UsageRecord) {
	level := slog.LevelInfo
	if r.Status >= 500 || r.Error != "" && r.Status < 400 {
		level = slog.LevelWarn
	}
	ctx := context.Background()
	if !b.log.Enabled(ctx, level) {
		return
	}
	var skipped int64
	if r.Unauthenticated {
		// A client with thousands of wrong keys gets a line a second.
		var ok bool
		if skipped, ok = b.refusedLog.take(r.Time); !ok {
			return
		}
	}
	// The record is made here, not by Logger.LogAttrs, which asks
	// runtime.Callers for the caller's pc on every line, a quarter of the
	// line's cost: the pc, always this function's, is read once (for a
	// handler with AddSource). The attributes are gathered on the stack
	// and added at once: the record copies those past its first five in
	// one allocation.
	var buf [16]slog.Attr
	attrs := append(buf[:0], slog.String("request_id", r.RequestID), slog.String("format", r.Format), slog.Int("status", r.Status), slog.String("model", r.Model),
		slog.String("provider", r.Provider), slog.Bool("stream", r.Stream), slog.Duration("duration", r.Duration))
	if r.KeyID != "" {
		attrs = append(attrs, slog.String("key_id", r.KeyID))
	}
	if r.TTFT > 0 {
		attrs = append(attrs, slog.Duration("ttft", r.TTFT))
	}
	if r.Retries > 0 {
		attrs = append(attrs, slog.Int("retries", r.Retries))
	}
	if r.TotalTokens > 0 {
		attrs = append(attrs, slog.Int("prompt_tokens", r.PromptTokens), slog.Int("completion_tokens", r.CompletionTokens))
		if r.Estimated {
			attrs = append(attrs, slog.Bool("estimated", true))
		}
	}
	if r.Cache != "" {
		attrs = append(attrs, slog.String("cache", r.Cache))
	}
	if r.Error != "" {
		attrs = append(attrs, slog.String("error", r.Error))
	}
	if skipped > 0 {
		attrs = append(attrs, slog.Int64("refused_unlogged", skipped))
	}
	rec := slog.NewRecord(time.Now(), level, "request", callerPC(&logRecordPC))
	rec.AddAttrs(attrs...)
	_ = b.log.Handler().Handle(ctx, rec)
}

// logRecordPC is a pc in logRecord for its lines' source (0: unread).
var logRecordPC atomic.Uintptr

// callerPC returns a pc in its caller, read once into *p.
func callerPC(p *atomic.Uintptr) uintptr {
	if pc := p.Load(); pc != 0 {
		return pc
	}
	var pcs [1]uintptr
	runtime.Callers(2, pcs[:]) // Callers, callerPC, its caller
	p.Store(pcs[0])
	return pcs[0]
}

// sampler lets one log line through per second and counts the others.
type sampler struct {
	next    atomic.Int64 // Unix nanoseconds of the next line allowed
	skipped atomic.Int64
}

// take reports whether a line may be written at now, with the number of
// lines skipped since the last one.
func (s *sampler) take(now time.Time) (int64, bool) {
	n, t := s.next.Load(), now.UnixNano()
	if t < n || !s.next.CompareAndSwap(n, t+int64(time.Second)) {
		s.skipped.Add(1)
		return 0, false
	}
	return s.skipped.Swap(0), true
}
