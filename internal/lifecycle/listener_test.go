package lifecycle

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge/internal/testcert"
)

// writeCert writes a self-signed certificate for 127.0.0.1 named name.
func writeCert(t *testing.T, certFile, keyFile, name string) {
	t.Helper()
	testcert.Write(t, certFile, keyFile, name)
}

// serve runs srv on ln until the test ends.
func serve(t *testing.T, srv *http.Server, ln net.Listener) {
	t.Helper()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
}

// peerName dials addr over TLS and returns the certificate's name and the
// protocol agreed.
func peerName(t *testing.T, addr string) (string, string) {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}}) //nolint:gosec // a test certificate
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st := c.ConnectionState()
	return st.PeerCertificates[0].Subject.CommonName, st.NegotiatedProtocol
}

func TestListenPlain(t *testing.T) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })}
	ln, cert, err := Listen("127.0.0.1:0", "", "", srv)
	if err != nil {
		t.Fatal(err)
	}
	if cert != nil || srv.TLSConfig != nil {
		t.Errorf("plain listener: certificate %v, TLS config %v", cert, srv.TLSConfig)
	}
	if err := cert.Reload(); err != nil {
		t.Errorf("reloading no certificate: %v", err)
	}
	serve(t, srv, ln)
	if err := Healthcheck(ln.Addr().String(), false); err != nil {
		t.Errorf("healthcheck: %v", err)
	}
}

func TestListenTLSAndReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert(t, certFile, keyFile, "first")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
		}
	})}
	ln, cert, err := Listen("127.0.0.1:0", certFile, keyFile, srv)
	if err != nil {
		t.Fatal(err)
	}
	if cert == nil || srv.TLSConfig == nil || srv.TLSConfig.MinVersion != tls.VersionTLS12 {
		t.Fatalf("TLS listener: certificate %v, TLS config %+v", cert, srv.TLSConfig)
	}
	serve(t, srv, ln)
	addr := ln.Addr().String()
	if name, proto := peerName(t, addr); name != "first" || proto != "h2" {
		t.Errorf("served %q over %q, want first over h2", name, proto)
	}
	if err := Healthcheck(addr, true); err != nil {
		t.Errorf("healthcheck over TLS: %v", err)
	}

	writeCert(t, certFile, keyFile, "second")
	if err := cert.Reload(); err != nil {
		t.Fatal(err)
	}
	if name, _ := peerName(t, addr); name != "second" {
		t.Errorf("after Reload served %q, want second", name)
	}

	// A broken file keeps the certificate in use and says which setting.
	os.WriteFile(keyFile, []byte("not a key"), 0o600)
	if err := cert.Reload(); err == nil || !strings.Contains(err.Error(), "LLMBRIDGE_TLS_CERT_FILE/LLMBRIDGE_TLS_KEY_FILE") {
		t.Errorf("reload of a broken key: %v", err)
	}
	if name, _ := peerName(t, addr); name != "second" {
		t.Errorf("after a failed Reload served %q, want second", name)
	}
}

func TestListenErrors(t *testing.T) {
	dir := t.TempDir()
	// A certificate that does not load closes the listener again.
	addr := "127.0.0.1:0"
	if _, _, err := Listen(addr, filepath.Join(dir, "missing.pem"), filepath.Join(dir, "missing.key"), &http.Server{}); err == nil ||
		!strings.Contains(err.Error(), "LLMBRIDGE_TLS_CERT_FILE") {
		t.Errorf("missing certificate: %v", err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	// The address is tried first: a busy one fails before the files are read.
	if _, _, err := Listen(busy.Addr().String(), filepath.Join(dir, "missing.pem"), "", &http.Server{}); err == nil ||
		strings.Contains(err.Error(), "LLMBRIDGE_TLS") {
		t.Errorf("busy address: %v", err)
	}
}

func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	var path string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path
		w.WriteHeader(status)
	}))
	defer up.Close()
	_, port, _ := net.SplitHostPort(up.Listener.Addr().String())
	for _, addr := range []string{up.Listener.Addr().String(), ":" + port, "0.0.0.0:" + port} {
		if err := Healthcheck(addr, false); err != nil {
			t.Errorf("Healthcheck(%q): %v", addr, err)
		}
	}
	if path != "/healthz" {
		t.Errorf("asked for %q", path)
	}
	status = http.StatusServiceUnavailable
	if err := Healthcheck(up.Listener.Addr().String(), false); err == nil || err.Error() != "healthz answered 503 Service Unavailable" {
		t.Errorf("503: %v", err)
	}
	if err := Healthcheck("no-port", false); err == nil {
		t.Error("an address without a port passed")
	}
	var ne net.Error
	if err := Healthcheck(up.Listener.Addr().String(), true); err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("HTTPS to a plain server: %v", err)
	}
}
