package openai

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// chunkSeeds are chunks as OpenAI-compatible upstreams send them, and
// shapes that must take encoding/json's path.
var chunkSeeds = []string{
	`{"id":"chatcmpl-Dx0XpqH8w09uBXwq1zFGYdETjtnEl","object":"chat.completion.chunk","created":1782955817,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_d0469e1700","choices":[{"index":0,"delta":{"content":" word"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"C63r"}`,
	`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"finish_reason":null}]}`,
	`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`,
	`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21,"prompt_tokens_details":{"cached_tokens":0}}}`,
	`{"id":"c","choices":[{"index":0,"delta":{"reasoning_content":"think"}}]}`,
	`{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]}}]}`,
	`{"id":"c","choices":[{"index":0,"delta":{"content":"caf\u00e9 \"q\""}}]}`,
	`{"id":"c","choices":[{"index":0,"delta":{"content":"café ☕"}},{"index":1,"delta":{"content":"b"}}]}`,
	`{"id":"a","id":"b","choices":null}`,
	`{"ID":"a"}`,
	`{"id":"a","choices":[{"Delta":{}}]}`,
	`{"id":"a","choices":[{"delta":{"Content":"x"}}]}`,
	`{"id":"a","usage":{"Prompt_Tokens":1}}`,
	`{"created":1.5}`,
	`{"created":1e3}`,
	`{"created":-7}`,
	`{"created":99999999999999999999}`,
	`{"id":7}`,
	`{"choices":[{"delta":null}]}`,
	`{"choices":[1]}`,
	`{"choices":{}}`,
	`{"choices":[{"index":0,"delta":{"content":"a"}}],"choices":[]}`,
	`[]`, `null`, `{}`, `{"a":`, `{"id":"\ud800"}`, "{\"id\":\"\xff\"}", `{"x":{"y":[1,2,{"z":null}]}}`,
	`{"choices":[{"index":0,"logprobs":{"content":[{"token":"a","logprob":-0.1}]},"delta":{"content":"a","extra_content":{"google":{"thought_signature":"x"}}}}]}`,
	`{"id":"c","choices":[],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}`,
	`{"usage":{"prompt_tokens":null,"prompt_tokens_details":null,"completion_tokens_details":null,"cost":0.0012}}`,
	`{"usage":{"prompt_tokens_details":{"cached_tokens":3,"cache_write_tokens":2,"Cached_Tokens":1}}}`,
	`{"usage":{"completion_tokens_details":{"Reasoning_tokens":1}}}`,
	`{"usage":{"prompt_tokens":1.5}}`, `{"usage":{"total_tokens":1e2}}`, `{"usage":{"prompt_tokens":99999999999999999999}}`,
	`{"usage":{"prompt_tokens_details":{"cached_tokens":1},"prompt_tokens_details":{"cache_write_tokens":2}}}`,
	`{"usage":{"prompt_tokens_details":[]}}`, `{"usage":{"completion_tokens_details":{"reasoning_tokens":"1"}}}`, `{"usage":[]}`, `{"usage":7}`,
	`{"id":"c","choices":[{"index":0,"delta":{"content":"a"}}],"ſystem_fingerprint":"fp"}`, // ſ folds onto s: encoding/json binds it
	`{"id":"c","choices":[{"index":0,"delta":{"content":"a","refuſal":"r"}}]}`,
	` { "id" : "sp" , "choices" : [ { "index" : 0 , "delta" : { "content" : "a" } } ] } `,
}

func slowChunk(data []byte) (*ChatChunk, error) {
	c := new(ChatChunk)
	if err := json.Unmarshal(data, c); err != nil {
		return nil, err
	}
	return c, nil
}

// streamDecoder is a ChunkDecoder that every sameChunk shares, as the
// chunks of one long stream.
var streamDecoder struct {
	sync.Mutex
	ChunkDecoder
}

// sameChunk fails t unless DecodeChunk, a ChunkDecoder and json.Unmarshal
// agree on data.
func sameChunk(t *testing.T, data []byte) {
	t.Helper()
	streamDecoder.Lock()
	fromStream, derr := streamDecoder.Decode(data)
	streamDecoder.Unlock()
	fast, ferr := DecodeChunk(data)
	if (derr == nil) != (ferr == nil) || !reflect.DeepEqual(fast, fromStream) {
		t.Fatalf("%q: ChunkDecoder %+v %v, DecodeChunk %+v %v", data, fromStream, derr, fast, ferr)
	}
	slow, serr := slowChunk(data)
	if (ferr == nil) != (serr == nil) {
		t.Fatalf("%q: DecodeChunk error %v, json.Unmarshal error %v", data, ferr, serr)
	}
	if ferr != nil {
		if ferr.Error() != serr.Error() {
			t.Fatalf("%q: error %q, json.Unmarshal's %q", data, ferr, serr)
		}
		return
	}
	if !reflect.DeepEqual(fast, slow) {
		fj, _ := json.Marshal(fast)
		sj, _ := json.Marshal(slow)
		t.Fatalf("%q:\nDecodeChunk  %s %#v\njson.Unmarshal %s %#v", data, fj, fast, sj, slow)
	}
}

func TestDecodeChunkIsJSONUnmarshal(t *testing.T) {
	for _, s := range chunkSeeds {
		sameChunk(t, []byte(s))
	}
	tc, err := os.ReadFile("testdata/chunk_toolcall.json")
	if err != nil {
		t.Fatal(err)
	}
	sameChunk(t, tc)
}

// TestDecodeChunkFastPath: the usual chunk does not fall back, and its
// strings do not share memory with the caller's buffer, which the SSE
// reader reuses.
func TestDecodeChunkFastPath(t *testing.T) {
	data := []byte(chunkSeeds[0])
	if decodeChunkFast(data, nil) == nil {
		t.Fatal("the usual chunk fell back to encoding/json")
	}
	if decodeChunkFast([]byte(`{"id":"c","choices":[{"index":0,"delta":{"content":"a\n\"b\" \u00e9"}}]}`), nil) == nil {
		t.Fatal("a delta with escapes fell back to encoding/json")
	}
	c, _ := DecodeChunk(data)
	for i := range data {
		data[i] = 'x'
	}
	if c.ID != "chatcmpl-Dx0XpqH8w09uBXwq1zFGYdETjtnEl" || *c.Choices[0].Delta.Content != " word" || string(c.Extra["obfuscation"]) != `"C63r"` {
		t.Fatalf("the chunk changed with the caller's buffer: %+v", c)
	}
	role := []byte(chunkSeeds[1])
	if n := testing.AllocsPerRun(100, func() { _, _ = DecodeChunk(role) }); n > 3 {
		t.Errorf("%v allocations for a role chunk without unknown members, want ≤ 3", n)
	}
}

// TestChunkDecoderKeepsChunks: the chunks of a stream stay as decoded
// while the decoder goes on (their memory is never handed out again),
// and a long stream costs far fewer allocations than chunks.
func TestChunkDecoderKeepsChunks(t *testing.T) {
	var d ChunkDecoder
	var kept []*ChatChunk
	var want []string
	for i := range 300 {
		s := strings.Repeat("w", i%40)
		data := []byte(`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"` + s + `"},"finish_reason":null}],"x":[` + strconv.Itoa(i) + `]}`)
		c, err := d.Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		for j := range data {
			data[j] = '#'
		}
		kept, want = append(kept, c), append(want, s)
	}
	for i, c := range kept {
		if *c.Choices[0].Delta.Content != want[i] || string(c.Extra["x"]) != "["+strconv.Itoa(i)+"]" {
			t.Fatalf("chunk %d changed: %q %s", i, *c.Choices[0].Delta.Content, c.Extra["x"])
		}
	}
	data := []byte(chunkSeeds[1])
	// The tape comes from a sync.Pool, which the race detector makes drop
	// some of what is put back.
	if n := testing.AllocsPerRun(200, func() { _, _ = d.Decode(data) }); n > 0.5 && !raceEnabled {
		t.Errorf("%v allocations per role chunk from a ChunkDecoder, want ≤ 0.5", n)
	}
}

func FuzzDecodeChunk(f *testing.F) {
	for _, s := range chunkSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { sameChunk(t, data) })
}

// BenchmarkDecodeChunk: one content chunk as OpenAI sends it, decoded
// by DecodeChunk and by json.Unmarshal.
func BenchmarkDecodeChunk(b *testing.B) {
	data := []byte(chunkSeeds[0])
	b.Run("DecodeChunk", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeChunk(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ChunkDecoder", func(b *testing.B) {
		var d ChunkDecoder
		b.ReportAllocs()
		for b.Loop() {
			if _, err := d.Decode(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := slowChunk(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestChunkReaderNames: the readers' name lists are their types' JSON
// names, so a member a case-variant away from one is refused (left to
// encoding/json) and no field is missed.
func TestChunkReaderNames(t *testing.T) {
	for _, c := range []struct {
		names []string
		set   *FieldSet
	}{{chunkNames, chatChunkFields}, {choiceNames, chunkChoiceFields}, {deltaNames, deltaFields}, {usageNames, usageFields},
		{promptDetailsNames, promptDetailsFields}, {completionDetailsNames, completionDetailsFields}} {
		if got := slices.Sorted(slices.Values(c.names)); !slices.Equal(got, c.set.Names()) {
			t.Errorf("reader names %v, the type's %v", got, c.set.Names())
		}
	}
}
