package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmbridge/llmbridge"
)

// lifecycle is what the server keeps to start, drain and stop cleanly:
// readiness, the model calls in flight, the base context every request
// derives from, and the TLS certificate (reloaded on SIGHUP).
type lifecycle struct {
	draining atomic.Bool
	active   atomic.Int64 // requests the Bridge is serving
	base     context.Context
	stop     context.CancelCauseFunc

	certMu   sync.Mutex
	cert     atomic.Pointer[tls.Certificate]
	certFile string
	keyFile  string
}

func newLifecycle() *lifecycle {
	l := &lifecycle{}
	l.base, l.stop = context.WithCancelCause(context.Background())
	return l
}

// track counts a request the Bridge serves until done is called.
func (l *lifecycle) track() (done func()) {
	l.active.Add(1)
	return func() { l.active.Add(-1) }
}

// serveProbe answers GET /readyz: 200 while the server takes traffic, 503
// once it drains (so a load balancer stops sending new requests) or while
// the usage store refuses writes. /healthz (process alive) is the
// Bridge's own (serveHealth).
func (s *server) serveProbe(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	status, body := http.StatusOK, `{"status":"ready"}`
	switch {
	case s.life.draining.Load():
		status, body = http.StatusServiceUnavailable, `{"status":"draining"}`
	case s.usage != nil && !s.usage.Writable():
		status, body = http.StatusServiceUnavailable, `{"status":"usage store not writable"}`
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = io.WriteString(w, body+"\n")
	}
}

// drain stops the server gracefully within timeout: readiness turns 503 at
// once and connections stop being kept alive; requests in flight get until
// the deadline to finish; then every one still running is ended through
// its normal path — the base context is cancelled with
// llmbridge.ErrShuttingDown, so each client gets an error in its format (an
// error event in a started stream) and each request its usage record —
// and drain waits for those handlers before closing the server. The
// caller closes the request log and the usage store afterwards.
func (s *server) drain(srv *http.Server, timeout time.Duration) error {
	l := s.life
	l.draining.Store(true)
	srv.SetKeepAlivesEnabled(false)
	s.log.Info("shutting down: waiting for requests in flight", "requests", l.active.Load(), "timeout", timeout)
	deadline := time.Now().Add(timeout)
	for l.active.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := l.active.Load(); n > 0 {
		s.log.Warn("shutdown timeout: ending the requests still running with an error", "requests", n)
	}
	l.stop(llmbridge.ErrShuttingDown) // also ends admin feeds and other long requests
	for wait := time.Now().Add(5 * time.Second); l.active.Load() > 0 && time.Now().Before(wait); {
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return srv.Close()
	}
	return nil
}

// listen opens the server's listener: plain TCP, or TLS (HTTP/2 on) when a
// certificate is configured. The certificate is read again by reloadCert.
func (s *server) listen(cfg *config, srv *http.Server) (net.Listener, error) {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, err
	}
	if cfg.TLSCertFile == "" {
		return ln, nil
	}
	l := s.life
	l.certFile, l.keyFile = cfg.TLSCertFile, cfg.TLSKeyFile
	if err := l.reloadCert(); err != nil {
		ln.Close()
		return nil, err
	}
	srv.TLSConfig = &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return l.cert.Load(), nil
		},
	}
	return tls.NewListener(ln, srv.TLSConfig), nil
}

// reloadCert reads the certificate files again; on error the one in use
// stays.
func (l *lifecycle) reloadCert() error {
	if l.certFile == "" {
		return nil
	}
	l.certMu.Lock()
	defer l.certMu.Unlock()
	c, err := tls.LoadX509KeyPair(l.certFile, l.keyFile)
	if err != nil {
		return fmt.Errorf("LLMBRIDGE_TLS_CERT_FILE/LLMBRIDGE_TLS_KEY_FILE: %w", err)
	}
	l.cert.Store(&c)
	return nil
}

// healthcheckCommand is the container's HEALTHCHECK: GET /healthz of the
// server configured in the environment, exit status 0 when it answers 200.
func healthcheckCommand(o runOptions) error {
	cfg, err := o.readConfig()
	if err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	scheme := "http"
	client := &http.Client{Timeout: 3 * time.Second}
	if cfg.TLSCertFile != "" {
		scheme = "https"
		// The certificate names the public host, not loopback.
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // a liveness probe of ourselves
	}
	resp, err := client.Get(scheme + "://" + net.JoinHostPort(host, port) + "/healthz")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New("healthz answered " + resp.Status)
	}
	return nil
}

// ejectedTargets lists the current Bridge's targets whose circuit is open
// ("provider/model key-…"), for the target_ejected alert.
func (s *server) ejectedTargets() []string {
	b := s.cur.Load()
	if b == nil {
		return nil
	}
	var out []string
	for _, h := range b.Health() {
		if h.State == llmbridge.StateOpen {
			out = append(out, strings.TrimSpace(h.Provider+"/"+h.Model+" "+h.Key))
		}
	}
	return out
}
