package tokens

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"sync"
	"testing"

	"github.com/llmbridge/llmbridge/internal/openai"
)

func TestEncodingFor(t *testing.T) {
	for model, want := range map[string]string{
		"gpt-4o": O200k, "gpt-4o-mini-2024-07-18": O200k, "o1": O200k, "o3-mini": O200k, "gpt-5": O200k, "gpt-5-mini": O200k,
		"gpt-4.1": O200k, "gpt-4.1-nano": O200k, "chatgpt-4o-latest": O200k, "openai/gpt-4o": O200k,
		"gpt-4": CL100k, "gpt-4-0613": CL100k, "gpt-3.5-turbo": CL100k, "gpt-3.5-turbo-0125": CL100k,
		"deepseek-chat": O200k, "gemini-2.0-flash": O200k, "llama3.1-8b": O200k,
	} {
		if got := EncodingFor(model); got != want {
			t.Errorf("%s: %s, want %s", model, got, want)
		}
	}
}

func TestTextCounts(t *testing.T) {
	c := NewCounter()
	if c.Loaded() {
		t.Fatal("loaded before use")
	}
	// Values from shared/reference/wire-formats.md §7.4 (verified by running).
	for _, tc := range []struct {
		model, text string
		want        int
	}{{"gpt-4o", "hello world", 2}, {"gpt-4", "hello world", 2}, {"gpt-4o", "Hello, 世界! How are you?", 8}, {"gpt-4", "Hello, 世界! How are you?", 11}, {"gpt-4o", "<|endoftext|>", 7}} {
		if got := c.Text(tc.model, tc.text); got != tc.want {
			t.Errorf("%s %q: %d, want %d", tc.model, tc.text, got, tc.want)
		}
	}
}

func msgs(t *testing.T, s string) []openai.Message {
	var m []openai.Message
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// The OpenAI cookbook's example conversation, whose counts it checked
// against the API: 129 prompt tokens on gpt-3.5-turbo/gpt-4, 124 on gpt-4o.
func TestPromptMatchesCookbook(t *testing.T) {
	m := msgs(t, `[
 {"role":"system","content":"You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
 {"role":"system","name":"example_user","content":"New synergies will help drive top-line growth."},
 {"role":"system","name":"example_assistant","content":"Things working well together will increase revenue."},
 {"role":"system","name":"example_user","content":"Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
 {"role":"system","name":"example_assistant","content":"Let's talk later when we're less busy about how to do better."},
 {"role":"user","content":"This late pivot means we don't have time to boil the ocean for the client deliverable."}]`)
	c := NewCounter()
	for model, want := range map[string]int{"gpt-4": 129, "gpt-3.5-turbo-0125": 129, "gpt-4o": 124, "gpt-4o-mini": 124} {
		if got, exact := c.Prompt(model, &openai.ChatRequest{Messages: m}); got != want || !exact {
			t.Errorf("%s: %d (exact %v), want %d", model, got, exact, want)
		}
	}
}

// The cookbook's tool example: 101 tokens on gpt-4o, 105 on gpt-4.
func TestPromptWithToolsMatchesCookbook(t *testing.T) {
	var tools []openai.Tool
	_ = json.Unmarshal([]byte(`[{"type":"function","function":{"name":"get_current_weather","description":"Get the current weather in a given location","parameters":{"type":"object","properties":{"location":{"type":"string","description":"The city and state, e.g. San Francisco, CA"},"unit":{"type":"string","description":"The unit of temperature to return","enum":["celsius","fahrenheit"]}},"required":["location"]}}}]`), &tools)
	m := msgs(t, `[{"role":"system","content":"You are a helpful assistant that can answer to questions about the weather."},{"role":"user","content":"What's the weather like in San Francisco?"}]`)
	c := NewCounter()
	for model, want := range map[string]int{"gpt-4o": 101, "gpt-4o-mini": 101, "gpt-4": 105} {
		if got, _ := c.Prompt(model, &openai.ChatRequest{Messages: m, Tools: tools}); got != want {
			t.Errorf("%s: %d, want %d", model, got, want)
		}
	}
}

func dataURL(t *testing.T, mime string, b []byte) string {
	return "data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(b)
}

func encoded(t *testing.T, format string, w, h int) string {
	t.Helper()
	var buf bytes.Buffer
	img := image.NewGray(image.Rect(0, 0, w, h))
	switch format {
	case "png":
		_ = png.Encode(&buf, img)
	case "jpeg":
		_ = jpeg.Encode(&buf, img, nil)
	case "gif":
		_ = gif.Encode(&buf, img, nil)
	case "webp":
		// A lossless (VP8L) header: signature, then 14-bit width-1 and height-1.
		var hdr [5]byte
		hdr[0] = 0x2f
		binary.LittleEndian.PutUint32(hdr[1:], uint32(w-1)|uint32(h-1)<<14)
		chunk := append([]byte("VP8L"), 0, 0, 0, 0)
		binary.LittleEndian.PutUint32(chunk[4:], uint32(len(hdr)))
		chunk = append(chunk, hdr[:]...)
		chunk = append(chunk, 0) // pad to even
		riff := append([]byte("RIFF"), 0, 0, 0, 0)
		binary.LittleEndian.PutUint32(riff[4:], uint32(4+len(chunk)))
		buf.Write(append(append(riff, "WEBP"...), chunk...))
	}
	return dataURL(t, "image/"+format, buf.Bytes())
}

func TestImageTokens(t *testing.T) {
	tests := []struct {
		name, model, url, detail string
		want                     int
		ok                       bool
	}{
		{"1024 square high", "gpt-4o", encoded(t, "png", 1024, 1024), "high", 765, true},
		{"2048x4096 high", "gpt-4o", encoded(t, "png", 2048, 4096), "high", 1105, true},
		{"auto is high", "gpt-4o", encoded(t, "jpeg", 512, 512), "auto", 255, true},
		{"small gif", "gpt-4o", encoded(t, "gif", 100, 40), "", 255, true},
		{"webp", "gpt-4o", encoded(t, "webp", 1500, 700), "high", 6*170 + 85, true},
		{"low", "gpt-4o", encoded(t, "png", 4000, 4000), "low", 85, true},
		{"gpt-4o-mini constants", "gpt-4o-mini", encoded(t, "png", 1024, 1024), "high", 4*5667 + 2833, true},
		{"http URL is never fetched", "gpt-4o", "https://example.com/cat.png", "high", 765, false},
		{"garbage data URL", "gpt-4o", "data:image/png;base64,AAAA", "", 765, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ImageTokens(tt.model, tt.url, tt.detail)
			if got != tt.want || ok != tt.ok {
				t.Errorf("got %d ok=%v, want %d ok=%v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestPromptWithImageMarksEstimate(t *testing.T) {
	c := NewCounter()
	m := msgs(t, `[{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"https://example.com/x.png"}}]}]`)
	if n, exact := c.Prompt("gpt-4o", &openai.ChatRequest{Messages: m}); exact || n < 765 {
		t.Errorf("n=%d exact=%v", n, exact)
	}
}

func TestConcurrentFirstUse(t *testing.T) {
	c := NewCounter()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if c.Text("gpt-4o", "hello world") != 2 {
				t.Error("wrong count")
			}
		})
	}
	wg.Wait()
}

func FuzzDataURLSize(f *testing.F) {
	f.Add("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
	f.Add("data:image/gif;base64,R0lGODlhAQABAAAAACw=")
	f.Add("data:,x")
	f.Fuzz(func(t *testing.T, url string) {
		if w, h, ok := DataURLSize(url); ok && (w <= 0 || h <= 0) {
			t.Fatalf("%d×%d", w, h)
		}
	})
}

func BenchmarkPrompt1000Tokens(b *testing.B) {
	c := NewCounter()
	var m []openai.Message
	para := "The quick brown fox jumps over the lazy dog while the committee reviews quarterly synergies and deliverables. "
	for i := range 10 {
		role := "user"
		if i%2 == 1 {
			role = "assistant"
		}
		text := ""
		for range 5 {
			text += para
		}
		m = append(m, openai.Message{Role: role, Content: openai.TextContent(text)})
	}
	req := &openai.ChatRequest{Messages: m}
	n, _ := c.Prompt("gpt-4o", req)
	b.ReportMetric(float64(n), "tokens")
	b.ReportAllocs()
	for b.Loop() {
		c.Prompt("gpt-4o", req)
	}
}

func BenchmarkFirstLoad(b *testing.B) {
	for _, enc := range []string{"gpt-4o", "gpt-4"} {
		b.Run(EncodingFor(enc), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				NewCounter().Text(enc, "x")
			}
		})
	}
}
