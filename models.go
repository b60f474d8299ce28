package llmbridge

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/llmbridge/llmbridge/internal/models"
	"github.com/llmbridge/llmbridge/internal/openai"
)

// The model list and the resolution of bare names beyond the configured
// lists: the providers' families (ModelFamily) and their upstreams' live
// lists (ModelSource, WithModelRefresh), with the engine in
// internal/models; and GET /v1/models in the Anthropic shape.

// WithModelRefresh fetches every provider's model list from its upstream
// (ModelSource) in the background: at New, without delaying it, then
// every d until Close. GET /v1/models then shows each provider's
// configured list followed by the names only its upstream lists, and a
// bare name the upstream lists resolves to it (see Router). A failed
// fetch keeps the last good list and is logged once until it succeeds
// again. 0 (the default) fetches nothing.
func WithModelRefresh(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("WithModelRefresh: %v is negative", d)
		}
		c.modelRefresh = d
		return nil
	}
}

// WithModelListsFrom starts the Bridge's live model lists
// (WithModelRefresh) from prev's last good ones, by provider name, until
// its own fetches answer: a configuration reload that builds a new Bridge
// keeps listing and resolving what the upstreams serve meanwhile. A nil
// prev, or a Bridge without WithModelRefresh, starts with none.
func WithModelListsFrom(prev *Bridge) Option {
	return func(c *config) error {
		if prev != nil {
			c.modelSeed = prev.catalog.Lists()
		}
		return nil
	}
}

// buildModels builds the families (reporting invalid patterns) and the
// catalog of live lists of b.upstreams.
func (b *Bridge) buildModels() []error {
	names, patterns := make([]string, len(b.upstreams)), make([][]string, len(b.upstreams))
	ups := make([]models.Upstream, len(b.upstreams))
	for i, u := range b.upstreams {
		names[i] = u.name
		if f, ok := u.p.(ModelFamily); ok && !u.prefix {
			patterns[i] = f.ModelPatterns()
		}
		ups[i] = models.Upstream{Name: u.name, Client: u.client, PrefixOnly: u.prefix}
		for _, k := range u.keys {
			if s, ok := k.p.(ModelSource); ok {
				ups[i].Sources = append(ups[i].Sources, s)
			}
			if s := apiKey(k.p); s != "" {
				ups[i].Secrets = append(ups[i].Secrets, s)
			}
		}
	}
	var errs []error
	b.families, errs = models.NewFamilies(names, patterns)
	o := models.Options{Every: b.cfg.modelRefresh, Timeout: b.cfg.timeouts.Header, Logger: b.log, OnChange: b.renderModels}
	if b.cfg.modelRefresh > 0 {
		o.Initial = b.cfg.modelSeed
	}
	b.catalog = models.New(ups, o)
	return errs
}

// renderModels builds the GET /v1/models body: at New, and after a live
// list changed.
func (b *Bridge) renderModels() {
	body, _ := openai.Marshal(modelList{Object: "list", Data: b.Models()})
	b.modelList.Store(&body)
}

// providerModels lists upstream i's models: its configured list, then the
// names only its live list has, each once.
func (b *Bridge) providerModels(i int) []string {
	var out []string
	if l, ok := b.upstreams[i].p.(ModelLister); ok {
		out = l.Models()
	}
	live := b.catalog.List(i)
	if len(live) == 0 {
		return out
	}
	out = slices.Clone(out)
	seen := make(map[string]bool, len(out)+len(live))
	for _, m := range out {
		seen[m] = true
	}
	for _, m := range live {
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out
}

// resolveBare resolves a bare name no configured list names: to the
// provider whose live list names it (of several, the one whose family
// claims it), else whose family claims it most specifically. Several are
// a 400 naming them; none a 404.
func (b *Bridge) resolveBare(model string) (*upstream, string, *APIError) {
	cands, why := b.catalog.Serving(model), "is listed by the upstreams of several providers"
	if len(cands) > 1 {
		fam := b.families.Match(model)
		if mine := slices.DeleteFunc(slices.Clone(cands), func(i int) bool { return !slices.Contains(fam, i) }); len(mine) == 1 {
			cands = mine // an aggregator lists a vendor's name: the vendor's own provider wins
		}
	}
	if len(cands) == 0 {
		cands, why = b.families.Match(model), "matches the model family of several providers equally"
	}
	switch len(cands) {
	case 0:
		return nil, "", &APIError{Status: http.StatusNotFound, Type: ErrorTypeInvalidRequest, Code: "model_not_found", Param: "model",
			Message: fmt.Sprintf("The model `%s` does not exist on this bridge: use provider/model with one of the providers %s.", model, b.providerNames())}
	case 1:
		return b.upstreams[cands[0]], model, nil
	}
	names := make([]string, len(cands))
	for i, c := range cands {
		names[i] = b.upstreams[c].name + "/" + model
	}
	return nil, "", &APIError{Status: http.StatusBadRequest, Type: ErrorTypeInvalidRequest, Code: "model_ambiguous", Param: "model",
		Message: fmt.Sprintf("The model `%s` %s; ask for it as one of %s (provider/model), or add a route of that name.", model, why, strings.Join(names, ", "))}
}

// anthropicModel is one model in the Models API's shape.
type anthropicModel struct {
	Type        string `json:"type"`
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	CreatedAt   string `json:"created_at"`
}

type anthropicModelPage struct {
	Data    []anthropicModel `json:"data"`
	HasMore bool             `json:"has_more"`
	FirstID *string          `json:"first_id"`
	LastID  *string          `json:"last_id"`
}

func (b *Bridge) anthropicModel(id string) anthropicModel {
	return anthropicModel{Type: "model", ID: id, DisplayName: id, CreatedAt: time.Unix(b.created, 0).UTC().Format(time.RFC3339)}
}

// serveAnthropicModels answers GET /v1/models for Anthropic clients (the
// request carries anthropic-version): the same "provider/model" names as
// the OpenAI list, one page of them as the Models API pages (limit 1–1000,
// default 20; after_id or before_id).
func (b *Bridge) serveAnthropicModels(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 20
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			anthropicFormat{}.writeError(w, &APIError{Status: http.StatusBadRequest, Param: "limit", Message: "limit: Input should be an integer between 1 and 1000"})
			return
		}
		limit = n
	}
	var ids []string
	for _, m := range b.Models() {
		ids = append(ids, m.ID)
	}
	from, to := 0, len(ids)
	if after := q.Get("after_id"); after != "" {
		from = slices.Index(ids, after) + 1 // unknown: from the start, as an empty cursor
	}
	if before := q.Get("before_id"); before != "" {
		if i := slices.Index(ids, before); i >= 0 {
			to = i
		}
		from = max(from, to-limit)
	}
	page := anthropicModelPage{Data: []anthropicModel{}}
	end := min(from+limit, to)
	for _, id := range ids[from:max(from, end)] {
		page.Data = append(page.Data, b.anthropicModel(id))
	}
	page.HasMore = end < to || q.Get("before_id") != "" && from > 0
	if n := len(page.Data); n > 0 {
		page.FirstID, page.LastID = &page.Data[0].ID, &page.Data[n-1].ID
	}
	body, _ := openai.Marshal(page)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// serveAnthropicModel answers GET /v1/models/{provider}/{model} for
// Anthropic clients.
func (b *Bridge) serveAnthropicModel(w http.ResponseWriter, id string) {
	u, upModel, aerr := b.resolve(id)
	if aerr != nil {
		anthropicFormat{}.writeError(w, aerr)
		return
	}
	body, _ := openai.Marshal(b.anthropicModel(u.name + "/" + upModel))
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// providerNames lists the Bridge's providers for an error message.
func (b *Bridge) providerNames() string {
	names := make([]string, len(b.upstreams))
	for i, u := range b.upstreams {
		names[i] = u.name
	}
	return "[" + strings.Join(names, ", ") + "]"
}
