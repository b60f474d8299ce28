package keys

import (
	"encoding/json"
	"net/http"

	"github.com/llmbridge/llmbridge"
)

// ServeHealthz answers GET /healthz with where the limits are kept, so a
// replica running on per-instance limits (Redis unreachable) shows it.
// It is always 200: the bridge serves either way. It needs no key, so it
// says only "Redis unreachable": Redis's error names its address (and
// what else the network told us), which stays in the server log and on
// the admin health page.
func (a *Admitter) ServeHealthz(w http.ResponseWriter) {
	mode, reason := a.Status()
	if reason != "" {
		reason = "Redis unreachable" // the only reason Status gives; never its detail
	}
	body, _ := json.Marshal(struct {
		Status       string `json:"status"`
		Limits       string `json:"limits"`
		LimitsReason string `json:"limits_reason,omitempty"`
	}{"ok", mode, reason})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(body, '\n'))
}

// HasKeyID reports whether one of keys has the key_id id.
func HasKeyID(keys []string, id string) bool {
	for _, k := range keys {
		if llmbridge.KeyID(k) == id {
			return true
		}
	}
	return false
}
