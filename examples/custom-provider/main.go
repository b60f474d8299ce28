// Command custom-provider plugs a Provider of its own into the bridge: an
// "echo" upstream that answers with the last user message, built on a tiny
// JSON API served in the same process. Real adapters translate to another
// vendor's wire format the same way.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/llmbridge/llmbridge"
)

// echoProvider speaks a made-up API: POST {"text": "..."} → {"reply": "..."}.
type echoProvider struct{ baseURL string }

func (p *echoProvider) Name() string     { return "echo" }
func (p *echoProvider) Models() []string { return []string{"parrot"} }

func (p *echoProvider) NewRequest(ctx context.Context, req *llmbridge.ChatRequest) (*http.Request, error) {
	last := req.Messages[len(req.Messages)-1].Content.String()
	body, _ := json.Marshal(map[string]string{"text": last})
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, p.baseURL+"/echo", strings.NewReader(string(body)))
	if err != nil {
		return nil, err
	}
	r.Header.Set("Content-Type", "application/json")
	return r, nil
}

func (p *echoProvider) DecodeResponse(resp *http.Response) (*llmbridge.ChatResponse, error) {
	defer resp.Body.Close()
	var out struct{ Reply string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	return &llmbridge.ChatResponse{ID: "echo-1", Object: "chat.completion", Model: "parrot",
		Choices: []llmbridge.Choice{{Message: llmbridge.Message{Role: "assistant", Content: llmbridge.TextContent(out.Reply)}, FinishReason: "stop"}}}, nil
}

func (p *echoProvider) DecodeStream(resp *http.Response) iter.Seq2[*llmbridge.ChatChunk, error] {
	return func(yield func(*llmbridge.ChatChunk, error) bool) {
		full, err := p.DecodeResponse(resp) // closes the body
		if err != nil {
			yield(nil, err)
			return
		}
		text, stop := full.Choices[0].Message.Content.String(), "stop"
		yield(&llmbridge.ChatChunk{ID: full.ID, Object: "chat.completion.chunk", Model: full.Model,
			Choices: []llmbridge.ChunkChoice{{Delta: llmbridge.Delta{Role: "assistant", Content: &text}, FinishReason: &stop}}}, nil)
	}
}

func (p *echoProvider) DecodeError(resp *http.Response) error {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	return &llmbridge.APIError{Status: resp.StatusCode, Type: llmbridge.ErrorTypeUpstream, Message: "echo: " + string(b)}
}

func main() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Text string }
		json.NewDecoder(r.Body).Decode(&in)
		json.NewEncoder(w).Encode(map[string]string{"reply": "You said: " + in.Text})
	}))
	defer api.Close()

	b, err := llmbridge.New(llmbridge.WithProvider(&echoProvider{baseURL: api.URL}))
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	resp, err := b.ChatCompletion(context.Background(), &llmbridge.ChatRequest{
		Model: "echo/parrot", Messages: []llmbridge.Message{llmbridge.UserMessage("hello")}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Choices[0].Message.Content.String())
}
