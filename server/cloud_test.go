package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// The YAML file's kind: azure and kind: vertex providers are built by the
// kinds table and serve through the Bridge: Azure with its key variable,
// Vertex with a service-account key file.
func TestCloudKinds(t *testing.T) {
	az := testupstream.New(t, testupstream.Azure)
	vx := testupstream.New(t, testupstream.Vertex)
	tokens := testupstream.NewGoogleTokens(t)
	vx.Bearer = tokens.Valid
	dir := t.TempDir()
	sa := filepath.Join(dir, "sa.json")
	os.WriteFile(sa, tokens.ServiceAccountJSON(tokens.Key), 0o600)
	path := filepath.Join(dir, "c.yaml")
	os.WriteFile(path, []byte(`providers:
  - {name: azure, kind: azure, base_url: "`+az.BaseURL()+`", api_key_env: AZURE_OPENAI_API_KEY, models: [gpt-4o-mini]}
  - {name: vertex, kind: vertex, base_url: "`+vx.BaseURL()+`", project: my-project, location: global, credentials_file: "`+sa+`", models: [gemini-2.5-flash]}
`), 0o600)
	c, err := loadConfig(map[string]string{"LLMBRIDGE_CONFIG": path, "AZURE_OPENAI_API_KEY": az.Key})
	if err != nil {
		t.Fatal(err)
	}
	b, err := llmbridge.New(c.options(slog.New(slog.DiscardHandler))...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	defer func() { srv.Close(); b.Close() }()
	for _, model := range []string{"gpt-4o-mini", "gemini-2.5-flash"} {
		resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "Hello world") {
			t.Errorf("%s: %d %s", model, resp.StatusCode, body)
		}
	}
	if r := vx.Requests(); len(r) != 1 || !strings.HasPrefix(r[0].Path, "/v1/projects/my-project/locations/global/publishers/google/") {
		t.Errorf("vertex requests %+v", r)
	}
}
