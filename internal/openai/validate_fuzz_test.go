package openai

import (
	"encoding/json"
	"fmt"
	"testing"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/llmbridge/llmbridge/internal/openai/corpus"
)

// FuzzValidateChat: the validator never panics; it accepts only valid
// JSON objects in valid UTF-8 with a model and messages; every refusal is
// a 400 whose param is set unless the body as a whole is not a JSON
// object; and it returns what the validator before the one-pass reading
// returned (refValidateChat), as ParseChat does what the envelope parser
// and that validator did (refParseChat).
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
		e := ValidateChat(body)
		if want := refValidateChat(body); !sameError(e, want) {
			t.Fatalf("ValidateChat(%q) = %+v, the reading in several passes %+v", body, e, want)
		}
		env, bad := ParseChat(body)
		if wantEnv, wantBad := refParseChat(body); env != wantEnv || !sameError(bad, wantBad) {
			t.Fatalf("ParseChat(%q) = %+v %+v, the reading in several passes %+v %+v", body, env, bad, wantEnv, wantBad)
		}
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
	})
}

func sameError(a, b *APIError) bool {
	return a == nil && b == nil || a != nil && b != nil && a.Status == b.Status && a.Type == b.Type &&
		a.Code == b.Code && a.Param == b.Param && a.Message == b.Message
}

// refValidateChat is ValidateChat as it was before the body was read in
// one pass: gjson's validator, the trusting tape reader, utf8.Valid over
// the body and CheckMembers's own scan, then the same member checks.
func refValidateChat(body []byte) *APIError {
	if !ValidJSON(body) {
		return notJSON()
	}
	t := readTape(string(body))
	defer putTape(t)
	root := t.root()
	if !root.IsObject() {
		return notObject()
	}
	var f *fault
	if !utf8.Valid(body) {
		f = badUTF8(root)
	} else if mf := CheckMembers(body, chatMembers); mf != nil {
		return mf.APIError()
	} else {
		f = chatObject(root)
	}
	return f.apiError()
}

// refParseChat is the handler's envelope parser as it was (gjson over
// the top level) followed by refValidateChat.
func refParseChat(body []byte) (ChatEnvelope, *APIError) {
	var env ChatEnvelope
	bad := func(param, code, msg string) *APIError {
		return &APIError{Status: 400, Type: TypeInvalidRequest, Code: code, Param: param, Message: msg}
	}
	if !ValidJSON(body) {
		return env, notJSON()
	}
	root := gjson.ParseBytes(body)
	env.TextBytes = WalkTextBytes(root)
	if !root.IsObject() {
		return env, notObject()
	}
	var model, messages, stream, opts gjson.Result
	var dup string
	var variant *MemberFault
	seen := map[string]bool{}
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "model", "messages", "stream", "stream_options":
			if seen[k.Str] {
				dup = k.Str
				return false
			}
			seen[k.Str] = true
		case "n", "temperature": // read as the cache's gjson pass read them: the last number
			if v.Type == gjson.Number && k.Str == "n" {
				env.N, env.HasN = v.Int(), true
			} else if v.Type == gjson.Number {
				env.Temperature, env.HasTemperature = v.Float(), true
			}
			return true
		default:
			variant = ChatMembers().CheckName(k.Str)
			return variant == nil
		}
		switch k.Str {
		case "model":
			model = v
		case "messages":
			messages = v
		case "stream":
			stream = v
		case "stream_options":
			opts = v
		}
		return true
	})
	if dup == "" && variant == nil && model.Type == gjson.String {
		env.Model = model.Str
	}
	env.Stream = stream.Type == gjson.True
	var e *APIError
	switch {
	case variant != nil:
		e = variant.APIError()
	case dup != "":
		e = bad(dup, "invalid_request", fmt.Sprintf("The member %q is given more than once.", dup))
	case !model.Exists():
		e = bad("model", "missing_required_parameter", "You must provide a model parameter.")
	case model.Type != gjson.String:
		e = bad("model", "invalid_type", "model must be a string.")
	case model.Str == "":
		e = bad("model", "invalid_value", "model must not be empty.")
	case !messages.Exists():
		e = bad("messages", "missing_required_parameter", "Missing required parameter: 'messages'.")
	case !messages.IsArray():
		e = bad("messages", "invalid_type", "messages must be an array.")
	case len(messages.Array()) == 0:
		e = bad("messages", "invalid_value", "messages must contain at least one message.")
	case stream.Exists() && stream.Type != gjson.True && stream.Type != gjson.False && stream.Type != gjson.Null:
		e = bad("stream", "invalid_type", "stream must be a boolean.")
	case opts.Exists() && opts.Type != gjson.Null && !opts.IsObject():
		e = bad("stream_options", "invalid_type", "stream_options must be an object.")
	}
	if e != nil {
		return env, e
	}
	env.IncludeUsage = opts.Get("include_usage").Type == gjson.True
	return env, refValidateChat(body)
}

// TestParseChatIsTheReadingInPasses runs the differential check over the
// corpora (FuzzValidateChat explores further).
func TestParseChatIsTheReadingInPasses(t *testing.T) {
	var bodies [][]byte
	for _, c := range corpus.Valid("openai/gpt-4o") {
		bodies = append(bodies, c.Body)
	}
	for _, c := range corpus.Invalid("openai/gpt-4o", 1, 0) {
		bodies = append(bodies, c.Body)
	}
	for _, p := range memberProbes {
		bodies = append(bodies, []byte(p.body))
	}
	for _, s := range validSeeds {
		bodies = append(bodies, []byte(s))
	}
	for _, s := range []string{`{"model":"a","model":"b","messages":[{}]}`, `{"stream":true,"stream":false}`, `{"messages":[],"model":"m"}`,
		`{"model":"m","messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":true,"include_usage":false}}`,
		`{"model":"m","messages":[{"role":"user","content":"x"}],"stream":"yes"}`, `{"model":"m\u00e9","messages":[{"role":"user","content":"x"}]}`,
		`{"Stream":true,"model":"m"}`, `{"model":"m","messages":{"a":1}}`, "{\"model\":\"m\xff\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}"} {
		bodies = append(bodies, []byte(s))
	}
	for _, b := range bodies {
		if got, want := ValidateChat(b), refValidateChat(b); !sameError(got, want) {
			t.Errorf("ValidateChat(%.80q) = %+v, want %+v", b, got, want)
		}
		env, bad := ParseChat(b)
		if wantEnv, wantBad := refParseChat(b); env != wantEnv || !sameError(bad, wantBad) {
			t.Errorf("ParseChat(%.80q) = %+v %+v, want %+v %+v", b, env, bad, wantEnv, wantBad)
		}
	}
}
