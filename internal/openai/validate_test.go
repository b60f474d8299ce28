package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge/internal/golden"
	"github.com/llmbridge/llmbridge/internal/openai/corpus"
)

const corpusSeed = 12

func TestValidateChatAcceptsValidBodies(t *testing.T) {
	cases := append(corpus.Valid("openai/gpt-4o"), corpus.Case{Name: "testdata/request_full.json", Body: readFile(t, "request_full.json")})
	for _, c := range cases {
		if e := ValidateChat(c.Body); e != nil {
			t.Errorf("%s: refused: %s (param %q)\n%s", c.Name, e.Message, e.Param, c.Body)
		}
	}
}

// Every malformed body of the generated corpus is refused with a 400
// invalid_request_error naming the member at fault.
func TestValidateChatRejectsCorpus(t *testing.T) {
	cases := corpus.Invalid("openai/gpt-4o", corpusSeed, 10000)
	if len(cases) < 10000 {
		t.Fatalf("corpus has %d bodies", len(cases))
	}
	failed := 0
	for _, c := range cases {
		e := ValidateChat(c.Body)
		switch {
		case e == nil:
			t.Errorf("%s: accepted\n%.300s", c.Name, c.Body)
		case e.Status != http.StatusBadRequest || e.Type != TypeInvalidRequest || e.Code == "" || e.Message == "":
			t.Errorf("%s: error %+v", c.Name, e)
		case e.Param != c.Param:
			t.Errorf("%s: param %q, want %q (%s)\n%.300s", c.Name, e.Param, c.Param, e.Message, c.Body)
		default:
			continue
		}
		if failed++; failed > 20 {
			t.Fatal("too many failures")
		}
	}
}

func TestCorpusIsDeterministic(t *testing.T) {
	a, b := corpus.Invalid("m", 7, 2000), corpus.Invalid("m", 7, 2000)
	if len(a) != len(b) {
		t.Fatalf("%d and %d bodies", len(a), len(b))
	}
	for i := range a {
		if a[i].Name != b[i].Name || !bytes.Equal(a[i].Body, b[i].Body) || a[i].Param != b[i].Param {
			t.Fatalf("body %d differs: %s / %s", i, a[i].Name, b[i].Name)
		}
	}
}

// The errors of the examples, kept as a golden file: status-free
// OpenAI error bodies, one per case.
func TestValidateChatErrorsGolden(t *testing.T) {
	const base = `{"model":"m","messages":[{"role":"user","content":"hi"}]`
	cases := []struct{ name, body string }{
		{"temperature string", base + `,"temperature":"x"}`},
		{"temperature 3", base + `,"temperature":3}`},
		{"n 0", base + `,"n":0}`},
		{"n decimal", base + `,"n":1.5}`},
		{"max_tokens -1", base + `,"max_tokens":-1}`},
		{"stop 1", base + `,"stop":1}`},
		{"stop five", base + `,"stop":["a","b","c","d","e"]}`},
		{"tools string", base + `,"tools":"x"}`},
		{"tool without name", base + `,"tools":[{"type":"function","function":{"name":"a"}},{"type":"function","function":{}}]}`},
		{"logit_bias array", base + `,"logit_bias":[]}`},
		{"logit_bias 101", base + `,"logit_bias":{"7":101}}`},
		{"metadata number", base + `,"metadata":{"k":1}}`},
		{"response_format json_schema without json_schema", base + `,"response_format":{"type":"json_schema"}}`},
		{"messages [null]", `{"model":"m","messages":[null]}`},
		{"messages [1]", `{"model":"m","messages":[1]}`},
		{"messages empty", `{"model":"m","messages":[]}`},
		{"role bogus", `{"model":"m","messages":[{"role":"bogus"}]}`},
		{"content 1", `{"model":"m","messages":[{"role":"user","content":1}]}`},
		{"third message content", `{"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":"u"},{"role":"user","content":{}}]}`},
		{"user content null", `{"model":"m","messages":[{"role":"user","content":null}]}`},
		{"assistant null without tool calls", `{"model":"m","messages":[{"role":"assistant","content":null}]}`},
		{"tool without tool_call_id", `{"model":"m","messages":[{"role":"tool","content":"x"}]}`},
		{"part without text", `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text"}]}]}`},
		{"tool call arguments object", `{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":{}}}]}]}`},
		{"invalid UTF-8", "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\xffb\"}]}"},
		{"invalid UTF-8 in a member name", "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"\xff\":1}"},
		{"model too long", `{"model":"` + strings.Repeat("m", 300) + `","messages":[{"role":"user","content":"hi"}]}`},
		{"model missing", `{"messages":[{"role":"user","content":"hi"}]}`},
		{"not JSON", `{"model":`},
		{"not an object", `[{"model":"m"}]`},
	}
	var out bytes.Buffer
	for _, c := range cases {
		e := ValidateChat([]byte(c.body))
		if e == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		b, err := Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "%s\n%s\n\n", c.name, b)
	}
	golden.Check(t, "validate_errors.golden", out.Bytes())
}

// The 2 kB body of the benchmark: a system prompt, a few turns with a tool
// call, two tools and the usual sampling members.
func typicalBody() []byte {
	return []byte(`{"model":"openai/gpt-4o-mini","messages":[` +
		`{"role":"system","content":"You are a helpful assistant for a travel company. Answer briefly and precisely; when you need live data, call one of the tools. Never invent prices, dates or availability. If the user asks about something unrelated to travel, politely decline and steer the conversation back."},` +
		`{"role":"user","content":"I want to fly from Paris to Lisbon next Friday morning and come back on Sunday evening. What are my options and what would it cost for two adults?"},` +
		`{"role":"assistant","content":null,"tool_calls":[{"id":"call_8x1","type":"function","function":{"name":"search_flights","arguments":"{\"from\":\"CDG\",\"to\":\"LIS\",\"date\":\"2026-05-15\",\"return\":\"2026-05-17\",\"adults\":2}"}}]},` +
		`{"role":"tool","tool_call_id":"call_8x1","content":"[{\"flight\":\"TP433\",\"dep\":\"07:05\",\"arr\":\"08:45\",\"price\":189},{\"flight\":\"AF1024\",\"dep\":\"09:40\",\"arr\":\"11:20\",\"price\":232}]"},` +
		`{"role":"assistant","content":"There are two morning flights: TP433 at 07:05 (189 EUR for two) and AF1024 at 09:40 (232 EUR for two). Shall I look at hotels too?"},` +
		`{"role":"user","content":[{"type":"text","text":"Yes please, something near the old town, under 150 a night. Here is a photo of the area I like."},{"type":"image_url","image_url":{"url":"https://example.com/alfama.jpg","detail":"low"}}]}],` +
		`"tools":[{"type":"function","function":{"name":"search_flights","description":"Search flights between two airports","parameters":{"type":"object","properties":{"from":{"type":"string"},"to":{"type":"string"},"date":{"type":"string"},"return":{"type":"string"},"adults":{"type":"integer"}},"required":["from","to","date"]}}},` +
		`{"type":"function","function":{"name":"search_hotels","description":"Search hotels in a city near a landmark","parameters":{"type":"object","properties":{"city":{"type":"string"},"near":{"type":"string"},"max_price":{"type":"number"}},"required":["city"]},"strict":false}}],` +
		`"tool_choice":"auto","parallel_tool_calls":true,"temperature":0.3,"top_p":0.9,"max_completion_tokens":800,"presence_penalty":0.1,"frequency_penalty":0.1,"seed":7,"stream":true,"stream_options":{"include_usage":true},"user":"customer-4411","metadata":{"channel":"web","locale":"en-GB"}}`)
}

func TestTypicalBodySizeAndNoAllocations(t *testing.T) {
	body := typicalBody()
	if len(body) < 1900 || len(body) > 2300 {
		t.Fatalf("typical body is %d bytes, want about 2 kB", len(body))
	}
	if e := ValidateChat(body); e != nil {
		t.Fatal(e)
	}
	if raceEnabled {
		t.Skip("under the race detector sync.Pool drops tapes: allocation counts do not hold")
	}
	// The tape comes from a pool and strings are unescaped only when a
	// check reads them (the tool call's arguments and the tool result,
	// which have escapes, are not read).
	if n := testing.AllocsPerRun(100, func() { _ = ValidateChat(body) }); n != 0 {
		t.Errorf("%v allocations validating the typical body", n)
	}
	plain := bytes.ReplaceAll(body, []byte(`\"`), []byte(`'`))
	if n := testing.AllocsPerRun(100, func() { _ = ValidateChat(plain) }); n != 0 {
		t.Errorf("%v allocations validating a body without escapes", n)
	}
}

func TestValidateChatRequest(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	i := func(v int) *int { return &v }
	user := Message{Role: "user", Content: TextContent("hi")}
	for _, c := range []struct {
		name  string
		req   ChatRequest
		param string // "" accepted
	}{
		{"valid", ChatRequest{Model: "m", Messages: []Message{user}, Temperature: f(2), N: i(1), Stop: json.RawMessage(`["a"]`)}, ""},
		{"temperature", ChatRequest{Model: "m", Messages: []Message{user}, Temperature: f(2.5)}, "temperature"},
		{"top_p", ChatRequest{Model: "m", Messages: []Message{user}, TopP: f(-1)}, "top_p"},
		{"n", ChatRequest{Model: "m", Messages: []Message{user}, N: i(0)}, "n"},
		{"max_tokens", ChatRequest{Model: "m", Messages: []Message{user}, MaxTokens: i(-1)}, "max_tokens"},
		{"stop", ChatRequest{Model: "m", Messages: []Message{user}, Stop: json.RawMessage(`1`)}, "stop"},
		{"role", ChatRequest{Model: "m", Messages: []Message{user, {Role: "robot", Content: TextContent("x")}}}, "messages[1].role"},
		{"tool_call_id", ChatRequest{Model: "m", Messages: []Message{{Role: "tool", Content: TextContent("x")}}}, "messages[0].tool_call_id"},
		{"user without content", ChatRequest{Model: "m", Messages: []Message{{Role: "user"}}}, "messages[0].content"},
		{"tool name", ChatRequest{Model: "m", Messages: []Message{user}, Tools: []Tool{{Type: "function", Function: &FunctionDefinition{}}}}, "tools[0].function.name"},
		{"extra member", ChatRequest{Model: "m", Messages: []Message{user}, Extra: map[string]json.RawMessage{"logit_bias": json.RawMessage(`[]`)}}, "logit_bias"},
		{"model length", ChatRequest{Model: strings.Repeat("m", MaxModelLen+1), Messages: []Message{user}}, "model"},
		{"raw not JSON", ChatRequest{Model: "m", Messages: []Message{user}, ToolChoice: json.RawMessage(`{`)}, ""},
	} {
		e := ValidateChatRequest(&c.req)
		switch {
		case c.name == "valid" && e != nil:
			t.Errorf("%s: refused: %v", c.name, e)
		case c.name != "valid" && e == nil:
			t.Errorf("%s: accepted", c.name)
		case e != nil && (e.Param != c.param || e.Status != 400):
			t.Errorf("%s: param %q status %d, want %q 400 (%s)", c.name, e.Param, e.Status, c.param, e.Message)
		}
	}
}

// BenchmarkValidateChat: the cost the handler adds to every request body,
// for a typical 2 kB body (validity, UTF-8 and every member).
func BenchmarkValidateChat(b *testing.B) {
	body := typicalBody()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if e := ValidateChat(body); e != nil {
			b.Fatal(e)
		}
	}
}

// BenchmarkParseChat: what the handler does with a chat body before
// admission: the envelope and every check, in one reading, against the
// same in several passes as it was done before (refParseChat).
func BenchmarkParseChat(b *testing.B) {
	body := typicalBody()
	for name, parse := range map[string]func([]byte) (ChatEnvelope, *APIError){"one-pass": ParseChat, "passes": refParseChat} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, e := parse(body); e != nil {
					b.Fatal(e)
				}
			}
		})
	}
}

// BenchmarkValidateChatRequest: the in-process check of a typed request
// (an encoding plus ValidateChatJSON).
func BenchmarkValidateChatRequest(b *testing.B) {
	var req ChatRequest
	if err := json.Unmarshal(typicalBody(), &req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if e := ValidateChatRequest(&req); e != nil {
			b.Fatal(e)
		}
	}
}
