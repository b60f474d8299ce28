package main

import "github.com/llmbridge/llmbridge/internal/mcpgw"

// openMCP builds /mcp's gateway (internal/mcpgw) for the YAML file's mcp:
// servers, behind the model API's keys (openLimits builds their admitter).
// It is open to anonymous callers while the configuration in force has
// no access keys (mcpOpen), decided on every request: a reload that adds
// ACCESS_API_KEYS closes it at once.
func (s *server) openMCP(cfg *config) (err error) {
	if len(cfg.MCP.Servers) > 0 {
		s.mcp, err = mcpgw.New(cfg.MCP, mcpgw.Options{Authenticate: mcpgw.KeysAuth(s.limits.a), Open: s.mcpOpen, Logger: s.log,
			ProxyURL: cfg.Proxy, Registerer: s.obs.Registry(), MaxBodyBytes: int64(cfg.MaxBodyMB) << 20, Observers: []func(mcpgw.Call){s.recordCall}})
	}
	return err
}

// mcpOpen reports whether the configuration in force has no access keys
// (the bridge then serves loopback only): /mcp serves anonymous callers.
// Before a configuration is in force, nothing is open.
func (s *server) mcpOpen() bool {
	cfg := s.cfg.Load()
	return cfg != nil && len(cfg.AccessKeys) == 0
}

// recordCall puts a tool call in the live feed and the usage store.
func (s *server) recordCall(c mcpgw.Call) {
	s.obs.Publish(c.UsageRecord())
	if s.usage != nil {
		s.usage.Record(c.UsageRecord())
	}
}
