package openai

import (
	"encoding/json"
	"testing"
)

var unquoteSeeds = []string{`"a"`, `""`, `"a\nb\t\"q\"\\ \/ \b\f\r"`, `"caf\u00e9"`, `"\ud83d\ude00"`, `"\ud800"`, `"\ud800\u0041"`,
	"\"\xff\xfe\"", `"\udc00\ud800"`, `"\u00"`, `"\x"`, `"a`, `a"`, `"é☕"`, "\"a\x01\"", `"\u0000"`, `"\uD834\uDD1E"`}

func sameUnquote(t *testing.T, raw string) {
	var want string
	werr := json.Unmarshal([]byte(raw), &want)
	got, ok := Unquote(raw)
	if ok != (werr == nil) || ok && got != want {
		t.Fatalf("Unquote(%q) = %q %v, encoding/json %q %v", raw, got, ok, want, werr)
	}
}

func TestUnquoteIsEncodingJSON(t *testing.T) {
	for _, s := range unquoteSeeds {
		sameUnquote(t, s)
	}
}

func FuzzUnquote(f *testing.F) {
	for _, s := range unquoteSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		raw := `"` + s + `"`
		if !ValidJSON([]byte(raw)) {
			return // the decoders unquote only what ValidJSON accepted
		}
		sameUnquote(t, raw)
	})
}
