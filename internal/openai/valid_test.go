package openai

import (
	"encoding/json"
	"strings"
	"testing"
)

var validSeeds = []string{
	`{}`, `[]`, `{"a":1}`, ` {"a" : [1, 2.5e-3, -0, true, false, null, "x\u00e9\n"]} `,
	`{"a":}`, `{"a":1,}`, `[1,]`, `01`, `1.`, `.5`, `-`, `1e`, `"\x"`, "\"a\tb\"", `"\ud800"`, "\"\xff\"",
	`{"a":1}{}`, `nul`, `true false`, `{"a" 1}`, `{1:2}`, "\x00", ``, ` `, `"`, `[`, `]`, `{"a":"b"`,
	"[1]\x00", `1 2`, `+1`, `1E+2`, `-01`, `0.0e0`, `[[[]]]`, `{"\u0000":1}`, `"\/"`, `"\u12"`,
	strings.Repeat("[", maxNesting) + strings.Repeat("]", maxNesting),
	strings.Repeat("[", maxNesting-1) + strings.Repeat("]", maxNesting-1),
	strings.Repeat("[", maxNesting+1) + strings.Repeat("]", maxNesting+1),
	strings.Repeat(`{"a":`, 200) + "1" + strings.Repeat("}", 200),
}

func TestValidJSONIsJSONValid(t *testing.T) {
	for _, s := range validSeeds {
		if got, want := ValidJSON([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("ValidJSON(%.40q) = %v, json.Valid %v", s, got, want)
		}
	}
	if !ValidJSON(typicalBody()) {
		t.Fatal("the typical body is refused")
	}
}

func FuzzValidJSON(f *testing.F) {
	for _, s := range validSeeds {
		if len(s) < 1000 { // the deep seeds stay in the test above: they slow the fuzzer down tenfold
			f.Add([]byte(s))
		}
	}
	f.Add(typicalBody())
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := ValidJSON(data), json.Valid(data); got != want {
			t.Fatalf("ValidJSON(%q) = %v, json.Valid %v", data, got, want)
		}
	})
}

// BenchmarkValidJSON: the typical 2 kB body, ValidJSON against json.Valid.
func BenchmarkValidJSON(b *testing.B) {
	body := typicalBody()
	for _, c := range []struct {
		name string
		f    func([]byte) bool
	}{{"ValidJSON", ValidJSON}, {"json.Valid", json.Valid}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if !c.f(body) {
					b.Fatal("refused")
				}
			}
		})
	}
}
