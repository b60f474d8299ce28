package keys

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/pgtest"
)

func TestPolicyAllowsMCP(t *testing.T) {
	for _, tc := range []struct {
		patterns []string
		server   string
		want     bool
	}{
		{nil, "team", true},
		{[]string{"team"}, "team", true},
		{[]string{"team"}, "team-2", false},
		{[]string{"team*"}, "team-2", true},
		{[]string{"fs", "db-*"}, "db-prod", true},
		{[]string{"fs", "db-*"}, "everything", false},
	} {
		p := Policy{MCPServers: tc.patterns}
		if got := p.AllowsMCP(tc.server); got != tc.want {
			t.Errorf("%v allows %s: %v, want %v", tc.patterns, tc.server, got, tc.want)
		}
	}
}

func TestMCPServersParamsChecked(t *testing.T) {
	if _, err := ParseParams([]byte(`{"mcp_servers":["team",""]}`)); err == nil || err.(*FieldError).Field != "mcp_servers[1]" {
		t.Errorf("empty pattern: %v", err)
	}
	if _, err := ParseParams([]byte(`{"mcp_servers":"team"}`)); err == nil || err.(*FieldError).Field != "mcp_servers" {
		t.Errorf("not a list: %v", err)
	}
	if p, err := ParseParams([]byte(`{"mcp_servers":["team","db-*"]}`)); err != nil || len(*p.MCPServers) != 2 {
		t.Errorf("valid: %v", err)
	}
}

// TestMCPServersStoredAndIdentified: mcp_servers is kept by the store
// (migration 0004), changed by Update, and MCPAccess gives the key's id
// and the servers it may use — none for a virtual key that names none,
// every one for an access key that names none — and 401 for a revoked
// key, as for the model API.
func TestMCPServersStoredAndIdentified(t *testing.T) {
	for name, dsn := range map[string]func(t testing.TB) string{"sqlite": sqlitePath, "postgres": pgtest.URL} {
		t.Run(name, func(t *testing.T) {
			s := NewStore(openStore(t, dsn(t)))
			ctx := context.Background()
			k, secret := create(t, s, Params{Name: ptr("agent"), MCPServers: &[]string{"team"}})
			got, err := s.Get(ctx, k.ID)
			if err != nil || len(got.MCPServers) != 1 || got.MCPServers[0] != "team" {
				t.Fatalf("Get: %+v %v", got, err)
			}
			plain, plainSecret := create(t, s, Params{Name: ptr("plain")})
			if got, _ := s.Get(ctx, plain.ID); got.MCPServers == nil || len(got.MCPServers) != 0 {
				t.Errorf("no mcp_servers: %#v, want []", got.MCPServers)
			}
			a := newAdmitter(t, Options{Store: s, AccessKeys: []string{"sk-static"}, Policies: map[string]Policy{llmbridge.KeyID("sk-static"): {MCPServers: []string{"fs"}}}})
			h := http.Header{"Authorization": {"Bearer " + secret}}
			id, allows, err := a.MCPAccess(h)
			if err != nil || id != k.ID || !allows("team") || allows("fs") {
				t.Fatalf("MCPAccess virtual key: %s %v", id, err)
			}
			if id, allows, err := a.MCPAccess(http.Header{"X-Api-Key": {"sk-static"}}); err != nil || id != llmbridge.KeyID("sk-static") || allows("team") || !allows("fs") {
				t.Errorf("MCPAccess access key: %s %v", id, err)
			}
			if _, allows, err := a.MCPAccess(http.Header{"Authorization": {"Bearer " + plainSecret}}); err != nil || allows("team") || allows("fs") {
				t.Errorf("a virtual key without mcp_servers may use a server (%v)", err)
			}
			open := newAdmitter(t, Options{Store: s, AccessKeys: []string{"sk-open"}})
			if _, allows, err := open.MCPAccess(http.Header{"X-Api-Key": {"sk-open"}}); err != nil || !allows("team") {
				t.Errorf("an access key without mcp_servers may not use a server (%v)", err)
			}
			if _, err := s.Update(ctx, k.ID, &Params{MCPServers: &[]string{"team", "fs"}}, time.Now()); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Revoke(ctx, plain.ID, time.Now()); err != nil {
				t.Fatal(err)
			}
			if err := a.Changed(ctx); err != nil {
				t.Fatal(err)
			}
			if _, allows, _ := a.MCPAccess(h); !allows("fs") {
				t.Error("after Update: fs not allowed")
			}
			var ae *llmbridge.APIError
			for _, bad := range []http.Header{nil, {"Authorization": {"Bearer sk-lb-nope"}}, {"Authorization": {"Bearer " + plainSecret}}} {
				if _, _, err := a.MCPAccess(bad); !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
					t.Errorf("MCPAccess %v: %v, want 401", bad, err)
				}
			}
		})
	}
}
