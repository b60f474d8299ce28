package anthropic

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/openai/corpus"
)

// sameDecode fails t unless the hand-written readers fill a request and
// a block list as json.Unmarshal does, whenever they take a body; it
// reports whether the request reader took it.
func sameDecode(t *testing.T, data []byte) bool {
	t.Helper()
	var fast, slow inRequest
	var fb, sb []inBlock
	took, blocksTook := false, false
	if !openai.WithValue(data, func(root openai.Value) {
		took, blocksTook = fastRequest(root, &fast), fastBlocks(root, &fb)
	}) {
		return false
	}
	if took {
		if err := json.Unmarshal(data, &slow); err != nil {
			t.Fatalf("%s: read by hand, refused by json.Unmarshal: %v", data, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%s:\nby hand        %+v\njson.Unmarshal %+v", data, fast, slow)
		}
	} else if !reflect.DeepEqual(fast, inRequest{}) {
		t.Fatalf("%s: the request reader gave up but left %+v", data, fast)
	}
	if !blocksTook {
		if fb != nil {
			t.Fatalf("%s: the block reader gave up but left %+v", data, fb)
		}
	} else {
		if err := json.Unmarshal(data, &sb); err != nil {
			t.Fatalf("%s: blocks read by hand, refused by json.Unmarshal: %v", data, err)
		}
		if !reflect.DeepEqual(fb, sb) {
			t.Fatalf("%s:\nby hand        %+v\njson.Unmarshal %+v", data, fb, sb)
		}
	}
	return took
}

var fastSeeds = []string{
	`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m\u00e9\ud800","max_tokens":-0,"stream":true,"temperature":1e-7,"top_p":0.5,"messages":[],"tools":[],"system":" x "}`,
	`{"model":"m","messages":[{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"f","input": {"x": [1, 2]} }]}],"system":[{"type":"text","text":"s","cache_control":{"type":"ephemeral"}}]}`,
	`{"model":"m","messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","is_error":true,"content":[{"type":"image","source":{"type":"url","url":"http://x"}}]}]}]}`,
	`{"model":"m","tool_choice":{"type":"tool","name":"f","disable_parallel_tool_use":true},"stop_sequences":["a","b"],"thinking":{"type":"enabled","budget_tokens":1024},"metadata":{"user_id":"u"},"output_config":{"effort":"low"},"output_format":{"type":"json_schema","schema":{}}}`,
	`{"model":"m","model":"n"}`,
	`{"model":null}`,
	`{"model":"m","messages":[null]}`,
	`{"model":"m","max_tokens":1.5}`,
	`{"model":"m","temperature":1e999}`,
	`{"model":"m","stream":"yes"}`,
	`{"model":"m","thinking":{"type":"enabled","budget_tokens":"x"}}`,
	`{"model":"m","messages":{"role":"user"}}`,
	`{"model":"m","tools":[{"name":"f","description":"d","input_schema":{"type":"object"}},{"type":"web_search_20250305","name":"web_search"}]}`,
	`{"Model":"m"}`,
	`[{"type":"text","text":"a"},{"type":"thinking","thinking":"t"},{"type":"document","title":"d","source":{"type":"text","data":"x"}}]`,
	`[{"type":"text","text":"a","text":"b"}]`,
	`[]`,
	`[1]`,
	`"text"`,
}

func TestFastDecodeIsJSONUnmarshal(t *testing.T) {
	took := 0
	bodies := [][]byte{corpus.AgentMessages(3)}
	for _, name := range []string{"inbound_request.json", "inbound_structured.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, b)
	}
	for _, s := range fastSeeds {
		bodies = append(bodies, []byte(s))
	}
	for _, b := range bodies {
		if sameDecode(t, b) {
			took++
		}
	}
	if took < 8 {
		t.Fatalf("the request reader took %d bodies: the comparison reads too little", took)
	}
}

// The strings a decoded request keeps are its own: the body they came
// from may be reused. Each reader is given a buffer that is overwritten
// after.
func TestFastDecodeCopiesStrings(t *testing.T) {
	body := []byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hello"}]}],"system":"s",` +
		`"tools":[{"name":"get","description":"gets","input_schema":{"type":"object"}}]}`)
	var in inRequest
	if err := openai.DecodeExactFast(body, &in, inRequestFields, false, func(r openai.Value) bool { return fastRequest(r, &in) }); err != nil {
		t.Fatal(err)
	}
	blocksBody := []byte(`[{"type":"tool_use","id":"toolu_1","name":"get","input":{"a":1}},{"type":"tool_result","tool_use_id":"toolu_1","content":"done"},{"type":"thinking","thinking":"hm"}]`)
	var blocks []inBlock
	if !openai.WithValue(blocksBody, func(r openai.Value) {
		if !fastBlocks(r, &blocks) {
			t.Fatal("blocks fell back to encoding/json")
		}
	}) {
		t.Fatal("blocks are not JSON")
	}
	for _, b := range [][]byte{body, blocksBody} {
		for i := range b {
			b[i] = 'x'
		}
	}
	if in.Model != "m" || in.Messages[0].Role != "user" || string(in.System) != `"s"` ||
		in.Tools[0].Name != "get" || in.Tools[0].Description != "gets" || string(in.Tools[0].InputSchema) != `{"type":"object"}` {
		t.Fatalf("decoded strings changed with the body: %+v", in)
	}
	if b := blocks; b[0].Type != "tool_use" || b[0].ID != "toolu_1" || b[0].Name != "get" || string(b[0].Input) != `{"a":1}` ||
		b[1].ToolUseID != "toolu_1" || string(b[1].Content) != `"done"` || b[2].Thinking != "hm" {
		t.Fatalf("decoded blocks changed with their buffer: %+v", b)
	}
}

func FuzzDecodeMessagesFast(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	f.Add(corpus.AgentMessages(2))
	f.Fuzz(func(t *testing.T, data []byte) { sameDecode(t, data) })
}

// The readers' name lists are their types' JSON names: a field added to a
// type and not to its list would be skipped by hand and read by
// json.Unmarshal.
func TestFastNamesAreTheTypesNames(t *testing.T) {
	for _, c := range []struct {
		names []string
		set   *openai.FieldSet
	}{{requestNames, inRequestFields}, {messageNames, openai.JSONFields[inMessage]()},
		{toolNames, openai.JSONFields[inTool]()}, {blockNames, openai.JSONFields[inBlock]()}} {
		if got, want := slices.Sorted(slices.Values(c.names)), c.set.Names(); !slices.Equal(got, want) {
			t.Errorf("reader's names %v, the type's %v", got, want)
		}
	}
}
