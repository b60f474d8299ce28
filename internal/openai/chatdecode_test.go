package openai

import (
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/llmbridge/llmbridge/internal/jsontest"
	"github.com/llmbridge/llmbridge/internal/openai/corpus"
)

// chatSeeds are requests the readers must take, and shapes that must go
// to encoding/json (and come back the same).
var chatSeeds = []string{
	`{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"c","type":"function","function":{"name":"f","arguments":"{}","x":1},"extra_content":{"google":{"thought_signature":"s"}}}]},{"role":"tool","tool_call_id":"c","content":"ok"}]}`,
	`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"u","detail":"low","zz":1}},{"type":"input_audio","input_audio":{"data":"d"}},{"type":"text","text":""}]}]}`,
	`{"model":"m","messages":[{"role":"user","content":[]}],"tools":[],"stop":null,"tool_choice":null,"response_format":null}`,
	`{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true,"include_obfuscation":false},"max_tokens":10,"max_completion_tokens":20,"temperature":0.5,"top_p":1,"n":1,"stop":["a","b"],"seed":-3,"presence_penalty":0,"frequency_penalty":-1.5e-1,"tools":[{"type":"function","function":{"name":"f","description":"d","parameters":{"type":"object"},"strict":true,"Extra":1}},{"type":"custom","custom":{"name":"c"}}],"tool_choice":"auto","response_format":{"type":"json_object"},"reasoning_effort":"low","user":"u","metadata":{"a":"b"}}`,
	`{"model":null,"messages":null,"stream":null,"stream_options":null,"max_tokens":null,"temperature":null,"seed":null,"tools":null,"reasoning_effort":null}`,
	`{"model":"m","messages":[{"role":null,"content":"x","name":null,"tool_calls":null,"tool_call_id":null,"reasoning_content":null,"refusal":null}]}`,
	`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":null,"text":null}]}]}`,
	`{"model":"m","messages":[{"role":"assistant","tool_calls":[{"index":null,"function":null}]}]}`,
	`{"model":"m","tools":[{"type":"function","function":{"name":null,"description":null,"parameters":null,"strict":null}}]}`,
	`{"model":"m","tools":[{"type":"function","function":null}],"stream_options":{"include_usage":null}}`,
	`{"model":"caf\u00e9 \"q\"\n","messages":[{"role":"user","content":"\ud83d\ude00 \u0000 \ud800"}]}`,
	"{\"model\":\"\xff\",\"messages\":[{\"role\":\"user\",\"content\":\"\xc3\"}]}",
	// case variants, duplicates, escaped names: encoding/json decides
	`{"Model":"m"}`, `{"model":"m","messages":[{"Role":"user"}]}`, `{"model":"m","messages":[{"role":"user","content":[{"Text":"a","type":"text"}]}]}`,
	`{"model":"m","tools":[{"type":"function","function":{"Name":"f"}}]}`, `{"model":"m","messages":[{"role":"assistant","tool_calls":[{"function":{"NAME":"f"}}]}]}`,
	`{"model":"m","ſtream":true}`, `{"model":"m","messages":[{"role":"tool","tool_call_id":"c","content":"x","reaſoning_content":"r"}]}`,
	`{"model":"a","model":"b"}`, `{"model":"m","stream_options":{"include_usage":true},"stream_options":{"zz":1}}`, `{"mod\u0065l":"m"}`,
	`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"URL":"u"}}]}]}`,
	// wrong types and numbers: encoding/json's errors
	`{"model":1}`, `{"messages":{}}`, `{"messages":[null]}`, `{"messages":[1]}`, `{"messages":[{"content":1}]}`, `{"messages":[{"content":[null]}]}`,
	`{"messages":[{"content":{}}]}`, `{"stream":"true"}`, `{"max_tokens":1.5}`, `{"max_tokens":1e2}`, `{"n":99999999999999999999}`, `{"seed":-0}`,
	`{"temperature":"1"}`, `{"temperature":1e999}`, `{"tools":[null]}`, `{"tools":[{"function":[]}]}`, `{"messages":[{"tool_calls":[{"index":"0"}]}]}`,
	`{"stream_options":[]}`, `{"reasoning_effort":1}`, `[]`, `null`, `{}`, `{"model":`, `"x"`, ` { "model" : "m" , "messages" : [ ] } `,
}

// sameChat fails t unless UnmarshalChat and json.Unmarshal agree on data.
func sameChat(t *testing.T, data []byte) {
	t.Helper()
	jsontest.SameAsUnmarshal(t, "UnmarshalChat", data, UnmarshalChat)
}

// chatBodies are the seeds, the typical request, a coding agent's, the
// full request of the goldens and the validator's corpus.
func chatBodies(t testing.TB) [][]byte {
	bodies := [][]byte{typicalBody(), corpus.AgentMessages(20)}
	for _, s := range chatSeeds {
		bodies = append(bodies, []byte(s))
	}
	full, err := os.ReadFile("testdata/request_full.json")
	if err != nil {
		t.Fatal(err)
	}
	bodies = append(bodies, full)
	for _, c := range corpus.Valid("openai/gpt-4o") {
		bodies = append(bodies, c.Body)
	}
	for _, c := range corpus.Invalid("openai/gpt-4o", 1, 200) {
		bodies = append(bodies, c.Body)
	}
	return bodies
}

func TestUnmarshalChatIsJSONUnmarshal(t *testing.T) {
	for _, b := range chatBodies(t) {
		sameChat(t, b)
	}
}

// FuzzUnmarshalChat: whatever the body, UnmarshalChat's request and
// error are json.Unmarshal's.
func FuzzUnmarshalChat(f *testing.F) {
	for _, b := range chatBodies(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) { sameChat(t, data) })
}

// TestUnmarshalChatFastPath: the requests clients send are read by hand
// (not handed to encoding/json), and their strings survive the body
// being overwritten.
func TestUnmarshalChatFastPath(t *testing.T) {
	full, err := os.ReadFile("testdata/request_full.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{typicalBody(), corpus.AgentMessages(20), full, []byte(chatSeeds[1]), []byte(chatSeeds[2]), []byte(chatSeeds[4])} {
		took := false
		if !WithValue(b, func(root Value) { took = fastChat(root, new(ChatRequest)) }) || !took {
			t.Errorf("not read by hand: %.200s", b)
		}
	}
	body := []byte(chatSeeds[1])
	var r ChatRequest
	if err := UnmarshalChat(body, &r); err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(&r)
	for i := range body {
		body[i] = ' '
	}
	if got, _ := json.Marshal(&r); string(got) != string(want) {
		t.Fatalf("the request changed with its body:\n%s\n%s", got, want)
	}
}

// TestChatReaderNames: the readers' name lists are their types' JSON
// names, so a member a case-variant away from one is left to
// encoding/json and no field is missed.
func TestChatReaderNames(t *testing.T) {
	for _, c := range []struct {
		names []string
		set   *FieldSet
	}{
		{chatNames, chatRequestFields}, {messageNames, messageFields}, {partNames, contentPartFields}, {imageURLNames, JSONFields[ImageURL]()},
		{toolCallNames, toolCallFields}, {functionCallNames, JSONFields[FunctionCall]()}, {toolNames, toolFields},
		{functionDefNames, JSONFields[FunctionDefinition]()}, {streamOptionsNames, streamOptionsFields},
		{responseNames, chatResponseFields}, {responseChoiceNames, choiceFields},
	} {
		if got := slices.Sorted(slices.Values(c.names)); !slices.Equal(got, c.set.Names()) {
			t.Errorf("reader names %v, the type's %v", got, c.set.Names())
		}
	}
}

// BenchmarkUnmarshalChat: the typical 2 kB request and a coding agent's
// late one (corpus.AgentMessages(200), about 110 kB), by UnmarshalChat and
// by json.Unmarshal.
func BenchmarkUnmarshalChat(b *testing.B) {
	for _, c := range []struct {
		name string
		body []byte
	}{{"typical", typicalBody()}, {"agent", corpus.AgentMessages(200)}} {
		for _, d := range []struct {
			name string
			f    func([]byte, *ChatRequest) error
		}{{"UnmarshalChat", UnmarshalChat}, {"json.Unmarshal", func(b []byte, r *ChatRequest) error { return json.Unmarshal(b, r) }}} {
			b.Run(c.name+"/"+d.name, func(b *testing.B) {
				b.SetBytes(int64(len(c.body)))
				b.ReportAllocs()
				for b.Loop() {
					var r ChatRequest
					if err := d.f(c.body, &r); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// responseSeeds are non-streamed responses the readers must take, and
// shapes that must go to encoding/json.
var responseSeeds = []string{
	`{"id":"chatcmpl-1","object":"chat.completion","created":1782955817,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"Hello \"there\"","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0}},"service_tier":"default","system_fingerprint":"fp_1"}`,
	`{"id":"c","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}],"reasoning_content":"think"},"finish_reason":"tool_calls"}]}`,
	`{"id":"c","choices":[],"usage":null}`, `{"id":null,"created":null,"choices":null,"system_fingerprint":null}`,
	`{"choices":[{"message":null,"finish_reason":null,"index":null,"zz":1}]}`, `{"choices":[null]}`, `{"choices":[{"Message":{}}]}`,
	`{"Id":"x"}`, `{"id":"a","id":"b"}`, `{"created":1.5}`, `{"created":"1"}`, `{"choices":{}}`, `{"usage":{"Total_Tokens":1}}`,
	`{"choices":[{"message":{"content":7}}]}`, `[]`, `null`, `{}`, `{"id":`,
}

// sameResponse fails t unless UnmarshalResponse and json.Unmarshal
// agree on data.
func sameResponse(t *testing.T, data []byte) {
	t.Helper()
	jsontest.SameAsUnmarshal(t, "UnmarshalResponse", data, UnmarshalResponse)
}

func TestUnmarshalResponseIsJSONUnmarshal(t *testing.T) {
	for _, s := range responseSeeds {
		sameResponse(t, []byte(s))
	}
	for _, s := range responseSeeds[:2] {
		took := false
		WithValue([]byte(s), func(root Value) { took = fastResponse(root, new(ChatResponse)) })
		if !took {
			t.Errorf("not read by hand: %s", s)
		}
	}
}

// FuzzUnmarshalResponse: whatever the body, UnmarshalResponse's response
// and error are json.Unmarshal's.
func FuzzUnmarshalResponse(f *testing.F) {
	for _, s := range responseSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { sameResponse(t, data) })
}

// BenchmarkUnmarshalResponse: a non-streamed answer as OpenAI sends it,
// by UnmarshalResponse and by json.Unmarshal.
func BenchmarkUnmarshalResponse(b *testing.B) {
	data := []byte(responseSeeds[0])
	for _, d := range []struct {
		name string
		f    func([]byte, *ChatResponse) error
	}{{"UnmarshalResponse", UnmarshalResponse}, {"json.Unmarshal", func(b []byte, r *ChatResponse) error { return json.Unmarshal(b, r) }}} {
		b.Run(d.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var r ChatResponse
				if err := d.f(data, &r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
