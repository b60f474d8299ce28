package liveconfig

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/llmbridge/llmbridge/internal/lifecycle"
)

// maxAuditBody is how much of a request body AuditAdmin reads for the
// names of the changed fields.
const maxAuditBody = 64 << 10

// AuditAdmin wraps the admin API endpoints served elsewhere (virtual
// keys, cache purges): every state-changing request they answer with a
// 2xx goes to the audit log, with the changed fields' names and their
// values where they are plain numbers, booleans or short strings that
// are no secret (a member named like key, secret, token or password
// shows only as set). The body is recorded as h reads it, so nothing of
// a request h refuses unread (unauthenticated) is read.
func (m *Manager) AuditAdmin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions {
			h.ServeHTTP(w, r)
			return
		}
		// The body is recorded as the wrapped handler reads it, and only
		// then: the handler authenticates first, so nothing of an
		// unauthenticated request's body is read here.
		var rec *capture
		if r.Body != nil && r.Body != http.NoBody {
			rec = &capture{ReadCloser: r.Body}
			r.Body = rec
		}
		sw := &lifecycle.StatusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.Status < 200 || sw.Status > 299 {
			return
		}
		var body []byte
		if rec != nil {
			body = rec.buf.Bytes()
		}
		action, target := adminAction(r.Method, r.URL.Path)
		e := Entry{Actor: m.Actor(r), Action: action, Target: target, Fields: auditFields(body)}
		if err := m.Audit(context.WithoutCancel(r.Context()), e); err != nil {
			m.o.Logger.Error("audit log: writing an entry failed", "action", action, "err", err)
		}
	})
}

// capture is a request body that keeps the first maxAuditBody bytes its
// reader read.
type capture struct {
	io.ReadCloser
	buf bytes.Buffer
}

// Read implements io.Reader.
func (c *capture) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	if room := maxAuditBody - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(n, room)])
	}
	return n, err
}

// adminAction names an admin API call: key.create, key.update,
// key.revoke, cache.purge, or <resource>.<method>.
func adminAction(method, path string) (action, target string) {
	rest := strings.Trim(strings.TrimPrefix(path, "/admin/api/"), "/")
	resource, id, _ := strings.Cut(rest, "/")
	noun := strings.TrimSuffix(resource, "s")
	verb := map[string]string{http.MethodPost: "create", http.MethodPatch: "update", http.MethodPut: "update", http.MethodDelete: "delete"}[method]
	switch {
	case resource == "keys" && method == http.MethodDelete:
		verb = "revoke"
	case resource == "cache":
		verb = "purge"
	case verb == "":
		verb = strings.ToLower(method)
	}
	target = noun
	if id != "" {
		target += "/" + id
	}
	return noun + "." + verb, target
}

// auditFields reads a JSON object's members for the audit log, never a
// secret's value.
func auditFields(body []byte) map[string]any {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return map[string]any{}
	}
	out := map[string]any{}
	for k, v := range m {
		lk := strings.ToLower(k)
		if strings.Contains(lk, "key") || strings.Contains(lk, "secret") || strings.Contains(lk, "token") || strings.Contains(lk, "password") {
			out[k] = "set"
			continue
		}
		switch x := v.(type) {
		case bool, float64, nil:
			out[k] = x
		case string:
			if len(x) <= 200 {
				out[k] = x
			} else {
				out[k] = "(changed)"
			}
		default:
			out[k] = "(changed)"
		}
	}
	return out
}
