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

// LimitsSource is implemented by a HealthSource that also knows where the
// key limits are kept; GET /admin/api/health then shows it in Limits,
// with the whole reason (Redis's error, which may name its address). The
// unauthenticated /healthz says only that Redis is unreachable. Limits
// must be safe for concurrent use; an empty mode means the limits are off.
type LimitsSource interface {
	Limits() (mode, reason string)
}

// LimitsHealth is where the key limits are kept, as the admin health page
// shows it.
type LimitsHealth struct {
	// Mode is "in-process", "redis", or "per-instance" while Redis is
	// unreachable.
	Mode string `json:"mode"`
	// Reason says why, when Mode is not what was configured.
	Reason string `json:"reason,omitempty"`
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
	// Limits is where the key limits are kept; absent when they are off
	// or the source does not say (LimitsSource).
	Limits *LimitsHealth `json:"limits,omitempty"`
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
	if ls, ok := a.healthSrc.(LimitsSource); ok {
		if mode, reason := ls.Limits(); mode != "" {
			page.Limits = &LimitsHealth{Mode: mode, Reason: reason}
		}
	}
	if page.Targets == nil {
		page.Targets = []llmbridge.TargetHealth{}
	}
	body, _ := json.Marshal(page)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(body, '\n'))
}

// WithLimits is src that also says where the key limits are kept
// (LimitsSource) by asking limits; nil limits: they are off.
func WithLimits(src HealthSource, limits func() (mode, reason string)) HealthSource {
	return healthWithLimits{src, limits}
}

type healthWithLimits struct {
	HealthSource
	limits func() (mode, reason string)
}

// Limits implements LimitsSource.
func (h healthWithLimits) Limits() (mode, reason string) {
	if h.limits == nil {
		return "", ""
	}
	return h.limits()
}
