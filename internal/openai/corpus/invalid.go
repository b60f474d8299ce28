package corpus

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// bad is a value that is wrong where it is put, and the parameter at
// fault relative to where it is put ("" for the place itself).
type bad struct{ raw, rel string }

// samples are values of each JSON kind: s string, i integer, d decimal,
// b boolean, o object, a array.
var samples = map[byte][]string{
	's': {`"x"`, `""`, `"1"`},
	'i': {`1`, `0`, `-7`},
	'd': {`0.5`, `1e-3`, `-2.5E1`},
	'b': {`true`, `false`},
	'o': {`{}`, `{"a":1}`},
	'a': {`[]`, `[1]`, `["x"]`},
}

// field is a documented top-level member: the kinds it accepts (values
// of every other kind are wrong) and further wrong values of accepted
// kinds.
type field struct {
	name  string
	kinds string
	extra []bad
}

var fields = []field{
	{"model", "s", []bad{{`null`, ""}, {`""`, ""}, {strconv.Quote(strings.Repeat("m", 257)), ""}}},
	{"messages", "a", []bad{{`null`, ""}, {`[]`, ""}}},
	{"temperature", "id", []bad{{`-0.1`, ""}, {`2.01`, ""}, {`3`, ""}, {`-1e9`, ""}, {`1e400`, ""}}},
	{"top_p", "id", []bad{{`1.5`, ""}, {`-0.5`, ""}, {`2`, ""}}},
	{"presence_penalty", "id", []bad{{`-2.5`, ""}, {`3`, ""}}},
	{"frequency_penalty", "id", []bad{{`2.0001`, ""}, {`-3`, ""}}},
	{"n", "i", []bad{{`0`, ""}, {`-1`, ""}, {`129`, ""}, {`1e2`, ""}, {`1.0`, ""}}},
	{"max_tokens", "i", []bad{{`0`, ""}, {`-1`, ""}, {`-100`, ""}, {`99999999999999999999`, ""}}},
	{"max_completion_tokens", "i", []bad{{`0`, ""}, {`-5`, ""}, {`-99999999999999999999`, ""}}},
	{"top_logprobs", "i", []bad{{`-1`, ""}, {`21`, ""}}},
	{"seed", "i", []bad{{`1e3`, ""}, {`9223372036854775808`, ""}, {`-9223372036854775809`, ""}}},
	{"stream", "b", nil},
	{"logprobs", "b", nil},
	{"store", "b", nil},
	{"parallel_tool_calls", "b", nil},
	{"user", "s", nil},
	{"service_tier", "s", nil},
	{"reasoning_effort", "s", nil},
	{"verbosity", "s", nil},
	{"prompt_cache_key", "s", nil},
	{"safety_identifier", "s", nil},
	{"stop", "sa", []bad{{`[1]`, "[0]"}, {`["a",null]`, "[1]"}, {`["a",["b"]]`, "[1]"}, {`["a","b","c","d","e"]`, ""}}},
	{"logit_bias", "o", []bad{{`{"1":101}`, ""}, {`{"1":-100.5}`, ""}, {`{"1":"x"}`, ""}, {`{"1":null}`, ""}, {`{"2":1,"1":true}`, ""}}},
	{"metadata", "o", []bad{{`{"k":1}`, "k"}, {`{"a":"b","k":null}`, "k"}, {`{"k":{}}`, "k"}, {metadataOf(17, 8, 1), ""},
		{metadataOf(1, 65, 1), ""}, {`{"k":` + strconv.Quote(strings.Repeat("v", 513)) + `}`, "k"}}},
	{"stream_options", "o", []bad{{`{"include_usage":"yes"}`, "include_usage"}, {`{"include_obfuscation":1}`, "include_obfuscation"}}},
	{"tools", "a", nil},
	{"tool_choice", "so", []bad{{`{}`, "type"}, {`{"type":1}`, "type"}, {`{"type":"function"}`, "function"},
		{`{"type":"function","function":{}}`, "function.name"}, {`{"type":"function","function":{"name":5}}`, "function.name"},
		{`{"type":"function","function":"f"}`, "function"}, {`{"type":"allowed_tools","allowed_tools":{"mode":1}}`, "allowed_tools.mode"},
		{`{"type":"allowed_tools","allowed_tools":{"tools":"x"}}`, "allowed_tools.tools"}, {`{"type":"allowed_tools","allowed_tools":{"tools":[1]}}`, "allowed_tools.tools[0]"},
		{`{"type":"allowed_tools"}`, "allowed_tools"}, {`{"type":"custom","custom":{}}`, "custom.name"}}},
	{"functions", "a", []bad{{`[{}]`, "[0].name"}, {`[{"name":1}]`, "[0].name"}, {`[1]`, "[0]"}, {`[{"name":"f"},{"name":"g","parameters":"x"}]`, "[1].parameters"}}},
	{"function_call", "so", []bad{{`{}`, "name"}, {`{"name":1}`, "name"}, {`{"name":""}`, "name"}}},
	{"response_format", "o", []bad{{`{}`, "type"}, {`{"type":1}`, "type"}, {`{"type":"json_schema"}`, "json_schema"},
		{`{"type":"json_schema","json_schema":{}}`, "json_schema.name"}, {`{"type":"json_schema","json_schema":"x"}`, "json_schema"},
		{`{"type":"json_schema","json_schema":{"name":"x","schema":"s"}}`, "json_schema.schema"},
		{`{"type":"json_schema","json_schema":{"name":"x","strict":"y"}}`, "json_schema.strict"}, {`{"type":"json_schema","json_schema":{"name":1}}`, "json_schema.name"}}},
	{"modalities", "a", []bad{{`[1]`, "[0]"}, {`["text",2]`, "[1]"}, {`[null]`, "[0]"}}},
	{"audio", "o", []bad{{`{}`, "voice"}, {`{"voice":"alloy"}`, "format"}, {`{"format":"wav"}`, "voice"}, {`{"voice":1,"format":"wav"}`, "voice"},
		{`{"voice":"a","format":1}`, "format"}, {`{"voice":{"id":1},"format":"wav"}`, "voice.id"}, {`{"voice":[],"format":"wav"}`, "voice"}}},
	{"prediction", "o", []bad{{`{}`, "type"}, {`{"type":"content"}`, "content"}, {`{"type":1,"content":"x"}`, "type"}, {`{"type":"content","content":1}`, "content"},
		{`{"type":"content","content":[1]}`, "content[0]"}, {`{"type":"content","content":[{"type":"text"}]}`, "content[0].text"}}},
	{"web_search_options", "o", []bad{{`{"search_context_size":1}`, "search_context_size"}, {`{"user_location":"x"}`, "user_location"},
		{`{"user_location":{"type":1}}`, "user_location.type"}, {`{"user_location":{"approximate":[]}}`, "user_location.approximate"},
		{`{"user_location":{"approximate":{"city":1}}}`, "user_location.approximate.city"}}},
}

// badMessages are broken messages, param relative to messages[i].
var badMessages = []bad{
	{`null`, ""}, {`1`, ""}, {`"user"`, ""}, {`[]`, ""}, {`true`, ""},
	{`{}`, "role"}, {`{"content":"x"}`, "role"}, {`{"role":"bogus","content":"x"}`, "role"}, {`{"role":"User","content":"x"}`, "role"},
	{`{"role":1,"content":"x"}`, "role"}, {`{"role":null,"content":"x"}`, "role"}, {`{"role":"user","role":"assistant","content":"x"}`, "role"},
	{`{"role":"user"}`, "content"}, {`{"role":"user","content":null}`, "content"}, {`{"role":"user","content":1}`, "content"},
	{`{"role":"user","content":{}}`, "content"}, {`{"role":"user","content":true}`, "content"}, {`{"role":"user","content":"a","content":"b"}`, "content"},
	{`{"role":"user","content":"x","name":1}`, "name"}, {`{"role":"system"}`, "content"}, {`{"role":"system","content":{"text":"x"}}`, "content"},
	{`{"role":"developer","content":1}`, "content"}, {`{"role":"developer","content":[{"type":"text","text":2}]}`, "content[0].text"},
	{`{"role":"assistant"}`, "content"}, {`{"role":"assistant","content":null}`, "content"}, {`{"role":"assistant","content":5}`, "content"},
	{`{"role":"assistant","content":null,"tool_calls":"x"}`, "tool_calls"}, {`{"role":"assistant","content":null,"tool_calls":{}}`, "tool_calls"},
	{`{"role":"assistant","content":"x","refusal":1}`, "refusal"}, {`{"role":"assistant","content":null,"function_call":{"name":1}}`, "function_call.name"},
	{`{"role":"assistant","content":null,"function_call":"f"}`, "function_call"}, {`{"role":"assistant","content":null,"audio":{"id":1}}`, "audio.id"},
	{`{"role":"assistant","content":[{"type":"refusal"}]}`, "content[0].refusal"},
	{`{"role":"tool","content":"x"}`, "tool_call_id"}, {`{"role":"tool","tool_call_id":1,"content":"x"}`, "tool_call_id"},
	{`{"role":"tool","tool_call_id":null,"content":"x"}`, "tool_call_id"}, {`{"role":"tool","tool_call_id":"c"}`, "content"},
	{`{"role":"tool","tool_call_id":"c","content":[1]}`, "content[0]"},
	{`{"role":"function","content":"x"}`, "name"}, {`{"role":"function","name":1,"content":"x"}`, "name"}, {`{"role":"function","name":"f","content":1}`, "content"},
}

// badParts are broken content parts, param relative to content[j].
var badParts = []bad{
	{`1`, ""}, {`null`, ""}, {`"x"`, ""}, {`[]`, ""}, {`{}`, "type"}, {`{"type":1}`, "type"}, {`{"type":null,"text":"x"}`, "type"},
	{`{"type":"text"}`, "text"}, {`{"type":"text","text":1}`, "text"}, {`{"type":"text","text":null}`, "text"}, {`{"type":"text","text":["x"]}`, "text"},
	{`{"type":"image_url"}`, "image_url"}, {`{"type":"image_url","image_url":"https://x"}`, "image_url"}, {`{"type":"image_url","image_url":{}}`, "image_url.url"},
	{`{"type":"image_url","image_url":{"url":1}}`, "image_url.url"}, {`{"type":"image_url","image_url":{"url":"u","detail":1}}`, "image_url.detail"},
	{`{"type":"input_audio","input_audio":{}}`, "input_audio.data"}, {`{"type":"input_audio","input_audio":{"data":"x"}}`, "input_audio.format"},
	{`{"type":"input_audio","input_audio":"x"}`, "input_audio"}, {`{"type":"file","file":"x"}`, "file"}, {`{"type":"file","file":{"file_id":1}}`, "file.file_id"},
	{`{"type":"file"}`, "file"}, {`{"type":"refusal","refusal":2}`, "refusal"},
}

// badToolCalls are broken tool calls, param relative to tool_calls[k].
var badToolCalls = []bad{
	{`1`, ""}, {`"x"`, ""}, {`{}`, "function"}, {`{"id":1,"type":"function","function":{"name":"f","arguments":"{}"}}`, "id"},
	{`{"id":"c","type":1,"function":{"name":"f","arguments":"{}"}}`, "type"}, {`{"id":"c","type":"function","function":"f"}`, "function"},
	{`{"id":"c","type":"function","function":{"arguments":"{}"}}`, "function.name"}, {`{"id":"c","function":{"name":"f","arguments":{}}}`, "function.arguments"},
	{`{"id":"c","type":"function","function":{"name":"","arguments":"{}"}}`, "function.name"}, {`{"id":"c","type":"custom","custom":{"input":"x"}}`, "custom.name"},
	{`{"id":"c","type":"custom"}`, "custom"},
}

var goodToolCalls = []string{
	`{"id":"call_1","type":"function","function":{"name":"a","arguments":"{}"}}`,
	`{"id":"call_2","type":"function","function":{"name":"b","arguments":""},"index":1}`,
	`{"id":"call_3","type":"custom","custom":{"name":"c","input":"x"}}`,
}

// badTools are broken tools, param relative to tools[i].
var badTools = []bad{
	{`1`, ""}, {`"x"`, ""}, {`null`, ""}, {`[]`, ""}, {`{}`, "type"}, {`{"type":1}`, "type"}, {`{"type":null}`, "type"},
	{`{"type":"function"}`, "function"}, {`{"type":"function","function":"f"}`, "function"}, {`{"type":"function","function":{}}`, "function.name"},
	{`{"type":"function","function":{"name":1}}`, "function.name"}, {`{"type":"function","function":{"name":""}}`, "function.name"},
	{`{"type":"function","function":{"name":"f","parameters":"x"}}`, "function.parameters"}, {`{"type":"function","function":{"name":"f","parameters":[]}}`, "function.parameters"},
	{`{"type":"function","function":{"name":"f","strict":"yes"}}`, "function.strict"}, {`{"type":"function","function":{"name":"f","description":1}}`, "function.description"},
	{`{"type":"custom","custom":{}}`, "custom.name"}, {`{"type":"custom"}`, "custom"}, {`{"type":"custom","custom":{"name":"x","format":"text"}}`, "custom.format"},
}

// Invalid returns at least n malformed bodies for model, each with one
// fault: the same seed gives the same bodies.
func Invalid(model string, seed uint64, n int) []Case {
	g := &gen{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), valid: Valid(model)}
	for _, f := range fields {
		g.fieldFaults(f)
	}
	for _, name := range []string{"model", "messages"} {
		for _, v := range g.valid {
			g.add("missing/"+name+"/"+v.Name, remove(v.Body, name), name)
		}
	}
	g.add("model/5MB", set(g.valid[0].Body, "model", strconv.Quote(strings.Repeat("m", 5<<20))), "model")
	for _, b := range badMessages {
		g.messageFault(b)
	}
	for _, b := range badParts {
		g.partFault(b)
	}
	for _, b := range badToolCalls {
		g.toolCallFault(b)
	}
	for _, b := range badTools {
		g.toolFault(b)
	}
	for _, v := range g.valid {
		g.invalidUTF8(v)
		g.notObjects(v)
	}
	// Fill up with truncations, byte mutations and structural faults on
	// random valid bodies.
	for len(g.out) < n {
		switch g.rng.IntN(4) {
		case 0:
			g.truncate()
		case 1:
			g.mutate()
		case 2:
			g.fieldFaults(fields[g.rng.IntN(len(fields))])
		case 3:
			g.messageFault(badMessages[g.rng.IntN(len(badMessages))])
		}
	}
	return g.out
}

type gen struct {
	rng   *rand.Rand
	valid []Case
	out   []Case
}

func (g *gen) add(name string, body []byte, param string) {
	g.out = append(g.out, Case{Name: name, Body: body, Param: param})
}

// base returns a random valid body.
func (g *gen) base() Case { return g.valid[g.rng.IntN(len(g.valid))] }

// fieldFaults puts every wrong value of f into a random valid body.
func (g *gen) fieldFaults(f field) {
	var bads []bad
	accepts := func(k rune) bool {
		return strings.ContainsRune(f.kinds, k) || k == 'i' && strings.ContainsRune(f.kinds, 'd') // integers are decimals too
	}
	for _, k := range "sidboa" {
		if accepts(k) {
			continue
		}
		for _, s := range samples[byte(k)] {
			bads = append(bads, bad{s, ""})
		}
	}
	bads = append(bads, f.extra...)
	for _, b := range bads {
		v := g.base()
		g.add("field/"+f.name+"="+clip(b.raw)+"/"+v.Name, set(v.Body, f.name, b.raw), join(f.name, b.rel))
	}
}

// messageFault puts m into the messages of a random valid body, replacing
// a random one.
func (g *gen) messageFault(m bad) {
	v := g.base()
	n := len(gjson.GetBytes(v.Body, "messages").Array())
	i := g.rng.IntN(n)
	g.add("message/"+clip(m.raw)+"@"+strconv.Itoa(i)+"/"+v.Name, set(v.Body, "messages."+strconv.Itoa(i), m.raw), join("messages["+strconv.Itoa(i)+"]", m.rel))
}

// among returns good elements with bad inserted at a random index, and
// the index.
func (g *gen) among(good []string, bad string) (string, int) {
	k := g.rng.IntN(len(good) + 1)
	elems := make([]string, 0, len(good)+1)
	for _, i := range g.rng.Perm(len(good)) {
		elems = append(elems, good[i])
	}
	elems = append(elems[:k], append([]string{bad}, elems[k:]...)...)
	return "[" + strings.Join(elems, ",") + "]", k
}

func (g *gen) partFault(p bad) {
	content, j := g.among(goodParts, p.raw)
	g.messageFault(bad{`{"role":"user","content":` + content + `}`, join("content["+strconv.Itoa(j)+"]", p.rel)})
}

func (g *gen) toolCallFault(c bad) {
	calls, k := g.among(goodToolCalls, c.raw)
	g.messageFault(bad{`{"role":"assistant","content":null,"tool_calls":` + calls + `}`, join("tool_calls["+strconv.Itoa(k)+"]", c.rel)})
}

func (g *gen) toolFault(t bad) {
	tools, i := g.among(goodTools, t.raw)
	v := g.base()
	g.add("tool/"+clip(t.raw)+"/"+v.Name, set(v.Body, "tools", tools), join("tools["+strconv.Itoa(i)+"]", t.rel))
}

// invalidUTF8 breaks every string of v, one at a time, and one member name.
func (g *gen) invalidUTF8(v Case) {
	breaks := []string{"\xff", "\xc3", "\xe2\x82", "\xc0\xaf", "\xed\xa0\x80", "\xf8\x88\x80\x80\x80"}
	walkStrings(gjson.ParseBytes(v.Body), "", func(param string, r gjson.Result) {
		if r.Index <= 0 || v.Body[r.Index] != '"' {
			return
		}
		bad := breaks[g.rng.IntN(len(breaks))]
		cuts := insertionPoints(r.Raw)
		at := r.Index + cuts[g.rng.IntN(len(cuts))]
		body := append(append(append([]byte{}, v.Body[:at]...), bad...), v.Body[at:]...)
		g.add("utf8/"+param+"/"+v.Name, body, param)
	})
	end := strings.LastIndexByte(string(v.Body), '}')
	g.add("utf8/member name/"+v.Name, []byte(string(v.Body[:end])+",\"k\xffey\":1"+string(v.Body[end:])), "k\ufffdey")
}

// insertionPoints returns the offsets in a JSON string literal where bytes
// can be inserted without splitting an escape: after the opening quote,
// after each character or escape.
func insertionPoints(raw string) []int {
	var at []int
	for i := 1; i < len(raw); i++ {
		at = append(at, i)
		if raw[i] == '\\' {
			if i+1 < len(raw) && raw[i+1] == 'u' {
				i += 5
			} else {
				i++
			}
		}
	}
	return at
}

// walkStrings calls fn for every string value under r with its parameter
// name.
func walkStrings(r gjson.Result, param string, fn func(string, gjson.Result)) {
	switch {
	case r.Type == gjson.String:
		fn(param, r)
	case r.IsArray():
		i := 0
		r.ForEach(func(_, e gjson.Result) bool {
			walkStrings(e, param+"["+strconv.Itoa(i)+"]", fn)
			i++
			return true
		})
	case r.IsObject():
		r.ForEach(func(k, e gjson.Result) bool {
			walkStrings(e, join(param, k.Str), fn)
			return true
		})
	}
}

// notObjects adds bodies that are JSON but not an object.
func (g *gen) notObjects(v Case) {
	for _, s := range []string{"[" + string(v.Body) + "]", `"` + clip(string(v.Body)) + `"`} {
		g.add("not an object/"+v.Name, []byte(s), "")
	}
}

// truncate cuts a random valid body short.
func (g *gen) truncate() {
	v := g.base()
	body := v.Body[:1+g.rng.IntN(len(v.Body)-1)]
	if json.Valid(body) {
		return
	}
	g.add("truncated/"+strconv.Itoa(len(body))+"/"+v.Name, body, "")
}

// mutate flips, inserts or deletes a few random bytes of a random valid
// body; only mutations that make it invalid JSON are kept (others may be
// valid requests).
func (g *gen) mutate() {
	v := g.base()
	body := append([]byte{}, v.Body...)
	for range 1 + g.rng.IntN(3) {
		i := g.rng.IntN(len(body))
		switch g.rng.IntN(3) {
		case 0:
			body[i] = "{}[]\",:0-.e\\ tnx\x00\x1f"[g.rng.IntN(18)]
		case 1:
			body = append(body[:i], append([]byte{"{}[]\",:"[g.rng.IntN(7)]}, body[i:]...)...)
		case 2:
			body = append(body[:i], body[i+1:]...)
		}
	}
	if json.Valid(body) {
		return
	}
	g.add("mutated/"+v.Name, body, "")
}

func set(body []byte, path, raw string) []byte {
	out, err := sjson.SetRawBytes(append([]byte{}, body...), path, []byte(raw))
	if err != nil {
		panic("corpus: " + err.Error()) // a bug in this generator
	}
	return out
}

func remove(body []byte, path string) []byte {
	out, err := sjson.DeleteBytes(append([]byte{}, body...), path)
	if err != nil {
		panic("corpus: " + err.Error())
	}
	return out
}

// join appends rel to param in OpenAI's notation.
func join(param, rel string) string {
	switch {
	case rel == "":
		return param
	case param == "":
		return rel
	case rel[0] == '[':
		return param + rel
	}
	return param + "." + rel
}

// clip shortens a value for a case name.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
