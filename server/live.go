package main

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"

	"github.com/llmbridge/llmbridge/internal/configfile"
	"github.com/llmbridge/llmbridge/internal/liveconfig"
)

// openLive opens the configuration stored by the admin API
// (internal/liveconfig) when the usage store is on, and puts it beneath
// cfg's. A stored configuration that does not read or is refused with
// the rest is left out (and said so); the running one never is.
func (s *server) openLive(ctx context.Context, cfg *config) error {
	if s.store == nil {
		return nil
	}
	seal, err := liveconfig.NewSealer(cfg.SecretKey, filepath.Join(filepath.Dir(cfg.spoolPath()), liveconfig.KeyFileName))
	if err != nil {
		return err
	}
	s.live, err = liveconfig.New(ctx, liveconfig.Options{Store: s.store, Sealer: seal, Check: s.checkLayer, Apply: s.applyLayer,
		Base: s.liveBase, Bridge: s.cur.Load, Logger: s.log, Poll: s.opts.poll})
	stored, cerr := s.loadWith(s.live.Layer())
	if err = errors.Join(err, cerr); err != nil {
		s.log.Error("the stored configuration is left out: fix or delete it in the admin UI", "err", err)
		return nil
	}
	*cfg = *stored
	return nil
}

// loadWith reads the configuration with l as the stored part.
func (s *server) loadWith(l *configfile.Layer) (*config, error) {
	envs, err := s.environ()
	if err != nil {
		return nil, err
	}
	return loadConfig(envs, l)
}

// layer is the stored configuration in force (nil: none).
func (s *server) layer() *configfile.Layer {
	if s.live == nil {
		return nil
	}
	return s.live.Layer()
}

// checkLayer validates the environment, the file and l together as at
// start-up, building a Bridge it closes.
func (s *server) checkLayer(l *configfile.Layer) error {
	cfg, err := s.loadWith(l)
	if err != nil {
		return err
	}
	b, err := s.newBridge(cfg)
	if err == nil {
		b.Close()
	}
	return err
}

// applyLayer swaps in the configuration with l as the stored part.
func (s *server) applyLayer(l *configfile.Layer) error {
	return s.reloadWith("stored configuration changed", l)
}

// liveBase is what the environment and the file define.
func (s *server) liveBase() liveconfig.Base {
	c := s.cfg.Load()
	return liveconfig.Base{Env: c.builtinProviders(), File: c.File}
}

// liveRoutes adds the configuration and audit endpoints behind the admin
// API's check, and the audit log of the other admin endpoints.
func (s *server) liveRoutes(mux *http.ServeMux, adminAPI http.Handler) http.Handler {
	if s.live == nil {
		return adminAPI
	}
	h := s.live.Handler()
	guarded := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.admin.Load().Guard(h).ServeHTTP(w, r) })
	for _, p := range liveconfig.Patterns {
		mux.Handle(p, s.throttled(guarded))
	}
	return s.live.AuditAdmin(adminAPI)
}
