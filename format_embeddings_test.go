package llmbridge_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge/internal/testupstream"
	"github.com/llmbridge/llmbridge/internal/usage"
	"github.com/openai/openai-go/v3"
	"github.com/tidwall/gjson"
)

// The OpenAI SDK's embeddings client, float and base64, through the bridge
// to OpenAI (pass-through) and Gemini (batchEmbedContents, translated).
func TestEmbeddingsSDK(t *testing.T) {
	e := newClaudeEnv(t)
	n := 0
	for _, tc := range []struct {
		model, upstreamPath string
		prompt              int64 // the usage the upstream reports, or the bridge counts
	}{
		{"openai/text-embedding-3-small", "/v1/embeddings", 9}, // the fake's default usage
		{"gemini/gemini-embedding-001", "/models/gemini-embedding-001:batchEmbedContents", 0},
	} {
		t.Run(tc.model, func(t *testing.T) {
			vectors := map[openai.EmbeddingNewParamsEncodingFormat][]openai.Embedding{}
			for _, format := range []openai.EmbeddingNewParamsEncodingFormat{openai.EmbeddingNewParamsEncodingFormatFloat, openai.EmbeddingNewParamsEncodingFormatBase64} {
				resp, err := e.oai().Embeddings.New(ctxTimeout(t), openai.EmbeddingNewParams{Model: tc.model, EncodingFormat: format, Dimensions: openai.Int(6),
					Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"the quick brown", "fox"}}})
				if err != nil {
					t.Fatal(err)
				}
				n++
				if len(resp.Data) != 2 || len(resp.Data[0].Embedding) != 6 || resp.Data[1].Index != 1 || resp.Usage.PromptTokens == 0 {
					t.Fatalf("%s: %s", format, resp.RawJSON())
				}
				if tc.prompt > 0 && resp.Usage.PromptTokens != tc.prompt {
					t.Errorf("%s: prompt tokens %d", format, resp.Usage.PromptTokens)
				}
				vectors[format] = resp.Data
				up := e.fake(tc.model).Requests()
				if p := up[len(up)-1].Path; !strings.HasSuffix(p, tc.upstreamPath) {
					t.Errorf("upstream path %s", p)
				}
				rec := e.lastRecord(t, n)
				if rec.Format != "embeddings" || rec.Status != 200 || rec.PromptTokens != int(resp.Usage.PromptTokens) || rec.TotalTokens != rec.PromptTokens || rec.CompletionTokens != 0 {
					t.Errorf("record %+v", rec)
				}
			}
			f, b := vectors["float"], vectors["base64"]
			for i := range f {
				for j := range f[i].Embedding {
					if math.Abs(f[i].Embedding[j]-b[i].Embedding[j]) > 1e-6 {
						t.Fatalf("vector %d differs at %d: float %v base64 %v", i, j, f[i].Embedding[j], b[i].Embedding[j])
					}
				}
			}
		})
	}
	if _, ok := usage.DefaultPrices().Lookup("gemini", "gemini-embedding-001"); !ok {
		t.Error("gemini-embedding-001 has no price")
	}
}

// The OpenAI pass-through sends the body unchanged but for the model, and
// relays the answer unchanged; token-array input passes through.
func TestEmbeddingsPassThrough(t *testing.T) {
	e := newClaudeEnv(t)
	body := `{"model":"openai/text-embedding-3-large","input":[[1,2,3],[4,5]],"user":"u1","future":true}`
	resp, got := e.rawPost(t, e.srv.URL+"/v1/embeddings", accessKey, body)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, got)
	}
	sent := lastBody(t, e.openai)
	if want := strings.Replace(body, "openai/text-embedding-3-large", "text-embedding-3-large", 1); string(sent) != want {
		t.Errorf("upstream got %s", sent)
	}
	_, direct := e.rawPost(t, e.openai.BaseURL()+"/embeddings", e.openai.Key, string(sent))
	if string(got) != string(direct) {
		t.Errorf("relayed %s\nupstream sent %s", got, direct)
	}
	if rec := e.lastRecord(t, 1); rec.PromptTokens != int(gjson.GetBytes(got, "usage.prompt_tokens").Int()) || rec.Estimated {
		t.Errorf("record %+v", rec)
	}
}

// Bad bodies, providers without embeddings and input Gemini cannot embed
// are refused with a 400 in OpenAI's shape before anything goes upstream.
func TestEmbeddingsRefusals(t *testing.T) {
	e := newClaudeEnv(t)
	for _, tc := range []struct{ body, param, says string }{
		{`{"model":"openai/text-embedding-3-small"}`, "input", "input"},
		{`{"model":"openai/text-embedding-3-small","input":[]}`, "input", "empty"},
		{`{"model":"openai/text-embedding-3-small","input":["a",1]}`, "input[1]", "one kind"},
		{`{"model":"openai/text-embedding-3-small","input":[[1,-2]]}`, "input[0][1]", "token ids"},
		{`{"model":"openai/text-embedding-3-small","input":"a","encoding_format":"int8"}`, "encoding_format", "float or base64"},
		{`{"model":"openai/text-embedding-3-small","input":"a","dimensions":0}`, "dimensions", "positive"},
		{`{"model":"","input":"a"}`, "model", "empty"},
		{`{"model":"anthropic/claude-sonnet-4-5","input":"a"}`, "model", "anthropic does not serve embeddings"},
		{`{"model":"gemini/gemini-embedding-001","input":[[1,2]]}`, "input[0]", "text only"},
		{`not json`, "", "JSON"},
	} {
		resp, body := e.rawPost(t, e.srv.URL+"/v1/embeddings", accessKey, tc.body)
		if resp.StatusCode != 400 || gjson.GetBytes(body, "error.param").Str != tc.param || !strings.Contains(gjson.GetBytes(body, "error.message").Str, tc.says) {
			t.Errorf("%s: %d %s", tc.body, resp.StatusCode, body)
		}
	}
	for _, s := range []*testupstream.Server{e.openai, e.gemini, e.claude} {
		if n := len(s.Requests()); n != 0 {
			t.Errorf("%d refused requests went upstream", n)
		}
	}
	// An upstream error is relayed in OpenAI's shape.
	e.openai.Enqueue(testupstream.Reply{Status: 429, RetryAfter: "1"})
	_, err := e.oai().Embeddings.New(ctxTimeout(t), openai.EmbeddingNewParams{Model: "openai/text-embedding-3-small",
		Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("a")}})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 {
		t.Errorf("upstream 429: %v", err)
	}
}
