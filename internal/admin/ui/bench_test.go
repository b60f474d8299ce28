package ui

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/llmbridge/llmbridge/internal/admin"
)

// BenchmarkSessionLookup is what every admin request pays to find its
// session: open the sealed cookie, derive its CSRF token, ask the
// (in-process) revocations.
func BenchmarkSessionLookup(b *testing.B) {
	h := New(Options{Logger: slog.New(slog.DiscardHandler)})
	h.SetSessionSecret([]byte("bench secret"))
	h.Configure(adminKey, nil)
	value, _ := h.sessions.create(admin.Principal{Role: admin.RoleMember, Via: "sso", Subject: "s", Email: "someone@example.com", Team: "ml"})
	r := httptest.NewRequest(http.MethodGet, "/admin/api/keys", nil)
	r.AddCookie(&http.Cookie{Name: CookieName, Value: value})
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := h.Principal(r); !ok {
			b.Fatal("no session")
		}
	}
}
