package testupstream

import (
	"context"
	"strings"
	"testing"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func sdkClient(s *Server) sdk.Client {
	return sdk.NewClient(option.WithBaseURL(s.BaseURL()), option.WithAPIKey(s.Key), option.WithMaxRetries(0))
}

// The official SDK reads the fake's Responses stream event by event, in
// sequence, and finds the scripted reasoning, text, call and usage.
func TestFakeResponsesStreamReadBySDK(t *testing.T) {
	s := New(t, OpenAI)
	s.Enqueue(Reply{Reasoning: []string{"Think", "ing."}, Content: []string{"Hel", "lo"},
		ToolCalls: []ToolCall{{ID: "call_1", Name: "shell", Args: []string{`{"cmd":`, `"ls"}`}}},
		Usage:     Usage{Prompt: 30, Completion: 12, Reasoning: 5, Cached: 10}})
	client := sdkClient(s)
	stream := client.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{
		Model: "gpt-5", Input: responses.ResponseNewParamsInputUnion{OfString: sdk.String("hi")}})
	defer stream.Close()
	var names []string
	var text, args strings.Builder
	var final responses.Response
	for i := 0; stream.Next(); i++ {
		ev := stream.Current()
		if ev.SequenceNumber != int64(i) {
			t.Errorf("event %d has sequence_number %d", i, ev.SequenceNumber)
		}
		names = append(names, ev.Type)
		switch ev.Type {
		case "response.output_text.delta":
			text.WriteString(ev.Delta)
		case "response.function_call_arguments.delta":
			args.WriteString(ev.Delta)
		case "response.completed":
			final = ev.AsResponseCompleted().Response
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if names[0] != "response.created" || names[1] != "response.in_progress" || names[len(names)-1] != "response.completed" {
		t.Errorf("events %v", names)
	}
	if text.String() != "Hello" || args.String() != `{"cmd":"ls"}` || final.OutputText() != "Hello" {
		t.Errorf("text %q args %q final %q", text.String(), args.String(), final.OutputText())
	}
	if len(final.Output) != 3 || final.Output[2].AsFunctionCall().CallID != "call_1" || final.Output[0].AsReasoning().Summary[0].Text != "Thinking." {
		t.Errorf("output %+v", final.Output)
	}
	if u := final.Usage; u.InputTokens != 30 || u.OutputTokens != 12 || u.TotalTokens != 42 || u.InputTokensDetails.CachedTokens != 10 || u.OutputTokensDetails.ReasoningTokens != 5 {
		t.Errorf("usage %+v", u)
	}
	if got := s.Requests()[0]; got.Path != "/v1/responses" || !strings.Contains(string(got.Body), `"stream":true`) {
		t.Errorf("request %s %s", got.Path, got.Body)
	}
}

func TestFakeResponsesNonStreamAndFaults(t *testing.T) {
	s := New(t, OpenAI)
	client := sdkClient(s)
	params := responses.ResponseNewParams{Model: "gpt-5", Input: responses.ResponseNewParamsInputUnion{OfString: sdk.String("hi")}}
	resp, err := client.Responses.New(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	if resp.OutputText() != "Hello world" || resp.Usage.InputTokens != 9 || resp.Status != "completed" {
		t.Errorf("response %s", resp.RawJSON())
	}

	s.Enqueue(Reply{Status: 429})
	if _, err := client.Responses.New(context.Background(), params); err == nil || !strings.Contains(err.Error(), "429") {
		t.Errorf("error = %v", err)
	}

	s.Enqueue(Reply{Content: []string{"a", "b", "c"}, ErrorEvent: true})
	stream := client.Responses.NewStreaming(context.Background(), params)
	last := ""
	for stream.Next() {
		last = stream.Current().Type
	}
	stream.Close()
	if last != "response.failed" {
		t.Errorf("stream with an error event ended with %q", last)
	}
}

func TestFakeEmbeddingsReadBySDK(t *testing.T) {
	s := New(t, OpenAI)
	client := sdkClient(s)
	for _, format := range []sdk.EmbeddingNewParamsEncodingFormat{sdk.EmbeddingNewParamsEncodingFormatFloat, sdk.EmbeddingNewParamsEncodingFormatBase64} {
		resp, err := client.Embeddings.New(context.Background(), sdk.EmbeddingNewParams{
			Model: "text-embedding-3-small", Input: sdk.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"hello world", "bye"}},
			Dimensions: sdk.Int(4), EncodingFormat: format})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Data) != 2 || resp.Data[1].Index != 1 || resp.Usage.PromptTokens != 9 { // the default reply's usage
			t.Fatalf("%s: %s", format, resp.RawJSON())
		}
		want := fakeEmbedding("bye", 1, 4)
		got := resp.Data[1].Embedding
		if format == sdk.EmbeddingNewParamsEncodingFormatBase64 {
			if !strings.HasPrefix(resp.Data[1].JSON.Embedding.Raw(), `"`) {
				t.Errorf("base64 asked, got %s", resp.Data[1].JSON.Embedding.Raw())
			}
			continue // the Go SDK leaves base64 to the caller
		}
		if len(got) != 4 || float32(got[2]) != want[2] {
			t.Errorf("%s: embedding %v, want %v", format, got, want)
		}
	}
}
