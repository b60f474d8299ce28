package admin

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/llmbridge/llmbridge/internal/keys"
	"github.com/llmbridge/llmbridge/internal/openai"
)

// The team endpoints (internal/keys: team.go), behind the same admin key
// as the rest of the API:
//
//	POST   /admin/api/teams        create; 201 with the team
//	GET    /admin/api/teams        every team with its live keys and spend
//	GET    /admin/api/teams/{id}   one team (by id, or by name)
//	PUT    /admin/api/teams/{id}   replace every field (one left out is empty or no limit)
//	DELETE /admin/api/teams/{id}   delete; 409 team_in_use while live keys belong to it
//
// A body is one JSON object of name, models, rpm, tpm, max_parallel,
// daily_budget_usd and monthly_budget_usd, spelled exactly (a member in
// another case, repeated or unknown is a 400 naming it), at most 64 KiB
// (413). A team name is unique whatever its case (409 team_exists). A
// change holds on this instance when the call answers, like a key's.

// TeamView is a team as the admin API shows it.
type TeamView struct {
	*keys.Team
	Keys  int         `json:"keys"` // live (not revoked) keys that belong to it
	Spend *keys.Spend `json:"spend,omitempty"`
	// Warnings are problems that do not stop the change: a budget on
	// model patterns that cover models without a price (keys.Catalog).
	Warnings []string `json:"warnings,omitempty"`
}

// teamRoutes are the team endpoints, by ServeMux pattern; a method an
// endpoint does not have is a 405 in the API's JSON, with Allow.
func (a *API) teamRoutes() http.Handler {
	mux := http.NewServeMux()
	for _, p := range []string{"/admin/api/teams", "/admin/api/teams/{$}"} {
		mux.HandleFunc("POST "+p, a.createTeam)
		mux.HandleFunc("GET "+p, a.listTeams)
		mux.HandleFunc(p, notAllowed("GET, HEAD, POST"))
	}
	mux.HandleFunc("GET /admin/api/teams/{id}", a.showTeam)
	mux.HandleFunc("PUT /admin/api/teams/{id}", a.putTeam)
	mux.HandleFunc("DELETE /admin/api/teams/{id}", a.deleteTeam)
	mux.HandleFunc("/admin/api/teams/{id}", notAllowed("GET, HEAD, PUT, DELETE"))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		adminError(w, http.StatusNotFound, openai.TypeInvalidRequest, "not_found", "no admin endpoint %s (there are /admin/api/teams and /admin/api/teams/{id})", clip(r.URL.Path))
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.store == nil {
			adminError(w, http.StatusServiceUnavailable, openai.TypeServer, "usage_store_off",
				"the usage store is off (LLMBRIDGE_DB=off), and teams live in it")
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func notAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		adminError(w, http.StatusMethodNotAllowed, openai.TypeInvalidRequest, "method_not_allowed", "%s is not allowed here; use %s", r.Method, allow)
	}
}

func (a *API) createTeam(w http.ResponseWriter, r *http.Request) {
	p, ok := readTeam(w, r)
	if !ok {
		return
	}
	t, err := keys.NewStore(a.store).CreateTeam(r.Context(), p, a.now())
	if err != nil {
		teamError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, TeamView{Team: t, Spend: &keys.Spend{}, Warnings: a.changed(r, a.teamWarnings(t))})
}

func (a *API) listTeams(w http.ResponseWriter, r *http.Request) {
	st := keys.NewStore(a.store)
	list, err := st.Teams(r.Context())
	if err != nil {
		storeError(w, err)
		return
	}
	views, err := a.teamViews(r, st, list)
	if err != nil {
		storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Teams []TeamView `json:"teams"`
	}{views})
}

// teamViews adds each team's live keys and spend.
func (a *API) teamViews(r *http.Request, st *keys.Store, list []*keys.Team) ([]TeamView, error) {
	counts, err := st.TeamKeys(r.Context())
	if err != nil {
		return nil, err
	}
	spend, err := st.TeamSpend(r.Context(), a.now())
	if err != nil {
		return nil, err
	}
	out := make([]TeamView, 0, len(list))
	for _, t := range list {
		sp := spend[t.ID]
		out = append(out, TeamView{Team: t, Keys: counts[t.ID], Spend: &sp})
	}
	return out, nil
}

// team finds the team {id} names (its id or its name), answering the
// request when there is none.
func (a *API) team(w http.ResponseWriter, r *http.Request) (*keys.Team, bool) {
	ref := r.PathValue("id")
	if !keys.ValidTeamID(ref) && keys.ValidTeamName(ref) != nil {
		fieldError(w, &keys.FieldError{Field: "id", Message: fmt.Sprintf("%q is neither a team id (tm_ and 16 hex digits) nor a team name", clip(ref))})
		return nil, false
	}
	t, err := keys.NewStore(a.store).Team(r.Context(), ref)
	if err != nil {
		teamError(w, err)
		return nil, false
	}
	return t, true
}

func (a *API) showTeam(w http.ResponseWriter, r *http.Request) {
	t, ok := a.team(w, r)
	if !ok {
		return
	}
	a.answerTeam(w, r, http.StatusOK, t, nil)
}

func (a *API) putTeam(w http.ResponseWriter, r *http.Request) {
	old, ok := a.team(w, r)
	if !ok {
		return
	}
	p, ok := readTeam(w, r)
	if !ok {
		return
	}
	t, err := keys.NewStore(a.store).ReplaceTeam(r.Context(), old.ID, p, a.now())
	if err != nil {
		teamError(w, err)
		return
	}
	a.answerTeam(w, r, http.StatusOK, t, a.changed(r, a.teamWarnings(t)))
}

func (a *API) deleteTeam(w http.ResponseWriter, r *http.Request) {
	t, ok := a.team(w, r)
	if !ok {
		return
	}
	if err := keys.NewStore(a.store).DeleteTeam(r.Context(), t.ID); err != nil {
		teamError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		ID       string   `json:"id"`
		Name     string   `json:"name"`
		Deleted  bool     `json:"deleted"`
		Warnings []string `json:"warnings,omitempty"`
	}{t.ID, t.Name, true, a.changed(r, nil)})
}

// answerTeam writes t with its live keys and spend.
func (a *API) answerTeam(w http.ResponseWriter, r *http.Request, status int, t *keys.Team, warnings []string) {
	views, err := a.teamViews(r, keys.NewStore(a.store), []*keys.Team{t})
	if err != nil {
		storeError(w, err)
		return
	}
	views[0].Warnings = warnings
	writeJSON(w, status, views[0])
}

// teamWarnings are the models a team's budget cannot count (keys.Catalog).
func (a *API) teamWarnings(t *keys.Team) []string {
	return a.warnings(&keys.Key{Policy: keys.Policy{Models: t.Models, Limits: t.Limits}})
}

// maxTeamBody bounds a team body.
const maxTeamBody = 64 << 10

func readTeam(w http.ResponseWriter, r *http.Request) (*keys.TeamParams, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxTeamBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		adminError(w, http.StatusRequestEntityTooLarge, openai.TypeInvalidRequest, "request_too_large", "a team body is at most %d bytes", maxTeamBody)
		return nil, false
	case err != nil:
		fieldError(w, &keys.FieldError{Field: "body", Message: "unreadable"})
		return nil, false
	}
	p, err := keys.ParseTeamParams(body)
	if err != nil {
		teamError(w, err)
		return nil, false
	}
	return p, true
}

// teamError answers a team endpoint's error.
func teamError(w http.ResponseWriter, err error) {
	var fe *keys.FieldError
	var inUse *keys.TeamInUseError
	switch {
	case errors.As(err, &fe):
		fieldError(w, fe)
	case errors.Is(err, keys.ErrTeamNotFound):
		adminError(w, http.StatusNotFound, openai.TypeInvalidRequest, "team_not_found", "there is no team with this id or name")
	case errors.Is(err, keys.ErrTeamExists):
		adminError(w, http.StatusConflict, openai.TypeInvalidRequest, "team_exists", "another team has this name (names are unique whatever their case)")
	case errors.As(err, &inUse):
		adminError(w, http.StatusConflict, openai.TypeInvalidRequest, "team_in_use", "%s", inUse.Error())
	default:
		storeError(w, err)
	}
}
