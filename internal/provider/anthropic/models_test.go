package anthropic_test

import (
	"context"
	"slices"
	"testing"

	"github.com/llmbridge/llmbridge/internal/provider/anthropic"
)

func TestModelsRequest(t *testing.T) {
	p := anthropic.New(anthropic.Config{Name: "anthropic", BaseURL: "https://api.anthropic.com/v1", APIKey: "sk-ant"})
	for page, want := range map[string]string{"": "https://api.anthropic.com/v1/models?limit=1000", "claude-x&y": "https://api.anthropic.com/v1/models?after_id=claude-x%26y&limit=1000"} {
		req, err := p.NewModelsRequest(context.Background(), page)
		if err != nil {
			t.Fatal(err)
		}
		if req.URL.String() != want || req.Header.Get("X-Api-Key") != "sk-ant" || req.Header.Get("Anthropic-Version") != anthropic.Version || req.Header.Get("Authorization") != "" {
			t.Errorf("%s %v", req.URL, req.Header)
		}
	}
}

func TestDecodeModelPage(t *testing.T) {
	ids, next, err := anthropic.DecodeModelPage([]byte(`{"data":[{"type":"model","id":"claude-opus-5-5","display_name":"Claude Opus 5.5","created_at":"2026-11-24T00:00:00Z"},{"type":"model","id":"claude-haiku-5"}],"has_more":true,"first_id":"claude-opus-5-5","last_id":"claude-haiku-5"}`))
	if err != nil || next != "claude-haiku-5" || !slices.Equal(ids, []string{"claude-opus-5-5", "claude-haiku-5"}) {
		t.Fatalf("%v %q %v", ids, next, err)
	}
	ids, next, err = anthropic.DecodeModelPage([]byte(`{"data":[],"has_more":false,"first_id":null,"last_id":null}`))
	if err != nil || next != "" || len(ids) != 0 {
		t.Fatalf("%v %q %v", ids, next, err)
	}
	for _, bad := range []string{``, `{}`, `{"data":[{"id":"x"}],"has_more":true,"last_id":null}`, `{"type":"error","error":{"type":"x"}}`} {
		if _, _, err := anthropic.DecodeModelPage([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// FuzzDecodeModelPage: any body yields a page or an error, never a panic;
// a next cursor only with has_more.
func FuzzDecodeModelPage(f *testing.F) {
	f.Add([]byte(`{"data":[{"type":"model","id":"claude-x"}],"has_more":true,"last_id":"claude-x"}`))
	f.Add([]byte(`{"data":[],"has_more":false}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ids, _, err := anthropic.DecodeModelPage(body)
		if err != nil && ids != nil || slices.Contains(ids, "") {
			t.Fatalf("%v %v", ids, err)
		}
	})
}
