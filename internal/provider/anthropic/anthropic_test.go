package anthropic_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge/internal/golden"
	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/provider/anthropic"
	"github.com/llmbridge/llmbridge/providertest"
)

func translate(t testing.TB, req *openai.ChatRequest) (*http.Request, []byte, error) {
	p := anthropic.New(anthropic.Config{Name: "anthropic", BaseURL: "https://api.anthropic.com/v1", APIKey: "sk-ant-test"})
	hreq, err := p.NewRequest(t.Context(), req)
	if err != nil {
		return nil, nil, err
	}
	b, _ := io.ReadAll(hreq.Body)
	return hreq, b, nil
}

func TestTranslateRequestGolden(t *testing.T) {
	raw, _ := os.ReadFile("testdata/request_openai.json")
	var req openai.ChatRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		t.Fatal(err)
	}
	hreq, body, err := translate(t, &req)
	if err != nil {
		t.Fatal(err)
	}
	if hreq.URL.String() != "https://api.anthropic.com/v1/messages" || hreq.Header.Get("X-Api-Key") != "sk-ant-test" || hreq.Header.Get("Anthropic-Version") != anthropic.Version {
		t.Errorf("request line/headers: %s %v", hreq.URL, hreq.Header)
	}
	golden.Check(t, "request_anthropic.golden.json", golden.IndentJSON(t, body))
}

// response_format json_schema (a Pydantic model, as openai-python's
// parse sends it) becomes output_config.format with the schema Anthropic
// accepts (constraints moved to descriptions).
func TestTranslateStructuredOutputGolden(t *testing.T) {
	raw, _ := os.ReadFile("testdata/request_structured_openai.json")
	var req openai.ChatRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		t.Fatal(err)
	}
	_, body, err := translate(t, &req)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "request_structured_anthropic.golden.json", golden.IndentJSON(t, body))
	for _, rf := range []string{`{"type":"text"}`, `null`} {
		req.ResponseFormat = json.RawMessage(rf)
		if _, body, err = translate(t, &req); err != nil || bytes.Contains(body, []byte("output_config")) {
			t.Errorf("response_format %s: %v %s", rf, err, body)
		}
	}
}

func TestThinkingDroppedWhenTheSignatureWasLost(t *testing.T) {
	req := openai.ChatRequest{Model: "claude-sonnet-4-5", ReasoningEffort: "low", Messages: []openai.Message{
		{Role: "user", Content: openai.TextContent("weather?")},
		{Role: "assistant", Content: openai.NullContent(), ToolCalls: []openai.ToolCall{{ID: "toolu_1", Type: "function", Function: openai.FunctionCall{Name: "w", Arguments: "{}"}}}},
		{Role: "tool", ToolCallID: "toolu_1", Content: openai.TextContent("sunny")},
	}}
	_, body, err := translate(t, &req)
	if err != nil || bytes.Contains(body, []byte(`"thinking"`)) {
		t.Fatalf("%v %s", err, body)
	}
	req.Messages[1].ReasoningContent = "Let me check."
	req.Messages[1].Extra = map[string]json.RawMessage{anthropic.SignatureField: json.RawMessage(`"sig"`)}
	_, body, _ = translate(t, &req)
	if !bytes.Contains(body, []byte(`"content":[{"type":"thinking","thinking":"Let me check.","signature":"sig"},{"type":"tool_use"`)) ||
		!bytes.Contains(body, []byte(`"thinking":{"type":"enabled","budget_tokens":2048}`)) {
		t.Fatalf("thinking block not restored: %s", body)
	}
}

func TestTranslateRequestErrors(t *testing.T) {
	for name, in := range map[string]string{
		"bad tool arguments": `{"model":"c","messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{not json"}}]}]}`,
		"only system":        `{"model":"c","messages":[{"role":"system","content":"x"}]}`,
		"bad effort":         `{"model":"c","messages":[{"role":"user","content":"x"}],"reasoning_effort":"extreme"}`,
		"file image":         `{"model":"c","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"file:///etc/passwd"}}]}]}`,
		"json_object":        `{"model":"c","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object"}}`,
		"schema not object":  `{"model":"c","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"n","schema":[1]}}}`,
		"no schema":          `{"model":"c","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"n"}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			var req openai.ChatRequest
			if err := json.Unmarshal([]byte(in), &req); err != nil {
				t.Fatal(err)
			}
			_, _, err := translate(t, &req)
			var ae *openai.APIError
			if !errors.As(err, &ae) || ae.Status != 400 {
				t.Fatalf("got %v, want a 400 APIError", err)
			}
		})
	}
}

func sseResponse(t *testing.T, name string) *http.Response {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(b))}
}

func TestDecodeStreamGolden(t *testing.T) {
	p := anthropic.New(anthropic.Config{Name: "anthropic", BaseURL: "https://x/v1"})
	// The chunks are encoded once the stream is over: a consumer may keep
	// them (a recorded stream does), and nothing the decoder does later
	// may change them.
	var chunks []*openai.ChatChunk
	for ch, err := range p.DecodeStream(sseResponse(t, "stream_thinking_tool.sse")) {
		if err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, ch)
	}
	var out bytes.Buffer
	for _, ch := range chunks {
		ch.Created = 0
		b, _ := openai.Marshal(ch)
		out.Write(append(b, '\n'))
	}
	golden.Check(t, "stream_thinking_tool.golden.jsonl", out.Bytes())
}

func TestDecodeResponse(t *testing.T) {
	p := anthropic.New(anthropic.Config{Name: "anthropic", BaseURL: "https://x/v1"})
	body := `{"id":"msg_01Fg","type":"message","role":"assistant","model":"claude-3-opus-20240229","content":[{"type":"thinking","thinking":"hmm","signature":"sig1"},{"type":"text","text":"The capital of France is Paris."},{"type":"tool_use","id":"toolu_01","name":"f","input":{"a":1}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":20,"output_tokens":10,"cache_creation_input_tokens":5,"cache_read_input_tokens":100}}`
	r, err := p.DecodeResponse(&http.Response{Body: io.NopCloser(strings.NewReader(body))})
	if err != nil {
		t.Fatal(err)
	}
	m := r.Choices[0].Message
	if m.Content.String() != "The capital of France is Paris." || m.ReasoningContent != "hmm" || string(m.Extra[anthropic.SignatureField]) != `"sig1"` ||
		m.ToolCalls[0].ID != "toolu_01" || m.ToolCalls[0].Function.Arguments != `{"a":1}` || r.Choices[0].FinishReason != "tool_calls" {
		t.Errorf("message %+v finish %q", m, r.Choices[0].FinishReason)
	}
	if u := r.Usage; u.PromptTokens != 125 || u.CompletionTokens != 10 || u.TotalTokens != 135 || u.CachedTokens() != 100 || u.CacheWriteTokens() != 5 {
		t.Errorf("usage %+v", u)
	}
}

func TestDecodeErrors(t *testing.T) {
	p := anthropic.New(anthropic.Config{Name: "anthropic", BaseURL: "https://x/v1", APIKey: "sk-ant-secret"})
	for _, tc := range []struct {
		status          int
		body, code, typ string
	}{
		{401, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key sk-ant-secret"}}`, "invalid_api_key", "invalid_request_error"},
		{429, `{"type":"error","error":{"type":"rate_limit_error","message":"Number of requests has exceeded your rate limit"}}`, "rate_limit_exceeded", "requests"},
		{529, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, "", "server_error"},
		{502, `<html>bad gateway</html>`, "", "server_error"},
	} {
		e := p.DecodeError(&http.Response{StatusCode: tc.status, Header: http.Header{"Retry-After": {"3"}}, Body: io.NopCloser(strings.NewReader(tc.body))}).(*openai.APIError)
		if e.Status != tc.status || e.Code != tc.code || e.Type != tc.typ || e.RetryAfter != "3" || strings.Contains(e.Message, "sk-ant-secret") {
			t.Errorf("%s: %+v", tc.body, e)
		}
	}
}

func FuzzTranslateRequest(f *testing.F) {
	b, _ := os.ReadFile("testdata/request_openai.json")
	f.Add(b)
	b, _ = os.ReadFile("testdata/request_structured_openai.json")
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		var req openai.ChatRequest
		if json.Unmarshal(in, &req) != nil {
			return
		}
		_, body, err := translate(t, &req)
		if err != nil {
			var ae *openai.APIError
			if !errors.As(err, &ae) || ae.Status != 400 {
				t.Fatalf("error is not a 400 APIError: %v", err)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("invalid JSON: %s", body)
		}
	})
}

func FuzzDecodeStream(f *testing.F) {
	b, _ := os.ReadFile("testdata/stream_thinking_tool.sse")
	f.Add(b)
	p := anthropic.New(anthropic.Config{Name: "anthropic", BaseURL: "https://x/v1"})
	f.Fuzz(func(t *testing.T, body []byte) {
		b := providertest.NewCountingBody(bytes.NewReader(body))
		for range p.DecodeStream(&http.Response{Body: b}) {
		}
		if b.Closes() != 1 {
			t.Fatalf("closed %d times", b.Closes())
		}
	})
}

func BenchmarkTranslateRequest(b *testing.B) {
	raw, _ := os.ReadFile("testdata/request_openai.json")
	var req openai.ChatRequest
	_ = json.Unmarshal(raw, &req)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := translate(b, &req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeStreamEvent(b *testing.B) {
	body, _ := os.ReadFile("testdata/stream_thinking_tool.sse")
	events := bytes.Count(body, []byte("\n\n"))
	p := anthropic.New(anthropic.Config{Name: "anthropic", BaseURL: "https://x/v1"})
	b.ReportAllocs()
	for b.Loop() {
		for _, err := range p.DecodeStream(&http.Response{Body: io.NopCloser(bytes.NewReader(body))}) {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(events), "ns/event")
}

// BenchmarkDecodeTextStream: a chat client's stream from Anthropic, 100
// text deltas between the recorded stream's opening and closing events;
// allocs/event is what one more delta costs, near enough.
func BenchmarkDecodeTextStream(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":30,\"output_tokens\":1}}}\n\n")
	buf.WriteString("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n")
	const deltas = 100
	for range deltas {
		buf.WriteString("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" word\"}}\n\n")
	}
	buf.WriteString("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n")
	buf.WriteString("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":100}}\n\n")
	buf.WriteString("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
	body := buf.Bytes()
	p := anthropic.New(anthropic.Config{Name: "anthropic", BaseURL: "https://x/v1"})
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		for _, err := range p.DecodeStream(&http.Response{Body: io.NopCloser(bytes.NewReader(body))}) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != deltas+3 {
			b.Fatalf("%d chunks", n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/deltas, "ns/event")
}

func TestForcedToolChoiceTurnsThinkingOff(t *testing.T) {
	req := openai.ChatRequest{Model: "claude-sonnet-4-5", ReasoningEffort: "high", ToolChoice: json.RawMessage(`"required"`),
		Tools:    []openai.Tool{{Type: "function", Function: &openai.FunctionDefinition{Name: "f"}}},
		Messages: []openai.Message{{Role: "user", Content: openai.TextContent("x")}}}
	_, body, err := translate(t, &req)
	if err != nil || bytes.Contains(body, []byte(`"thinking"`)) || !bytes.Contains(body, []byte(`"tool_choice":{"type":"any"}`)) {
		t.Fatalf("%v %s", err, body)
	}
}
