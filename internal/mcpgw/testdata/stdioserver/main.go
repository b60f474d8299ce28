// Command stdioserver is the MCP gateway tests' stdio upstream: the
// tools of testupstream.NewMCPTools over stdin/stdout.
package main

import (
	"context"
	"log"

	"github.com/llmbridge/llmbridge/internal/testupstream"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func main() {
	if err := testupstream.NewMCPTools(true).Server.Run(context.Background(), &mcp.StdioTransport{}); err != nil {
		log.Print(err)
	}
}
