package testupstream

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// KeyEcho is an upstream whose streams fail midway with an error event
// that echoes the credential it was sent, as real upstreams do ("Incorrect
// API key provided: sk-…"): on POST /v1/chat/completions an OpenAI error
// chunk (data: {"error":…}, no [DONE]), on POST /v1/messages an Anthropic
// "error" event, and on POST /v1/responses a response.failed event — or an
// "error" event when the request's model contains "error-event". Each
// error message carries the key plainly, inside an upstream URL as a key=
// query value, and once more with its first character escaped
// (\u0073k-…), beside a fixed text: EchoText. The credential is the
// bearer token or x-api-key the request carried. Streams only: the
// request's "stream" is not looked at.
type KeyEcho struct {
	*httptest.Server

	mu       sync.Mutex
	requests int
}

// EchoText is the part of every echoed error message that is not the key.
const EchoText = "Incorrect API key provided"

// NewKeyEcho starts a KeyEcho that closes with the test.
func NewKeyEcho(t testing.TB) *KeyEcho {
	e := &KeyEcho{}
	e.Server = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.Close)
	return e
}

// BaseURL is the URL to configure a provider with.
func (e *KeyEcho) BaseURL() string { return e.URL + "/v1" }

// Requests returns how many requests the fake received.
func (e *KeyEcho) Requests() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.requests
}

// echoMessage is the error text for key, as a JSON string: the key plain,
// in a URL's query, and escaped.
func echoMessage(key string) string {
	msg, _ := json.Marshal(fmt.Sprintf("%s: %s. Retried https://upstream.example/v1/models?key=%s&alt=sse.", EchoText, key, key))
	escaped := key
	if key != "" {
		escaped = fmt.Sprintf(`\u%04x`, key[0]) + key[1:]
	}
	return strings.TrimSuffix(string(msg), `"`) + ` (was ` + escaped + `)"`
}

func (e *KeyEcho) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	e.mu.Lock()
	e.requests++
	e.mu.Unlock()
	key := r.Header.Get("X-Api-Key")
	if key == "" {
		key = bearer(r)
	}
	var req struct {
		Model string `json:"model"`
	}
	_ = json.Unmarshal(body, &req)
	msg := echoMessage(key)
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	send := func(frame string) {
		fmt.Fprint(w, frame)
		_ = rc.Flush()
	}
	switch r.URL.Path {
	case "/v1/chat/completions":
		head := `{"id":"chatcmpl-echo","object":"chat.completion.chunk","created":1782955817,"model":` + jsonString(req.Model) + `,"choices":`
		send("data: " + head + `[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}` + "\n\n")
		send("data: " + head + `[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}` + "\n\n")
		send(`data: {"error":{"message":` + msg + `,"type":"invalid_request_error","param":null,"code":"invalid_api_key"}}` + "\n\n")
	case "/v1/messages":
		send("event: message_start\ndata: " + `{"type":"message_start","message":{"id":"msg_echo","type":"message","role":"assistant","content":[],"model":` + jsonString(req.Model) +
			`,"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":1}}}` + "\n\n")
		send("event: content_block_start\ndata: " + `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}` + "\n\n")
		send("event: content_block_delta\ndata: " + `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}` + "\n\n")
		send("event: error\ndata: " + `{"type":"error","error":{"type":"authentication_error","message":` + msg + `}}` + "\n\n")
	case "/v1/responses":
		resp := `{"id":"resp_echo","object":"response","created_at":1782955817,"status":"in_progress","model":` + jsonString(req.Model) + `,"output":[],"error":null}`
		send("event: response.created\ndata: " + `{"type":"response.created","response":` + resp + `,"sequence_number":0}` + "\n\n")
		send("event: response.output_text.delta\ndata: " + `{"type":"response.output_text.delta","item_id":"msg_echo","output_index":0,"content_index":0,"delta":"Hel","sequence_number":1}` + "\n\n")
		if strings.Contains(req.Model, "error-event") {
			send("event: error\ndata: " + `{"type":"error","code":"invalid_api_key","message":` + msg + `,"param":null,"sequence_number":2}` + "\n\n")
			return
		}
		failed := strings.Replace(strings.Replace(resp, `"in_progress"`, `"failed"`, 1), `"error":null`, `"error":{"code":"invalid_api_key","message":`+msg+`}`, 1)
		send("event: response.failed\ndata: " + `{"type":"response.failed","response":` + failed + `,"sequence_number":2}` + "\n\n")
	default:
		send(`data: {"error":{"message":"not found","type":"invalid_request_error"}}` + "\n\n")
	}
}
