package openai_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge/internal/openai"
	prov "github.com/llmbridge/llmbridge/internal/provider/openai"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

func TestRewriteBody(t *testing.T) {
	tests := []struct {
		in     string
		stream bool
		want   string
	}{
		{`{"model":"p/m","messages":[]}`, false, `{"model":"m","messages":[]}`},
		{`{"model":"p/m","stream":true}`, true, `{"model":"m","stream":true,"stream_options":{"include_usage":true}}`},
		{`{"model":"p/m","stream_options":null}`, true, `{"model":"m","stream_options":{"include_usage":true}}`},
		{`{"model":"p/m","stream_options":{"include_obfuscation":false,"include_usage":false}}`, true, `{"model":"m","stream_options":{"include_obfuscation":false,"include_usage":true}}`},
		{`{ "x" : 1.50, "model" : "p/m" }`, false, `{ "x" : 1.50, "model" : "m" }`},
	}
	for _, tt := range tests {
		got, err := prov.RewriteBody([]byte(tt.in), "m", tt.stream)
		if err != nil || string(got) != tt.want {
			t.Errorf("RewriteBody(%s) = %s %v, want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestDecodeErrorShapes(t *testing.T) {
	p := prov.New(prov.Config{Name: "x", BaseURL: "http://127.0.0.1:1", APIKey: "sk-secret-provider-key"})
	tests := []struct {
		name, body            string
		status                int
		msg, typ, code, param string
	}{
		{"openai", `{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}`, 429, "Rate limit reached", "requests", "rate_limit_exceeded", ""},
		{"deepseek 402", `{"error":{"message":"Insufficient Balance","type":"unknown_error","param":null,"code":"invalid_request_error"}}`, 402, "Insufficient Balance", "unknown_error", "invalid_request_error", ""},
		{"google object", `{"error":{"code":400,"message":"Invalid JSON payload","status":"INVALID_ARGUMENT"}}`, 400, "Invalid JSON payload", "INVALID_ARGUMENT", "400", ""},
		{"google array", `[{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}]`, 429, "Quota exceeded", "RESOURCE_EXHAUSTED", "429", ""},
		{"string error", `{"error":"model overloaded"}`, 503, "model overloaded", "upstream_error", "", ""},
		{"message only", `{"message":"bad things"}`, 400, "bad things", "invalid_request_error", "", ""},
		{"html", `<html><body>502 Bad Gateway</body></html>`, 502, "upstream x returned HTTP 502: <html><body>502 Bad Gateway</body></html>", "upstream_error", "", ""},
		{"empty", ``, 500, "upstream x returned HTTP 500: Internal Server Error", "upstream_error", "", ""},
		{"key echoed back is redacted", `{"error":{"message":"Incorrect API key provided: sk-secret-provider-key","type":"invalid_request_error","code":"invalid_api_key","param":null}}`, 401, "Incorrect API key provided: [redacted]", "invalid_request_error", "invalid_api_key", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tt.status, Header: http.Header{}, Body: http.NoBody}
			resp.Body = readCloser(tt.body)
			e := p.DecodeError(resp).(*openai.APIError)
			if e.Status != tt.status || e.Message != tt.msg || e.Type != tt.typ || e.Code != tt.code || e.Param != tt.param {
				t.Errorf("got %+v", e)
			}
		})
	}
}

func readCloser(s string) *body { return &body{strings.NewReader(s)} }

type body struct{ *strings.Reader }

func (body) Close() error { return nil }

func TestCompatRepairsToolCalls(t *testing.T) {
	up := testupstream.New(t, testupstream.GeminiCompat)
	up.Enqueue(testupstream.Reply{ToolCalls: []testupstream.ToolCall{{Name: "a", Args: []string{`{"x":1}`}}, {Name: "b", Args: []string{`{}`}}}})
	up.Enqueue(testupstream.Reply{ToolCalls: []testupstream.ToolCall{{Name: "a", Args: []string{`{}`}}}})
	c := prov.NewCompat(prov.Config{Name: "gemini", BaseURL: up.BaseURL() + "/openai", APIKey: up.Key})
	req := &openai.ChatRequest{Model: "gemini-3-pro", Stream: true, Messages: []openai.Message{{Role: "user", Content: openai.TextContent("hi")}}}
	hreq, _ := c.NewRequest(t.Context(), req)
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	var indexes []int
	finish := ""
	for ch, err := range c.DecodeStream(resp) {
		if err != nil {
			t.Fatal(err)
		}
		for _, choice := range ch.Choices {
			for _, tc := range choice.Delta.ToolCalls {
				if tc.Index == nil || tc.ID == "" {
					t.Fatalf("tool call without index or id: %+v", tc)
				}
				indexes = append(indexes, *tc.Index)
			}
			if choice.FinishReason != nil {
				finish = *choice.FinishReason
			}
		}
	}
	if len(indexes) != 2 || indexes[0] != 0 || indexes[1] != 1 || finish != "tool_calls" {
		t.Errorf("indexes %v finish %q", indexes, finish)
	}
	req.Stream = false
	hreq, _ = c.NewRequest(t.Context(), req)
	resp, err = http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.DecodeResponse(resp)
	if err != nil {
		t.Fatal(err)
	}
	if id := out.Choices[0].Message.ToolCalls[0].ID; id == "" {
		t.Error("empty tool-call id not filled")
	}
	var sent map[string]json.RawMessage
	_ = json.Unmarshal(up.Requests()[0].Body, &sent)
	if string(sent["stream_options"]) != `{"include_usage":true}` {
		t.Errorf("stream usage not requested: %s", sent["stream_options"])
	}
}

// Gemini's compatibility endpoint answers errors in Google's shape; an
// OpenAI client gets OpenAI's code for the status.
func TestCompatErrorsGetOpenAICodes(t *testing.T) {
	c := prov.NewCompat(prov.Config{Name: "gemini", BaseURL: "http://127.0.0.1:1"})
	for _, tc := range []struct {
		status     int
		body, code string
	}{
		{429, `[{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}]`, "rate_limit_exceeded"},
		{401, `{"error":{"code":401,"message":"no","status":"UNAUTHENTICATED"}}`, "invalid_api_key"},
		{400, `{"error":{"message":"bad","type":"invalid_request_error","code":"bad_thing"}}`, "bad_thing"}, // OpenAI's shape stays
	} {
		var e *openai.APIError
		err := c.DecodeError(&http.Response{StatusCode: tc.status, Header: http.Header{"Retry-After": {"2"}}, Body: readCloser(tc.body)})
		if !errors.As(err, &e) || e.Code != tc.code || e.Status != tc.status || e.RetryAfter != "2" || e.Message == "" {
			t.Errorf("%s: %+v", tc.body, e)
		}
	}
}
