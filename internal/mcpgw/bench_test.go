package mcpgw

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/llmbridge/llmbridge/internal/testupstream"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// BenchmarkToolCall is one tools/call of an echo tool through the
// gateway (SDK client → /mcp → SDK client → Streamable HTTP server);
// BenchmarkToolCallDirect the same call straight to the server, the
// floor the gateway adds to.
func BenchmarkToolCall(b *testing.B) {
	team := testupstream.NewMCPHTTP(b, teamToken)
	cfg := Config{Servers: []ServerConfig{{Name: "team", URL: team.URL + "/mcp", Headers: map[string]string{"Authorization": "Bearer " + teamToken}}}}
	g, err := New(cfg, Options{Authenticate: testAuth})
	if err != nil {
		b.Fatal(err)
	}
	srv := httpServer(b, g)
	benchCalls(b, srv, keyAll, "team__echo")
	g.Close()
}

func BenchmarkToolCallDirect(b *testing.B) {
	team := testupstream.NewMCPHTTP(b, teamToken)
	benchCalls(b, team.URL+"/mcp", teamToken, "echo")
}

func httpServer(b *testing.B, h http.Handler) string {
	srv := httptest.NewServer(h)
	b.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	return srv.URL
}

func benchCalls(b *testing.B, url, key, tool string) {
	c := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1"}, nil)
	cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: &http.Client{Transport: &bearer{key: key}}, MaxRetries: -1}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer cs.Close()
	p := &mcp.CallToolParams{Name: tool, Arguments: map[string]any{"text": "hello"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cs.CallTool(context.Background(), p); err != nil {
			b.Fatal(err)
		}
	}
}
