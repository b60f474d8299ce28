package testupstream

import (
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// Vertex is Google Vertex AI: an OAuth bearer token (Server.Bearer, else
// Key as the token) on POST
// /v1/projects/{p}/locations/{l}/publishers/{publisher}/models/{m}:{method}.
// Publisher google serves Gemini's generateContent and
// streamGenerateContent (alt=sse required) as the GeminiNative flavor
// does; publisher anthropic serves rawPredict and streamRawPredict (and
// the count-tokens model's rawPredict) as the Anthropic flavor does, with
// Vertex's body: "anthropic_version":"vertex-2023-10-16" required, no
// "model" (it is in the path), "stream" true exactly on streamRawPredict.
// A Gemini model asked on the anthropic path (or a Claude model on the
// google path) is 404, as on Vertex. Errors of the platform (token, path)
// are Google's {"error":{"code","message","status"}}; Claude's own are
// Anthropic's. An anthropic-beta value Vertex does not know (Claude Code
// sends several the first-party API alone takes) is a 400.
const Vertex Flavor = 6

var vertexPath = regexp.MustCompile(`^/v1/projects/[a-z][a-z0-9-]*/locations/[a-z0-9-]+/publishers/(google|anthropic)/models/([^/:]+):([A-Za-z]+)$`)

func (s *Server) serveVertex(w http.ResponseWriter, r *http.Request, body []byte) {
	m := vertexPath.FindStringSubmatch(r.URL.Path)
	if r.Method != http.MethodPost || m == nil {
		geminiError(w, 404, "The requested URL was not found on this server.", "")
		return
	}
	if !s.vertexAuthorized(r) {
		geminiError(w, 401, "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.", "ACCESS_TOKEN_TYPE_UNSUPPORTED")
		return
	}
	publisher, model, method := m[1], m[2], m[3]
	claude := len(model) > 7 && model[:7] == "claude-"
	if (publisher == "anthropic") != (claude || model == "count-tokens") {
		geminiError(w, 404, "Publisher Model `projects/p/locations/l/publishers/"+publisher+"/models/"+model+"` was not found or your project does not have access to it.", "")
		return
	}
	if publisher == "google" {
		if (method != "generateContent" && method != "streamGenerateContent") || (method == "streamGenerateContent") != (r.URL.Query().Get("alt") == "sse") {
			geminiError(w, 400, "unsupported method "+method+" (streams need alt=sse)", "")
			return
		}
		r.URL.Path = "/v1beta/models/" + model + ":" + method
		r.Header.Set("X-Goog-Api-Key", s.Key)
		s.serveGemini(w, r, body)
		return
	}
	s.serveVertexClaude(w, r, body, model, method)
}

// vertexAuthorized checks the bearer token.
func (s *Server) vertexAuthorized(r *http.Request) bool {
	tok := bearer(r)
	if s.Bearer != nil {
		return s.Bearer(tok)
	}
	return tok != "" && (s.Key == "" || tok == s.Key)
}

// vertexBetas are the anthropic-beta values Claude on Vertex AI accepts.
var vertexBetas = []string{"tool-search-tool-2025-10-19", "compact-2026-01-12", "compact-2026-09-04", "computer-use-2025-01-24", "computer-use-2025-11-24",
	"context-1m-2025-08-07", "context-management-2025-06-27", "dangerous-tool-use-2026-09-03", "interleaved-thinking-2025-05-14", "per-turn-control-2026-07-01",
	"thinking-binding-controls-2026-08-01", "thinking-display-updates-2026-08-18", "web-search-2025-03-05"}

// unexpectedBetas lists the request's anthropic-beta values Vertex refuses.
func unexpectedBetas(h http.Header) []string {
	var bad []string
	for _, v := range h.Values("Anthropic-Beta") {
		for b := range strings.SplitSeq(v, ",") {
			if b = strings.TrimSpace(b); !slices.Contains(vertexBetas, b) {
				bad = append(bad, "`"+b+"`")
			}
		}
	}
	return bad
}

func (s *Server) serveVertexClaude(w http.ResponseWriter, r *http.Request, body []byte, model, method string) {
	root := gjson.ParseBytes(body)
	if bad := unexpectedBetas(r.Header); len(bad) > 0 {
		anthropicError(w, 400, "Unexpected value(s) "+strings.Join(bad, ", ")+" for the `anthropic-beta` header. Please consult our documentation at docs.anthropic.com or try again without the header.")
		return
	}
	switch {
	case method != "rawPredict" && method != "streamRawPredict":
		geminiError(w, 400, "unsupported method "+method, "")
		return
	case root.Get("anthropic_version").Str != "vertex-2023-10-16":
		anthropicError(w, 400, "anthropic_version: Field required")
		return
	case model != "count-tokens" && root.Get("model").Exists():
		anthropicError(w, 400, "model: Extra inputs are not permitted")
		return
	case (method == "streamRawPredict") != root.Get("stream").Bool():
		anthropicError(w, 400, "stream must be true exactly on streamRawPredict")
		return
	}
	body, _ = sjson.DeleteBytes(body, "anthropic_version")
	r.URL.Path = "/v1/messages"
	if model == "count-tokens" {
		r.URL.Path = "/v1/messages/count_tokens"
	} else {
		body, _ = sjson.SetBytes(body, "model", model)
	}
	r.Header.Set("X-Api-Key", s.Key)
	r.Header.Set("Anthropic-Version", "2023-06-01")
	s.serveAnthropic(w, r, body)
}
