package anthropic

import (
	"bytes"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/tidwall/gjson"
)

// refCheckEnvelope is CheckEnvelope as it was before it read the tape
// openai.ReadChecked makes (gjson walking the body again): the reference
// TestCheckEnvelopeIsTheReference and FuzzCheckEnvelope hold it to.
func refCheckEnvelope(body []byte, countTokens bool) (Envelope, *openai.APIError) {
	var env Envelope
	// One reading of the body: its validity and, before anything reads a
	// member by name, that no member differs from a known one only in
	// case and no object has a name twice (openai.CheckMembers's checks).
	valid, _, fault := openai.CheckJSON(body, requestMembers)
	if !valid {
		return env, invalid("", "There was an error parsing the body of your request: it is not valid JSON.")
	}
	root := openai.ParseView(body)
	env.TextBytes = openai.WalkTextBytes(root)
	if !root.IsObject() {
		return env, invalid("", "The request body must be a JSON object.")
	}
	top := refReadTopMembers(root)
	if fault == nil && top.model.Type == gjson.String {
		env.Model = top.model.Str
	}
	env.Stream = !countTokens && top.stream.Type == gjson.True
	if fault != nil {
		return env, memberInvalid("", fault)
	}
	if bad := top.check(countTokens); bad != nil {
		return env, bad
	}
	return env, refCheckMessages(top.messages)
}

// refTopMembers are the members of a Messages request that CheckEnvelope
// checks; a member not given is the zero Result.
type refTopMembers struct {
	model, messages, maxTokens, stream, system, tools gjson.Result
}

// refReadTopMembers reads the top-level members CheckEnvelope checks, the
// last of each where one is given twice.
func refReadTopMembers(root gjson.Result) refTopMembers {
	var top refTopMembers
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "model":
			top.model = v
		case "messages":
			top.messages = v
		case "max_tokens":
			top.maxTokens = v
		case "stream":
			top.stream = v
		case "system":
			top.system = v
		case "tools":
			top.tools = v
		}
		return true
	})
	return top
}

// check validates the top-level members' presence and types; max_tokens
// is not required when countTokens (count_tokens takes none).
func (top *refTopMembers) check(countTokens bool) *openai.APIError {
	switch {
	case !top.model.Exists():
		return invalid("model", "model: Field required")
	case top.model.Type != gjson.String:
		return invalid("model", "model: Input should be a valid string")
	case top.model.Str == "":
		return invalid("model", "model: String should have at least 1 character")
	case !top.messages.Exists():
		return invalid("messages", "messages: Field required")
	case !top.messages.IsArray():
		return invalid("messages", "messages: Input should be a valid list")
	case !countTokens && !top.maxTokens.Exists():
		return invalid("max_tokens", "max_tokens: Field required")
	case top.maxTokens.Exists() && !countTokens && !refPositiveInt(top.maxTokens):
		return invalid("max_tokens", "max_tokens: Input should be a valid integer greater than or equal to 1")
	case top.stream.Exists() && top.stream.Type != gjson.True && top.stream.Type != gjson.False:
		return invalid("stream", "stream: Input should be a valid boolean")
	case top.system.Exists() && top.system.Type != gjson.String && !top.system.IsArray():
		return invalid("system", "system: Input should be a valid string or a list of text blocks")
	case top.tools.Exists() && !top.tools.IsArray():
		return invalid("tools", "tools: Input should be a valid list")
	}
	return nil
}

// refCheckMessages validates the entries of messages, an array: at least
// one, each a valid message.
func refCheckMessages(messages gjson.Result) *openai.APIError {
	n := 0
	var bad *openai.APIError
	messages.ForEach(func(_, m gjson.Result) bool {
		bad = refCheckMessage(m, n)
		n++
		return bad == nil
	})
	if bad != nil {
		return bad
	}
	if n == 0 {
		return invalid("messages", "messages: at least one message is required")
	}
	return nil
}

func refPositiveInt(v gjson.Result) bool {
	if v.Type != gjson.Number || strings.ContainsAny(v.Raw, ".eE") {
		return false
	}
	return v.Int() >= 1
}

// checkMessage validates one entry of messages. Its paths are made only
// for a refusal: an agent's request has hundreds of messages.
func refCheckMessage(m gjson.Result, i int) *openai.APIError {
	p := func() string { return "messages." + strconv.Itoa(i) }
	if !m.IsObject() {
		return invalid(p(), "%s: Input should be a valid dictionary", p())
	}
	role, content := m.Get("role"), m.Get("content")
	switch {
	case !role.Exists():
		return invalid(p()+".role", "%s.role: Field required", p())
	case role.Type != gjson.String || role.Str != "user" && role.Str != "assistant" && role.Str != "system":
		// Claude Code sends system messages inside the list; the API takes them.
		return invalid(p()+".role", "%s.role: Input should be 'user', 'assistant' or 'system'", p())
	case !content.Exists():
		return invalid(p()+".content", "%s.content: Field required", p())
	case content.Type == gjson.String:
		return nil
	case !content.IsArray():
		return invalid(p()+".content", "%s.content: Input should be a valid string or a list of content blocks", p())
	}
	j := 0
	var bad *openai.APIError
	content.ForEach(func(_, b gjson.Result) bool {
		bp := func() string { return p() + ".content." + strconv.Itoa(j) }
		if !b.IsObject() {
			bad = invalid(bp(), "%s: Input should be a valid dictionary", bp())
		} else if t := b.Get("type"); t.Type != gjson.String || t.Str == "" {
			bad = invalid(bp()+".type", "%s.type: Field required", bp())
		}
		j++
		return bad == nil
	})
	return bad
}

// sameCheck fails t when CheckEnvelope and refCheckEnvelope differ on body.
func sameCheck(t *testing.T, body []byte, countTokens bool) {
	t.Helper()
	env, bad := CheckEnvelope(body, countTokens)
	if bad != nil && bad.Message == "There was an error parsing the body of your request: it is not valid UTF-8." {
		// Not the reference's: it read such a body, and the model name it
		// gave the router was not the one the decoder read.
		if utf8.Valid(body) || !json.Valid(body) {
			t.Fatalf("CheckEnvelope(%.200q): refused as not UTF-8", body)
		}
		return
	}
	if !utf8.Valid(body) && json.Valid(body) && bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
		t.Fatalf("CheckEnvelope(%.200q): a body that is not UTF-8 is not refused as such: %v", body, bad)
	}
	renv, rbad := refCheckEnvelope(body, countTokens)
	if env != renv {
		t.Fatalf("CheckEnvelope(%.200q, %v): envelope %+v, the reference's %+v", body, countTokens, env, renv)
	}
	if (bad == nil) != (rbad == nil) || bad != nil && (bad.Param != rbad.Param || bad.Message != rbad.Message || bad.Status != rbad.Status) {
		t.Fatalf("CheckEnvelope(%.200q, %v): %v, the reference's %v", body, countTokens, bad, rbad)
	}
}

var checkSeeds = []string{
	`{"model":"m","max_tokens":1024,"messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m","max_tokens":1024,"stream":true,"system":[{"type":"text","text":"s"}],"tools":[],"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image","source":{}}]},{"role":"assistant","content":[{"type":"tool_use","id":"x","name":"n","input":{}}]}]}`,
	`{"model":"","max_tokens":1,"messages":[]}`, `{"model":1}`, `{"messages":[{"role":"user","content":"x"}]}`, `{"model":"m","messages":{}}`,
	`{"model":"m","messages":[{"role":"user","content":"x"}]}`, `{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"x"}]}`,
	`{"model":"m","max_tokens":1.5,"messages":[{"role":"user","content":"x"}]}`, `{"model":"m","max_tokens":-3,"messages":[{"role":"user","content":"x"}]}`,
	`{"model":"m","max_tokens":99999999999999999999,"messages":[{"role":"user","content":"x"}]}`, `{"model":"m","max_tokens":9223372036854775807,"messages":[{"role":"user","content":"x"}]}`,
	`{"model":"m","max_tokens":1,"stream":"yes","messages":[{"role":"user","content":"x"}]}`, `{"model":"m","max_tokens":1,"system":3,"messages":[{"role":"user","content":"x"}]}`,
	`{"model":"m","max_tokens":1,"tools":{},"messages":[{"role":"user","content":"x"}]}`, `{"model":"m","max_tokens":1,"messages":[1]}`,
	`{"model":"m","max_tokens":1,"messages":[{"content":"x"}]}`, `{"model":"m","max_tokens":1,"messages":[{"role":"tool","content":"x"}]}`,
	`{"model":"m","max_tokens":1,"messages":[{"role":"user"}]}`, `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":3}]}`,
	`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[3]}]}`, `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":""}]}]}`,
	`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"text":"x"}]}]}`, `{"model":"m","max_tokens":1,"messages":[{"Role":"user","content":"x"}]}`,
	`{"Model":"m","max_tokens":1,"stream":true,"messages":[{"role":"user","content":"x"}]}`, `{"model":"m","model":"n","stream":false,"stream":true}`,
	`{"model":"m\u0041","max_tokens":1,"messages":[{"role":"us\u0065r","content":[{"type":"t\u0065xt"}]}]}`, `[1]`, `"x"`, `{`, ``, `null`,
	`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x","role":"assistant"}]}`,
	`{"model":"m","max_tokens":-99999999999999999999,"messages":[{"role":"user","content":"x"}]}`,
	"{\"model\":\"\\u0041\xff\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
	"{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"\xc3\"}]}",
}

func TestCheckEnvelopeIsTheReference(t *testing.T) {
	for _, s := range checkSeeds {
		for _, count := range []bool{false, true} {
			sameCheck(t, []byte(s), count)
		}
	}
	sameCheck(t, testdata(t, "inbound_request.json"), false)
}

// A body of more values than a tape takes is refused with a 413, as a
// chat request is (openai.ParseChat); the reference read it with gjson.
func TestCheckEnvelopeTooManyValues(t *testing.T) {
	body := []byte(`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],"x":[` + strings.Repeat("0,", 1<<20) + `0]}`)
	if _, bad := CheckEnvelope(body, false); bad == nil || bad.Status != 413 {
		t.Fatalf("%d values: %v, want a 413", 1<<20, bad)
	}
}

func FuzzCheckEnvelope(f *testing.F) {
	for _, s := range checkSeeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Add(testdata(f, "inbound_request.json"), true)
	f.Fuzz(func(t *testing.T, body []byte, countTokens bool) { sameCheck(t, body, countTokens) })
}

func testdata(t testing.TB, name string) []byte {
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
