package responses

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/llmbridge/llmbridge/internal/openai"
)

// sameEnvelope fails t unless appendJSON writes env as encoding/json
// does (openai.Marshal of an envelope takes encoding/json's path), or
// gives up where encoding/json fails.
func sameEnvelope(t *testing.T, env *envelope) {
	t.Helper()
	want, werr := openai.Marshal(env)
	got, ok := env.appendJSON(nil)
	if ok != (werr == nil) {
		t.Fatalf("appendJSON ok %v, encoding/json's error %v", ok, werr)
	}
	if ok && !bytes.Equal(got, want) {
		t.Fatalf("appendJSON:\n%s\nencoding/json:\n%s", got, want)
	}
}

// envelopeRequests are Responses requests whose members a Response
// echoes, in every form appendJSON writes.
var envelopeRequests = []string{
	`{"model":"m","input":"hi"}`,
	`{"model":"m","input":"hi","instructions":"Be <brief> & \"kind\"\n","max_output_tokens":100,"parallel_tool_calls":false,"temperature":0.000001,"top_p":0.5,
	  "reasoning":{"effort":"high","summary":"auto"},"text":{"format":{"type":"json_schema","name":"x","schema":{"type":"object"}}},"tool_choice": { "type" : "function", "name":"f" },
	  "tools":[{"type":"function","name":"f","description":"","parameters": {"type": "object" , "properties":{}},"strict":true,"zz":[1, 2],"aa":null},{"type":"web_search"},{"type":"function","name":"g"}],
	  "metadata":{"b":"2","a":"1","é\u2028":"<"},"truncation":"auto","user":"u-1"}`,
	`{"model":"m","input":"hi","temperature":1.5e-7,"top_p":0.1,"metadata":{},"tools":[]}`,
}

func TestEnvelopeIsEncodingJSON(t *testing.T) {
	for _, body := range envelopeRequests {
		req, aerr := Decode([]byte(body))
		if aerr != nil {
			t.Fatalf("%s: %v", body, aerr)
		}
		env := newEnvelope(&Translation{Request: req}, "resp_1", "m", 1782955817)
		env.Output, env.Usage = json.RawMessage(`[]`), appendUsage(nil, &openai.Usage{PromptTokens: 3, CompletionTokens: 4})
		sameEnvelope(t, &env)
		env.finish("stop", 1782955820)
		sameEnvelope(t, &env)
		env.finish("length", 1782955820)
		sameEnvelope(t, &env)
	}
	env := newEnvelope(nil, "resp_2", "", 0)
	sameEnvelope(t, &env) // Output and Usage nil: null
	env.Metadata, env.Tools = nil, nil
	sameEnvelope(t, &env)
	for _, f := range []float64{1e21, 123456789012, 1e-7, math.Copysign(0, -1), 2.5e-300} {
		e := newEnvelope(nil, "resp_f", "m", 1)
		e.Temperature, e.TopP = f, -f
		sameEnvelope(t, &e)
	}
	for _, bad := range []func(*envelope){
		func(e *envelope) { e.Temperature = math.NaN() },
		func(e *envelope) { e.TopP = math.Inf(1) },
		func(e *envelope) { e.ToolChoice = json.RawMessage(`{"a":`) },
		func(e *envelope) { e.Tools = []Tool{{Type: "function", Parameters: json.RawMessage(`nope`)}} },
		func(e *envelope) {
			e.Tools = []Tool{{Type: "function", Extra: map[string]json.RawMessage{"x": json.RawMessage(`[`)}}}
		},
	} {
		e := newEnvelope(nil, "resp_3", "m", 1)
		bad(&e)
		sameEnvelope(t, &e)
	}
	// Codex's recorded request: its tools, instructions and reasoning.
	codex, err := os.ReadFile(filepath.Join("testdata", "request_codex.json"))
	if err != nil {
		t.Fatal(err)
	}
	req, aerr := Decode(codex)
	if aerr != nil {
		t.Fatal(aerr)
	}
	env = newEnvelope(&Translation{Request: req}, "resp_4", "gpt-5", 1)
	sameEnvelope(t, &env)
}

// FuzzEnvelope: whatever request a client sends, the Response object
// that echoes it is written as encoding/json writes it.
func FuzzEnvelope(f *testing.F) {
	for _, body := range envelopeRequests {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, aerr := Decode(body)
		if aerr != nil {
			return
		}
		env := newEnvelope(&Translation{Request: req}, "resp_1", "m", 1)
		sameEnvelope(t, &env)
	})
}
