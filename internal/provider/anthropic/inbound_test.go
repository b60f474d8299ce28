package anthropic_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge/internal/golden"
	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/openai/corpus"
	"github.com/llmbridge/llmbridge/internal/provider/anthropic"
	"github.com/llmbridge/llmbridge/internal/sse"
)

func readFile(t testing.TB, name string) []byte {
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A Messages request as Claude Code sends it (system blocks with
// cache_control, images, documents, thinking, parallel tool use with
// results, one of them an error with an image, a server tool, unknown
// members) becomes the Chat request in the golden file.
func TestDecodeMessagesGolden(t *testing.T) {
	body := readFile(t, "inbound_request.json")
	if _, bad := anthropic.CheckEnvelope(body, false); bad != nil {
		t.Fatal(bad)
	}
	d, err := anthropic.DecodeMessages(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.DroppedTools) != 1 || d.DroppedTools[0] != "web_search_20250305" {
		t.Errorf("dropped tools %v", d.DroppedTools)
	}
	out, err := openai.Marshal(d.Request)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "inbound_request.golden.json", golden.IndentJSON(t, out))
}

func TestDecodeMessagesThinking(t *testing.T) {
	for _, tc := range []struct{ thinking, want string }{
		{`{"type":"enabled","budget_tokens":1024}`, "low"},
		{`{"type":"enabled","budget_tokens":8000}`, "medium"},
		{`{"type":"enabled","budget_tokens":31999}`, "high"},
		{`{"type":"adaptive"}`, "medium"},
		{`{"type":"adaptive"},"output_config":{"effort":"max"}`, "high"},
		{`{"type":"adaptive"},"output_config":{"effort":"low"}`, "low"},
		{`{"type":"disabled"}`, ""},
	} {
		body := `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"thinking":` + tc.thinking + `}`
		d, err := anthropic.DecodeMessages([]byte(body))
		if err != nil || d.Request.ReasoningEffort != tc.want {
			t.Errorf("%s: effort %q (want %q) %v", tc.thinking, d.Request.ReasoningEffort, tc.want, err)
		}
	}
}

func TestDecodeMessagesToolChoice(t *testing.T) {
	tools := `"tools":[{"name":"f","input_schema":{"type":"object"}}]`
	for _, tc := range []struct{ choice, want, parallel string }{
		{`{"type":"auto"}`, `"auto"`, ""},
		{`{"type":"any"}`, `"required"`, ""},
		{`{"type":"none"}`, `"none"`, ""},
		{`{"type":"tool","name":"f","disable_parallel_tool_use":true}`, `{"function":{"name":"f"},"type":"function"}`, "false"},
	} {
		body := `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],` + tools + `,"tool_choice":` + tc.choice + `}`
		d, err := anthropic.DecodeMessages([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if string(d.Request.ToolChoice) != tc.want || string(d.Request.Extra["parallel_tool_calls"]) != tc.parallel {
			t.Errorf("%s: tool_choice %s parallel %s", tc.choice, d.Request.ToolChoice, d.Request.Extra["parallel_tool_calls"])
		}
	}
}

// Malformed bodies are refused with a 400 naming the member, before
// anything goes upstream.
func TestCheckEnvelope(t *testing.T) {
	msgs := `"messages":[{"role":"user","content":"hi"}]`
	for _, tc := range []struct {
		name, body, param string
		count             bool
	}{
		{"bad json", `{"model":`, "", false},
		{"not an object", `[1]`, "", false},
		{"missing model", `{"max_tokens":5,` + msgs + `}`, "model", false},
		{"model not a string", `{"model":5,"max_tokens":5,` + msgs + `}`, "model", false},
		{"empty model", `{"model":"","max_tokens":5,` + msgs + `}`, "model", false},
		{"missing messages", `{"model":"m","max_tokens":5}`, "messages", false},
		{"messages not a list", `{"model":"m","max_tokens":5,"messages":{}}`, "messages", false},
		{"empty messages", `{"model":"m","max_tokens":5,"messages":[]}`, "messages", false},
		{"null message", `{"model":"m","max_tokens":5,"messages":[null]}`, "messages.0", false},
		{"bad role", `{"model":"m","max_tokens":5,"messages":[{"role":"tool","content":"x"}]}`, "messages.0.role", false},
		{"missing content", `{"model":"m","max_tokens":5,"messages":[{"role":"user"}]}`, "messages.0.content", false},
		{"content a number", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":1}]}`, "messages.0.content", false},
		{"block without type", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"text":"x"}]}]}`, "messages.0.content.0.type", false},
		{"null block", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[null]}]}`, "messages.0.content.0", false},
		{"later block without type", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"a"},{"role":"user","content":[{"type":"text","text":"x"},{"text":"y"}]}]}`, "messages.1.content.1.type", false},
		{"later bad role", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"},{"role":"bot","content":"c"}]}`, "messages.2.role", false},
		{"missing max_tokens", `{"model":"m",` + msgs + `}`, "max_tokens", false},
		{"max_tokens a string", `{"model":"m","max_tokens":"5",` + msgs + `}`, "max_tokens", false},
		{"max_tokens zero", `{"model":"m","max_tokens":0,` + msgs + `}`, "max_tokens", false},
		{"max_tokens fraction", `{"model":"m","max_tokens":1.5,` + msgs + `}`, "max_tokens", false},
		{"stream a string", `{"model":"m","max_tokens":5,"stream":"yes",` + msgs + `}`, "stream", false},
		{"system a number", `{"model":"m","max_tokens":5,"system":1,` + msgs + `}`, "system", false},
		{"model twice", `{"model":"m","model":"n","max_tokens":5,` + msgs + `}`, "model", false},
		// Issue 24: what a Go decoder reads differently from gjson.
		{"model in another case", `{"model":"anthropic/claude-haiku","max_tokens":5,` + msgs + `,"Model":"claude-opus"}`, "Model", false},
		{"messages in another case", `{"model":"m","max_tokens":5,"Messages":[{"role":"user","content":[{"type":"image"}]}],` + msgs + `}`, "Messages", false},
		{"max_tokens with a Kelvin sign", `{"model":"m","max_tokens":5,"max_to` + "\u212a" + `ens":999999,` + msgs + `}`, "max_to\u212aens", false},
		{"content twice in a message", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi","Content":"bye"}]}`, "messages.0.Content", false},
		{"a name twice in a tool schema", `{"model":"m","max_tokens":5,` + msgs + `,"tools":[{"name":"f","input_schema":{"type":"object","properties":{"a":{},"a":{}}}}]}`, "tools.0.input_schema.properties.a", false},
		{"count tokens without messages", `{"model":"m"}`, "messages", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, bad := anthropic.CheckEnvelope([]byte(tc.body), tc.count)
			if bad == nil || bad.Status != 400 || bad.Param != tc.param || bad.Message == "" {
				t.Fatalf("got %+v, want a 400 on %q", bad, tc.param)
			}
		})
	}
	env, bad := anthropic.CheckEnvelope([]byte(`{"model":"m",`+msgs+`,"stream":true}`), true)
	if bad != nil || env.Model != "m" || env.Stream {
		t.Errorf("count_tokens needs no max_tokens and never streams: %+v %v", env, bad)
	}
	env, bad = anthropic.CheckEnvelope([]byte(`{"model":"m","max_tokens":1024,`+msgs+`,"stream":true,"future_member":{"x":1},"messages_extra":[]}`), false)
	if bad != nil || !env.Stream || env.Model != "m" {
		t.Errorf("valid body refused: %+v %v", env, bad)
	}
}

// The translation decodes case-sensitively: a member that differs from a
// field's name only in case, which CheckEnvelope does not look at, is
// refused rather than bound (encoding/json would bind "Text" to text).
func TestDecodeMessagesRefusesCaseVariants(t *testing.T) {
	msgs := `"messages":[{"role":"user","content":"hi"}]`
	for _, c := range []struct{ body, param string }{
		{`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","Text":"x"}]}]}`, "messages.0.content.0.Text"},
		// An escaped name: the tape's check leaves it to gjson's reading.
		{`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","T\u0065xt":"x"}]}]}`, "messages.0.content.0.Text"},
		{`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","Source":{"type":"url","url":"http://x"}}]}]}`, "messages.0.content.0.Source"},
		{`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"url","URL":"http://x"}}]}]}`, "messages.0.content.0.source.URL"},
		{`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":[{"type":"text","tExt":"x"}]}]}]}`, "messages.0.content.0.content.0.tExt"},
		{`{"model":"m","max_tokens":5,"messages":[{"Role":"user","content":"hi"}]}`, "messages.0.Role"},
		{`{"model":"m","max_tokens":5,` + msgs + `,"system":[{"type":"text","Text":"s"}]}`, "system.0.Text"},
		{`{"model":"m","max_tokens":5,` + msgs + `,"tools":[{"name":"f","Input_Schema":{}}]}`, "tools.0.Input_Schema"},
		{`{"model":"m","max_tokens":5,` + msgs + `,"thinking":{"type":"enabled","Budget_Tokens":99999}}`, "thinking.Budget_Tokens"},
		{`{"model":"m","max_tokens":5,` + msgs + `,"Temperature":2}`, "Temperature"},
	} {
		_, err := anthropic.DecodeMessages([]byte(c.body))
		var ae *openai.APIError
		if !errors.As(err, &ae) || ae.Status != 400 || ae.Param != c.param || !strings.Contains(ae.Message, "only in case") {
			t.Errorf("%s: %v, want a 400 at %s", c.body, err, c.param)
		}
	}
}

func TestDecodeMessagesErrors(t *testing.T) {
	for name, body := range map[string]string{
		"tool_use without id":     `{"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"tool_use","name":"f","input":{}}]}]}`,
		"tool_use input a list":   `{"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"f","input":[1]}]}]}`,
		"tool_result without id":  `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","content":"x"}]}]}`,
		"image without source":    `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image"}]}]}`,
		"image from a file":       `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"url","url":"file:///etc/passwd"}}]}]}`,
		"temperature a string":    `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"temperature":"hot"}`,
		"tool_choice unknown":     `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"tools":[{"name":"f","input_schema":{}}],"tool_choice":{"type":"sometimes"}}`,
		"tool without name":       `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"tools":[{"input_schema":{}}]}`,
		"system blocks malformed": `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"system":[1]}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := anthropic.DecodeMessages([]byte(body))
			var ae *openai.APIError
			if !errors.As(err, &ae) || ae.Status != 400 || ae.Message == "" {
				t.Fatalf("got %v, want a 400 APIError", err)
			}
		})
	}
}

var generatedID = regexp.MustCompile(`(toolu|msg)_[0-9a-f]{24}`)

func maskGenerated(b []byte) []byte { return generatedID.ReplaceAll(b, []byte("${1}_GENERATED")) }

// A Chat response (Gemini's: thought signature in a tool id, a call with
// no id) as the Messages response in the golden file.
func TestEncodeMessageGolden(t *testing.T) {
	var r openai.ChatResponse
	if err := json.Unmarshal(readFile(t, "inbound_response.json"), &r); err != nil {
		t.Fatal(err)
	}
	out, err := anthropic.EncodeMessage(&r)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "inbound_response.golden.json", golden.IndentJSON(t, maskGenerated(out)))
}

func TestStopReason(t *testing.T) {
	for _, tc := range []struct {
		finish string
		tools  bool
		want   string
	}{{"stop", false, "end_turn"}, {"length", false, "max_tokens"}, {"tool_calls", false, "tool_use"}, {"stop", true, "tool_use"},
		{"content_filter", false, "refusal"}, {"function_call", false, "tool_use"}, {"", false, "end_turn"}} {
		if got := anthropic.StopReason(tc.finish, tc.tools); got != tc.want {
			t.Errorf("%q/%v: %q, want %q", tc.finish, tc.tools, got, tc.want)
		}
	}
}

// chunksOf reads canonical chunks, one JSON object per line; lines that do
// not decode are skipped.
func chunksOf(b []byte) []*openai.ChatChunk {
	var out []*openai.ChatChunk
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ch openai.ChatChunk
		if json.Unmarshal(sc.Bytes(), &ch) == nil {
			out = append(out, &ch)
		}
	}
	return out
}

func encodeStream(chunks []*openai.ChatChunk, u *openai.Usage) []byte {
	var out bytes.Buffer
	enc := anthropic.NewStreamEncoder("deepseek/deepseek-reasoner")
	write := func(evs []anthropic.Event) {
		for _, ev := range evs {
			_ = sse.WriteEvent(&out, ev.Name, ev.Data)
		}
	}
	for _, ch := range chunks {
		write(enc.Chunk(ch))
	}
	write(enc.End(u))
	return out.Bytes()
}

// A DeepSeek-style stream (reasoning, text, two tool calls, usage chunk)
// as the Messages event sequence in the golden file.
func TestStreamEncoderGolden(t *testing.T) {
	out := encodeStream(chunksOf(readFile(t, "inbound_stream_chunks.jsonl")), nil)
	golden.Check(t, "inbound_stream.golden.sse", out)
	checkEventSequence(t, out)
}

func TestStreamEncoderEmptyStream(t *testing.T) {
	out := string(encodeStream(nil, &openai.Usage{PromptTokens: 3}))
	if !strings.Contains(out, "event: message_start\n") || !strings.Contains(out, `"stop_reason":"end_turn"`) ||
		!strings.Contains(out, `"usage":{"input_tokens":3,`) || !strings.HasSuffix(out, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n") {
		t.Errorf("empty stream: %s", out)
	}
}

// checkEventSequence checks the documented order: message_start first,
// blocks started with indexes 0, 1, 2… each stopped before the next
// starts, deltas only for started blocks, message_delta then
// message_stop last; every data is JSON whose type is the event name.
func checkEventSequence(t testing.TB, stream []byte) {
	t.Helper()
	r := sse.NewReader(bytes.NewReader(stream))
	var names []string
	open, next := -1, 0
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Type  string `json:"type"`
			Index *int   `json:"index"`
		}
		if err := json.Unmarshal(ev.Data, &e); err != nil || e.Type != ev.Name {
			t.Fatalf("event %q data %s: %v", ev.Name, ev.Data, err)
		}
		names = append(names, ev.Name)
		switch ev.Name {
		case "content_block_start":
			if open != -1 || *e.Index != next {
				t.Fatalf("block %d started with %d open, next %d", *e.Index, open, next)
			}
			open, next = next, next+1
		case "content_block_delta":
			if *e.Index >= next {
				t.Fatalf("delta for block %d not started", *e.Index)
			}
		case "content_block_stop":
			if *e.Index != open {
				t.Fatalf("stop of %d while %d open", *e.Index, open)
			}
			open = -1
		case "message_delta", "message_stop":
			if open != -1 {
				t.Fatalf("%s with block %d open", ev.Name, open)
			}
		}
	}
	if len(names) < 3 || names[0] != "message_start" || names[len(names)-2] != "message_delta" || names[len(names)-1] != "message_stop" {
		t.Fatalf("sequence %v", names)
	}
}

func TestRawRequestPassesTheBodyAndHeaders(t *testing.T) {
	p := anthropic.New(anthropic.Config{Name: "anthropic", BaseURL: "https://api.anthropic.com/v1", APIKey: "sk-ant-provider", Headers: map[string]string{"X-Tenant": "t1"}})
	body := []byte(`{"model":"anthropic/claude-sonnet-4-5", "max_tokens":5,"messages":[{"role":"user","content":"x"}],"future":{"a":[1,2]},"context_management":{"edits":[]}}`)
	orig := append([]byte(nil), body...)
	client := http.Header{"Anthropic-Version": {"2099-01-01"}, "Anthropic-Beta": {"a-2025", "b-2026"}, "X-Api-Key": {"sk-bridge-client"}, "Authorization": {"Bearer sk-bridge-client"}}
	hreq, err := p.NewRawMessagesRequest(t.Context(), body, "claude-sonnet-4-5", true, client)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(hreq.Body)
	want := `{"model":"claude-sonnet-4-5", "max_tokens":5,"messages":[{"role":"user","content":"x"}],"future":{"a":[1,2]},"context_management":{"edits":[]}}`
	if string(got) != want || !bytes.Equal(body, orig) {
		t.Errorf("body %s (client's after: %s)", got, body)
	}
	h := hreq.Header
	if hreq.URL.String() != "https://api.anthropic.com/v1/messages" || h.Get("X-Api-Key") != "sk-ant-provider" || h.Get("Authorization") != "" ||
		h.Get("Anthropic-Version") != "2099-01-01" || strings.Join(h.Values("Anthropic-Beta"), ",") != "a-2025,b-2026" || h.Get("X-Tenant") != "t1" || h.Get("Accept") != "text/event-stream" {
		t.Errorf("%s %v", hreq.URL, h)
	}
	hreq, _ = p.NewRawCountTokensRequest(t.Context(), body, "claude-sonnet-4-5", nil)
	if hreq.URL.Path != "/v1/messages/count_tokens" || hreq.Header.Get("Anthropic-Version") != anthropic.Version || hreq.Header.Get("Accept") != "" {
		t.Errorf("count_tokens: %s %v", hreq.URL, hreq.Header)
	}
}

func TestStreamUsage(t *testing.T) {
	var u anthropic.StreamUsage
	if u.Usage() != nil {
		t.Fatal("usage before any event")
	}
	for _, ev := range []string{
		`{"type":"message_start","message":{"id":"m","usage":{"input_tokens":472,"cache_creation_input_tokens":5,"cache_read_input_tokens":100,"output_tokens":1}}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"{\"usage\":{\"output_tokens\":999}}"}}`,
		`{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":145}}`,
	} {
		u.Observe([]byte(ev))
	}
	got := u.Usage()
	if got.PromptTokens != 577 || got.CompletionTokens != 145 || got.TotalTokens != 722 || got.CachedTokens() != 100 || got.CacheWriteTokens() != 5 {
		t.Errorf("%+v %+v", got, got.PromptTokensDetails)
	}
}

// FuzzDecodeMessages: the envelope check and the decoder never panic; a
// body the envelope accepts decodes, or is refused with a 400, into a
// request that encodes as JSON.
func FuzzDecodeMessages(f *testing.F) {
	f.Add(readFile(f, "inbound_request.json"))
	f.Add(readFile(f, "inbound_structured.json"))
	for _, s := range []string{
		`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"m","max_tokens":5,"messages":[null]}`,
		`{"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"f","input":{"x":[1]}}]}],"system":[{"type":"text","text":"s"}]}`,
		`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":[{"type":"image","source":{"type":"url","url":"http://x"}}]}]}]}`,
		// Issue 24: case variants and duplicates.
		`{"model":"anthropic/claude-haiku","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"Model":"claude-opus"}`,
		`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi","Content":[{"type":"text","text":"x"}]}]}`,
		`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","Text":"x"}]}]}`,
		`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"system":[{"type":"text","TEXT":"s"}],"tool_choice":{"type":"tool","NAME":"f"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, bad := anthropic.CheckEnvelope(body, false)
		if bad != nil {
			if bad.Status != 400 || bad.Message == "" {
				t.Fatalf("bad refusal %+v", bad)
			}
			return
		}
		d, err := anthropic.DecodeMessages(body)
		if err != nil {
			var ae *openai.APIError
			if !errors.As(err, &ae) || ae.Status != 400 {
				t.Fatalf("error is not a 400 APIError: %v", err)
			}
			return
		}
		out, err := openai.Marshal(d.Request)
		if err != nil || !json.Valid(out) {
			t.Fatalf("request does not encode: %v %s", err, out)
		}
	})
}

// FuzzStreamEncoder: any chunk sequence gives a well-formed Messages event
// sequence.
func FuzzStreamEncoder(f *testing.F) {
	f.Add(readFile(f, "inbound_stream_chunks.jsonl"))
	f.Add([]byte(`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":3,"function":{"arguments":"{"}},{"index":0,"id":"x","function":{"name":"\u2028\ufffd\u0001"}}]}}]}` + "\n" +
		`{"choices":[{"index":0,"delta":{"content":"a","reasoning_content":"b","refusal":"c","reasoning_signature":"s"},"finish_reason":"length"}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		checkEventSequence(t, encodeStream(chunksOf(in), nil))
	})
}

func BenchmarkDecodeMessages(b *testing.B) {
	short := `{"model":"m","max_tokens":1024,"system":[{"type":"text","text":"You are terse."}],"messages":[{"role":"user","content":[{"type":"text","text":"Write twenty words about the sea."}]}],` +
		`"tools":[{"name":"get_weather","description":"Weather now","input_schema":{"type":"object","properties":{"location":{"type":"string"}}}}]}`
	for _, c := range []struct {
		name string
		body []byte
	}{
		{"claude-code", readFile(b, "inbound_request.json")},
		{"short", []byte(short)},
		{"agent-110kB", corpus.AgentMessages(200)}, // a late request of a coding agent's session: tool results of code
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, bad := anthropic.CheckEnvelope(c.body, false); bad != nil {
					b.Fatal(bad)
				}
				if _, err := anthropic.DecodeMessages(c.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkStreamEncoderEvent(b *testing.B) {
	chunks := chunksOf(readFile(b, "inbound_stream_chunks.jsonl"))
	events := 0
	b.ReportAllocs()
	for b.Loop() {
		enc := anthropic.NewStreamEncoder("m")
		events = 0
		for _, ch := range chunks {
			events += len(enc.Chunk(ch))
		}
		events += len(enc.End(nil))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(events), "ns/event")
	_ = fmt.Sprint(events)
}

// Claude Code sends system messages inside the list (after the first user
// turn); they stay where they are, as system messages.
func TestSystemMessageInTheList(t *testing.T) {
	body := `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"},{"role":"system","content":[{"type":"text","text":"Agents: a, b"}]},{"role":"user","content":"go"}]}`
	if _, e := anthropic.CheckEnvelope([]byte(body), false); e != nil {
		t.Fatalf("refused: %v", e)
	}
	d, err := anthropic.DecodeMessages([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	var roles []string
	for _, m := range d.Request.Messages {
		roles = append(roles, m.Role+":"+m.Content.String())
	}
	if got := strings.Join(roles, "|"); got != "user:hi|system:Agents: a, b|user:go" {
		t.Errorf("messages %s", got)
	}
}

// Structured outputs as anthropic-sdk-go's and anthropic-python's parse
// send them (output_config.format) become response_format json_schema,
// strict when the schema allows; the beta's output_format too.
func TestDecodeMessagesStructuredOutput(t *testing.T) {
	d, err := anthropic.DecodeMessages(readFile(t, "inbound_structured.json"))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := openai.Marshal(d.Request)
	golden.Check(t, "inbound_structured.golden.json", golden.IndentJSON(t, out))
	base := `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],`
	for _, tc := range []struct{ body, want string }{
		{`"output_format":{"type":"json_schema","schema":{"type":"object","properties":{"a":{"type":"string"}}}}}`, `{"type":"json_schema","json_schema":{"name":"output","schema":{"type":"object","properties":{"a":{"type":"string"}}}}}`},
		{`"output_config":{"effort":"high"}}`, ``},
	} {
		d, err := anthropic.DecodeMessages([]byte(base + tc.body))
		if err != nil || string(d.Request.ResponseFormat) != tc.want {
			t.Errorf("%s: %v %s", tc.body, err, d.Request.ResponseFormat)
		}
	}
	for _, bad := range []string{
		`"output_config":{"format":{"type":"json_object"}}}`,
		`"output_config":{"format":{"type":"json_schema","schema":[1]}}}`,
		`"output_format":{"type":"json_schema"}}`,
		`"output_config":{"FORMAT":{"type":"json_schema","schema":{"type":"object"}}}}`, // case variants: refused, never bound unseen
		`"output_config":{"format":{"Type":"json_schema","schema":{"type":"object"}}}}`,
	} {
		_, err := anthropic.DecodeMessages([]byte(base + bad))
		var ae *openai.APIError
		if !errors.As(err, &ae) || ae.Status != 400 || !strings.HasPrefix(ae.Param, "output_") {
			t.Errorf("%s: got %v, want a 400 naming the member", bad, err)
		}
	}
}
