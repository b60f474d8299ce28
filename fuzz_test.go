package llmbridge

import (
	"encoding/json"
	"testing"
)

// FuzzParseEnvelope: the byte-level request check never panics and, when it
// accepts a body, agrees with encoding/json about model, messages and stream
// (so routing and the upstream read the same request).
func FuzzParseEnvelope(f *testing.F) {
	for _, s := range []string{
		`{"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"m","messages":[{}],"stream":true,"stream_options":{"include_usage":true}}`,
		`{"model":"a","model":"b","messages":[{}]}`,
		`{"model":"m","messages":[],"stream":null}`,
		` {"model":"\u006d","messages":[1]} `,
		`[]`, `{`, `{"model":5}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		env := (chatFormat{}).parse(body)
		if aerr := env.bad; aerr != nil {
			if aerr.Status != 400 || aerr.Message == "" {
				t.Fatalf("bad error %+v", aerr)
			}
			return
		}
		var std struct {
			Model    *string           `json:"model"`
			Messages []json.RawMessage `json:"messages"`
			Stream   *bool             `json:"stream"`
		}
		if err := json.Unmarshal(body, &std); err != nil {
			t.Fatalf("accepted %q but encoding/json says %v", body, err)
		}
		if std.Model == nil || *std.Model != env.model || len(std.Messages) == 0 || (std.Stream != nil && *std.Stream) != env.stream {
			t.Fatalf("disagreement on %q: env %+v", body, env)
		}
	})
}
