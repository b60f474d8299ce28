package demo

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge/internal/golden"
	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/sse"
	"github.com/llmbridge/llmbridge/internal/tokens"
)

// counter is shared by the tests: loading o200k_base once is enough.
var counter = tokens.NewCounter()

func testUpstream(key string) *Upstream {
	u := NewUpstream(key, 0, counter)
	u.now = func() time.Time { return time.Unix(1767225600, 0) }
	return u
}

func post(t *testing.T, h http.Handler, key, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body))
	if key != "" {
		r.Header.Set("Authorization", "Bearer "+key)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

const weatherTool = `{"type":"function","function":{"name":"get_weather","parameters":{"type":"object",` +
	`"properties":{"city":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]},"days":{"type":"integer"},"verbose":{"type":"boolean"}},` +
	`"required":["city","unit","days"]}}}`

// TestUpstreamGolden pins the upstream's exact wire output: headers that
// matter, status and body, for each kind of answer.
func TestUpstreamGolden(t *testing.T) {
	for _, tc := range []struct{ name, body string }{
		{"echo", `{"model":"echo","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello  brave\nnew world"}]}`},
		{"echo-stream", `{"model":"echo","stream":true,"messages":[{"role":"user","content":"Hello brave new world"}]}`},
		{"echo-stream-usage", `{"model":"echo","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hello world"}]}`},
		{"parts", `{"model":"echo","messages":[{"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"https://example.com/a.png"}},{"type":"text","text":"at this"}]}]}`},
		{"empty", `{"model":"echo","messages":[{"role":"user","content":""}]}`},
		{"no-user", `{"model":"echo","messages":[{"role":"system","content":"You are helpful."}]}`},
		{"tool-call", `{"model":"echo","tools":[` + weatherTool + `],"messages":[{"role":"user","content":"Use the tool for Paris"}]}`},
		{"tool-call-stream", `{"model":"echo","stream":true,"stream_options":{"include_usage":true},"tools":[` + weatherTool + `],"messages":[{"role":"user","content":"What is get_weather in Paris?"}]}`},
		{"tool-result", `{"model":"echo","tools":[` + weatherTool + `],"messages":[{"role":"user","content":"use the tool"},` +
			`{"role":"assistant","content":null,"tool_calls":[{"id":"call_demo_1","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},` +
			`{"role":"tool","tool_call_id":"call_demo_1","content":"18 degrees"}]}`},
		{"error-429", `{"model":"error-429","messages":[{"role":"user","content":"hi"}]}`},
		{"error-500", `{"model":"error-500","stream":true,"messages":[{"role":"user","content":"hi"}]}`},
		{"bad-json", `{"model":"echo","messages":[`},
		{"no-messages", `{"model":"echo","messages":[]}`},
		{"bad-tool-choice", `{"model":"echo","tool_choice":"sometimes","messages":[{"role":"user","content":"hi"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := post(t, testUpstream(""), "", tc.body)
			var got strings.Builder
			got.WriteString("HTTP " + http.StatusText(w.Code) + "\n")
			for _, h := range []string{"Content-Type", "Retry-After", "X-Should-Retry"} {
				if v := w.Header().Get(h); v != "" {
					got.WriteString(h + ": " + v + "\n")
				}
			}
			got.WriteString("\n")
			if strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
				got.Write(golden.IndentJSON(t, w.Body.Bytes()))
			} else {
				got.Write(w.Body.Bytes())
			}
			golden.Check(t, tc.name+".txt", []byte(got.String()))
		})
	}
}

// TestUpstreamUsage checks the usage the upstream reports against the
// tokenizer itself, for a text answer and a tool call.
func TestUpstreamUsage(t *testing.T) {
	for _, body := range []string{
		`{"model":"echo","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"The quick brown fox jumps over the lazy dog."}]}`,
		`{"model":"echo","tools":[` + weatherTool + `],"tool_choice":"required","messages":[{"role":"user","content":"Rome"}]}`,
	} {
		var req openai.ChatRequest
		if err := json.Unmarshal([]byte(body), &req); err != nil {
			t.Fatal(err)
		}
		var resp openai.ChatResponse
		if err := json.Unmarshal(post(t, testUpstream(""), "", body).Body.Bytes(), &resp); err != nil {
			t.Fatal(err)
		}
		prompt, _ := counter.Prompt("echo", &req)
		msg := resp.Choices[0].Message
		completion := counter.Text("echo", msg.Content.String())
		if len(msg.ToolCalls) > 0 {
			completion = counter.Text("echo", msg.ToolCalls[0].Function.Name) + counter.Text("echo", msg.ToolCalls[0].Function.Arguments)
		}
		u := resp.Usage
		if u == nil || u.PromptTokens != prompt || u.CompletionTokens != completion || u.TotalTokens != prompt+completion || prompt == 0 || completion == 0 {
			t.Errorf("usage %+v, want prompt %d completion %d", u, prompt, completion)
		}
	}
}

// TestUpstreamStreamMatchesResponse checks that a stream's deltas add up
// to the non-streamed answer and its usage chunk to the same usage.
func TestUpstreamStreamMatchesResponse(t *testing.T) {
	for _, msgs := range []string{
		`"messages":[{"role":"user","content":"  leading and trailing spaces \n\t ok  "}]`,
		`"tools":[` + weatherTool + `],"messages":[{"role":"user","content":"tool please: Oslo"}]`,
	} {
		var whole openai.ChatResponse
		if err := json.Unmarshal(post(t, testUpstream(""), "", `{"model":"echo",`+msgs+`}`).Body.Bytes(), &whole); err != nil {
			t.Fatal(err)
		}
		w := post(t, testUpstream(""), "", `{"model":"echo","stream":true,"stream_options":{"include_usage":true},`+msgs+`}`)
		r := sse.NewReader(w.Body)
		var text, args strings.Builder
		var usage *openai.Usage
		var finish string
		for {
			ev, err := r.Next()
			if err != nil {
				t.Fatalf("stream ended without [DONE]: %v", err)
			}
			if string(ev.Data) == "[DONE]" {
				break
			}
			var ch openai.ChatChunk
			if err := json.Unmarshal(ev.Data, &ch); err != nil {
				t.Fatal(err)
			}
			if ch.Usage != nil {
				usage = ch.Usage
			}
			for _, c := range ch.Choices {
				if c.Delta.Content != nil {
					text.WriteString(*c.Delta.Content)
				}
				for _, tc := range c.Delta.ToolCalls {
					args.WriteString(tc.Function.Arguments)
				}
				if c.FinishReason != nil {
					finish = *c.FinishReason
				}
			}
		}
		m := whole.Choices[0].Message
		wantArgs := ""
		if len(m.ToolCalls) > 0 {
			wantArgs = m.ToolCalls[0].Function.Arguments
		}
		if text.String() != m.Content.String() || args.String() != wantArgs || finish != whole.Choices[0].FinishReason {
			t.Errorf("stream %q/%q/%s, whole %q/%q/%s", text.String(), args.String(), finish, m.Content.String(), wantArgs, whole.Choices[0].FinishReason)
		}
		if usage == nil || usage.PromptTokens != whole.Usage.PromptTokens || usage.CompletionTokens != whole.Usage.CompletionTokens || usage.TotalTokens != whole.Usage.TotalTokens {
			t.Errorf("stream usage %+v, whole %+v", usage, whole.Usage)
		}
	}
}

func TestUpstreamKeyAndPath(t *testing.T) {
	u := testUpstream("secret-key")
	body := `{"model":"echo","messages":[{"role":"user","content":"hi"}]}`
	for _, key := range []string{"", "wrong"} {
		if w := post(t, u, key, body); w.Code != http.StatusUnauthorized || strings.Contains(w.Body.String(), "secret-key") {
			t.Errorf("key %q: %d %s", key, w.Code, w.Body)
		}
	}
	if w := post(t, u, "secret-key", body); w.Code != http.StatusOK {
		t.Errorf("right key: %d %s", w.Code, w.Body)
	}
	w := httptest.NewRecorder()
	u.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v1/chat/completions", nil))
	if w.Code != http.StatusNotFound || !json.Valid(w.Body.Bytes()) {
		t.Errorf("GET: %d %s", w.Code, w.Body)
	}
}

func TestStreamDelay(t *testing.T) {
	u := NewUpstream("", 20*time.Millisecond, counter)
	start := time.Now()
	w := post(t, u, "", `{"model":"echo","stream":true,"messages":[{"role":"user","content":"one two three"}]}`)
	// Three words, a delay before each: at least 60ms. (A lower bound only;
	// how long it may take is not asserted.)
	if d := time.Since(start); d < 60*time.Millisecond || !strings.HasSuffix(w.Body.String(), "data: [DONE]\n\n") {
		t.Errorf("took %v: %s", d, w.Body)
	}
}

func TestStreamStopsWhenClientLeaves(t *testing.T) {
	u := NewUpstream("", time.Hour, counter)
	r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(`{"model":"echo","stream":true,"messages":[{"role":"user","content":"one two"}]}`))
	ctx, cancel := context.WithCancel(r.Context())
	r = r.WithContext(ctx)
	w := httptest.NewRecorder()
	done := make(chan struct{})
	go func() { u.ServeHTTP(w, r); close(done) }()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream kept waiting after the client left")
	}
}

func TestWords(t *testing.T) {
	for in, want := range map[string][]string{
		"":               nil,
		"Hello world":    {"Hello", " world"},
		"  a\n\nb  ":     {"  a", "\n\nb", "  "},
		"héllo wörld 你好": {"héllo", " wörld", " 你好"},
	} {
		if got := words(in); strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
			t.Errorf("words(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAnswerChoosesTool(t *testing.T) {
	other := `{"type":"function","function":{"name":"get_time","parameters":{"type":"object","properties":{}}}}`
	for _, tc := range []struct {
		name, extra, text, want string // want: the tool called, "" for text
	}{
		{"no tools", ``, "use the tool", ""},
		{"says tool", `"tools":[` + weatherTool + `,` + other + `],`, "please use a tool", "get_weather"},
		{"names a tool", `"tools":[` + weatherTool + `,` + other + `],`, "what does get_time say", "get_time"},
		{"tooling is not tool", `"tools":[` + weatherTool + `],`, "tooling", ""},
		{"plain text", `"tools":[` + weatherTool + `],`, "hello", ""},
		{"required", `"tools":[` + weatherTool + `],"tool_choice":"required",`, "hello", "get_weather"},
		{"named choice", `"tools":[` + weatherTool + `,` + other + `],"tool_choice":{"type":"function","function":{"name":"get_time"}},`, "hello", "get_time"},
		{"none", `"tools":[` + weatherTool + `],"tool_choice":"none",`, "use the tool", ""},
	} {
		var req openai.ChatRequest
		body := `{"model":"echo",` + tc.extra + `"messages":[{"role":"user","content":"` + tc.text + `"}]}`
		if err := json.Unmarshal([]byte(body), &req); err != nil {
			t.Fatal(err)
		}
		rep := answer(&req)
		got := ""
		if rep.call != nil {
			got = rep.call.Function.Name
			if !json.Valid([]byte(rep.call.Function.Arguments)) {
				t.Errorf("%s: arguments %q", tc.name, rep.call.Function.Arguments)
			}
		} else if rep.text != tc.text {
			t.Errorf("%s: text %q", tc.name, rep.text)
		}
		if got != tc.want {
			t.Errorf("%s: called %q, want %q", tc.name, got, tc.want)
		}
	}
}

func FuzzUpstream(f *testing.F) {
	f.Add(`{"model":"echo","stream":true,"messages":[{"role":"user","content":"hi there"}]}`)
	f.Add(`{"model":"echo","tools":[` + weatherTool + `],"messages":[{"role":"user","content":"tool"}]}`)
	f.Add(`{"model":"echo","tools":[{"type":"function","function":{"name":"f","parameters":{"required":["a"],"properties":{"a":{"type":"string","enum":[{"x":1}]}}}}}],"tool_choice":"required","messages":[{"role":"tool","content":[{"type":"text","text":"r"}]}]}`)
	f.Add(`{"model":"error-429","messages":[{"role":"user"}]}`)
	f.Add(`[]`)
	u := testUpstream("")
	f.Fuzz(func(t *testing.T, body string) {
		w := post(t, u, "", body)
		switch {
		case w.Code == http.StatusOK && strings.HasPrefix(w.Header().Get("Content-Type"), "text/event-stream"):
			if !strings.HasSuffix(w.Body.String(), "data: [DONE]\n\n") {
				t.Fatalf("stream without [DONE]: %s", w.Body)
			}
		case w.Code == http.StatusOK:
			var resp openai.ChatResponse
			if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || len(resp.Choices) != 1 || resp.Usage == nil {
				t.Fatalf("bad response %v: %s", err, w.Body)
			}
			if calls := resp.Choices[0].Message.ToolCalls; len(calls) > 0 && !json.Valid([]byte(calls[0].Function.Arguments)) {
				t.Fatalf("tool arguments are not JSON: %s", w.Body)
			}
		default:
			var e struct {
				Error struct{ Message, Type string }
			}
			if json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Error.Message == "" || w.Code < 400 {
				t.Fatalf("error %d not in OpenAI's shape: %s", w.Code, w.Body)
			}
		}
	})
}

func FuzzWords(f *testing.F) {
	for _, s := range []string{"", "Hello world", "  a\n\nb  ", "héllo wörld"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ws := words(s)
		if strings.Join(ws, "") != s {
			t.Fatalf("pieces %q do not join to %q", ws, s)
		}
		for _, w := range ws {
			if w == "" || strings.ContainsAny(strings.TrimLeft(w, " \t\r\n"), " \t\r\n") {
				t.Fatalf("piece %q of %q", w, s)
			}
		}
	})
}
