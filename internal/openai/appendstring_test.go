package openai

import (
	"bytes"
	"encoding/json"
	"testing"
)

// AppendString writes what encoding/json writes without HTML escaping.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote \" back \\ slash", "\n\r\t\x00\x1f\b\f", "<&>", "\u2028\u2029", "bad \xff utf8", "日本語",
		// Longer than the eight bytes read at a time, with what needs a look at each offset.
		"eight by\"tes and more", "0123456789abcdef\\x", "ascii then 日本語 then ascii", "tab\tat three, then plain text", "0123456\x7f89\u2028abcdefgh\xffz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		if got := AppendString(nil, s); !bytes.Equal(got, bytes.TrimSuffix(want.Bytes(), []byte("\n"))) {
			t.Fatalf("AppendString(%q) = %s, encoding/json %s", s, got, want.Bytes())
		}
	})
}
