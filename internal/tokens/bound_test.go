package tokens

import (
	"strings"
	"sync"
	"testing"

	"github.com/llmbridge/llmbridge/internal/openai"
)

// pathological is the prompt of the issue: 100 kB without a space, which
// tiktoken's BPE handles in time quadratic in the length of a word.
func pathological() *openai.ChatRequest {
	return &openai.ChatRequest{Messages: []openai.Message{{Role: "user", Content: openai.TextContent(strings.Repeat("a", 100<<10))}}}
}

// BenchmarkPromptPathological: counting the 100 kB prompt without spaces.
func BenchmarkPromptPathological(b *testing.B) {
	c := NewCounter()
	c.Text("gpt-4o", "load")
	req := pathological()
	b.ReportAllocs()
	for b.Loop() {
		c.Prompt("gpt-4o", req)
	}
}

// reference holds tiktoken's encodings for direct, loaded once.
var reference = sync.OnceValue(NewCounter)

// direct is tiktoken's count of text whole, without bounds.
func direct(t *testing.T, model, text string) int {
	t.Helper()
	enc, err := reference().encoding(EncodingFor(model))
	if err != nil {
		t.Fatal(err)
	}
	return len(enc.EncodeOrdinary(text))
}

// Text within the budget, with words and lines of normal length, is
// counted exactly as tiktoken counts it whole.
func TestCountIsExactForOrdinaryText(t *testing.T) {
	c := NewCounter()
	for name, text := range map[string]string{
		"prose":  strings.Repeat("The quick brown fox jumps over the lazy dog; café, naïve, 世界! ", 400),
		"code":   strings.Repeat("func(x int){return x*2;}\nif(a&&b){c();}\n\t\tfoo.bar.baz(1,2,3);\n", 300),
		"digits": strings.Repeat("12345 67890 ", 2000),
		"spaces": strings.Repeat("a    b\n\n\n  c ", 1500),
	} {
		if len(text) > ExactBytes {
			t.Fatalf("%s: %d bytes, over the budget", name, len(text))
		}
		for _, model := range []string{"gpt-4o", "gpt-4"} {
			n, exact := c.Count(model, text)
			if want := direct(t, model, text); n != want || !exact {
				t.Errorf("%s %s: %d (exact %v), tiktoken says %d", name, model, n, exact, want)
			}
		}
	}
}

// Beyond ExactBytes the rest is counted at 4 bytes a token and the count
// is an estimate.
func TestCountBeyondTheBudget(t *testing.T) {
	c := NewCounter()
	text := strings.Repeat("hello world ", 4000) // 48,000 bytes
	n, exact := c.Count("gpt-4o", text)
	want := direct(t, "gpt-4o", text[:ExactBytes]) + (len(text)-ExactBytes+3)/4
	if n != want || exact {
		t.Fatalf("%d (exact %v), want %d estimated", n, exact, want)
	}
	// Multi-byte text is cut on a rune boundary.
	if n, exact := c.Count("gpt-4o", strings.Repeat("é ", ExactBytes)); exact || n <= 0 {
		t.Fatalf("%d exact %v", n, exact)
	}
}

// A run longer than maxRun without a break is counted in pieces: an
// estimate close to tiktoken's count.
func TestLongRunIsCountedInPieces(t *testing.T) {
	c := NewCounter()
	text := strings.Repeat("abcdefgh", 125) // 1000 bytes, no break
	n, exact := c.Count("gpt-4o", text)
	want := 3*direct(t, "gpt-4o", text[:maxRun]) + direct(t, "gpt-4o", text[3*maxRun:])
	if n != want || exact {
		t.Fatalf("%d (exact %v), want %d estimated", n, exact, want)
	}
	if whole := direct(t, "gpt-4o", text); n < whole*9/10 || n > whole*11/10+4 {
		t.Errorf("piecewise %d is far from tiktoken's %d", n, whole)
	}
}

// The pathological prompt of the issue: counted, as an estimate, within
// the bounds (its cost is BenchmarkPromptPathological's).
func TestPathologicalPromptIsAnEstimate(t *testing.T) {
	n, exact := NewCounter().Prompt("gpt-4o", pathological())
	// The role takes 4 bytes of the budget, the text the rest of it, in
	// 256-byte pieces; the rest at 4 bytes a token; 3+1+3 of overhead.
	head := ExactBytes - len("user")
	want := head/maxRun*direct(t, "gpt-4o", strings.Repeat("a", maxRun)) + direct(t, "gpt-4o", strings.Repeat("a", head%maxRun)) +
		(100<<10-head+3)/4 + 3 + 1 + 3
	if exact || n != want {
		t.Fatalf("%d (exact %v), want %d estimated", n, exact, want)
	}
}

// One budget covers a whole prompt: two 20 kB messages make an estimate.
func TestPromptSharesOneBudget(t *testing.T) {
	text := strings.Repeat("hello world ", 1700) // 20,400 bytes
	req := &openai.ChatRequest{Messages: []openai.Message{
		{Role: "user", Content: openai.TextContent(text)}, {Role: "user", Content: openai.TextContent(text)}}}
	if _, exact := NewCounter().Prompt("gpt-4o", req); exact {
		t.Fatal("40 kB of prompt counted as exact")
	}
	req.Messages = req.Messages[:1]
	if _, exact := NewCounter().Prompt("gpt-4o", req); !exact {
		t.Fatal("20 kB of prompt counted as an estimate")
	}
}
