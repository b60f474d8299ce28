package liveconfig

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge/internal/admin"
)

// TestSessionRevocationsAndSecret: a revoked session id is revoked for
// every Manager on the store until it expires (then its row goes); the
// session secret is the same for the same key file and unrelated to the
// sealing key.
func TestSessionRevocationsAndSecret(t *testing.T) {
	dsn, keyFile := sqliteDSN(t)
	r := newRig(t, dsn, keyFile)
	other := newRigOn(t, r.st, keyFile)
	ctx := context.Background()
	if gone, err := other.m.Revoked(ctx, "s1"); gone || err != nil {
		t.Fatalf("before: %v %v", gone, err)
	}
	if err := r.m.Revoke(ctx, "s1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := r.m.Revoke(ctx, "s1", time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("revoking twice: %v", err)
	}
	if gone, err := other.m.Revoked(ctx, "s1"); !gone || err != nil {
		t.Fatalf("after: %v %v", gone, err)
	}
	_ = r.m.Revoke(ctx, "old", time.Now().Add(-time.Minute))
	_ = r.m.Revoke(ctx, "s2", time.Now().Add(time.Hour)) // sweeps the expired
	var n int
	_ = r.st.DB().QueryRow(`SELECT COUNT(*) FROM admin_session_revocations`).Scan(&n)
	if n != 2 {
		t.Errorf("%d rows, want 2 (the expired one swept)", n)
	}
	a, err1 := r.m.SessionSecret()
	b, err2 := other.m.SessionSecret()
	if err1 != nil || err2 != nil || !bytes.Equal(a, b) || len(a) != 32 {
		t.Fatalf("secrets %x %x %v %v", a, b, err1, err2)
	}
	env1, _ := NewSealer("0123456789abcdef0123456789abcdef", "")
	env2, _ := NewSealer("0123456789abcdef0123456789abcdef-other", "")
	s1, _ := env1.DeriveKey("p")
	s2, _ := env2.DeriveKey("p")
	s3, _ := env1.DeriveKey("q")
	if bytes.Equal(s1, s2) || bytes.Equal(s1, s3) {
		t.Error("derived keys do not depend on the key and the purpose")
	}
}

// TestActorIsTheSignedInPerson: the audit log names the person the
// admin API's guard found (in the context, or by Identify).
func TestActorIsTheSignedInPerson(t *testing.T) {
	dsn, keyFile := sqliteDSN(t)
	r := newRig(t, dsn, keyFile)
	req := httptest.NewRequest("POST", "/", nil)
	p := admin.Principal{Role: admin.RoleAdmin, Via: "sso", Email: "alice@example.com"}
	if got := r.m.Actor(req.WithContext(admin.WithPrincipal(req.Context(), p))); got != "alice@example.com (sso)" {
		t.Errorf("from the context: %q", got)
	}
	r.m.o.Identify = func(*http.Request) (admin.Principal, bool) {
		return admin.Principal{Via: "sso", Subject: "sub-7"}, true
	}
	if got := r.m.Actor(req); got != "sub-7 (sso)" {
		t.Errorf("by Identify: %q", got)
	}
}
