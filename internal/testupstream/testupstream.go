// Package testupstream provides httptest servers that speak the real wire
// formats of the upstream providers (shared/reference/wire-formats.md):
// OpenAI (tool-call deltas, obfuscation, the usage chunk), DeepSeek
// (reasoning_content, ": keep-alive" comments, blank lines before JSON
// bodies, usage inside the finish chunk) and Gemini's OpenAI-compatibility
// endpoint (tool-call deltas without index, "stop" for tool calls, errors as
// a JSON array). Replies are scripted and faults controllable: error
// statuses, stalls, slow drips and cut connections.
package testupstream

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Flavor selects a provider's wire format.
type Flavor int

// The flavors.
const (
	OpenAI Flavor = iota
	DeepSeek
	GeminiCompat
)

// ToolCall is a scripted tool call; Args are the streamed argument
// fragments (joined in non-streamed replies).
type ToolCall struct {
	ID, Name string
	Args     []string
}

// Usage is the usage a reply reports, in OpenAI's terms: Cached and
// CacheWrite are part of Prompt, Reasoning part of Completion. CacheWrite
// is sent by the Anthropic flavor (cache_creation_input_tokens) only.
type Usage struct {
	Prompt, Completion, Reasoning, Cached, CacheWrite int
}

// Reply scripts one response.
type Reply struct {
	// Status >= 400 answers with the flavor's error body (ErrorBody if set).
	Status     int
	ErrorBody  string
	RetryAfter string
	Content    []string // content deltas
	Reasoning  []string // reasoning_content deltas (DeepSeek)
	ToolCalls  []ToolCall
	// Usage, or none when NoUsage (some vendors never report it).
	Usage   Usage
	NoUsage bool
	// Faults.
	Delay      time.Duration // before each event
	StallAfter int           // > 0: after this many events send nothing until the client goes away
	CutAfter   int           // > 0: after this many events drop the connection without [DONE]
	ErrorEvent bool          // end the stream with an in-stream {"error":…} event
	// FailFirst fails a 200 stream before its first event: "error" sends
	// the in-stream error event first (also on the Responses stream), "cut"
	// drops the connection (OpenAI flavors; "cut" also Anthropic's stream).
	FailFirst string
	// StallHeaders (OpenAI chat path) sends no headers until the client
	// goes away.
	StallHeaders bool
	// GeminiFinishInLast (GeminiNative flavor) puts the finish reason in
	// the event of the last text or function calls, with no closing
	// event of its own; GeminiNoResponseID leaves responseId out of every
	// event. Both are as Gemini 2.x streams a function call.
	GeminiFinishInLast, GeminiNoResponseID bool
	// RawEvents (Anthropic flavor, and the OpenAI flavor's Responses
	// stream) are whole SSE frames ("event: x\ndata: {…}\n\n") sent right
	// after message_start (response.in_progress), as new event types
	// would be.
	RawEvents []string
}

// Request is what the fake received.
type Request struct {
	Method, Path     string
	Header           http.Header
	Body             []byte
	ContentLength    int64    // -1 when the body came chunked
	TransferEncoding []string // e.g. ["chunked"]
}

// Server is a fake upstream. Configure Key and Default before requests;
// Enqueue scripts the next replies.
type Server struct {
	*httptest.Server
	Flavor Flavor
	Key    string // expected bearer key; empty accepts any
	// Bearer accepts the bearer tokens of the Azure (Entra ID) and Vertex
	// flavors; Deployments maps the Azure flavor's deployments to models
	// (nil: any deployment, named like its model).
	Bearer      func(token string) bool
	Deployments map[string]string
	// EndLate delays the end of every answer's body: the handler flushes
	// what it wrote (a stream's last event) and returns this much later,
	// so HTTP/1.1's last chunk comes apart from the last event, as from
	// an upstream that finishes work of its own after its stream.
	EndLate time.Duration

	counted ConnCounter // connections accepted (Conns), and closed since (Closed)

	mu        sync.Mutex
	replies   []Reply
	def       Reply
	requests  []Request
	cancelled chan struct{}
	keyed     map[string]*keyScript // per-key scripts (keys.go)
	models    *ModelList            // the model list (models.go); nil: 404
}

// New starts a fake of flavor f that answers "Hello world" by default and
// closes with the test.
func New(t testing.TB, f Flavor) *Server {
	s := Start(f)
	t.Cleanup(s.Close)
	return s
}

// Start starts a fake of flavor f; the caller closes it.
func Start(f Flavor) *Server {
	s := &Server{Flavor: f, Key: "sk-upstream-test", cancelled: make(chan struct{}, 64),
		def: Reply{Content: []string{"Hello", " world"}, Usage: Usage{Prompt: 9, Completion: 2}}}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.counted.Count(s.Config)
	s.Server.Start()
	return s
}

// Conns is the number of connections the fake has accepted.
func (s *Server) Conns() int64 { return s.counted.Opened() }

// Closed is the number of its connections that have closed: a client
// that closed a connection instead of keeping it for its next request.
func (s *Server) Closed() int64 { return s.counted.Closed() }

// ConnCounter counts the connections an http.Server accepted and those
// that ended since (closed or hijacked): what a test of a client's
// connection reuse reads.
type ConnCounter struct{ opened, closed atomic.Int64 }

// Count makes srv, not yet started, report its connections to c (it
// takes srv's ConnState).
func (c *ConnCounter) Count(srv *http.Server) {
	srv.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			c.opened.Add(1)
		case http.StateClosed, http.StateHijacked:
			c.closed.Add(1)
		}
	}
}

// Opened is the number of connections accepted.
func (c *ConnCounter) Opened() int64 { return c.opened.Load() }

// Closed is the number of those that have ended.
func (c *ConnCounter) Closed() int64 { return c.closed.Load() }

// BaseURL is the URL to configure the bridge's provider with.
func (s *Server) BaseURL() string {
	switch s.Flavor {
	case GeminiCompat:
		return s.URL // the bridge appends /openai
	case GeminiNative:
		return s.URL + "/v1beta"
	case Bedrock, Azure, Vertex:
		return s.URL // the provider appends its path (Bedrock /model/{modelId}/…; the resource or API host)
	}
	return s.URL + "/v1"
}

// SetDefault sets the reply used when none is queued.
func (s *Server) SetDefault(r Reply) { s.mu.Lock(); s.def = r; s.mu.Unlock() }

// Enqueue queues replies for the next requests, in order.
func (s *Server) Enqueue(r ...Reply) { s.mu.Lock(); s.replies = append(s.replies, r...); s.mu.Unlock() }

// Requests returns what the fake has received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Cancelled receives once for each stream whose client went away before
// the fake finished it (noticed while stalled, dripping or writing).
func (s *Server) Cancelled() <-chan struct{} { return s.cancelled }

func (s *Server) next() Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.replies) > 0 {
		r := s.replies[0]
		s.replies = s.replies[1:]
		return r
	}
	return s.def
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if s.EndLate > 0 {
		defer func() {
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			time.Sleep(s.EndLate)
		}()
	}
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body,
		ContentLength: r.ContentLength, TransferEncoding: r.TransferEncoding})
	s.mu.Unlock()
	if s.serveModelList(w, r) { // models.go
		return
	}
	switch s.Flavor {
	case GeminiNative:
		s.serveGemini(w, r, body)
		return
	case Anthropic:
		s.serveAnthropic(w, r, body)
		return
	case Bedrock:
		s.serveBedrock(w, r, body)
		return
	case Azure:
		s.serveAzure(w, r, body)
		return
	case Vertex:
		s.serveVertex(w, r, body)
		return
	}
	if s.Flavor == OpenAI && s.serveOpenAIExtra(w, r, body) {
		return // /v1/responses and /v1/embeddings (responses.go)
	}
	want := "/v1/chat/completions"
	if s.Flavor == GeminiCompat {
		want = "/openai/chat/completions"
	}
	if r.Method != http.MethodPost || r.URL.Path != want {
		s.writeError(w, Reply{Status: 404})
		return
	}
	if !s.keyAccepted(r) {
		s.writeError(w, Reply{Status: 401})
		return
	}
	var req struct {
		Model         string `json:"model"`
		Stream        bool   `json:"stream"`
		StreamOptions *struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		s.writeError(w, Reply{Status: 400, ErrorBody: `{"error":{"message":"We could not parse the JSON body of your request.","type":"invalid_request_error","param":null,"code":null}}`})
		return
	}
	if msg := openAIFormatError(s.Flavor, body); msg != "" {
		s.writeError(w, Reply{Status: 400, ErrorBody: fmt.Sprintf(`{"error":{"message":%q,"type":"invalid_request_error","param":"response_format","code":null}}`, msg)})
		return
	}
	rep := s.nextFor(bearer(r))
	if rep.StallHeaders {
		<-r.Context().Done() // nothing at all until the client gives up
		s.cancelled <- struct{}{}
		return
	}
	if rep.Status >= 400 {
		s.writeError(w, rep)
		return
	}
	if req.Stream {
		s.stream(w, r.Context(), req.Model, req.StreamOptions != nil && req.StreamOptions.IncludeUsage, rep)
		return
	}
	s.complete(w, req.Model, rep)
}

// writeError answers in the flavor's error format.
func (s *Server) writeError(w http.ResponseWriter, rep Reply) {
	if rep.RetryAfter != "" {
		w.Header().Set("Retry-After", rep.RetryAfter)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(rep.Status)
	if rep.ErrorBody != "" {
		io.WriteString(w, rep.ErrorBody)
		return
	}
	if s.Flavor == GeminiCompat {
		status := map[int]string{400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}[rep.Status]
		fmt.Fprintf(w, `[{"error":{"code":%d,"message":"fake gemini error %d","status":%q}}]`, rep.Status, rep.Status, status)
		return
	}
	code := map[int]string{401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded", 402: "invalid_request_error"}[rep.Status]
	typ := "invalid_request_error"
	if rep.Status == 429 {
		typ = "requests"
	} else if rep.Status >= 500 {
		typ = "server_error"
	}
	fmt.Fprintf(w, `{"error":{"message":"fake upstream error %d","type":%q,"param":null,"code":%q}}`, rep.Status, typ, code)
}

func (s *Server) id() string {
	if s.Flavor == DeepSeek {
		return "33be18fc-3842-486c-8c29-dd8e578f7f20"
	}
	return "chatcmpl-Dx0XpqH8w09uBXwq1zFGYdETjtnEl"
}

func (s *Server) usageJSON(u Usage) string {
	out := fmt.Sprintf(`{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d,"prompt_tokens_details":{"cached_tokens":%d,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":%d,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}`,
		u.Prompt, u.Completion, u.Prompt+u.Completion, u.Cached, u.Reasoning)
	if s.Flavor == DeepSeek {
		out += fmt.Sprintf(`,"prompt_cache_hit_tokens":%d,"prompt_cache_miss_tokens":%d`, u.Cached, u.Prompt-u.Cached)
	}
	return out + "}"
}

func (s *Server) complete(w http.ResponseWriter, model string, rep Reply) {
	w.Header().Set("Content-Type", "application/json")
	if s.Flavor == DeepSeek {
		// DeepSeek keeps a waiting non-stream request open with blank lines.
		w.WriteHeader(200)
		io.WriteString(w, "\n\n")
		http.NewResponseController(w).Flush()
	}
	msg := map[string]any{"role": "assistant", "content": strings.Join(rep.Content, ""), "refusal": nil, "annotations": []any{}}
	finish := "stop"
	if len(rep.ToolCalls) > 0 {
		calls := []map[string]any{}
		for _, tc := range rep.ToolCalls {
			id := tc.ID
			if s.Flavor == GeminiCompat {
				id = "" // the compat endpoint may send empty ids
			}
			calls = append(calls, map[string]any{"id": id, "type": "function", "function": map[string]any{"name": tc.Name, "arguments": strings.Join(tc.Args, "")}})
		}
		msg["tool_calls"] = calls
		msg["content"] = nil
		finish = "tool_calls"
	}
	if len(rep.Reasoning) > 0 {
		msg["reasoning_content"] = strings.Join(rep.Reasoning, "")
	}
	resp := map[string]any{"id": s.id(), "object": "chat.completion", "created": 1742905314, "model": model,
		"system_fingerprint": "fp_bf4a46b2e5", "service_tier": "default",
		"choices": []any{map[string]any{"index": 0, "message": msg, "logprobs": nil, "finish_reason": finish}}}
	if !rep.NoUsage {
		resp["usage"] = json.RawMessage(s.usageJSON(rep.Usage))
	}
	if s.Flavor == Azure {
		resp["prompt_filter_results"] = json.RawMessage(azurePromptFilter)
		resp["choices"].([]any)[0].(map[string]any)["content_filter_results"] = json.RawMessage(azureContentFilter)
	}
	json.NewEncoder(w).Encode(resp)
}
