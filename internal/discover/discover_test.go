package discover

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// newLocalServer is a fake local model server: GET /v1/models lists
// models.
func newLocalServer(t *testing.T, models ...string) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		data := []map[string]any{}
		for _, m := range models {
			data = append(data, map[string]any{"id": m, "object": "model", "created": 1, "owned_by": "library"})
		}
		json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data})
	})
	ls := httptest.NewServer(mux)
	t.Cleanup(ls.Close)
	return ls
}

func TestDiscover(t *testing.T) {
	ollama := newLocalServer(t, "llama3.2:latest", "qwen2.5:7b")
	empty := newLocalServer(t)
	local1 := newLocalServer(t, "a.gguf")
	local2 := newLocalServer(t, "b.gguf")
	notOpenAI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html>my web app</html>")
	}))
	defer notOpenAI.Close()
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // answers only after the prober gave up
	}))
	defer slow.Close()

	cands := []Candidate{
		{"ollama", ollama.URL + "/v1", 0},
		{"lmstudio", "http://" + testupstream.DeadAddr(t) + "/v1", 0},
		{"slow", slow.URL + "/v1", 0},
		{"web", notOpenAI.URL + "/v1", 0},
		{"nf", notFound.URL + "/v1", 0},
		{"local", local1.URL + "/v1", 0},
		{"local", local2.URL + "/v1", 0},
		{"empty", empty.URL + "/v1", 0},
	}
	start := time.Now()
	found := Probe(context.Background(), cands, slog.New(slog.DiscardHandler))
	took := time.Since(start)
	var got []string
	for _, f := range found {
		got = append(got, f.Name+"="+strings.Join(f.Models, "+"))
	}
	_, port2, _ := strings.Cut(strings.TrimPrefix(local2.URL, "http://"), ":")
	want := []string{"ollama=llama3.2:latest+qwen2.5:7b", "local=a.gguf", "local-" + port2 + "=b.gguf", "empty="}
	if !slices.Equal(got, want) {
		t.Errorf("found %q, want %q", got, want)
	}
	// The slow one was given up on at the probe timeout: start-up is not
	// held for it. (A bound far above 300ms, so a loaded machine passes.)
	if took > 5*time.Second {
		t.Errorf("discovery took %v", took)
	}
}

func TestCandidates(t *testing.T) {
	defaults := WellKnown()
	if got := Candidates(Settings{Discover: true}, defaults); !slices.Equal(got, defaults) {
		t.Errorf("defaults: %v", got)
	}
	got := Candidates(Settings{Discover: true, OllamaBaseURL: "http://gpu-box:11434/"}, defaults)
	if len(got) != 4 || got[0].Name != "ollama" || got[0].BaseURL != "http://gpu-box:11434/v1" || got[0].Timeout != explicitProbeTimeout || got[1].Name != "lmstudio" {
		t.Errorf("OLLAMA_BASE_URL: %v", got)
	}
	if got := Candidates(Settings{OllamaBaseURL: "http://127.0.0.1:11434/v1"}, defaults); got != nil {
		t.Errorf("discovery off: %v", got)
	}
	if err := CheckOllamaBaseURL("127.0.0.1:11434"); err == nil || !strings.Contains(err.Error(), "OLLAMA_BASE_URL") {
		t.Errorf("a URL without scheme: %v", err)
	}
	if err := CheckOllamaBaseURL("http://127.0.0.1:11434"); err != nil {
		t.Error(err)
	}
}

func TestDemoReason(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		s   Settings
		on  bool
		why string
	}{
		{Settings{}, true, "no provider is configured"},
		{Settings{Demo: &no}, false, "LLMBRIDGE_DEMO=false"},
		{Settings{Configured: []string{"openai"}}, false, "a provider is configured"},
		{Settings{Configured: []string{"anthropic"}, Demo: &yes}, true, "LLMBRIDGE_DEMO=true"},
	} {
		if on, why := DemoReason(tc.s); on != tc.on || !strings.Contains(why, tc.why) {
			t.Errorf("%+v: %v %q", tc.s, on, why)
		}
	}
}
