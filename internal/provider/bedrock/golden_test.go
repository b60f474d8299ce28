package bedrock_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge/internal/golden"
	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/provider/bedrock"
)

// The Converse body for a request using every translated member: system
// and developer messages, an image, a blank text part (left out), an
// assistant turn with signed reasoning, text and two tool calls (one
// without arguments), their results merged into one user turn, user turns
// merged, tools, tool_choice, sampling, stop, and reasoning_effort on a
// Claude model (a thinking budget; temperature and top_p dropped, as
// thinking requires).
func TestRequestGolden(t *testing.T) {
	raw, err := os.ReadFile("testdata/request_openai.json")
	if err != nil {
		t.Fatal(err)
	}
	var req openai.ChatRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		t.Fatal(err)
	}
	p := bedrock.New(bedrock.Config{Name: "bedrock", Region: "us-east-1", APIKey: "k"})
	hreq, err := p.NewRequest(context.Background(), &req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(hreq.Body)
	golden.Check(t, "request_bedrock.golden.json", golden.IndentJSON(t, body))
	if got := hreq.URL.String(); got != "https://bedrock-runtime.us-east-1.amazonaws.com/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream" {
		t.Errorf("URL %s", got)
	}
}

// The OpenAI chunks for a recorded-shape ConverseStream answer with
// reasoning, text and a tool call (testdata/stream_tool.frames.jsonl:
// one {"type","payload"} line per event-stream message).
func TestStreamGolden(t *testing.T) {
	raw, err := os.ReadFile("testdata/stream_tool.frames.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	dec := json.NewDecoder(bytes.NewReader(raw))
	for dec.More() {
		var f struct {
			Type    string          `json:"type"`
			Payload json.RawMessage `json:"payload"`
		}
		if err := dec.Decode(&f); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, "event", f.Type, string(f.Payload))
	}
	p := bedrock.New(bedrock.Config{Name: "bedrock", Region: "us-east-1", APIKey: "k"})
	resp := &http.Response{StatusCode: 200, Header: http.Header{"X-Amzn-Requestid": {"a1b2"}}, Body: io.NopCloser(bytes.NewReader(frames(parts...)))}
	var out bytes.Buffer
	for ch, err := range p.DecodeStream(resp) {
		if err != nil {
			t.Fatal(err)
		}
		ch.Created = 0
		b, _ := json.Marshal(ch)
		out.Write(append(b, '\n'))
	}
	golden.Check(t, "stream_tool.golden.jsonl", out.Bytes())
}

// bodyOf is the Converse body NewRequest builds for the request JSON, or
// its error.
func bodyOf(t *testing.T, reqJSON string) (string, error) {
	t.Helper()
	var req openai.ChatRequest
	if err := json.Unmarshal([]byte(reqJSON), &req); err != nil {
		t.Fatal(err)
	}
	p := bedrock.New(bedrock.Config{Name: "bedrock", Region: "us-east-1", APIKey: "k"})
	hreq, err := p.NewRequest(context.Background(), &req)
	if err != nil {
		return "", err
	}
	b, _ := io.ReadAll(hreq.Body)
	return string(b), nil
}

// tool_choice maps to Converse's toolChoice; "none" drops the tools
// unless the history needs toolConfig.
func TestToolChoice(t *testing.T) {
	const tools = `"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]`
	const hi = `"messages":[{"role":"user","content":"hi"}]`
	const history = `"messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"id":"t1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"t1","content":"ok"}]`
	for _, tt := range []struct{ req, want, not string }{
		{`{"model":"m",` + hi + `,` + tools + `,"tool_choice":"required"}`, `"toolChoice":{"any":{}}`, ""},
		{`{"model":"m",` + hi + `,` + tools + `,"tool_choice":{"type":"function","function":{"name":"f"}}}`, `"toolChoice":{"tool":{"name":"f"}}`, ""},
		{`{"model":"m",` + hi + `,` + tools + `,"tool_choice":"auto"}`, `"toolConfig":{"tools":[{"toolSpec":{"name":"f"`, "toolChoice"},
		{`{"model":"m",` + hi + `,` + tools + `,"tool_choice":"none"}`, `"messages"`, "toolConfig"},
		{`{"model":"m",` + history + `,` + tools + `,"tool_choice":"none"}`, `"toolConfig":{"tools"`, "toolChoice"},
	} {
		body, err := bodyOf(t, tt.req)
		if err != nil || !strings.Contains(body, tt.want) || (tt.not != "" && strings.Contains(body, tt.not)) {
			t.Errorf("%s\n→ %s %v", tt.req, body, err)
		}
	}
}

// Input Converse cannot take is a 400 naming the member, before anything
// is sent.
func TestBadInput(t *testing.T) {
	img := func(url string) string {
		return `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"` + url + `"}}]}]}`
	}
	for _, tt := range []struct{ req, param string }{
		{img("https://example.com/cat.png"), "messages[0].content[0].image_url.url"},
		{img("data:image/png;base64,not base64!"), "messages[0].content[0].image_url.url"},
		{img("data:image/bmp;base64,Qk0="), "messages[0].content[0].image_url.url"},
		{`{"model":"m","messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"f"}}]}]}`, "messages[0].content[0].type"},
		{`{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"id":"t","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`, "messages[1].tool_calls[0].function.arguments"},
		{`{"model":"m","messages":[{"role":"critic","content":"hi"}]}`, "messages[0].role"},
		{`{"model":"m","messages":[{"role":"system","content":"only this"}]}`, "messages"},
		{`{"model":"m","messages":[{"role":"tool","content":"no id"}]}`, "messages[0].tool_call_id"},
		{`{"model":"anthropic.claude-x","messages":[{"role":"user","content":"hi"}],"reasoning_effort":"extreme"}`, "reasoning_effort"},
		{`{"model":"","messages":[{"role":"user","content":"hi"}]}`, "model"},
	} {
		_, err := bodyOf(t, tt.req)
		var ae *openai.APIError
		if !errors.As(err, &ae) || ae.Status != 400 || ae.Param != tt.param {
			t.Errorf("%s: %v", tt.req, err)
		}
	}
}
