package responses

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/provider/anthropic"
)

func TestToChatRefusesBadRequests(t *testing.T) {
	for _, tc := range []struct {
		name, body, param, code, msg string
	}{
		{"not json", `{"model":`, "", "invalid_json", "not valid JSON"},
		{"not an object", `["x"]`, "", "invalid_request", "JSON object"},
		{"no model", `{"input":"hi"}`, "model", "missing_required_parameter", "model"},
		{"model type", `{"model":5,"input":"hi"}`, "model", "invalid_type", "expected a string"},
		{"no input", `{"model":"m"}`, "input", "missing_required_parameter", "input"},
		{"input type", `{"model":"m","input":5}`, "input", "invalid_value", "string or an array"},
		{"temperature type", `{"model":"m","input":"x","temperature":"hot"}`, "temperature", "invalid_type", "expected a number"},
		{"temperature range", `{"model":"m","input":"x","temperature":2.5}`, "temperature", "invalid_value", "between 0 and 2"},
		{"top_p range", `{"model":"m","input":"x","top_p":-0.1}`, "top_p", "invalid_value", "between 0 and 1"},
		{"max_output_tokens range", `{"model":"m","input":"x","max_output_tokens":0}`, "max_output_tokens", "invalid_value", "at least 1"},
		{"max_output_tokens type", `{"model":"m","input":"x","max_output_tokens":1.5}`, "max_output_tokens", "invalid_type", "integer"},
		{"stream type", `{"model":"m","input":"x","stream":"yes"}`, "stream", "invalid_type", "boolean"},
		{"effort", `{"model":"m","input":"x","reasoning":{"effort":"extreme"}}`, "reasoning.effort", "invalid_value", "extreme"},
		{"summary", `{"model":"m","input":"x","reasoning":{"summary":"long"}}`, "reasoning.summary", "invalid_value", "long"},
		{"format type", `{"model":"m","input":"x","text":{"format":{"type":"xml"}}}`, "text.format.type", "invalid_value", "xml"},
		{"schema name", `{"model":"m","input":"x","text":{"format":{"type":"json_schema","schema":{}}}}`, "text.format.name", "missing_required_parameter", "name"},
		{"schema", `{"model":"m","input":"x","text":{"format":{"type":"json_schema","name":"a"}}}`, "text.format.schema", "missing_required_parameter", "schema"},
		{"metadata value", `{"model":"m","input":"x","metadata":{"k":` + jsonQuote(strings.Repeat("v", 513)) + `}}`, "metadata.k", "invalid_value", "512"},
		{"metadata type", `{"model":"m","input":"x","metadata":{"k":1}}`, "metadata", "invalid_type", "string"},
		{"tool name", `{"model":"m","input":"x","tools":[{"type":"function"}]}`, "tools[0].name", "missing_required_parameter", "name"},
		{"tool parameters", `{"model":"m","input":"x","tools":[{"type":"function","name":"f","parameters":"{}"}]}`, "tools[0].parameters", "invalid_type", "JSON Schema"},
		{"tool type", `{"model":"m","input":"x","tools":[{"name":"f"}]}`, "tools[0].type", "missing_required_parameter", "type"},
		{"tool not object", `{"model":"m","input":"x","tools":[1]}`, "tools[0]", "invalid_value", "object"},
		{"role", `{"model":"m","input":[{"role":"robot","content":"x"}]}`, "input[0].role", "invalid_value", "robot"},
		{"no content", `{"model":"m","input":[{"role":"user"}]}`, "input[0].content", "missing_required_parameter", "content"},
		{"part type", `{"model":"m","input":[{"role":"user","content":[{"type":"input_audio"}]}]}`, "input[0].content[0].type", "invalid_value", "input_audio"},
		{"part text type", `{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":5}]}]}`, "input[0].content[0].text", "invalid_type", "string"},
		{"image without url", `{"model":"m","input":[{"role":"user","content":[{"type":"input_image"}]}]}`, "input[0].content[0].image_url", "missing_required_parameter", "image_url"},
		{"image detail", `{"model":"m","input":[{"role":"user","content":[{"type":"input_image","image_url":"data:x","detail":"max"}]}]}`, "input[0].content[0].detail", "invalid_value", "max"},
		{"image file id", `{"model":"m","input":[{"role":"user","content":[{"type":"input_image","file_id":"file-1"}]}]}`, "input[0].content[0].file_id", "unsupported_parameter", "data: or https: URL"},
		{"file url", `{"model":"m","input":[{"role":"user","content":[{"type":"input_file","file_url":"https://x/a.pdf"}]}]}`, "input[0].content[0]", "unsupported_parameter", "file_data"},
		{"call without id", `{"model":"m","input":[{"type":"function_call","name":"f","arguments":"{}"}]}`, "input[0].call_id", "missing_required_parameter", "call_id"},
		{"call arguments type", `{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f","arguments":{}}]}`, "input[0].arguments", "invalid_type", "string"},
		{"output missing", `{"model":"m","input":[{"type":"function_call_output","call_id":"c"}]}`, "input[0].output", "missing_required_parameter", "output"},
		{"output part", `{"model":"m","input":[{"type":"function_call_output","call_id":"c","output":[{"type":"output_text","text":"x"}]}]}`, "input[0].output[0].type", "invalid_value", "output_text"},
		{"unknown item", `{"model":"m","input":[{"type":"telepathy"}]}`, "input[0].type", "invalid_value", "telepathy"},
		{"item not object", `{"model":"m","input":["hi"]}`, "input[0]", "invalid_value", "object"},
		{"item reference", `{"model":"m","input":[{"type":"item_reference","id":"msg_1"}]}`, "input[0]", "unsupported_parameter", "stored items"},
		{"previous response", `{"model":"m","input":"x","previous_response_id":"resp_1"}`, "previous_response_id", "unsupported_parameter", "full conversation history"},
		{"conversation", `{"model":"m","input":"x","conversation":"conv_1"}`, "conversation", "unsupported_parameter", "store: false"},
		{"prompt", `{"model":"m","input":"x","prompt":{"id":"pmpt_1"}}`, "prompt", "unsupported_parameter", "Stored prompts"},
		{"background", `{"model":"m","input":"x","background":true}`, "background", "unsupported_parameter", "background"},
		{"tool_choice hosted", `{"model":"m","input":"x","tools":[{"type":"web_search"}],"tool_choice":{"type":"web_search"}}`, "tool_choice", "invalid_value", "cannot run"},
		{"tool_choice unknown function", `{"model":"m","input":"x","tools":[{"type":"function","name":"f"}],"tool_choice":{"type":"function","name":"g"}}`, "tool_choice.name", "invalid_value", `"g"`},
		{"tool_choice required without tools", `{"model":"m","input":"x","tools":[{"type":"file_search"}],"tool_choice":"required"}`, "tool_choice", "invalid_value", "file_search"},
		{"tool_choice string", `{"model":"m","input":"x","tool_choice":"sometimes"}`, "tool_choice", "invalid_value", "sometimes"},
		// Issue 24: decoding is case-sensitive; a member that differs from
		// a field's name only in case is refused, never bound.
		{"Model", `{"model":"m","input":"x","Model":"o1"}`, "Model", "invalid_value", `differs from "model" only in case`},
		{"Input alone", `{"model":"m","Input":"x"}`, "Input", "invalid_value", "only in case"},
		{"item Content", `{"model":"m","input":[{"role":"user","Content":"x"}]}`, "input[0].Content", "invalid_value", "only in case"},
		{"part Text", `{"model":"m","input":[{"role":"user","content":[{"type":"input_text","Text":"x"}]}]}`, "input[0].content[0].Text", "invalid_value", "only in case"},
		{"tool Parameters", `{"model":"m","input":"x","tools":[{"type":"function","name":"f","Parameters":5}]}`, "tools[0].Parameters", "invalid_value", "only in case"},
		{"format Name", `{"model":"m","input":"x","text":{"format":{"type":"json_schema","Name":"n","schema":{}}}}`, "text.format.Name", "invalid_value", "only in case"},
		{"reasoning Effort", `{"model":"m","input":"x","reasoning":{"Effort":"extreme"}}`, "reasoning.Effort", "invalid_value", "only in case"},
		{"tool_choice Name", `{"model":"m","input":"x","tools":[{"type":"function","name":"f"}],"tool_choice":{"type":"function","Name":"f"}}`, "tool_choice.Name", "invalid_value", "only in case"},
		{"tool_choice tools Name", `{"model":"m","input":"x","tools":[{"type":"function","name":"f"}],"tool_choice":{"type":"allowed_tools","mode":"auto","tools":[{"type":"function","NAME":"f"}]}}`, "tool_choice.tools[0].NAME", "invalid_value", "only in case"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chat, _, e := ToChat([]byte(tc.body))
			if e == nil {
				t.Fatalf("accepted: %+v", chat)
			}
			if e.Status != http.StatusBadRequest || e.Type != openai.TypeInvalidRequest {
				t.Errorf("status %d type %q, want 400 invalid_request_error", e.Status, e.Type)
			}
			if e.Param != tc.param || e.Code != tc.code {
				t.Errorf("param %q code %q, want %q %q (%s)", e.Param, e.Code, tc.param, tc.code, e.Message)
			}
			if !strings.Contains(e.Message, tc.msg) {
				t.Errorf("message %q does not mention %q", e.Message, tc.msg)
			}
		})
	}
}

func jsonQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

// Members lists every member Request models: the envelope refuses case
// variants of all of them.
func TestMembersCoverRequestFields(t *testing.T) {
	for _, name := range []string{"model", "instructions", "input", "stream", "tools", "tool_choice", "parallel_tool_calls",
		"max_output_tokens", "temperature", "top_p", "reasoning", "text", "previous_response_id", "store", "include", "metadata"} {
		if !requestFields.Has(name) || !Members().Has(name) {
			t.Errorf("%s: in Request %v, in Members %v", name, requestFields.Has(name), Members().Has(name))
		}
	}
}

func TestToChatAcceptsStoreFalseHistoryAndNulls(t *testing.T) {
	body := `{"model":"m","instructions":null,"previous_response_id":null,"conversation":null,"store":false,"input":[
		{"type":"message","role":"user","content":"hi","id":null,"status":null}],"tools":null,"tool_choice":null,
		"reasoning":{"effort":null,"summary":null},"text":{"format":{"type":"text"}},"truncation":"auto","prompt_cache_key":"k"}`
	chat, tr, e := ToChat([]byte(body))
	if e != nil {
		t.Fatal(e)
	}
	if len(chat.Messages) != 1 || chat.Messages[0].Content.String() != "hi" || chat.ResponseFormat != nil || chat.ReasoningEffort != "" {
		t.Errorf("chat = %+v", chat)
	}
	if tr.Request.Extra["prompt_cache_key"] == nil || tr.DroppedToolsValue() != "" {
		t.Errorf("unknown member lost or tools dropped: %v %q", tr.Request.Extra, tr.DroppedToolsValue())
	}
}

func TestToChatAllowedTools(t *testing.T) {
	chat, _, e := ToChat([]byte(`{"model":"m","input":"x","tools":[{"type":"function","name":"a"},{"type":"function","name":"b"}],
		"tool_choice":{"type":"allowed_tools","mode":"required","tools":[{"type":"function","name":"b"}]}}`))
	if e != nil {
		t.Fatal(e)
	}
	if len(chat.Tools) != 1 || chat.Tools[0].Function.Name != "b" || string(chat.ToolChoice) != `"required"` {
		t.Errorf("tools %+v choice %s", chat.Tools, chat.ToolChoice)
	}
}

func TestRequestKeepsUnknownMembers(t *testing.T) {
	body := `{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"x","cache":"y"}],"phase":"final"}],"tools":[{"type":"mcp","server_label":"s"}],"service_tier":"flex"}`
	req, e := Decode([]byte(body))
	if e != nil {
		t.Fatal(e)
	}
	out, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"cache":"y"`, `"phase":"final"`, `"server_label":"s"`, `"service_tier":"flex"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("re-encoded request lost %s: %s", want, out)
		}
	}
}

// A function call the bridge answered with comes back in the next request
// with the same call_id, and the chat target sees it as its own tool call;
// a reasoning signature it gave comes back through encrypted_content.
func TestCallIDAndSignatureRoundTrip(t *testing.T) {
	resp := &openai.ChatResponse{ID: "msg_1", Model: "claude", Choices: []openai.Choice{{FinishReason: "tool_calls", Message: openai.Message{
		Role: "assistant", Content: openai.NullContent(), ReasoningContent: "thinking",
		Extra:     map[string]json.RawMessage{anthropic.SignatureField: json.RawMessage(`"SIG=="`)},
		ToolCalls: []openai.ToolCall{{ID: "toolu_9", Type: "function", Function: openai.FunctionCall{Name: "shell", Arguments: `{"cmd":"ls"}`}}}}}}}
	body, err := FromChat(resp, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Output []json.RawMessage `json:"output"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	items := `[{"role":"user","content":"ls please"},` + string(out.Output[0]) + "," + string(out.Output[1]) +
		`,{"type":"function_call_output","call_id":"toolu_9","output":"a.txt"}]`
	chat, _, e := ToChat([]byte(`{"model":"m","input":` + items + `}`))
	if e != nil {
		t.Fatal(e)
	}
	if len(chat.Messages) != 3 {
		t.Fatalf("messages: %+v", chat.Messages)
	}
	a := chat.Messages[1]
	if len(a.ToolCalls) != 1 || a.ToolCalls[0].ID != "toolu_9" || a.ToolCalls[0].Function.Arguments != `{"cmd":"ls"}` {
		t.Errorf("tool call = %+v", a.ToolCalls)
	}
	if a.ReasoningContent != "thinking" || string(a.Extra[anthropic.SignatureField]) != `"SIG=="` {
		t.Errorf("reasoning %q signature %s", a.ReasoningContent, a.Extra[anthropic.SignatureField])
	}
	if m := chat.Messages[2]; m.Role != "tool" || m.ToolCallID != "toolu_9" || m.Content.String() != "a.txt" {
		t.Errorf("tool result = %+v", m)
	}
}

func TestFromChatWithoutUsageOrID(t *testing.T) {
	resp := &openai.ChatResponse{Model: "m", Choices: []openai.Choice{{FinishReason: "stop", Message: openai.Message{Role: "assistant", Content: openai.TextContent("")}}}}
	body, err := FromChat(resp, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		ID     string            `json:"id"`
		Status string            `json:"status"`
		Usage  json.RawMessage   `json:"usage"`
		Output []json.RawMessage `json:"output"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.ID, "resp_") || len(out.ID) < 20 || out.Status != "completed" || string(out.Usage) != "null" || len(out.Output) != 1 {
		t.Errorf("response = %s", body)
	}
}

// Codex sends back a call the upstream streamed before its text as
// function_call, assistant message, function_call_output. Chat APIs want
// the tool result right after the message holding the call: the text joins
// that message.
func TestTextAfterAToolCallJoinsItsMessage(t *testing.T) {
	body := `{"model":"m","input":[
		{"type":"message","role":"user","content":"run it"},
		{"type":"function_call","call_id":"call_1","name":"shell","arguments":"{}"},
		{"type":"message","role":"assistant","content":[{"type":"output_text","text":"I'll run it."}]},
		{"type":"function_call_output","call_id":"call_1","output":"done"}]}`
	chat, _, e := ToChat([]byte(body))
	if e != nil {
		t.Fatal(e)
	}
	var got []string
	for _, m := range chat.Messages {
		got = append(got, m.Role+":"+m.Content.String()+":"+strings.Repeat("call", len(m.ToolCalls)))
	}
	if strings.Join(got, "|") != "user:run it:|assistant:I'll run it.:call|tool:done:" {
		t.Errorf("history %q", got)
	}
}
