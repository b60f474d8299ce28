package openai

import "testing"

// FuzzRewriteBody holds RewriteBody's one-copy rewrite to sjson's, byte
// for byte, on any body and model.
func FuzzRewriteBody(f *testing.F) {
	for _, s := range []string{
		`{"model":"a","messages":[]}`, `{"model":"a","stream":true,"stream_options":{"include_usage":false}}`,
		`{"model":"a","stream_options":{}}`, `{"model":"a","stream_options":{ }}`, `{"model":"a","stream_options":null}`,
		`{"stream_options":{"x":1},"model":"a"}`, `{"model":"a" , "stream_options" : { "x" : 1 } }`, `{"model":5}`,
		`{"a":{"model":"x"}}`, `{"model":"a","model":"b"}`, `{"mod\u0065l":"a"}`, ` {"model":"a"}`, `{"model":"a"} `,
		`{"model":"a","stream_options":{"include_usage":null,"include_usage":1}}`, `[]`, `{}`, `{"model":"a","stream_options":[]}`,
	} {
		f.Add([]byte(s), "gpt-4o", true)
		f.Add([]byte(s), "m\"<é>", false)
	}
	f.Fuzz(func(t *testing.T, body []byte, model string, stream bool) {
		got, gerr := RewriteBody(body, model, stream)
		want, werr := rewriteSJSON(body, model, stream)
		if (gerr == nil) != (werr == nil) || string(got) != string(want) {
			t.Fatalf("RewriteBody(%q, %q, %v) = %q, %v; sjson %q, %v", body, model, stream, got, gerr, want, werr)
		}
	})
}

// BenchmarkRewriteBody: the one-copy rewrite of a streamed request body
// without stream_options, against sjson's.
func BenchmarkRewriteBody(b *testing.B) {
	body := []byte(`{"model":"openai/gpt-4o-mini","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Write twenty words about the sea, the sky and the wind, please."}],"stream":true,"temperature":0.2,"metadata":{"k":"v"}}`)
	for name, f := range map[string]func([]byte, string, bool) ([]byte, error){"one-copy": RewriteBody, "sjson": rewriteSJSON} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f(body, "gpt-4o-mini", true); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
