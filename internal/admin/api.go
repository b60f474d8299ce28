package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/secret"
	"github.com/llmbridge/llmbridge/internal/usage"
)

// API serves the admin API:
//
//	GET /admin/api/usage?from=YYYY-MM-DD&to=YYYY-MM-DD&group_by=day,model,provider,key,team,user[&format=csv]
//	GET /admin/api/requests?limit=N&before=ID
//	POST, GET /admin/api/keys; GET, PATCH, DELETE /admin/api/keys/{id} (keys.go)
//	POST, GET /admin/api/teams; GET, PUT, DELETE /admin/api/teams/{id} (teams.go)
//	GET /admin/api/health (health.go): every routing target's health
//	GET /admin/api/prices (prices.go): every price in force, its source and age
//	GET /admin/api/mcp (tools.go): the MCP gateway's servers and recent calls
//
// Every request needs the admin key (Authorization: Bearer, or
// x-api-key); access keys are refused. Without an admin key configured
// the API is off and says so.
type API struct {
	store  *usage.Store
	digest *secret.Digest // the admin key's; nil: the API is off
	now    func() time.Time
	prices usage.Prices // for the key endpoints' budget warnings (keys.go)
	// models and priced complete the budget warnings' catalog (SetModels).
	models func() []string
	priced func(model string) bool
	// session accepts a signed-in admin UI browser (SetSession); nil:
	// only the admin key.
	session func(*http.Request) (Principal, bool)
	// healthSrc serves GET /admin/api/health (health.go); nil: off.
	healthSrc HealthSource
	// cacheSrc serves /admin/api/cache (cache.go); nil: the cache is off.
	cacheSrc CacheAdmin
	// toolsSrc serves /admin/api/mcp (tools.go); nil: the gateway is off.
	toolsSrc func() any
	// keysChanged applies a key change before the answer
	// (SetKeysChanged, keys.go); nil: the admitter polls.
	keysChanged func(context.Context) error
	// teams serves /admin/api/teams… (teams.go).
	teams http.Handler
}

// SetSession makes the API accept requests for which session returns
// true, as the principal it returns, besides those carrying the admin
// key, and returns a. The admin UI passes its session check
// (internal/admin/ui: Handler.Principal), which demands the CSRF token
// on state-changing methods. session must be safe for concurrent use.
func (a *API) SetSession(session func(*http.Request) (Principal, bool)) *API {
	a.session = session
	return a
}

// NewAPI returns the admin API over store (nil: the usage store is
// off). An empty adminKey turns the API off.
func NewAPI(store *usage.Store, adminKey string) *API {
	a := &API{store: store, now: time.Now}
	a.teams = a.teamRoutes()
	if adminKey != "" {
		d := secret.Sum(adminKey)
		a.digest = &d
	}
	return a
}

func adminError(w http.ResponseWriter, status int, typ, code, format string, args ...any) {
	openai.WriteError(w, openai.Errorf(status, typ, code, format, args...))
}

// Guard serves h to the requests the API accepts (the admin key, or a
// signed-in UI session whose role allows the request) and answers the
// rest as ServeHTTP does: for endpoints served outside this package
// (internal/liveconfig). h finds the caller with PrincipalFrom.
func (a *API) Guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r, ok := a.allowed(w, r); ok {
			h.ServeHTTP(w, r)
		}
	})
}

// Identify returns who r comes from: the admin key, or a signed-in UI
// session; ok is false for anyone else (or while the API is off). It
// does not check the role.
func (a *API) Identify(r *http.Request) (p Principal, ok bool) {
	switch {
	case a.digest == nil:
		return p, false
	case a.authorized(r):
		return Principal{Role: RoleAdmin, Via: "admin key"}, true
	case a.session != nil:
		return a.session(r)
	}
	return p, false
}

// allowed answers a request the API does not accept — no admin key or
// session (401), or a role that does not allow it (403) — and reports
// whether it accepts r, returning r with its principal in the context.
func (a *API) allowed(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	w.Header().Set("Cache-Control", "no-store")
	if a.digest == nil {
		adminError(w, http.StatusNotFound, openai.TypeInvalidRequest, "admin_api_disabled",
			"the admin API is off: set LLMBRIDGE_ADMIN_KEY to turn it on")
		return r, false
	}
	p, ok := a.Identify(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="llmbridge-admin"`)
		adminError(w, http.StatusUnauthorized, openai.TypeAuthentication, "invalid_api_key",
			"the admin API needs the admin key (LLMBRIDGE_ADMIN_KEY) as a Bearer token; access keys are not accepted here")
		return r, false
	}
	if why := permit(p, r); why != "" {
		forbidden(w, why)
		return r, false
	}
	return r.WithContext(WithPrincipal(r.Context(), p)), true
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r, ok := a.allowed(w, r)
	if !ok {
		return
	}
	if p := r.URL.Path; p == "/admin/api/teams" || strings.HasPrefix(p, "/admin/api/teams/") {
		a.teams.ServeHTTP(w, r) // teams.go: ServeMux patterns
		return
	}
	if p := strings.TrimSuffix(r.URL.Path, "/"); p == "/admin/api/keys" || strings.HasPrefix(p, "/admin/api/keys/") {
		a.serveKeys(w, r) // keys.go: its own methods
		return
	}
	if strings.TrimSuffix(r.URL.Path, "/") == "/admin/api/health" {
		a.serveHealth(w, r) // health.go: needs no usage store
		return
	}
	if strings.TrimSuffix(r.URL.Path, "/") == "/admin/api/prices" {
		a.servePrices(w, r) // prices.go: needs no usage store
		return
	}
	if strings.TrimSuffix(r.URL.Path, "/") == "/admin/api/cache" {
		a.serveCache(w, r) // cache.go: needs no usage store
		return
	}
	if strings.TrimSuffix(r.URL.Path, "/") == "/admin/api/mcp" {
		a.serveTools(w, r) // tools.go
		return
	}
	var serve func(http.ResponseWriter, *http.Request)
	switch strings.TrimSuffix(r.URL.Path, "/") {
	case "/admin/api/usage":
		serve = a.usage
	case "/admin/api/requests":
		serve = a.requests
	default:
		adminError(w, http.StatusNotFound, openai.TypeInvalidRequest, "not_found",
			"no admin endpoint %s (there are /admin/api/usage and /admin/api/requests)", r.URL.Path)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		adminError(w, http.StatusMethodNotAllowed, openai.TypeInvalidRequest, "method_not_allowed", "%s is not allowed here; use GET", r.Method)
		return
	}
	if a.store == nil {
		adminError(w, http.StatusServiceUnavailable, openai.TypeServer, "usage_store_off",
			"the usage store is off (LLMBRIDGE_DB=off), so there is nothing to report")
		return
	}
	serve(w, r)
}

// authorized reports whether r carries the admin key, by the admin
// endpoints' rule (secret.StrictCredential: Bearer, or x-api-key when
// there is no Authorization header).
func (a *API) authorized(r *http.Request) bool {
	return a.digest.Matches(secret.StrictCredential(r.Header))
}

// ParseQuery reads from, to and group_by as the API and the CLI take
// them: to defaults to today (UTC), from to six days before to, group_by
// to day; group names are comma-separated.
func ParseQuery(from, to, groupBy string, now time.Time) (usage.Query, error) {
	q := usage.Query{From: from, To: to}
	if q.To == "" {
		q.To = now.UTC().Format(time.DateOnly)
	}
	if q.From == "" {
		t, err := time.Parse(time.DateOnly, q.To)
		if err != nil {
			return q, errBadDate(q.To)
		}
		q.From = t.AddDate(0, 0, -6).Format(time.DateOnly)
	}
	if groupBy == "" {
		groupBy = "day"
	}
	if groupBy != "none" {
		for _, g := range strings.Split(groupBy, ",") {
			q.GroupBy = append(q.GroupBy, strings.TrimSpace(g))
		}
	}
	return q, q.Validate()
}

type errBadDate string

// Error implements error.
func (e errBadDate) Error() string { return strconv.Quote(string(e)) + " is not a date (YYYY-MM-DD)" }

func (a *API) usage(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q, err := ParseQuery(v.Get("from"), v.Get("to"), v.Get("group_by"), a.now())
	if err != nil {
		adminError(w, http.StatusBadRequest, openai.TypeInvalidRequest, "invalid_query", "%s", err)
		return
	}
	format := v.Get("format")
	if format != "" && format != "json" && format != "csv" {
		adminError(w, http.StatusBadRequest, openai.TypeInvalidRequest, "invalid_query", "format %q: use json or csv", format)
		return
	}
	rep, err := a.store.Report(r.Context(), q)
	if err != nil {
		adminError(w, http.StatusInternalServerError, openai.TypeServer, "usage_store_error", "reading the usage store failed: %s", err)
		return
	}
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="usage-`+q.From+`-`+q.To+`.csv"`)
		_ = WriteReportCSV(w, rep)
		return
	}
	body := ReportJSON(rep)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(body, '\n'))
}

// RequestsPage is the /admin/api/requests response.
type RequestsPage struct {
	Requests []usage.Row `json:"requests"`
	// NextBefore is the before= value of the next (older) page; null on
	// the last page.
	NextBefore *string `json:"next_before"`
}

func (a *API) requests(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	limit := 50
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			adminError(w, http.StatusBadRequest, openai.TypeInvalidRequest, "invalid_query", "limit %q: want 1 to 1000", s)
			return
		}
		limit = n
	}
	before := v.Get("before")
	if len(before) > 64 || strings.Trim(before, "0123456789abcdef") != "" {
		adminError(w, http.StatusBadRequest, openai.TypeInvalidRequest, "invalid_query", "before %q: want a request record id (lower-case hex)", before)
		return
	}
	rows, err := a.store.Requests(r.Context(), limit, before)
	if err != nil {
		adminError(w, http.StatusInternalServerError, openai.TypeServer, "usage_store_error", "reading the usage store failed: %s", err)
		return
	}
	page := RequestsPage{Requests: rows}
	if len(rows) == limit {
		last := rows[len(rows)-1].ID
		page.NextBefore = &last
	}
	body, _ := json.Marshal(page)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(body, '\n'))
}
