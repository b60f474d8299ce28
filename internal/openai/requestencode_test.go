package openai

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/llmbridge/llmbridge/internal/openai/corpus"
)

// sameRequestMarshal fails t unless Marshal writes r (as a pointer and
// as a value) as encoding/json does through the types' MarshalJSON, or
// all fail alike.
func sameRequestMarshal(t *testing.T, r *ChatRequest) {
	t.Helper()
	for _, v := range []any{r, *r} {
		slow, serr := slowMarshal(v)
		fast, ferr := Marshal(v)
		if (ferr == nil) != (serr == nil) || (ferr != nil && ferr.Error() != serr.Error()) {
			t.Fatalf("%+v: Marshal error %v, encoding/json error %v", r, ferr, serr)
		}
		if !bytes.Equal(fast, slow) {
			t.Fatalf("Marshal       %s\nencoding/json %s", fast, slow)
		}
	}
}

// markedRequests are requests no client's JSON decodes to, beside some
// it does: members set that decoding leaves empty, raw members with
// spaces or invalid, numbers encoding/json refuses, Extra naming known
// members, every form of content.
func markedRequests() []*ChatRequest {
	s, n, f, yes, no := "a\b\f\x01<&>\u2028 \xff\"\\", -3, 0.1, true, false
	nan, inf, tiny, big, seed := math.NaN(), math.Inf(-1), 1e-7, 1e21, int64(-1)<<40
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	return []*ChatRequest{
		{},
		{Messages: []Message{}},
		{Model: s, Stream: true, StreamOptions: &StreamOptions{}, MaxTokens: &n, MaxCompletionTokens: &n, Temperature: &f, TopP: &tiny, N: &n,
			Seed: &seed, PresencePenalty: &big, FrequencyPenalty: &f, ReasoningEffort: s},
		{StreamOptions: &StreamOptions{IncludeUsage: true, Extra: map[string]json.RawMessage{"include_obfuscation": raw(`false`), "include_usage": raw(`1`)}}},
		{StreamOptions: &StreamOptions{Extra: map[string]json.RawMessage{"x": raw(` [ 1 ] `)}}},
		{Temperature: &nan},
		{TopP: &inf},
		{Stop: raw(` [ "a" , "b" ] `), ToolChoice: raw(`"auto"`), ResponseFormat: raw(`{"type":"json_object"}`)},
		{Stop: raw(`[`)},
		{ToolChoice: raw(`nul`)},
		{ResponseFormat: raw("\t{}\n")},
		{Messages: []Message{
			{},
			{Role: s, Content: TextContent(s), Name: s, ToolCallID: s, ReasoningContent: s},
			{Role: "assistant", Content: NullContent(), ToolCalls: []ToolCall{{}, {Index: &n, ID: s, Type: "function", Function: FunctionCall{Name: s, Arguments: s},
				Extra: map[string]json.RawMessage{"extra_content": raw(`{"google":{"thought_signature":"x"}}`), "id": raw(`1`)}}}},
			{Role: "user", Content: TextContent("")},
			{Role: "user", Content: Content{kind: contentNull, Text: s}},
			{Role: "user", Content: PartsContent()},
			{Role: "user", Content: PartsContent(ContentPart{}, ContentPart{Type: "text"}, ContentPart{Type: "text", Text: s},
				ContentPart{Type: "text", ImageURL: &ImageURL{}}, ContentPart{Type: "image_url", ImageURL: &ImageURL{URL: s, Detail: "low"}},
				ContentPart{Type: "input_audio", Extra: map[string]json.RawMessage{"input_audio": raw(`{"data":"UklGRg==","format":"wav"}`), "type": raw(`"x"`)}},
				ContentPart{Type: "text", Extra: map[string]json.RawMessage{"cache_control": raw(` {"type": "ephemeral"} `)}})},
			{Role: "user", Content: Content{Text: s, Parts: []ContentPart{}}},
			{Role: "tool", Extra: map[string]json.RawMessage{"refusal": nil, "content": raw(`"x"`), "z": raw(`{}`)}},
		}},
		{Messages: []Message{{Role: "user", Extra: map[string]json.RawMessage{"bad": raw(`{`)}}}},
		{Messages: []Message{{Role: "user", Content: PartsContent(ContentPart{Type: "x", Extra: map[string]json.RawMessage{"bad": raw(`]`)}})}}},
		{Messages: []Message{{Role: "assistant", ToolCalls: []ToolCall{{Extra: map[string]json.RawMessage{"bad": raw(`tru`)}}}}}},
		{Tools: []Tool{}},
		{Tools: []Tool{{}, {Type: "function", Function: &FunctionDefinition{}},
			{Type: "function", Function: &FunctionDefinition{Name: s, Description: s, Parameters: raw(`{"type":"object","properties":{}}`), Strict: &yes}},
			{Type: "function", Function: &FunctionDefinition{Name: "f", Parameters: raw("{ \"type\" :\n \"object\" }"), Strict: &no}},
			{Type: "custom", Extra: map[string]json.RawMessage{"custom": raw(`{"name":"x"}`), "function": raw(`{}`)}}}},
		{Tools: []Tool{{Type: "function", Function: &FunctionDefinition{Name: "f", Parameters: raw(`{"a":`)}}}},
		{Tools: []Tool{{Type: "x", Extra: map[string]json.RawMessage{"bad": raw(`"`)}}}},
		{Extra: map[string]json.RawMessage{"model": raw(`"shadowed"`), "user": raw(`"u"`), "metadata": raw(` { "a" : "b" } `), "logit_bias": nil,
			"k1": nil, "k2": nil, "k3": nil, "k4": nil, "k5": nil, "k6": nil, "k7": nil, "k8": nil}},
		{Extra: map[string]json.RawMessage{"bad": raw(`{"a"}`)}},
	}
}

func TestMarshalRequestIsEncodingJSON(t *testing.T) {
	for _, r := range markedRequests() {
		sameRequestMarshal(t, r)
	}
	bodies := [][]byte{typicalBody(), corpus.AgentMessages(20)}
	if b, err := os.ReadFile("testdata/request_full.json"); err == nil {
		bodies = append(bodies, b)
	} else {
		t.Fatal(err)
	}
	for _, c := range corpus.Valid("openai/gpt-4o") {
		bodies = append(bodies, c.Body)
	}
	decoded := 0
	for _, b := range bodies {
		var r ChatRequest
		if json.Unmarshal(b, &r) == nil {
			decoded++
			sameRequestMarshal(t, &r)
		}
	}
	if decoded < len(bodies)/2 {
		t.Fatalf("only %d of %d bodies decode: the comparison reads too little", decoded, len(bodies))
	}
	var nilReq *ChatRequest
	if b, err := Marshal(nilReq); err != nil || string(b) != "null" {
		t.Fatalf("nil request: %s %v", b, err)
	}
}

// TestMarshalRequestAllocations: a request is encoded into one buffer,
// sized in advance.
func TestMarshalRequestAllocations(t *testing.T) {
	var r ChatRequest
	if err := json.Unmarshal(typicalBody(), &r); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = Marshal(&r) }); n > 1 {
		t.Errorf("%v allocations to encode the typical request, want 1", n)
	}
}

// FuzzMarshalRequest: whatever request a client's body decodes to,
// Marshal writes it as encoding/json does.
func FuzzMarshalRequest(f *testing.F) {
	f.Add(typicalBody())
	for _, c := range corpus.Valid("openai/gpt-4o") {
		f.Add(c.Body)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r ChatRequest
		if json.Unmarshal(data, &r) != nil {
			return
		}
		sameRequestMarshal(t, &r)
	})
}

// BenchmarkMarshalRequest: the typical 2 kB request and a coding agent's
// late request (corpus.AgentMessages(200), about 110 kB), encoded by
// Marshal and by encoding/json through the types' MarshalJSON.
func BenchmarkMarshalRequest(b *testing.B) {
	for _, body := range []struct {
		name string
		b    []byte
	}{{"typical", typicalBody()}, {"agent", corpus.AgentMessages(200)}} {
		var r ChatRequest
		if err := json.Unmarshal(body.b, &r); err != nil {
			b.Fatal(err)
		}
		for _, m := range []struct {
			name string
			f    func(any) ([]byte, error)
		}{{"Marshal", Marshal}, {"encoding/json", slowMarshal}} {
			b.Run(body.name+"/"+m.name, func(b *testing.B) {
				b.SetBytes(int64(len(body.b)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := m.f(&r); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// FuzzAppendRaw: a raw member is written as encoding/json writes a
// json.RawMessage: refused when json.Valid refuses it, else json.Compact's
// bytes.
func FuzzAppendRaw(f *testing.F) {
	for _, s := range []string{` { "a b" : [ 1 , "\" x\\" ] } `, "\t\"\\u0020 \"\n", `{"a":`, `[1, 2`, `"\"`, ` nul `, "[\"\xff \"]", `{"k":"v"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, ok := appendRaw([]byte("x"), raw)
		var want bytes.Buffer
		want.WriteString("x")
		if json.Valid(raw) != ok {
			t.Fatalf("%q: appendRaw ok %v, json.Valid %v", raw, ok, !ok)
		}
		if !ok {
			return
		}
		if err := json.Compact(&want, raw); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("%q: appendRaw %q, json.Compact %q", raw, got, want.Bytes())
		}
	})
}
