package requestlog

import (
	"errors"
	"math"
	"strconv"

	"github.com/llmbridge/llmbridge/internal/openai"
)

// errNotFinite is appendLine's refusal of a NaN or infinite duration,
// which encoding/json refuses too.
var errNotFinite = errors.New("request log: a duration is not a finite number")

// appendLine appends l and a newline, byte for byte what a json.Encoder
// with HTML escaping off writes for it (FuzzAppendLine holds the two
// equal), without reflection: it runs for every request, and the
// encoder took 2 µs a line.
func appendLine(b []byte, l *line) ([]byte, error) {
	if !finite(l.DurationMS) || !finite(l.TTFTMS) {
		return b, errNotFinite
	}
	for _, m := range [...]struct{ name, v string }{
		{`{"id":`, l.ID}, {`,"time":`, l.Time}, {`,"request_id":`, l.RequestID}, {`,"key_id":`, l.KeyID},
		{`,"method":`, l.Method}, {`,"path":`, l.Path}, {`,"provider":`, l.Provider}, {`,"model":`, l.Model},
		{`,"upstream_model":`, l.UpstreamModel},
	} {
		b = openai.AppendString(append(b, m.name...), m.v)
	}
	b = strconv.AppendBool(append(b, `,"stream":`...), l.Stream)
	b = strconv.AppendInt(append(b, `,"status":`...), int64(l.Status), 10)
	b = openai.AppendFloat(append(b, `,"duration_ms":`...), l.DurationMS)
	b = openai.AppendFloat(append(b, `,"ttft_ms":`...), l.TTFTMS)
	for _, m := range [...]struct {
		name string
		v    int
	}{
		{`,"prompt_tokens":`, l.PromptTokens}, {`,"completion_tokens":`, l.CompletionTokens}, {`,"total_tokens":`, l.TotalTokens},
		{`,"cached_tokens":`, l.CachedTokens}, {`,"reasoning_tokens":`, l.ReasoningTokens},
	} {
		b = strconv.AppendInt(append(b, m.name...), int64(m.v), 10)
	}
	if l.CacheWriteTokens != 0 {
		b = strconv.AppendInt(append(b, `,"cache_write_tokens":`...), int64(l.CacheWriteTokens), 10)
	}
	b = strconv.AppendBool(append(b, `,"estimated":`...), l.Estimated)
	b = openai.AppendString(append(b, `,"error":`...), l.Error)
	return append(b, "}\n"...), nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
