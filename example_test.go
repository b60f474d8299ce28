package llmbridge_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// The bridge is an http.Handler: mount it and talk OpenAI to it.
func Example() {
	upstream := testupstream.Start(testupstream.OpenAI) // stands in for api.openai.com
	defer upstream.Close()

	b, err := llmbridge.New(
		llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: upstream.BaseURL(), APIKey: upstream.Key})),
		llmbridge.WithAccessKeys("client-key"),
	)
	if err != nil {
		panic(err)
	}
	defer b.Close()
	mux := http.NewServeMux()
	mux.Handle("/v1/", b.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	req, _ := http.NewRequest("POST", srv.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"openai/gpt-4o","messages":[{"role":"user","content":"Hi"}],"stream":true}`))
	req.Header.Set("Authorization", "Bearer client-key")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Header.Get("Content-Type"))
	fmt.Println(strings.Count(string(body), "data: "), "events, last:", strings.TrimSpace(string(body[strings.LastIndex(string(body), "data: "):])))
	// Output:
	// text/event-stream; charset=utf-8
	// 5 events, last: data: [DONE]
}

func ExampleBridge_ChatCompletion() {
	upstream := testupstream.Start(testupstream.DeepSeek)
	defer upstream.Close()
	b, err := llmbridge.New(llmbridge.WithProvider(llmbridge.DeepSeek(llmbridge.ProviderConfig{BaseURL: upstream.BaseURL(), APIKey: upstream.Key})))
	if err != nil {
		panic(err)
	}
	defer b.Close()

	resp, err := b.ChatCompletion(context.Background(), &llmbridge.ChatRequest{
		Model:    "deepseek-chat", // a bare name works when one provider lists it
		Messages: []llmbridge.Message{llmbridge.UserMessage("Hi")},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.Choices[0].Message.Content.String())
	fmt.Println(resp.Usage.PromptTokens, resp.Usage.CompletionTokens)
	// Output:
	// Hello world
	// 9 2
}

func ExampleBridge_ChatCompletionStream() {
	upstream := testupstream.Start(testupstream.OpenAI)
	defer upstream.Close()
	b, err := llmbridge.New(llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: upstream.BaseURL(), APIKey: upstream.Key})))
	if err != nil {
		panic(err)
	}
	defer b.Close()

	req := &llmbridge.ChatRequest{
		Model:         "openai/gpt-4o-mini",
		Messages:      []llmbridge.Message{llmbridge.UserMessage("Hi")},
		StreamOptions: &llmbridge.StreamOptions{IncludeUsage: true},
	}
	for chunk, err := range b.ChatCompletionStream(context.Background(), req) {
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		for _, c := range chunk.Choices {
			if c.Delta.Content != nil {
				fmt.Printf("%q\n", *c.Delta.Content)
			}
		}
		if chunk.Usage != nil {
			fmt.Println("total tokens:", chunk.Usage.TotalTokens)
		}
	}
	// Output:
	// ""
	// "Hello"
	// " world"
	// total tokens: 11
}

func ExampleAPIError() {
	b, _ := llmbridge.New()
	_, err := b.ChatCompletion(context.Background(), &llmbridge.ChatRequest{Model: "nowhere/model", Messages: []llmbridge.Message{llmbridge.UserMessage("Hi")}})
	if e, ok := err.(*llmbridge.APIError); ok {
		fmt.Println(e.Status, e.Code)
	}
	// Output:
	// 404 model_not_found
}
