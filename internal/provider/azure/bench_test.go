package azure_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/llmbridge/llmbridge/internal/provider/azure"
	"github.com/llmbridge/llmbridge/internal/provider/endpoint"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

const benchBody = `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is the capital of France? Answer in one word."}],"temperature":0.2}`

// The per-request cost of the pass-through: the model and the usage
// option set in the client's body, the deployment URL, the headers.
func BenchmarkAzureNewRawRequest(b *testing.B) {
	p := azure.New(azure.Config{Config: endpoint.Config{Name: "azure", BaseURL: "https://r.openai.azure.com", APIKey: "k"},
		Deployments: map[string]string{"gpt-4o-mini": "prod"}})
	body := []byte(benchBody)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.NewRawRequest(context.Background(), body, "gpt-4o-mini", true); err != nil {
			b.Fatal(err)
		}
	}
}

// streamBody is a recorded Azure stream of n content events (plus the
// prompt filter, role, finish and usage chunks).
func streamBody(b *testing.B, f testupstream.Flavor, n int) []byte {
	up := testupstream.New(b, f)
	content := make([]string, n)
	for i := range content {
		content[i] = "word "
	}
	up.SetDefault(testupstream.Reply{Content: content, Usage: testupstream.Usage{Prompt: 10, Completion: n}})
	req, _ := http.NewRequest("POST", up.URL+"/openai/deployments/m/chat/completions?api-version=2024-10-21", bytes.NewReader([]byte(benchBody)))
	req.Header.Set("Api-Key", up.Key)
	if f == testupstream.OpenAI {
		req, _ = http.NewRequest("POST", up.URL+"/v1/chat/completions", bytes.NewReader([]byte(benchBody)))
		req.Header.Set("Authorization", "Bearer "+up.Key)
	}
	resp, err := up.Client().Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return out
}

// The per-event cost of decoding a stream into chunks (in-process callers
// and non-chat clients; chat clients get the bytes relayed), Azure's and,
// for comparison, OpenAI's own (the same chunks without the content
// filter members).
func BenchmarkAzureDecodeStream(b *testing.B) {
	b.Run("azure", func(b *testing.B) { benchDecode(b, testupstream.Azure) })
	b.Run("openai-baseline", func(b *testing.B) { benchDecode(b, testupstream.OpenAI) })
}

func benchDecode(b *testing.B, f testupstream.Flavor) {
	const events = 100
	raw := streamBody(b, f, events)
	p := azure.New(azure.Config{Config: endpoint.Config{Name: "azure", BaseURL: "https://r.openai.azure.com", APIKey: "k"}})
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		resp := &http.Response{StatusCode: 200, Body: io.NopCloser(bytes.NewReader(raw))}
		n := 0
		for ch, err := range p.DecodeStream(resp) {
			if err != nil {
				b.Fatal(err)
			}
			_ = ch
			n++
		}
		if n < events {
			b.Fatalf("%d chunks", n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/events, "ns/event")
}
