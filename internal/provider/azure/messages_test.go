package azure_test

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/provider/azure"
	"github.com/llmbridge/llmbridge/internal/provider/endpoint"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// messagesClient is an anthropic-sdk-go client of a bridge in front of an
// Azure fake.
func messagesClient(t *testing.T) (*testupstream.Server, *anthropic.Client) {
	up := testupstream.New(t, testupstream.Azure)
	b, err := llmbridge.New(llmbridge.WithProvider(azure.New(azure.Config{Config: endpoint.Config{Name: "azure", BaseURL: up.BaseURL(), APIKey: up.Key}})),
		llmbridge.WithAccessKeys(accessKey), llmbridge.WithRetry(llmbridge.RetryPolicy{Max: 0, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	t.Cleanup(func() { srv.Close(); b.Close() })
	c := anthropic.NewClient(aoption.WithBaseURL(srv.URL), aoption.WithAPIKey(accessKey), aoption.WithMaxRetries(0))
	return up, &c
}

// Messages API clients (Claude Code) reach Azure translated to Chat
// Completions: text, a streamed tool call with an image in the prompt,
// and Azure's errors in Anthropic's shape.
func TestAzureFromMessagesClients(t *testing.T) {
	up, c := messagesClient(t)
	params := anthropic.MessageNewParams{Model: "azure/gpt-4o-mini", MaxTokens: 256, Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hi"))}}
	msg, err := c.Messages.New(ctx(t), params)
	if err != nil || msg.Content[0].Text != "Hello world" || msg.Usage.InputTokens != 9 {
		t.Fatalf("%v %s", err, msg.RawJSON())
	}

	up.Enqueue(testupstream.Reply{ToolCalls: []testupstream.ToolCall{{ID: "call_9", Name: "get_weather", Args: []string{`{"city":`, `"Oslo"}`}}}})
	params.Tools = []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{Name: "get_weather", InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"city": map[string]any{"type": "string"}}}}}}
	params.Messages = []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Weather here?"), anthropic.NewImageBlockBase64("image/png", "iVBORw0KGgo="))}
	stream := c.Messages.NewStreaming(ctx(t), params)
	var acc anthropic.Message
	for stream.Next() {
		if err := acc.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.StopReason != anthropic.StopReasonToolUse || acc.Content[len(acc.Content)-1].AsToolUse().Name != "get_weather" {
		t.Errorf("stream %s", acc.RawJSON())
	}
	if body := string(up.Requests()[1].Body); !strings.Contains(body, "data:image/png;base64,iVBORw0KGgo=") {
		t.Errorf("image not sent: %s", body)
	}

	params.Messages = []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("JAILBREAK"))}
	_, err = c.Messages.New(ctx(t), params)
	var ae *anthropic.Error
	if !errors.As(err, &ae) || ae.StatusCode != 400 || !strings.Contains(ae.RawJSON(), "content management policy") {
		t.Errorf("content filter through Messages: %v", err)
	}
}
