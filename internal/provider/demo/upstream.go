package demo

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/sse"
	"github.com/llmbridge/llmbridge/internal/tokens"
)

// maxRequestBytes bounds a request body the upstream reads.
const maxRequestBytes = 32 << 20

// Upstream is the demo's upstream: an http.Handler serving POST
// …/chat/completions in OpenAI's Chat Completions wire format (any path
// ending so; everything else is 404). It answers every request
// deterministically (see the package documentation): the reply's text is
// the last user message, sent whole or, for "stream": true, as
// chat.completion.chunk events one word each, Delay before every word,
// ending with a finish chunk, the usage chunk when
// stream_options.include_usage is set, and [DONE]. Usage counts the prompt
// as OpenAI does (Counter.Prompt) and the reply's text, or a tool call's
// name and arguments, with the model's tiktoken encoding (o200k_base for
// the demo's names). A malformed body is a 400 in OpenAI's error shape.
//
// An Upstream is immutable after NewUpstream and safe for concurrent use.
type Upstream struct {
	key    string
	delay  time.Duration
	tokens Counter
	now    func() time.Time
}

// NewUpstream returns an Upstream that requires "Authorization: Bearer
// key" (any request when key is empty), waits delay before each streamed
// word and counts usage with counter (a new one when nil).
func NewUpstream(key string, delay time.Duration, counter Counter) *Upstream {
	if counter == nil {
		counter = tokens.NewCounter()
	}
	return &Upstream{key: key, delay: delay, tokens: counter, now: time.Now}
}

// ServeHTTP answers one request; see Upstream.
func (u *Upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/chat/completions") {
		openai.WriteError(w, openai.Errorf(http.StatusNotFound, openai.TypeInvalidRequest, "unknown_url", "Invalid URL (%s %s)", r.Method, r.URL.Path))
		return
	}
	if u.key != "" {
		got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(u.key))
		if subtle.ConstantTimeCompare(a[:], b[:]) != 1 {
			openai.WriteError(w, openai.Errorf(http.StatusUnauthorized, openai.TypeInvalidRequest, "invalid_api_key", "Incorrect API key provided to the demo upstream."))
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	if err != nil {
		openai.WriteError(w, openai.Errorf(http.StatusRequestEntityTooLarge, openai.TypeInvalidRequest, "request_too_large", "The request body is too large."))
		return
	}
	req, aerr := parseRequest(body)
	if aerr != nil {
		openai.WriteError(w, aerr)
		return
	}
	if aerr := scriptedError(req.Model); aerr != nil {
		openai.WriteError(w, aerr)
		return
	}
	rep := answer(req)
	c := completion{id: responseID(body), created: u.now().Unix(), model: req.Model, rep: rep, usage: u.usage(req, rep)}
	if req.Stream {
		c.stream(w, r, u.delay, req.IncludeUsage())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	out, _ := openai.Marshal(c.response())
	_, _ = w.Write(out)
}

// parseRequest decodes a request body, refusing what no model could answer.
func parseRequest(body []byte) (*openai.ChatRequest, *openai.APIError) {
	var req openai.ChatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, openai.BadRequest("", "We could not parse the JSON body of your request: %v", err)
	}
	if req.Model == "" {
		return nil, openai.BadRequest("model", "you must provide a model parameter")
	}
	if len(req.Messages) == 0 {
		return nil, openai.BadRequest("messages", "messages must be a non-empty array")
	}
	if _, _, err := req.ToolChoiceMode(); err != nil {
		return nil, err.(*openai.APIError)
	}
	return &req, nil
}

// scriptedError is the error a scripted model answers with, or nil.
func scriptedError(model string) *openai.APIError {
	switch model {
	case ModelError429:
		return &openai.APIError{Status: http.StatusTooManyRequests, Type: "requests", Code: "rate_limit_exceeded", RetryAfter: "1",
			Message: "Rate limit reached for demo/" + ModelError429 + ": this demo model always answers 429 so you can see how your client handles it (the bridge retries it first, see LLMBRIDGE_RETRIES)."}
	case ModelError500:
		return &openai.APIError{Status: http.StatusInternalServerError, Type: openai.TypeServer,
			Message: "The server had an error while processing your request: this demo model (demo/" + ModelError500 + ") always answers 500 so you can see how your client handles it."}
	}
	return nil
}

// responseID is a stable id for a request body.
func responseID(body []byte) string {
	sum := sha256.Sum256(body)
	return "chatcmpl-demo-" + hex.EncodeToString(sum[:9])
}

func (u *Upstream) usage(req *openai.ChatRequest, rep reply) *openai.Usage {
	prompt, _ := u.tokens.Prompt(req.Model, req)
	var completion int
	if rep.call != nil {
		completion = u.tokens.Text(req.Model, rep.call.Function.Name) + u.tokens.Text(req.Model, rep.call.Function.Arguments)
	} else {
		completion = u.tokens.Text(req.Model, rep.text)
	}
	return &openai.Usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion}
}

// completion is one answer, written whole or as a stream.
type completion struct {
	id      string
	created int64
	model   string
	rep     reply
	usage   *openai.Usage
}

func (c *completion) finishReason() string {
	if c.rep.call != nil {
		return "tool_calls"
	}
	return "stop"
}

func (c *completion) response() *openai.ChatResponse {
	msg := openai.Message{Role: "assistant", Content: openai.TextContent(c.rep.text)}
	if c.rep.call != nil {
		msg.Content = openai.NullContent()
		msg.ToolCalls = []openai.ToolCall{*c.rep.call}
	}
	return &openai.ChatResponse{ID: c.id, Object: "chat.completion", Created: c.created, Model: c.model,
		Choices: []openai.Choice{{Index: 0, Message: msg, FinishReason: c.finishReason()}}, Usage: c.usage}
}

func (c *completion) chunk(d openai.Delta, finish *string) *openai.ChatChunk {
	return &openai.ChatChunk{ID: c.id, Object: "chat.completion.chunk", Created: c.created, Model: c.model,
		Choices: []openai.ChunkChoice{{Index: 0, Delta: d, FinishReason: finish}}}
}

// deltas are the stream's choice deltas before the finish chunk: the
// role, then one word each, or a tool call's header and then its
// arguments one word each.
func (c *completion) deltas() []openai.Delta {
	if call := c.rep.call; call != nil {
		zero := 0
		out := []openai.Delta{{Role: "assistant", ToolCalls: []openai.ToolCall{{Index: &zero, ID: call.ID, Type: call.Type,
			Function: openai.FunctionCall{Name: call.Function.Name}}}}}
		for _, w := range words(call.Function.Arguments) {
			out = append(out, openai.Delta{ToolCalls: []openai.ToolCall{{Index: &zero, Function: openai.FunctionCall{Arguments: w}}}})
		}
		return out
	}
	empty := ""
	out := []openai.Delta{{Role: "assistant", Content: &empty}}
	for _, w := range words(c.rep.text) {
		out = append(out, openai.Delta{Content: &w})
	}
	return out
}

// stream writes the answer as server-sent events, flushing each, and
// stops when the client goes away.
func (c *completion) stream(w http.ResponseWriter, r *http.Request, delay time.Duration, includeUsage bool) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	fl := http.NewResponseController(w)
	send := func(ch *openai.ChatChunk) bool {
		b, err := openai.Marshal(ch)
		return err == nil && sse.WriteData(w, b) == nil && fl.Flush() == nil
	}
	var timer *time.Timer
	for i, d := range c.deltas() {
		if i > 0 && delay > 0 {
			if timer == nil {
				timer = time.NewTimer(delay)
				defer timer.Stop()
			} else {
				timer.Reset(delay)
			}
			select {
			case <-timer.C:
			case <-r.Context().Done():
				return
			}
		}
		if !send(c.chunk(d, nil)) {
			return
		}
	}
	finish := c.finishReason()
	if !send(c.chunk(openai.Delta{}, &finish)) {
		return
	}
	if includeUsage {
		u := c.chunk(openai.Delta{}, nil)
		u.Choices, u.Usage = []openai.ChunkChoice{}, c.usage
		if !send(u) {
			return
		}
	}
	_ = sse.WriteDone(w)
	_ = fl.Flush()
}
