package live

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
)

// randomEvent fills an event's members with values that exercise every
// branch: empty and set strings with characters JSON escapes, nil and set
// pointers, zero and non-zero numbers, floats of every magnitude.
func randomEvent(r *rand.Rand) *event {
	strs := []string{"", "gpt-4o", `a "quoted" \ path`, "line\nbreak\t<&>", "模型 é", "\u2028sep\x01", "bad\xffutf8"}
	s := func() string { return strs[r.IntN(len(strs))] }
	times := []time.Time{{}, time.Date(2026, 12, 6, 1, 2, 3, 456789000, time.UTC), time.Date(2026, 12, 6, 1, 2, 3, 0, time.UTC),
		time.Date(1999, 1, 1, 0, 0, 0, 1, time.UTC), time.Unix(1782955817, 120000000).UTC()}
	floats := []float64{0, 1, 0.000043, 1e-7, 123.456, 1e21, 2.5e-9, 17, 0.1 + 0.2, 1234567.125}
	fp := func() *float64 {
		if r.IntN(3) == 0 {
			return nil
		}
		f := floats[r.IntN(len(floats))]
		return &f
	}
	ip := func() *int {
		if r.IntN(3) == 0 {
			return nil
		}
		n := r.IntN(3) * r.IntN(100000)
		return &n
	}
	return &event{Type: s(), ID: s(), Time: times[r.IntN(len(times))], RequestID: s(), KeyID: s(), KeyName: s(), Format: s(), Model: s(), Provider: s(),
		UpstreamModel: s(), Target: s(), Stream: r.IntN(2) == 0, Status: r.IntN(2) * 200, Retries: r.IntN(3), Prompt: ip(), Completion: ip(),
		Total: ip(), Cached: r.IntN(2) * 7, CacheWrite: r.IntN(2) * 3, Reasoning: r.IntN(2) * 11, Estimated: r.IntN(2) == 0,
		CostUSD: fp(), TTFTMS: fp(), DurationMS: fp(), Error: s(), ErrorCode: s(), Cache: s(), SavedUSD: fp()}
}

// The hand-written encoder writes exactly what encoding/json writes,
// except that it leaves <, > and & unescaped (the feed is read by
// JSON.parse, not embedded in HTML), as the bridge's other hand-written
// encoders do.
func TestAppendEventIsMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		e := randomEvent(r)
		want, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		want = []byte(strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(want)))
		if got := appendEvent(nil, e); string(got) != string(want) {
			t.Fatalf("event %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

func benchRecord() llmbridge.UsageRecord {
	return llmbridge.UsageRecord{ID: "rec_1", Time: time.Date(2026, 12, 6, 1, 2, 3, 456789000, time.UTC), RequestID: "req_0123456789abcdef01234567",
		KeyID: "key-1a2b3c4d", Format: "chat", Model: "openai/gpt-4o-mini", Provider: "openai", UpstreamModel: "gpt-4o-mini", Stream: true,
		Status: 200, PromptTokens: 1200, CompletionTokens: 340, TotalTokens: 1540, CachedTokens: 1024, Duration: 1234 * time.Millisecond, TTFT: 210 * time.Millisecond}
}

// BenchmarkEncodeEnd: what the hub pays per finished request while
// anyone watches the feed.
func BenchmarkEncodeEnd(b *testing.B) {
	h := New(Options{Cost: func(llmbridge.UsageRecord) (float64, bool) { return 0.000432, true }})
	r := benchRecord()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		if e := h.encode(buf[:0], "end", r); !strings.HasPrefix(string(e), `{"type":"end"`) {
			b.Fatal(string(e))
		}
	}
}
