package bedrock_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/provider/bedrock"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// benchRequest is a typical agent turn: a system prompt, a user message,
// an assistant tool call, its result and two tools.
func benchRequest(b *testing.B) *openai.ChatRequest {
	var req openai.ChatRequest
	err := json.Unmarshal([]byte(`{"model":"us.anthropic.claude-3-5-haiku-20241022-v1:0","max_tokens":1024,"temperature":0.2,
	"messages":[{"role":"system","content":"You are a careful assistant that answers briefly."},
	{"role":"user","content":"What is the weather in Paris and what time is it?"},
	{"role":"assistant","content":null,"tool_calls":[{"id":"tooluse_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
	{"role":"tool","tool_call_id":"tooluse_1","content":"18°C, sunny"}],
	"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather by city","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}},
	{"type":"function","function":{"name":"clock","parameters":{"type":"object","properties":{}}}}]}`), &req)
	if err != nil {
		b.Fatal(err)
	}
	return &req
}

// BenchmarkNewRequest is the per-request cost: translation alone (API
// key) and translation plus SigV4 signing (cached credentials).
func BenchmarkNewRequest(b *testing.B) {
	for _, tt := range []struct {
		name string
		cfg  bedrock.Config
	}{
		{"apikey", bedrock.Config{Name: "bedrock", Region: "us-east-1", APIKey: "k"}},
		{"sigv4", bedrock.Config{Name: "bedrock", Region: "us-east-1", Credentials: staticCreds(testupstream.BedrockSecretKey)}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			p := bedrock.New(tt.cfg)
			req := benchRequest(b)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.NewRequest(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeResponse is the per-response cost of a non-streamed
// answer with text and a tool call.
func BenchmarkDecodeResponse(b *testing.B) {
	p := bedrock.New(bedrock.Config{Name: "bedrock", Region: "us-east-1", APIKey: "k"})
	body := []byte(`{"output":{"message":{"role":"assistant","content":[{"text":"Let me check the weather for you."},{"toolUse":{"toolUseId":"tooluse_1","name":"get_weather","input":{"city":"Paris"}}}]}},"stopReason":"tool_use","usage":{"inputTokens":420,"outputTokens":38,"totalTokens":458,"cacheReadInputTokens":0,"cacheWriteInputTokens":0},"metrics":{"latencyMs":512}}`)
	u, _ := url.Parse("https://bedrock-runtime.us-east-1.amazonaws.com/model/us.anthropic.claude-3-5-haiku-20241022-v1%3A0/converse")
	b.ReportAllocs()
	for b.Loop() {
		resp := &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body)), Request: &http.Request{URL: u}}
		if _, err := p.DecodeResponse(resp); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamEvent is the per-event cost of ConverseStream: frame
// reading (both CRCs), header and JSON decoding and the chunk, over a
// stream of 200 text deltas; ns/event is reported.
func BenchmarkStreamEvent(b *testing.B) {
	const n = 200
	parts := []string{"event", "messageStart", `{"role":"assistant","p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123"}`}
	for i := range n {
		parts = append(parts, "event", "contentBlockDelta", fmt.Sprintf(`{"contentBlockIndex":0,"delta":{"text":"token %d "},"p":"abcdefghijklmnopqrstuvwxyzABCDEF"}`, i))
	}
	parts = append(parts, "event", "contentBlockStop", `{"contentBlockIndex":0}`, "event", "messageStop", `{"stopReason":"end_turn"}`,
		"event", "metadata", `{"usage":{"inputTokens":10,"outputTokens":200,"totalTokens":210},"metrics":{"latencyMs":900}}`)
	body := frames(parts...)
	p := bedrock.New(bedrock.Config{Name: "bedrock", Region: "us-east-1", APIKey: "k"})
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	events := 0
	for b.Loop() {
		resp := &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body))}
		for _, err := range p.DecodeStream(resp) {
			if err != nil {
				b.Fatal(err)
			}
		}
		events += n + 5
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
}
