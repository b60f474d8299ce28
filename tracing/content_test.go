package tracing

import (
	"io"
	"slices"
	"strings"
	"testing"
)

// chunks reads its parts one per Read.
type chunks struct{ parts []string }

func (c *chunks) Read(p []byte) (int, error) {
	if len(c.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.parts[0])
	c.parts[0] = c.parts[0][n:]
	if c.parts[0] == "" {
		c.parts = c.parts[1:]
	}
	return n, nil
}

func (c *chunks) Close() error { return nil }

// reasonsOf reads body in the given parts through a scanBody.
func reasonsOf(parts ...string) []string {
	s := &scanBody{ReadCloser: &chunks{parts: parts}, closed: func() {}}
	_, _ = io.Copy(io.Discard, s)
	return s.reasons
}

// A finish reason is found wherever the reads split it, once, in each
// wire family's spelling.
func TestScanBodyEverySplit(t *testing.T) {
	for _, body := range []string{
		`data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\ndata: [DONE]\n\n",
		`event: message_delta` + "\n" + `data: {"type":"message_delta","delta":{"stop_reason": "end_turn"}}` + "\n\n",
		`{"candidates":[{"finishReason":"STOP"}]}`,
	} {
		want := reasonsOf(body)
		if len(want) != 1 {
			t.Fatalf("%s: reasons %v", body, want)
		}
		for i := 1; i < len(body); i++ {
			if got := reasonsOf(body[:i], body[i:]); !slices.Equal(got, want) {
				t.Errorf("split at %d: %v, want %v", i, got, want)
			}
		}
	}
	if got := reasonsOf(`"finish_reason":null,"finish_reason":"length","finish_reason":"length","finish_reason":"tool_calls","finish_reason":"a\"b"`); !slices.Equal(got, []string{"length", "tool_calls"}) {
		t.Errorf("null, repeats and escapes: %v", got)
	}
	if got := reasonsOf(`"finish_reason":"` + strings.Repeat("x", 100) + `"`); got != nil {
		t.Errorf("a long value: %v", got)
	}
}

// However the reads split a body, the reasons found are those of one read.
func FuzzScanBody(f *testing.F) {
	f.Add(`data: {"choices":[{"finish_reason":"stop"}]}`, 20)
	f.Add(`{"stop_reason":"end_turn"} {"finishReason":"MAX_TOKENS"}`, 5)
	f.Fuzz(func(t *testing.T, body string, at int) {
		if len(body) == 0 || len(body) > 4096 {
			return
		}
		at = (at%len(body) + len(body)) % len(body)
		want := reasonsOf(body)
		if got := reasonsOf(body[:at], body[at:]); len(want) < maxReasons && !slices.Equal(got, want) {
			t.Fatalf("split at %d: %q, want %q", at, got, want)
		}
	})
}
