package gemini

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/tidwall/gjson"
)

// EmbeddingRequest is an OpenAI embeddings request (POST /v1/embeddings)
// that Gemini can serve: text inputs only.
type EmbeddingRequest struct {
	// Model is the Gemini model, without the "models/" prefix.
	Model string
	// Inputs are the texts, in order; a string input is one text.
	Inputs []string
	// Base64 is true for encoding_format "base64": embeddings are then
	// sent as base64 of little-endian float32, as the OpenAI SDKs expect.
	Base64 bool
	// Dimensions, when not nil, becomes outputDimensionality.
	Dimensions *int
}

// DecodeEmbeddingRequest validates an OpenAI embeddings body for Gemini.
// input may be a string or an array of strings; token arrays (arrays of
// integers) are a 400, since Gemini embeds text only. encoding_format is
// float (the default) or base64; dimensions a positive integer. Every
// error is a 400 *openai.APIError naming the member.
func DecodeEmbeddingRequest(body []byte) (*EmbeddingRequest, *openai.APIError) {
	if !json.Valid(body) {
		return nil, openai.BadRequest("", "We could not parse the JSON body of your request: it is not valid JSON.")
	}
	root := gjson.ParseBytes(body)
	if !root.IsObject() {
		return nil, openai.BadRequest("", "The request body must be a JSON object.")
	}
	out := &EmbeddingRequest{}
	model := root.Get("model")
	if model.Type != gjson.String || model.Str == "" {
		return nil, openai.BadRequest("model", "model must be a non-empty string")
	}
	out.Model = model.Str
	input := root.Get("input")
	switch {
	case input.Type == gjson.String:
		out.Inputs = []string{input.Str}
	case input.IsArray():
		var bad *openai.APIError
		i := 0
		input.ForEach(func(_, v gjson.Result) bool {
			switch {
			case v.Type == gjson.String:
				out.Inputs = append(out.Inputs, v.Str)
			case v.Type == gjson.Number || v.IsArray():
				bad = openai.BadRequest(fmt.Sprintf("input[%d]", i), "Gemini embeds text only: send input as strings, not token arrays")
			default:
				bad = openai.BadRequest(fmt.Sprintf("input[%d]", i), "each input must be a string")
			}
			i++
			return bad == nil
		})
		if bad != nil {
			return nil, bad
		}
		if len(out.Inputs) == 0 {
			return nil, openai.BadRequest("input", "input must not be empty")
		}
	case !input.Exists():
		return nil, openai.BadRequest("input", "Missing required parameter: 'input'.")
	default:
		return nil, openai.BadRequest("input", "input must be a string or an array of strings")
	}
	switch f := root.Get("encoding_format"); {
	case !f.Exists() || f.Type == gjson.Null || f.Str == "float" && f.Type == gjson.String:
	case f.Type == gjson.String && f.Str == "base64":
		out.Base64 = true
	default:
		return nil, openai.BadRequest("encoding_format", "encoding_format must be float or base64")
	}
	if d := root.Get("dimensions"); d.Exists() && d.Type != gjson.Null {
		n, err := strconv.Atoi(d.Raw)
		if d.Type != gjson.Number || err != nil || n < 1 {
			return nil, openai.BadRequest("dimensions", "dimensions must be a positive integer")
		}
		out.Dimensions = &n
	}
	return out, nil
}

// embedRequest is the body of :batchEmbedContents.
type embedRequest struct {
	Requests []embedOne `json:"requests"`
}

type embedOne struct {
	Model                string  `json:"model"`
	Content              content `json:"content"`
	OutputDimensionality *int    `json:"outputDimensionality,omitempty"`
}

// embeddingsBody is the Gemini request body for req.
func embeddingsBody(req *EmbeddingRequest) ([]byte, error) {
	out := embedRequest{Requests: make([]embedOne, len(req.Inputs))}
	for i, text := range req.Inputs {
		out.Requests[i] = embedOne{Model: "models/" + req.Model, Content: content{Parts: []part{{Text: text}}}, OutputDimensionality: req.Dimensions}
	}
	return openai.Marshal(out)
}

// NewEmbeddingsRequest builds POST {base}/models/{model}:batchEmbedContents
// for req, key in x-goog-api-key.
func (p *Provider) NewEmbeddingsRequest(ctx context.Context, req *EmbeddingRequest) (*http.Request, error) {
	body, err := embeddingsBody(req)
	if err != nil {
		return nil, err
	}
	u := p.Base() + "/models/" + url.PathEscape(req.Model) + ":batchEmbedContents"
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hreq.Header = p.Header()
	hreq.Header.Set("Accept", "application/json")
	return hreq, nil
}

// DecodeEmbeddings reads a :batchEmbedContents response (closing its
// body) and returns the OpenAI embeddings response; a non-2xx response is
// an *openai.APIError (see DecodeError). Gemini reports no token counts:
// promptTokens, counted by the caller, becomes usage.prompt_tokens and
// usage.total_tokens.
func (p *Provider) DecodeEmbeddings(resp *http.Response, req *EmbeddingRequest, promptTokens int) ([]byte, error) {
	if resp.StatusCode/100 != 2 {
		return nil, p.DecodeError(resp)
	}
	defer resp.Body.Close()
	body, err := openai.ReadResponseBody(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("decoding Gemini embeddings: %w", err)
	}
	return EmbeddingsResponse(body, req, promptTokens)
}

// EmbeddingsResponse translates a :batchEmbedContents body
// ({"embeddings":[{"values":[…]}]}) into the OpenAI embeddings response:
// {"object":"list","data":[{"object":"embedding","index",embedding}],
// "model","usage":{"prompt_tokens","total_tokens"}}, the embedding a float
// array (the values as Gemini wrote them) or, when req.Base64, base64 of
// the little-endian float32 values. promptTokens fills usage, which
// Gemini does not report.
func EmbeddingsResponse(body []byte, req *EmbeddingRequest, promptTokens int) ([]byte, error) {
	embs := gjson.GetBytes(body, "embeddings")
	if !embs.IsArray() {
		return nil, fmt.Errorf("gemini embeddings response has no embeddings array")
	}
	list := embs.Array()
	if len(list) != len(req.Inputs) {
		return nil, fmt.Errorf("gemini returned %d embeddings for %d inputs", len(list), len(req.Inputs))
	}
	var b bytes.Buffer
	b.WriteString(`{"object":"list","data":[`)
	var f32 []byte
	for i, e := range list {
		values := e.Get("values")
		if !values.IsArray() {
			return nil, fmt.Errorf("gemini embedding %d has no values", i)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"object":"embedding","index":%d,"embedding":`, i)
		if !req.Base64 {
			var compact bytes.Buffer
			if err := json.Compact(&compact, []byte(values.Raw)); err != nil {
				return nil, err
			}
			b.Write(compact.Bytes())
		} else {
			f32 = f32[:0]
			var bad error
			values.ForEach(func(_, v gjson.Result) bool {
				if v.Type != gjson.Number {
					bad = fmt.Errorf("gemini embedding %d has a value that is not a number", i)
					return false
				}
				f32 = binary.LittleEndian.AppendUint32(f32, math.Float32bits(float32(v.Num)))
				return true
			})
			if bad != nil {
				return nil, bad
			}
			b.WriteByte('"')
			b.WriteString(base64.StdEncoding.EncodeToString(f32))
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	model, _ := openai.Marshal(req.Model)
	fmt.Fprintf(&b, `],"model":%s,"usage":{"prompt_tokens":%d,"total_tokens":%d}}`, model, promptTokens, promptTokens)
	return b.Bytes(), nil
}

// NewOpenAIEmbeddingsRequest builds the :batchEmbedContents request for an
// OpenAI embeddings body, model being the upstream model: the body is
// decoded with DecodeEmbeddingRequest (a 400 *openai.APIError for what
// Gemini cannot embed, such as token arrays).
func (p *Provider) NewOpenAIEmbeddingsRequest(ctx context.Context, body []byte, model string) (*http.Request, error) {
	req, aerr := DecodeEmbeddingRequest(body)
	if aerr != nil {
		return nil, aerr
	}
	req.Model = model
	return p.NewEmbeddingsRequest(ctx, req)
}

// DecodeOpenAIEmbeddings reads the 2xx answer to the request
// NewOpenAIEmbeddingsRequest built from body and model (closing its body)
// and returns the OpenAI embeddings response. Gemini reports no token
// counts: usage is the sum of count over the input texts.
func (p *Provider) DecodeOpenAIEmbeddings(resp *http.Response, body []byte, model string, count func(text string) int) ([]byte, error) {
	req, aerr := DecodeEmbeddingRequest(body)
	if aerr != nil {
		resp.Body.Close()
		return nil, aerr
	}
	req.Model = model
	n := 0
	for _, text := range req.Inputs {
		n += count(text)
	}
	return p.DecodeEmbeddings(resp, req, n)
}
