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
// shows only as set).
func (m *Manager) AuditAdmin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions {
			h.ServeHTTP(w, r)
			return
		}
		var body []byte
		if r.Body != nil {
			body, _ = io.ReadAll(io.LimitReader(r.Body, maxAuditBody))
			r.Body = struct {
				io.Reader
				io.Closer
			}{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
		}
		sw := &lifecycle.StatusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.Status < 200 || sw.Status > 299 {
			return
		}
		action, target := adminAction(r.Method, r.URL.Path)
		e := Entry{Actor: Actor(r), Action: action, Target: target, Fields: auditFields(body)}
		if err := m.Audit(context.WithoutCancel(r.Context()), e); err != nil {
			m.o.Logger.Error("audit log: writing an entry failed", "action", action, "err", err)
		}
	})
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
