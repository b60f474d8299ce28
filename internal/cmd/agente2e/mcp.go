package main

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"

	"github.com/llmbridge/llmbridge/internal/mcpgw"
	"github.com/llmbridge/llmbridge/internal/testupstream"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The MCP scenario: Claude Code, set up with the README's
// `claude mcp add --transport http bridge …/mcp --header …`, is told to
// use a tool; the fake model calls it as mcp__bridge__team__echo, Claude
// Code calls the bridge's /mcp, and the gateway routes it to an MCP
// server built with the official SDK. Its model calls go through the
// same bridge.
const (
	mcpPrompt = "Use the team echo tool to echo the text llmbridge-mcp-e2e, then tell me what it returned."
	mcpTool   = "mcp__bridge__team__echo" // Claude Code's name: mcp__<server>__<tool>
	mcpText   = "llmbridge-mcp-e2e"
)

// mcpFront serves /mcp with a gateway in front of an SDK-built MCP
// server and the rest with next. stop ends both.
func mcpFront(next http.Handler) (h http.Handler, calls func() []mcpgw.Call, stop func(), err error) {
	tools := testupstream.NewMCPTools(false)
	upURL, stopUp, err := serve(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return tools.Server }, nil))
	if err != nil {
		return nil, nil, nil, err
	}
	var mu sync.Mutex
	var seen []mcpgw.Call
	g, err := mcpgw.New(mcpgw.Config{Servers: []mcpgw.ServerConfig{{Name: "team", URL: upURL}}}, mcpgw.Options{
		Authenticate: func(h http.Header) (mcpgw.Caller, error) {
			if h.Get("Authorization") != "Bearer "+accessKey {
				return mcpgw.Caller{}, mcpgw.ErrUnauthorized
			}
			return mcpgw.Caller{KeyID: "agent"}, nil
		},
		Observers: []func(mcpgw.Call){func(c mcpgw.Call) { mu.Lock(); seen = append(seen, c); mu.Unlock() }},
	})
	if err != nil {
		stopUp()
		return nil, nil, nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/mcp", g)
	mux.Handle("/", next)
	calls = func() []mcpgw.Call { mu.Lock(); defer mu.Unlock(); return append([]mcpgw.Call(nil), seen...) }
	return mux, calls, func() { tools.Release(); g.Close(); stopUp() }, nil
}

// claudeMCPAdd registers the bridge's /mcp with Claude Code as the README
// says, in the agent's fresh HOME.
func claudeMCPAdd(ctx context.Context, bin string, env []string, work, bridgeURL string) error {
	cmd := exec.CommandContext(ctx, bin, "mcp", "add", "--transport", "http", "bridge", bridgeURL+"/mcp", "--header", "Authorization: Bearer "+accessKey)
	cmd.Env, cmd.Dir = env, work
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("claude mcp add: %v: %s", err, out)
	}
	return nil
}

// checkMCP judges the MCP scenario: the fake called the tool, the gateway
// routed one call to the team server and counted it ok, the tool's output
// came back to the model, and the agent showed the answer.
func checkMCP(res *result, calls []mcpgw.Call) {
	var called, answered bool
	for _, ex := range res.exchanges {
		called = called || ex.Reply == "tool_call"
		if ex.Reply == "final" {
			answered = true
			if !strings.Contains(ex.In.Result, mcpText) {
				res.fail("the MCP tool result sent upstream does not hold the echo: %q", ex.In.Result)
			}
		}
	}
	if !called {
		res.fail("no upstream request offered %s (tools seen: %s)", mcpTool, toolsSeen(res.exchanges))
	}
	if called && !answered {
		res.fail("the fake never received the MCP tool's result")
	}
	if len(calls) != 1 || calls[0].Server != "team" || calls[0].Tool != "echo" || calls[0].Status != mcpgw.StatusOK || calls[0].KeyID != "agent" {
		res.fail("the gateway counted %+v, want one ok call of team/echo by the agent's key", calls)
	}
	res.file = fmt.Sprintf("(MCP) %d gateway call(s)", len(calls))
}
