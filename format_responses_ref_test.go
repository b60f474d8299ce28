package llmbridge

import (
	"os"
	"testing"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/responses"
	"github.com/tidwall/gjson"
)

// refResponsesEnvelope and refJSONObject are responsesEnvelope and
// checkObject as they were before they read the tape of the member check
// (gjson walking the body again): the reference sameResponsesEnvelope
// holds them to.
func refResponsesEnvelope(body []byte) envelope {
	var env envelope
	bad := func(param, code, format string, args ...any) envelope {
		env.bad = badRequest(param, code, format, args...)
		return env
	}
	// The pass-through sends the body as it came: no member may be one an
	// upstream's decoder reads differently from gjson (a case variant of a
	// documented member, a name given twice in any object).
	root, e := refJSONObject(body, responses.Members())
	if e != nil {
		env.bad = e
		return env
	}
	var model, stream gjson.Result
	dup := ""
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "model":
			if model.Exists() {
				dup = k.Str
			}
			model = v
		case "stream":
			if stream.Exists() {
				dup = k.Str
			}
			stream = v
		}
		return dup == ""
	})
	if dup == "" && model.Type == gjson.String {
		env.model = openai.ClipModel(model.Str)
	}
	env.stream = stream.Type == gjson.True
	switch {
	case dup != "":
		return bad(dup, "invalid_request", "The member %q is given more than once.", dup)
	case !model.Exists():
		return bad("model", "missing_required_parameter", "You must provide a model parameter.")
	case model.Type != gjson.String:
		return bad("model", "invalid_type", "model must be a string.")
	case model.Str == "":
		return bad("model", "invalid_value", "model must not be empty.")
	case len(model.Str) > openai.MaxModelLen:
		return bad("model", "invalid_value", "model may be at most %d characters long.", openai.MaxModelLen)
	case stream.Exists() && stream.Type != gjson.True && stream.Type != gjson.False && stream.Type != gjson.Null:
		return bad("stream", "invalid_type", "stream must be a boolean.")
	}
	return env
}

// refJSONObject parses a body that must be a JSON object in valid UTF-8 (from
// invalid UTF-8, encoding/json would read another model name than the
// router does) with no member name an upstream's decoder could read
// differently from gjson (openai.CheckMembers with the format's top-level
// members): all three checked in one reading of the body.
func refJSONObject(body []byte, members *openai.FieldSet) (gjson.Result, *APIError) {
	valid, utf8OK, fault := openai.CheckJSON(body, members)
	if !valid {
		return gjson.Result{}, badRequest("", "invalid_json", "We could not parse the JSON body of your request: it is not valid JSON.")
	}
	if !utf8OK {
		return gjson.Result{}, badRequest("", "invalid_json", "We could not parse the JSON body of your request: it is not valid UTF-8.")
	}
	root := openai.ParseView(body)
	if !root.IsObject() {
		return gjson.Result{}, badRequest("", "invalid_request", "The request body must be a JSON object.")
	}
	if fault != nil {
		return gjson.Result{}, fault.APIError()
	}
	return root, nil
}

// sameResponsesEnvelope fails t when responsesEnvelope and the reference
// differ on body.
func sameResponsesEnvelope(t *testing.T, body []byte) {
	t.Helper()
	env, ref := responsesEnvelope(body), refResponsesEnvelope(body)
	if env.model != ref.model || env.stream != ref.stream || (env.bad == nil) != (ref.bad == nil) ||
		env.bad != nil && (env.bad.Param != ref.bad.Param || env.bad.Code != ref.bad.Code || env.bad.Message != ref.bad.Message || env.bad.Status != ref.bad.Status) {
		t.Fatalf("responsesEnvelope(%.200q): %q/%v/%v, the reference's %q/%v/%v", body, env.model, env.stream, env.bad, ref.model, ref.stream, ref.bad)
	}
}

func TestResponsesEnvelopeIsTheReference(t *testing.T) {
	for _, s := range responsesEnvelopeSeeds {
		sameResponsesEnvelope(t, []byte(s))
	}
}

var responsesEnvelopeSeeds = []string{
	`{"model":"openai/gpt-4o","input":"hi"}`,
	`{"model":"m","input":[{"type":"message","role":"user","content":"x"}],"stream":true}`,
	`{"model":"a","model":"b"}`, `{"model":"m","stream":null}`, `{"model":"m","stream":"1"}`, `{"stream":true,"stream":false,"model":"m"}`,
	` {"model":"\u006d"} `, `[]`, `{`, `{"model":5}`, `{"model":""}`, `{"input":"x"}`, `{"Model":"m"}`, "{\"model\":\"\xff\"}",
	`{"model":"` + string(make([]byte, 300)) + `"}`, `{"model":"mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm"}`,
	`{"model":"m","stream":true,"input":[{"a":1,"A":2}]}`, `"x"`, ``,
}

// BenchmarkResponsesEnvelope: the envelope check of Codex's request
// (internal/responses/testdata), on the member check's tape and as the
// reference did it.
func BenchmarkResponsesEnvelope(b *testing.B) {
	body, err := os.ReadFile("internal/responses/testdata/request_codex.json")
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		f    func([]byte) envelope
	}{{"tape", responsesEnvelope}, {"reference", refResponsesEnvelope}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if env := c.f(body); env.bad != nil {
					b.Fatal(env.bad)
				}
			}
		})
	}
}
