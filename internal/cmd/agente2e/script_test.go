package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge/internal/testupstream"
	"github.com/tidwall/gjson"
)

// Each wire format's request: the shell tool offered, and the tool result
// found by the fake's call id (Gemini: by the functionResponse).
func TestInspectFindsToolsAndResult(t *testing.T) {
	tests := []struct {
		name   string
		flavor testupstream.Flavor
		api    string
		body   string
		tools  []string
		result string
	}{
		{"messages", testupstream.Anthropic, "", `{"tools":[{"name":"Bash","input_schema":{"type":"object","properties":{"command":{"type":"string"}}}},{"type":"web_search_20250305","name":"web_search"}],
			"messages":[{"role":"user","content":"go"},{"role":"system","content":"note"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_01E2eLlmbridgeShell01","name":"Bash","input":{}}]},
			{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01E2eLlmbridgeShell01","content":[{"type":"text","text":"llmbridge-e2e-ok"}]}]}]}`,
			[]string{"Bash"}, "llmbridge-e2e-ok"},
		{"chat", testupstream.OpenAI, "chat", `{"tools":[{"type":"function","function":{"name":"Bash","parameters":{"type":"object"}}}],
			"messages":[{"role":"user","content":"go"},{"role":"assistant","tool_calls":[{"id":"call_e2eLlmbridgeShell01","type":"function","function":{"name":"Bash","arguments":"{}"}}]},
			{"role":"tool","tool_call_id":"call_e2eLlmbridgeShell01","content":"llmbridge-e2e-ok\n"}]}`,
			[]string{"Bash"}, "llmbridge-e2e-ok\n"},
		{"chat, other call's result", testupstream.DeepSeek, "chat", `{"messages":[{"role":"tool","tool_call_id":"call_other","content":"llmbridge-e2e-ok"}]}`,
			nil, ""},
		{"gemini", testupstream.GeminiNative, "", `{"tools":[{"functionDeclarations":[{"name":"Bash","parametersJsonSchema":{"type":"object"}},{"name":"Read","parameters":{"type":"OBJECT"}}]}],
			"contents":[{"role":"user","parts":[{"text":"go"}]},{"role":"model","parts":[{"functionCall":{"name":"Bash","args":{}}}]},{"role":"user","parts":[{"functionResponse":{"name":"Bash","response":{"content":"llmbridge-e2e-ok"}}}]}]}`,
			[]string{"Bash", "Read"}, `{"content":"llmbridge-e2e-ok"}`},
		{"responses", testupstream.OpenAI, "responses", `{"tools":[{"type":"function","name":"exec_command","parameters":{"type":"object"}},{"type":"web_search"},{"type":"namespace","name":"multi_agent_v1","tools":[]}],
			"input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"go"}]},{"type":"function_call","call_id":"call_e2eLlmbridgeShell01","name":"exec_command","arguments":"{}"},
			{"type":"function_call_output","call_id":"call_e2eLlmbridgeShell01","output":"Output:\nllmbridge-e2e-ok\n"}]}`,
			[]string{"exec_command"}, "Output:\nllmbridge-e2e-ok\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := inspect(tt.flavor, tt.api, []byte(tt.body))
			var names []string
			for _, tl := range in.Tools {
				names = append(names, tl.Name)
			}
			if !slices.Equal(names, tt.tools) {
				t.Errorf("tools %q, want %q", names, tt.tools)
			}
			if in.HasResult != (tt.result != "") || in.Result != tt.result {
				t.Errorf("result %v %q, want %q", in.HasResult, in.Result, tt.result)
			}
		})
	}
}

// The shell call's arguments follow the tool's schema: Claude Code's Bash
// (command + description), Codex's exec_command (cmd) and an argv-style
// shell (command as an array).
func TestShellArgsFollowTheSchema(t *testing.T) {
	tests := []struct{ schema, want string }{
		{`{"type":"object","properties":{"command":{"type":"string"},"description":{"type":"string"},"timeout":{"type":"number"}}}`,
			`{"command":"printf 'llmbridge-%s\\n' e2e-ok | tee e2e.txt","description":"Write the e2e marker file"}`},
		{`{"type":"object","properties":{"cmd":{"type":"string"},"login":{"type":"boolean"}}}`,
			`{"cmd":"printf 'llmbridge-%s\\n' e2e-ok | tee e2e.txt"}`},
		{`{"type":"object","properties":{"command":{"type":"array","items":{"type":"string"}},"workdir":{"type":"string"}}}`,
			`{"command":["bash","-lc","printf 'llmbridge-%s\\n' e2e-ok | tee e2e.txt"]}`},
	}
	for _, tt := range tests {
		got := shellArgs(tool{Name: "x", Schema: gjson.Parse(tt.schema)})
		if got != tt.want {
			t.Errorf("schema %s:\n got %s\nwant %s", tt.schema, got, tt.want)
		}
		if strings.Contains(got, marker) {
			t.Errorf("the call itself holds the marker, so a request carrying it proves nothing: %s", got)
		}
	}
}

func TestPickShellPrefersTheShellTools(t *testing.T) {
	tools := []tool{{Name: "Read"}, {Name: "write_stdin"}, {Name: "exec_command"}}
	if got, ok := pickShell(tools); !ok || got.Name != "exec_command" {
		t.Errorf("got %q %v", got.Name, ok)
	}
	if _, ok := pickShell([]tool{{Name: "Read"}}); ok {
		t.Error("a request without a shell tool got one")
	}
}

// The real APIs' history rules: the tool answer right after the call.
func TestHistoryRules(t *testing.T) {
	tests := []struct {
		name   string
		flavor testupstream.Flavor
		body   string
		broken int
	}{
		{"chat in order", testupstream.DeepSeek, `{"messages":[{"role":"user","content":"go"},{"role":"assistant","content":"ok","tool_calls":[{"id":"a"},{"id":"b"}]},{"role":"tool","tool_call_id":"a"},{"role":"tool","tool_call_id":"b"},{"role":"assistant","content":"done"}]}`, 0},
		{"chat, assistant text between call and result", testupstream.DeepSeek, `{"messages":[{"role":"user","content":"go"},{"role":"assistant","tool_calls":[{"id":"a"}]},{"role":"assistant","content":"I'll run it."},{"role":"tool","tool_call_id":"a"}]}`, 2},
		{"chat, unanswered call at the end", testupstream.OpenAI, `{"messages":[{"role":"user","content":"go"},{"role":"assistant","tool_calls":[{"id":"a"}]}]}`, 1},
		{"messages in order, system between", testupstream.Anthropic, `{"messages":[{"role":"user","content":"go"},{"role":"assistant","content":[{"type":"tool_use","id":"t"}]},{"role":"system","content":"x"},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t"}]}]}`, 0},
		{"messages, result missing", testupstream.Anthropic, `{"messages":[{"role":"user","content":"go"},{"role":"assistant","content":[{"type":"tool_use","id":"t"}]},{"role":"user","content":"and?"}]}`, 1},
	}
	for _, tt := range tests {
		if got := historyRules(tt.flavor, "chat", []byte(tt.body)); len(got) != tt.broken {
			t.Errorf("%s: %d violations %q, want %d", tt.name, len(got), got, tt.broken)
		}
	}
}

func TestCodexConfigIsTheREADMEBlock(t *testing.T) {
	got := codexConfig("openai/gpt-5", "http://127.0.0.1:1219")
	for _, want := range []string{`model = "openai/gpt-5"`, `model_provider = "llmbridge"`, `base_url = "http://127.0.0.1:1219/v1"`, `env_key = "LLMBRIDGE_API_KEY"`, `wire_api = "responses"`} {
		if !strings.Contains(got, want) {
			t.Errorf("config.toml lacks %s:\n%s", want, got)
		}
	}
}

// inspect and historyRules read whatever an agent sends: never a panic,
// and the shell arguments they lead to are always valid JSON.
func FuzzInspect(f *testing.F) {
	f.Add(byte(0), `{"tools":[{"type":"function","function":{"name":"Bash","parameters":{"properties":{"command":{"type":"array"}}}}}],"messages":[{"role":"tool","tool_call_id":"call_e2eLlmbridgeShell01","content":[{"text":"x"},1]}]}`)
	f.Add(byte(3), `{"tools":[{"functionDeclarations":[{"name":"Bash"}]}],"contents":[{"parts":[{"functionResponse":{}}]}]}`)
	f.Add(byte(4), `{"tools":[{"name":"Bash","input_schema":{}}],"messages":[{"role":"assistant","content":[{"type":"tool_use","id":1}]},{"role":"user","content":"x"}]}`)
	f.Add(byte(5), `{"input":[{"type":"function_call_output","call_id":"call_e2eLlmbridgeShell01","output":{"a":1}}],"tools":"x"}`)
	f.Fuzz(func(t *testing.T, fl byte, body string) {
		flavors := []testupstream.Flavor{testupstream.OpenAI, testupstream.DeepSeek, testupstream.GeminiNative, testupstream.Anthropic}
		flavor := flavors[int(fl)%len(flavors)]
		api := "chat"
		if fl >= 4 {
			api = "responses"
		}
		in := inspect(flavor, api, []byte(body))
		_ = historyRules(flavor, api, []byte(body))
		for _, tl := range in.Tools {
			if args := shellArgs(tl); !json.Valid([]byte(args)) {
				t.Fatalf("shell arguments are not JSON: %s", args)
			}
		}
	})
}
