package openai

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

// roundTrip decodes data into T, encodes it again and checks that the JSON
// value is unchanged: every member, known or not, survives.
func roundTrip[T any](t *testing.T, data []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("decode: %v", err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	var want, got any
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("re-encoded JSON is invalid: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(want, got) {
		t.Errorf("round trip changed the JSON\nin:  %s\nout: %s", data, out)
	}
	return v
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRequestRoundTripKeepsEveryField(t *testing.T) {
	req := roundTrip[ChatRequest](t, readFile(t, "request_full.json"))
	if req.Model != "openai/gpt-4o" || len(req.Messages) != 4 || !req.Stream {
		t.Fatalf("typed fields not decoded: %+v", req)
	}
	if !req.Messages[2].Content.IsNull() || req.Messages[2].ToolCalls[0].Extra["extra_content"] == nil {
		t.Errorf("assistant tool-call message lost its null content or extra_content")
	}
	if got := req.Messages[1].Content.Parts[2].Extra["input_audio"]; got == nil {
		t.Errorf("input_audio part lost")
	}
	if req.Extra["future_field"] == nil || req.Extra["logit_bias"] == nil {
		t.Errorf("unknown top-level members lost: %v", req.Extra)
	}
}

func TestResponseRoundTrip(t *testing.T) {
	resp := roundTrip[ChatResponse](t, readFile(t, "response_deepseek.json"))
	if resp.Usage.ReasoningTokens() != 415 || resp.Choices[0].Message.ReasoningContent == "" {
		t.Fatalf("typed fields not decoded: %+v", resp)
	}
	if resp.Usage.Extra["prompt_cache_miss_tokens"] == nil {
		t.Error("DeepSeek usage fields lost")
	}
}

func TestChunkRoundTrip(t *testing.T) {
	c := roundTrip[ChatChunk](t, readFile(t, "chunk_toolcall.json"))
	if c.Choices[0].Delta.ToolCalls[0].Index == nil || *c.Choices[0].Delta.ToolCalls[0].Index != 0 {
		t.Fatal("tool-call index not decoded")
	}
}

func TestContentForms(t *testing.T) {
	for _, in := range []string{`{"role":"user","content":"hi"}`, `{"role":"user","content":""}`, `{"role":"assistant","content":null}`, `{"role":"user","content":[]}`, `{"role":"user","content":[{"type":"text","text":""}]}`, `{"role":"assistant"}`} {
		roundTrip[Message](t, []byte(in))
	}
	var m Message
	if err := json.Unmarshal([]byte(`{"role":"user","content":5}`), &m); err == nil {
		t.Error("numeric content accepted")
	}
	b, _ := json.Marshal(Message{Role: "user", Content: PartsContent(ContentPart{Type: "text", Text: "a"}, ContentPart{Type: "text", Text: "b"})})
	if !strings.Contains(string(b), `"content":[{"type":"text","text":"a"}`) {
		t.Errorf("parts content encoded as %s", b)
	}
}

func TestExtraCannotOverrideTypedField(t *testing.T) {
	r := ChatRequest{Model: "m", Extra: map[string]json.RawMessage{"model": json.RawMessage(`"evil"`), "x": json.RawMessage(`1`)}}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(b), `"model"`) != 1 || !strings.Contains(string(b), `"x":1`) {
		t.Fatalf("got %s", b)
	}
	r.Extra["bad"] = json.RawMessage(`{not json`)
	if _, err := json.Marshal(r); err == nil {
		t.Fatal("invalid Extra JSON was written")
	}
}

func TestInspectChunk(t *testing.T) {
	tests := []struct {
		in   string
		want ChunkInfo
	}{
		{`{"choices":[{"index":0,"delta":{"content":"x"}}],"usage":null}`, ChunkInfo{}},
		{`{"choices":[],"usage":{"prompt_tokens":1}}`, ChunkInfo{Usage: []byte(`{"prompt_tokens":1}`), NoChoices: true}},
		{`{"choices":[ ],"usage":{"a":1}}`, ChunkInfo{Usage: []byte(`{"a":1}`), NoChoices: true}},
		{`{"choices":[{"delta":{"tool_calls":[{"function":{"arguments":"{\"usage\":{}}"}}]}}]}`, ChunkInfo{}},
		{`{"choices":[{"delta":{"usage":{"x":1}}}]}`, ChunkInfo{}},
		{`{"error":{"message":"boom"}}`, ChunkInfo{Error: true}},
		{`{"error":null,"choices":[]}`, ChunkInfo{NoChoices: true}},
	}
	for _, tt := range tests {
		got := InspectChunk([]byte(tt.in), nil)
		if string(got.Usage) != string(tt.want.Usage) || got.NoChoices != tt.want.NoChoices || got.Error != tt.want.Error {
			t.Errorf("InspectChunk(%s) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestAPIErrorBody(t *testing.T) {
	b, _ := json.Marshal(&APIError{Status: 404, Message: "no such model", Type: TypeInvalidRequest, Code: "model_not_found"})
	want := `{"error":{"message":"no such model","type":"invalid_request_error","param":null,"code":"model_not_found"}}`
	if string(b) != want {
		t.Fatalf("got %s\nwant %s", b, want)
	}
}

func TestMarshalDoesNotEscapeHTML(t *testing.T) {
	s := "<b>a & b</b>"
	c := ChatChunk{Choices: []ChunkChoice{{Delta: Delta{Content: &s}}}, Extra: map[string]json.RawMessage{"x": json.RawMessage(`"<i>"`)}}
	b, err := Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"content":"<b>a & b</b>"`) || !strings.Contains(string(b), `"x":"<i>"`) {
		t.Fatalf("escaped: %s", b)
	}
	b, _ = Marshal(&APIError{Status: 401, Message: "send <key>"})
	if !strings.Contains(string(b), `"send <key>"`) {
		t.Fatalf("escaped: %s", b)
	}
}

func TestAppendText(t *testing.T) {
	var got []byte
	InspectChunk([]byte(`{"choices":[{"index":0,"delta":{"content":"Hel","reasoning_content":"why","tool_calls":[{"index":0,"function":{"name":"f","arguments":"{\"a\":1}"}}]}},{"index":1,"delta":{"content":null,"refusal":"no"}}],"usage":null}`), &got)
	if string(got) != `Helwhyf{"a":1}no` {
		t.Errorf("delta text %q", got)
	}
	got = AppendMessageText(nil, []byte(`{"choices":[{"message":{"role":"assistant","content":"Hi","tool_calls":[{"function":{"name":"g","arguments":"{}"}}]}}]}`))
	if string(got) != `Hig{}` {
		t.Errorf("message text %q", got)
	}
}

func TestUsageCounts(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want UsageNumbers
	}{
		{`{"prompt_tokens":12,"completion_tokens":789,"total_tokens":801,"prompt_tokens_details":{"cached_tokens":3},"completion_tokens_details":{"reasoning_tokens":415}}`,
			UsageNumbers{Prompt: 12, Completion: 789, Total: 801, Cached: 3, Reasoning: 415}},
		{`{"prompt_tokens":1,"completion_tokens":2}`, UsageNumbers{Prompt: 1, Completion: 2, Total: 3}},
		// DeepSeek without prompt_tokens_details: its own hit count is the cached count.
		{`{"prompt_tokens":20,"completion_tokens":2,"total_tokens":22,"prompt_cache_hit_tokens":16,"prompt_cache_miss_tokens":4}`,
			UsageNumbers{Prompt: 20, Completion: 2, Total: 22, Cached: 16}},
		// When both are present the OpenAI-style field wins.
		{`{"prompt_tokens":20,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":8},"prompt_cache_hit_tokens":16}`,
			UsageNumbers{Prompt: 20, Completion: 2, Total: 22, Cached: 8}},
		{`{"prompt_tokens":300,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":100,"cache_write_tokens":150}}`,
			UsageNumbers{Prompt: 300, Completion: 2, Total: 302, Cached: 100, CacheWrite: 150}},
	} {
		if got := UsageCounts([]byte(tc.raw)); got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.raw, got, tc.want)
		}
	}
}

// A member sent as null decodes as encoding/json decodes it (nothing),
// and encodes without an unknown member "" (it came out as "":null).
func TestNullObjectHasNoExtra(t *testing.T) {
	var ch ChatChunk
	if err := json.Unmarshal([]byte(`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":null,"finish_reason":"stop"}]}`), &ch); err != nil {
		t.Fatal(err)
	}
	out, err := Marshal(&ch)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte(`"":`)) {
		t.Fatalf("a null delta encodes with an unknown member \"\": %s", out)
	}
	var m Message
	if err := json.Unmarshal([]byte(`null`), &m); err != nil || m.Extra != nil {
		t.Fatalf("null message: %v, extra %v", err, m.Extra)
	}
}

// BenchmarkUsageCounts reads the counts of a usage object as the record
// of every request does.
func BenchmarkUsageCounts(b *testing.B) {
	raw := []byte(`{"prompt_tokens":12,"completion_tokens":789,"total_tokens":801,"prompt_tokens_details":{"cached_tokens":3,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":415,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}`)
	b.ReportAllocs()
	for b.Loop() {
		if UsageCounts(raw).Total != 801 {
			b.Fatal("wrong total")
		}
	}
}
