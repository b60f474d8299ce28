package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
)

// clientExchange is one request an agent made to the bridge.
type clientExchange struct {
	Method, Path string
	Header       http.Header
	Body         []byte
	Status       int
	// Response is the start of a non-2xx answer, to report what the
	// bridge told the agent.
	Response []byte
}

// clientLog wraps the bridge's handler and keeps every request the agent
// made and how the bridge answered, so a misbehaviour can be reported
// with the exact request that caused it.
type clientLog struct {
	next http.Handler
	mu   sync.Mutex
	exs  []clientExchange
}

func (l *clientLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := readAll(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = newBody(body)
	h := r.Header.Clone()
	for _, k := range []string{"Authorization", "X-Api-Key"} {
		if h.Get(k) != "" {
			h.Set(k, "[redacted]")
		}
	}
	rw := &recordingWriter{ResponseWriter: w, status: 200}
	l.next.ServeHTTP(rw, r)
	l.mu.Lock()
	l.exs = append(l.exs, clientExchange{Method: r.Method, Path: r.URL.RequestURI(), Header: h, Body: body, Status: rw.status, Response: rw.errBody.Bytes()})
	l.mu.Unlock()
}

func (l *clientLog) all() []clientExchange {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]clientExchange(nil), l.exs...)
}

// recordingWriter notes the status and keeps the first bytes of an error
// answer; it passes Flush on, so streams stay streams.
type recordingWriter struct {
	http.ResponseWriter
	status  int
	wrote   bool
	errBody bytes.Buffer
}

func (w *recordingWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	w.wrote = true
	if w.status >= 300 && w.errBody.Len() < 4096 {
		w.errBody.Write(p[:min(len(p), 4096-w.errBody.Len())])
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// writeClientLogs keeps the agent's requests to the bridge.
func writeClientLogs(dir string, exs []clientExchange) {
	for i, ex := range exs {
		name := fmt.Sprintf("client-%02d-%d.json", i+1, ex.Status)
		_ = os.WriteFile(filepath.Join(dir, name), ex.Body, 0o644)
		if len(ex.Response) > 0 {
			_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("client-%02d-%d.response", i+1, ex.Status)), ex.Response, 0o644)
		}
	}
}
