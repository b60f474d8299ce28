package admin

import (
	"encoding/json"
	"net/http"

	"github.com/llmbridge/llmbridge"
)

// HealthSource reports the routing health of the bridge being served:
// every target (provider + key + model) with its circuit state, key state,
// failures and recent traffic. *llmbridge.Bridge implements it; a server
// that swaps bridges on reload passes a source that reads the current one.
// Health must be safe for concurrent use.
type HealthSource interface {
	Health() []llmbridge.TargetHealth
}

// HealthFunc adapts a function to a HealthSource.
type HealthFunc func() []llmbridge.TargetHealth

// Health calls f.
func (f HealthFunc) Health() []llmbridge.TargetHealth { return f() }

// HealthPage is the GET /admin/api/health response.
type HealthPage struct {
	// Targets lists every target, sorted by provider, model and key.
	Targets []llmbridge.TargetHealth `json:"targets"`
	// Cache is the response cache's size and hit ratio; absent when the
	// cache is off.
	Cache *CacheStats `json:"cache,omitempty"`
}

// SetHealth makes GET /admin/api/health list src's targets (nil: the
// endpoint answers 503). It returns a for chaining and must be called
// before the API serves.
func (a *API) SetHealth(src HealthSource) *API {
	a.healthSrc = src
	return a
}

// serveHealth answers GET /admin/api/health. Last errors come redacted
// from the bridge; no provider key is ever part of the page.
func (a *API) serveHealth(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		adminError(w, http.StatusMethodNotAllowed, "invalid_request_error", "method_not_allowed", "%s is not allowed here; use GET", r.Method)
		return
	}
	if a.healthSrc == nil {
		adminError(w, http.StatusServiceUnavailable, "server_error", "health_off", "no bridge reports its health here")
		return
	}
	page := HealthPage{Targets: a.healthSrc.Health()}
	if a.cacheSrc != nil {
		page.Cache = cacheStats(a.cacheSrc)
	}
	if page.Targets == nil {
		page.Targets = []llmbridge.TargetHealth{}
	}
	body, _ := json.Marshal(page)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(body, '\n'))
}
