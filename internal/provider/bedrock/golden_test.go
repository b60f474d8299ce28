package bedrock_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
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
