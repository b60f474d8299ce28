package llmbridge

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/llmbridge/llmbridge/internal/openai"
)

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
