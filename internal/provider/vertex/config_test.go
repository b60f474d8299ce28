package vertex_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/configfile"
	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/provider/endpoint"
	"github.com/llmbridge/llmbridge/internal/provider/vertex"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

func TestBaseURL(t *testing.T) {
	if got := vertex.BaseURL("global"); got != "https://aiplatform.googleapis.com" {
		t.Errorf("global: %s", got)
	}
	if got := vertex.BaseURL("europe-west4"); got != "https://europe-west4-aiplatform.googleapis.com" {
		t.Errorf("region: %s", got)
	}
	p := vertex.New(vertex.Config{Config: endpoint.Config{Name: "v"}, Project: "p-1", Location: "global", TokenSource: nil})
	req, err := p.Family("gemini-2.5-flash").(interface {
		NewRequest(context.Context, *openai.ChatRequest) (*http.Request, error)
	}).NewRequest(context.Background(), &openai.ChatRequest{Model: "x"})
	_ = req
	_ = err
}
