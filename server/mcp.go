package main

import (
	"net/http"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/mcpgw"
)

// openMCP builds the MCP gateway of the YAML file's mcp: section, behind
// the model API's keys (openLimits builds the keys admitter for it).
func (s *server) openMCP(cfg *config) (err error) {
	if len(cfg.MCP.Servers) == 0 {
		return nil
	}
	o := mcpgw.Options{Authenticate: mcpgw.KeysAuth(s.limits.a), Open: len(cfg.AccessKeys) == 0, Logger: s.log, ProxyURL: cfg.Proxy,
		Registerer: s.obs.Registry(), MaxBodyBytes: int64(cfg.MaxBodyMB) << 20, Observers: []func(mcpgw.Call){func(c mcpgw.Call) { s.obs.Publish(c.UsageRecord()) }}}
	if s.usage != nil {
		o.Observers = append(o.Observers, func(c mcpgw.Call) { s.usage.Record(c.UsageRecord()) })
	}
	if o.Open {
		o.Hosts = llmbridge.LoopbackHost
	}
	s.mcp, err = mcpgw.New(cfg.MCP, o)
	return err
}

// serveMCP serves /mcp with the gateway, or as the Bridge (404) without one.
func (s *server) serveMCP(w http.ResponseWriter, r *http.Request) {
	if s.mcp == nil {
		s.serveBridge(w, r)
		return
	}
	s.mcp.ServeHTTP(w, r)
}
