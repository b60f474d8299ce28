package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/llmbridge/llmbridge/internal/testupstream"
	"github.com/tidwall/gjson"
)

// marker is what the scripted shell command prints (and writes to
// e2e.txt). The command builds it with printf, so the tool call itself
// never contains it: a request that does contains the command's output,
// the tool result.
const marker = "llmbridge-e2e-ok"

// shellCommand is the harmless command the fake asks the agent to run.
const shellCommand = `printf 'llmbridge-%s\n' e2e-ok | tee e2e.txt`

// The ids the fake gives its tool call (Gemini has none on the wire; the
// bridge makes one up).
const (
	anthropicCallID = "toolu_01E2eLlmbridgeShell01"
	openAICallID    = "call_e2eLlmbridgeShell01"
)

// A tool is one function tool a request offers, with its JSON schema.
type tool struct {
	Name   string
	Schema gjson.Result
}

// inspection is what the harness needs to know about one upstream request,
// read from the flavor's own wire format.
type inspection struct {
	Tools []tool
	// Result is the output the agent sent back for the fake's tool call
	// (found by id, or for Gemini by the call's name), and HasResult
	// whether there was one.
	Result    string
	HasResult bool
}

// inspect reads an upstream request body of flavor f. It never fails:
// what it cannot find stays empty.
func inspect(f testupstream.Flavor, api string, body []byte) inspection {
	var in inspection
	if !gjson.ValidBytes(body) {
		return in
	}
	root := gjson.ParseBytes(body)
	switch {
	case f == testupstream.Anthropic || f == testupstream.Vertex:
		root.Get("tools").ForEach(func(_, t gjson.Result) bool {
			if n := t.Get("name"); n.Exists() && t.Get("input_schema").Exists() {
				in.Tools = append(in.Tools, tool{n.String(), t.Get("input_schema")})
			}
			return true
		})
		root.Get("messages").ForEach(func(_, m gjson.Result) bool {
			m.Get("content").ForEach(func(_, b gjson.Result) bool {
				if b.Get("type").String() == "tool_result" && b.Get("tool_use_id").String() == anthropicCallID {
					in.HasResult, in.Result = true, textOf(b.Get("content"))
				}
				return true
			})
			return true
		})
	case f == testupstream.Bedrock:
		inspectConverse(root, &in)
	case f == testupstream.GeminiNative:
		root.Get("tools").ForEach(func(_, t gjson.Result) bool {
			t.Get("functionDeclarations").ForEach(func(_, d gjson.Result) bool {
				schema := d.Get("parametersJsonSchema")
				if !schema.Exists() {
					schema = d.Get("parameters")
				}
				in.Tools = append(in.Tools, tool{d.Get("name").String(), schema})
				return true
			})
			return true
		})
		root.Get("contents").ForEach(func(_, c gjson.Result) bool {
			c.Get("parts").ForEach(func(_, p gjson.Result) bool {
				if fr := p.Get("functionResponse"); fr.Exists() {
					in.HasResult, in.Result = true, fr.Get("response").Raw
				}
				return true
			})
			return true
		})
	case api == "responses":
		root.Get("tools").ForEach(func(_, t gjson.Result) bool {
			if t.Get("type").String() == "function" {
				in.Tools = append(in.Tools, tool{t.Get("name").String(), t.Get("parameters")})
			}
			return true
		})
		root.Get("input").ForEach(func(_, it gjson.Result) bool {
			if it.Get("type").String() == "function_call_output" && it.Get("call_id").String() == openAICallID {
				in.HasResult, in.Result = true, textOf(it.Get("output"))
			}
			return true
		})
	default: // Chat Completions
		root.Get("tools").ForEach(func(_, t gjson.Result) bool {
			if fn := t.Get("function"); fn.Exists() {
				in.Tools = append(in.Tools, tool{fn.Get("name").String(), fn.Get("parameters")})
			}
			return true
		})
		root.Get("messages").ForEach(func(_, m gjson.Result) bool {
			if m.Get("role").String() == "tool" && m.Get("tool_call_id").String() == openAICallID {
				in.HasResult, in.Result = true, textOf(m.Get("content"))
			}
			return true
		})
	}
	return in
}

// textOf is a content value as text: a string, or the text of its parts.
func textOf(v gjson.Result) string {
	if v.Type == gjson.String {
		return v.String()
	}
	if !v.IsArray() {
		return v.Raw
	}
	var b strings.Builder
	v.ForEach(func(_, p gjson.Result) bool {
		if t := p.Get("text"); t.Exists() {
			b.WriteString(t.String())
		} else {
			b.WriteString(p.Raw)
		}
		return true
	})
	return b.String()
}

// shellTools are the names under which the CLIs offer a shell, most
// specific first: Claude Code's Bash; Codex's shell tools across versions.
var shellTools = []string{"Bash", "exec_command", "shell_command", "shell", "local_shell", "container.exec"}

// pickShell returns the offered shell tool, if any.
func pickShell(tools []tool) (tool, bool) {
	for _, name := range shellTools {
		for _, t := range tools {
			if t.Name == name {
				return t, true
			}
		}
	}
	return tool{}, false
}

// pickNamed returns the offered tool called name, if any.
func pickNamed(tools []tool, name string) (tool, bool) {
	for _, t := range tools {
		if t.Name == name {
			return t, true
		}
	}
	return tool{}, false
}

// shellArgs builds the tool's arguments for shellCommand from its schema:
// "command" as a string or an argv array, or "cmd"; Claude Code's Bash
// also takes a description.
func shellArgs(t tool) string {
	props := t.Schema.Get("properties")
	args := map[string]any{}
	switch {
	case props.Get("command.type").String() == "array":
		args["command"] = []string{"bash", "-lc", shellCommand}
	case props.Get("command").Exists():
		args["command"] = shellCommand
	case props.Get("cmd").Exists():
		args["cmd"] = shellCommand
	default:
		args["command"] = shellCommand
	}
	if props.Get("description").Exists() {
		args["description"] = "Write the e2e marker file"
	}
	b, _ := json.Marshal(args)
	return string(b)
}

// exchange is one upstream request as the harness saw it.
type exchange struct {
	Path  string
	Body  []byte
	In    inspection
	Reply string // "tool_call", "final", "followup", "text" or "count"
	// Broken lists the history rules of the real API the request breaks
	// (rules.go): a real upstream would refuse it with a 400.
	Broken []string
}

// scripted wraps a testupstream fake: for each request it reads the body,
// queues the reply the conversation calls for (a shell tool call when the
// shell tool is offered and no result has come back yet, the final answer
// once it has, a short text for the agents' side requests such as title
// generation) and lets the fake answer in its real wire format. Requests
// are served one at a time, so a queued reply cannot go to another request.
type scripted struct {
	fake *testupstream.Server
	api  string // "chat" or "responses" for the OpenAI-wire flavors
	tool string // the tool to call instead of the shell (the MCP scenario); "": the shell

	serve     sync.Mutex // one request at a time through the fake
	mu        sync.Mutex
	exchanges []exchange
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/models") {
		s.fake.Config.Handler.ServeHTTP(w, r) // the bridge's own list fetch: no exchange of the agent's
		return
	}
	s.serve.Lock()
	defer s.serve.Unlock()
	body, err := readAll(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	api := s.api
	if strings.HasSuffix(r.URL.Path, "/responses") {
		api = "responses"
	}
	in := inspect(s.fake.Flavor, api, body)
	ex := exchange{Path: r.URL.Path, Body: body, In: in, Reply: "text", Broken: historyRules(s.fake.Flavor, api, body)}
	usage := testupstream.Usage{Prompt: 100 + len(body)/4, Completion: 12}
	shell, hasShell := pickShell(in.Tools)
	if s.tool != "" {
		shell, hasShell = pickNamed(in.Tools, s.tool)
	}
	// The reply goes in as the fake's default, not queued: a request the
	// fake refuses before taking a reply (count_tokens, a bad body) must
	// not leave one behind for the next.
	switch {
	case strings.HasSuffix(r.URL.Path, "/count_tokens"), strings.HasSuffix(r.URL.Path, "/count-tokens:rawPredict"):
		ex.Reply = "count"
	case hasShell && strings.Contains(string(body), followUpPrompt):
		ex.Reply = "followup"
		s.fake.SetDefault(testupstream.Reply{Content: []string{"Follow-up: ", "I ran printf piped into tee."}, Usage: usage})
	case in.HasResult:
		ex.Reply = "final"
		s.fake.SetDefault(testupstream.Reply{Content: []string{"Done: ", "e2e.txt now ", "holds the marker."}, Usage: usage})
	case hasShell:
		ex.Reply = "tool_call"
		id := openAICallID
		if s.fake.Flavor == testupstream.Anthropic || s.fake.Flavor == testupstream.Vertex {
			id = anthropicCallID
		} else if s.fake.Flavor == testupstream.Bedrock {
			id = bedrockCallID
		}
		args := shellArgs(shell)
		if s.tool != "" {
			args = `{"text":"` + mcpText + `"}`
		}
		half := len(args) / 2
		s.fake.SetDefault(testupstream.Reply{Reasoning: []string{"The user wants a file; ", "a shell command writes it."}, Content: []string{"I'll run it."},
			ToolCalls: []testupstream.ToolCall{{ID: id, Name: shell.Name, Args: []string{args[:half], args[half:]}}}, Usage: usage})
	default:
		s.fake.SetDefault(testupstream.Reply{Content: []string{"E2E check"}, Usage: usage})
	}
	s.mu.Lock()
	s.exchanges = append(s.exchanges, ex)
	s.mu.Unlock()
	r.Body = newBody(body)
	s.fake.Config.Handler.ServeHTTP(w, r)
}

// Exchanges returns the requests seen so far.
func (s *scripted) Exchanges() []exchange {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]exchange(nil), s.exchanges...)
}

func (e exchange) String() string {
	names := make([]string, len(e.In.Tools))
	for i, t := range e.In.Tools {
		names[i] = t.Name
	}
	s := fmt.Sprintf("%s (%d bytes, %d tools, tool result %v) → %s", e.Path, len(e.Body), len(names), e.In.HasResult, e.Reply)
	for _, b := range e.Broken {
		s += "\n         breaks the real API's rule: " + b
	}
	return s
}
