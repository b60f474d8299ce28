package live

import (
	"strconv"
	"time"

	"github.com/llmbridge/llmbridge/internal/openai"
)

// appendEvent appends e as JSON, byte for byte what encoding/json's
// Marshal writes for it (members in the struct's order, omitempty as
// tagged) except that <, > and & are not escaped (the feed is read by
// JSON.parse, not embedded in HTML), without reflection: the hub encodes
// two events per request while anyone watches the feed. A NaN or
// infinite number, which Marshal refuses, is written as null.
func appendEvent(b []byte, e *event) []byte {
	b = append(b, `{"type":`...)
	b = openai.AppendString(b, e.Type)
	b = optString(b, `,"id":`, e.ID)
	b = append(b, `,"time":"`...)
	b = append(e.Time.AppendFormat(b, time.RFC3339Nano), '"') // as Time.MarshalJSON (which refuses years past 9999), without its allocation
	b = append(b, `,"request_id":`...)
	b = openai.AppendString(b, e.RequestID)
	b = optString(b, `,"key_id":`, e.KeyID)
	b = optString(b, `,"key_name":`, e.KeyName)
	for _, m := range [...]struct{ name, v string }{{`,"format":`, e.Format}, {`,"model":`, e.Model}, {`,"provider":`, e.Provider}, {`,"upstream_model":`, e.UpstreamModel}} {
		b = append(b, m.name...)
		b = openai.AppendString(b, m.v)
	}
	b = optString(b, `,"target":`, e.Target)
	b = append(b, `,"stream":`...)
	b = strconv.AppendBool(b, e.Stream)
	b = optInt(b, `,"status":`, e.Status)
	b = optInt(b, `,"retries":`, e.Retries)
	b = optIntPtr(b, `,"prompt_tokens":`, e.Prompt)
	b = optIntPtr(b, `,"completion_tokens":`, e.Completion)
	b = optIntPtr(b, `,"total_tokens":`, e.Total)
	b = optInt(b, `,"cached_tokens":`, e.Cached)
	b = optInt(b, `,"cache_write_tokens":`, e.CacheWrite)
	b = optInt(b, `,"reasoning_tokens":`, e.Reasoning)
	if e.Estimated {
		b = append(b, `,"estimated":true`...)
	}
	b = optFloat(b, `,"cost_usd":`, e.CostUSD)
	b = optFloat(b, `,"ttft_ms":`, e.TTFTMS)
	b = optFloat(b, `,"duration_ms":`, e.DurationMS)
	b = optString(b, `,"error":`, e.Error)
	b = optString(b, `,"error_code":`, e.ErrorCode)
	b = optString(b, `,"cache":`, e.Cache)
	b = optFloat(b, `,"saved_usd":`, e.SavedUSD)
	return append(b, '}')
}

func optString(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	return openai.AppendString(append(b, name...), v)
}

func optInt(b []byte, name string, v int) []byte {
	if v == 0 {
		return b
	}
	return strconv.AppendInt(append(b, name...), int64(v), 10)
}

func optIntPtr(b []byte, name string, v *int) []byte {
	if v == nil {
		return b
	}
	return strconv.AppendInt(append(b, name...), int64(*v), 10)
}

func optFloat(b []byte, name string, v *float64) []byte {
	if v == nil {
		return b
	}
	return openai.AppendFloat(append(b, name...), *v)
}
