package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/llmbridge/llmbridge/internal/keys"
	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/usage"
)

// The virtual-key endpoints (internal/keys), behind the same admin key:
//
//	POST   /admin/api/keys        create; 201 with the record and "key", the secret, this once
//	GET    /admin/api/keys        every key with its spend (never a secret); ?owner= one
//	                              owner's keys (exactly), ?team= one team's (its id or name)
//	GET    /admin/api/keys/{id}   one key with its spend
//	PATCH  /admin/api/keys/{id}   change the fields sent
//	DELETE /admin/api/keys/{id}   revoke
//
// A change holds on this instance when the call answers (SetKeysChanged),
// on the other replicas at once over Redis, or within a second by polling.
//
// Bad input is a 400 whose param names the field. A key's "team" is the
// name or id of a team (GET /admin/api/teams), "" for none; the key is
// shown with the team's id (team_id) and name (team).

// maxKeyBody bounds a create or update body.
const maxKeyBody = 64 << 10

// KeyView is a key as the admin API shows it.
type KeyView struct {
	*keys.Key
	Spend *keys.Spend `json:"spend,omitempty"`
	// Secret is the key's secret, only in the answer to its creation.
	Secret string `json:"key,omitempty"`
	// Warnings are problems that do not stop the change, in create and
	// update answers: a budget on model patterns that cover models
	// without a price, whose requests the key will be refused
	// (keys.Catalog).
	Warnings []string `json:"warnings,omitempty"`
}

// SetPrices sets the prices the key endpoints check budgets against
// (default: the built-in prices) and returns a.
func (a *API) SetPrices(p usage.Prices) *API {
	a.prices = p
	return a
}

// SetKeysChanged sets what the key endpoints call after a key is
// created, changed or revoked, before they answer, and returns a: the
// server's admitter reads the keys again (keys.Admitter.Changed), so the
// change holds for the very next request. When it fails, the change is
// made all the same and the answer carries a warning. f must be safe for
// concurrent use; nil: nothing is called.
func (a *API) SetKeysChanged(f func(context.Context) error) *API {
	a.keysChanged = f
	return a
}

// changed runs the keysChanged hook after a successful change, returning
// warnings with a warning added when it fails. The change is made: a
// client that leaves does not cancel applying it.
func (a *API) changed(r *http.Request, warnings []string) []string {
	if a.keysChanged == nil {
		return warnings
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	if err := a.keysChanged(ctx); err != nil {
		return append(warnings, fmt.Sprintf("the change is stored, but this instance could not apply it at once (%s); it will within a second", err))
	}
	return warnings
}

func (a *API) serveKeys(w http.ResponseWriter, r *http.Request) {
	if a.store == nil {
		adminError(w, http.StatusServiceUnavailable, openai.TypeServer, "usage_store_off",
			"the usage store is off (LLMBRIDGE_DB=off), and virtual keys live in it")
		return
	}
	st := keys.NewStore(a.store)
	id, one := strings.CutPrefix(strings.TrimSuffix(r.URL.Path, "/"), "/admin/api/keys/")
	if one && !keys.ValidID(id) {
		fieldError(w, &keys.FieldError{Field: "id", Message: fmt.Sprintf("%q is not a key id (vk_ and 16 lower-case hex digits)", clip(id))})
		return
	}
	if one && !a.inScope(w, r, st, id) {
		return
	}
	switch {
	case !one && r.Method == http.MethodPost:
		a.createKey(w, r, st)
	case !one && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		a.listKeys(w, r, st)
	case one && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		a.showKey(w, r, st, id)
	case one && r.Method == http.MethodPatch:
		a.updateKey(w, r, st, id)
	case one && r.Method == http.MethodDelete:
		k, err := st.Revoke(r.Context(), id, a.now())
		var warnings []string
		if err == nil {
			warnings = a.changed(r, nil)
		}
		a.answerKey(w, r, http.StatusOK, k, err, warnings)
	default:
		allow := "GET, HEAD, POST"
		if one {
			allow = "GET, HEAD, PATCH, DELETE"
		}
		w.Header().Set("Allow", allow)
		adminError(w, http.StatusMethodNotAllowed, openai.TypeInvalidRequest, "method_not_allowed", "%s is not allowed here; use %s", r.Method, allow)
	}
}

// inScope answers and reports false when the caller's key scope
// (principal.go) does not reach key id: another person's key is "not
// found" to a member, and a member changes only keys of their own team
// (one an admin put in another team they may read and revoke, not move
// or lift). Any other failure to read the key is the store's error:
// the check never passes by default.
func (a *API) inScope(w http.ResponseWriter, r *http.Request, st *keys.Store, id string) bool {
	scope := scopeOf(r)
	if !scope.Limited() {
		return true
	}
	k, err := st.Get(r.Context(), id)
	switch {
	case errors.Is(err, keys.ErrNotFound):
		return true // the handler answers 404
	case err != nil:
		storeError(w, err)
		return false
	case !scope.Allows(k):
		adminError(w, http.StatusNotFound, openai.TypeInvalidRequest, "key_not_found", "there is no key with this id")
		return false
	case r.Method == http.MethodPatch && !strings.EqualFold(k.Team, scope.Team):
		forbidden(w, "a member may change only keys of their own team; revoke this one instead")
		return false
	}
	return true
}

// maxMemberKeys bounds the keys one member may own, revoked ones
// included: every replica holds every key in memory.
const maxMemberKeys = 100

func (a *API) createKey(w http.ResponseWriter, r *http.Request, st *keys.Store) {
	p, ok := readParams(w, r)
	if !ok {
		return
	}
	if scope := scopeOf(r); scope.Limited() {
		mine, err := st.ListWhere(r.Context(), keys.Filter{Owner: scope.Owner})
		if err != nil {
			storeError(w, err)
			return
		}
		if len(mine) >= maxMemberKeys {
			forbidden(w, fmt.Sprintf("a member may own at most %d keys, revoked ones included; ask an admin", maxMemberKeys))
			return
		}
	}
	k, secret, err := st.Create(r.Context(), p, a.now())
	if err != nil {
		a.answerKey(w, r, 0, nil, err, nil)
		return
	}
	writeJSON(w, http.StatusCreated, KeyView{Key: k, Secret: secret, Spend: &keys.Spend{}, Warnings: a.changed(r, a.warnings(k))})
}

func (a *API) updateKey(w http.ResponseWriter, r *http.Request, st *keys.Store, id string) {
	p, ok := readParams(w, r)
	if !ok {
		return
	}
	k, err := st.Update(r.Context(), id, p, a.now())
	warnings := a.warnings(k)
	if err == nil {
		warnings = a.changed(r, warnings)
	}
	a.answerKey(w, r, http.StatusOK, k, err, warnings)
}

func (a *API) showKey(w http.ResponseWriter, r *http.Request, st *keys.Store, id string) {
	k, err := st.Get(r.Context(), id)
	a.answerKey(w, r, http.StatusOK, k, err, nil)
}

// keyFilter reads listKeys' owner= and team= (a team's id or name),
// answering the request when they are bad.
func keyFilter(w http.ResponseWriter, r *http.Request, st *keys.Store) (keys.Filter, bool) {
	q := r.URL.Query()
	f := keys.Filter{Owner: q.Get("owner")}
	if err := (&keys.Params{Owner: &f.Owner}).Validate(); err != nil {
		var fe *keys.FieldError
		errors.As(err, &fe)
		fieldError(w, fe)
		return f, false
	}
	if ref := q.Get("team"); ref != "" && !scopeOf(r).Limited() { // a member's keys are in their team: no team names to probe
		if err := (&keys.Params{Team: &ref}).Validate(); err != nil {
			var fe *keys.FieldError
			errors.As(err, &fe)
			fieldError(w, fe)
			return f, false
		}
		t, err := st.Team(r.Context(), ref)
		if err != nil {
			teamError(w, err)
			return f, false
		}
		f.TeamID = t.ID
	}
	return f, true
}

func (a *API) listKeys(w http.ResponseWriter, r *http.Request, st *keys.Store) {
	f, ok := keyFilter(w, r, st)
	if !ok {
		return
	}
	list, err := st.ListWhere(r.Context(), f)
	var spend map[string]keys.Spend
	if err == nil {
		spend, err = st.Spend(r.Context(), a.now())
	}
	if err != nil {
		storeError(w, err)
		return
	}
	out := struct {
		Keys []KeyView `json:"keys"`
	}{Keys: make([]KeyView, 0, len(list))}
	scope := scopeOf(r)
	for _, k := range list {
		if !scope.Allows(k) {
			continue
		}
		sp := spend[k.ID]
		out.Keys = append(out.Keys, KeyView{Key: k, Spend: &sp})
	}
	writeJSON(w, http.StatusOK, out)
}

// answerKey writes k with its spend, or the error.
func (a *API) answerKey(w http.ResponseWriter, r *http.Request, status int, k *keys.Key, err error, warnings []string) {
	var fe *keys.FieldError
	switch {
	case errors.As(err, &fe):
		fieldError(w, fe)
	case errors.Is(err, keys.ErrNotFound):
		adminError(w, http.StatusNotFound, openai.TypeInvalidRequest, "key_not_found", "there is no key with this id")
	case err != nil:
		storeError(w, err)
	default:
		v := KeyView{Key: k, Warnings: warnings}
		if spend, err := keys.NewStore(a.store).Spend(r.Context(), a.now()); err == nil {
			sp := spend[k.ID]
			v.Spend = &sp
		}
		writeJSON(w, status, v)
	}
}

// SetModels sets what the key endpoints check a budgeted key's model
// patterns against, besides the price table (see keys.Catalog), and
// returns a. models lists the model names clients can ask for (the
// Bridge's model list: provider/model and route names); it is called on
// each create and update, so a reloaded configuration is seen. priced is
// the Admitter's Options.Priced. Either may be nil: only the price
// table's names are known; names are looked up in the price table as
// given. Both must be safe for concurrent use.
func (a *API) SetModels(models func() []string, priced func(model string) bool) *API {
	a.models, a.priced = models, priced
	return a
}

// warnings lists the models a key's budget cannot count (no price): its
// requests to them are refused.
func (a *API) warnings(k *keys.Key) []string {
	if k == nil {
		return nil
	}
	c := keys.Catalog{Prices: a.prices, Priced: a.priced}
	if a.models != nil && (k.DailyBudgetUSD > 0 || k.MonthlyBudgetUSD > 0) {
		c.Models = a.models()
	}
	return c.Warnings(&k.Policy)
}

// readParams reads a create or update body, kept in the caller's key
// scope (KeyScope.Apply: a member's keys are their own).
func readParams(w http.ResponseWriter, r *http.Request) (*keys.Params, bool) {
	p, ok := parseParams(w, r)
	if ok {
		if why := scopeOf(r).Apply(p); why != "" {
			forbidden(w, why)
			return nil, false
		}
	}
	return p, ok
}

func parseParams(w http.ResponseWriter, r *http.Request) (*keys.Params, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxKeyBody))
	if err != nil {
		fieldError(w, &keys.FieldError{Field: "body", Message: fmt.Sprintf("unreadable or over %d bytes", maxKeyBody)})
		return nil, false
	}
	p, err := keys.ParseParams(body)
	if err != nil {
		var fe *keys.FieldError
		if !errors.As(err, &fe) {
			fe = &keys.FieldError{Field: "body", Message: err.Error()}
		}
		fieldError(w, fe)
		return nil, false
	}
	return p, true
}

func fieldError(w http.ResponseWriter, fe *keys.FieldError) {
	e := openai.Errorf(http.StatusBadRequest, openai.TypeInvalidRequest, "invalid_value", "%s", fe.Error())
	e.Param = fe.Field
	openai.WriteError(w, e)
}

func storeError(w http.ResponseWriter, err error) {
	adminError(w, http.StatusInternalServerError, openai.TypeServer, "usage_store_error", "the key store failed: %s", err)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// clip shortens what is echoed back in an error.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
