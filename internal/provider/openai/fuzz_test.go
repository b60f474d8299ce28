package openai_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/llmbridge/llmbridge/internal/openai"
	prov "github.com/llmbridge/llmbridge/internal/provider/openai"
	"github.com/llmbridge/llmbridge/providertest"
)

// FuzzDecodeError: any error body yields an APIError with the status and a
// message, and never the provider key.
func FuzzDecodeError(f *testing.F) {
	f.Add(429, []byte(`{"error":{"message":"x","type":"t","param":null,"code":"c"}}`))
	f.Add(400, []byte(`[{"error":{"code":400,"message":"m","status":"INVALID_ARGUMENT"}}]`))
	f.Add(500, []byte(`{"error":"sk-fuzz-key-123 leaked"}`))
	f.Add(502, []byte("<html>"))
	p := prov.New(prov.Config{Name: "x", BaseURL: "http://127.0.0.1:1", APIKey: "sk-fuzz-key-123"})
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		status = 400 + (status%200+200)%200
		e := p.DecodeError(&http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body))}).(*openai.APIError)
		if e.Status != status || e.Message == "" || e.Type == "" {
			t.Fatalf("%+v", e)
		}
		if bytes.Contains([]byte(e.Message+e.Param+e.Code+e.Type), []byte("sk-fuzz-key-123")) {
			t.Fatalf("provider key in error: %+v", e)
		}
	})
}

// FuzzDecodeStream: any stream body ends (with or without error), never
// panics, and closes the body once.
func FuzzDecodeStream(f *testing.F) {
	f.Add([]byte("data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\ndata: [DONE]\n\n"))
	f.Add([]byte("data: {\"error\":{\"message\":\"boom\"}}\n\n"))
	f.Add([]byte(": keep-alive\r\n\r\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":1}}\r\n\r\n"))
	p := prov.New(prov.Config{Name: "x", BaseURL: "http://127.0.0.1:1"})
	c := prov.NewCompat(prov.Config{Name: "g", BaseURL: "http://127.0.0.1:1"})
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, dec := range []func(*http.Response) func(func(*openai.ChatChunk, error) bool){
			func(r *http.Response) func(func(*openai.ChatChunk, error) bool) { return p.DecodeStream(r) },
			func(r *http.Response) func(func(*openai.ChatChunk, error) bool) { return c.DecodeStream(r) },
		} {
			b := providertest.NewCountingBody(bytes.NewReader(body))
			for range dec(&http.Response{StatusCode: 200, Body: b}) {
			}
			if b.Closes() != 1 {
				t.Fatalf("closed %d times", b.Closes())
			}
		}
	})
}
