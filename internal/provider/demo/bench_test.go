package demo

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkUpstream measures the demo upstream's own cost per answer
// (parse, tokenizer usage, encode), without network, for a short chat.
func BenchmarkUpstream(b *testing.B) {
	u := NewUpstream("", 0, counter)
	for _, tc := range []struct{ name, body string }{
		{"json", `{"model":"echo","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"The quick brown fox jumps over the lazy dog."}]}`},
		{"stream", `{"model":"echo","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"The quick brown fox jumps over the lazy dog."}]}`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				u.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(tc.body)))
				if w.Code != http.StatusOK {
					b.Fatal(w.Code)
				}
			}
		})
	}
}
