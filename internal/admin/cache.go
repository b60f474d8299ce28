package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/llmbridge/llmbridge/internal/cache"
	"github.com/llmbridge/llmbridge/internal/openai"
)

// CacheAdmin is the response cache the admin API manages: a cache
// backend's Purge and Stats (cache.Backend has both). Safe for concurrent
// use.
type CacheAdmin interface {
	Purge(ctx context.Context, f cache.Filter) (int, error)
	Stats(ctx context.Context) cache.Stats
}

// CacheStats is GET /admin/api/cache and the cache part of
// GET /admin/api/health: the backend's state and its hit ratio.
type CacheStats struct {
	cache.Stats
	HitRatio float64 `json:"hit_ratio"`
}

// SetCache makes /admin/api/cache manage c (nil: the cache is off and the
// endpoint answers 404). It returns a for chaining and must be called
// before the API serves.
func (a *API) SetCache(c CacheAdmin) *API {
	a.cacheSrc = c
	return a
}

// cacheStats reads c's stats within a short bound (Redis may be down).
func cacheStats(c CacheAdmin) *CacheStats {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st := c.Stats(ctx)
	return &CacheStats{Stats: st, HitRatio: st.HitRatio()}
}

// serveCache answers GET /admin/api/cache (stats) and DELETE
// /admin/api/cache[?model=M][&key=K] (removes the cached answers for a
// model as the clients name it and/or a key id; without either, all of
// them) with {"deleted": N}.
func (a *API) serveCache(w http.ResponseWriter, r *http.Request) {
	if a.cacheSrc == nil {
		adminError(w, http.StatusNotFound, openai.TypeInvalidRequest, "cache_off", "the response cache is off (see cache: in LLMBRIDGE_CONFIG)")
		return
	}
	var body any
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		body = cacheStats(a.cacheSrc)
	case http.MethodDelete:
		q := r.URL.Query()
		for k := range q {
			if k != "model" && k != "key" {
				adminError(w, http.StatusBadRequest, openai.TypeInvalidRequest, "invalid_query", "unknown parameter %q: use model and/or key", k)
				return
			}
		}
		f := cache.Filter{Model: q.Get("model"), Scope: q.Get("key")}
		n, err := a.cacheSrc.Purge(r.Context(), f)
		if err != nil {
			adminError(w, http.StatusBadGateway, openai.TypeServer, "cache_unavailable", "the cache did not answer: %v", err)
			return
		}
		body = map[string]int{"deleted": n}
	default:
		w.Header().Set("Allow", "GET, HEAD, DELETE")
		adminError(w, http.StatusMethodNotAllowed, openai.TypeInvalidRequest, "method_not_allowed", "%s is not allowed here; use GET or DELETE", r.Method)
		return
	}
	out, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(out, '\n'))
}
