package anthropic

import (
	"encoding/json"
	"reflect"
	"testing"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"
)

// schemaCorpus are schemas as clients send them: Pydantic (with $defs,
// anyOf for Optional, constraints), Zod, OpenAI strict ones, and edge
// cases of the transformation.
var schemaCorpus = []string{
	`{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer","minimum":0,"maximum":150}},"required":["name","age"],"additionalProperties":false}`,
	`{"title":"Event","type":"object","properties":{"when":{"type":"string","format":"date-time"},"tag":{"type":"string","format":"slug","maxLength":20},"tags":{"type":"array","items":{"type":"string"},"minItems":2,"maxItems":5}},"required":["when"]}`,
	`{"$defs":{"Step":{"properties":{"explanation":{"title":"Explanation","type":"string"},"output":{"title":"Output","type":"string"}},"required":["explanation","output"],"title":"Step","type":"object"}},"properties":{"steps":{"items":{"$ref":"#/$defs/Step"},"title":"Steps","type":"array"},"final_answer":{"title":"Final Answer","type":"string"}},"required":["steps","final_answer"],"title":"MathReasoning","type":"object"}`,
	`{"type":"object","properties":{"nick":{"anyOf":[{"type":"string","minLength":1},{"type":"null"}],"default":null,"title":"Nick"}},"$schema":"http://json-schema.org/draft-07/schema#"}`,
	`{"type":"object","properties":{"kind":{"oneOf":[{"const":"a"},{"const":"b"}]},"meta":{"type":"object","additionalProperties":{"type":"number","multipleOf":0.5}}}}`,
	`{"type":"object"}`,
	`{"type":"array","items":{"type":"object","properties":{"x":{"enum":[1,2]}}},"minItems":1}`,
	`{"type":"object","properties":{"v":{"anyOf":[{},{"type":"string"}]}},"allOf":[{"type":"object"}]}`,
	`{"type":"string","description":"d","pattern":"^[a-z]+$","examples":["ab"]}`,
}

// The translation's schema rules are the official SDK's: for every
// schema of the corpus, the schema sent in output_config.format is what
// anthropic-sdk-go's BetaJSONSchemaOutputFormat makes of it.
func TestOutputSchemaMatchesTheSDK(t *testing.T) {
	for _, raw := range schemaCorpus {
		var in map[string]any
		if err := json.Unmarshal([]byte(raw), &in); err != nil {
			t.Fatal(err)
		}
		wantB, _ := json.Marshal(sdk.BetaJSONSchemaOutputFormat(in).Schema)
		gotB, err := outputSchema(json.RawMessage(raw), "response_format")
		if err != nil {
			t.Fatal(err)
		}
		var got, want any
		_ = json.Unmarshal(wantB, &want)
		_ = json.Unmarshal(gotB, &got)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s\ngot  %s\nwant %s (anthropic-sdk-go)", raw, gotB, wantB)
		}
	}
}

// A type list (["string","null"], as OpenAI strict schemas write
// optional members) keeps its list and gets the rules of its type.
func TestOutputSchemaTypeLists(t *testing.T) {
	got, err := outputSchema(json.RawMessage(`{"type":["object","null"],"properties":{"s":{"type":["string","null"],"maxLength":3}}}`), "response_format")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"additionalProperties":false,"properties":{"s":{"description":"{maxLength: 3}","type":["string","null"]}},"type":["object","null"]}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// No shape at all: sent as the empty schema (anthropic-sdk-go sends
	// none, a quirk of its round trip through a boolean schema).
	if got, _ := outputSchema(json.RawMessage(`{"description":"anything","minimum":3}`), "p"); string(got) != `{}` {
		t.Errorf("shapeless schema: %s", got)
	}
	for _, bad := range []string{`[]`, `"x"`, `null`, `{`} {
		if _, err := outputSchema(json.RawMessage(bad), "response_format.json_schema.schema"); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func FuzzOutputSchema(f *testing.F) {
	for _, s := range schemaCorpus {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		out, err := outputSchema(raw, "p")
		if err == nil && !json.Valid(out) {
			t.Fatalf("invalid JSON out of %q: %q", raw, out)
		}
	})
}
