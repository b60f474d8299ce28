package liveconfig

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/llmbridge/llmbridge/internal/admin"
	"github.com/llmbridge/llmbridge/internal/configfile"
	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/secret"
)

// maxBody bounds a request body of the configuration endpoints.
const maxBody = 1 << 20

// Patterns are the admin API endpoints Handler serves; the server
// registers each behind the admin API's key-or-session check.
var Patterns = []string{
	"GET /admin/api/config", "POST /admin/api/config",
	"POST /admin/api/providers", "PUT /admin/api/providers/{name}", "DELETE /admin/api/providers/{name}",
	"POST /admin/api/providers/{name}/test",
	"PUT /admin/api/routes/{name}", "DELETE /admin/api/routes/{name}",
	"PUT /admin/api/prices/{model...}", "DELETE /admin/api/prices/{model...}",
	"PUT /admin/api/cache/policy", "DELETE /admin/api/cache/policy",
	"PUT /admin/api/alerts/rules/{name}", "DELETE /admin/api/alerts/rules/{name}",
	"GET /admin/api/audit",
}

// Handler serves the configuration endpoints (Patterns) of a Manager.
// It does not check the caller: the server puts the admin API's check
// in front of it.
func (m *Manager) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/api/config", m.serveConfig)
	mux.HandleFunc("POST /admin/api/config", m.serveImport)
	mux.HandleFunc("POST /admin/api/providers", m.createProvider)
	mux.HandleFunc("PUT /admin/api/providers/{name}", m.putProvider)
	mux.HandleFunc("DELETE /admin/api/providers/{name}", m.deleteItem(KindProvider))
	mux.HandleFunc("POST /admin/api/providers/{name}/test", m.testProvider)
	mux.HandleFunc("PUT /admin/api/routes/{name}", m.putRoute)
	mux.HandleFunc("DELETE /admin/api/routes/{name}", m.deleteItem(KindRoute))
	mux.HandleFunc("PUT /admin/api/prices/{model...}", m.putPrice)
	mux.HandleFunc("DELETE /admin/api/prices/{model...}", m.deleteItem(KindPrice))
	mux.HandleFunc("PUT /admin/api/cache/policy", m.putCache)
	mux.HandleFunc("DELETE /admin/api/cache/policy", m.deleteItem(KindCache))
	mux.HandleFunc("PUT /admin/api/alerts/rules/{name}", m.putRule)
	mux.HandleFunc("DELETE /admin/api/alerts/rules/{name}", m.deleteItem(KindAlertRule))
	mux.HandleFunc("GET /admin/api/audit", m.serveAudit)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		mux.ServeHTTP(w, r)
	})
}

// Actor names who sent r, for the audit log: the principal the admin
// API's guard put in r's context (admin.PrincipalFrom), else the one
// Options.Identify finds for r — "alice@example.com (sso)", "admin key",
// "ui session" (the UI signed in with the admin key). Without either,
// "admin key" when r carries the admin key (Options.AdminKey) itself,
// else "ui session". A header that is present but not the admin key
// (sent alongside a valid session) does not make r the admin key's.
// Without Options.AdminKey the key cannot be checked: a credential then
// shows as "admin key (unverified)".
func (m *Manager) Actor(r *http.Request) string {
	if p, ok := admin.PrincipalFrom(r.Context()); ok {
		return p.Actor()
	}
	if m.o.Identify != nil {
		if p, ok := m.o.Identify(r); ok {
			return p.Actor()
		}
	}
	cred := secret.StrictCredential(r.Header)
	if cred == "" {
		return "ui session"
	}
	if m.o.AdminKey == nil {
		return "admin key (unverified)"
	}
	if key := m.o.AdminKey(); key != "" && secret.Sum(key).Matches(cred) {
		return "admin key"
	}
	return "ui session"
}

// apiError writes an error in the admin API's (OpenAI's) format.
func apiError(w http.ResponseWriter, status int, code, param, format string, args ...any) {
	typ := openai.TypeInvalidRequest
	if status >= 500 {
		typ = openai.TypeServer
	}
	e := openai.Errorf(status, typ, code, format, args...)
	e.Param = param
	openai.WriteError(w, e)
}

// httpError is an error with the status it answers.
type httpError struct {
	status      int
	code, param string
	msg         string
}

// Error implements error.
func (e *httpError) Error() string { return e.msg }

func conflict(format string, args ...any) error {
	return &httpError{status: http.StatusConflict, code: "conflict", msg: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &httpError{status: http.StatusNotFound, code: "not_found", msg: fmt.Sprintf(format, args...)}
}

// fail answers err: its own status, 400 for validation, else 500.
func fail(w http.ResponseWriter, err error) {
	var he *httpError
	var inv *Invalid
	switch {
	case errors.As(err, &he):
		apiError(w, he.status, he.code, he.param, "%s", he.msg)
	case errors.As(err, &inv):
		apiError(w, http.StatusBadRequest, "invalid_config", "", "the configuration would not start: %s", oneLine(inv.Err))
	default:
		apiError(w, http.StatusInternalServerError, "config_store_error", "", "%s", oneLine(err))
	}
}

// oneLine joins a joined error's lines with "; ".
func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

// readBody reads r's body (at most maxBody) as YAML or JSON into v,
// strictly: an unknown or case-variant field is an error.
func readBody(w http.ResponseWriter, r *http.Request, v any) error {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return &httpError{status: http.StatusRequestEntityTooLarge, code: "body_too_large", msg: fmt.Sprintf("the body is over %d bytes", maxBody)}
	case err != nil:
		return &httpError{status: http.StatusBadRequest, code: "invalid_body", msg: "reading the body failed"}
	case len(strings.TrimSpace(string(b))) == 0:
		return &httpError{status: http.StatusBadRequest, code: "invalid_body", msg: "the body is empty: send a JSON object"}
	}
	if err := decodeStrict(b, v); err != nil {
		return &httpError{status: http.StatusBadRequest, code: "invalid_body", msg: "the body does not read: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	return nil
}

// writeJSON answers v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// change runs a change and its audit entry (which edit may complete),
// answering the caller: the configuration in force afterwards (201 when
// the action created an item), or the error.
func (m *Manager) change(w http.ResponseWriter, r *http.Request, e *Entry, edit func(*configfile.Layer) error) {
	if err := m.Change(r.Context(), edit); err != nil {
		fail(w, err)
		return
	}
	e.Actor = m.Actor(r)
	if err := m.Audit(context.WithoutCancel(r.Context()), *e); err != nil {
		m.o.Logger.Error("audit log: writing an entry failed", "action", e.Action, "err", err)
	}
	status := http.StatusOK
	if strings.HasSuffix(e.Action, ".create") {
		status = http.StatusCreated
	}
	writeJSON(w, status, m.view())
}

// view is the View in force now.
func (m *Manager) view() *View {
	base := Base{}
	if m.o.Base != nil {
		base = m.o.Base()
	}
	v := view(base, m.Layer())
	v.Version = m.ver.Load()
	return v
}

func (m *Manager) serveConfig(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Query().Get("format") {
	case "", "json":
		writeJSON(w, http.StatusOK, m.view())
	case "yaml":
		w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="llmbridge-stored-config.yaml"`)
		_, _ = io.WriteString(w, exportYAML(m.Layer()))
	default:
		apiError(w, http.StatusBadRequest, "invalid_query", "format", "format %q: use json or yaml", r.URL.Query().Get("format"))
	}
}

func (m *Manager) serveAudit(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			apiError(w, http.StatusBadRequest, "invalid_query", "limit", "limit %q: want a number from 1 to 1000", s)
			return
		}
		limit = n
	}
	list, err := m.AuditLog(r.Context(), limit, r.URL.Query().Get("before"))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": list})
}
