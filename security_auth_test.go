package llmbridge_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// rawHeaders opens a connection to srv and sends a POST's headers only,
// announcing size bytes of body that never come. It returns the
// connection and a reader of what the bridge answers.
func rawHeaders(t testing.TB, srv *httptest.Server, path string, size int, hdr ...string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", path, size)
	for i := 0; i+1 < len(hdr); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", hdr[i], hdr[i+1])
	}
	b.WriteString("\r\n")
	if _, err := conn.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	return conn, bufio.NewReader(conn)
}

// statusOf reads the status line the bridge sends within 5 s.
func statusOf(t *testing.T, conn net.Conn, r *bufio.Reader) string {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("no answer before the body was sent: %v", err)
	}
	return strings.TrimSpace(line)
}

// Issue 24, item 1: a client without a key that announces 32 MiB and
// sends nothing is answered 401 at once, from the headers, and holds no
// place among the bounded calls: with WithMaxConcurrent(2), eight such
// connections leave room for an authorized request.
func TestKeylessClientIsRefusedBeforeItsBody(t *testing.T) {
	e := newEnv(t, llmbridge.WithMaxConcurrent(2))
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range 8 {
		hdr := []string{}
		if i%2 == 1 {
			hdr = []string{"Authorization", "Bearer wrong-key-" + fmt.Sprint(i)}
		}
		conn, r := rawHeaders(t, e.srv, "/v1/chat/completions", 32<<20, hdr...)
		conns = append(conns, conn)
		if got := statusOf(t, conn, r); !strings.Contains(got, "401") {
			t.Fatalf("connection %d: %q, want 401 before the body", i, got)
		}
	}
	if a := e.bridge.Stats().Active; a != 0 {
		t.Errorf("%d calls active for clients without a key", a)
	}
	resp, body := e.post(t, "/v1/chat/completions", `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"x"}]}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the authorized request got %d: %s", resp.StatusCode, body)
	}
	if n := len(e.openai.Requests()); n != 1 {
		t.Errorf("%d upstream requests, want 1", n)
	}
}

// Issue 24, item 1: a client with a key that announces a body and never
// sends it is answered 408 after the body timeout, and its place among
// the calls is free again.
func TestBodyTimeoutFreesTheSlot(t *testing.T) {
	e := newEnv(t, llmbridge.WithMaxConcurrent(1), llmbridge.WithTimeouts(llmbridge.Timeouts{Body: 200 * time.Millisecond}))
	conn, r := rawHeaders(t, e.srv, "/v1/chat/completions", 1<<20, "Authorization", "Bearer "+accessKey)
	defer conn.Close()
	if got := statusOf(t, conn, r); !strings.Contains(got, "408") {
		t.Fatalf("%q, want 408 after the body timeout", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for e.bridge.Stats().Active != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if a := e.bridge.Stats().Active; a != 0 {
		t.Fatalf("%d calls still active after the body timeout", a)
	}
	resp, body := e.post(t, "/v1/chat/completions", `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"x"}]}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the next request got %d: %s", resp.StatusCode, body)
	}
}

// The body deadline is cleared once the body is in: a stream that lasts
// longer than the body timeout is not cut by it.
func TestBodyTimeoutDoesNotCutStreams(t *testing.T) {
	e := newEnv(t, llmbridge.WithTimeouts(llmbridge.Timeouts{Body: 100 * time.Millisecond}))
	e.openai.Enqueue(testupstream.Reply{Content: []string{"a", "b", "c", "d", "e"}, Delay: 80 * time.Millisecond})
	resp, body := e.post(t, "/v1/chat/completions", `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"x"}],"stream":true}`)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "[DONE]") {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
}

// throttled sends one chat request from addr with key and returns the
// recorder.
func fromAddr(h http.Handler, path, addr, key, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.RemoteAddr = addr
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// Issue 24, item 7: past the free allowance, a source presenting wrong
// keys is answered 429 auth_throttled with Retry-After, in the client's
// format, without its key being looked at (the right key waits too);
// another source is unaffected.
func TestWrongKeysAreThrottledPerSource(t *testing.T) {
	e := newEnv(t)
	h := e.bridge.Handler()
	const attacker = "203.0.113.7:4444"
	body := `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"x"}]}`
	for i := range 11 {
		if rec := fromAddr(h, "/v1/chat/completions", attacker, fmt.Sprint("guess-", i), body); rec.Code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d, want 401", i, rec.Code)
		}
	}
	rec := fromAddr(h, "/v1/chat/completions", attacker, "guess-12", body)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" || errorBody(t, rec.Body.String())["code"] != "auth_throttled" {
		t.Fatalf("12th guess: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	if rec := fromAddr(h, "/v1/chat/completions", attacker, accessKey, body); rec.Code != http.StatusTooManyRequests {
		t.Errorf("the right key from a throttled source: %d, want 429", rec.Code)
	}
	// Messages: Anthropic's error shape.
	rec = fromAddr(h, "/v1/messages", attacker, "guess", `{"model":"openai/gpt-4o","max_tokens":5,"messages":[{"role":"user","content":"x"}]}`)
	if rec.Code != http.StatusTooManyRequests || !strings.Contains(rec.Body.String(), `"type":"error"`) {
		t.Errorf("Messages from a throttled source: %d %s", rec.Code, rec.Body)
	}
	// The model list checks keys too.
	req := httptest.NewRequest(http.MethodGet, "/v1/models", nil)
	req.RemoteAddr = attacker
	req.Header.Set("Authorization", "Bearer "+accessKey)
	mrec := httptest.NewRecorder()
	h.ServeHTTP(mrec, req)
	if mrec.Code != http.StatusTooManyRequests {
		t.Errorf("/v1/models from a throttled source: %d", mrec.Code)
	}
	if rec := fromAddr(h, "/v1/chat/completions", "198.51.100.9:5555", accessKey, body); rec.Code != http.StatusOK {
		t.Errorf("another source: %d %s", rec.Code, rec.Body)
	}
	if n := len(e.openai.Requests()); n != 1 {
		t.Errorf("%d upstream requests, want 1", n)
	}
}

// The model list's wrong keys count as well, and WithAuthThrottle(nil)
// turns throttling off.
func TestModelListFailuresCountAndThrottleCanBeOff(t *testing.T) {
	get := func(h http.Handler, key string) int {
		req := httptest.NewRequest(http.MethodGet, "/v1/models", nil)
		req.RemoteAddr = "192.0.2.1:1"
		req.Header.Set("Authorization", "Bearer "+key)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	on := newEnv(t).bridge.Handler()
	off := newEnv(t, llmbridge.WithAuthThrottle(nil)).bridge.Handler()
	for range 11 {
		get(on, "wrong")
		get(off, "wrong")
	}
	if c := get(on, "wrong"); c != http.StatusTooManyRequests {
		t.Errorf("throttle on: %d, want 429", c)
	}
	if c := get(off, "wrong"); c != http.StatusUnauthorized {
		t.Errorf("throttle off: %d, want 401", c)
	}
}

// A shared AuthThrottle counts a source's failures across Bridges (a
// reload builds a new one).
func TestAuthThrottleIsShared(t *testing.T) {
	th := llmbridge.NewAuthThrottle(llmbridge.AuthThrottleOptions{Free: 2})
	a := newEnv(t, llmbridge.WithAuthThrottle(th)).bridge.Handler()
	b := newEnv(t, llmbridge.WithAuthThrottle(th)).bridge.Handler()
	body := `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"x"}]}`
	fromAddr(a, "/v1/chat/completions", "192.0.2.2:1", "x", body)
	fromAddr(a, "/v1/chat/completions", "192.0.2.2:1", "x", body)
	fromAddr(b, "/v1/chat/completions", "192.0.2.2:1", "x", body)
	if rec := fromAddr(b, "/v1/chat/completions", "192.0.2.2:1", "x", body); rec.Code != http.StatusTooManyRequests {
		t.Errorf("%d, want 429 from the shared count", rec.Code)
	}
}

// Issue 24, item 6: a request refused for its key is no usage: usage
// sinks never get it (nothing to store, whatever model it named),
// observers get a record marked Unauthenticated with no client-chosen
// name, and the console log samples such lines.
func TestUnauthenticatedRequestsAreNotStored(t *testing.T) {
	recs := &records{}
	obs := &records{}
	var logs bytes.Buffer
	var logMu sync.Mutex
	log := slog.New(slog.NewJSONHandler(lockedWriter{&logs, &logMu}, nil))
	e := newEnv(t, llmbridge.WithUsageSink(recs.sink), llmbridge.WithObserver(llmbridge.ObserverFunc(obs.sink)), llmbridge.WithLogger(log), llmbridge.WithAuthThrottle(nil))
	const evil = `=HYPERLINK("http://evil.example")`
	for i := range 50 {
		resp, _ := e.do(t, http.MethodPost, "/v1/chat/completions", `{"model":"`+strings.ReplaceAll(evil, `"`, `\"`)+`","messages":[]}`,
			"Authorization", fmt.Sprint("Bearer wrong-", i))
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatal(resp.StatusCode)
		}
	}
	// An Admitter that checks keys only in Admit (no Authenticate): its 401
	// is marked too, and the model it read is dropped.
	custom := newEnv(t, llmbridge.WithUsageSink(recs.sink), llmbridge.WithObserver(llmbridge.ObserverFunc(obs.sink)), llmbridge.WithAuthThrottle(nil),
		llmbridge.WithAdmitter(llmbridge.AdmitterFunc(func(context.Context, *llmbridge.Request) (llmbridge.Ticket, error) {
			return nil, &llmbridge.APIError{Status: http.StatusUnauthorized, Type: llmbridge.ErrorTypeInvalidRequest, Code: "invalid_api_key", Message: "no"}
		})))
	resp, _ := custom.post(t, "/v1/chat/completions", `{"model":"`+strings.ReplaceAll(evil, `"`, `\"`)+`","messages":[{"role":"user","content":"x"}]}`)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatal(resp.StatusCode)
	}
	time.Sleep(50 * time.Millisecond) // a sink would have been called by now (it runs before the answer ends)
	recs.mu.Lock()
	stored := len(recs.list)
	recs.mu.Unlock()
	if stored != 0 {
		t.Errorf("%d unauthenticated records reached the usage sink", stored)
	}
	got := obs.wait(t, 51)
	for i, r := range got {
		if !r.Unauthenticated || r.Model != "" || r.Status != http.StatusUnauthorized || i < 50 && r.KeyID != "" {
			t.Fatalf("record %+v", r)
		}
	}
	logMu.Lock()
	lines := strings.Count(logs.String(), `"msg":"request"`)
	leaked := strings.Contains(logs.String(), "HYPERLINK")
	logMu.Unlock()
	if lines < 1 || lines > 3 {
		t.Errorf("%d log lines for 50 wrong keys in well under a second, want 1 or 2", lines)
	}
	if leaked {
		t.Error("the log holds the client's model name of an unauthenticated request")
	}
}

type lockedWriter struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// Issue 24, item 4: a model call must declare a JSON body; text/plain,
// form and untyped bodies (what a page on another site can send without a
// preflight) are refused 415 before anything goes upstream. An untyped
// body with a key header passes: that request needs a preflight anyway.
func TestModelCallsNeedAJSONContentType(t *testing.T) {
	up := testupstream.New(t, testupstream.OpenAI)
	b, err := llmbridge.New(llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: up.BaseURL(), APIKey: up.Key})))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	chat := `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"x"}]}`
	msgs := `{"model":"openai/gpt-4o","max_tokens":5,"messages":[{"role":"user","content":"x"}]}`
	for _, tc := range []struct {
		path, ct, key, body string
		want                int
	}{
		{"/v1/chat/completions", "text/plain;charset=UTF-8", "", chat, 415},
		{"/v1/chat/completions", "application/x-www-form-urlencoded", "", chat, 415},
		{"/v1/chat/completions", "multipart/form-data; boundary=x", "", chat, 415},
		{"/v1/chat/completions", "", "", chat, 415},
		{"/v1/chat/completions", "text/plain", "some-key", chat, 415},
		{"/v1/messages", "text/plain", "", msgs, 415},
		{"/v1/responses", "text/plain", "", `{"model":"openai/gpt-4o","input":"x"}`, 415},
		{"/v1/embeddings", "text/plain", "", `{"model":"openai/text-embedding-3-small","input":"x"}`, 415},
		{"/v1/chat/completions", "application/json", "", chat, 200},
		{"/v1/chat/completions", "Application/JSON; charset=utf-8", "", chat, 200},
		{"/v1/chat/completions", "application/vnd.example+json", "", chat, 200},
		{"/v1/chat/completions", "", "some-key", chat, 200},
	} {
		req := httptest.NewRequest(http.MethodPost, tc.path, strings.NewReader(tc.body))
		if tc.ct != "" {
			req.Header.Set("Content-Type", tc.ct)
		}
		if tc.key != "" {
			req.Header.Set("X-Api-Key", tc.key)
		}
		rec := httptest.NewRecorder()
		b.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("%s %q: %d, want %d: %s", tc.path, tc.ct, rec.Code, tc.want, rec.Body)
		}
		if tc.want == 415 && tc.path == "/v1/messages" && !strings.Contains(rec.Body.String(), `"type":"error"`) {
			t.Errorf("Messages' 415 is not in Anthropic's shape: %s", rec.Body)
		}
	}
	if n := len(up.Requests()); n != 4 {
		t.Errorf("%d requests reached the upstream, want the 4 accepted ones", n)
	}
}

// BenchmarkUnsentBodyMemory measures what a client that announces a 32 MiB
// body and sends none costs while it waits, with no access keys (the
// bridge cannot refuse it from its headers): the heap in use per such
// connection (B/conn). Before the buffer grew as bytes arrived it was the
// whole 32 MiB.
func BenchmarkUnsentBodyMemory(b *testing.B) {
	const conns = 20
	up := testupstream.New(b, testupstream.OpenAI)
	br, err := llmbridge.New(llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: up.BaseURL(), APIKey: up.Key})))
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	srv := httptest.NewServer(br)
	defer srv.Close()
	var perConn float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		var open []net.Conn
		for range conns {
			c, _ := rawHeaders(b, srv, "/v1/chat/completions", 32<<20)
			_, _ = c.Write([]byte(`{"model":`)) // a first byte: the read has begun
			open = append(open, c)
		}
		deadline := time.Now().Add(5 * time.Second)
		for br.Stats().Active < conns && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond)
		runtime.GC()
		runtime.ReadMemStats(&after)
		perConn = float64(int64(after.HeapInuse)-int64(before.HeapInuse)) / conns
		for _, c := range open {
			c.Close()
		}
		for br.Stats().Active > 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
	b.ReportMetric(perConn, "B/conn")
}
