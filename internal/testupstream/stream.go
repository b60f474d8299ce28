package testupstream

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// stream writes rep as the flavor's SSE stream.
func (s *Server) stream(w http.ResponseWriter, ctx context.Context, model string, includeUsage bool, rep Reply) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(200)
	rc := http.NewResponseController(w)
	_ = rc.Flush()

	usageNull := ""
	if includeUsage {
		usageNull = `,"usage":null`
	}
	extra := ""
	if s.Flavor == OpenAI {
		extra = `,"service_tier":"default"`
	}
	head := fmt.Sprintf(`{"id":%q,"object":"chat.completion.chunk","created":1782955817,"model":%q,"system_fingerprint":"fp_d0469e1700"%s,"choices":`, s.id(), model, extra)
	chunk := func(delta, finish string) string {
		f := "null"
		if finish != "" {
			f = `"` + finish + `"`
		}
		tail := "}"
		if s.Flavor == OpenAI {
			tail = `,"obfuscation":"C63r"}`
		}
		cf := ""
		if s.Flavor == Azure {
			cf = `,"content_filter_results":` + azureContentFilter
		}
		return head + `[{"index":0,"delta":` + delta + `,"logprobs":null,"finish_reason":` + f + cf + `}]` + usageNull + tail
	}

	var events []string
	if s.Flavor == Azure { // the prompt's filter results come first, without choices
		events = append(events, `{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":`+azurePromptFilter+`}`)
	}
	switch {
	case len(rep.ToolCalls) > 0:
		for i, tc := range rep.ToolCalls {
			if s.Flavor == GeminiCompat {
				// Whole call in one delta, no index (wire-formats.md §2.7).
				events = append(events, chunk(fmt.Sprintf(`{"role":"assistant","tool_calls":[{"id":"","type":"function","function":{"name":%q,"arguments":%q}}]}`, tc.Name, strings.Join(tc.Args, "")), ""))
				continue
			}
			role := ""
			if i == 0 {
				role = `"role":"assistant","content":null,`
			}
			events = append(events, chunk(fmt.Sprintf(`{%s"tool_calls":[{"index":%d,"id":%q,"type":"function","function":{"name":%q,"arguments":""}}],"refusal":null}`, role, i, tc.ID, tc.Name), ""))
			for _, a := range tc.Args {
				events = append(events, chunk(fmt.Sprintf(`{"tool_calls":[{"index":%d,"function":{"arguments":%s}}]}`, i, jsonString(a)), ""))
			}
		}
	case s.Flavor == DeepSeek:
		events = append(events, chunk(`{"role":"assistant","content":null,"reasoning_content":""}`, ""))
		for _, r := range rep.Reasoning {
			events = append(events, chunk(`{"content":null,"reasoning_content":`+jsonString(r)+`}`, ""))
		}
	default:
		events = append(events, chunk(`{"role":"assistant","content":"","refusal":null}`, ""))
	}
	for _, c := range rep.Content {
		if s.Flavor == DeepSeek {
			events = append(events, chunk(`{"content":`+jsonString(c)+`,"reasoning_content":null}`, ""))
		} else {
			events = append(events, chunk(`{"content":`+jsonString(c)+`}`, ""))
		}
	}
	finish := "stop"
	if len(rep.ToolCalls) > 0 && s.Flavor != GeminiCompat {
		finish = "tool_calls" // Gemini's compat endpoint says "stop" here
	}
	usage := ""
	if !rep.NoUsage {
		usage = s.usageJSON(rep.Usage)
	}
	switch {
	case s.Flavor == DeepSeek && usage != "":
		// DeepSeek: finish and usage in one chunk, choices not empty.
		events = append(events, strings.Replace(chunk(`{"content":"","reasoning_content":null}`, finish), `"usage":null`, `"usage":`+usage, 1))
	default:
		events = append(events, chunk(`{}`, finish))
		if includeUsage && usage != "" {
			events = append(events, head+`[],"usage":`+usage+`}`)
		}
	}
	if rep.ErrorEvent {
		events = append(events[:len(events)/2], `{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}`)
	}

	// gone reports a client that went away, whether the fake noticed it
	// while stalled, dripping or writing.
	gone := func() { s.cancelled <- struct{}{} }
	switch rep.FailFirst {
	case "error":
		fmt.Fprint(w, `data: {"error":{"message":"The server is overloaded.","type":"server_error","param":null,"code":null}}`+"\n\n")
		_ = rc.Flush()
		return
	case "cut":
		s.cut(w)
		return
	}
	for i, ev := range events {
		if rep.StallAfter > 0 && i == rep.StallAfter || rep.CutAfter > 0 && i == rep.CutAfter {
			if rep.CutAfter > 0 {
				s.cut(w)
				return
			}
			<-ctx.Done()
			gone()
			return
		}
		if rep.Delay > 0 {
			select {
			case <-time.After(rep.Delay):
			case <-ctx.Done():
				gone()
				return
			}
		}
		if s.Flavor == DeepSeek && i%4 == 0 {
			fmt.Fprint(w, ": keep-alive\n\n")
		}
		fmt.Fprintf(w, "data: %s\n\n", ev)
		if err := rc.Flush(); err != nil {
			gone()
			return
		}
	}
	if !rep.ErrorEvent {
		fmt.Fprint(w, "data: [DONE]\n\n")
		_ = rc.Flush()
	}
}

// cut drops the connection mid-body, as a crashed upstream would: the
// server aborts without the chunked terminator.
func (s *Server) cut(w http.ResponseWriter) {
	_ = http.NewResponseController(w).Flush()
	panic(http.ErrAbortHandler)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// pause waits d (a Reply's Delay before an event) and reports whether
// the client is still there.
func pause(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	select {
	case <-time.After(d):
		return true
	case <-ctx.Done():
		return false
	}
}
