// Command embed-in-mux mounts the bridge under /v1/ in an existing
// ServeMux, next to the service's own routes.
package main

import (
	"io"
	"log"
	"net/http"
	"os"

	"github.com/llmbridge/llmbridge"
)

func main() {
	b, err := llmbridge.New(
		llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{APIKey: os.Getenv("OPENAI_API_KEY")})),
		llmbridge.WithAccessKeys(os.Getenv("ACCESS_API_KEYS")),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	mux := http.NewServeMux()
	mux.Handle("/v1/", b.Handler())
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "my service is fine\n")
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", mux))
}
