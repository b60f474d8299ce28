package responses

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge/internal/openai"
	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The official SDK decodes FromChat's output: items, call ids, text,
// reasoning, status and usage.
func TestSDKDecodesResponse(t *testing.T) {
	var resp responses.Response
	if err := json.Unmarshal(readFile(t, "response_reasoning_tools.golden.json"), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Status != "completed" || resp.Object != "response" || resp.OutputText() != "Let me check both." {
		t.Errorf("status %q object %q text %q", resp.Status, resp.Object, resp.OutputText())
	}
	if len(resp.Output) != 4 {
		t.Fatalf("output has %d items", len(resp.Output))
	}
	rs := resp.Output[0].AsReasoning()
	if rs.Type != "reasoning" || len(rs.Summary) != 1 || rs.Summary[0].Text != "The user wants the weather in two cities." || rs.EncryptedContent != "llmbridge:EqQBCkgIARABGAIiQL" {
		t.Errorf("reasoning item = %+v", rs)
	}
	for i, want := range []string{"toolu_01A", "toolu_01B"} {
		fc := resp.Output[2+i].AsFunctionCall()
		if fc.CallID != want || fc.Name != "get_weather" || !json.Valid([]byte(fc.Arguments)) {
			t.Errorf("call %d = %+v", i, fc)
		}
	}
	u := resp.Usage
	if u.InputTokens != 412 || u.OutputTokens != 96 || u.TotalTokens != 508 || u.InputTokensDetails.CachedTokens != 256 || u.OutputTokensDetails.ReasoningTokens != 40 {
		t.Errorf("usage = %+v", u)
	}
	if resp.Instructions.OfString != "Be brief." || resp.MaxOutputTokens != 1024 || len(resp.Tools) != 1 || resp.Tools[0].Name != "get_weather" {
		t.Errorf("echo: instructions %q max %d tools %+v", resp.Instructions.OfString, resp.MaxOutputTokens, resp.Tools)
	}

	var inc responses.Response
	if err := json.Unmarshal(readFile(t, "response_length.golden.json"), &inc); err != nil {
		t.Fatal(err)
	}
	if inc.Status != "incomplete" || inc.IncompleteDetails.Reason != "max_output_tokens" || inc.OutputText() != "The capital of France is" {
		t.Errorf("incomplete response: status %q reason %q text %q", inc.Status, inc.IncompleteDetails.Reason, inc.OutputText())
	}
}

// serveEvents answers every request with events as an SSE stream.
func serveEvents(t *testing.T, events []Event) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/responses" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		_, _ = w.Write(sse(events))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func streamWith(t *testing.T, events []Event) []responses.ResponseStreamEventUnion {
	srv := serveEvents(t, events)
	client := sdk.NewClient(option.WithBaseURL(srv.URL+"/v1"), option.WithAPIKey("sk-test"), option.WithMaxRetries(0))
	stream := client.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{
		Model: "m", Input: responses.ResponseNewParamsInputUnion{OfString: sdk.String("hi")}})
	defer stream.Close()
	var got []responses.ResponseStreamEventUnion
	for stream.Next() {
		got = append(got, stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

func encodeFile(t *testing.T, name string) []Event {
	enc := NewStreamEncoder(&Translation{Clock: fixedClock})
	var events []Event
	for _, ch := range readChunks(t, name) {
		events = enc.Chunk(events, ch)
	}
	return enc.End(events)
}

// The SDK's streaming client reads the encoder's events, and its
// accumulator rebuilds the response from them: reasoning, parallel calls
// with their call ids and arguments, and usage.
func TestSDKStreamsAndAccumulates(t *testing.T) {
	events := encodeFile(t, "stream_deepseek_reasoning_tools.chunks.jsonl")
	got := streamWith(t, events)
	if len(got) != len(events) {
		t.Fatalf("SDK read %d events, encoder wrote %d", len(got), len(events))
	}
	var acc responses.ResponseAccumulator
	var summary strings.Builder
	args := map[string]string{}
	for i, ev := range got {
		if ev.Type != events[i].Name || ev.SequenceNumber != int64(i) {
			t.Errorf("event %d: type %q seq %d", i, ev.Type, ev.SequenceNumber)
		}
		switch ev.Type {
		case "response.reasoning_summary_text.delta":
			summary.WriteString(ev.Delta)
		case "response.function_call_arguments.done":
			args[ev.ItemID] = ev.AsResponseFunctionCallArgumentsDone().Arguments
		}
		var wsEvent responses.ResponsesServerEventUnion
		if err := json.Unmarshal([]byte(ev.RawJSON()), &wsEvent); err != nil {
			t.Fatal(err)
		}
		if err := acc.AddEvent(wsEvent); err != nil {
			t.Fatalf("accumulator refused event %d (%s): %v", i, ev.Type, err)
		}
	}
	if summary.String() != "Need both cities." {
		t.Errorf("summary deltas %q", summary.String())
	}
	final := got[len(got)-1].AsResponseCompleted().Response
	if final.Status != "completed" || final.Usage.InputTokens != 6 || final.Usage.OutputTokens != 212 || final.Usage.OutputTokensDetails.ReasoningTokens != 198 || final.Usage.TotalTokens != 218 {
		t.Errorf("final: status %q usage %+v", final.Status, final.Usage)
	}
	snap := acc.Snapshot()
	if snap.TerminalEvent != "response.completed" || len(snap.Output) != 3 {
		t.Fatalf("snapshot: %+v", snap)
	}
	for i, want := range []struct{ callID, args string }{{"call_a", `{"city":"Paris"}`}, {"call_b", `{"city":"Tokyo"}`}} {
		o := snap.Output[1+i]
		if o.Type != "function_call" || o.CallID != want.callID || o.Arguments != want.args || args[o.ItemID] != want.args {
			t.Errorf("accumulated call %d = %+v", i, o)
		}
	}
	rebuilt, err := acc.ReconstructedResponse()
	if err != nil {
		t.Fatal(err)
	}
	if rebuilt.Output[0].AsReasoning().Summary[0].Text != "Need both cities." {
		t.Errorf("rebuilt reasoning = %+v", rebuilt.Output[0])
	}
}

func TestSDKReadsTextStreamIncompleteAndFailed(t *testing.T) {
	got := streamWith(t, encodeFile(t, "stream_text.chunks.jsonl"))
	var text strings.Builder
	for _, ev := range got {
		if ev.Type == "response.output_text.delta" {
			text.WriteString(ev.Delta)
		}
	}
	final := got[len(got)-1].AsResponseCompleted().Response
	if text.String() != "The capital of France is \"Paris\".\n" || final.OutputText() != text.String() || final.Usage.InputTokensDetails.CachedTokens != 64 {
		t.Errorf("text %q final %q usage %+v", text.String(), final.OutputText(), final.Usage)
	}

	got = streamWith(t, encodeFile(t, "stream_anthropic_signature_length.chunks.jsonl"))
	last := got[len(got)-1]
	inc := last.AsResponseIncomplete().Response
	if last.Type != "response.incomplete" || inc.IncompleteDetails.Reason != "max_output_tokens" || inc.Output[0].AsReasoning().EncryptedContent != "llmbridge:EqQBCkgIARAB" {
		t.Errorf("incomplete: %s", last.RawJSON())
	}

	enc := NewStreamEncoder(nil)
	chunks := readChunks(t, "stream_text.chunks.jsonl")
	events := enc.Chunk(nil, chunks[0])
	events = enc.Chunk(events, chunks[1])
	events = enc.Fail(events, &openai.APIError{Status: 502, Message: "upstream closed the stream"})
	events = enc.End(events) // ignored after Fail
	checkStreamInvariants(t, events)
	got = streamWith(t, events)
	failed := got[len(got)-1]
	resp := failed.AsResponseFailed().Response
	if failed.Type != "response.failed" || resp.Status != "failed" || resp.Error.Code != "server_error" || resp.Error.Message != "upstream closed the stream" {
		t.Errorf("failed event: %s", failed.RawJSON())
	}
	if resp.Output[0].Status != "incomplete" || resp.OutputText() != "The capital" {
		t.Errorf("failed output: %+v", resp.Output)
	}

	ev := FailedEvent(&openai.APIError{Status: 429, Message: "slow down"})
	var u responses.ResponseStreamEventUnion
	if err := json.Unmarshal(ev.Data, &u); err != nil {
		t.Fatal(err)
	}
	if u.Type != "response.failed" || u.AsResponseFailed().Response.Error.Code != "rate_limit_exceeded" {
		t.Errorf("FailedEvent: %s", ev.Data)
	}
}

// The final response of a stream has the same output as FromChat gives
// for the same answer whole.
func TestStreamMatchesFromChat(t *testing.T) {
	events := encodeFile(t, "stream_deepseek_reasoning_tools.chunks.jsonl")
	var last struct {
		Response struct {
			Output json.RawMessage `json:"output"`
			Usage  json.RawMessage `json:"usage"`
		} `json:"response"`
	}
	if err := json.Unmarshal(events[len(events)-1].Data, &last); err != nil {
		t.Fatal(err)
	}
	whole := &openai.ChatResponse{ID: "33be18fc", Model: "deepseek-reasoner", Choices: []openai.Choice{{FinishReason: "tool_calls", Message: openai.Message{
		Role: "assistant", ReasoningContent: "Need both cities.", ToolCalls: []openai.ToolCall{
			{ID: "call_a", Type: "function", Function: openai.FunctionCall{Name: "get_weather", Arguments: `{"city":"Paris"}`}},
			{ID: "call_b", Type: "function", Function: openai.FunctionCall{Name: "get_weather", Arguments: `{"city":"Tokyo"}`}}}}}},
		Usage: &openai.Usage{PromptTokens: 6, CompletionTokens: 212, TotalTokens: 218, CompletionTokensDetails: &openai.CompletionTokensDetails{ReasoningTokens: 198}}}
	body, err := FromChat(whole, nil)
	if err != nil {
		t.Fatal(err)
	}
	var one struct {
		Output json.RawMessage `json:"output"`
		Usage  json.RawMessage `json:"usage"`
	}
	if err := json.Unmarshal(body, &one); err != nil {
		t.Fatal(err)
	}
	if string(one.Output) != string(last.Response.Output) || string(one.Usage) != string(last.Response.Usage) {
		t.Errorf("stream output\n%s\nFromChat output\n%s", last.Response.Output, one.Output)
	}
}
