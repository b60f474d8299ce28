package admin

import (
	"encoding/json"
	"net/http"

	"github.com/llmbridge/llmbridge/internal/openai"
)

// SetTools makes GET /admin/api/mcp answer status() as JSON: the MCP
// gateway's servers (health, tools) and recent tool calls
// (internal/mcpgw Gateway.Status). nil: the gateway is off (404). It
// returns a and must be called before the API serves.
func (a *API) SetTools(status func() any) *API {
	a.toolsSrc = status
	return a
}

// serveTools answers GET /admin/api/mcp.
func (a *API) serveTools(w http.ResponseWriter, r *http.Request) {
	if a.toolsSrc == nil {
		adminError(w, http.StatusNotFound, openai.TypeInvalidRequest, "mcp_off", "the MCP gateway is off (see mcp: in LLMBRIDGE_CONFIG)")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		adminError(w, http.StatusMethodNotAllowed, openai.TypeInvalidRequest, "method_not_allowed", "%s is not allowed here; use GET", r.Method)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(a.toolsSrc())
}
