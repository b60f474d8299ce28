package main

import (
	"context"
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge/internal/testcert"
)

// writeCert writes a self-signed certificate for 127.0.0.1 named name.
func writeCert(t *testing.T, certFile, keyFile, name string) {
	t.Helper()
	testcert.Write(t, certFile, keyFile, name)
}

// With a certificate the server speaks HTTPS and HTTP/2, and SIGHUP makes it
// read the certificate files again.
func TestServerTLSAndCertificateReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert(t, certFile, keyFile, "first")
	hup := make(chan os.Signal, 1)
	addrc := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, runOptions{
			envFile: filepath.Join(dir, ".env"),
			environ: []string{"LLMBRIDGE_ADDR=127.0.0.1:0", "LLMBRIDGE_LOG_FILE=" + filepath.Join(dir, "requests.log"), "LLMBRIDGE_DB=off",
				"LLMBRIDGE_TLS_CERT_FILE=" + certFile, "LLMBRIDGE_TLS_KEY_FILE=" + keyFile, "LLMBRIDGE_DEMO=false", "LLMBRIDGE_DISCOVER_LOCAL=false"},
			stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, reload: hup,
			ready: func(a string) { addrc <- a },
		})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("server stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start")
	}
	get := func() (*http.Response, error) {
		// A fresh client each time: the new certificate is seen on a new connection.
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("https://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return resp, err
	}
	resp, err := get()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 || resp.TLS.PeerCertificates[0].Subject.CommonName != "first" {
		t.Fatalf("status %d proto %s cert %q", resp.StatusCode, resp.Proto, resp.TLS.PeerCertificates[0].Subject.CommonName)
	}
	plain := &http.Transport{DisableKeepAlives: true}
	if resp, err := (&http.Client{Transport: plain}).Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP on the TLS listener: %d, want the TLS server's 400", resp.StatusCode)
		}
	}
	plain.CloseIdleConnections()

	writeCert(t, certFile, keyFile, "second")
	hup <- syscall.SIGHUP
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := get()
		if err == nil && resp.TLS.PeerCertificates[0].Subject.CommonName == "second" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reloaded certificate was not served: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
