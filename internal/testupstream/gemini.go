package testupstream

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// GeminiNative is Gemini's own API: {base}/models/{model}:generateContent
// and :streamGenerateContent?alt=sse, key in x-goog-api-key, CRLF-framed
// events with cumulative usageMetadata and no [DONE], function calls whole
// in one event (with a thoughtSignature on gemini-3 models, which reject a
// history whose function call lost it), errors as
// {"error":{"code","message","status"}}.
const GeminiNative Flavor = 3

// geminiStatus names google.rpc codes by HTTP status.
var geminiStatus = map[int]string{400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}

func geminiError(w http.ResponseWriter, status int, msg, reason string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	details := "[]"
	if reason != "" {
		details = fmt.Sprintf(`[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":%q,"domain":"googleapis.com"}]`, reason)
	}
	fmt.Fprintf(w, `{"error":{"code":%d,"message":%q,"status":%q,"details":%s}}`, status, msg, geminiStatus[status], details)
}

func (s *Server) serveGemini(w http.ResponseWriter, r *http.Request, body []byte) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1beta/models/")
	model, method, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 || (method != "generateContent" && method != "streamGenerateContent" && method != "batchEmbedContents") {
		geminiError(w, 404, "not found: "+r.URL.Path, "")
		return
	}
	if r.URL.Query().Has("key") {
		geminiError(w, 400, "the fake refuses keys in the URL", "")
		return
	}
	if s.Key != "" && r.Header.Get("X-Goog-Api-Key") != s.Key {
		geminiError(w, 400, "API key not valid. Please pass a valid API key.", "API_KEY_INVALID")
		return
	}
	if method == "batchEmbedContents" {
		s.serveGeminiEmbed(w, model, body) // responses.go
		return
	}
	var req struct {
		Contents []struct {
			Role  string `json:"role"`
			Parts []struct {
				FunctionCall     *json.RawMessage `json:"functionCall"`
				ThoughtSignature string           `json:"thoughtSignature"`
			} `json:"parts"`
		} `json:"contents"`
	}
	if err := json.Unmarshal(body, &req); err != nil || len(req.Contents) == 0 {
		geminiError(w, 400, "Invalid JSON payload received.", "")
		return
	}
	if msg := geminiConfigError(body); msg != "" {
		geminiError(w, 400, msg, "")
		return
	}
	gemini3 := strings.HasPrefix(model, "gemini-3")
	if gemini3 {
		for _, c := range req.Contents {
			for _, p := range c.Parts {
				if p.FunctionCall != nil && p.ThoughtSignature == "" {
					geminiError(w, 400, "Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly.", "")
					return
				}
			}
		}
	}
	rep := s.next()
	if rep.Status >= 400 {
		if rep.RetryAfter != "" {
			w.Header().Set("Retry-After", rep.RetryAfter)
		}
		geminiError(w, rep.Status, fmt.Sprintf("fake gemini error %d", rep.Status), "")
		return
	}
	usage := func(final bool) string {
		cand := 0
		if final {
			cand = rep.Usage.Completion
		}
		return fmt.Sprintf(`{"promptTokenCount":%d,"candidatesTokenCount":%d,"thoughtsTokenCount":%d,"cachedContentTokenCount":%d,"totalTokenCount":%d}`,
			rep.Usage.Prompt, cand, rep.Usage.Reasoning, rep.Usage.Cached, rep.Usage.Prompt+cand+rep.Usage.Reasoning)
	}
	var parts []string
	for _, t := range rep.Reasoning {
		parts = append(parts, fmt.Sprintf(`{"text":%s,"thought":true}`, jsonString(t)))
	}
	for _, t := range rep.Content {
		parts = append(parts, fmt.Sprintf(`{"text":%s}`, jsonString(t)))
	}
	var calls []string
	for i, tc := range rep.ToolCalls {
		sig := ""
		if gemini3 && i == 0 {
			sig = fmt.Sprintf(`,"thoughtSignature":"EpwICpkI%sAXLI2nx"`, tc.Name)
		}
		calls = append(calls, fmt.Sprintf(`{"functionCall":{"name":%q,"args":%s}%s}`, tc.Name, strings.Join(tc.Args, ""), sig))
	}
	event := func(ps []string, finish string, final bool) string {
		f := ""
		if finish != "" {
			f = fmt.Sprintf(`,"finishReason":%q`, finish)
		}
		u := ""
		if !rep.NoUsage {
			u = `,"usageMetadata":` + usage(final)
		}
		id := `,"responseId": "w1peaMz6INOvnvgPgYfPiQY"`
		if rep.GeminiNoResponseID {
			id = ""
		}
		return fmt.Sprintf(`{"candidates": [{"content": {"parts": [%s],"role": "model"}%s,"index": 0}]%s,"modelVersion": %q%s}`,
			strings.Join(ps, ","), f, u, model, id)
	}
	if method == "generateContent" {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		fmt.Fprint(w, event(append(parts, calls...), "STOP", true))
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Content-Disposition", "attachment")
	rc := http.NewResponseController(w)
	var events []string
	for _, p := range parts {
		events = append(events, event([]string{p}, "", false))
	}
	if len(calls) > 0 {
		events = append(events, event(calls, "", false))
	}
	if n := len(events); rep.GeminiFinishInLast && n > 0 {
		last := parts
		if len(calls) > 0 {
			last = calls
		} else {
			last = parts[len(parts)-1:]
		}
		events[n-1] = event(last, "STOP", true)
	} else {
		events = append(events, event([]string{`{"text": ""}`}, "STOP", true))
	}
	for i, ev := range events {
		if rep.CutAfter > 0 && i == rep.CutAfter {
			s.cut(w)
			return
		}
		if rep.StallAfter > 0 && i == rep.StallAfter {
			<-r.Context().Done()
			s.cancelled <- struct{}{}
			return
		}
		if !pause(r.Context(), rep.Delay) {
			return
		}
		fmt.Fprintf(w, "data: %s\r\n\r\n", ev)
		if rc.Flush() != nil {
			return
		}
	}
}
