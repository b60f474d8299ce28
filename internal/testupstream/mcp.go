package testupstream

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// MCPTools is an MCP server built with the official Go SDK, the upstream
// of the MCP gateway's tests, over stdio (a child process) or Streamable
// HTTP (NewMCPHTTP). Its tools:
//   - echo {text}: answers text.
//   - whoami: answers a JSON object of what reached it: the
//     Authorization and X-Api-Key headers (HTTP) and which of the
//     environment variables OPENAI_API_KEY, LOG_LEVEL are set (stdio).
//   - fail: answers a result with isError.
//   - rpcerror {text}: fails the request with a JSON-RPC error whose
//     message is text (an upstream that echoes what it holds).
//   - slow {steps}: sends steps progress notifications (to a caller that
//     asked with a progress token), then waits until cancelled.
//   - cancelled: answers how many slow calls saw their cancellation.
//   - hang: waits until cancelled.
//   - crash: exits the process (stdio only; over HTTP it is not listed).
//
// One resource, file:///team/notes.txt ("notes"), and one prompt,
// "greet" {name}, complete it.
type MCPTools struct {
	Server    *mcp.Server
	cancelled atomic.Int64
	release   chan struct{} // closed: hang and slow return (the test is over)
}

// Release ends every hanging call: a server's sessions cannot close
// while a handler runs.
func (t *MCPTools) Release() { close(t.release) }

type textIn struct {
	Text string `json:"text"`
}

type stepsIn struct {
	Steps int `json:"steps"`
}

func text(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

// NewMCPTools returns the server; stdio adds the crash tool.
func NewMCPTools(stdio bool) *MCPTools {
	t := &MCPTools{Server: mcp.NewServer(&mcp.Implementation{Name: "testupstream", Version: "1"}, nil), release: make(chan struct{})}
	s := t.Server
	mcp.AddTool(s, &mcp.Tool{Name: "echo", Description: "echoes text"}, func(_ context.Context, _ *mcp.CallToolRequest, in textIn) (*mcp.CallToolResult, any, error) {
		return text(in.Text), nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "whoami"}, func(_ context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		seen := map[string]any{}
		if req.Extra != nil && req.Extra.Header != nil {
			seen["authorization"] = req.Extra.Header.Get("Authorization")
			seen["x_api_key"] = req.Extra.Header.Get("X-Api-Key")
			var names []string
			for k := range req.Extra.Header {
				names = append(names, k)
			}
			sort.Strings(names)
			seen["headers"] = strings.Join(names, ",")
		}
		_, seen["openai_api_key_set"] = os.LookupEnv("OPENAI_API_KEY")
		seen["log_level"] = os.Getenv("LOG_LEVEL")
		b, _ := json.Marshal(seen)
		return text(string(b)), nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "fail"}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
		r := text("the tool failed")
		r.IsError = true
		return r, nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "rpcerror"}, func(_ context.Context, _ *mcp.CallToolRequest, in textIn) (*mcp.CallToolResult, any, error) {
		return nil, nil, &jsonrpc.Error{Code: -32050, Message: in.Text, Data: json.RawMessage(`{"secret":"data"}`)}
	})
	mcp.AddTool(s, &mcp.Tool{Name: "slow"}, func(ctx context.Context, req *mcp.CallToolRequest, in stepsIn) (*mcp.CallToolResult, any, error) {
		if tok := req.Params.GetProgressToken(); tok != nil {
			for i := 1; i <= in.Steps; i++ {
				_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: float64(i), Total: float64(in.Steps), Message: "step"})
			}
		}
		select {
		case <-ctx.Done():
			t.cancelled.Add(1)
			return nil, nil, ctx.Err()
		case <-t.release:
			return text("released"), nil, nil
		}
	})
	mcp.AddTool(s, &mcp.Tool{Name: "cancelled"}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
		b, _ := json.Marshal(t.cancelled.Load())
		return text(string(b)), nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "hang"}, func(ctx context.Context, _ *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-t.release:
			return text("released"), nil, nil
		}
	})
	if stdio {
		mcp.AddTool(s, &mcp.Tool{Name: "crash"}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
			os.Exit(3)
			return nil, nil, nil
		})
	}
	s.AddResource(&mcp.Resource{Name: "notes", URI: "file:///team/notes.txt", MIMEType: "text/plain"}, func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, MIMEType: "text/plain", Text: "team notes"}}}, nil
	})
	s.AddPrompt(&mcp.Prompt{Name: "greet", Arguments: []*mcp.PromptArgument{{Name: "name"}}}, func(_ context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: "Hello " + req.Params.Arguments["name"]}}}}, nil
	})
	return t
}

// NewMCPHTTP serves NewMCPTools over Streamable HTTP, at its URL's /mcp,
// to clients presenting Authorization: Bearer token only (401
// otherwise), as a real team server behind a token does. It closes with
// the test.
func NewMCPHTTP(tb testing.TB, token string) *httptest.Server {
	t := NewMCPTools(false)
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return t.Server }, nil)
	verify := func(_ context.Context, got string, _ *http.Request) (*auth.TokenInfo, error) {
		if got != token {
			return nil, auth.ErrInvalidToken
		}
		return &auth.TokenInfo{UserID: "bridge", Expiration: time.Now().Add(time.Hour)}, nil
	}
	mux := http.NewServeMux()
	mux.Handle("/mcp", auth.RequireBearerToken(verify, nil)(h))
	srv := httptest.NewServer(mux)
	tb.Cleanup(func() {
		t.Release()
		srv.Close()
	})
	return srv
}
