// Command basic serves OpenAI and DeepSeek behind one access key on
// 127.0.0.1:1219, configured from the environment.
package main

import (
	"log"
	"net/http"
	"os"

	"github.com/llmbridge/llmbridge"
)

func main() {
	b, err := llmbridge.New(
		llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{APIKey: os.Getenv("OPENAI_API_KEY")})),
		llmbridge.WithProvider(llmbridge.DeepSeek(llmbridge.ProviderConfig{APIKey: os.Getenv("DEEPSEEK_API_KEY")})),
		llmbridge.WithAccessKeys(os.Getenv("ACCESS_API_KEYS")),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	log.Fatal(http.ListenAndServe("127.0.0.1:1219", b))
}
