package testupstream

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// PriceSource is a fake price list server, as a raw file host serves
// LiteLLM's model_prices_and_context_window.json or models.dev's
// api.json: GET answers the body it holds with an ETag (of the body) and
// Last-Modified, 304 to a request whose If-None-Match names the ETag, and
// a fault status on demand.
type PriceSource struct {
	*httptest.Server

	mu       sync.Mutex
	body     []byte
	modified time.Time
	status   int // answer every request with it; 0: serve the body
	requests []http.Header
}

// NewPriceSource starts a source serving body, last modified at modified,
// closed with the test.
func NewPriceSource(t testing.TB, body string, modified time.Time) *PriceSource {
	p := &PriceSource{body: []byte(body), modified: modified}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.Close)
	return p
}

// Set replaces the list and its date.
func (p *PriceSource) Set(body string, modified time.Time) {
	p.mu.Lock()
	p.body, p.modified = []byte(body), modified
	p.mu.Unlock()
}

// Fail answers every request with status (0 serves the list again).
func (p *PriceSource) Fail(status int) { p.mu.Lock(); p.status = status; p.mu.Unlock() }

// Requests returns the headers of the requests received.
func (p *PriceSource) Requests() []http.Header {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]http.Header(nil), p.requests...)
}

func (p *PriceSource) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.requests = append(p.requests, r.Header.Clone())
	body, modified, status := p.body, p.modified, p.status
	p.mu.Unlock()
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if status != 0 {
		http.Error(w, http.StatusText(status), status)
		return
	}
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Last-Modified", modified.UTC().Format(http.TimeFormat))
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// LiteLLMPrices is a price list in LiteLLM's format (USD per token), as
// its model_prices_and_context_window.json writes entries: a sample_spec
// of strings, chat models of several providers (Gemini's and DeepSeek's
// names prefixed by their provider), a long-context tier, cache prices,
// an image model priced per image only.
const LiteLLMPrices = `{
  "sample_spec": {"max_tokens": "LEGACY parameter. set to max_output_tokens if provider specifies it.", "input_cost_per_token": 0.0, "output_cost_per_token": 0.0, "litellm_provider": "one of https://docs.litellm.ai/docs/providers", "mode": "one of: chat, embedding, completion, image_generation, audio_transcription, audio_speech, image_generation, moderation, rerank"},
  "gpt-4o": {"max_tokens": 16384, "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05, "cache_read_input_token_cost": 1.25e-06, "litellm_provider": "openai", "mode": "chat"},
  "gpt-4o-mini": {"input_cost_per_token": 1.5e-07, "output_cost_per_token": 6e-07, "cache_read_input_token_cost": 7.5e-08, "litellm_provider": "openai", "mode": "chat"},
  "o3": {"input_cost_per_token": 2e-06, "output_cost_per_token": 8e-06, "cache_read_input_token_cost": 5e-07, "litellm_provider": "openai", "mode": "chat"},
  "text-embedding-3-small": {"input_cost_per_token": 2e-08, "output_cost_per_token": 0.0, "litellm_provider": "openai", "mode": "embedding"},
  "claude-sonnet-4-5": {"input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05, "cache_creation_input_token_cost": 3.75e-06, "cache_read_input_token_cost": 3e-07, "litellm_provider": "anthropic", "mode": "chat"},
  "claude-haiku-4-5": {"input_cost_per_token": 1e-06, "output_cost_per_token": 5e-06, "litellm_provider": "anthropic", "mode": "chat"},
  "gemini/gemini-2.5-pro": {"input_cost_per_token": 1.25e-06, "input_cost_per_token_above_200k_tokens": 2.5e-06, "output_cost_per_token": 1e-05, "output_cost_per_token_above_200k_tokens": 1.5e-05, "cache_read_input_token_cost": 1.25e-07, "litellm_provider": "gemini", "mode": "chat"},
  "gemini/gemini-2.5-flash": {"input_cost_per_token": 3e-07, "output_cost_per_token": 2.5e-06, "output_cost_per_reasoning_token": 2.5e-06, "litellm_provider": "gemini", "mode": "chat"},
  "deepseek/deepseek-chat": {"input_cost_per_token": 2.8e-07, "output_cost_per_token": 4.2e-07, "cache_read_input_token_cost": 2.8e-08, "litellm_provider": "deepseek", "mode": "chat"},
  "deepseek/deepseek-reasoner": {"input_cost_per_token": 2.8e-07, "output_cost_per_token": 4.2e-07, "litellm_provider": "deepseek", "mode": "chat"},
  "dall-e-3": {"output_cost_per_image": 0.04, "litellm_provider": "openai", "mode": "image_generation"}
}`

// ModelsDevPrices is a price list in models.dev's api.json format
// (providers → models → cost in USD per million tokens).
const ModelsDevPrices = `{
  "openai": {"id": "openai", "name": "OpenAI", "models": {
    "gpt-4o": {"id": "gpt-4o", "name": "GPT-4o", "cost": {"input": 2.5, "output": 10, "cache_read": 1.25}},
    "gpt-5": {"id": "gpt-5", "cost": {"input": 1.25, "output": 10, "cache_read": 0.125}}}},
  "google": {"id": "google", "models": {
    "gemini-2.5-pro": {"id": "gemini-2.5-pro", "cost": {"input": 1.25, "output": 10, "cache_read": 0.31, "context_over_200k": {"input": 2.5, "output": 15, "cache_read": 0.625}}}}},
  "anthropic": {"id": "anthropic", "models": {
    "claude-sonnet-4-5": {"id": "claude-sonnet-4-5", "cost": {"input": 3, "output": 15, "cache_read": 0.3, "cache_write": 3.75}},
    "claude-free-preview": {"id": "claude-free-preview"}}}
}`
