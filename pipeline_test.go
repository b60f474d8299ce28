package llmbridge_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// moments records what an observer saw, in order, with the time it saw it.
type moments struct {
	mu   sync.Mutex
	list []moment
}

type moment struct {
	what string
	at   time.Time
	rec  llmbridge.UsageRecord
}

func (m *moments) add(what string, rec llmbridge.UsageRecord) {
	m.mu.Lock()
	m.list = append(m.list, moment{what, time.Now(), rec})
	m.mu.Unlock()
}

func (m *moments) Start(rec llmbridge.UsageRecord)     { m.add("start", rec) }
func (m *moments) FirstByte(rec llmbridge.UsageRecord) { m.add("first", rec) }
func (m *moments) End(rec llmbridge.UsageRecord)       { m.add("end", rec) }

// take returns and clears what was seen.
func (m *moments) take() []moment {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.list
	m.list = nil
	return out
}

func TestObserverSeesStartFirstByteEndInOrder(t *testing.T) {
	obs := &moments{}
	e := newEnv(t, llmbridge.WithObserver(obs))
	check := func(t *testing.T, stream bool) {
		t.Helper()
		got := obs.take()
		var names []string
		for _, m := range got {
			names = append(names, m.what)
		}
		if strings.Join(names, ",") != "start,first,end" {
			t.Fatalf("moments %v, want start,first,end", names)
		}
		start, first, end := got[0], got[1], got[2]
		if start.at.After(first.at) || first.at.After(end.at) {
			t.Errorf("out of order: %v %v %v", start.at, first.at, end.at)
		}
		if start.rec.Provider != "openai" || start.rec.UpstreamModel != "gpt-4o" || start.rec.Model != "openai/gpt-4o" ||
			start.rec.Format != "chat" || start.rec.Stream != stream || start.rec.RequestID == "" || start.rec.TotalTokens != 0 {
			t.Errorf("start record %+v", start.rec)
		}
		if first.rec.TTFT <= 0 || first.rec.Duration != 0 {
			t.Errorf("first-byte record %+v", first.rec)
		}
		if end.rec.Status != 200 || end.rec.TotalTokens != 11 || end.rec.TTFT != first.rec.TTFT || end.rec.Duration < end.rec.TTFT ||
			end.rec.RequestID != start.rec.RequestID {
			t.Errorf("end record %+v", end.rec)
		}
	}
	for _, stream := range []bool{false, true} {
		body := `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":` + map[bool]string{false: "false", true: "true"}[stream] + `}`
		if resp, text := e.post(t, "/v1/chat/completions", body); resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, text)
		}
		check(t, stream)
	}
	req := &llmbridge.ChatRequest{Model: "openai/gpt-4o", Messages: []llmbridge.Message{llmbridge.UserMessage("hi")}}
	if _, err := e.bridge.ChatCompletion(ctxTimeout(t), req); err != nil {
		t.Fatal(err)
	}
	check(t, false)
	for _, err := range e.bridge.ChatCompletionStream(ctxTimeout(t), req) {
		if err != nil {
			t.Fatal(err)
		}
	}
	check(t, true)

	// A request refused before routing has no Start and no FirstByte.
	e.post(t, "/v1/chat/completions", `{"model":"nope/x","messages":[{"role":"user","content":"hi"}]}`)
	if got := obs.take(); len(got) != 1 || got[0].what != "end" || got[0].rec.Status != 404 {
		t.Errorf("refused request: %+v", got)
	}
}

// panicky is an observer that panics in every method.
type panicky struct{}

func (panicky) Start(llmbridge.UsageRecord)     { panic("start") }
func (panicky) FirstByte(llmbridge.UsageRecord) { panic("first byte") }
func (panicky) End(llmbridge.UsageRecord)       { panic("end") }

func TestPanickingObserverDoesNotHurtTheRequest(t *testing.T) {
	recs := &records{}
	e := newEnv(t, llmbridge.WithObserver(panicky{}), llmbridge.WithUsageSink(recs.sink))
	resp, body := e.post(t, "/v1/chat/completions", `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true}`)
	if resp.StatusCode != 200 || !strings.Contains(body, "data: [DONE]") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if r := recs.wait(t, 1)[0]; r.Status != 200 || r.TotalTokens != 11 {
		t.Errorf("the observer after the panicking one saw %+v", r)
	}
}

// ticket records its settlements.
type ticket struct {
	mu      sync.Mutex
	settled []llmbridge.UsageRecord
}

func (t *ticket) Settle(rec llmbridge.UsageRecord) {
	t.mu.Lock()
	t.settled = append(t.settled, rec)
	t.mu.Unlock()
}

func TestAdmitterRefusesBeforeUpstreamWork(t *testing.T) {
	first := &ticket{}
	var sawKey, sawModel string
	admitFirst := llmbridge.AdmitterFunc(func(_ context.Context, r *llmbridge.Request) (llmbridge.Ticket, error) {
		sawKey, sawModel = r.KeyID, r.Model
		return first, nil
	})
	refuse := llmbridge.AdmitterFunc(func(_ context.Context, r *llmbridge.Request) (llmbridge.Ticket, error) {
		if r.Model == "openai/broken" {
			return nil, errors.New("limiter backend at 10.1.2.3:6379 is down")
		}
		return nil, &llmbridge.APIError{Status: 429, Type: "rate_limit_error", Code: "rate_limit_exceeded", Message: "slow down", RetryAfter: "7"}
	})
	obs := &moments{}
	e := newEnv(t, llmbridge.WithAdmitter(admitFirst), llmbridge.WithAdmitter(refuse), llmbridge.WithObserver(obs))

	resp, body := e.post(t, "/v1/chat/completions", `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true}`)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" || errorBody(t, body)["code"] != "rate_limit_exceeded" {
		t.Fatalf("%d %v %s", resp.StatusCode, resp.Header, body)
	}
	if sawKey != llmbridge.KeyID(accessKey) || sawModel != "openai/gpt-4o" {
		t.Errorf("the admitter after the access keys saw key %q model %q", sawKey, sawModel)
	}
	if n := len(e.openai.Requests()); n != 0 {
		t.Errorf("%d requests reached the upstream", n)
	}
	got := obs.take()
	if len(got) != 1 || got[0].what != "end" || got[0].rec.Status != 429 || got[0].rec.KeyID != llmbridge.KeyID(accessKey) {
		t.Errorf("observer saw %+v", got)
	}
	first.mu.Lock()
	if len(first.settled) != 1 || first.settled[0].Status != 429 {
		t.Errorf("the earlier admitter's ticket was settled %d times: %+v", len(first.settled), first.settled)
	}
	first.mu.Unlock()

	// An admitter's own failure is a 500 that does not show its cause.
	resp, body = e.post(t, "/v1/chat/completions", `{"model":"openai/broken","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 500 || strings.Contains(body, "10.1.2.3") || errorBody(t, body)["code"] != "admission_failed" {
		t.Errorf("%d %s", resp.StatusCode, body)
	}

	// A bad body is judged after admission: an unknown caller learns nothing about it.
	resp, _ = e.do(t, http.MethodPost, "/v1/chat/completions", `{"model":`)
	if resp.StatusCode != 401 {
		t.Errorf("unauthenticated bad body: %d", resp.StatusCode)
	}
}

func TestRouterFailsOverBeforeTheFirstByte(t *testing.T) {
	dead := testupstream.DeadAddr(t)
	recs := &records{}
	var targets []llmbridge.Target
	router := llmbridge.RouterFunc(func(_ context.Context, r *llmbridge.Request) ([]llmbridge.Target, error) {
		return targets, nil
	})
	e := newEnv(t, llmbridge.WithRouter(router), llmbridge.WithUsageSink(recs.sink),
		llmbridge.WithProvider(llmbridge.OpenAICompatible(llmbridge.ProviderConfig{Name: "dead", BaseURL: "http://" + dead, APIKey: "k"})))
	stream := `{"model":"smart","messages":[{"role":"user","content":"hi"}],"stream":true}`

	// Connection refused on the first target: the second answers.
	targets = []llmbridge.Target{{Provider: "dead", Model: "m"}, {Provider: "openai", Model: "gpt-4o"}}
	resp, body := e.post(t, "/v1/chat/completions", stream)
	if resp.StatusCode != 200 || !strings.Contains(body, "data: [DONE]") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if r := recs.wait(t, 1)[0]; r.Provider != "openai" || r.UpstreamModel != "gpt-4o" || r.Model != "smart" || r.Retries != 1 || r.TotalTokens != 11 {
		t.Errorf("record %+v", r)
	}

	// 429 asking for a minute: no waiting, the next target serves at once.
	targets = []llmbridge.Target{{Provider: "deepseek", Model: "deepseek-chat"}, {Provider: "openai", Model: "gpt-4o"}}
	e.deepseek.Enqueue(testupstream.Reply{Status: 429, RetryAfter: "60"})
	started := time.Now()
	if resp, body := e.post(t, "/v1/chat/completions", stream); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if time.Since(started) > 30*time.Second {
		t.Error("waited for the first target's Retry-After")
	}

	// A 400 would fail anywhere: no failover.
	n := len(e.openai.Requests())
	e.deepseek.Enqueue(testupstream.Reply{Status: 400})
	if resp, _ := e.post(t, "/v1/chat/completions", stream); resp.StatusCode != 400 {
		t.Errorf("status %d, want the first target's 400", resp.StatusCode)
	}
	if len(e.openai.Requests()) != n {
		t.Error("a 400 was retried on the next target")
	}

	// A target naming no provider is the router's bug: 500, cause not shown.
	targets = []llmbridge.Target{{Provider: "ghost", Model: "m"}}
	if resp, body := e.post(t, "/v1/chat/completions", stream); resp.StatusCode != 500 || strings.Contains(body, "ghost") {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
}

// headerTicket adds rate-limit headers to every response.
type headerTicket struct{ remaining string }

func (headerTicket) Settle(llmbridge.UsageRecord) {}
func (h headerTicket) Header() http.Header {
	return http.Header{"X-Ratelimit-Remaining-Requests": {h.remaining}}
}

func TestTicketHeadersOnAnswersAndRefusals(t *testing.T) {
	calls := 0
	e := newEnv(t, llmbridge.WithAdmitter(llmbridge.AdmitterFunc(func(_ context.Context, r *llmbridge.Request) (llmbridge.Ticket, error) {
		calls++
		if calls > 1 {
			return headerTicket{"0"}, &llmbridge.APIError{Status: 429, Code: "rate_limit_exceeded", Message: "no"}
		}
		return headerTicket{"1"}, nil
	})))
	for i, want := range []struct {
		status    int
		remaining string
	}{{200, "1"}, {429, "0"}} {
		resp, body := e.post(t, "/v1/chat/completions", `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true}`)
		if resp.StatusCode != want.status || resp.Header.Get("X-Ratelimit-Remaining-Requests") != want.remaining {
			t.Errorf("request %d: %d %q %s", i, resp.StatusCode, resp.Header.Get("X-Ratelimit-Remaining-Requests"), body)
		}
	}
	if _, err := e.bridge.ChatCompletion(ctxTimeout(t), &llmbridge.ChatRequest{Model: "openai/gpt-4o", Messages: []llmbridge.Message{llmbridge.UserMessage("hi")}}); err == nil {
		t.Error("in-process call was not refused by the admitter")
	}
}

// adderTicket adds its headers itself (HeaderAdder) and counts the calls
// of either method.
type adderTicket struct{ calls *atomic.Int32 }

func (adderTicket) Settle(llmbridge.UsageRecord) {}
func (a adderTicket) Header() http.Header {
	a.calls.Add(1)
	return http.Header{"X-Adder": {"header"}, "X-Both": {"adder"}}
}
func (a adderTicket) AddHeader(h http.Header) {
	a.calls.Add(1)
	h["X-Adder"], h["X-Both"] = []string{"added"}, []string{"adder"}
}

// Tickets' headers reach the response in the admitters' order, a later
// ticket's values over an earlier's; a HeaderAdder adds its own
// (AddHeader, not Header). In-process calls ask for none.
func TestTicketHeadersInOrder(t *testing.T) {
	var calls atomic.Int32
	e := newEnv(t,
		llmbridge.WithAdmitter(llmbridge.AdmitterFunc(func(context.Context, *llmbridge.Request) (llmbridge.Ticket, error) {
			return adderTicket{&calls}, nil
		})),
		llmbridge.WithAdmitter(llmbridge.AdmitterFunc(func(context.Context, *llmbridge.Request) (llmbridge.Ticket, error) {
			return headerTicket{"7"}, nil
		})),
		llmbridge.WithAdmitter(llmbridge.AdmitterFunc(func(context.Context, *llmbridge.Request) (llmbridge.Ticket, error) {
			return bothTicket{}, nil
		})))
	resp, body := e.post(t, "/v1/chat/completions", `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 200 || resp.Header.Get("X-Adder") != "added" || resp.Header.Get("X-Both") != "last" ||
		resp.Header.Get("X-Ratelimit-Remaining-Requests") != "7" || calls.Load() != 1 {
		t.Errorf("%d %v (%d calls) %s", resp.StatusCode, resp.Header, calls.Load(), body)
	}
	if _, err := e.bridge.ChatCompletion(ctxTimeout(t), &llmbridge.ChatRequest{Model: "openai/gpt-4o", Messages: []llmbridge.Message{llmbridge.UserMessage("hi")}}); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 1 {
		t.Errorf("an in-process call asked its ticket for headers (%d calls)", calls.Load())
	}
}

// bothTicket's header overrides the earlier tickets' X-Both.
type bothTicket struct{}

func (bothTicket) Settle(llmbridge.UsageRecord) {}
func (bothTicket) Header() http.Header          { return http.Header{"X-Both": {"last"}} }

// A translated stream (a provider without pass-through) is flushed event
// by event too: while the upstream is silent, what it already sent has
// reached the client.
func TestTranslatedStreamIsFlushedWhileTheUpstreamWaits(t *testing.T) {
	up := testupstream.New(t, testupstream.GeminiNative)
	b, err := llmbridge.New(llmbridge.WithProvider(llmbridge.Gemini(llmbridge.ProviderConfig{BaseURL: up.BaseURL(), APIKey: up.Key})),
		llmbridge.WithAccessKeys(accessKey), llmbridge.WithKeepAlive(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	t.Cleanup(func() { srv.Close(); b.Close() })
	up.Enqueue(testupstream.Reply{Content: []string{"Hello", " world"}, StallAfter: 1})
	lines, _ := openStream(t, srv.URL, "gemini/gemini-2.5-flash") // fails unless the first event arrives while the upstream stalls
	select {
	case l := <-lines:
		if !strings.HasPrefix(l, "data: ") && l != "" {
			t.Errorf("unexpected line %q", l)
		}
	default:
	}
}

// An answer that starts 2xx and fails before any byte reached the client
// (an error event first, or a cut) is answered by the next target; once a
// byte went out, nothing is retried.
func TestFailoverBeforeTheFirstByte(t *testing.T) {
	recs := &records{}
	router := llmbridge.RouterFunc(func(_ context.Context, r *llmbridge.Request) ([]llmbridge.Target, error) {
		return []llmbridge.Target{{Provider: "openai", Model: "gpt-4o"}, {Provider: "deepseek", Model: "deepseek-chat"}}, nil
	})
	e := newEnv(t, llmbridge.WithRouter(router), llmbridge.WithUsageSink(recs.sink))
	stream := `{"model":"smart","messages":[{"role":"user","content":"hi"}],"stream":true}`
	n := 0
	for _, fail := range []string{"error", "cut"} {
		e.openai.Enqueue(testupstream.Reply{FailFirst: fail})
		resp, body := e.post(t, "/v1/chat/completions", stream)
		n++
		if resp.StatusCode != 200 || !strings.Contains(body, "data: [DONE]") || strings.Contains(body, "overloaded") || strings.Count(body, `"role":"assistant"`) != 1 {
			t.Fatalf("%s: %d\n%s", fail, resp.StatusCode, body)
		}
		if r := recs.wait(t, n)[n-1]; r.Provider != "deepseek" || r.Status != 200 || r.Error != "" || r.Retries != 1 || r.TotalTokens == 0 {
			t.Errorf("%s: record %+v", fail, r)
		}
	}
	if len(e.openai.Requests()) != 2 || len(e.deepseek.Requests()) != 2 {
		t.Errorf("upstream requests: openai %d, deepseek %d", len(e.openai.Requests()), len(e.deepseek.Requests()))
	}

	// In-process streams fail over the same way.
	e.openai.Enqueue(testupstream.Reply{FailFirst: "error"})
	text := ""
	for ch, err := range e.bridge.ChatCompletionStream(ctxTimeout(t), &llmbridge.ChatRequest{Model: "smart", Messages: []llmbridge.Message{llmbridge.UserMessage("hi")}}) {
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range ch.Choices {
			if c.Delta.Content != nil {
				text += *c.Delta.Content
			}
		}
	}
	if text != "Hello world" {
		t.Errorf("in-process: %q", text)
	}

	// Content already sent: the error reaches the client, nothing is retried.
	before := len(e.deepseek.Requests())
	e.openai.Enqueue(testupstream.Reply{Content: []string{"a", "b", "c", "d"}, ErrorEvent: true})
	_, body := e.post(t, "/v1/chat/completions", stream)
	if !strings.Contains(body, `"error"`) || strings.Contains(body, "[DONE]") || len(e.deepseek.Requests()) != before {
		t.Errorf("after content: deepseek called %d times\n%s", len(e.deepseek.Requests())-before, body)
	}
}

// Streams that break after their 2xx count against the target's breaker.
func TestBrokenStreamsEjectTheTarget(t *testing.T) {
	e := newEnv(t)
	for range 5 {
		e.openai.Enqueue(testupstream.Reply{Content: []string{"a", "b", "c"}, CutAfter: 2})
		e.post(t, "/v1/chat/completions", `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true}`)
	}
	for _, h := range e.bridge.Health() {
		if h.Provider == "openai" && h.Model == "gpt-4o" {
			if h.State != llmbridge.StateOpen || h.Ejections != 1 {
				t.Errorf("after 5 broken streams: %+v", h)
			}
			return
		}
	}
	t.Fatal("no health entry for openai/gpt-4o")
}

// The Responses pass-through relay follows the same failover rule as the
// chat and Messages relays: an upstream error event before anything
// reached the client is answered by the next target.
func TestResponsesFailoverOnAnErrorEventFirst(t *testing.T) {
	recs := &records{}
	router := llmbridge.RouterFunc(func(_ context.Context, r *llmbridge.Request) ([]llmbridge.Target, error) {
		return []llmbridge.Target{{Provider: "openai", Model: "gpt-4o"}, {Provider: "deepseek", Model: "deepseek-chat"}}, nil
	})
	e := newEnv(t, llmbridge.WithRouter(router), llmbridge.WithUsageSink(recs.sink))
	e.openai.Enqueue(testupstream.Reply{FailFirst: "error"})
	resp, body := e.post(t, "/v1/responses", `{"model":"smart","input":"hi","stream":true}`)
	if resp.StatusCode != 200 || !strings.Contains(body, "response.completed") || strings.Contains(body, "server_error") {
		t.Fatalf("%d\n%s", resp.StatusCode, body)
	}
	if r := recs.wait(t, 1)[0]; r.Provider != "deepseek" || r.Retries != 1 || r.Error != "" {
		t.Errorf("record %+v", r)
	}
	if len(e.openai.Requests()) != 1 || len(e.deepseek.Requests()) != 1 {
		t.Errorf("upstream requests: openai %d, deepseek %d", len(e.openai.Requests()), len(e.deepseek.Requests()))
	}
}
