package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// The probe's payloads (issue 24, item 3) and their relatives: each is
// refused by CheckMembers with the chat set, naming the member.
var memberProbes = []struct {
	name, body, param, dotted, other string
}{
	{"case variant beside model", `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"Model":"o1"}`, "Model", "Model", "model"},
	{"case variant alone", `{"Model":"o1","messages":[{"role":"user","content":"hi"}]}`, "Model", "Model", "model"},
	{"upper case", `{"model":"m","MESSAGES":[],"messages":[{"role":"user","content":"hi"}]}`, "MESSAGES", "MESSAGES", "messages"},
	{"escaped variant", `{"model":"m","messages":[{"role":"user","content":"hi"}],"\u004dodel":"o1"}`, "Model", "Model", "model"},
	{"long s folds to s", `{"model":"m","messages":[{"role":"user","content":"hi"}],"ſtream":true}`, "ſtream", "ſtream", "stream"},
	{"Kelvin sign folds to k", `{"model":"m","messages":[{"role":"user","content":"hi"}],"max_to` + "\u212a" + `ens":1}`, "max_to\u212aens", "max_to\u212aens", "max_tokens"},
	{"exact duplicate", `{"model":"a","model":"b","messages":[{"role":"user","content":"hi"}]}`, "model", "model", "model"},
	{"escaped duplicate", `{"model":"a","\u006dodel":"b","messages":[{"role":"user","content":"hi"}]}`, "model", "model", "model"},
	{"nested case duplicate", `{"model":"m","messages":[{"role":"user","content":"hi","Content":"bye"}]}`, "messages[0].Content", "messages.0.Content", "content"},
	{"deep duplicate", `{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{},"A":{}}}}}]}`,
		"tools[0].function.parameters.properties.A", "tools.0.function.parameters.properties.A", "a"},
	{"unknown members twice", `{"model":"m","messages":[{"role":"user","content":"hi"}],"x_extra":1,"X_EXTRA":2}`, "X_EXTRA", "X_EXTRA", "x_extra"},
	{"lone surrogates", `{"model":"m","messages":[{"role":"user","content":"hi"}],"\ud800":1,"\udfff":2}`, "\ufffd", "\ufffd", "\ufffd"},
	{"empty names", `{"model":"m","messages":[{"role":"user","content":"hi"}],"":1,"":2}`, `""`, `""`, ""},
}

func TestCheckMembersRefusesProbes(t *testing.T) {
	for _, p := range memberProbes {
		f := CheckMembers([]byte(p.body), ChatMembers())
		switch {
		case f == nil:
			t.Errorf("%s: accepted", p.name)
		case f.Param() != p.param || f.DottedParam() != p.dotted || f.Other != p.other:
			t.Errorf("%s: param %q dotted %q other %q, want %q %q %q", p.name, f.Param(), f.DottedParam(), f.Other, p.param, p.dotted, p.other)
		}
		if f == nil {
			continue
		}
		want := "differs from " + quote(p.other) + " only in case"
		if f.Name == f.Other {
			want = "is given more than once"
		}
		if !strings.Contains(f.Message(), want) {
			t.Errorf("%s: message %q, want it to say %q", p.name, f.Message(), want)
		}
		// The validator refuses them too, with the same parameter.
		if e := ValidateChat([]byte(p.body)); e == nil || e.Param != p.param || e.Status != 400 || e.Type != TypeInvalidRequest {
			t.Errorf("%s: ValidateChat = %+v", p.name, e)
		}
	}
}

// Below the top level, the validator refuses a member that differs only in
// case from one it checks there: a Go upstream would read it unchecked.
func TestValidateChatRefusesNestedCaseVariants(t *testing.T) {
	const user = `{"role":"user","content":"hi"}`
	for _, c := range []struct{ body, param string }{
		{`{"model":"m","messages":[` + user + `,{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}],"Content":[{"type":"image_url"}]}]}`, "messages[1].Content"},
		{`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"u","Detail":"high"}}]}]}`, "messages[0].content[0].image_url.Detail"},
		{`{"model":"m","messages":[` + user + `],"tools":[{"type":"function","function":{"name":"f","Parameters":"x"}}]}`, "tools[0].function.Parameters"},
		{`{"model":"m","messages":[` + user + `],"stream_options":{"Include_Usage":"yes"}}`, "stream_options.Include_Usage"},
		{`{"model":"m","messages":[` + user + `],"response_format":{"type":"json_schema","json_schema":{"name":"n","Schema":1}}}`, "response_format.json_schema.Schema"},
	} {
		e := ValidateChat([]byte(c.body))
		if e == nil || e.Param != c.param || !strings.Contains(e.Message, "only in case") {
			t.Errorf("%s: %+v, want a refusal at %s", c.body, e, c.param)
		}
	}
}

func TestCheckMembersAccepts(t *testing.T) {
	for _, body := range []string{
		string(typicalBody()),
		`{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
		`{"\u006dodel":"m","messages":[{"role":"user","content":"hi"}]}`, // the same name, escaped
		`{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2},{"A":3}],"c":"\"a\":1,\"a\":2"}`,
		`{"a":"\\","b":"\\\"","c":["]","}"],"d":{"e":"{\"e\":1}"}}`,
		`  {"x" : 1 , "y" : [ 1 , 2 , { "z" : null } ] , "Z" : true }  `,
		`[{"a":1},{"A":1}]`, `"str"`, `1`, `{}`, `[]`,
		`{"k":1,"` + "\u212a" + `x":2,"s":3,"ſs":4}`, // no name folds onto another
		bigObject(200, -1),
	} {
		if f := CheckMembers([]byte(body), nil); f != nil {
			t.Errorf("refused %.80s: %v", body, f)
		}
	}
	// Unknown top-level members and members of other objects are free to
	// have any case; only the set's names are guarded.
	if f := CheckMembers([]byte(`{"model":"m","messages":[{"Role":"user"}],"MyOwn":1}`), ChatMembers()); f != nil {
		t.Errorf("refused: %v", f)
	}
}

// bigObject is an object of n members; when dup >= 0 the last member
// repeats member dup's name in upper case.
func bigObject(n, dup int) string {
	var b strings.Builder
	b.WriteString(`{"outer":[0,{"inner":{`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"member_%d":%d`, (i*7919)%n, i)
	}
	if dup >= 0 {
		fmt.Fprintf(&b, `,"MEMBER_%d":true`, dup)
	}
	b.WriteString(`}}]}`)
	return b.String()
}

// A large object is checked by sorting: the clash is found wherever it is,
// named under the object's path.
func TestCheckMembersLargeObject(t *testing.T) {
	for _, dup := range []int{0, 17, 199} {
		f := CheckMembers([]byte(bigObject(200, dup)), nil)
		want := fmt.Sprintf("outer[1].inner.MEMBER_%d", dup)
		if f == nil || f.Param() != want || f.Other != fmt.Sprintf("member_%d", dup) {
			t.Errorf("dup %d: %v, want %s", dup, f, want)
		}
	}
}

// membersClash is the oracle: encoding/json's own tokens (names unescaped
// its way), and in some object two names bytes.EqualFold holds for.
func membersClash(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	type level struct {
		object bool
		names  []string
		key    bool // the next string token is a name
	}
	var stack []*level
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return false
		}
		if err != nil {
			return false
		}
		var top *level
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.key {
			if name, ok := tok.(string); ok {
				for _, n := range top.names {
					if strings.EqualFold(n, name) {
						return true
					}
				}
				top.names = append(top.names, name)
				top.key = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if top != nil && top.object {
				top.key = true
			}
			stack = append(stack, &level{object: tok == json.Delim('{'), key: true})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		default:
			if top != nil && top.object {
				top.key = true
			}
		}
	}
}

// FuzzCheckMembers: on valid JSON, CheckMembers refuses exactly the bodies
// where encoding/json's own reading finds two names of one object equal
// under folding; and what it accepts with the chat set has no top-level
// member that folds onto a known one without being it.
func FuzzCheckMembers(f *testing.F) {
	for _, p := range memberProbes {
		f.Add([]byte(p.body))
	}
	f.Add(typicalBody())
	f.Add([]byte(bigObject(40, 3)))
	f.Add([]byte(`{"a":{"b":[{"c":1,"C":2}]}}`))
	f.Add([]byte(`{"\xff":1,"\ufffd":2}`))
	f.Add([]byte(`{"a\"b":1,"A\u0022B":2}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if !json.Valid(body) {
			_ = CheckMembers(body, ChatMembers()) // must not panic
			return
		}
		fault := CheckMembers(body, nil)
		if clash := membersClash(body); clash != (fault != nil) {
			t.Fatalf("CheckMembers says %v, encoding/json's names clash: %v, for %q", fault, clash, body)
		}
		if fault != nil && (fault.Param() == "" || fault.Message() == "") {
			t.Fatalf("fault without param or message: %+v", fault)
		}
		if CheckMembers(body, ChatMembers()) != nil {
			return
		}
		var top map[string]json.RawMessage
		if json.Unmarshal(body, &top) == nil {
			for name := range top {
				if known, ok := ChatMembers().Variant(name); ok {
					t.Fatalf("accepted %q, which folds onto %q", name, known)
				}
			}
		}
	})
}

func TestCheckMembersAllocatesNothing(t *testing.T) {
	body := typicalBody()
	if n := testing.AllocsPerRun(100, func() { _ = CheckMembers(body, ChatMembers()) }); n != 0 {
		t.Errorf("%v allocations checking the typical body", n)
	}
}

// The typed decoders bind no member that differs from a field's name only
// in case, at any depth: encoding/json would take "Content" for content,
// where the validator (exact names) saw no content.
func TestDecodeRefusesCaseVariants(t *testing.T) {
	for _, c := range []struct{ body, param string }{
		{`{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}],"Content":"x"}]}`, "Content"},
		{`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a","Image_URL":{"url":"u"}}]}]}`, "Image_URL"},
		{`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"URL":"https://x"}}]}]}`, "image_url.URL"},
		{`{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","Arguments":"{}"}}]}]}`, "function.Arguments"},
		{`{"model":"m","messages":[],"tools":[{"type":"function","function":{"name":"f","Parameters":"not a schema"}}]}`, "function.Parameters"},
		{`{"model":"m","messages":[],"stream_options":{"Include_Usage":true}}`, "Include_Usage"},
		{`{"model":"m","Messages":[]}`, "Messages"},
	} {
		var req ChatRequest
		err := json.Unmarshal([]byte(c.body), &req)
		var f *MemberFault
		if !errors.As(err, &f) || f.Param() != c.param {
			t.Errorf("%s: %v, want a MemberFault at %s", c.body, err, c.param)
		}
	}
	// Members that are not a field's name still go to Extra, verbatim.
	var m Message
	if err := json.Unmarshal([]byte(`{"role":"user","content":"hi","Annotations":[1],"x":{"Y":1,"y":2}}`), &m); err != nil {
		t.Fatal(err)
	}
	if string(m.Extra["Annotations"]) != "[1]" || string(m.Extra["x"]) != `{"Y":1,"y":2}` || m.Content.Text != "hi" {
		t.Errorf("decoded %+v", m)
	}
}

func TestToolChoiceModeIsCaseSensitive(t *testing.T) {
	for raw, want := range map[string]string{`{"type":"function","function":{"name":"f"}}`: "f", `{"type":"function","function":{"Name":"f"}}`: ""} {
		r := ChatRequest{ToolChoice: json.RawMessage(raw)}
		_, name, err := r.ToolChoiceMode()
		if name != want || (want == "") != (err != nil) {
			t.Errorf("%s: name %q err %v, want %q", raw, name, err, want)
		}
	}
}

func TestDecodeExact(t *testing.T) {
	type inner struct {
		Name string `json:"name"`
	}
	type outer struct {
		List  []inner            `json:"list"`
		Map   map[string]*inner  `json:"map"`
		Raw   json.RawMessage    `json:"raw"`
		Other map[string]string  `json:"other"`
		Self  *ChatRequest       `json:"self"` // decodes itself
		Anon  struct{ A string } `json:"anon"` // untagged: not guarded
	}
	fields := JSONFields[outer]()
	for _, c := range []struct{ body, param string }{
		{`{"list":[{"name":"a"},{"Name":"b"}]}`, "list[1].Name"},
		{`{"map":{"k":{"NAME":"b"}}}`, "map.k.NAME"},
		{`{"LIST":[]}`, "LIST"},
		{`{"raw":{"Name":1,"name":2},"other":{"A":"1"},"anon":{"a":"x"}}`, ""},
	} {
		var v outer
		err := DecodeExact([]byte(c.body), &v, fields)
		var f *MemberFault
		switch {
		case c.param == "" && err != nil:
			t.Errorf("%s: %v", c.body, err)
		case c.param != "" && (!errors.As(err, &f) || f.Param() != c.param):
			t.Errorf("%s: %v, want a fault at %s", c.body, err, c.param)
		}
	}
	var v outer
	if err := DecodeExact([]byte(`{"self":{"model":"m","Model":"x"}}`), &v, fields); err == nil {
		t.Error("a type that decodes itself did not check its members")
	}
}

func TestFieldSetVariant(t *testing.T) {
	s := NewFieldSet("model", "max_tokens")
	for name, want := range map[string]string{"Model": "model", "MODEL": "model", "max_to\u212aens": "max_tokens", "model": "", "models": "", "Max_Tokens": "max_tokens"} {
		got, ok := s.Variant(name)
		if got != want || ok != (want != "") {
			t.Errorf("Variant(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
}

// BenchmarkCheckMembers: the member-name scan alone, on the typical 2 kB
// body.
func BenchmarkCheckMembers(b *testing.B) {
	body := typicalBody()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if f := CheckMembers(body, ChatMembers()); f != nil {
			b.Fatal(f)
		}
	}
}
