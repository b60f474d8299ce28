package llmbridge_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge/internal/testupstream"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"
	"github.com/tidwall/gjson"
)

// The Responses API tests run the official OpenAI SDK's Responses client,
// as Codex CLI and the Agents SDK call a gateway, against the bridge in
// front of an OpenAI fake (pass-through to its /v1/responses), a DeepSeek,
// a Gemini (native) and an Anthropic fake (translated).

// oai is the OpenAI SDK pointed at the bridge (base_url …/v1).
func (e *claudeEnv) oai() *openai.Client {
	c := openai.NewClient(option.WithBaseURL(e.srv.URL+"/v1"), option.WithAPIKey(accessKey), option.WithMaxRetries(0))
	return &c
}

// fake returns the fake behind a "provider/model" name.
func (e *claudeEnv) fake(model string) *testupstream.Server {
	switch model[:strings.IndexByte(model, '/')] {
	case "openai":
		return e.openai
	case "deepseek":
		return e.deepseek
	case "gemini":
		return e.gemini
	}
	return e.claude
}

// lastBody is the body of the latest request a fake received.
func lastBody(t *testing.T, s *testupstream.Server) []byte {
	t.Helper()
	reqs := s.Requests()
	if len(reqs) == 0 {
		t.Fatal("the fake received no request")
	}
	return reqs[len(reqs)-1].Body
}

func hiParams(model string) responses.ResponseNewParams {
	return responses.ResponseNewParams{Model: model, Instructions: openai.String("Be brief."),
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Hi")}}
}

// streamResponse runs a streaming call and returns every event, checking
// the sequence numbers run 0, 1, … and feeding the SDK's accumulator.
func streamResponse(t *testing.T, c *openai.Client, params responses.ResponseNewParams) ([]responses.ResponseStreamEventUnion, *responses.ResponseAccumulator) {
	t.Helper()
	stream := c.Responses.NewStreaming(ctxTimeout(t), params)
	defer stream.Close()
	var events []responses.ResponseStreamEventUnion
	acc := &responses.ResponseAccumulator{}
	for stream.Next() {
		ev := stream.Current()
		if ev.SequenceNumber != int64(len(events)) {
			t.Errorf("event %d (%s) has sequence_number %d", len(events), ev.Type, ev.SequenceNumber)
		}
		var u responses.ResponsesServerEventUnion
		if err := json.Unmarshal([]byte(ev.RawJSON()), &u); err != nil {
			t.Fatal(err)
		}
		if err := acc.AddEvent(u); err != nil {
			t.Fatalf("the accumulator refused event %d (%s): %v", len(events), ev.Type, err)
		}
		events = append(events, ev)
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(events) == 0 {
		t.Fatal("no events")
	}
	return events, acc
}

func TestResponsesSDKNonStreaming(t *testing.T) {
	e := newClaudeEnv(t)
	for i, model := range claudeModels {
		t.Run(model, func(t *testing.T) {
			resp, err := e.oai().Responses.New(ctxTimeout(t), hiParams(model))
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != "completed" || resp.Object != "response" || resp.OutputText() != "Hello world" {
				t.Errorf("response %s", resp.RawJSON())
			}
			if resp.Usage.InputTokens != 9 || resp.Usage.OutputTokens != 2 || resp.Usage.TotalTokens != 11 {
				t.Errorf("usage %s", resp.Usage.RawJSON())
			}
			up := e.fake(model).Requests()
			path := up[len(up)-1].Path
			if native := strings.HasPrefix(model, "openai/"); native != (path == "/v1/responses") {
				t.Errorf("upstream path %s", path)
			}
			rec := e.lastRecord(t, i+1)
			if rec.Format != "responses" || rec.Provider != model[:strings.IndexByte(model, '/')] || rec.Status != 200 ||
				rec.PromptTokens != 9 || rec.CompletionTokens != 2 || rec.TotalTokens != 11 || rec.Estimated || rec.Stream {
				t.Errorf("record %+v", rec)
			}
		})
	}
}

func TestResponsesSDKStreamAccumulated(t *testing.T) {
	e := newClaudeEnv(t)
	for i, model := range claudeModels {
		t.Run(model, func(t *testing.T) {
			e.fake(model).Enqueue(testupstream.Reply{Content: []string{"Hello", ",", " world"}, Usage: testupstream.Usage{Prompt: 12, Completion: 3, Cached: 4}})
			events, acc := streamResponse(t, e.oai(), hiParams(model))
			if events[0].Type != "response.created" || events[1].Type != "response.in_progress" {
				t.Errorf("stream starts with %s, %s", events[0].Type, events[1].Type)
			}
			last := events[len(events)-1]
			final := last.AsResponseCompleted().Response
			if last.Type != "response.completed" || final.OutputText() != "Hello, world" {
				t.Errorf("last event %s", last.RawJSON())
			}
			if u := final.Usage; u.InputTokens != 12 || u.OutputTokens != 3 || u.InputTokensDetails.CachedTokens != 4 {
				t.Errorf("usage %s", u.RawJSON())
			}
			snap := acc.Snapshot()
			if snap.TerminalEvent != "response.completed" || len(snap.Output) != 1 || snap.Output[0].Text[0] != "Hello, world" {
				t.Errorf("snapshot %+v", snap)
			}
			rec := e.lastRecord(t, i+1)
			if rec.Format != "responses" || !rec.Stream || rec.PromptTokens != 12 || rec.CompletionTokens != 3 || rec.CachedTokens != 4 || rec.TTFT <= 0 {
				t.Errorf("record %+v", rec)
			}
		})
	}
}

// A tool round trip as Codex makes it: the model calls shell, the client
// runs it and sends the whole history back (store: false) with the
// function_call and its function_call_output.
func TestResponsesSDKTwoTurnFunctionCall(t *testing.T) {
	e := newClaudeEnv(t)
	shell := responses.ToolParamOfFunction("shell", map[string]any{"type": "object",
		"properties": map[string]any{"command": map[string]any{"type": "array", "items": map[string]any{"type": "string"}}},
		"required":   []string{"command"}, "additionalProperties": false}, true)
	for _, model := range claudeModels {
		t.Run(model, func(t *testing.T) {
			fake := e.fake(model)
			fake.Enqueue(testupstream.Reply{ToolCalls: []testupstream.ToolCall{{ID: "call_shell_1", Name: "shell", Args: []string{`{"command":`, `["ls"]}`}}},
				Usage: testupstream.Usage{Prompt: 30, Completion: 8}})
			params := hiParams(model)
			params.Input = responses.ResponseNewParamsInputUnion{OfString: openai.String("List the files.")}
			params.Tools = []responses.ToolUnionParam{shell}
			params.Store = openai.Bool(false)
			events, _ := streamResponse(t, e.oai(), params)
			final := events[len(events)-1].AsResponseCompleted().Response
			var call responses.ResponseFunctionToolCall
			for _, it := range final.Output {
				if it.Type == "function_call" {
					call = it.AsFunctionCall()
				}
			}
			if call.Name != "shell" || call.Arguments != `{"command":["ls"]}` || call.CallID == "" {
				t.Fatalf("function call %+v in %s", call, final.RawJSON())
			}

			output := responses.ResponseInputItemParamOfFunctionCallOutput[string]("README.md\ngo.mod")
			output.OfFunctionCallOutput.CallID = openai.String(call.CallID)
			params.Input = responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
				responses.ResponseInputItemParamOfMessage("List the files.", responses.EasyInputMessageRoleUser),
				responses.ResponseInputItemParamOfFunctionCall(call.Arguments, call.CallID, call.Name),
				output,
			}}
			resp, err := e.oai().Responses.New(ctxTimeout(t), params)
			if err != nil {
				var apiErr *openai.Error
				if errors.As(err, &apiErr) {
					t.Fatalf("%v: %s", err, apiErr.RawJSON())
				}
				t.Fatal(err)
			}
			if resp.OutputText() != "Hello world" {
				t.Errorf("second turn %s", resp.RawJSON())
			}
			body := string(lastBody(t, fake))
			if !strings.Contains(body, `README.md\ngo.mod`) || !strings.Contains(body, `"shell"`) {
				t.Errorf("the upstream did not get the tool round trip: %s", body)
			}
			// The call id round-trips to every target that uses ids (Gemini
			// matches results by name).
			if !strings.HasPrefix(model, "gemini/") && !strings.Contains(body, call.CallID) {
				t.Errorf("call id %q missing upstream: %s", call.CallID, body)
			}
		})
	}
}

func TestResponsesSDKReasoningEffort(t *testing.T) {
	e := newClaudeEnv(t)
	// How each upstream was asked to reason.
	asked := map[string]string{
		"openai":    "reasoning.effort",
		"deepseek":  "reasoning_effort",
		"gemini":    "generationConfig.thinkingConfig",
		"anthropic": "thinking",
	}
	for _, model := range claudeModels {
		t.Run(model, func(t *testing.T) {
			fake := e.fake(model)
			fake.Enqueue(testupstream.Reply{Reasoning: []string{"Let me", " think."}, Content: []string{"42"},
				Usage: testupstream.Usage{Prompt: 10, Completion: 20, Reasoning: 15}})
			params := hiParams(model)
			params.Reasoning = shared.ReasoningParam{Effort: shared.ReasoningEffortHigh, Summary: shared.ReasoningSummaryAuto}
			events, _ := streamResponse(t, e.oai(), params)
			var summary strings.Builder
			for _, ev := range events {
				if ev.Type == "response.reasoning_summary_text.delta" {
					summary.WriteString(ev.Delta)
				}
			}
			final := events[len(events)-1].AsResponseCompleted().Response
			if summary.String() != "Let me think." || final.OutputText() != "42" || final.Output[0].Type != "reasoning" {
				t.Errorf("summary %q, final %s", summary.String(), final.RawJSON())
			}
			// Anthropic counts thinking in output_tokens without a breakdown.
			if final.Usage.OutputTokensDetails.ReasoningTokens == 0 && !strings.HasPrefix(model, "anthropic/") {
				t.Errorf("no reasoning tokens: %s", final.Usage.RawJSON())
			}
			if r := gjson.GetBytes(lastBody(t, fake), asked[model[:strings.IndexByte(model, '/')]]); !r.Exists() {
				t.Errorf("the upstream was not asked to reason: %s", lastBody(t, fake))
			}
		})
	}
}

func TestResponsesSDKStructuredOutput(t *testing.T) {
	e := newClaudeEnv(t)
	// Where each upstream got the schema. DeepSeek takes JSON mode only
	// and refuses it (the client hears its 400).
	schemaAt := map[string]string{
		"openai":    "text.format.schema.properties.city",
		"deepseek":  "response_format.json_schema.schema.properties.city",
		"gemini":    "generationConfig.responseJsonSchema.properties.city",
		"anthropic": "output_config.format.schema.properties.city",
	}
	for _, model := range claudeModels {
		t.Run(model, func(t *testing.T) {
			fake := e.fake(model)
			fake.Enqueue(testupstream.Reply{Content: []string{`{"city":`, `"Paris"}`}, Usage: testupstream.Usage{Prompt: 10, Completion: 6}})
			params := hiParams(model)
			params.Text = responses.ResponseTextConfigParam{Format: responses.ResponseFormatTextConfigUnionParam{
				OfJSONSchema: &responses.ResponseFormatTextJSONSchemaConfigParam{Name: "place", Strict: openai.Bool(true), Schema: map[string]any{
					"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []string{"city"}, "additionalProperties": false}}}}
			resp, err := e.oai().Responses.New(ctxTimeout(t), params)
			path := schemaAt[model[:strings.IndexByte(model, '/')]]
			if !gjson.GetBytes(lastBody(t, fake), path).Exists() {
				t.Errorf("%s missing upstream: %s", path, lastBody(t, fake))
			}
			if strings.HasPrefix(model, "deepseek/") {
				var ae *openai.Error
				if !errors.As(err, &ae) || ae.StatusCode != 400 || !strings.Contains(ae.Message, "response_format") {
					t.Errorf("DeepSeek's refusal of the schema: got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var out struct{ City string }
			if err := json.Unmarshal([]byte(resp.OutputText()), &out); err != nil || out.City != "Paris" {
				t.Errorf("output %q: %v", resp.OutputText(), err)
			}
			// A translated answer echoes the format (the OpenAI fake's does not).
			if !strings.HasPrefix(model, "openai/") && (resp.Text.Format.Type != "json_schema" || resp.Text.Format.Name != "place") {
				t.Errorf("text.format echoed as %s", resp.Text.RawJSON())
			}
		})
	}
}

// previous_response_id needs the state only an OpenAI upstream keeps: a
// translated route refuses it, saying what to send instead; the
// pass-through forwards it.
func TestResponsesPreviousResponseID(t *testing.T) {
	e := newClaudeEnv(t)
	for _, model := range claudeModels[1:] {
		params := hiParams(model)
		params.PreviousResponseID = openai.String("resp_123")
		before := len(e.fake(model).Requests())
		_, err := e.oai().Responses.New(ctxTimeout(t), params)
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Param != "previous_response_id" || !strings.Contains(apiErr.Message, "full conversation history") {
			t.Errorf("%s: %v", model, err)
		}
		if n := len(e.fake(model).Requests()); n != before {
			t.Errorf("%s: the refused request went upstream", model)
		}
	}
	params := hiParams("openai/gpt-4o")
	params.PreviousResponseID = openai.String("resp_123")
	if _, err := e.oai().Responses.New(ctxTimeout(t), params); err != nil {
		t.Fatal(err)
	}
	if got := gjson.GetBytes(lastBody(t, e.openai), "previous_response_id").Str; got != "resp_123" {
		t.Errorf("previous_response_id upstream = %q", got)
	}
}

// rawPost sends a Responses body to the bridge and returns the answer.
func (e *claudeEnv) rawPost(t *testing.T, url, key, body string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// The pass-through changes nothing but the model: members the bridge does
// not know reach OpenAI as sent, and the answer — stream events the bridge
// does not know included — reaches the client byte for byte.
func TestResponsesPassThroughFidelity(t *testing.T) {
	e := newClaudeEnv(t)
	const rest = `,"input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"Hi"}]},{"type":"reasoning","id":"rs_1","summary":[],"encrypted_content":"gAAAAB-opaque"}],` +
		`"store":false,"include":["reasoning.encrypted_content"],"prompt_cache_key":"k1","tools":[{"type":"web_search"}],"future_member":{"x":[1,2]}`
	unknown := "event: response.future_event\ndata: {\"type\":\"response.future_event\",\"payload\":{\"a\":1},\"sequence_number\":2}\n\n"
	for _, stream := range []bool{false, true} {
		body := `{"model":"openai/gpt-4o"` + rest + `,"stream":` + map[bool]string{false: "false", true: "true"}[stream] + `}`
		reply := testupstream.Reply{Content: []string{"Hel", "lo"}, Usage: testupstream.Usage{Prompt: 5, Completion: 2}, RawEvents: []string{unknown}}
		e.openai.Enqueue(reply, reply)
		resp, got := e.rawPost(t, e.srv.URL+"/v1/responses", accessKey, body)
		if resp.StatusCode != 200 {
			t.Fatalf("stream=%v: %d %s", stream, resp.StatusCode, got)
		}
		sent := lastBody(t, e.openai)
		if want := strings.Replace(body, `"openai/gpt-4o"`, `"gpt-4o"`, 1); string(sent) != want {
			t.Errorf("stream=%v: upstream got\n%s\nwant\n%s", stream, sent, want)
		}
		_, direct := e.rawPost(t, e.openai.BaseURL()+"/responses", e.openai.Key, string(sent))
		if string(got) != string(direct) {
			t.Errorf("stream=%v: relayed\n%s\nupstream sent\n%s", stream, got, direct)
		}
		if stream && !strings.Contains(string(got), unknown) {
			t.Errorf("the unknown event was not relayed")
		}
	}
}

// sseEvents splits an event-stream body into (name, data) pairs.
func sseEvents(t *testing.T, body []byte) [][2]string {
	t.Helper()
	var out [][2]string
	var name string
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			name = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			out = append(out, [2]string{name, line[len("data: "):]})
			name = ""
		}
	}
	return out
}

// A stream cut after it started ends with response.failed, numbered after
// the last event the client got — translated or passed through — and
// never with a completion.
func TestResponsesStreamFailsMidway(t *testing.T) {
	e := newClaudeEnv(t)
	for i, model := range []string{"openai/gpt-4o", "deepseek/deepseek-chat"} {
		t.Run(model, func(t *testing.T) {
			e.fake(model).Enqueue(testupstream.Reply{Content: []string{"a", "b", "c", "d", "e"}, CutAfter: 5})
			resp, body := e.rawPost(t, e.srv.URL+"/v1/responses", accessKey, `{"model":"`+model+`","input":"Hi","stream":true}`)
			if resp.StatusCode != 200 {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			events := sseEvents(t, body)
			for j, ev := range events {
				if got := gjson.Get(ev[1], "sequence_number").Int(); got != int64(j) || gjson.Get(ev[1], "type").Str != ev[0] {
					t.Errorf("event %d: %s %s", j, ev[0], ev[1])
				}
				if ev[0] == "response.completed" {
					t.Errorf("a cut stream completed")
				}
			}
			last := events[len(events)-1]
			if last[0] != "response.failed" || gjson.Get(last[1], "response.status").Str != "failed" || gjson.Get(last[1], "response.error.message").Str == "" {
				t.Errorf("last event %s %s", last[0], last[1])
			}
			rec := e.lastRecord(t, i+1)
			if rec.Status != 200 || rec.Error == "" {
				t.Errorf("record %+v", rec)
			}
		})
	}
}

// Hosted tools a chat target cannot run are dropped and named in a header;
// malformed bodies get a 400 in OpenAI's shape before anything goes
// upstream.
func TestResponsesDroppedToolsAndBadBodies(t *testing.T) {
	e := newClaudeEnv(t)
	for _, stream := range []string{"false", "true"} {
		resp, body := e.rawPost(t, e.srv.URL+"/v1/responses", accessKey,
			`{"model":"deepseek/deepseek-chat","input":"Hi","stream":`+stream+`,"tools":[{"type":"web_search"},{"type":"function","name":"f","parameters":{"type":"object"}},{"type":"code_interpreter","container":{"type":"auto"}}]}`)
		if resp.StatusCode != 200 || resp.Header.Get("X-LLMBridge-Dropped-Tools") != "web_search,code_interpreter" {
			t.Errorf("stream=%s: %d %q %s", stream, resp.StatusCode, resp.Header.Get("X-LLMBridge-Dropped-Tools"), body)
		}
		if tools := gjson.GetBytes(lastBody(t, e.deepseek), "tools.#.function.name").String(); tools != `["f"]` {
			t.Errorf("stream=%s: upstream tools %s", stream, tools)
		}
	}
	before := len(e.deepseek.Requests()) + len(e.openai.Requests())
	for _, tc := range []struct{ body, param string }{
		{`{"model":"deepseek/deepseek-chat","input":"Hi"`, ""},
		{`[]`, ""},
		{`{"input":"Hi"}`, "model"},
		{`{"model":"openai/gpt-4o","input":"Hi","stream":"yes"}`, "stream"},
		{`{"model":"deepseek/deepseek-chat","input":[{"type":"message","role":"robot","content":"x"}]}`, "input[0].role"},
		{`{"model":"deepseek/deepseek-chat","input":"Hi","temperature":3}`, "temperature"},
	} {
		resp, body := e.rawPost(t, e.srv.URL+"/v1/responses", accessKey, tc.body)
		if resp.StatusCode != 400 || gjson.GetBytes(body, "error.type").Str != "invalid_request_error" || gjson.GetBytes(body, "error.param").Str != tc.param {
			t.Errorf("%s: %d %s", tc.body, resp.StatusCode, body)
		}
	}
	if after := len(e.deepseek.Requests()) + len(e.openai.Requests()); after != before {
		t.Errorf("%d bad requests went upstream", after-before)
	}
	// Upstream errors keep OpenAI's shape and status.
	e.deepseek.Enqueue(testupstream.Reply{Status: 401})
	_, err := e.oai().Responses.New(ctxTimeout(t), hiParams("deepseek/deepseek-chat"))
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
		t.Errorf("upstream 401: %v", err)
	}
}
