package llmbridge

import (
	"encoding/json"
	"testing"

	"github.com/llmbridge/llmbridge/internal/responses"
	"github.com/tidwall/gjson"
)

// FuzzResponsesEnvelope: the Responses envelope check never panics, is
// the reference (refResponsesEnvelope), and when it accepts a body agrees
// with encoding/json about model and stream (so routing and the upstream
// read the same request).
func FuzzResponsesEnvelope(f *testing.F) {
	for _, s := range responsesEnvelopeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		sameResponsesEnvelope(t, body)
		env := responsesEnvelope(body)
		if env.bad != nil {
			if env.bad.Status != 400 {
				t.Fatalf("status %d", env.bad.Status)
			}
			return
		}
		var v struct {
			Model  string `json:"model"`
			Stream *bool  `json:"stream"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("accepted %q that encoding/json refuses: %v", body, err)
		}
		if v.Model != env.model || (v.Stream != nil && *v.Stream) != env.stream {
			t.Fatalf("%q: envelope %q/%v, encoding/json %q/%v", body, env.model, env.stream, v.Model, v.Stream)
		}
	})
}

// FuzzEmbeddingsEnvelope: the embeddings check never panics, and what it
// accepts is an object with a model string and an input encoding/json
// reads as a string, strings, token ids or token id arrays.
func FuzzEmbeddingsEnvelope(f *testing.F) {
	for _, s := range []string{
		`{"model":"m","input":"a"}`, `{"model":"m","input":["a","b"],"encoding_format":"base64","dimensions":8}`,
		`{"model":"m","input":[1,2]}`, `{"model":"m","input":[[1],[2,3]]}`, `{"model":"m","input":[]}`,
		`{"model":"m","input":[[]]}`, `{"model":"m","input":["a",1]}`, `{"model":"m","input":"a","dimensions":1.5}`, `[]`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		env := embeddingsEnvelope(body)
		if env.bad != nil {
			return
		}
		var v struct {
			Model string          `json:"model"`
			Input json.RawMessage `json:"input"`
		}
		if err := json.Unmarshal(body, &v); err != nil || v.Model != env.model || v.Model == "" {
			t.Fatalf("accepted %q: %v (model %q)", body, err, env.model)
		}
		var s string
		var ss []string
		var ids []uint64
		var arrays [][]uint64
		if json.Unmarshal(v.Input, &s) != nil && json.Unmarshal(v.Input, &ss) != nil && json.Unmarshal(v.Input, &ids) != nil && json.Unmarshal(v.Input, &arrays) != nil {
			t.Fatalf("accepted input %s", v.Input)
		}
	})
}

// FuzzResponsesUsage: any usage object reads without panicking, and the
// total is never below its parts when the upstream gave none.
func FuzzResponsesUsage(f *testing.F) {
	f.Add([]byte(`{"input_tokens":5,"output_tokens":2,"total_tokens":7,"input_tokens_details":{"cached_tokens":1},"output_tokens_details":{"reasoning_tokens":1}}`))
	f.Add([]byte(`{"input_tokens":5,"output_tokens":2}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r := gjson.ParseBytes(raw)
		if !r.IsObject() {
			return
		}
		u := responses.UsageOf(r)
		if !r.Get("total_tokens").Exists() && u.TotalTokens != u.PromptTokens+u.CompletionTokens {
			t.Fatalf("%s: %+v", raw, u)
		}
	})
}
