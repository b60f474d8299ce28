// Command in-process calls a provider through the bridge without HTTP in
// between: same routing, retries and error mapping as the handler.
package main

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/llmbridge/llmbridge"
)

func main() {
	b, err := llmbridge.New(llmbridge.WithProvider(llmbridge.DeepSeek(llmbridge.ProviderConfig{APIKey: os.Getenv("DEEPSEEK_API_KEY")})))
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	req := &llmbridge.ChatRequest{
		Model:    "deepseek/deepseek-chat",
		Messages: []llmbridge.Message{llmbridge.UserMessage("Say hello in three languages.")},
	}
	for chunk, err := range b.ChatCompletionStream(context.Background(), req) {
		if err != nil {
			log.Fatal(err)
		}
		for _, c := range chunk.Choices {
			if c.Delta.Content != nil {
				fmt.Print(*c.Delta.Content)
			}
		}
	}
	fmt.Println()
}
