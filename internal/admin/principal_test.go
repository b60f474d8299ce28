package admin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// asRole serves a with every request signed in as the principal the
// X-Test-Who header names (as the UI's session check would).
func asRole(a *API) func(who, method, path, body string) *httptest.ResponseRecorder {
	people := map[string]Principal{
		"viewer": {Role: RoleViewer, Via: "sso", Subject: "v", Email: "v@example.com"},
		"mia":    {Role: RoleMember, Via: "sso", Subject: "m", Email: "mia@example.com", Team: "ml"},
		"max":    {Role: RoleMember, Via: "sso", Subject: "x", Email: "max@example.com"},
		"admin":  {Role: RoleAdmin, Via: "sso", Subject: "a", Email: "a@example.com"},
	}
	a.SetSession(func(r *http.Request) (Principal, bool) {
		p, ok := people[r.Header.Get("X-Test-Who")]
		return p, ok
	})
	return func(who, method, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "/", strings.NewReader(body))
		req.URL.Path, req.URL.RawQuery, _ = strings.Cut(path, "?")
		req.Header.Set("X-Test-Who", who)
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, req)
		return rec
	}
}

// TestRolesAreEnforcedByTheGuard: a viewer reads but changes nothing; a
// member reaches only the key endpoints; both are refused 403 in the
// OpenAI error format; the guard also holds for endpoints served
// elsewhere (Guard), which see the principal.
func TestRolesAreEnforcedByTheGuard(t *testing.T) {
	a := NewAPI(keyStore(t), adminKey)
	do := asRole(a)
	forbidden := func(rec *httptest.ResponseRecorder, what string) {
		t.Helper()
		var e struct {
			Error struct{ Type, Code, Message string }
		}
		if rec.Code != http.StatusForbidden || json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error.Code != "forbidden" || e.Error.Type != "permission_error" {
			t.Errorf("%s: %d %s, want 403 forbidden", what, rec.Code, rec.Body)
		}
	}
	for _, c := range []struct{ method, path string }{{"POST", "/admin/api/keys"}, {"PATCH", "/admin/api/keys/vk_0123456789abcdef"},
		{"DELETE", "/admin/api/keys/vk_0123456789abcdef"}, {"DELETE", "/admin/api/cache"}, {"PUT", "/admin/api/prices/openai/x"}} {
		forbidden(do("viewer", c.method, c.path, `{}`), "viewer "+c.method+" "+c.path)
	}
	for _, path := range []string{"/admin/api/keys", "/admin/api/usage", "/admin/api/requests", "/admin/api/prices"} {
		if rec := do("viewer", "GET", path, ""); rec.Code != 200 {
			t.Errorf("viewer GET %s: %d %s", path, rec.Code, rec.Body)
		}
	}
	for _, c := range []struct{ method, path string }{{"GET", "/admin/api/usage"}, {"GET", "/admin/api/requests"}, {"GET", "/admin/api/prices"},
		{"GET", "/admin/api/health"}, {"DELETE", "/admin/api/cache"}, {"GET", "/admin/api/keys/vk_0123456789abcdef/x"}, {"PUT", "/admin/api/keys"}} {
		forbidden(do("mia", c.method, c.path, ""), "member "+c.method+" "+c.path)
	}
	var seen Principal
	g := a.Guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen, _ = PrincipalFrom(r.Context()) }))
	for who, want := range map[string]int{"viewer": 403, "mia": 403, "admin": 200} {
		req := httptest.NewRequest("PUT", "/admin/api/routes/r", nil)
		req.Header.Set("X-Test-Who", who)
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("Guard %s PUT: %d, want %d", who, rec.Code, want)
		}
	}
	if seen.Email != "a@example.com" || seen.Actor() != "a@example.com (sso)" {
		t.Errorf("the guarded handler saw %+v", seen)
	}
}

// TestMembersManageOnlyTheirOwnKeys: a member's new key is theirs; they
// list, read, change and revoke only theirs; another's key is "not
// found" to them; they cannot give a key another owner.
func TestMembersManageOnlyTheirOwnKeys(t *testing.T) {
	a := NewAPI(keyStore(t), adminKey)
	do := asRole(a)
	for _, team := range []string{"ml", "infra"} {
		if rec := call(a, "POST", "/admin/api/teams", `{"name":"`+team+`","monthly_budget_usd":100}`); rec.Code != 201 {
			t.Fatalf("team %s: %d %s", team, rec.Code, rec.Body)
		}
	}
	adminKeyID := createdID(t, call(a, "POST", "/admin/api/keys", `{"name":"ops","owner":"ops-team"}`))
	mine := createdID(t, do("mia", "POST", "/admin/api/keys", `{"name":"mine","rpm":10}`))
	// max's group maps to no team: a key of his would spend uncapped.
	if rec := do("max", "POST", "/admin/api/keys", `{"name":"his"}`); rec.Code != 403 {
		t.Errorf("a member without a team made a key: %d %s", rec.Code, rec.Body)
	}
	maxs := createdID(t, call(a, "POST", "/admin/api/keys", `{"name":"his","owner":"max@example.com"}`))
	for body, what := range map[string]string{
		`{"name":"x","owner":"ops-team"}`:  "a member's key for another owner",
		`{"name":"x","team":"infra"}`:      "a member's key in another team",
		`{"name":"x","mcp_servers":["*"]}`: "a member granting a key MCP servers",
	} {
		if rec := do("mia", "POST", "/admin/api/keys", body); rec.Code != 403 {
			t.Errorf("%s: %d %s", what, rec.Code, rec.Body)
		}
	}
	rec := do("mia", "GET", "/admin/api/keys", "")
	var list struct{ Keys []keyJSON }
	_ = json.Unmarshal(rec.Body.Bytes(), &list)
	if len(list.Keys) != 1 || list.Keys[0].ID != mine || list.Keys[0].Owner != "mia@example.com" || list.Keys[0].Team != "ml" {
		t.Fatalf("mia's list: %s", rec.Body)
	}
	for _, id := range []string{adminKeyID, maxs} {
		for _, m := range []string{"GET", "PATCH", "DELETE"} {
			if rec := do("mia", m, "/admin/api/keys/"+id, `{"rpm":1}`); rec.Code != 404 {
				t.Errorf("mia %s another's key: %d %s", m, rec.Code, rec.Body)
			}
		}
	}
	if rec := do("mia", "PATCH", "/admin/api/keys/"+mine, `{"owner":"max@example.com"}`); rec.Code != 403 {
		t.Errorf("giving her key away: %d %s", rec.Code, rec.Body)
	}
	if rec := do("mia", "PATCH", "/admin/api/keys/"+mine, `{"rpm":20}`); rec.Code != 200 {
		t.Errorf("changing her key: %d %s", rec.Code, rec.Body)
	}
	if rec := do("mia", "DELETE", "/admin/api/keys/"+mine, ""); rec.Code != 200 {
		t.Errorf("revoking her key: %d %s", rec.Code, rec.Body)
	}
	if rec := call(a, "GET", "/admin/api/keys", ""); strings.Count(rec.Body.String(), `"id":"vk_`) != 3 {
		t.Errorf("the admin key lists every key: %s", rec.Body)
	}
	// A key an admin gave mia in another team, with caps: she may read
	// and revoke it, not move it to her team or lift its caps.
	capped := createdID(t, call(a, "POST", "/admin/api/keys", `{"name":"capped","owner":"Mia@Example.com","team":"infra","rpm":1,"models":["cheap/*"]}`))
	if rec := do("mia", "GET", "/admin/api/keys/"+capped, ""); rec.Code != 200 {
		t.Errorf("mia reading her key of another team (owner in other case): %d %s", rec.Code, rec.Body)
	}
	if rec := do("mia", "PATCH", "/admin/api/keys/"+capped, `{"rpm":0,"models":[]}`); rec.Code != 403 {
		t.Errorf("mia lifting the caps of her key in another team: %d %s", rec.Code, rec.Body)
	}
	if rec := call(a, "GET", "/admin/api/keys/"+capped, ""); !strings.Contains(rec.Body.String(), `"team":"infra"`) || !strings.Contains(rec.Body.String(), `"rpm":1`) {
		t.Errorf("the capped key changed: %s", rec.Body)
	}
	if rec := do("mia", "DELETE", "/admin/api/keys/"+capped, ""); rec.Code != 200 {
		t.Errorf("mia revoking her key of another team: %d %s", rec.Code, rec.Body)
	}
	// No team names to probe: a member's team= filter is ignored.
	for _, team := range []string{"infra", "no-such-team"} {
		if rec := do("mia", "GET", "/admin/api/keys?team="+team, ""); rec.Code != 200 {
			t.Errorf("mia filtering by team %s: %d %s", team, rec.Code, rec.Body)
		}
	}
}

// TestMembersOwnBoundedKeys: every replica holds every key, so a member
// may own at most maxMemberKeys, revoked ones included.
func TestMembersOwnBoundedKeys(t *testing.T) {
	a := NewAPI(keyStore(t), adminKey)
	do := asRole(a)
	if rec := call(a, "POST", "/admin/api/teams", `{"name":"ml"}`); rec.Code != 201 {
		t.Fatalf("team: %d %s", rec.Code, rec.Body)
	}
	for i := range maxMemberKeys {
		id := createdID(t, do("mia", "POST", "/admin/api/keys", `{"name":"k"}`))
		if i%2 == 0 {
			do("mia", "DELETE", "/admin/api/keys/"+id, "")
		}
	}
	if rec := do("mia", "POST", "/admin/api/keys", `{"name":"one too many"}`); rec.Code != 403 {
		t.Errorf("key %d of a member: %d %s", maxMemberKeys+1, rec.Code, rec.Body)
	}
	if rec := call(a, "POST", "/admin/api/keys", `{"name":"admin's","owner":"mia@example.com"}`); rec.Code != 201 {
		t.Errorf("the admin key is not bounded: %d %s", rec.Code, rec.Body)
	}
}

func createdID(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var k keyJSON
	if rec.Code != 201 || json.Unmarshal(rec.Body.Bytes(), &k) != nil {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	return k.ID
}
