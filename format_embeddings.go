package llmbridge

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/llmbridge/llmbridge/internal/openai"
	geminiprov "github.com/llmbridge/llmbridge/internal/provider/gemini"
	openaiprov "github.com/llmbridge/llmbridge/internal/provider/openai"
	"github.com/tidwall/gjson"
)

// The built-in providers that serve embeddings.
var (
	_ EmbeddingsWire = (*openaiprov.Provider)(nil)
	_ Embedder       = (*geminiprov.Provider)(nil)
)

// embeddingsFormat is OpenAI's embeddings API (POST /v1/embeddings).
// Embeddings are not chat: there is no canonical request, so every
// provider gets its upstream request from passThrough — the client's
// bytes for an EmbeddingsWire provider, a translation for an Embedder
// (Gemini's batchEmbedContents), and a 400 naming the provider for any
// other — and every answer goes through relayNative. The chat encoders
// it embeds for errors (OpenAI's shape) are never asked to encode a
// response or a stream. Records have Format "embeddings" and the prompt
// tokens of the upstream's usage, or of the TokenCounter when the
// upstream reports none.
type embeddingsFormat struct{ chatFormat }

func (embeddingsFormat) name() string { return "embeddings" }

// uncached: embeddings are not answers the response cache replays.
func (embeddingsFormat) uncached() {}

func (embeddingsFormat) patterns() []string {
	return []string{"POST /v1/embeddings", "POST /embeddings"}
}

func (embeddingsFormat) parse(body []byte) envelope { return embeddingsEnvelope(body) }

// embeddingsEnvelope validates an embeddings body: a JSON object; model a
// non-empty string; input a string, or a non-empty array of strings, of
// token ids, or of non-empty arrays of token ids; encoding_format float
// or base64; dimensions a positive integer; user a string; no member
// named twice in any object (under case folding) and none that differs
// from these members only in case (openai.CheckMembers). Other members
// pass through.
func embeddingsEnvelope(body []byte) envelope {
	var env envelope
	bad := func(param, code, format string, args ...any) envelope {
		env.bad = badRequest(param, code, format, args...)
		return env
	}
	if e := checkObject(body, embeddingsMembers, nil); e != nil {
		env.bad = e
		return env
	}
	// One walk of the members, in place (gjson.GetManyBytes copies each
	// value it returns: an input of token ids is megabytes). checkObject
	// refused a name given twice.
	var model, input, format, dims, user gjson.Result
	openai.ParseView(body).ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "model":
			model = v
		case "input":
			input = v
		case "encoding_format":
			format = v
		case "dimensions":
			dims = v
		case "user":
			user = v
		}
		return true
	})
	if model.Type == gjson.String {
		env.model = openai.ClipModel(model.Str)
	}
	if e := modelError(model.Exists(), model.Type, model.Str); e != nil {
		env.bad = e
		return env
	}
	switch {
	case !input.Exists():
		return bad("input", "missing_required_parameter", "Missing required parameter: 'input'.")
	case format.Exists() && format.Type != gjson.Null && (format.Type != gjson.String || format.Str != "float" && format.Str != "base64"):
		return bad("encoding_format", "invalid_value", "encoding_format must be float or base64.")
	case dims.Exists() && dims.Type != gjson.Null && !positiveInt(dims):
		return bad("dimensions", "invalid_value", "dimensions must be a positive integer.")
	case user.Exists() && user.Type != gjson.String:
		return bad("user", "invalid_type", "user must be a string.")
	}
	if param, msg := checkEmbeddingInput(input); msg != "" {
		return bad(param, "invalid_value", "%s", msg)
	}
	return env
}

// embeddingsMembers are the members of an embeddings request.
var embeddingsMembers = openai.NewFieldSet("model", "input", "encoding_format", "dimensions", "user")

func positiveInt(r gjson.Result) bool {
	n, err := strconv.ParseInt(r.Raw, 10, 64)
	return r.Type == gjson.Number && err == nil && n >= 1
}

// checkEmbeddingInput returns the member and the reason input is not
// acceptable, or "" and "". It walks input in place (ForEach), naming an
// item only for a refusal: an input of token ids is millions of values.
func checkEmbeddingInput(input gjson.Result) (string, string) {
	const shape = "input must be a string, an array of strings, an array of token ids or an array of token id arrays."
	switch {
	case input.Type == gjson.String:
		return "", ""
	case !input.IsArray():
		return "input", shape
	}
	var first gjson.Result
	i := 0
	param, msg := "", ""
	input.ForEach(func(_, it gjson.Result) bool {
		if i == 0 {
			first = it
		}
		name := func() string { return "input[" + strconv.Itoa(i) + "]" }
		switch {
		case first.Type == gjson.String && it.Type != gjson.String,
			first.Type == gjson.Number && !isTokenID(it),
			first.IsArray() && !it.IsArray():
			param, msg = name(), "the items of input must all be of one kind: "+shape
		case first.Type != gjson.String && first.Type != gjson.Number && !first.IsArray():
			param, msg = name(), shape
		case it.IsArray():
			j := 0
			it.ForEach(func(_, id gjson.Result) bool {
				if !isTokenID(id) {
					param, msg = name()+"["+strconv.Itoa(j)+"]", "token ids must be non-negative integers."
				}
				j++
				return msg == ""
			})
			if msg == "" && j == 0 {
				param, msg = name(), "a token id array must not be empty."
			}
		}
		i++
		return msg == ""
	})
	if i == 0 {
		return "input", "input must not be empty."
	}
	return param, msg
}

func isTokenID(r gjson.Result) bool {
	n, err := strconv.ParseInt(r.Raw, 10, 64)
	return r.Type == gjson.Number && err == nil && n >= 0
}

// decode refuses: an embeddings request has no chat form (Request.Chat
// reports this error).
func (embeddingsFormat) decode([]byte, *slog.Logger) (*ChatRequest, *APIError) {
	return nil, errorf(http.StatusBadRequest, ErrorTypeInvalidRequest, "invalid_request", "the embeddings endpoint has no chat request")
}

// passThrough returns how to build the upstream request for every
// provider (see embeddingsFormat).
func (embeddingsFormat) passThrough(p Provider) rawRequest {
	if w, ok := p.(EmbeddingsWire); ok {
		return func(ctx context.Context, body []byte, model string, _ bool, _ http.Header) (*http.Request, error) {
			return w.NewRawEmbeddingsRequest(ctx, body, model)
		}
	}
	if e, ok := p.(Embedder); ok {
		return func(ctx context.Context, body []byte, model string, _ bool, _ http.Header) (*http.Request, error) {
			return e.NewOpenAIEmbeddingsRequest(ctx, body, model)
		}
	}
	return func(context.Context, []byte, string, bool, http.Header) (*http.Request, error) {
		return nil, &APIError{Status: http.StatusBadRequest, Type: ErrorTypeInvalidRequest, Code: "embeddings_not_supported", Param: "model",
			Message: fmt.Sprintf("The provider %s does not serve embeddings; route the model to a provider that does (OpenAI, an OpenAI-compatible vendor or Gemini).", p.Name())}
	}
}

// relayNative relays the embeddings response: unchanged from an
// EmbeddingsWire upstream, translated from an Embedder's. The record
// takes the response's usage, or counts the input when there is none.
func (embeddingsFormat) relayNative(r relay, resp *http.Response) {
	p, model := r.upstream() // the key's provider, as passThrough saw it
	tokens := r.tokens()
	var out []byte
	var err error
	if e, ok := p.(Embedder); ok && !isEmbeddingsWire(p) {
		out, err = e.DecodeOpenAIEmbeddings(resp, r.body(), model, func(text string) int { return tokens.CountText(model, text) })
	} else {
		out, err = openai.ReadResponseBody(resp.Body)
		resp.Body.Close()
	}
	if err != nil {
		r.fail(err)
		return
	}
	if u := gjson.GetBytes(out, "usage"); u.IsObject() && u.Get("prompt_tokens").Exists() {
		r.meter().noteRawUsageString(u.Raw)
	} else {
		n := embeddingInputTokens(tokens, r.body(), model)
		r.meter().noteUsage(&Usage{PromptTokens: n, TotalTokens: n})
	}
	r.write(out)
}

func isEmbeddingsWire(p Provider) bool { _, ok := p.(EmbeddingsWire); return ok }

// embeddingInputTokens counts the client's input: texts with the
// TokenCounter, token id arrays by their length.
func embeddingInputTokens(tokens *TokenCounter, body []byte, model string) int {
	input := gjson.GetBytes(body, "input")
	if input.Type == gjson.String {
		return tokens.CountText(model, input.Str)
	}
	n, ids := 0, 0
	input.ForEach(func(_, it gjson.Result) bool {
		switch {
		case it.Type == gjson.String:
			n += tokens.CountText(model, it.Str)
		case it.IsArray():
			n += len(it.Array())
		default:
			ids++
		}
		return true
	})
	return n + ids
}
