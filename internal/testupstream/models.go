package testupstream

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// ModelList scripts a fake's model list, served in its flavor's real
// format and auth: OpenAI and DeepSeek GET /v1/models (bearer key, one
// page {"object":"list","data":[…]}); Gemini's compatibility endpoint GET
// /openai/models (ids with the "models/" prefix); Anthropic GET /v1/models
// (x-api-key and anthropic-version required; limit 1–1000, default 20,
// after_id/before_id cursors, has_more, first_id, last_id); Gemini GET
// /v1beta/models (x-goog-api-key, never ?key=; pageSize default 50, at
// most 1000; pageToken/nextPageToken). A fake without one answers 404.
type ModelList struct {
	IDs []string
	// PageSize caps the page size the fake serves whatever the client asks
	// (0: the API's own maximum), so a few ids span several pages.
	PageSize int
	// Faults: Status >= 300 answers it instead (a 3xx with Location:
	// Redirect); Body answers these bytes with 200; Huge > 0 answers a
	// list of about that many bytes, written as it goes.
	Status   int
	Redirect string
	Body     string
	Huge     int
}

// SetModelList sets (or, with nil, removes) the fake's model list.
func (s *Server) SetModelList(l *ModelList) { s.mu.Lock(); s.models = l; s.mu.Unlock() }

// ModelListRequests counts the model list requests the fake received
// (refused ones included).
func (s *Server) ModelListRequests() int {
	n := 0
	for _, r := range s.Requests() {
		if r.Method == http.MethodGet && strings.HasSuffix(r.Path, "/models") {
			n++
		}
	}
	return n
}

// serveModelList answers a model list request of the fake's flavor, or
// reports false when r is none.
func (s *Server) serveModelList(w http.ResponseWriter, r *http.Request) bool {
	path := map[Flavor]string{OpenAI: "/v1/models", DeepSeek: "/v1/models", GeminiCompat: "/openai/models", Anthropic: "/v1/models", GeminiNative: "/v1beta/models"}[s.Flavor]
	if r.Method != http.MethodGet || r.URL.Path != path {
		return false
	}
	if !s.modelListAuth(w, r) {
		return true
	}
	s.mu.Lock()
	l, down := s.models, s.def.Status >= 500
	status := s.def.Status
	s.mu.Unlock()
	switch {
	case down: // a server set to fail (SetDefault) fails its list too
		s.modelListError(w, status)
	case l == nil:
		s.modelListError(w, http.StatusNotFound)
	case l.Status >= 300 && l.Status < 400:
		w.Header().Set("Location", l.Redirect)
		w.WriteHeader(l.Status)
	case l.Status >= 400:
		s.modelListError(w, l.Status)
	case l.Body != "":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, l.Body)
	case l.Huge > 0:
		writeHuge(w, l.Huge)
	case s.Flavor == Anthropic:
		s.anthropicModels(w, r, l)
	case s.Flavor == GeminiNative:
		s.geminiModels(w, r, l)
	default:
		openAIModels(w, l, s.Flavor == GeminiCompat)
	}
	return true
}

// modelListAuth checks the key (and Anthropic's version header) as the
// real list endpoint does, answering the refusal itself.
func (s *Server) modelListAuth(w http.ResponseWriter, r *http.Request) bool {
	switch s.Flavor {
	case Anthropic:
		if s.Key != "" && r.Header.Get("X-Api-Key") != s.Key {
			anthropicError(w, 401, "invalid x-api-key")
			return false
		}
		if r.Header.Get("Anthropic-Version") == "" {
			anthropicError(w, 400, "anthropic-version: header is required")
			return false
		}
	case GeminiNative:
		if r.URL.Query().Has("key") {
			geminiError(w, 400, "the fake refuses keys in the URL", "")
			return false
		}
		if s.Key != "" && r.Header.Get("X-Goog-Api-Key") != s.Key {
			geminiError(w, 400, "API key not valid. Please pass a valid API key.", "API_KEY_INVALID")
			return false
		}
	default:
		if !s.keyAccepted(r) {
			s.writeError(w, Reply{Status: 401})
			return false
		}
	}
	return true
}

func (s *Server) modelListError(w http.ResponseWriter, status int) {
	switch s.Flavor {
	case Anthropic:
		anthropicError(w, status, "fake model list error")
	case GeminiNative:
		geminiError(w, status, "fake model list error", "")
	default:
		s.writeError(w, Reply{Status: status})
	}
}

func openAIModels(w http.ResponseWriter, l *ModelList, prefixed bool) {
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	out := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{Object: "list", Data: []model{}}
	for _, id := range l.IDs {
		if prefixed {
			id = "models/" + id
		}
		out.Data = append(out.Data, model{ID: id, Object: "model", Created: 1715367049, OwnedBy: "system"})
	}
	writeJSON(w, out)
}

// anthropicModels serves one page of the Models API.
func (s *Server) anthropicModels(w http.ResponseWriter, r *http.Request, l *ModelList) {
	q := r.URL.Query()
	limit := 20
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			anthropicError(w, 400, "limit: Input should be less than or equal to 1000")
			return
		}
		limit = n
	}
	if l.PageSize > 0 {
		limit = min(limit, l.PageSize)
	}
	from, to := 0, len(l.IDs)
	after, before := q.Get("after_id"), q.Get("before_id")
	for _, c := range []string{after, before} {
		if c != "" && !slices.Contains(l.IDs, c) {
			anthropicError(w, 400, "unknown model id in after_id or before_id")
			return
		}
	}
	switch {
	case after != "" && before != "":
		anthropicError(w, 400, "send after_id or before_id, not both")
		return
	case after != "":
		from = slices.Index(l.IDs, after) + 1
	case before != "":
		to = slices.Index(l.IDs, before)
		from = max(0, to-limit)
	}
	end := min(from+limit, to)
	type model struct {
		Type        string `json:"type"`
		ID          string `json:"id"`
		DisplayName string `json:"display_name"`
		CreatedAt   string `json:"created_at"`
	}
	page := struct {
		Data    []model `json:"data"`
		HasMore bool    `json:"has_more"`
		FirstID *string `json:"first_id"`
		LastID  *string `json:"last_id"`
	}{Data: []model{}, HasMore: end < to || before != "" && from > 0}
	for _, id := range l.IDs[from:end] {
		page.Data = append(page.Data, model{Type: "model", ID: id, DisplayName: id, CreatedAt: "2026-11-24T00:00:00Z"})
	}
	if n := len(page.Data); n > 0 {
		page.FirstID, page.LastID = &page.Data[0].ID, &page.Data[n-1].ID
	}
	w.Header().Set("Request-Id", "req_fake_models")
	writeJSON(w, page)
}

// geminiModels serves one page of models.list. Ids starting "imagen-"
// are listed with the predict method only, as image models are.
func (s *Server) geminiModels(w http.ResponseWriter, r *http.Request, l *ModelList) {
	q := r.URL.Query()
	size := 50
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			geminiError(w, 400, "pageSize must be a non-negative integer", "")
			return
		}
		size = min(max(n, 1), 1000)
	}
	if l.PageSize > 0 {
		size = min(size, l.PageSize)
	}
	from := 0
	if t := q.Get("pageToken"); t != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(t, "tok-"))
		if !strings.HasPrefix(t, "tok-") || err != nil || n < 0 || n > len(l.IDs) {
			geminiError(w, 400, "Invalid page token", "")
			return
		}
		from = n
	}
	end := min(from+size, len(l.IDs))
	type model struct {
		Name        string   `json:"name"`
		Version     string   `json:"version"`
		DisplayName string   `json:"displayName"`
		InputLimit  int      `json:"inputTokenLimit"`
		OutputLimit int      `json:"outputTokenLimit"`
		Methods     []string `json:"supportedGenerationMethods"`
	}
	page := struct {
		Models []model `json:"models"`
		Next   string  `json:"nextPageToken,omitempty"`
	}{}
	for _, id := range l.IDs[from:end] {
		methods := []string{"generateContent", "countTokens", "createCachedContent"}
		switch {
		case strings.HasPrefix(id, "imagen-"):
			methods = []string{"predict"}
		case strings.Contains(id, "embedding"):
			methods = []string{"embedContent", "batchEmbedContents"}
		}
		page.Models = append(page.Models, model{Name: "models/" + id, Version: "001", DisplayName: id, InputLimit: 1048576, OutputLimit: 65536, Methods: methods})
	}
	if end < len(l.IDs) {
		page.Next = "tok-" + strconv.Itoa(end)
	}
	writeJSON(w, page)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// writeHuge writes an OpenAI-shaped list of about n bytes, as it goes.
func writeHuge(w http.ResponseWriter, n int) {
	w.Header().Set("Content-Type", "application/json")
	written, _ := fmt.Fprint(w, `{"object":"list","data":[`)
	for i := 0; written < n; i++ {
		k, err := fmt.Fprintf(w, `{"id":"huge-model-%09d","object":"model","created":1,"owned_by":"x"},`, i)
		if err != nil {
			return
		}
		written += k
	}
	fmt.Fprint(w, `{"id":"last","object":"model"}]}`)
}
