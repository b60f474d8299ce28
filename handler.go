package llmbridge

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/reqbody"
)

// ServeHTTP serves the OpenAI-compatible API:
//
//	POST /v1/chat/completions (and /chat/completions)
//	POST /v1/messages, /v1/messages/count_tokens (Anthropic's Messages API)
//	POST /v1/responses (and /responses; OpenAI's Responses API)
//	POST /v1/embeddings (and /embeddings)
//	GET  /v1/models (and /models; Anthropic's shape with anthropic-version)
//	GET  /v1/models/{provider}/{model}
//	GET  /healthz (no authentication)
//
// Every response carries X-Request-Id (the client's, if it sent a sane one).
// Every error has the client format's shape (OpenAI's for chat, responses,
// embeddings and models, Anthropic's for messages).
func (b *Bridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Request-Id", requestID(r.Header.Get("X-Request-Id")))
	if b.cfg.hosts != nil && !b.cfg.hosts(r.Host) {
		b.wrongHost(w, r)
		return
	}
	if b.cfg.cors != nil && b.cors(w, r) {
		return // a preflight, answered
	}
	b.mux.ServeHTTP(w, r)
}

// wrongHost answers a request for a Host WithHosts refuses, in the error
// shape of the format its path names.
func (b *Bridge) wrongHost(w http.ResponseWriter, r *http.Request) {
	write := writeError
	if strings.HasSuffix(strings.TrimSuffix(r.URL.Path, "/count_tokens"), "/messages") {
		write = anthropicFormat{}.writeError
	}
	write(w, &APIError{Status: http.StatusForbidden, Type: ErrorTypeInvalidRequest, Code: "host_not_allowed",
		Message: "This bridge answers only requests addressed to localhost or a loopback address: it runs without access keys."})
}

// routes builds the handler's mux: each client format's patterns, the
// model list, health, and OpenAI-shaped 405 and 404 answers (ServeMux's
// own are plain text).
func (b *Bridge) routes(formats ...clientFormat) *http.ServeMux {
	mux := http.NewServeMux()
	onlyIn := func(method string, write func(http.ResponseWriter, *APIError)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", method)
			write(w, &APIError{Status: http.StatusMethodNotAllowed, Type: ErrorTypeInvalidRequest, Code: "method_not_allowed",
				Message: fmt.Sprintf("Method %s is not allowed on %s; use %s.", r.Method, r.URL.Path, method)})
		}
	}
	only := func(method string) http.HandlerFunc { return onlyIn(method, writeError) }
	for _, f := range formats {
		for _, p := range f.patterns() {
			mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) { b.serve(w, r, f) })
			method, path, _ := strings.Cut(p, " ")
			mux.HandleFunc(path, onlyIn(method, f.writeError)) // in the format's own error shape
		}
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`+"\n")
	})
	mux.HandleFunc("/healthz", only(http.MethodGet))
	for _, root := range []string{"/v1/models", "/models"} {
		mux.HandleFunc("GET "+root, b.authorized(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Anthropic-Version") != "" {
				b.serveAnthropicModels(w, r) // an Anthropic SDK asks
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(*b.modelList.Load())
		}))
		mux.HandleFunc("GET "+root+"/{id...}", b.authorized(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Anthropic-Version") != "" {
				b.serveAnthropicModel(w, r.PathValue("id"))
				return
			}
			b.serveModel(w, r.PathValue("id"))
		}))
		mux.HandleFunc(root, b.authorized(only(http.MethodGet)))
		mux.HandleFunc(root+"/", b.authorized(only(http.MethodGet)))
	}
	mux.HandleFunc("/", b.authorized(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &APIError{Status: http.StatusNotFound, Type: ErrorTypeInvalidRequest, Code: "unknown_url",
			Message: fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path)})
	}))
	return mux
}

// authorized runs the admitters before h, for the endpoints that are not a
// model call (GET /v1/models, unknown URLs): the same keys work, and a
// ticket is settled at once with a record of Format "models".
func (b *Bridge) authorized(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req := Request{ID: w.Header().Get("X-Request-Id"), Format: "models", Header: r.Header}
		if e := b.authenticate(r, &req); e != nil {
			b.refuse(w, r, writeError, &req, e)
			return
		}
		for _, a := range b.admitters {
			t, err := a.Admit(r.Context(), &req)
			if t != nil {
				t.Settle(UsageRecord{Time: time.Now(), RequestID: req.ID, KeyID: req.KeyID, Format: req.Format, Method: r.Method, Path: r.URL.Path, Status: http.StatusOK})
			}
			if err != nil {
				var ae *APIError
				if !errors.As(err, &ae) {
					b.log.Error("admission failed", "request_id", req.ID, "error", err)
					ae = errorf(http.StatusInternalServerError, ErrorTypeServer, "admission_failed", "the bridge's admission stage failed (request id %s)", req.ID)
				}
				if ae.Status == http.StatusUnauthorized {
					b.throttle.Fail(r)
					b.refuse(w, r, writeError, &req, ae)
					return
				}
				writeError(w, ae)
				return
			}
		}
		h(w, r)
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
	h.Set("Access-Control-Expose-Headers", "X-Request-Id, request-id, Retry-After, x-ratelimit-limit-requests, x-ratelimit-remaining-requests, "+
		"x-ratelimit-reset-requests, x-ratelimit-limit-tokens, x-ratelimit-remaining-tokens, x-ratelimit-reset-tokens")
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
	if m, ok := b.routeModel(id); ok { // a route (route.go)
		body, _ := openai.Marshal(m)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
		return
	}
	u, upModel, aerr := b.resolve(id)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	body, _ := openai.Marshal(Model{ID: u.name + "/" + upModel, Object: "model", Created: b.created, OwnedBy: modelOwner(u.p, u.name)})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// readBody reads the request body up to the limit, within the body
// timeout. The buffer grows as bytes arrive: only a caller whose key an
// Authenticator checked has it sized from Content-Length, so a client
// without a key cannot make the bridge reserve memory by announcing a body
// it never sends.
func (b *Bridge) readBody(w http.ResponseWriter, r *http.Request, trusted bool) ([]byte, error) {
	if d := b.cfg.timeouts.Body; d > 0 {
		// The deadline is the connection's (http.ResponseController); it is
		// cleared once the body is in, or the server's background read would
		// cut a long stream when it passed.
		rc := http.NewResponseController(w)
		if rc.SetReadDeadline(time.Now().Add(d)) == nil {
			defer func() { _ = rc.SetReadDeadline(time.Time{}) }()
		}
	}
	body := http.MaxBytesReader(w, r.Body, b.cfg.maxBodyBytes)
	hint := 0
	if n := r.ContentLength; n > 0 && n <= b.cfg.maxBodyBytes {
		if !trusted {
			n = min(n, untrustedPresize)
		}
		hint = int(n)
	}
	buf, err := reqbody.Read(body, hint)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		err = &APIError{Status: http.StatusRequestTimeout, Type: ErrorTypeInvalidRequest, Code: "request_timeout",
			Message: fmt.Sprintf("the request body did not arrive within %s", b.cfg.timeouts.Body), Err: err}
	}
	return buf, err
}

// untrustedPresize bounds the buffer sized from the Content-Length of a
// caller no Authenticator vouched for.
const untrustedPresize = 16 << 10

// serve runs one model call of format f: check the key from the headers,
// take a place among the calls, read the body, parse its envelope, run the
// pipeline with the client as the output. Nothing is read or reserved for
// a client before its key is checked.
func (b *Bridge) serve(w http.ResponseWriter, r *http.Request, f clientFormat) {
	rid := w.Header().Get("X-Request-Id")
	if h, ok := f.(headerFormat); ok {
		h.startHeaders(w.Header(), rid)
	}
	pre := Request{ID: rid, Format: f.name(), Header: r.Header}
	if e := b.authenticate(r, &pre); e != nil {
		b.refuse(w, r, f.writeError, &pre, e)
		return
	}
	if !b.gate.enter() {
		f.writeError(w, errOverloaded())
		return
	}
	defer b.gate.leave()
	var (
		body []byte
		env  envelope
		err  error
	)
	if env.bad = jsonContentType(r); env.bad == nil {
		body, err = b.readBody(w, r, len(b.authenticators) > 0 && pre.Credential() != "")
		if err != nil {
			body, env.bad = nil, b.asAPIError(r.Context(), rid, "", err)
		} else {
			env = f.parse(body)
			env.model = strings.Clone(env.model) // the parse's strings share body's memory
		}
	}
	c := b.newCall(r.Context(), f, rid, env)
	c.rec.Method, c.rec.Path = r.Method, r.URL.Path
	c.req.Header = r.Header
	c.body = body
	out := &httpOutput{w: w, f: f}
	defer out.close()
	c.run(out)
	switch {
	case c.rec.Error == msgWriteTimeout:
		if b.cfg.onCut != nil {
			b.cfg.onCut(r.Context()) // the connection closes next: make it a reset
		}
	case b.cfg.timeouts.Write > 0:
		// What net/http still writes once the handler returns (a stream's
		// last chunk, buffered bytes) gets a deadline of its own: the call's
		// end (counting tokens, observers) may have outlasted the one the
		// last write set, and a deadline must cut only a client that stopped
		// reading.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(b.cfg.timeouts.Write))
	}
	if c.rec.Unauthenticated {
		b.throttle.Fail(r) // an Admitter without Authenticate refused the key
	}
}

// jsonContentType refuses a model call whose body is declared anything
// but JSON (415). A page on another site can send text/plain, form or
// multipart bodies, or an untyped one, without a CORS preflight; requiring
// a JSON type means a browser must ask first, and the CORS settings
// answer. A body with no Content-Type at all passes only with a key header
// (Authorization or x-api-key): such a request cannot be sent cross-site
// without a preflight either, and plain HTTP libraries often omit the type.
func jsonContentType(r *http.Request) *APIError {
	ct := r.Header.Get("Content-Type")
	if ct == "" && (r.Header.Get("Authorization") != "" || r.Header.Get("X-Api-Key") != "") {
		return nil
	}
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	if strings.EqualFold(ct, "application/json") ||
		len(ct) > len("application/+json") && strings.EqualFold(ct[:12], "application/") && strings.EqualFold(ct[len(ct)-5:], "+json") {
		return nil
	}
	return &APIError{Status: http.StatusUnsupportedMediaType, Type: ErrorTypeInvalidRequest, Code: "unsupported_media_type",
		Message: fmt.Sprintf("the request body must be JSON sent with Content-Type: application/json, not %q", ct)}
}

// refuse answers a request refused before its body was read (no key, a
// wrong one, a throttled source) and tells the observers, but not the
// usage sinks, with a record that holds nothing the client chose but the
// path (UsageRecord.Unauthenticated).
func (b *Bridge) refuse(w http.ResponseWriter, r *http.Request, write func(http.ResponseWriter, *APIError), req *Request, e *APIError) {
	write(w, e)
	now := b.clock.Now()
	rec := UsageRecord{ID: NewRecordID(now), Time: now, RequestID: req.ID, Format: req.Format, Method: r.Method, Path: r.URL.Path,
		Status: e.StatusCode(), Error: e.Message, ErrorCode: e.Code, Unauthenticated: true}
	for _, o := range b.obs.refused {
		b.safely(req.ID, func() { o.End(rec) })
	}
	b.logRecord(&rec)
}

// WithCORS lets browser-based clients (chat apps running the OpenAI JS SDK
// in a page or an Electron renderer) call the bridge from the given
// origins ("https://chat.example.com", or "*" for any). Preflight requests
// are answered without authentication, as browsers send none; every other
// request still needs an access key. Do not allow "*" on a bridge without
// access keys: any web page the user opens could then spend the provider
// keys.
func WithCORS(origins ...string) Option {
	return func(c *config) error {
		for _, o := range origins {
			if o != "*" {
				u, err := url.Parse(o)
				if err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" {
					return fmt.Errorf("WithCORS: origin %q must be \"*\" or scheme://host[:port]", o)
				}
			}
			if c.cors == nil {
				c.cors = map[string]bool{}
			}
			c.cors[o] = true
		}
		return nil
	}
}

// WithHosts serves only requests whose Host header allow accepts; others
// get 403 host_not_allowed in the client's format before their key is
// looked at. A Bridge that anyone on the machine may use without a key
// should take WithHosts(LoopbackHost): a page on another site whose name
// its attacker re-points at 127.0.0.1 (DNS rebinding) then reaches
// nothing, because its requests name the attacker's host. The server sets
// it when ACCESS_API_KEYS is empty.
func WithHosts(allow func(host string) bool) Option {
	return func(c *config) error {
		if allow == nil {
			return errors.New("WithHosts: nil function")
		}
		c.hosts = allow
		return nil
	}
}

// LoopbackHost reports whether host, a Host header with or without a
// port, names this machine in a way no DNS answer can change: "localhost"
// (any case) or a loopback IP literal (127.0.0.0/8, [::1], ::ffff:127.x).
// Subdomains of localhost ("app.localhost") are refused: browsers resolve
// them to loopback, but other clients may ask DNS, which an attacker
// answers. An empty host is refused too.
func LoopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else if len(host) > 2 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Zone() == "" && ip.Unmap().IsLoopback()
}
