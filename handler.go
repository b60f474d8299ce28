package llmbridge

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/llmbridge/llmbridge/internal/openai"
	openaiprov "github.com/llmbridge/llmbridge/internal/provider/openai"
	"github.com/tidwall/gjson"
)

// ServeHTTP serves the OpenAI-compatible API:
//
//	POST /v1/chat/completions (and /chat/completions)
//	GET  /v1/models (and /models)
//	GET  /v1/models/{provider}/{model}
//	GET  /healthz (no authentication)
//
// Every response carries X-Request-Id (the client's, if it sent a sane one).
// Every error has the OpenAI shape.
func (b *Bridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rid := requestID(r.Header.Get("X-Request-Id"))
	w.Header().Set("X-Request-Id", rid)
	if b.cfg.cors != nil && b.cors(w, r) {
		return // a preflight, answered
	}
	path := r.URL.Path
	if path == "/healthz" {
		if !allow(w, r, http.MethodGet) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`+"\n")
		return
	}
	if path == "/v1/chat/completions" || path == "/chat/completions" {
		if allow(w, r, http.MethodPost) {
			b.serveChat(w, r, rid)
		}
		return
	}
	if _, ok := b.authenticate(r); !ok {
		writeError(w, errUnauthorized())
		return
	}
	switch {
	case path == "/v1/models" || path == "/models":
		if allow(w, r, http.MethodGet) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(b.modelList)
		}
	case strings.HasPrefix(path, "/v1/models/") || strings.HasPrefix(path, "/models/"):
		if allow(w, r, http.MethodGet) {
			b.serveModel(w, path[strings.Index(path, "/models/")+len("/models/"):])
		}
	default:
		writeError(w, &APIError{Status: http.StatusNotFound, Type: ErrorTypeInvalidRequest, Code: "unknown_url",
			Message: fmt.Sprintf("Invalid URL (%s %s)", r.Method, path)})
	}
}

// cors adds the CORS headers for an allowed Origin and answers a preflight
// (reporting true) without authentication.
func (b *Bridge) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	if !b.cfg.cors["*"] && !b.cfg.cors[origin] {
		return false
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Expose-Headers", "X-Request-Id, Retry-After")
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	// The OpenAI SDKs send x-stainless-* and other headers; allow what the
	// browser asks for (header names only, nothing is echoed into a body).
	if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
		h.Set("Access-Control-Allow-Headers", req)
	}
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
	return true
}

func allow(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method || method == http.MethodGet && r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", method)
	writeError(w, &APIError{Status: http.StatusMethodNotAllowed, Type: ErrorTypeInvalidRequest, Code: "method_not_allowed",
		Message: fmt.Sprintf("Method %s is not allowed on %s; use %s.", r.Method, r.URL.Path, method)})
	return false
}

func errUnauthorized() *APIError {
	return &APIError{Status: http.StatusUnauthorized, Type: ErrorTypeInvalidRequest, Code: "invalid_api_key",
		Message: "Missing or invalid access key: send Authorization: Bearer <key> or x-api-key: <key>."}
}

// authenticate checks the client's key against every access key in
// constant time (comparing SHA-256 digests, so length leaks nothing either)
// and returns the fingerprint of the one that matched. With no access keys
// configured, every request passes anonymously.
func (b *Bridge) authenticate(r *http.Request) (keyID string, ok bool) {
	if len(b.keys) == 0 {
		return "", true
	}
	key := ""
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		key = strings.TrimSpace(h[7:])
	} else if h := r.Header.Get("X-Api-Key"); h != "" {
		key = strings.TrimSpace(h)
	}
	if key == "" {
		return "", false
	}
	sum := sha256.Sum256([]byte(key))
	match := -1
	for i := range b.keys {
		if subtle.ConstantTimeCompare(sum[:], b.keys[i][:]) == 1 {
			match = i // no early exit: every key is compared
		}
	}
	if match < 0 {
		return "", false
	}
	return b.keyIDs[match], true
}

// requestID returns the client's id when it is short and printable,
// otherwise a new random one.
func requestID(in string) string {
	if n := len(in); n > 0 && n <= 128 {
		ok := true
		for i := 0; i < n && ok; i++ {
			c := in[i]
			ok = c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.' || c == ':'
		}
		if ok {
			return in
		}
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "req_" + hex.EncodeToString(b[:])
}

func (b *Bridge) serveModel(w http.ResponseWriter, id string) {
	u, upModel, aerr := b.route(id)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	body, _ := openai.Marshal(Model{ID: u.name + "/" + upModel, Object: "model", Created: b.created, OwnedBy: u.name})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// envelope is what the handler reads from a request body without decoding
// it: enough to validate, route and choose streaming.
type envelope struct {
	model        string
	stream       bool
	includeUsage bool
}

// parseEnvelope validates the top level of a request body: valid JSON, an
// object, "model" a non-empty string, "messages" a non-empty array,
// "stream" a boolean and "stream_options" an object when present, and none
// of these given twice.
func parseEnvelope(body []byte) (envelope, *APIError) {
	var env envelope
	bad := func(param, code, format string, args ...any) (envelope, *APIError) {
		return env, &APIError{Status: http.StatusBadRequest, Type: ErrorTypeInvalidRequest, Param: param, Code: code, Message: fmt.Sprintf(format, args...)}
	}
	if !json.Valid(body) {
		return bad("", "invalid_json", "We could not parse the JSON body of your request: it is not valid JSON.")
	}
	root := gjson.ParseBytes(body)
	if !root.IsObject() {
		return bad("", "invalid_request", "The request body must be a JSON object.")
	}
	var model, messages, stream, opts gjson.Result
	seen := map[string]bool{}
	dup := ""
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "model", "messages", "stream", "stream_options":
			if seen[k.Str] {
				dup = k.Str
				return false
			}
			seen[k.Str] = true
		}
		switch k.Str {
		case "model":
			model = v
		case "messages":
			messages = v
		case "stream":
			stream = v
		case "stream_options":
			opts = v
		}
		return true
	})
	switch {
	case dup != "":
		return bad(dup, "invalid_request", "The member %q is given more than once.", dup)
	case !model.Exists():
		return bad("model", "missing_required_parameter", "You must provide a model parameter.")
	case model.Type != gjson.String:
		return bad("model", "invalid_type", "model must be a string.")
	case model.Str == "":
		return bad("model", "invalid_value", "model must not be empty.")
	case !messages.Exists():
		return bad("messages", "missing_required_parameter", "Missing required parameter: 'messages'.")
	case !messages.IsArray():
		return bad("messages", "invalid_type", "messages must be an array.")
	case len(messages.Array()) == 0:
		return bad("messages", "invalid_value", "messages must contain at least one message.")
	case stream.Exists() && stream.Type != gjson.True && stream.Type != gjson.False && stream.Type != gjson.Null:
		return bad("stream", "invalid_type", "stream must be a boolean.")
	case opts.Exists() && opts.Type != gjson.Null && !opts.IsObject():
		return bad("stream_options", "invalid_type", "stream_options must be an object.")
	}
	env.model = model.Str
	env.stream = stream.Type == gjson.True
	env.includeUsage = opts.Get("include_usage").Type == gjson.True
	return env, nil
}

// readBody reads the request body up to the limit.
func (b *Bridge) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, b.cfg.maxBodyBytes)
	var buf bytes.Buffer
	if n := r.ContentLength; n > 0 && n <= b.cfg.maxBodyBytes {
		buf.Grow(int(n) + 1)
	}
	_, err := buf.ReadFrom(body)
	return buf.Bytes(), err
}

// decodeRequest decodes a full typed request for providers without raw
// pass-through, naming the offending member in the error.
func decodeRequest(body []byte) (*ChatRequest, *APIError) {
	var req ChatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		msg := err.Error()
		param := ""
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			param = te.Field
			msg = fmt.Sprintf("Invalid type for '%s': expected %s, got %s.", te.Field, te.Type, te.Value)
		}
		return nil, &APIError{Status: http.StatusBadRequest, Type: ErrorTypeInvalidRequest, Code: "invalid_type", Param: param, Message: msg}
	}
	return &req, nil
}

// serveChat handles one chat completion request. Whatever happens, it ends
// with exactly one usage record (the deferred finish).
func (b *Bridge) serveChat(w http.ResponseWriter, r *http.Request, rid string) {
	c := b.newCall(r.Context(), rid)
	c.rec.Method, c.rec.Path = r.Method, r.URL.Path
	defer b.finish(c)
	defer c.end()
	fail := func(e *APIError) {
		c.note(e)
		if e.Status != StatusClientClosedRequest {
			writeError(w, e)
		}
	}
	keyID, ok := b.authenticate(r)
	if !ok {
		fail(errUnauthorized())
		return
	}
	c.rec.KeyID = keyID
	body, err := b.readBody(w, r)
	if err != nil {
		fail(asAPIError(r.Context(), "", err))
		return
	}
	env, aerr := parseEnvelope(body)
	if aerr != nil {
		fail(aerr)
		return
	}
	c.rec.Model, c.rec.Stream = env.model, env.stream
	up, upModel, aerr := b.route(env.model)
	if aerr != nil {
		fail(aerr)
		return
	}
	c.route(up, env.model, upModel, env.stream, env.includeUsage)
	c.body = body
	var hreq *http.Request
	if up.raw != nil {
		hreq, err = up.raw.NewRawRequest(c.ctx, body, upModel, env.stream)
	} else {
		if c.req, aerr = decodeRequest(body); aerr != nil {
			fail(aerr)
			return
		}
		c.req.Model = upModel
		hreq, err = up.p.NewRequest(c.ctx, c.req)
	}
	if err != nil {
		var ae *APIError
		if !errors.As(err, &ae) { // a provider's own verdict (e.g. 400) stands
			ae = &APIError{Status: http.StatusInternalServerError, Type: ErrorTypeServer, Code: "request_build_failed",
				Message: fmt.Sprintf("could not build the upstream request for %s: %v", up.name, err), Err: err}
		}
		fail(ae)
		return
	}
	resp, err := up.send(c.ctx, hreq)
	if err != nil {
		fail(c.fail(err))
		return
	}
	c.watchIdle(resp)
	if env.stream {
		b.serveStream(w, resp, c)
		return
	}
	var out []byte
	if up.raw != nil {
		out, err = openaiprov.ReadBody(resp)
		resp.Body.Close()
		if u := gjson.GetBytes(out, "usage"); err == nil && u.IsObject() {
			c.rawUsage = []byte(u.Raw)
		} else if err == nil {
			c.text = openai.AppendMessageText(c.text, out)
		}
	} else {
		var cr *ChatResponse
		if cr, err = up.p.DecodeResponse(resp); err == nil {
			c.usage = cr.Usage
			if cr.Usage == nil {
				for _, ch := range cr.Choices {
					c.text = appendMessage(c.text, &ch.Message)
				}
			}
			out, err = openai.Marshal(cr)
		}
	}
	if err != nil {
		fail(c.fail(err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

func (b *Bridge) serveStream(w http.ResponseWriter, resp *http.Response, c *call) {
	sw := newStreamWriter(w, b.cfg.keepAlive)
	defer sw.close()
	resp.Body = &flushingBody{ReadCloser: resp.Body, sw: sw}
	var err error
	if c.up.raw != nil {
		err = relayRaw(sw, resp.Body, c)
		resp.Body.Close()
	} else {
		err = relayTyped(sw, c.up.p.DecodeStream(resp), c)
	}
	c.first = sw.firstEvent()
	switch {
	case err == nil:
	case errors.Is(err, errReported):
		c.rec.Error = "upstream sent an error event"
		c.rec.Status = http.StatusBadGateway
		if !c.first.IsZero() {
			c.rec.Status = http.StatusOK
		}
	default:
		committed := sw.committed()
		e := c.fail(err)
		if committed && e.Status != StatusClientClosedRequest {
			c.rec.Status = http.StatusOK
		}
		if c.parent.Err() == nil {
			sw.fail(e)
		}
	}
}
