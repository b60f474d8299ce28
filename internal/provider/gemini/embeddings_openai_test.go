package gemini_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/provider/gemini"
)

// The body-level methods the bridge's Embedder interface calls: the
// upstream model replaces the client's, token arrays are a 400 before
// anything is sent, and usage is the sum of count over the texts.
func TestOpenAIEmbeddingsMethods(t *testing.T) {
	p := gemini.New(gemini.Config{Name: "gemini", BaseURL: "https://g.example/v1beta", APIKey: "AIza-k"})
	body := []byte(`{"model":"gemini/gemini-embedding-001","input":["ab","cde"],"dimensions":2}`)
	req, err := p.NewOpenAIEmbeddingsRequest(context.Background(), body, "gemini-embedding-001")
	if err != nil {
		t.Fatal(err)
	}
	sent, _ := io.ReadAll(req.Body)
	if req.URL.String() != "https://g.example/v1beta/models/gemini-embedding-001:batchEmbedContents" || !strings.Contains(string(sent), `"model":"models/gemini-embedding-001"`) {
		t.Errorf("%s %s", req.URL, sent)
	}
	_, err = p.NewOpenAIEmbeddingsRequest(context.Background(), []byte(`{"model":"m","input":[[1,2]]}`), "m")
	var ae *openai.APIError
	if !errors.As(err, &ae) || ae.Status != 400 || ae.Param != "input[0]" {
		t.Errorf("token arrays: %v", err)
	}
	resp := &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(`{"embeddings":[{"values":[0.5,0.25]},{"values":[1,0]}]}`))}
	out, err := p.DecodeOpenAIEmbeddings(resp, body, "gemini-embedding-001", func(s string) int { return len(s) })
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,0.25]},{"object":"embedding","index":1,"embedding":[1,0]}],"model":"gemini-embedding-001","usage":{"prompt_tokens":5,"total_tokens":5}}`
	if string(out) != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
}
