package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/configfile"
	"github.com/llmbridge/llmbridge/internal/mcpgw"
	"github.com/llmbridge/llmbridge/internal/provider/azure"
	"github.com/llmbridge/llmbridge/internal/provider/endpoint"
	"github.com/llmbridge/llmbridge/internal/provider/vertex"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// accessKey is the bridge's access key the agents are configured with.
const accessKey = "sk-lb-agente2e-access-0123456789"

// A scenario is one agent against one upstream through the bridge.
type scenario struct {
	Name     string // agent-upstream
	Agent    string // "claude" or "codex"
	Flavor   testupstream.Flavor
	API      string // the OpenAI flavor's upstream API: "chat" or "responses"
	Provider func(llmbridge.ProviderConfig) llmbridge.Provider
	Models   []string // the provider's configured model list; nil: its default
	// Upstream is what the fake's model list names (the bridge fetches it
	// at start): brand-new names the configured list has never heard of.
	Upstream []string
	// Model is the routed name the agent is configured with; empty leaves
	// the agent's own default (Claude Code with only the two variables).
	Model string
	// Format is the client format the usage records must name.
	Format string
	Route  string // how the bridge serves it, for the report
	// MCP makes the task a tool of the bridge's /mcp instead of the shell
	// (mcp.go); there is no follow-up run.
	MCP bool
}

// scenarios are the combinations issues 13 and 14 name, plus DeepSeek
// for Claude Code.
func scenarios() []scenario {
	// Claude Code with no model variables asks for its own default names
	// (2.1.332: claude-opus-5-5, and its haiku for side requests), which
	// no configured list names: the Anthropic provider's family (claude-*)
	// routes them, and its upstream's live list shows them in /v1/models.
	claudeUpstream := []string{"claude-opus-5-5", "claude-sonnet-5", "claude-haiku-5", "claude-sonnet-4-5"}
	return []scenario{
		{Name: "claude-anthropic", Agent: "claude", Flavor: testupstream.Anthropic, Provider: llmbridge.Anthropic, Upstream: claudeUpstream,
			Format: "anthropic", Route: "pass-through"},
		{Name: "claude-mcp", Agent: "claude", Flavor: testupstream.Anthropic, Provider: llmbridge.Anthropic, Upstream: claudeUpstream,
			Model: "anthropic/claude-sonnet-4-5", Format: "anthropic", Route: "pass-through, tools through /mcp", MCP: true},
		{Name: "claude-openai", Agent: "claude", Flavor: testupstream.OpenAI, API: "chat", Provider: llmbridge.OpenAI,
			Model: "openai/gpt-4o", Format: "anthropic", Route: "translated to Chat Completions"},
		{Name: "claude-gemini", Agent: "claude", Flavor: testupstream.GeminiNative, Provider: llmbridge.Gemini, Upstream: []string{"gemini-3-pro-preview", "gemini-3.5-flash"},
			Model: "gemini/gemini-3-pro-preview", Format: "anthropic", Route: "translated to Gemini generateContent"},
		{Name: "claude-deepseek", Agent: "claude", Flavor: testupstream.DeepSeek, Provider: llmbridge.DeepSeek,
			Model: "deepseek/deepseek-chat", Format: "anthropic", Route: "translated to Chat Completions"},
		{Name: "claude-bedrock", Agent: "claude", Flavor: testupstream.Bedrock, Provider: signedBedrock, Models: []string{"us.anthropic.claude-sonnet-4-5-20250929-v1:0"},
			Model: "bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0", Format: "anthropic", Route: "translated to Converse, SigV4-signed"},
		// A bare name no list names, routed by OpenAI's family. Codex's own
		// default (0.171: gpt-6.2-sol) is routed the same way, but its
		// catalog marks it "code_mode_only" with "use_responses_lite": it
		// sends no tools the fake could script a shell call for.
		{Name: "codex-openai", Agent: "codex", Flavor: testupstream.OpenAI, API: "responses", Provider: llmbridge.OpenAI, Upstream: []string{"gpt-5.5", "gpt-5"},
			Model: "gpt-5.5", Format: "responses", Route: "pass-through"},
		{Name: "codex-anthropic", Agent: "codex", Flavor: testupstream.Anthropic, Provider: llmbridge.Anthropic, Upstream: claudeUpstream,
			Model: "anthropic/claude-sonnet-4-5", Format: "responses", Route: "translated to Messages"},
		{Name: "codex-deepseek", Agent: "codex", Flavor: testupstream.DeepSeek, Provider: llmbridge.DeepSeek,
			Model: "deepseek/deepseek-chat", Format: "responses", Route: "translated to Chat Completions"},
		{Name: "claude-vertex", Agent: "claude", Flavor: testupstream.Vertex, Provider: vertexClaude,
			Model: "vertex/claude-sonnet-4-5@20250929", Format: "anthropic", Route: "pass-through to Vertex AI streamRawPredict"},
		{Name: "codex-azure", Agent: "codex", Flavor: testupstream.Azure, API: "chat", Provider: azureOpenAI,
			Model: "azure/gpt-5", Format: "responses", Route: "translated to Azure OpenAI Chat Completions"},
	}
}

// vertexClaude is a kind: vertex provider whose OAuth token is the fake's
// key.
func vertexClaude(pc llmbridge.ProviderConfig) llmbridge.Provider {
	return configfile.VertexProvider{Provider: vertex.New(vertex.Config{Config: endpoint.Config{Name: "vertex", BaseURL: pc.BaseURL, Models: pc.Models},
		Project: "agents-e2e", Location: "us-east5", TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: pc.APIKey})})}
}

// azureOpenAI is a kind: azure provider with the fake's key as api-key.
func azureOpenAI(pc llmbridge.ProviderConfig) llmbridge.Provider {
	return azure.New(azure.Config{Config: endpoint.Config{Name: "azure", BaseURL: pc.BaseURL, APIKey: pc.APIKey, Models: pc.Models}})
}

// agentRun is one invocation of the CLI.
type agentRun struct {
	args           []string
	exit           error
	stdout, stderr string
}

// result is a scenario's outcome.
type result struct {
	sc        scenario
	dir       string
	runs      []agentRun // the task, then the follow-up in the same session
	file      string     // e2e.txt, or the error reading it
	exchanges []exchange
	clients   []clientExchange
	records   []llmbridge.UsageRecord
	problems  []string
	elapsed   time.Duration
}

func (r *result) ok() bool { return len(r.problems) == 0 }

func (r *result) fail(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

// recorder collects the bridge's usage records.
type recorder struct {
	mu   sync.Mutex
	recs []llmbridge.UsageRecord
}

func (rc *recorder) add(r llmbridge.UsageRecord) {
	rc.mu.Lock()
	rc.recs = append(rc.recs, r)
	rc.mu.Unlock()
}

func (rc *recorder) all() []llmbridge.UsageRecord {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]llmbridge.UsageRecord(nil), rc.recs...)
}

func runScenario(ctx context.Context, sc scenario, cfg config) *result {
	res := &result{sc: sc, dir: cfg.dir}
	start := time.Now()
	defer func() { res.elapsed = time.Since(start) }()
	home, work := filepath.Join(cfg.dir, "home"), filepath.Join(cfg.dir, "work")
	for _, d := range []string{home, work} {
		_ = os.RemoveAll(d)
		if err := os.MkdirAll(d, 0o755); err != nil {
			res.fail("%v", err)
			return res
		}
	}

	// The fake, behind the scripting front.
	fake := testupstream.Start(sc.Flavor)
	defer fake.Close()
	if sc.Upstream != nil {
		fake.SetModelList(&testupstream.ModelList{IDs: sc.Upstream})
	}
	front := &scripted{fake: fake, api: sc.API}
	if sc.MCP {
		front.tool = mcpTool
	}
	frontURL, stopFront, err := serve(front)
	if err != nil {
		res.fail("fake: %v", err)
		return res
	}
	defer stopFront()
	upstreamBase := frontURL + strings.TrimPrefix(fake.BaseURL(), fake.URL)

	// The bridge, as the server would build it: an access key, the
	// provider pointed at the fake, usage records collected.
	logf, err := os.Create(filepath.Join(cfg.dir, "bridge.log"))
	if err != nil {
		res.fail("%v", err)
		return res
	}
	defer logf.Close()
	rec := &recorder{}
	b, err := llmbridge.New(
		llmbridge.WithProvider(sc.Provider(llmbridge.ProviderConfig{BaseURL: upstreamBase, APIKey: fake.Key, Models: sc.Models})),
		llmbridge.WithAccessKeys(accessKey),
		llmbridge.WithModelRefresh(time.Hour), // as the server does (LLMBRIDGE_MODELS_REFRESH)
		llmbridge.WithUsageSink(rec.add),
		llmbridge.WithLogger(slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelDebug}))),
	)
	if err != nil {
		res.fail("bridge: %v", err)
		return res
	}
	var handler http.Handler = b.Handler()
	mcpCalls := func() []mcpgw.Call { return nil }
	if sc.MCP {
		var stopMCP func()
		if handler, mcpCalls, stopMCP, err = mcpFront(handler); err != nil {
			res.fail("mcp: %v", err)
			return res
		}
		defer stopMCP()
	}
	clients := &clientLog{next: handler}
	bridgeURL, stopBridge, err := serve(clients)
	if err != nil {
		res.fail("bridge: %v", err)
		return res
	}

	// The agent: the task, then a follow-up question in the same session.
	for _, followUp := range []bool{false, true} {
		if followUp && sc.MCP {
			break
		}
		run, err := runAgent(ctx, sc, cfg, bridgeURL, home, work, followUp)
		if err != nil {
			res.fail("%v", err)
			break
		}
		res.runs = append(res.runs, run)
		if run.exit != nil {
			break
		}
	}
	stopBridge()
	b.Close() // flushes the usage records
	res.exchanges = front.Exchanges()
	res.records = rec.all()
	res.clients = clients.all()
	writeLogs(cfg.dir, res)
	writeClientLogs(cfg.dir, res.clients)
	if sc.MCP {
		checkMCP(res, mcpCalls())
	} else {
		check(res, work)
	}
	return res
}

// runAgent runs the CLI once and waits for it.
func runAgent(ctx context.Context, sc scenario, cfg config, bridgeURL, home, work string, followUp bool) (agentRun, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	cmd, err := agentCommand(ctx, sc, cfg.agents, bridgeURL, home, work, followUp)
	if err != nil {
		return agentRun{}, err
	}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	return agentRun{args: cmd.Args[1:], exit: err, stdout: stdout.String(), stderr: stderr.String()}, nil
}

// check judges a finished scenario.
func check(res *result, work string) {
	sc := res.sc
	for i, run := range res.runs {
		var ee *exec.ExitError
		switch {
		case errors.As(run.exit, &ee):
			res.fail("%s run %d exited with %d", sc.Agent, i+1, ee.ExitCode())
		case run.exit != nil:
			res.fail("%s run %d: %v", sc.Agent, i+1, run.exit)
		}
	}
	data, err := os.ReadFile(filepath.Join(work, "e2e.txt"))
	if err != nil {
		res.file = err.Error()
		res.fail("the tool did not run: %v", err)
	} else {
		res.file = strings.TrimSpace(string(data))
		if res.file != marker {
			res.fail("e2e.txt holds %q, want %q", res.file, marker)
		}
	}
	var called, answered, followed bool
	for i, ex := range res.exchanges {
		for _, b := range ex.Broken {
			res.fail("upstream request %d would be refused by the real API: %s", i+1, b)
		}
		called = called || ex.Reply == "tool_call"
		if ex.Reply == "followup" && ex.In.HasResult {
			followed = true // the new question came with the whole history
		}
		if ex.Reply == "final" {
			answered = true
			if !strings.Contains(ex.In.Result, marker) {
				res.fail("the tool result sent upstream does not hold the command's output: %q", ex.In.Result)
			}
		}
	}
	if !called {
		res.fail("no upstream request offered a shell tool (tools seen: %s)", toolsSeen(res.exchanges))
	}
	if called && !answered {
		res.fail("the fake never received the tool result")
	}
	if len(res.runs) == 2 && !followed {
		res.fail("no follow-up request carried both the new question and the earlier tool round trip")
	}
	// Usage: at least the tool-call turn and the final turn, both 200,
	// in the client's format, from the right provider, with tokens.
	var turns int
	for _, r := range res.records {
		if r.Format != sc.Format {
			continue
		}
		if r.Status != 200 {
			res.fail("usage record %s %s: status %d %s %s", r.Path, r.Model, r.Status, r.ErrorCode, r.Error)
			continue
		}
		if r.Provider == providerName(sc) && r.PromptTokens > 0 && r.CompletionTokens > 0 {
			turns++
		}
	}
	if turns < 3 {
		res.fail("usage records show %d successful %q turns with tokens, want at least 3 (tool call, answer, follow-up)", turns, sc.Format)
	}
	if len(res.runs) > 0 && answered && !strings.Contains(res.runs[0].stdout, "Done") {
		res.fail("the agent's output does not show the final answer (%q)", "Done")
	}
	if len(res.runs) > 1 && followed && !strings.Contains(res.runs[1].stdout, followUpAnswer) {
		res.fail("the follow-up run's output does not show the answer (%q)", followUpAnswer)
	}
}

func providerName(sc scenario) string {
	return sc.Provider(llmbridge.ProviderConfig{}).Name()
}

func toolsSeen(exs []exchange) string {
	seen := map[string]bool{}
	var names []string
	for _, ex := range exs {
		for _, t := range ex.In.Tools {
			if !seen[t.Name] {
				seen[t.Name] = true
				names = append(names, t.Name)
			}
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// writeLogs keeps the agent's output and every upstream request body.
func writeLogs(dir string, res *result) {
	for i, run := range res.runs {
		_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("agent-%d.stdout", i+1)), []byte(run.stdout), 0o644)
		_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("agent-%d.stderr", i+1)), []byte(run.stderr), 0o644)
	}
	for i, ex := range res.exchanges {
		name := fmt.Sprintf("upstream-%02d-%s.json", i+1, ex.Reply)
		_ = os.WriteFile(filepath.Join(dir, name), ex.Body, 0o644)
	}
}

func (r *result) print(w io.Writer, verbose bool) {
	status := "PASS"
	if !r.ok() {
		status = "FAIL"
	}
	fmt.Fprintf(w, "=== %s %s: %s → bridge → %s fake (%s), model %q, %s\n", status, r.sc.Name, r.sc.Agent, flavorName(r.sc), r.sc.Route, r.sc.Model, r.elapsed.Round(time.Millisecond))
	for _, p := range r.problems {
		fmt.Fprintf(w, "    problem: %s\n", p)
	}
	fmt.Fprintf(w, "    e2e.txt: %q\n", r.file)
	fmt.Fprintln(w, "    agent → bridge:")
	for i, ex := range r.clients {
		fmt.Fprintf(w, "      %d. %s %s (%d bytes) → %d %s\n", i+1, ex.Method, ex.Path, len(ex.Body), ex.Status, ex.Response)
	}
	fmt.Fprintln(w, "    bridge → upstream:")
	for i, ex := range r.exchanges {
		fmt.Fprintf(w, "      %d. %s\n", i+1, ex)
	}
	fmt.Fprintln(w, "    usage records:")
	for _, u := range r.records {
		fmt.Fprintf(w, "      %s %s format=%s provider=%s model=%s upstream=%s stream=%v status=%d tokens=%d+%d cached=%d %s\n",
			u.Method, u.Path, u.Format, u.Provider, u.Model, u.UpstreamModel, u.Stream, u.Status, u.PromptTokens, u.CompletionTokens, u.CachedTokens, u.Error)
	}
	tail := func(s string, n int) string {
		lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
		if len(lines) > n {
			lines = lines[len(lines)-n:]
		}
		return "        | " + strings.Join(lines, "\n        | ")
	}
	n := 6
	if verbose || !r.ok() {
		n = 40
	}
	for i, run := range r.runs {
		fmt.Fprintf(w, "    run %d: %s %s → exit %v\n", i+1, r.sc.Agent, quoteArgs(run.args), run.exit)
		fmt.Fprintf(w, "      stdout (last %d lines):\n%s\n", n, tail(run.stdout, n))
		if strings.TrimSpace(run.stderr) != "" && (verbose || !r.ok()) {
			fmt.Fprintf(w, "      stderr (last %d lines):\n%s\n", n, tail(run.stderr, n))
		}
	}
	fmt.Fprintf(w, "    logs: %s\n\n", r.dir)
}

func flavorName(sc scenario) string {
	switch sc.Flavor {
	case testupstream.Anthropic:
		return "Anthropic Messages"
	case testupstream.GeminiNative:
		return "Gemini native"
	case testupstream.DeepSeek:
		return "DeepSeek"
	case testupstream.Bedrock:
		return "Bedrock Converse"
	case testupstream.Vertex:
		return "Vertex AI (Claude)"
	case testupstream.Azure:
		return "Azure OpenAI Chat Completions"
	case testupstream.OpenAI:
		if sc.API == "responses" {
			return "OpenAI Responses"
		}
		return "OpenAI Chat Completions"
	}
	return "?"
}

// quoteArgs shows a command line, quoting the arguments with spaces.
func quoteArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		if strings.ContainsAny(a, " \t\"'") {
			out[i] = fmt.Sprintf("%q", a)
		}
	}
	return strings.Join(out, " ")
}
