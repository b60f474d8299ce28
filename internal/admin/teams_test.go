package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge/internal/usage"
)

type teamJSON struct {
	ID, Name string
	Models   []string
	RPM      int64 `json:"rpm"`
	Keys     int   `json:"keys"`
	Spend    *struct {
		TodayUSD float64 `json:"today_usd"`
	}
}

// The team endpoints: create, list, show by id or name, replace, delete
// (refused while a live key belongs to it), keys joining by name and
// listed by owner and team, and a change reaching the admitter before
// the answer.
func TestTeamsAPI(t *testing.T) {
	var changes int
	a := NewAPI(keyStore(t), adminKey).SetKeysChanged(func(context.Context) error { changes++; return nil })
	rec := call(a, "POST", "/admin/api/teams", `{"name":"Research","models":["openai/*"],"rpm":60,"daily_budget_usd":5}`)
	var tm teamJSON
	if rec.Code != 201 || json.Unmarshal(rec.Body.Bytes(), &tm) != nil || !strings.HasPrefix(tm.ID, "tm_") || tm.RPM != 60 || tm.Spend == nil {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	if rec := call(a, "POST", "/admin/api/teams", `{"name":"research"}`); rec.Code != 409 || !strings.Contains(rec.Body.String(), "team_exists") {
		t.Fatalf("a second research: %d %s", rec.Code, rec.Body)
	}
	rec = call(a, "POST", "/admin/api/keys", `{"name":"ann","owner":"ann@example.com","team":"research"}`)
	var k struct{ ID string }
	if rec.Code != 201 || json.Unmarshal(rec.Body.Bytes(), &k) != nil {
		t.Fatalf("key: %d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(rec.Body.String(), `"team":"Research"`) || !strings.Contains(rec.Body.String(), `"team_id":"`+tm.ID+`"`) {
		t.Errorf("the key's team: %s", rec.Body)
	}
	call(a, "POST", "/admin/api/keys", `{"name":"bob","owner":"bob@example.com"}`)
	for path, want := range map[string]string{"/admin/api/teams": `"keys":1`, "/admin/api/teams/" + tm.ID: `"keys":1`, "/admin/api/teams/RESEARCH": tm.ID,
		"/admin/api/keys?owner=ann@example.com": "ann", "/admin/api/keys?team=Research": "ann"} {
		rec := callURL(a, "GET", path)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), want) || strings.Contains(path, "/keys?") && strings.Contains(rec.Body.String(), "bob") {
			t.Errorf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
	}
	if rec := callURL(a, "GET", "/admin/api/keys?team=nobody"); rec.Code != 404 {
		t.Errorf("keys of an unknown team: %d %s", rec.Code, rec.Body)
	}
	rec = call(a, "PUT", "/admin/api/teams/"+tm.ID, `{"name":"Research","tpm":1000}`)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"rpm":0`) || !strings.Contains(rec.Body.String(), `"models":[]`) {
		t.Errorf("PUT replaces every field: %d %s", rec.Code, rec.Body)
	}
	if rec := call(a, "DELETE", "/admin/api/teams/"+tm.ID, ""); rec.Code != 409 || !strings.Contains(rec.Body.String(), "team_in_use") {
		t.Fatalf("deleting a team with a live key: %d %s", rec.Code, rec.Body)
	}
	if rec := call(a, "PATCH", "/admin/api/keys/"+k.ID, `{"team":""}`); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"team_id":""`) {
		t.Fatalf("leaving the team: %d %s", rec.Code, rec.Body)
	}
	if rec := call(a, "DELETE", "/admin/api/teams/research", ""); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"deleted":true`) {
		t.Fatalf("delete: %d %s", rec.Code, rec.Body)
	}
	if rec := call(a, "GET", "/admin/api/teams/"+tm.ID, ""); rec.Code != 404 {
		t.Errorf("a deleted team: %d %s", rec.Code, rec.Body)
	}
	if changes != 6 { // the team created, two keys, PUT, the key's PATCH, DELETE
		t.Errorf("the admitter heard of %d changes, want 6", changes)
	}
}

// Bad input to the team endpoints: no admin key, case-variant and
// unknown members, a huge body, SQL-ish and markup names, an unknown
// team, wrong methods — each a clear error, nothing stored.
func TestTeamsAPIAttacks(t *testing.T) {
	s := keyStore(t)
	a := NewAPI(s, adminKey)
	req := httptest.NewRequest("POST", "/admin/api/teams", strings.NewReader(`{"name":"x"}`))
	w := httptest.NewRecorder()
	a.ServeHTTP(w, req)
	if w.Code != 401 {
		t.Fatalf("no admin key: %d", w.Code)
	}
	for _, tc := range []struct {
		method, path, body string
		code               int
		want               string
	}{
		{"POST", "/admin/api/teams", `{"Name":"x"}`, 400, `did you mean \"name\"`},
		{"POST", "/admin/api/teams", `{"name":"x","NAME":"y"}`, 400, `"param":"NAME"`},
		{"POST", "/admin/api/teams", `{"name":"x","owner":"y"}`, 400, "unknown field"},
		{"POST", "/admin/api/teams", `{"name":"x'); DELETE FROM teams; --"}`, 400, `"param":"name"`},
		{"POST", "/admin/api/teams", `{"name":"<img src=x onerror=alert(1)>"}`, 400, `"param":"name"`},
		{"POST", "/admin/api/teams", `{"name":"x","models":["` + strings.Repeat("a", 70<<10) + `"]}`, 413, "request_too_large"},
		{"POST", "/admin/api/teams", `{"name":"x"}{"name":"y"}`, 400, "one JSON object"},
		{"GET", "/admin/api/teams/x';--", "", 400, `"param":"id"`},
		{"GET", "/admin/api/teams/nobody", "", 404, "team_not_found"},
		{"PUT", "/admin/api/teams/nobody", `{"name":"x"}`, 404, "team_not_found"},
		{"PATCH", "/admin/api/teams/nobody", `{}`, 405, "method_not_allowed"},
		{"DELETE", "/admin/api/teams", "", 405, "method_not_allowed"},
		{"GET", "/admin/api/teams/a/b", "", 404, "not_found"},
		{"POST", "/admin/api/keys", `{"name":"k","team":"nobody"}`, 400, `"param":"team"`},
		{"POST", "/admin/api/keys", `{"name":"k","team":"x' OR '1'='1"}`, 400, `"param":"team"`},
		{"POST", "/admin/api/keys", `{"Name":"k"}`, 400, `did you mean \"name\"`},
		{"GET", "/admin/api/keys?owner=%00", "", 400, `"param":"owner"`},
	} {
		rec := call(a, tc.method, tc.path, tc.body)
		if strings.Contains(tc.path, "?") {
			rec = callURL(a, tc.method, tc.path)
		}
		if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("%s %s %.60s: %d %s, want %d with %s", tc.method, tc.path, tc.body, rec.Code, rec.Body, tc.code, tc.want)
		}
		if tc.code == 405 && rec.Header().Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", tc.method, tc.path)
		}
	}
	if rec := call(a, "GET", "/admin/api/teams", ""); !strings.Contains(rec.Body.String(), `"teams":[]`) {
		t.Errorf("something was stored: %s", rec.Body)
	}
	if rec := call(NewAPI(nil, adminKey), "GET", "/admin/api/teams", ""); rec.Code != 503 {
		t.Errorf("without a store: %d %s", rec.Code, rec.Body)
	}
}

// group_by=team shows each team by name (a deleted one by its id) and
// group_by=user the keys' owners, in JSON and CSV.
func TestUsageByTeamAndUser(t *testing.T) {
	s := keyStore(t)
	a := NewAPI(s, adminKey)
	rec := call(a, "POST", "/admin/api/teams", `{"name":"research"}`)
	var tm teamJSON
	_ = json.Unmarshal(rec.Body.Bytes(), &tm)
	now := time.Now().UTC()
	rows := []usage.Row{rec2(now, "vk_1", tm.ID, "ann@example.com", 1000), rec2(now, "vk_2", tm.ID, "bob@example.com", 3000),
		rec2(now, "vk_3", "tm_00000000000000aa", "cy@example.com", 2000), rec2(now, "key-x", "", "", 500)}
	if _, err := s.Insert(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
	rec = callURL(a, "GET", "/admin/api/usage?group_by=team,user")
	for _, want := range []string{`{"team":"research","user":"ann@example.com","requests":1`, `{"team":"research","user":"bob@example.com"`,
		`{"team":"tm_00000000000000aa","user":"cy@example.com"`, `{"team":"","user":"","requests":1`} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("group_by=team,user lacks %s: %s", want, rec.Body)
		}
	}
	rec = callURL(a, "GET", "/admin/api/usage?group_by=team&format=csv")
	if lines := strings.Split(strings.TrimSpace(rec.Body.String()), "\n"); rec.Code != 200 || len(lines) != 4 || !strings.HasPrefix(lines[0], "team,requests") ||
		!strings.Contains(rec.Body.String(), "\nresearch,2,0,4000,20,") {
		t.Errorf("CSV by team: %d %q", rec.Code, lines)
	}
	rec = callURL(a, "GET", "/admin/api/usage?group_by=day,user,key,model,provider")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"user":"bob@example.com","key_id":"vk_2"`) {
		t.Errorf("user combined with the other groups: %d %s", rec.Code, rec.Body)
	}
}

func rec2(at time.Time, key, team, user string, prompt int) usage.Row {
	r := rec(at, key, "openai", "gpt-4o", prompt, 0, 10, http.StatusOK)
	r.TeamID, r.User = team, user
	return r
}

// callURL is call for a target with a query.
func callURL(a http.Handler, method, target string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, req)
	return rec
}
