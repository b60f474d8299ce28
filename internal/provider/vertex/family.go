package vertex

import (
	"bytes"
	"context"
	"io"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/llmbridge/llmbridge/internal/openai"
	anthropicprov "github.com/llmbridge/llmbridge/internal/provider/anthropic"
	"github.com/llmbridge/llmbridge/internal/provider/endpoint"
	geminiprov "github.com/llmbridge/llmbridge/internal/provider/gemini"
)

// AnthropicVersion is the anthropic_version a Claude request body on
// Vertex AI carries (instead of the anthropic-version header).
const AnthropicVersion = "vertex-2023-10-16"

// maxErrorBytes bounds how much of an error body is read.
const maxErrorBytes = 1 << 20

// Gemini is the Gemini family of a Provider: Google's publisher path,
// Gemini's wire format. It is safe for concurrent use.
type Gemini struct {
	*Provider
	wire *geminiprov.Provider
}

func newGemini(p *Provider, cfg endpoint.Config, base string) *Gemini {
	cfg.BaseURL, cfg.APIKey = base, ""
	return &Gemini{Provider: p, wire: geminiprov.New(cfg)}
}

// NewRequest translates req (the Gemini adapter) and builds
// {base}/v1/projects/{p}/locations/{l}/publishers/google/models/{m}:generateContent
// (or :streamGenerateContent?alt=sse) with a token.
func (g *Gemini) NewRequest(ctx context.Context, req *openai.ChatRequest) (*http.Request, error) {
	hreq, err := g.wire.NewRequest(ctx, req)
	if err != nil {
		return nil, err
	}
	return g.authorize(hreq)
}

// DecodeResponse decodes a generateContent answer and closes its body.
func (g *Gemini) DecodeResponse(resp *http.Response) (*openai.ChatResponse, error) {
	return g.wire.DecodeResponse(resp)
}

// DecodeStream decodes a streamGenerateContent stream; it owns resp.Body.
func (g *Gemini) DecodeStream(resp *http.Response) iter.Seq2[*openai.ChatChunk, error] {
	return g.wire.DecodeStream(resp)
}

// DecodeError decodes Google's {"error":{"code","message","status"}}.
func (g *Gemini) DecodeError(resp *http.Response) error {
	return redact(g.wire.DecodeError(resp), resp)
}

// Claude is the Claude family of a Provider: Anthropic's publisher path,
// the Messages wire format with Vertex's body. It implements the
// Messages pass-through (NewRawMessagesRequest, NewRawCountTokensRequest).
// It is safe for concurrent use.
type Claude struct {
	*Provider
	wire *anthropicprov.Provider
	base string // …/publishers/anthropic/models/
}

func newClaude(p *Provider, cfg endpoint.Config, base string) *Claude {
	cfg.BaseURL, cfg.APIKey = base, ""
	return &Claude{Provider: p, wire: anthropicprov.New(cfg), base: base}
}

// NewRequest translates req (the Anthropic adapter) and builds
// …/publishers/anthropic/models/{m}:rawPredict (or :streamRawPredict).
func (c *Claude) NewRequest(ctx context.Context, req *openai.ChatRequest) (*http.Request, error) {
	hreq, err := c.wire.NewRequest(ctx, req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(hreq.Body)
	if err != nil {
		return nil, err
	}
	return c.post(ctx, req.Model, body, req.Stream, nil)
}

// NewRawMessagesRequest passes a Messages API client's body through:
// "model" removed (it is in the path), anthropic_version set, every other
// member unchanged; the client's anthropic-beta values that Vertex accepts
// go along (Betas), its credentials never do. body is not modified.
func (c *Claude) NewRawMessagesRequest(ctx context.Context, body []byte, model string, stream bool, client http.Header) (*http.Request, error) {
	return c.post(ctx, model, body, stream, client)
}

// NewRawCountTokensRequest sends a count_tokens body to Vertex's
// count-tokens model ("model" kept: it names the model counted).
func (c *Claude) NewRawCountTokensRequest(ctx context.Context, body []byte, model string, client http.Header) (*http.Request, error) {
	out, err := sjson.SetBytes(body, "model", model)
	if err == nil {
		out, err = sjson.SetBytes(out, "anthropic_version", AnthropicVersion)
	}
	if err != nil {
		return nil, err
	}
	return c.send(ctx, c.base+"count-tokens:rawPredict", out, false, client)
}

// post sends a Messages body, made Vertex's, to model's rawPredict or
// streamRawPredict.
func (c *Claude) post(ctx context.Context, model string, body []byte, stream bool, client http.Header) (*http.Request, error) {
	out, err := VertexBody(body)
	if err != nil {
		return nil, err
	}
	u := c.base + url.PathEscape(model) + ":rawPredict"
	if stream {
		u = c.base + url.PathEscape(model) + ":streamRawPredict"
	}
	return c.send(ctx, u, out, stream, client)
}

func (c *Claude) send(ctx context.Context, u string, body []byte, stream bool, client http.Header) (*http.Request, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hreq.Header = c.Header()
	hreq.Header.Set("Accept", "application/json")
	if stream {
		hreq.Header.Set("Accept", "text/event-stream")
	}
	if betas := Betas(client.Values("Anthropic-Beta")); betas != "" {
		hreq.Header.Set("Anthropic-Beta", betas)
	}
	return c.authorize(hreq)
}

// betas are the anthropic-beta values Claude on Vertex AI accepts, each
// with the name Vertex knows it by; Vertex refuses a request naming any
// other ("Unexpected value(s) … for the anthropic-beta header"), and
// Claude Code sends several (prompt-caching-scope-…, effort-…,
// claude-code-…).
var betas = map[string]string{
	"advanced-tool-use-2025-11-20":         "tool-search-tool-2025-10-19",
	"tool-search-tool-2025-10-19":          "tool-search-tool-2025-10-19",
	"compact-2026-01-12":                   "compact-2026-01-12",
	"compact-2026-09-04":                   "compact-2026-09-04",
	"dangerous-tool-use-2026-09-03":        "dangerous-tool-use-2026-09-03",
	"per-turn-control-2026-07-01":          "per-turn-control-2026-07-01",
	"thinking-binding-controls-2026-08-01": "thinking-binding-controls-2026-08-01",
	"computer-use-2025-01-24":              "computer-use-2025-01-24",
	"computer-use-2025-11-24":              "computer-use-2025-11-24",
	"context-1m-2025-08-07":                "context-1m-2025-08-07",
	"context-management-2025-06-27":        "context-management-2025-06-27",
	"interleaved-thinking-2025-05-14":      "interleaved-thinking-2025-05-14",
	"web-search-2025-03-05":                "web-search-2025-03-05",
	"thinking-display-updates-2026-08-18":  "thinking-display-updates-2026-08-18",
}

// Betas keeps, of a client's anthropic-beta header values (each a comma
// list), the ones Vertex AI accepts, renamed where Vertex names them
// otherwise, in order and without repeats, as one comma list.
func Betas(values []string) string {
	var out []string
	for _, v := range values {
		for b := range strings.SplitSeq(v, ",") {
			if name, ok := betas[strings.TrimSpace(b)]; ok && !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	return strings.Join(out, ",")
}

// VertexBody turns a Messages request body into Vertex's: "model"
// removed, "anthropic_version" set to AnthropicVersion, the rest
// unchanged.
func VertexBody(body []byte) ([]byte, error) {
	out := body
	var err error
	if gjson.GetBytes(out, "model").Exists() {
		if out, err = sjson.DeleteBytes(out, "model"); err != nil {
			return nil, err
		}
	}
	return sjson.SetBytes(out, "anthropic_version", AnthropicVersion)
}

// DecodeResponse decodes a Messages answer and closes its body.
func (c *Claude) DecodeResponse(resp *http.Response) (*openai.ChatResponse, error) {
	return c.wire.DecodeResponse(resp)
}

// DecodeStream decodes a Messages stream; it owns resp.Body.
func (c *Claude) DecodeStream(resp *http.Response) iter.Seq2[*openai.ChatChunk, error] {
	return c.wire.DecodeStream(resp)
}

// DecodeError decodes Claude's own errors ({"type":"error",…}) and
// Vertex's ({"error":{"code","message","status"}}: authentication,
// permission, quota, an unknown model), each with its adapter.
func (c *Claude) DecodeError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if gjson.GetBytes(body, "type").Str == "error" {
		return redact(c.wire.DecodeError(resp), resp)
	}
	return c.gemini.DecodeError(resp)
}
