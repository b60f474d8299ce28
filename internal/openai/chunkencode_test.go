package openai

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

// slowMarshal is Marshal's encoding/json path, which appendChunk replaces
// for chunks.
func slowMarshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// sameMarshal fails t unless Marshal and encoding/json write c alike, or
// both fail.
func sameMarshal(t *testing.T, c *ChatChunk) {
	t.Helper()
	fast, ferr := Marshal(c)
	slow, serr := slowMarshal(c)
	if (ferr == nil) != (serr == nil) || (ferr != nil && ferr.Error() != serr.Error()) {
		t.Fatalf("%+v: Marshal error %v, encoding/json error %v", c, ferr, serr)
	}
	if !bytes.Equal(fast, slow) {
		t.Fatalf("Marshal      %s\nencoding/json %s", fast, slow)
	}
}

// markedChunks are chunks no upstream's JSON decodes to: members set
// that decoding leaves empty, raw members with spaces or invalid, Extra
// naming known members.
func markedChunks() []*ChatChunk {
	s, empty, idx := "a\b\f\x01<&>\u2028 \xff", "", 3
	return []*ChatChunk{
		{},
		{Choices: []ChunkChoice{{}}},
		{ID: s, Model: s, Choices: []ChunkChoice{{Index: -2, FinishReason: &empty, Delta: Delta{Role: s, Content: &s, ReasoningContent: &empty, Refusal: &s}}}},
		{Choices: []ChunkChoice{{Logprobs: json.RawMessage(` { "a" : [ 1 , 2 ] } `)}}},
		{Choices: []ChunkChoice{{Logprobs: json.RawMessage(`{"a":`)}}},
		{Choices: []ChunkChoice{{Logprobs: json.RawMessage(`nul`)}}},
		{Extra: map[string]json.RawMessage{"id": json.RawMessage(`1`), "z": nil, "a\n": json.RawMessage("\t[ ]"), "b": json.RawMessage(`"x"`)}},
		{Extra: map[string]json.RawMessage{"bad": json.RawMessage(`{`)}},
		{Extra: map[string]json.RawMessage{"k1": nil, "k2": nil, "k3": nil, "k4": nil, "k5": nil, "k6": nil, "k7": nil, "k8": nil, "k9": nil, "k0": nil}},
		{Choices: []ChunkChoice{{Extra: map[string]json.RawMessage{"x": json.RawMessage(`true`)}, Delta: Delta{Extra: map[string]json.RawMessage{"content": json.RawMessage(`1`), "y": json.RawMessage(`false`)},
			ToolCalls: []ToolCall{{}, {Index: &idx, ID: s, Type: "function", Function: FunctionCall{Name: s, Arguments: s}, Extra: map[string]json.RawMessage{"extra_content": json.RawMessage(`{"g":{}}`)}}}}}}},
		{Usage: &Usage{PromptTokens: -1, TotalTokens: 1 << 40, PromptTokensDetails: &PromptTokensDetails{CacheWriteTokens: 2, Extra: map[string]json.RawMessage{"audio_tokens": json.RawMessage(`0`)}},
			CompletionTokensDetails: &CompletionTokensDetails{ReasoningTokens: 5, Extra: map[string]json.RawMessage{"reasoning_tokens": json.RawMessage(`9`)}}, Extra: map[string]json.RawMessage{"prompt_cache_hit_tokens": json.RawMessage(`4`)}}},
		{Usage: &Usage{PromptTokensDetails: &PromptTokensDetails{}, CompletionTokensDetails: &CompletionTokensDetails{Extra: map[string]json.RawMessage{"x": json.RawMessage(`[`)}}}},
	}
}

func TestMarshalChunkIsEncodingJSON(t *testing.T) {
	for _, c := range markedChunks() {
		sameMarshal(t, c)
	}
	seeds := append([]string(nil), chunkSeeds...)
	if tc, err := os.ReadFile("testdata/chunk_toolcall.json"); err == nil {
		seeds = append(seeds, string(tc))
	}
	for _, s := range seeds {
		if c, err := DecodeChunk([]byte(s)); err == nil {
			sameMarshal(t, c)
		}
	}
	var nilChunk *ChatChunk
	if b, err := Marshal(nilChunk); err != nil || string(b) != "null" {
		t.Fatalf("nil chunk: %s %v", b, err)
	}
}

// TestMarshalChunkAllocations: a text delta is encoded into one buffer.
func TestMarshalChunkAllocations(t *testing.T) {
	c, err := DecodeChunk([]byte(chunkSeeds[0]))
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = Marshal(c) }); n > 1 {
		t.Errorf("%v allocations to encode a text delta, want 1", n)
	}
}

// FuzzMarshalChunk: whatever chunk a stream decodes to, Marshal writes
// it as encoding/json does.
func FuzzMarshalChunk(f *testing.F) {
	for _, s := range chunkSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeChunk(data)
		if err != nil {
			return
		}
		sameMarshal(t, c)
	})
}

// BenchmarkMarshalChunk: one content chunk as OpenAI sends it, encoded
// by Marshal and by encoding/json.
func BenchmarkMarshalChunk(b *testing.B) {
	c, err := DecodeChunk([]byte(chunkSeeds[0]))
	if err != nil {
		b.Fatal(err)
	}
	for _, m := range []struct {
		name string
		f    func(any) ([]byte, error)
	}{{"Marshal", Marshal}, {"encoding/json", slowMarshal}} {
		b.Run(m.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.f(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
