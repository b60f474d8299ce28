package openai

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/llmbridge/llmbridge/internal/openai/corpus"
)

// FuzzValidateChat: the validator never panics; it accepts only valid
// JSON objects in valid UTF-8 with a model and messages; every refusal is
// a 400 whose param is set unless the body as a whole is not a JSON
// object; and ValidateChatJSON agrees with it on valid JSON.
func FuzzValidateChat(f *testing.F) {
	for _, c := range corpus.Valid("openai/gpt-4o") {
		f.Add(c.Body)
	}
	for i, c := range corpus.Invalid("openai/gpt-4o", 1, 0) {
		if i%7 == 0 && len(c.Body) < 64<<10 {
			f.Add(c.Body)
		}
	}
	for _, p := range memberProbes { // issue 24: case variants and duplicates
		f.Add([]byte(p.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_ = ValidateChatJSON(body) // undefined on invalid JSON, but never a panic
		e := ValidateChat(body)
		var obj map[string]json.RawMessage
		isObject := json.Valid(body) && json.Unmarshal(body, &obj) == nil && obj != nil
		if e == nil {
			if !isObject || !utf8.Valid(body) {
				t.Fatalf("accepted a body that is not a JSON object in UTF-8: %q", body)
			}
			if obj["model"] == nil || obj["messages"] == nil {
				t.Fatalf("accepted a body without model or messages: %q", body)
			}
			return
		}
		if e.Status != 400 || e.Type != TypeInvalidRequest || e.Code == "" || e.Message == "" {
			t.Fatalf("bad error %+v for %q", e, body)
		}
		if isObject && e.Param == "" {
			t.Fatalf("no param for a JSON object: %s (%q)", e.Message, body)
		}
		if json.Valid(body) {
			if e2 := ValidateChatJSON(body); e2 == nil || e2.Param != e.Param || e2.Message != e.Message {
				t.Fatalf("ValidateChatJSON disagrees: %+v vs %+v", e2, e)
			}
		}
	})
}
