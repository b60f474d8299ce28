// Package lifecycle is the mechanics of the server's start and stop: the
// main listener — plain TCP, or TLS with HTTP/2 and a certificate read
// again on demand (SIGHUP) without a restart — the requests in flight and
// the graceful drain at shutdown (Requests), and the probe of a running
// server from the outside (Healthcheck, the container's HEALTHCHECK).
// The server decides when; this package knows how.
package lifecycle

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Certificate is the TLS certificate a listener serves, read from a pair
// of PEM files. It is safe for concurrent use: handshakes read the
// current one while Reload replaces it.
type Certificate struct {
	mu                sync.Mutex // one Reload at a time
	cur               atomic.Pointer[tls.Certificate]
	certFile, keyFile string
}

// Reload reads the certificate files again. On error the certificate in
// use stays and the error names the settings (never the key). A nil
// Certificate (no TLS) has nothing to reload and returns nil.
func (c *Certificate) Reload() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	kp, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("LLMBRIDGE_TLS_CERT_FILE/LLMBRIDGE_TLS_KEY_FILE: %w", err)
	}
	c.cur.Store(&kp)
	return nil
}

// Listen opens a TCP listener on addr, whose connections a write timeout
// resets (ResetListener). With certFile "" it is returned
// as is, with a nil Certificate. Otherwise the certificate and key are
// read (an error closes the listener again), srv.TLSConfig is set to
// serve them — TLS 1.2 or later, HTTP/2 offered — and the listener is
// wrapped in TLS; the Certificate returned reloads them.
func Listen(addr, certFile, keyFile string, srv *http.Server) (net.Listener, *Certificate, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	ln = ResetListener(ln)
	if certFile == "" {
		return ln, nil, nil
	}
	c := &Certificate{certFile: certFile, keyFile: keyFile}
	if err := c.Reload(); err != nil {
		ln.Close()
		return nil, nil, err
	}
	srv.TLSConfig = &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return c.cur.Load(), nil
		},
	}
	return tls.NewListener(ln, srv.TLSConfig), c, nil
}

// Healthcheck asks the server listening on addr (host:port; an empty or
// unspecified host means this machine, 127.0.0.1) for GET /healthz, over
// HTTPS when useTLS, and returns nil when it answers 200 within 3
// seconds. The certificate is not verified: it names the public host,
// not loopback, and the probe only asks whether we are alive.
func Healthcheck(addr string, useTLS bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	scheme := "http"
	client := &http.Client{Timeout: 3 * time.Second}
	if useTLS {
		scheme = "https"
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
