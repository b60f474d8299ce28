package openai

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// FuzzChatRequest checks that any request the decoder accepts re-encodes to
// valid JSON that decodes to the same value, and that nothing panics.
func FuzzChatRequest(f *testing.F) {
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	f.Add([]byte(`{"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c","function":{"arguments":"{}"}}]}],"x":[1]}`))
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":""},{"type":"image_url","image_url":{"url":"data:,"}}]}],"stream_options":{"include_usage":true,"z":1}}`))
	// Issue 24: members that differ from a field's name only in case.
	f.Add([]byte(`{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"Model":"o1"}`))
	f.Add([]byte(`{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","Arguments":"{}"}}],"Content":"x"}]}`))
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"URL":"u"}}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var req ChatRequest
		if json.Unmarshal(data, &req) != nil {
			return
		}
		out, err := json.Marshal(req)
		if err != nil {
			t.Fatalf("re-encode failed: %v", err)
		}
		var again ChatRequest
		if err := json.Unmarshal(out, &again); err != nil {
			t.Fatalf("re-encoded JSON does not decode: %v\n%s", err, out)
		}
		out2, _ := json.Marshal(again)
		var a, b any
		_ = json.Unmarshal(out, &a)
		_ = json.Unmarshal(out2, &b)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("not stable:\n%s\n%s", out, out2)
		}
	})
}

// FuzzInspectChunk checks the byte-level chunk inspection never panics and
// agrees with a full decode about the usage chunk.
func FuzzInspectChunk(f *testing.F) {
	f.Add([]byte(`{"choices":[],"usage":{"prompt_tokens":1}}`))
	f.Add([]byte(`{"choices":[{"index":0}],"usage":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var text []byte
		info := InspectChunk(data, &text)
		var m map[string]json.RawMessage
		if json.Unmarshal(data, &m) != nil {
			return
		}
		var choices []json.RawMessage
		isEmpty := json.Unmarshal(m["choices"], &choices) == nil && choices != nil && len(choices) == 0
		if isEmpty != info.NoChoices {
			t.Fatalf("NoChoices=%v, full decode says %v for %s", info.NoChoices, isEmpty, data)
		}
	})
}

// inspectChunkGJSON is InspectChunk as it was written over gjson, the
// oracle of FuzzInspectChunkTape.
func inspectChunkGJSON(data []byte, text *[]byte) ChunkInfo {
	var info ChunkInfo
	gjson.ParseBytes(data).ForEach(func(key, value gjson.Result) bool {
		switch key.Str {
		case "usage":
			if value.IsObject() {
				info.Usage = []byte(value.Raw)
			}
		case "choices":
			info.NoChoices = value.IsArray() && isEmptyArray(value.Raw)
			if !info.NoChoices {
				value.ForEach(func(_, ch gjson.Result) bool {
					ch.ForEach(func(k, v gjson.Result) bool {
						switch k.Str {
						case "delta":
							appendText(text, v)
						case "finish_reason":
							if v.Type == gjson.String {
								info.Finished++
								info.BadFinish = info.BadFinish || BadFinish(v.Str)
							}
						}
						return true
					})
					return true
				})
			}
		case "error":
			info.Error = value.Exists() && value.Type != gjson.Null
		}
		return true
	})
	return info
}

// FuzzInspectChunkTape: on valid JSON, InspectChunk over its tape finds
// what the gjson walk found (the text too, when no \u escape could be
// decoded differently and the chunk is UTF-8: the tape unescapes a string
// as encoding/json does, invalid bytes becoming U+FFFD, where gjson keeps
// them once the string has an escape).
func FuzzInspectChunkTape(f *testing.F) {
	for _, s := range chunkSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"choices":[{"index":0,"delta":{"tool_calls":[{"function":{"name":"f","arguments":"{\"a\":1}"}}]},"finish_reason":"length"}],"usage":{"prompt_tokens":3},"usage":null}`))
	f.Add([]byte(`{"error":{"message":"x"},"choices":[{"delta":{"content":"a","refusal":"b","reasoning_content":"c"},"finish_reason":"stop"},{"finish_reason":""}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var got, want []byte
		gi := InspectChunk(data, &got)
		if !ValidJSON(data) {
			return
		}
		wi := inspectChunkGJSON(data, &want)
		if !reflect.DeepEqual(gi, wi) {
			t.Fatalf("%q: tape %+v, gjson %+v", data, gi, wi)
		}
		if !bytes.Contains(data, []byte(`\u`)) && utf8.Valid(data) && !bytes.Equal(got, want) {
			t.Fatalf("%q: text %q, gjson %q", data, got, want)
		}
	})
}

// UsageCounts reads what GetManyBytes over the same paths read, for any
// input (it reads a view of the bytes instead of copies of each result).
func FuzzUsageCounts(f *testing.F) {
	for _, s := range []string{
		`{"prompt_tokens":12,"completion_tokens":789,"total_tokens":801,"prompt_tokens_details":{"cached_tokens":3},"completion_tokens_details":{"reasoning_tokens":415}}`,
		`{"prompt_tokens":20,"completion_tokens":2,"prompt_cache_hit_tokens":16}`,
		`{"prompt_tokens":"7","prompt_tokens":9,"prompt_tokens_details":null}`,
		`{"total_tokens":1e3,"prompt_tokens_details":{"cache_write_tokens":-4}}`,
		`[1,2]`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		r := gjson.GetManyBytes(raw, "prompt_tokens", "completion_tokens", "total_tokens",
			"prompt_tokens_details.cached_tokens", "completion_tokens_details.reasoning_tokens",
			"prompt_tokens_details.cache_write_tokens", "prompt_cache_hit_tokens")
		want := UsageNumbers{Prompt: int(r[0].Int()), Completion: int(r[1].Int()), Total: int(r[2].Int()),
			Cached: int(r[3].Int()), Reasoning: int(r[4].Int()), CacheWrite: int(r[5].Int())}
		if !r[2].Exists() {
			want.Total = want.Prompt + want.Completion
		}
		if !r[3].Exists() {
			want.Cached = int(r[6].Int())
		}
		if got := UsageCounts(raw); got != want {
			t.Errorf("%q: %+v, want %+v", raw, got, want)
		}
	})
}
