package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"path/filepath"

	"github.com/llmbridge/llmbridge/internal/admin"
	"github.com/llmbridge/llmbridge/internal/admin/ui"
	"github.com/llmbridge/llmbridge/internal/configfile"
	"github.com/llmbridge/llmbridge/internal/lifecycle"
	"github.com/llmbridge/llmbridge/internal/liveconfig"
	"github.com/llmbridge/llmbridge/internal/sso"
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
		Base: s.liveBase, Bridge: s.cur.Load, Logger: s.log, AdminKey: s.adminKeyInForce,
		Identify: func(r *http.Request) (admin.Principal, bool) { return s.admin.Load().Identify(r) }})
	stored, cerr := s.loadWith(s.live.Layer())
	if err = errors.Join(err, cerr); err != nil {
		s.log.Error("the stored configuration is left out: fix or delete it in the admin UI", "err", err)
		return nil
	}
	*cfg, s.stored = *stored, s.live.Layer()
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

// adminKey is cfg's admin key or, on a first run (none set, loopback), one
// nobody knows: the admin UI then opens by the one-time link only.
func (s *server) adminKey(cfg *config) string {
	if cfg.AdminKey != "" || !lifecycle.IsLoopback(cfg.Addr) {
		return cfg.AdminKey
	}
	return s.firstRun
}

// adminKeyInForce is the admin key of the configuration in force ("" before
// there is one), for the audit log's actor.
func (s *server) adminKeyInForce() string {
	if c := s.cfg.Load(); c != nil {
		return s.adminKey(c)
	}
	return ""
}

// logAdmin says how the admin UI opens: on a first run, by the one-time
// sign-in link it logs (base is the listener's URL).
func (s *server) logAdmin(cfg *config, base string) {
	switch {
	case cfg.AdminKey != "":
	case lifecycle.IsLoopback(cfg.Addr):
		s.log.Warn("FIRST RUN: no LLMBRIDGE_ADMIN_KEY is set. Open this one-time link to sign in to the admin UI (it works once): " + base + s.ui.FirstRun())
	default:
		s.log.Info("admin API is off (set LLMBRIDGE_ADMIN_KEY to turn it on)")
	}
}

// auditSignIn puts an admin UI sign-in in the audit log.
func (s *server) auditSignIn(r *http.Request, how string) {
	if s.live != nil {
		_ = s.live.Audit(r.Context(), liveconfig.Entry{Actor: how, Action: "signin", Target: "admin ui", Fields: map[string]any{"remote": r.RemoteAddr}})
	}
}

// revocations are the admin UI's signed-out sessions: in the store every
// replica shares, else (nil) in this process only.
func (s *server) revocations() ui.Revocations {
	if s.live == nil {
		return nil
	}
	return s.live
}

// openSSO keys the admin UI's session cookies — with the store's sealing
// key beside the admin key, so replicas with the same configuration share
// sessions — and turns single sign-on on when it is configured.
func (s *server) openSSO(cfg *config) {
	var secret []byte
	if s.live != nil {
		var err error
		if secret, err = s.live.SessionSecret(); err != nil {
			s.log.Error("admin UI sessions are keyed by the admin key alone: the secret key does not read", "err", err)
		}
	}
	// Sessions seal their role: changed SSO settings end them.
	s.ui.SetSessionSecret(append(append([]byte{}, secret...), cfg.SSO.Fingerprint()...))
	if cfg.SSO.On() {
		state := sha256.Sum256(append(append([]byte{}, secret...), s.adminKey(cfg)...))
		s.ui.SetSignOn(sso.New(cfg.SSO, sso.Options{Secret: state[:], Logger: s.log}))
	}
}
