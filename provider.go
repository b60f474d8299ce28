package llmbridge

import (
	"context"
	"io"
	"iter"
	"net/http"

	"github.com/llmbridge/llmbridge/internal/models"
	"github.com/llmbridge/llmbridge/internal/openai"
	anthropicprov "github.com/llmbridge/llmbridge/internal/provider/anthropic"
	"github.com/llmbridge/llmbridge/internal/provider/endpoint"
	geminiprov "github.com/llmbridge/llmbridge/internal/provider/gemini"
	openaiprov "github.com/llmbridge/llmbridge/internal/provider/openai"
)

// Wire types, shared with the provider adapters. Every type that mirrors a
// JSON object keeps the members it does not model in its Extra map and
// writes them back, so unknown fields pass through.
type (
	// ChatRequest is a Chat Completions request.
	ChatRequest = openai.ChatRequest
	// StreamOptions is a request's stream_options.
	StreamOptions = openai.StreamOptions
	// Message is one chat message.
	Message = openai.Message
	// Content is a message's content: a string, an array of parts, or null.
	Content = openai.Content
	// ContentPart is one part of array content (text, image_url, …).
	ContentPart = openai.ContentPart
	// ImageURL is an image part's image_url.
	ImageURL = openai.ImageURL
	// ToolCall is a function call made by the assistant.
	ToolCall = openai.ToolCall
	// FunctionCall is a tool call's function name and JSON arguments.
	FunctionCall = openai.FunctionCall
	// Tool is one entry of a request's tools.
	Tool = openai.Tool
	// FunctionDefinition describes a function tool.
	FunctionDefinition = openai.FunctionDefinition
	// ChatResponse is a non-streamed response.
	ChatResponse = openai.ChatResponse
	// Choice is one choice of a non-streamed response.
	Choice = openai.Choice
	// ChatChunk is one streamed chunk.
	ChatChunk = openai.ChatChunk
	// ChunkChoice is one choice of a chunk.
	ChunkChoice = openai.ChunkChoice
	// Delta is a chunk choice's incremental message.
	Delta = openai.Delta
)

// TextContent returns string content.
func TextContent(s string) Content { return openai.TextContent(s) }

// PartsContent returns array content made of parts.
func PartsContent(parts ...ContentPart) Content { return openai.PartsContent(parts...) }

// UserMessage returns a user message with text content.
func UserMessage(text string) Message { return Message{Role: "user", Content: TextContent(text)} }

// SystemMessage returns a system message with text content.
func SystemMessage(text string) Message { return Message{Role: "system", Content: TextContent(text)} }

// Provider translates between the bridge's OpenAI-shaped types and one
// upstream API; the Bridge does the I/O (transport, retries, timeouts,
// relaying). Implementations must be safe for concurrent use.
//
// The request's Model is already the upstream model name (the routing
// prefix removed). DecodeResponse and DecodeError are called with a response
// whose body they must close. DecodeStream owns resp.Body and closes it on
// every exit, including when the consumer stops early, but at its
// stream's last event, where it hands the body to EndStreamBody instead;
// a stream that ends before its upstream's normal end must end with an
// error. DecodeError
// should return an *APIError keeping the upstream's status and message.
type Provider interface {
	Name() string
	NewRequest(ctx context.Context, req *ChatRequest) (*http.Request, error)
	DecodeResponse(resp *http.Response) (*ChatResponse, error)
	DecodeStream(resp *http.Response) iter.Seq2[*ChatChunk, error]
	DecodeError(resp *http.Response) error
}

// EndStreamBody is what a Provider's DecodeStream calls when it has read
// its stream's last event (a "data: [DONE]", a message_stop), instead of
// closing resp.Body: the body's end — HTTP/1.1's last chunk, HTTP/2's
// END_STREAM — usually follows that event, and a body closed before its
// end is read costs its connection (net/http does not pool an HTTP/1.1
// connection whose body was closed unread; HTTP/2 resets the stream). The
// Bridge reads the end on another goroutine, briefly and bounded (4 KiB,
// 50 ms), then closes the body; nothing waits for it. The caller neither
// reads nor closes the body after.
func EndStreamBody(body io.ReadCloser) { endpoint.EndBody(body) }

// ModelLister is implemented by providers that list their models. The names
// are listed by /v1/models (with the provider's prefix) and resolve bare
// model names.
type ModelLister interface {
	Models() []string
}

// ModelFamily is implemented by providers that declare the model names
// their upstream serves, as patterns where "*" matches any run of
// characters ("claude-*"; no other wildcard). A bare model name that no
// provider lists (ModelLister) nor names in its live list
// (WithModelRefresh; of several live lists naming it, the one whose
// family claims it wins) goes to the provider whose pattern matches it; when
// several do, the most specific pattern (the most characters other than
// "*") wins, and a tie is a 400 naming the candidates, to be asked for as
// "provider/model". A provider added with PrefixOnly claims no family. The
// built-in constructors fill in their vendor's (ProviderConfig.
// ModelPatterns); a new provider kind adopts the mechanism by returning
// its vendor's patterns here. New reports invalid patterns.
type ModelFamily interface {
	ModelPatterns() []string
}

// ModelSource is implemented by providers whose upstream lists the models
// it serves (OpenAI-compatible GET /models, Anthropic's GET /v1/models,
// Gemini's models.list). With WithModelRefresh the Bridge fetches the list
// through the provider's own client (its proxy and connect timeout, a
// timeout per page, no redirects followed, at most 8 MiB per page) and
// keeps the last good one. NewModelsRequest builds the request for one
// page, carrying the provider's key: page is "" for the first, else the
// cursor DecodeModels returned. DecodeModels reads one page of a 2xx
// answer into model ids, as a client sends them, and the next page's
// cursor ("" at the end).
type ModelSource interface {
	NewModelsRequest(ctx context.Context, page string) (*http.Request, error)
	DecodeModels(body []byte) (ids []string, next string, err error)
}

// Validator is implemented by providers that can report configuration
// errors; New collects them.
type Validator interface {
	Validate() error
}

// OpenAIWire is implemented by providers whose upstream speaks the OpenAI
// Chat Completions wire format exactly. The handler then forwards the
// client's body with only the model (and stream usage option) rewritten and
// relays the upstream's response bytes unchanged, which keeps every field
// and costs no decoding. NewRawRequest receives the client's JSON body, the
// upstream model name and whether the request streams.
type OpenAIWire interface {
	NewRawRequest(ctx context.Context, body []byte, model string, stream bool) (*http.Request, error)
}

// AnthropicWire is implemented by providers whose upstream speaks
// Anthropic's Messages API exactly. Requests to POST /v1/messages and
// /v1/messages/count_tokens routed to such a provider pass through: the
// client's body is forwarded with only "model" rewritten, and the
// upstream's response and every stream event are relayed unchanged.
// Both methods receive the client's JSON body, the upstream model name and
// the client's request header, from which only anthropic-version and
// anthropic-beta may be forwarded (never its credentials); the request
// must carry the provider's own key. NewRawMessagesRequest also receives
// whether the request streams.
type AnthropicWire interface {
	NewRawMessagesRequest(ctx context.Context, body []byte, model string, stream bool, client http.Header) (*http.Request, error)
	NewRawCountTokensRequest(ctx context.Context, body []byte, model string, client http.Header) (*http.Request, error)
}

// ResponsesWire is implemented by providers whose upstream serves
// OpenAI's Responses API exactly (OpenAI). Requests to POST /v1/responses
// routed to such a provider pass through: NewRawResponsesRequest receives
// the client's JSON body, the upstream model name and whether the request
// streams, and must send the body with only "model" replaced, with the
// provider's own key; the upstream's response and every stream event are
// relayed unchanged. Other providers get the request translated to Chat
// Completions.
type ResponsesWire interface {
	NewRawResponsesRequest(ctx context.Context, body []byte, model string, stream bool) (*http.Request, error)
}

// EmbeddingsWire is implemented by providers whose upstream serves
// OpenAI's embeddings API (POST {base}/embeddings). Requests to POST
// /v1/embeddings routed to such a provider pass through:
// NewRawEmbeddingsRequest receives the client's JSON body and the
// upstream model name and must send the body with only "model" replaced;
// the answer is relayed unchanged.
type EmbeddingsWire interface {
	NewRawEmbeddingsRequest(ctx context.Context, body []byte, model string) (*http.Request, error)
}

// Embedder is implemented by providers that serve OpenAI embeddings
// requests by translation to their own API (Gemini's batchEmbedContents).
// NewOpenAIEmbeddingsRequest receives the client's JSON body (its
// envelope already validated by the Bridge) and the upstream model name;
// input it cannot embed is a 400 *APIError, returned before anything is
// sent. DecodeOpenAIEmbeddings reads the 2xx answer to that request,
// closes its body and returns the OpenAI embeddings response; when the
// upstream reports no token counts, count gives the tokens of each input
// text. A provider that implements neither interface cannot serve
// embeddings (a 400 naming it).
type Embedder interface {
	NewOpenAIEmbeddingsRequest(ctx context.Context, body []byte, model string) (*http.Request, error)
	DecodeOpenAIEmbeddings(resp *http.Response, body []byte, model string, count func(text string) int) ([]byte, error)
}

// PerModelProvider is implemented by providers that reach models of
// different wire families behind one name (Vertex AI: Gemini models by
// Google's API, Claude models by Anthropic's). For a request to model the
// Bridge uses ForModel(model) in the provider's place for everything —
// building the request, passing the client's body through (its wire
// interfaces decide), decoding the answer, TokenRefresher. ForModel must
// never return nil and must be safe for concurrent use.
type PerModelProvider interface {
	ForModel(model string) Provider
}

// TokenRefresher is implemented by providers that authenticate with an
// access token they obtain and cache themselves (Azure with Entra ID,
// Vertex AI). When the upstream answers an attempt 401, the Bridge calls
// Refused with the request that was refused; when it returns true (the
// provider dropped that token), the attempt is made once more with a
// request built afresh, so with a new token. Refused is called
// concurrently and must not block on I/O.
type TokenRefresher interface {
	Refused(req *http.Request) bool
}

// ProviderConfig configures a built-in provider. Zero fields take the
// provider's defaults.
type ProviderConfig struct {
	// Name is the routing prefix ("openai" in "openai/gpt-4o").
	Name string
	// BaseURL is the API root; "/chat/completions" is appended.
	BaseURL string
	// APIKey is the provider key, sent upstream and never logged.
	APIKey string
	// APIKeys are further keys of the same account or of others (APIKey,
	// if set, is the first). The Bridge spreads requests over them,
	// takes out a key refused with 401/403 and rests one that got 429
	// while the others serve; each key is a target of its own for the
	// circuit breaker. An empty or repeated key is an error at New.
	APIKeys []string
	// Models lists model names for /v1/models and bare-name routing.
	Models []string
	// ModelPatterns are the model names the upstream serves (ModelFamily):
	// nil takes the vendor's family of a built-in constructor (OpenAI:
	// gpt-*, o1*, o3*, o4*, chatgpt-*, codex-*, text-embedding-*;
	// Anthropic: claude-*; Gemini: gemini-*, gemma-*; DeepSeek:
	// deepseek-*; OpenAICompatible: none); an empty list claims none.
	ModelPatterns []string
	// Headers are sent upstream on every request (X-Tenant, …).
	Headers map[string]string
	// Region is the cloud region of providers that have one (Bedrock's
	// us-east-1); the others ignore it.
	Region string
}

// Default base URLs and model lists of the built-in providers.
const (
	DefaultOpenAIBaseURL    = "https://api.openai.com/v1"
	DefaultDeepSeekBaseURL  = "https://api.deepseek.com"
	DefaultGeminiBaseURL    = "https://generativelanguage.googleapis.com/v1beta"
	DefaultAnthropicBaseURL = "https://api.anthropic.com/v1"
)

// DefaultOpenAIModels returns the model list of an OpenAI provider
// configured without one; the other Default…Models likewise.
func DefaultOpenAIModels() []string {
	return []string{"gpt-4o", "gpt-4o-mini", "o1", "o1-mini", "o3-mini"}
}

// DefaultGeminiModels returns the model list of a Gemini provider
// configured without one.
func DefaultGeminiModels() []string {
	return []string{"gemini-exp-1206", "gemini-2.0-flash-exp", "gemini-2.0-flash-thinking-exp"}
}

// DefaultDeepSeekModels returns the model list of a DeepSeek provider
// configured without one.
func DefaultDeepSeekModels() []string { return []string{"deepseek-chat", "deepseek-reasoner"} }

// DefaultAnthropicModels returns the model list of an Anthropic provider
// configured without one.
func DefaultAnthropicModels() []string {
	return []string{"claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"}
}

func (c ProviderConfig) withDefaults(name, baseURL string, list, patterns []string) openaiprov.Config {
	if c.Name == "" {
		c.Name = name
	}
	if c.BaseURL == "" {
		c.BaseURL = baseURL
	}
	if c.Models == nil {
		c.Models = list
	}
	if c.ModelPatterns == nil {
		c.ModelPatterns = patterns
	}
	return openaiprov.Config{Name: c.Name, BaseURL: c.BaseURL, APIKey: c.APIKey, Models: c.Models, Headers: c.Headers, Patterns: c.ModelPatterns}
}

// OpenAI returns the OpenAI provider (name "openai", DefaultOpenAIBaseURL).
// It implements OpenAIWire, ResponsesWire and EmbeddingsWire: Chat
// Completions, Responses API and embeddings clients routed to it pass
// through unchanged.
func OpenAI(cfg ProviderConfig) Provider {
	return withKeys(cfg, func(cfg ProviderConfig) Provider {
		return openaiprov.NewResponses(cfg.withDefaults("openai", DefaultOpenAIBaseURL, DefaultOpenAIModels(), models.OpenAIPatterns()))
	})
}

// DeepSeek returns the DeepSeek provider (name "deepseek",
// DefaultDeepSeekBaseURL). DeepSeek's keep-alive comments, leading blank
// lines and usage inside the finish chunk are handled by the bridge.
func DeepSeek(cfg ProviderConfig) Provider {
	return withKeys(cfg, func(cfg ProviderConfig) Provider {
		return openaiprov.New(cfg.withDefaults("deepseek", DefaultDeepSeekBaseURL, DefaultDeepSeekModels(), models.DeepSeekPatterns()))
	})
}

// GeminiOpenAICompat returns a Gemini provider (name "gemini") that goes
// through Gemini's OpenAI-compatibility endpoint
// {BaseURL}/openai/chat/completions with the key as a bearer token,
// repairing the endpoint's known deviations (tool-call indexes, finish
// reasons, empty ids, array-shaped errors). Gemini (native) is the better
// choice; this one exists for deployments that must use the endpoint.
func GeminiOpenAICompat(cfg ProviderConfig) Provider {
	return withKeys(cfg, func(cfg ProviderConfig) Provider {
		c := cfg.withDefaults("gemini", DefaultGeminiBaseURL, DefaultGeminiModels(), models.GeminiPatterns())
		c.BaseURL = trimSlash(c.BaseURL) + "/openai"
		return openaiprov.NewCompat(c)
	})
}

// Gemini returns the Gemini provider (name "gemini"), speaking Gemini's
// own API ({BaseURL}/models/{model}:generateContent and
// :streamGenerateContent?alt=sse, key in x-goog-api-key): system messages,
// images (data URLs), tools with Gemini-safe schemas, tool_choice,
// reasoning_effort (thinking budget), response_format (a json_schema as
// responseJsonSchema) and the usual sampling options are translated; thoughts come back as
// reasoning_content, function calls as tool calls whose ids carry Gemini 3
// thought signatures across turns, and usage counts thoughts as
// completion (reasoning) tokens.
func Gemini(cfg ProviderConfig) Provider {
	return withKeys(cfg, func(cfg ProviderConfig) Provider {
		return geminiprov.New(geminiprov.Config(cfg.withDefaults("gemini", DefaultGeminiBaseURL, DefaultGeminiModels(), models.GeminiPatterns())))
	})
}

// Anthropic returns the Anthropic provider (name "anthropic",
// DefaultAnthropicBaseURL), speaking the Messages API with x-api-key and
// anthropic-version: system messages, images (data URLs as base64, http(s)
// URLs for Anthropic to fetch), tools, tool_choice, tool calls and results,
// stop, reasoning_effort (a thinking budget) and response_format json_schema
// (structured outputs, output_config.format; json_object, which Anthropic
// has no schema-less form of, is a 400) are translated; max_tokens,
// which Anthropic requires, defaults per model. Thinking comes back as
// reasoning_content with its signature in "reasoning_signature" (clients
// that send it back keep thinking across tool turns; for those that drop
// it, that turn runs without thinking instead of failing). Usage counts
// cache reads and writes in the prompt, cache reads as cached tokens. It
// implements AnthropicWire: Messages API clients (POST /v1/messages)
// routed to it pass through unchanged.
func Anthropic(cfg ProviderConfig) Provider {
	return withKeys(cfg, func(cfg ProviderConfig) Provider {
		return anthropicprov.New(anthropicprov.Config(cfg.withDefaults("anthropic", DefaultAnthropicBaseURL, DefaultAnthropicModels(), models.AnthropicPatterns())))
	})
}

// OpenAICompatible returns a provider for any vendor that speaks the OpenAI
// Chat Completions API (vLLM, Ollama, OpenRouter, …). Name and BaseURL are
// required. It claims no model family unless ModelPatterns names one.
func OpenAICompatible(cfg ProviderConfig) Provider {
	return withKeys(cfg, func(cfg ProviderConfig) Provider {
		return openaiprov.New(openaiprov.Config{Name: cfg.Name, BaseURL: cfg.BaseURL, APIKey: cfg.APIKey, Models: cfg.Models, Headers: cfg.Headers, Patterns: cfg.ModelPatterns})
	})
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

// ModelOwner is implemented by providers whose models /v1/models lists
// with an owned_by other than the provider's name (the demo's
// "llmbridge-demo"). Model IDs keep the provider's name as their prefix.
type ModelOwner interface {
	OwnedBy() string
}

// modelOwner is the owned_by of p's models: OwnedBy when p is a
// ModelOwner that returns a non-empty one, else name.
func modelOwner(p Provider, name string) string {
	if o, ok := p.(ModelOwner); ok && o.OwnedBy() != "" {
		return o.OwnedBy()
	}
	return name
}
