package llmbridge_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"
	"github.com/tidwall/gjson"
)

// The Anthropic SDK reads the request id from request-id (on a message
// through the raw response, on an error as Error.RequestID): the
// upstream's on a pass-through, with its anthropic-ratelimit-* headers;
// the bridge's own (its X-Request-Id) on a translated route and on errors.
func TestAnthropicSDKReadsTheRequestID(t *testing.T) {
	e := newClaudeEnv(t)
	for _, tc := range []struct {
		model      string
		stream     bool
		upstreamID bool
	}{
		{"anthropic/claude-sonnet-4-5", false, true},
		{"anthropic/claude-sonnet-4-5", true, true},
		{"openai/gpt-4o", false, false},
		{"gemini/gemini-2.0-flash-exp", true, false},
	} {
		var resp *http.Response
		if tc.stream {
			s := e.client(aoption.WithResponseInto(&resp)).Messages.NewStreaming(ctxTimeout(t), hi(tc.model))
			for s.Next() {
			}
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
		} else if _, err := e.client(aoption.WithResponseInto(&resp)).Messages.New(ctxTimeout(t), hi(tc.model)); err != nil {
			t.Fatal(err)
		}
		rid, ours := resp.Header.Get("request-id"), resp.Header.Get("X-Request-Id")
		limit := resp.Header.Get("anthropic-ratelimit-requests-limit")
		switch {
		case tc.upstreamID && (rid != testupstream.AnthropicRequestID || limit != "50" || resp.Header.Get("anthropic-organization-id") != ""):
			t.Errorf("%s stream=%v: request-id %q, ratelimit %q: want the upstream's id and rate limits, nothing else", tc.model, tc.stream, rid, limit)
		case !tc.upstreamID && (rid == "" || rid != ours || limit != ""):
			t.Errorf("%s stream=%v: request-id %q, X-Request-Id %q, ratelimit %q: want the bridge's id", tc.model, tc.stream, rid, ours, limit)
		}
	}
	e.openai.Enqueue(testupstream.Reply{Status: 429, RetryAfter: "0"}, testupstream.Reply{Status: 429, RetryAfter: "0"}, testupstream.Reply{Status: 429, RetryAfter: "0"})
	_, err := e.client(aoption.WithHeader("X-Request-Id", "trace-42")).Messages.New(ctxTimeout(t), hi("openai/gpt-4o"))
	var ae *anthropic.Error
	if !errors.As(err, &ae) || ae.RequestID != "trace-42" || ae.StatusCode != 429 || ae.Type() != "rate_limit_error" {
		t.Fatalf("got %v (request id %q), want a 429 rate_limit_error with request id trace-42", err, ae.RequestID)
	}
}

// openai-go sees a translated upstream's rate limit, overload or refused
// key with OpenAI's own codes, whatever the upstream called it
// (rate_limit_error, RESOURCE_EXHAUSTED, …): the OpenAI clients' table.
func TestOpenAISDKSeesOpenAICodesFromEveryUpstream(t *testing.T) {
	for _, up := range []struct {
		name   string
		flavor testupstream.Flavor
		prov   func(llmbridge.ProviderConfig) llmbridge.Provider
		model  string
	}{
		{"anthropic", testupstream.Anthropic, llmbridge.Anthropic, "anthropic/claude-haiku-4-5"},
		{"gemini", testupstream.GeminiNative, llmbridge.Gemini, "gemini/gemini-2.5-flash"},
		{"gemini-openai", testupstream.GeminiCompat, llmbridge.GeminiOpenAICompat, "gemini/gemini-2.5-flash"},
	} {
		for _, tc := range []struct {
			status    int
			typ, code string
		}{{429, "requests", "rate_limit_exceeded"}, {401, "invalid_request_error", "invalid_api_key"}, {500, "server_error", ""}} {
			client, fake, _ := sdkFor(t, up.flavor, up.prov)
			rep := testupstream.Reply{Status: tc.status, RetryAfter: "0"}
			fake.Enqueue(rep, rep, rep)
			_, err := client.Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{Model: up.model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}})
			var ae *openai.Error
			if !errors.As(err, &ae) || ae.StatusCode != tc.status || ae.Type != tc.typ || ae.Code != tc.code {
				t.Errorf("%s %d: got %v, want type %q code %q", up.name, tc.status, err, tc.typ, tc.code)
			}
		}
	}
}

// personSchema is a strict-mode schema with a constraint Anthropic does
// not take (maxLength).
func personSchema() map[string]any {
	return map[string]any{"type": "object", "properties": map[string]any{
		"name": map[string]any{"type": "string", "maxLength": 40}, "age": map[string]any{"type": "integer"}},
		"required": []any{"name", "age"}, "additionalProperties": false}
}

// sameJSON reports whether raw is the JSON of v.
func sameJSON(raw string, v any) bool {
	var a, b any
	vb, _ := json.Marshal(v)
	return json.Unmarshal([]byte(raw), &a) == nil && json.Unmarshal(vb, &b) == nil && reflect.DeepEqual(a, b)
}

// Structured outputs, asked for the way each official SDK asks, reach
// every upstream in its own member, as the fake received it: OpenAI's
// response_format (or text.format on a Responses pass-through),
// Gemini's generationConfig.responseJsonSchema, Anthropic's
// output_config.format (the schema as anthropic-sdk-go would send it).
// DeepSeek takes JSON mode only: it gets the json_schema and refuses it,
// and the client hears that 400, never an answer without its schema.
func TestStructuredOutputsReachEveryUpstream(t *testing.T) {
	e := newClaudeEnv(t)
	schema := personSchema()
	forAnthropic, _ := anthropic.BetaJSONSchemaOutputFormat(personSchema()).Schema.(map[string]any)
	member := map[string]string{"openai": "response_format.json_schema.schema", "deepseek": "response_format.json_schema.schema",
		"gemini": "generationConfig.responseJsonSchema", "anthropic": "output_config.format.schema"}
	clients := map[string]func(model string) error{
		"chat": func(model string) error {
			_, err := e.oai().Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{Model: model,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Ada, 36")},
				ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
					JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "person", Schema: schema, Strict: openai.Bool(true)}}}})
			return err
		},
		"responses": func(model string) error {
			p := hiParams(model)
			p.Text = responses.ResponseTextConfigParam{Format: responses.ResponseFormatTextConfigUnionParam{OfJSONSchema: &responses.ResponseFormatTextJSONSchemaConfigParam{
				Name: "person", Schema: schema, Strict: openai.Bool(true)}}}
			_, err := e.oai().Responses.New(ctxTimeout(t), p)
			return err
		},
		"messages": func(model string) error {
			p := hi(model)
			p.OutputConfig = anthropic.OutputConfigParam{Format: anthropic.JSONOutputFormatParam{Schema: forAnthropic}}
			_, err := e.client().Messages.New(ctxTimeout(t), p)
			return err
		},
	}
	for client, call := range clients {
		for _, model := range claudeModels {
			t.Run(client+" to "+model, func(t *testing.T) {
				fake := e.fake(model)
				n := len(fake.Requests())
				err := call(model)
				provider, _, _ := strings.Cut(model, "/")
				path := member[provider]
				want := any(schema)
				switch {
				case provider == "anthropic" || client == "messages":
					want = forAnthropic // the Anthropic SDK's, or the bridge's by its rules
				case provider == "openai" && client == "responses":
					path = "text.format.schema" // a pass-through
				}
				if len(fake.Requests()) != n+1 {
					t.Fatalf("%d requests reached %s (err %v)", len(fake.Requests())-n, provider, err)
				}
				got := gjson.GetBytes(fake.Requests()[n].Body, path)
				if !sameJSON(got.Raw, want) {
					t.Errorf("%s got %s = %s, want %v", provider, path, got.Raw, want)
				}
				if client == "messages" && provider == "openai" && gjson.GetBytes(fake.Requests()[n].Body, "response_format.json_schema.strict").Raw != "true" {
					t.Errorf("a schema fit for strict mode was not sent strict: %s", fake.Requests()[n].Body)
				}
				if provider == "deepseek" {
					if !isStatus(err, 400) {
						t.Errorf("DeepSeek refused the schema; the client got %v", err)
					}
				} else if err != nil {
					t.Error(err)
				}
			})
		}
	}
}

// isStatus reports whether err is either SDK's API error with status.
func isStatus(err error, status int) bool {
	var oe *openai.Error
	var ae *anthropic.Error
	return errors.As(err, &oe) && oe.StatusCode == status || errors.As(err, &ae) && ae.StatusCode == status
}

// JSON mode without a schema has no Anthropic equivalent: a chat or
// Responses client asking Claude for it gets a 400 naming the member,
// before anything goes upstream, instead of free text.
func TestJSONModeToAnthropicIsRefusedNotDropped(t *testing.T) {
	e := newClaudeEnv(t)
	_, err := e.oai().Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{Model: "anthropic/claude-sonnet-4-5",
		Messages:       []openai.ChatCompletionMessageParamUnion{openai.UserMessage("json please")},
		ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &shared.ResponseFormatJSONObjectParam{}}})
	var oe *openai.Error
	if !errors.As(err, &oe) || oe.StatusCode != 400 || oe.Param != "response_format" {
		t.Errorf("chat: got %v", err)
	}
	p := hiParams("anthropic/claude-sonnet-4-5")
	p.Text = responses.ResponseTextConfigParam{Format: responses.ResponseFormatTextConfigUnionParam{OfJSONObject: &shared.ResponseFormatJSONObjectParam{}}}
	if _, err := e.oai().Responses.New(ctxTimeout(t), p); !isStatus(err, 400) {
		t.Errorf("responses: got %v", err)
	}
	if n := len(e.claude.Requests()); n != 0 {
		t.Errorf("%d requests reached Anthropic", n)
	}
}

// A native Anthropic answer that fails before its first byte, followed
// by a fallback's translated answer: the client sees the fallback's
// request id (the bridge's), not the failed upstream's, nor its limits.
func TestRequestIDAfterFailover(t *testing.T) {
	e := newClaudeEnv(t, llmbridge.WithRoute(llmbridge.Route{Name: "claude-or-gpt", Strategy: llmbridge.StrategyOrdered,
		Targets: []llmbridge.RouteTarget{{Model: "anthropic/claude-sonnet-4-5"}}, Fallbacks: []string{"openai/gpt-4o"}}))
	e.claude.Enqueue(testupstream.Reply{FailFirst: "cut"})
	var resp *http.Response
	s := e.client(aoption.WithResponseInto(&resp)).Messages.NewStreaming(ctxTimeout(t), hi("claude-or-gpt"))
	for s.Next() {
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if len(e.claude.Requests()) != 1 || len(e.openai.Requests()) != 1 {
		t.Fatalf("requests: anthropic %d, openai %d: want a failover", len(e.claude.Requests()), len(e.openai.Requests()))
	}
	if rid := resp.Header.Get("request-id"); rid != resp.Header.Get("X-Request-Id") || resp.Header.Get("anthropic-ratelimit-requests-limit") != "" {
		t.Errorf("request-id %q (X-Request-Id %q), ratelimit %q after a failover", rid, resp.Header.Get("X-Request-Id"), resp.Header.Get("anthropic-ratelimit-requests-limit"))
	}
}

// nodeStreamHelper is openai-node's chat.completions.stream helper run
// against the bridge at BASE: it prints each tool call its documented
// tool_calls.function.arguments.done event reports, then the finish
// reason.
const nodeStreamHelper = `
const { OpenAI } = require('openai');
const client = new OpenAI({ baseURL: process.env.BASE, apiKey: 'unused', maxRetries: 0 });
(async () => {
  const fn = (name) => ({ type: 'function', function: { name, parameters: { type: 'object' } } });
  const stream = client.chat.completions.stream({ model: 'gemini/gemini-2.5-flash',
    messages: [{ role: 'user', content: 'Weather and time in Paris?' }], tools: [fn('get_weather'), fn('get_time')] });
  stream.on('tool_calls.function.arguments.done', (e) => console.log(e.name + ' ' + e.arguments));
  const done = await stream.finalChatCompletion();
  console.log('finish ' + done.choices[0].finish_reason);
})().catch((e) => { console.error(e); process.exit(1); });
`

// openai-node's stream helper over a Gemini stream that sends both
// function calls with the finish reason in one event: the documented
// tool_calls.function.arguments.done fires for each call. It needs
// Node.js and the openai package: LLMBRIDGE_NODE_MODULES names a
// directory holding node_modules/openai (npm install openai there).
func TestOpenAINodeStreamHelperSeesGeminiToolCallsDone(t *testing.T) {
	dir := os.Getenv("LLMBRIDGE_NODE_MODULES")
	node, err := exec.LookPath("node")
	if dir == "" || err != nil {
		t.Skip("SKIPPING: needs node and LLMBRIDGE_NODE_MODULES (a directory where npm install openai ran)")
	}
	_, up, url := sdkFor(t, testupstream.GeminiNative, llmbridge.Gemini)
	up.Enqueue(testupstream.Reply{ToolCalls: []testupstream.ToolCall{{Name: "get_weather", Args: []string{`{"city":"Paris"}`}}, {Name: "get_time", Args: []string{`{"zone":"CET"}`}}},
		GeminiFinishInLast: true, GeminiNoResponseID: true})
	cmd := exec.CommandContext(ctxTimeout(t), node, "-e", nodeStreamHelper)
	cmd.Dir, cmd.Env = dir, append(os.Environ(), "BASE="+url+"/v1")
	out, err := cmd.CombinedOutput()
	want := "get_weather {\"city\":\"Paris\"}\nget_time {\"zone\":\"CET\"}\nfinish tool_calls\n"
	if err != nil || string(out) != want {
		t.Errorf("openai-node printed (err %v):\n%s\nwant:\n%s", err, out, want)
	}
}
