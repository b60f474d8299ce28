package llmbridge_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// Issue 24, item 3: a member that differs from a known one only in case
// ("Model" beside "model"), or a name given twice in an object, is read
// one way by the bridge (gjson: exact names, the first of duplicates) and
// another by a Go decoder (encoding/json: names under case folding, the
// last of duplicates) — the bridge's own on translated routes, the
// upstream's on pass-through ones, where o1 ran under a key allowed only
// gpt-4o-mini. Every client format refuses such a body with a 400 in its
// own shape, and nothing reaches any upstream.

// casePost sends body to path the way the format's clients do and returns
// the status and the answer.
func (e *claudeEnv) casePost(t *testing.T, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if strings.HasPrefix(path, "/v1/messages") {
		req.Header.Set("X-Api-Key", accessKey)
		req.Header.Set("Anthropic-Version", "2023-06-01")
	} else {
		req.Header.Set("Authorization", "Bearer "+accessKey)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// upstreamRequests counts what every fake received.
func (e *claudeEnv) upstreamRequests() int {
	return len(e.openai.Requests()) + len(e.deepseek.Requests()) + len(e.gemini.Requests()) + len(e.claude.Requests())
}

const (
	caseUser  = `"messages":[{"role":"user","content":"hi"}]`
	caseTools = `{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]}`
)

func TestCaseVariantMembersRefusedByEveryFormat(t *testing.T) {
	e := newClaudeEnv(t)
	for _, tc := range []struct {
		name, path, body string
		// param is the member named (OpenAI's param; Anthropic's message
		// starts with it); msg what the message says.
		param, msg string
	}{
		// Chat Completions: pass-through (openai), translated (anthropic, gemini).
		{"chat Model beside model", "/v1/chat/completions", `{"model":"openai/gpt-4o-mini",` + caseUser + `,"Model":"openai/o1"}`, "Model", `differs from "model" only in case`},
		{"chat Model alone", "/v1/chat/completions", `{"Model":"openai/o1",` + caseUser + `}`, "Model", `differs from "model" only in case`},
		{"chat Model translated", "/v1/chat/completions", `{"model":"anthropic/claude-haiku-4-5",` + caseUser + `,"Model":"claude-opus-4-1"}`, "Model", "only in case"},
		{"chat Messages translated", "/v1/chat/completions", `{"model":"gemini/gemini-2.0-flash",` + caseUser + `,"Messages":[{"role":"user","content":"other"}]}`, "Messages", `differs from "messages" only in case`},
		{"chat long s", "/v1/chat/completions", `{"model":"openai/gpt-4o-mini",` + caseUser + `,"ſtream":true}`, "ſtream", `differs from "stream" only in case`},
		{"chat escaped Model", "/v1/chat/completions", `{"model":"openai/gpt-4o-mini",` + caseUser + `,"\u004dodel":"openai/o1"}`, "Model", "only in case"},
		{"chat model twice", "/v1/chat/completions", `{"model":"openai/gpt-4o-mini","model":"openai/o1",` + caseUser + `}`, "model", "more than once"},
		{"chat content twice", "/v1/chat/completions", `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi","Content":"bye"}]}`, "messages[0].Content", "only in case"},
		{"chat lone Content", "/v1/chat/completions", `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"},` + strings.Replace(caseTools, `"content":null`, `"Content":"x"`, 1) + `]}`, "messages[1].Content", "only in case"},
		// A member only the translation's decoder knows there: the
		// validator does not look at it, the decoder refuses to bind it.
		{"chat Image_URL translated", "/v1/chat/completions", `{"model":"anthropic/claude-haiku-4-5","messages":[{"role":"user","content":[{"type":"text","text":"a","Image_URL":{"url":"https://x/y.png"}}]}]}`, "Image_URL", "only in case"},
		{"chat Image_URL gemini", "/v1/chat/completions", `{"model":"gemini/gemini-2.0-flash","messages":[{"role":"user","content":[{"type":"text","text":"a","Image_URL":{"url":"https://x/y.png"}}]}]}`, "Image_URL", "only in case"},

		// Messages: pass-through (anthropic), translated (openai, gemini).
		{"messages Model beside model", "/v1/messages", `{"model":"anthropic/claude-haiku-4-5","max_tokens":16,` + caseUser + `,"Model":"claude-opus-4-1"}`, "Model", `differs from "model" only in case`},
		{"messages Model translated", "/v1/messages", `{"model":"openai/gpt-4o-mini","max_tokens":16,` + caseUser + `,"Model":"o1"}`, "Model", "only in case"},
		{"messages Messages translated", "/v1/messages", `{"model":"openai/gpt-4o-mini","max_tokens":16,` + caseUser + `,"Messages":[{"role":"user","content":"other"}]}`, "Messages", "only in case"},
		{"messages max_tokens Kelvin", "/v1/messages", `{"model":"anthropic/claude-haiku-4-5","max_tokens":16,"max_to` + "\u212a" + `ens":64000,` + caseUser + `}`, "max_to\u212aens", "only in case"},
		{"messages count_tokens", "/v1/messages/count_tokens", `{"model":"anthropic/claude-haiku-4-5",` + caseUser + `,"MODEL":"claude-opus-4-1"}`, "MODEL", "only in case"},
		{"messages text twice", "/v1/messages", `{"model":"anthropic/claude-haiku-4-5","max_tokens":16,"messages":[{"role":"user","content":[{"type":"text","text":"a","Text":"b"}]}]}`, "messages.0.content.0.Text", "only in case"},
		{"messages lone Text translated", "/v1/messages", `{"model":"openai/gpt-4o-mini","max_tokens":16,"messages":[{"role":"user","content":[{"type":"text","Text":"b"}]}]}`, "messages.0.content.0.Text", "only in case"},
		{"messages lone Text gemini", "/v1/messages", `{"model":"gemini/gemini-2.0-flash","max_tokens":16,"messages":[{"role":"user","content":[{"type":"text","Text":"b"}]}]}`, "messages.0.content.0.Text", "only in case"},

		// Responses: pass-through (openai), translated (anthropic, gemini).
		{"responses Model beside model", "/v1/responses", `{"model":"openai/gpt-4o-mini","input":"hi","Model":"openai/o1"}`, "Model", `differs from "model" only in case`},
		{"responses Model translated", "/v1/responses", `{"model":"anthropic/claude-haiku-4-5","input":"hi","Model":"claude-opus-4-1"}`, "Model", "only in case"},
		{"responses Input alone", "/v1/responses", `{"model":"openai/gpt-4o-mini","Input":"hi"}`, "Input", `differs from "input" only in case`},
		{"responses content twice", "/v1/responses", `{"model":"openai/gpt-4o-mini","input":[{"role":"user","content":"hi","CONTENT":"x"}]}`, "input[0].CONTENT", "only in case"},
		{"responses lone Image_URL translated", "/v1/responses", `{"model":"gemini/gemini-2.0-flash","input":[{"role":"user","content":[{"type":"input_text","text":"a","Image_URL":"https://x/y.png"}]}]}`, "input[0].content[0].Image_URL", "only in case"},

		// Embeddings: pass-through (openai), translated (gemini).
		{"embeddings Model beside model", "/v1/embeddings", `{"model":"openai/text-embedding-3-small","input":"hi","Model":"openai/text-embedding-3-large"}`, "Model", `differs from "model" only in case`},
		{"embeddings Dimensions", "/v1/embeddings", `{"model":"gemini/text-embedding-004","input":"hi","Dimensions":8}`, "Dimensions", "only in case"},
		{"embeddings input twice", "/v1/embeddings", `{"model":"openai/text-embedding-3-small","input":"hi","input":["a","b"]}`, "input", "more than once"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.upstreamRequests()
			status, body := e.casePost(t, tc.path, tc.body)
			if status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", status, body)
			}
			if strings.HasPrefix(tc.path, "/v1/messages") {
				// Anthropic's shape: {"type":"error","error":{"type","message"}}.
				msg := gjson.Get(body, "error.message").Str
				if gjson.Get(body, "type").Str != "error" || gjson.Get(body, "error.type").Str != "invalid_request_error" ||
					!strings.HasPrefix(msg, tc.param+": ") || !strings.Contains(msg, tc.msg) {
					t.Errorf("answer %s, want an invalid_request_error whose message names %s and says %q", body, tc.param, tc.msg)
				}
			} else {
				// OpenAI's shape: {"error":{"message","type","param","code"}}.
				if gjson.Get(body, "error.type").Str != "invalid_request_error" || gjson.Get(body, "error.param").Str != tc.param ||
					!strings.Contains(gjson.Get(body, "error.message").Str, tc.msg) {
					t.Errorf("answer %s, want an invalid_request_error with param %s saying %q", body, tc.param, tc.msg)
				}
			}
			if n := e.upstreamRequests() - before; n != 0 {
				t.Errorf("%d requests reached an upstream", n)
			}
		})
	}
}

// The check changes nothing for a normal body: on every pass-through
// route the upstream gets the client's bytes (but for the model),
// members of any case inside values included.
func TestCaseNormalBodiesPassByteForByte(t *testing.T) {
	e := newClaudeEnv(t)
	for _, tc := range []struct {
		path, model, upstream, body string
	}{
		{"/v1/chat/completions", "openai/gpt-4o-mini", "gpt-4o-mini",
			`{"model":"openai/gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}],` +
				`"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"Name":{"type":"string"},"id":{},"ID_2":{}}}}}],` +
				`"metadata":{"Model":"o1","Tier":"x"},"temperature":0.50,"future_member":{"Model":1}}`},
		{"/v1/messages", "anthropic/claude-haiku-4-5", "claude-haiku-4-5",
			`{"model":"anthropic/claude-haiku-4-5","max_tokens":16,"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],` +
				`"tools":[{"name":"f","input_schema":{"type":"object","properties":{"Model":{"type":"string"}}}}],"metadata":{"user_id":"u"}}`},
		{"/v1/responses", "openai/gpt-4o-mini", "gpt-4o-mini",
			`{"model":"openai/gpt-4o-mini","input":[{"role":"user","content":[{"type":"input_text","text":"hi"}]}],"store":false,"metadata":{"Model":"x"}}`},
		{"/v1/embeddings", "openai/text-embedding-3-small", "text-embedding-3-small",
			`{"model":"openai/text-embedding-3-small","input":["hi","there"],"encoding_format":"float"}`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			before := e.upstreamRequests()
			status, body := e.casePost(t, tc.path, tc.body)
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, body)
			}
			if n := e.upstreamRequests() - before; n != 1 {
				t.Fatalf("%d upstream requests", n)
			}
			fake := e.openai
			if strings.HasPrefix(tc.model, "anthropic/") {
				fake = e.claude
			}
			sent := lastBody(t, fake)
			if want := strings.Replace(tc.body, `"`+tc.model+`"`, `"`+tc.upstream+`"`, 1); string(sent) != want {
				t.Errorf("upstream got\n%s\nwant\n%s", sent, want)
			}
		})
	}
}
