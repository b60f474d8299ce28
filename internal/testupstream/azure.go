package testupstream

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// Azure is Azure OpenAI's deployment API: POST
// /openai/deployments/{deployment}/chat/completions?api-version=… and
// …/embeddings, the key in the api-key header or an Entra ID token as a
// bearer token (Server.Bearer). The api-version is required (404
// "Resource not found" without it, 400 "API version not supported" for
// one Azure does not serve); a deployment not in Server.Deployments (when
// set) is 404 DeploymentNotFound. Answers are OpenAI's with Azure's
// members: prompt_filter_results (a stream's first chunk, which has no
// choices) and each choice's content_filter_results. A prompt containing
// "JAILBREAK" is refused as Azure's content filter does (400
// content_filter with innererror). Errors are {"error":{"code","message"}}.
const Azure Flavor = 5

// AzureVersions are the api-versions the Azure fake serves.
var AzureVersions = []string{"2024-02-01", "2024-06-01", "2024-10-21", "2024-12-01-preview", "2025-01-01-preview", "2025-04-01-preview"}

var azurePath = regexp.MustCompile(`^/openai/deployments/([^/]+)/(chat/completions|embeddings)$`)

// azurePromptFilter is the prompt_filter_results Azure sends.
const azurePromptFilter = `[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},"jailbreak":{"filtered":false,"detected":false},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}}]`

// azureContentFilter is a choice's content_filter_results.
const azureContentFilter = `{"hate":{"filtered":false,"severity":"safe"},"protected_material_code":{"filtered":false,"detected":false},"protected_material_text":{"filtered":false,"detected":false},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}`

func azureError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"code":%q,"message":%q}}`, code, msg)
}

func (s *Server) serveAzure(w http.ResponseWriter, r *http.Request, body []byte) {
	m := azurePath.FindStringSubmatch(r.URL.Path)
	if r.Method != http.MethodPost || m == nil {
		azureError(w, 404, "404", "Resource not found")
		return
	}
	switch v := r.URL.Query().Get("api-version"); {
	case v == "":
		azureError(w, 404, "404", "Resource not found")
		return
	case !slices.Contains(AzureVersions, v):
		azureError(w, 400, "BadRequest", "API version not supported")
		return
	}
	if !s.azureAuthorized(r) {
		azureError(w, 401, "401", "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.")
		return
	}
	model, ok := s.Deployments[m[1]]
	if s.Deployments == nil {
		model, ok = m[1], true
	}
	if !ok {
		azureError(w, 404, "DeploymentNotFound", "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.")
		return
	}
	if m[2] == "embeddings" {
		r.URL.Path = "/v1/embeddings"
		r.Header.Set("Authorization", "Bearer "+s.Key)
		s.serveOpenAIExtra(w, r, body)
		return
	}
	s.azureChat(w, r, body, model)
}

// azureAuthorized checks the api-key header, or the bearer token with
// Bearer.
func (s *Server) azureAuthorized(r *http.Request) bool {
	if tok := bearer(r); tok != "" {
		return s.Bearer != nil && s.Bearer(tok)
	}
	return s.Key == "" || r.Header.Get("Api-Key") == s.Key
}

func (s *Server) azureChat(w http.ResponseWriter, r *http.Request, body []byte, model string) {
	var req struct {
		Stream        bool `json:"stream"`
		StreamOptions *struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
		Messages json.RawMessage `json:"messages"`
	}
	if err := json.Unmarshal(body, &req); err != nil || len(req.Messages) == 0 {
		azureError(w, 400, "BadRequest", "Invalid JSON body or missing messages.")
		return
	}
	if strings.Contains(string(req.Messages), "JAILBREAK") {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		fmt.Fprint(w, `{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{"hate":{"filtered":false,"severity":"safe"},"jailbreak":{"filtered":true,"detected":true},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}}}}`)
		return
	}
	rep := s.next()
	if rep.Status >= 400 {
		if rep.RetryAfter != "" {
			w.Header().Set("Retry-After", rep.RetryAfter)
		}
		if rep.ErrorBody != "" {
			s.writeError(w, rep)
			return
		}
		azureError(w, rep.Status, fmt.Sprint(rep.Status), fmt.Sprintf("fake azure error %d", rep.Status))
		return
	}
	if req.Stream {
		s.stream(w, r.Context(), model, req.StreamOptions != nil && req.StreamOptions.IncludeUsage, rep)
		return
	}
	s.complete(w, model, rep)
}
