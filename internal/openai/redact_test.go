package openai

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

const testSecret = "sk-proj-Secret0123456789"

func TestRedactJSON(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"error":{"message":"Incorrect API key provided: sk-proj-Secret0123456789.","code":"invalid_api_key"}}`,
			`{"error":{"message":"Incorrect API key provided: [redacted].","code":"invalid_api_key"}}`},
		{`{"error":{"message":"GET https://x.example/v1?key=sk-proj-Secret0123456789&alt=sse failed","n":1.50}}`,
			`{"error":{"message":"GET https://x.example/v1?key=[redacted]&alt=sse failed","n":1.50}}`},
		// Escaped: decoded, the string holds the key; re-encoded, only it changes.
		{`{"a":"\"x\"","m":"key \u0073k-proj-Secret0123456789 \u0026 more", "b" : [1, "\n"]}`,
			`{"a":"\"x\"","m":"key [redacted] & more", "b" : [1, "\n"]}`},
		{`{"sk-proj-Secret0123456789":true}`, `{"[redacted]":true}`},
		{`{"m":"sk-proj-Secret0123456789sk-proj-Secret0123456789"}`, `{"m":"[redacted][redacted]"}`},
		{`{"m":"\u0041Bsk-proj-Secret0123456789"}`, `{"m":"AB[redacted]"}`},
		// Not JSON: the key goes wherever it stands.
		{`not json sk-proj-Secret0123456789 {"m":"sk-proj-Secret0123456789`, `not json [redacted] {"m":"[redacted]`},
	} {
		got := RedactJSON([]byte(c.in), testSecret)
		if string(got) != c.want {
			t.Errorf("RedactJSON(%s)\n = %s\nwant %s", c.in, got, c.want)
		}
	}
	// Nothing to redact: the same bytes, not a copy.
	for _, in := range []string{`{"error":{"message":"overloaded"}}`, `{"m":"\"quoted\" \u0041"}`} {
		b := []byte(in)
		if got := RedactJSON(b, testSecret); &got[0] != &b[0] || string(got) != in {
			t.Errorf("RedactJSON(%s) = %s, a copy", in, got)
		}
	}
	// The secret's letters beside an escape's hex digits, though the text
	// does not hold it: the string is written again without the escape.
	if got := RedactJSON([]byte(`{"m":"\u0041BCxyzw"}`), "41BCxyzw"); string(got) != `{"m":"ABCxyzw"}` {
		t.Errorf("escape overlap: %s", got)
	}
	if got := RedactJSON([]byte(`{"m":"abc"}`), "abc"); string(got) != `{"m":"abc"}` {
		t.Errorf("a secret under 4 bytes was redacted: %s", got)
	}
	plain := []byte(`{"error":{"message":"overloaded"}}`)
	if n := testing.AllocsPerRun(100, func() { RedactJSON(plain, testSecret) }); n != 0 {
		t.Errorf("%v allocations for an event without the key", n)
	}
}

// FuzzRedactJSON: whatever the event, the secret does not come out, and a
// valid JSON event stays valid JSON whose strings hold no secret.
func FuzzRedactJSON(f *testing.F) {
	f.Add([]byte(`{"error":{"message":"Incorrect API key provided: sk-proj-Secret0123456789","type":"invalid_request_error"}}`), testSecret)
	f.Add([]byte(`{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key \u0073k-ant-api03-xyz"}}`), "sk-ant-api03-xyz")
	f.Add([]byte(`{"type":"response.failed","response":{"error":{"message":"https://h/v1?key=AIzaSyKey0123&x=1"}},"sequence_number":3}`), "AIzaSyKey0123")
	f.Fuzz(func(t *testing.T, data []byte, secret string) {
		if len(secret) < 4 || strings.ContainsAny(secret, "[]") || strings.Contains(Redacted, secret) {
			return // the mark itself would hold it
		}
		out := RedactJSON(data, secret)
		if !json.Valid(data) {
			if bytes.Contains(out, []byte(secret)) {
				t.Fatalf("%q still holds %q: %q", data, secret, out)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("valid %q became invalid %q", data, out)
		}
		// A key-like secret (letters that no number, literal or escape
		// holds) is gone from the bytes too.
		keyLike := strings.ContainsAny(secret, "ghijkmopqvwxyzGHIJKLMNOPQRSTUVWXYZ_") && !strings.ContainsAny(secret, "\\\"")
		if keyLike && bytes.Contains(out, []byte(secret)) {
			t.Fatalf("%q still holds %q: %q", data, secret, out)
		}
		var v any
		_ = json.Unmarshal(out, &v)
		var walk func(any)
		walk = func(v any) {
			switch v := v.(type) {
			case string:
				if strings.Contains(v, secret) {
					t.Fatalf("a string of %q holds %q", out, secret)
				}
			case []any:
				for _, e := range v {
					walk(e)
				}
			case map[string]any:
				for k, e := range v {
					walk(k)
					walk(e)
				}
			}
		}
		walk(v)
	})
}
