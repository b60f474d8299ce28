package liveconfig

import (
	"reflect"
	"strings"
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

// FuzzAuditFields: whatever an admin request's body and path, the audit
// entry never holds the value of a member named like a secret, and
// naming the action never panics.
func FuzzAuditFields(f *testing.F) {
	f.Add([]byte(`{"name":"a","api_key":"sk-x","Token":"t","models":["m"],"rpm":5}`), "/admin/api/keys/vk_1")
	f.Add([]byte(`{"PASSWORD":"p","nested":{"secret":"s"}}`), "/admin/api/cache")
	f.Add([]byte(`[1,2]`), "/admin/api/")
	f.Fuzz(func(t *testing.T, body []byte, path string) {
		_, _ = adminAction("POST", path)
		for k, v := range auditFields(body) {
			lk := strings.ToLower(k)
			if (strings.Contains(lk, "key") || strings.Contains(lk, "secret") || strings.Contains(lk, "token") || strings.Contains(lk, "password")) && v != "set" {
				t.Fatalf("member %q recorded as %v", k, v)
			}
			if s, ok := v.(string); ok && len(s) > 200 {
				t.Fatalf("member %q recorded whole (%d bytes)", k, len(s))
			}
		}
	})
}
