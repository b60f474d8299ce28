package openai_test

import (
	"context"
	"slices"
	"testing"

	prov "github.com/llmbridge/llmbridge/internal/provider/openai"
)

func TestModelsRequest(t *testing.T) {
	p := prov.New(prov.Config{Name: "x", BaseURL: "https://api.openai.com/v1/", APIKey: "sk-k", Headers: map[string]string{"X-Tenant": "t"}})
	req, err := p.NewModelsRequest(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if req.Method != "GET" || req.URL.String() != "https://api.openai.com/v1/models" || req.Header.Get("Authorization") != "Bearer sk-k" ||
		req.Header.Get("X-Tenant") != "t" || req.Header.Get("Content-Type") != "" {
		t.Fatalf("%s %s %v", req.Method, req.URL, req.Header)
	}
	compat := prov.NewCompat(prov.Config{Name: "g", BaseURL: "https://g.example/v1beta/openai", APIKey: "k"})
	ids, next, err := compat.DecodeModels([]byte(`{"object":"list","data":[{"id":"models/gemini-3.5-flash","object":"model"},{"id":"gemma-4"}]}`))
	if err != nil || next != "" || !slices.Equal(ids, []string{"gemini-3.5-flash", "gemma-4"}) {
		t.Fatalf("%v %q %v", ids, next, err)
	}
}

func TestDecodeModelList(t *testing.T) {
	for body, want := range map[string][]string{
		`{"object":"list","data":[{"id":"gpt-4o","object":"model","created":1,"owned_by":"system"},{"id":"o5"}]}`: {"gpt-4o", "o5"},
		`{"data":[]}`: {},
		`{"data":[{"id":1},{"name":"x"},"str",{"id":"ok"}]}`: {"ok"},
	} {
		got, next, err := prov.DecodeModelList([]byte(body))
		if err != nil || next != "" || !slices.Equal(got, want) {
			t.Errorf("%s: %v %q %v", body, got, next, err)
		}
	}
	for _, bad := range []string{``, `null`, `[]`, `{"data":{"id":"x"}}`, `{"object":"list"}`, `<html>`} {
		if _, _, err := prov.DecodeModelList([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// FuzzDecodeModelList: any body yields ids or an error, never a panic;
// ids are never empty.
func FuzzDecodeModelList(f *testing.F) {
	f.Add([]byte(`{"object":"list","data":[{"id":"gpt-4o","object":"model"}]}`))
	f.Add([]byte(`{"data":[{"id":""},{"ID":"x"}]}`))
	f.Add([]byte(`{"data":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ids, next, err := prov.DecodeModelList(body)
		if err != nil && ids != nil || next != "" || slices.Contains(ids, "") {
			t.Fatalf("%v %q %v", ids, next, err)
		}
	})
}
