// Command proxy sends Gemini through an authenticated SOCKS5 proxy while
// DeepSeek connects directly, and writes one usage line per request.
package main

import (
	"log"
	"net/http"
	"os"

	"github.com/llmbridge/llmbridge"
)

func main() {
	b, err := llmbridge.New(
		llmbridge.WithProvider(
			llmbridge.Gemini(llmbridge.ProviderConfig{APIKey: os.Getenv("GOOGLE_API_KEY")}),
			llmbridge.ViaProxy(os.Getenv("LLMBRIDGE_PROXY")), // e.g. socks5h://user:pass@127.0.0.1:1080
		),
		llmbridge.WithProvider(llmbridge.DeepSeek(llmbridge.ProviderConfig{APIKey: os.Getenv("DEEPSEEK_API_KEY")})),
		llmbridge.WithAccessKeys(os.Getenv("ACCESS_API_KEYS")),
		llmbridge.WithUsageSink(func(r llmbridge.UsageRecord) {
			log.Printf("%s %s %d tokens (estimated=%v) in %v", r.RequestID, r.Model, r.TotalTokens, r.Estimated, r.Duration)
		}),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	log.Fatal(http.ListenAndServe("127.0.0.1:1219", b))
}
