package main

import (
	"io"
	"net/http"

	"github.com/llmbridge/llmbridge/internal/lifecycle"
)

// serveProbe answers GET /readyz: 200 while the server takes traffic, 503
// once it drains (so a load balancer stops sending new requests) or while
// the usage store refuses writes. /healthz (process alive) is the
// Bridge's own (serveHealth).
func (s *server) serveProbe(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	status, body := http.StatusOK, `{"status":"ready"}`
	switch {
	case s.life.Draining():
		status, body = http.StatusServiceUnavailable, `{"status":"draining"}`
	case s.usage != nil && !s.usage.Writable():
		status, body = http.StatusServiceUnavailable, `{"status":"usage store not writable"}`
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = io.WriteString(w, body+"\n")
	}
}

// healthcheckCommand is the container's HEALTHCHECK: GET /healthz of the
// server configured in the environment, exit status 0 when it answers 200.
func healthcheckCommand(o runOptions) error {
	cfg, err := o.readConfig()
	if err != nil {
		return err
	}
	return lifecycle.Healthcheck(cfg.Addr, cfg.TLSCertFile != "")
}
