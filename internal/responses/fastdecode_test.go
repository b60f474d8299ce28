package responses

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge/internal/openai"
)

// sameRequest fails t unless fastRequest fills a request as json.Unmarshal
// does whenever it takes a body (valid JSON, as Decode gives it); it
// reports whether it took it.
func sameRequest(t *testing.T, data []byte) bool {
	t.Helper()
	var fast, slow Request
	took := false
	if !openai.WithValue(data, func(root openai.Value) { took = fastRequest(root, &fast) }) {
		return false
	}
	if !took {
		if !reflect.DeepEqual(fast, Request{}) {
			t.Fatalf("%s: the reader gave up but left %+v", data, fast)
		}
		return false
	}
	if err := json.Unmarshal(data, &slow); err != nil {
		t.Fatalf("%s: read by hand, refused by json.Unmarshal: %v", data, err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("%s:\nby hand        %#v\njson.Unmarshal %#v", data, fast, slow)
	}
	return true
}

var fastSeeds = []string{
	`{"model":"m","input":"hi"}`,
	`{"model":"m\u00e9\ud800","input":[],"tools":[],"stream":null,"instructions":null,"tool_choice":null,"max_output_tokens":-0,"temperature":1e-7,"top_p":null,"store":false,"x":null,"y":{"a":[1, 2]}}`,
	`{"model":"m","input":[{"type":"reasoning","summary":[],"content":null,"encrypted_content":null,"output":null,"arguments":null,"status":null}]}`,
	`{"model":"m","input":[{"type":"function_call_output","call_id":"c","output":[{"type":"input_image","image_url":"x"}]}]}`,
	`{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":null,"image_url":null,"detail":"low","file_id":"f","file_data":"d","file_url":"u","filename":"n","refusal":"r","annotations":[]}]}]}`,
	`{"model":"m","tools":[{"type":"function","name":"f","description":null,"parameters":null,"strict":null},{"type":"web_search","x":1}]}`,
	`{"model":"m","reasoning":{"effort":"low","summary":"auto","x":1},"text":{"format":{"type":"json_schema","name":"n","schema":{}}},"include":["a"],"metadata":{"k":"v"},"previous_response_id":"r"}`,
	`{"model":"m","model":"n"}`,
	`{"model":"m","Model":"n"}`,
	`{"model":"m","input":[{"role":"user","content":"a","Content":"b"}]}`,
	`{"model":"m","input":[{"role":"user","content":[{"type":"input_text","TEXT":"b"}]}]}`,
	`{"model":"m","tools":[{"type":"function","Name":"f"}]}`,
	`{"model":"m","reasoning":{"Effort":"low"}}`,
	`{"model":"m","input":[1]}`,
	`{"model":"m","input":[{"content":1}]}`,
	`{"model":"m","input":{"a":1}}`,
	`{"model":"m","max_output_tokens":1.5}`,
	`{"model":"m","max_output_tokens":1e2}`,
	`{"model":"m","temperature":1e999}`,
	`{"model":"m","stream":"yes"}`,
	`{"model":"m","tools":{"type":"function"}}`,
	`{"model":"m","x":1,"x":2,"y":"\u0041"}`,
}

func TestFastRequestIsJSONUnmarshal(t *testing.T) {
	bodies := [][]byte{}
	files, _ := filepath.Glob("testdata/request_*.json")
	for _, f := range files {
		if !strings.Contains(f, "golden") {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			bodies = append(bodies, b)
		}
	}
	for _, s := range fastSeeds {
		bodies = append(bodies, []byte(s))
	}
	took := 0
	for _, b := range bodies {
		if sameRequest(t, b) {
			took++
		}
	}
	if took < 9 {
		t.Fatalf("the reader took %d bodies: the comparison reads too little", took)
	}
	// Codex's request is read by hand.
	var r Request
	codex := false
	openai.WithValue(readFile(t, "request_codex.json"), func(root openai.Value) { codex = fastRequest(root, &r) })
	if !codex {
		t.Fatal("Codex's request fell back to encoding/json")
	}
}

// The strings a decoded request keeps are its own: the body they came
// from may be reused.
func TestFastRequestCopiesStrings(t *testing.T) {
	body := []byte(`{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"hello"}]}],"zz":"y"}`)
	req, e := Decode(body)
	if e != nil {
		t.Fatal(e)
	}
	for i := range body {
		body[i] = 'x'
	}
	if req.Model != "m" || req.Input.Items[0].Content.Parts[0].Text != "hello" || string(req.Extra["zz"]) != `"y"` {
		t.Fatalf("decoded strings changed with the body: %+v", req)
	}
}

func FuzzFastRequest(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	f.Add(readFile(f, "request_codex.json"))
	f.Fuzz(func(t *testing.T, data []byte) { sameRequest(t, data) })
}

// The readers' name lists are their types' JSON names: a field added to a
// type and not to its list would be read into Extra by hand and into the
// field by json.Unmarshal.
func TestFastNamesAreTheTypesNames(t *testing.T) {
	for _, c := range []struct {
		names []string
		set   *openai.FieldSet
	}{{requestNames, requestFields}, {itemNames, itemFields}, {partNames, contentPartFields}, {toolNames, toolFields}} {
		if got, want := slices.Sorted(slices.Values(c.names)), c.set.Names(); !slices.Equal(got, want) {
			t.Errorf("reader's names %v, the type's %v", got, want)
		}
	}
}
