package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// startShipped builds the standalone server (go build ./server) and runs
// it as shipped, in front of the mock: its defaults — the request log,
// the SQLite usage store, the metrics and the live hub, the console log
// at info, one line a request — set only where the mock needs them (its
// two providers, in a YAML file) and where files go (dir). Its console
// log goes to a pipe this process drains, as journald or a container
// runtime reads it. It returns the process and its usage store's path.
func startShipped(dir, upstream string) (*child, string, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, "", err
	}
	bin := filepath.Join(dir, "llmbridge-server")
	build := exec.Command("go", "build", "-o", bin, "./server")
	build.Dir, build.Stderr = root, os.Stderr
	if err := build.Run(); err != nil {
		return nil, "", fmt.Errorf("building the server: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	addr := ln.Addr().String()
	ln.Close()
	yaml := fmt.Sprintf(`providers:
  - {name: %s, kind: openai, base_url: %q, api_key: mock-key, models: [m]}
  - {name: %s, kind: anthropic, base_url: %q, api_key: mock-anthropic-key, models: [m]}
prices:
  %s/m: {input: 0.15, cached_input: 0.075, output: 0.60}
  %s/m: {input: 1, cached_input: 0.10, cache_write: 1.25, output: 5}
`, mockProvider, upstream+"/v1", anthropicProvider, upstream+"/v1", mockProvider, anthropicProvider)
	cfg := filepath.Join(dir, "llmbridge.yaml")
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		return nil, "", err
	}
	store := filepath.Join(dir, "data", "llmbridge.db")
	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "SSL_CERT_FILE=" + os.Getenv("SSL_CERT_FILE"),
		"LLMBRIDGE_ADDR=" + addr, "ACCESS_API_KEYS=" + benchKey, "LLMBRIDGE_CONFIG=" + cfg,
		"LLMBRIDGE_DB=" + store, "LLMBRIDGE_LOG_FILE=" + filepath.Join(dir, "logs", "requests.log"),
		"LLMBRIDGE_DISCOVER_LOCAL=false", "LLMBRIDGE_DEMO=false", "LLMBRIDGE_MODELS_REFRESH=0"}
	// The server's environment is its configuration: anything else of
	// this process's would change what is measured, but an experiment may
	// set some on purpose (BRIDGEBENCH_SERVER_ENV="LLMBRIDGE_LOG_LEVEL=warn").
	cmd.Env = append(cmd.Env, strings.Fields(os.Getenv("BRIDGEBENCH_SERVER_ENV"))...)
	var console bytes.Buffer // the first lines, for an error (read once the copy below ends)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.CopyN(&console, out, 8<<10)
		_, _ = io.Copy(io.Discard, out)
	}()
	c := &child{name: "server", cmd: cmd, url: "http://" + addr}
	probe := &http.Client{Timeout: 2 * time.Second}
	defer probe.CloseIdleConnections()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := probe.Get(c.url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c, store, nil
			}
		}
		exited := false
		select {
		case <-copied: // its output ended: it exited
			exited = true
		default:
		}
		if exited || time.Now().After(deadline) {
			c.stop()
			<-copied
			return nil, "", fmt.Errorf("the server did not become ready: %s", console.String())
		}
	}
}

// moduleRoot is the directory of the llmbridge module's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside the llmbridge module (run bridgebench from its checkout)")
	}
	return filepath.Dir(gomod), nil
}
