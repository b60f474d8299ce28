// Command agente2e proves the coding-agent set-ups of the README end to
// end with the real CLIs: Claude Code (Anthropic Messages API) and Codex
// CLI (Responses API), each started as a new user would — only the
// documented environment variables or config.toml — against the bridge,
// which routes to a scripted fake upstream speaking the provider's real
// wire format (internal/testupstream).
//
// For every scenario it starts the fake, the bridge in-process on a
// loopback port (access key required, usage records collected) and the CLI
// as a child process in an empty temporary directory with a fresh HOME.
// The fake answers the agent's first request that offers a shell tool with
// a call of that tool running a harmless command that writes e2e.txt, and
// the request carrying the command's output with a final text answer; the
// agents' side requests (titles, topic checks) get a short text. A
// scenario passes when the CLI exits 0, e2e.txt holds the marker, the fake
// received the tool result in the agent's follow-up request, and the
// bridge's usage records show both turns with status 200.
//
// The claude-mcp scenario (mcp.go) registers the bridge's /mcp with
// `claude mcp add --transport http …` as the README says; the fake calls
// the MCP tool mcp__bridge__team__echo, which Claude Code calls through the
// bridge's MCP gateway to a server built with the official MCP Go SDK,
// while its model calls go through the same bridge.
//
// The CLIs are not part of the module: install them with npm into a
// prefix and point -agents at it (scripts/agents-e2e.sh does both). No
// network beyond loopback is used; the CLIs' non-essential traffic is
// switched off with their documented variables.
//
// Usage:
//
//	go run ./internal/cmd/agente2e -agents /tmp/agents [-run claude-gemini] [-out dir] [-v]
//
// It prints one block per scenario and exits 1 if any failed.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

func main() {
	agents := flag.String("agents", "/tmp/agents", "npm prefix holding bin/claude and bin/codex")
	run := flag.String("run", "", "regexp selecting scenarios by name (default all)")
	out := flag.String("out", "", "directory for logs and request bodies (default: a new temporary directory)")
	timeout := flag.Duration("timeout", 4*time.Minute, "limit for one CLI run")
	verbose := flag.Bool("v", false, "print the agents' output and every upstream request")
	flag.Parse()

	sel, err := regexp.Compile(*run)
	if err != nil {
		fmt.Fprintln(os.Stderr, "agente2e: -run:", err)
		os.Exit(2)
	}
	dir := *out
	if dir == "" {
		if dir, err = os.MkdirTemp("", "agente2e-"); err != nil {
			fmt.Fprintln(os.Stderr, "agente2e:", err)
			os.Exit(2)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "agente2e:", err)
		os.Exit(2)
	}
	fmt.Printf("agente2e: logs and request bodies in %s\n\n", dir)

	failed, ran := 0, 0
	for _, sc := range scenarios() {
		if !sel.MatchString(sc.Name) {
			continue
		}
		ran++
		res := runScenario(context.Background(), sc, config{agents: *agents, dir: filepath.Join(dir, sc.Name), timeout: *timeout, verbose: *verbose})
		res.print(os.Stdout, *verbose)
		if !res.ok() {
			failed++
		}
	}
	fmt.Printf("agente2e: %d scenarios, %d failed\n", ran, failed)
	if failed > 0 || ran == 0 {
		os.Exit(1)
	}
}

// config is what every scenario run shares.
type config struct {
	agents  string
	dir     string // this scenario's own directory
	timeout time.Duration
	verbose bool
}

// serve serves h on a new loopback port until ctx ends and returns its
// base URL and a function that stops it.
func serve(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			srv.Close()
		}
		<-done
	}
	return "http://" + ln.Addr().String(), stop, nil
}

func readAll(r *http.Request) ([]byte, error) {
	defer r.Body.Close()
	return io.ReadAll(r.Body)
}

func newBody(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }
