package admin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzAdminQuery sends arbitrary query strings to the admin API over a
// real store: every answer is a report (200) or an OpenAI-shaped 400,
// never a 500 (which would mean input reached SQL) or a panic.
func FuzzAdminQuery(f *testing.F) {
	for _, s := range []string{
		"from=2026-11-23&to=2026-11-24&group_by=model,key", "group_by=day,provider&format=csv", "format=json",
		"from=2026-02-30", "group_by=model;drop", "group_by=none", "limit=5&before=019ab", "group_by=,", "from=&to=",
		"to=2026-11-24&group_by=key,key", "group_by=%00", "before=zz",
	} {
		f.Add(s)
	}
	s := seeded(f)
	a := NewAPI(s, adminKey)
	f.Fuzz(func(t *testing.T, query string) {
		for _, path := range []string{"/admin/api/usage", "/admin/api/requests"} {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.URL.Path, req.URL.RawQuery = path, query
			req.Header.Set("Authorization", "Bearer "+adminKey)
			rec := httptest.NewRecorder()
			a.ServeHTTP(rec, req)
			body := rec.Body.String()
			switch rec.Code {
			case 200:
				if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") && !json.Valid([]byte(body)) {
					t.Fatalf("%s?%s: invalid JSON %s", path, query, body)
				}
			case 400:
				var e struct {
					Error struct{ Message, Code string }
				}
				if json.Unmarshal([]byte(body), &e) != nil || e.Error.Message == "" || e.Error.Code != "invalid_query" {
					t.Fatalf("%s?%s: 400 body %s", path, query, body)
				}
			default:
				t.Fatalf("%s?%s: status %d %s", path, query, rec.Code, body)
			}
		}
	})
}
