package liveconfig

import (
	"reflect"
	"testing"

	"github.com/llmbridge/llmbridge/internal/configfile"
)

// FuzzImportDocument feeds the import parser arbitrary bodies: it never
// panics, and whatever it accepts survives the trip through stored rows
// unchanged.
func FuzzImportDocument(f *testing.F) {
	for _, s := range []string{
		`{"providers":[{"name":"a","api_key":"k","models":["m"]}],"prices":{"a/m":{"input":1,"output":2}}}`,
		"routes:\n  - name: r\n    targets: [{model: a/m, weight: 2}]\ncache:\n  ttl: 1h\nalerts:\n  rules: [{name: e, kind: error_rate, above: 5%}]\n",
		`{"providers":[{"name":"x","headers":{"X-A":"b"},"api_keys":["1","2"]}]}`,
		`{"Providers":[]}`, `[]`, `{"prices":{"a/b":{"long_context":{"above":5,"input":1}}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var d document
		if decodeStrict(b, &d) != nil {
			return
		}
		l := &configfile.Layer{}
		importInto(l, &d)
		back, err := layerOf(rowsOf(l))
		if err != nil {
			t.Fatalf("rows of an accepted document do not read back: %v", err)
		}
		if !reflect.DeepEqual(rowsOf(back), rowsOf(l)) {
			t.Fatalf("round trip changed the rows:\n%+v\n%+v", rowsOf(l), rowsOf(back))
		}
	})
}
