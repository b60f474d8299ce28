package codec

import (
	"bytes"
	"testing"

	"github.com/llmbridge/llmbridge/internal/openai"
)

// shortEntry writes e's chunks as a recorder does: each one the inspector
// read from the first head on written short, the head and marks after.
func shortEntry(e *Entry) []byte {
	var ci openai.ChunkInspector
	var marks []byte
	from, n, last := -1, 0, -1
	out := []byte(`{"chunks":[`)
	for i, ch := range e.Chunks {
		if i > 0 {
			out = append(out, ',')
		}
		ci.Inspect(ch, nil)
		h, rest := ci.Short()
		if rest != nil && from < 0 && last >= 0 && h[0] == '{' && len(h) <= MaxChunkHead && bytes.HasPrefix(e.Chunks[last], h) {
			from, n = last, len(h)
		}
		if rest != nil && from >= 0 && bytes.Equal(h, e.Chunks[from][:n]) {
			out, marks = append(out, rest...), append(marks, '1')
		} else {
			out, marks, last = append(out, ch...), append(marks, '0'), i
		}
	}
	out = append(out, ']')
	if from >= 0 {
		return (&Entry{Stored: 1}).AppendShortTail(out, from, n, marks)
	}
	return (&Entry{Stored: 1}).AppendTail(out)
}

// TestShortChunksDecodeWhole: every stream shape, written short, decodes
// to its chunks as they came, and the 22-chunk stream takes less than
// half the bytes.
func TestShortChunksDecodeWhole(t *testing.T) {
	for name, lines := range joinStreams {
		e := entryOf(lines)
		v := shortEntry(e)
		got, err := Decode(v)
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, v)
		}
		if len(got.Chunks) != len(e.Chunks) {
			t.Fatalf("%s: %d chunks, want %d", name, len(got.Chunks), len(e.Chunks))
		}
		for i := range e.Chunks {
			if !bytes.Equal(got.Chunks[i], e.Chunks[i]) {
				t.Errorf("%s: chunk %d\n got %s\nwant %s", name, i, got.Chunks[i], e.Chunks[i])
			}
		}
	}
	e := entryOf(stream22())
	whole, _ := e.Encode()
	if short := shortEntry(e); !bytes.Contains(short, []byte(`"short":"0111111111111111111111"`)) || 2*len(short) > len(whole) {
		t.Errorf("22 chunks: %d bytes short, %d whole:\n%s", len(short), len(whole), short)
	}
}

// BenchmarkDecodeShort: BenchmarkDecode's entry written short, decoded
// as a hit decodes it (the chunks put back together).
func BenchmarkDecodeShort(b *testing.B) {
	v := shortEntry(entryOf(stream22()))
	b.SetBytes(int64(len(v)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(v); err != nil {
			b.Fatal(err)
		}
	}
}
