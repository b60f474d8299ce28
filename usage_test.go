package llmbridge_test

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// records collects usage records.
type records struct {
	mu   sync.Mutex
	list []llmbridge.UsageRecord
}

func (r *records) sink(u llmbridge.UsageRecord) {
	r.mu.Lock()
	r.list = append(r.list, u)
	r.mu.Unlock()
}

func (r *records) wait(t *testing.T, n int) []llmbridge.UsageRecord {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.mu.Lock()
		got := append([]llmbridge.UsageRecord(nil), r.list...)
		r.mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			if len(got) != n {
				t.Fatalf("%d records, want %d: %+v", len(got), n, got)
			}
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestUpstreamUsageIsAuthoritativeAndNoTokenizerRuns(t *testing.T) {
	recs := &records{}
	tc := llmbridge.NewTokenCounter()
	e := newEnv(t, llmbridge.WithUsageSink(recs.sink), llmbridge.WithTokenCounter(tc))
	e.openai.SetDefault(testupstream.Reply{Content: []string{"a", "b"}, Usage: testupstream.Usage{Prompt: 53, Completion: 15, Cached: 5, Reasoning: 4}})
	for _, body := range []string{
		`{"model":"openai/gpt-4o","messages":[{"role":"user","content":"x"}]}`,
		`{"model":"openai/gpt-4o","messages":[{"role":"user","content":"x"}],"stream":true}`,
		`{"model":"gemini/g","messages":[{"role":"user","content":"x"}],"stream":true}`,
		`{"model":"deepseek/deepseek-chat","messages":[{"role":"user","content":"x"}],"stream":true}`,
	} {
		if resp, b := e.post(t, "/v1/chat/completions", body); resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
	}
	got := recs.wait(t, 4)
	for i, r := range got[:2] {
		if r.PromptTokens != 53 || r.CompletionTokens != 15 || r.TotalTokens != 68 || r.CachedTokens != 5 || r.ReasoningTokens != 4 || r.Estimated {
			t.Errorf("record %d: %+v", i, r)
		}
	}
	ids := map[string]bool{}
	for _, r := range got {
		if len(r.ID) != 28 || ids[r.ID] || strings.Trim(r.ID, "0123456789abcdef") != "" {
			t.Errorf("record id %q is not 28 unique hex digits", r.ID)
		}
		ids[r.ID] = true
		if ms, err := strconv.ParseInt(r.ID[:12], 16, 64); err != nil || ms != r.Time.UnixMilli() {
			t.Errorf("record id %q does not start with the arrival time %d", r.ID, r.Time.UnixMilli())
		}
		if r.Status != 200 || r.Estimated || r.KeyID == "" || strings.Contains(r.KeyID, accessKey) || r.Method != "POST" || r.Path != "/v1/chat/completions" || r.Duration <= 0 {
			t.Errorf("record %+v", r)
		}
	}
	if got[1].TTFT <= 0 || got[1].TTFT > got[1].Duration || !got[1].Stream || got[1].UpstreamModel != "gpt-4o" {
		t.Errorf("stream record %+v", got[1])
	}
	if tc.Loaded() {
		t.Error("a tokenizer was loaded although every upstream reported usage")
	}
}

func TestUsageEstimatedWhenUpstreamReportsNone(t *testing.T) {
	recs := &records{}
	e := newEnv(t, llmbridge.WithUsageSink(recs.sink))
	e.openai.SetDefault(testupstream.Reply{Content: []string{"Hello", " world"}, NoUsage: true})
	e.post(t, "/v1/chat/completions", `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"hello world"}]}`)
	e.post(t, "/v1/chat/completions", `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"hello world"}],"stream":true}`)
	for _, r := range recs.wait(t, 2) {
		// 3 + "user"(1) + "hello world"(2) + 3 priming = 9; "Hello world" = 2.
		if !r.Estimated || r.PromptTokens != 9 || r.CompletionTokens != 2 || r.TotalTokens != 11 {
			t.Errorf("record %+v", r)
		}
	}
}

func TestOneRecordWhateverHappens(t *testing.T) {
	recs := &records{}
	e := newEnv(t, llmbridge.WithUsageSink(recs.sink), llmbridge.WithTimeouts(llmbridge.Timeouts{StreamIdle: 150 * time.Millisecond}))
	type want struct {
		status    int
		estimated bool
		errText   string
	}
	var wants []want
	post := func(body string, w want, hdr ...string) {
		e.post(t, "/v1/chat/completions", body, hdr...)
		wants = append(wants, w)
	}
	post(`{"model":`, want{400, false, "parse"})
	post(`{"model":"nope/x","messages":[{"role":"user","content":"x"}]}`, want{404, false, "does not exist"})
	e.openai.Enqueue(testupstream.Reply{Status: 400})
	post(`{"model":"openai/gpt-4o","messages":[{"role":"user","content":"x"}]}`, want{400, false, "fake upstream error 400"})
	e.openai.Enqueue(testupstream.Reply{Content: []string{"a", "b", "c"}, StallAfter: 3, NoUsage: true})
	post(`{"model":"openai/gpt-4o","messages":[{"role":"user","content":"x"}],"stream":true}`, want{200, true, "idle"})
	e.openai.Enqueue(testupstream.Reply{Content: []string{"a"}, ErrorEvent: true})
	post(`{"model":"openai/gpt-4o","messages":[{"role":"user","content":"x"}],"stream":true}`, want{200, true, "error event"})
	resp, _ := e.do(t, http.MethodPost, "/v1/chat/completions", `{}`)
	if resp.StatusCode != 401 {
		t.Fatal(resp.StatusCode)
	}
	// A request without a key is no usage: the sink never sees it
	// (TestUnauthenticatedRequestsAreNotStored).

	got := recs.wait(t, len(wants))
	for i, w := range wants {
		r := got[i]
		if r.Status != w.status || r.Estimated != w.estimated || !strings.Contains(r.Error, w.errText) {
			t.Errorf("request %d: status %d estimated %v error %q, want %+v", i, r.Status, r.Estimated, r.Error, w)
		}
	}
}

func TestRecordOnClientCancel(t *testing.T) {
	recs := &records{}
	e := newEnv(t, llmbridge.WithUsageSink(recs.sink))
	e.openai.Enqueue(testupstream.Reply{Content: []string{"Hello", " world", "!"}, StallAfter: 3})
	e.hangUpMidStream(t, `" world"`)
	r := recs.wait(t, 1)[0]
	if r.Status != 499 || !r.Estimated || r.CompletionTokens != 2 || r.PromptTokens == 0 {
		t.Errorf("record %+v", r)
	}
}

func TestInProcessRecords(t *testing.T) {
	recs := &records{}
	e := newEnv(t, llmbridge.WithUsageSink(recs.sink))
	req := &llmbridge.ChatRequest{Model: "deepseek/deepseek-chat", Messages: []llmbridge.Message{llmbridge.UserMessage("hi")}}
	if _, err := e.bridge.ChatCompletion(ctxTimeout(t), req); err != nil {
		t.Fatal(err)
	}
	for range e.bridge.ChatCompletionStream(ctxTimeout(t), req) {
	}
	e.bridge.ChatCompletion(ctxTimeout(t), &llmbridge.ChatRequest{Model: "x/y", Messages: req.Messages})
	got := recs.wait(t, 3)
	if got[0].TotalTokens != 11 || got[0].Method != "" || got[1].TotalTokens != 11 || !got[1].Stream || got[2].Status != 404 {
		t.Errorf("records %+v", got)
	}
	n, err := e.bridge.EstimatePromptTokens(req)
	if err != nil || n != 8 {
		t.Errorf("estimate %d %v", n, err)
	}
}
