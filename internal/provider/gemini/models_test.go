package gemini_test

import (
	"context"
	"slices"
	"testing"

	"github.com/llmbridge/llmbridge/internal/provider/gemini"
)

func TestModelsRequest(t *testing.T) {
	p := gemini.New(gemini.Config{Name: "gemini", BaseURL: "https://generativelanguage.googleapis.com/v1beta", APIKey: "AIza-k"})
	req, err := p.NewModelsRequest(context.Background(), "tok/2")
	if err != nil {
		t.Fatal(err)
	}
	if req.URL.String() != "https://generativelanguage.googleapis.com/v1beta/models?pageSize=1000&pageToken=tok%2F2" || req.URL.Query().Has("key") || req.Header.Get("X-Goog-Api-Key") != "AIza-k" {
		t.Fatalf("%s %v", req.URL, req.Header)
	}
}

func TestDecodeModelPage(t *testing.T) {
	ids, next, err := gemini.DecodeModelPage([]byte(`{"models":[
		{"name":"models/gemini-3.5-flash","supportedGenerationMethods":["generateContent","countTokens"]},
		{"name":"models/imagen-4.0-generate-001","supportedGenerationMethods":["predict"]},
		{"name":"models/gemini-embedding-002","supportedGenerationMethods":["embedContent"]},
		{"name":"models/gemma-4"},
		{"name":"tunedModels/mine","supportedGenerationMethods":["generateContent"]},
		{"name":"models/"}],"nextPageToken":"abc"}`))
	if err != nil || next != "abc" || !slices.Equal(ids, []string{"gemini-3.5-flash", "gemini-embedding-002", "gemma-4"}) {
		t.Fatalf("%v %q %v", ids, next, err)
	}
	if ids, next, err := gemini.DecodeModelPage([]byte(` {} `)); err != nil || next != "" || len(ids) != 0 {
		t.Fatalf("an empty page: %v %q %v", ids, next, err)
	}
	for _, bad := range []string{``, `null`, `[]`, `"x"`, `{"models":{}}`, `{"models":[]`} {
		if _, _, err := gemini.DecodeModelPage([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// FuzzDecodeModelPage: any body yields names without the "models/"
// prefix, or an error; never a panic.
func FuzzDecodeModelPage(f *testing.F) {
	f.Add([]byte(`{"models":[{"name":"models/gemini-x","supportedGenerationMethods":["generateContent"]}],"nextPageToken":"t"}`))
	f.Add([]byte(`   `))
	f.Fuzz(func(t *testing.T, body []byte) {
		ids, _, err := gemini.DecodeModelPage(body)
		if err != nil && ids != nil || slices.Contains(ids, "") {
			t.Fatalf("%v %v", ids, err)
		}
	})
}
