package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge/internal/discover"
	"github.com/llmbridge/llmbridge/internal/provider/demo"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// localServer is a fake local model server: GET /v1/models lists models,
// POST /v1/chat/completions echoes (the demo's upstream speaks the OpenAI
// wire format, as Ollama's /v1 does). It counts the model-list probes.
type localServer struct {
	*httptest.Server
	probes atomic.Int32
}

func newLocalServer(t *testing.T, models ...string) *localServer {
	t.Helper()
	ls := &localServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		ls.probes.Add(1)
		data := []map[string]any{}
		for _, m := range models {
			data = append(data, map[string]any{"id": m, "object": "model", "created": 1, "owned_by": "library"})
		}
		json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data})
	})
	mux.Handle("POST /v1/chat/completions", demo.NewUpstream("", 0, nil))
	ls.Server = httptest.NewServer(mux)
	t.Cleanup(ls.Close)
	return ls
}

func (ls *localServer) base() string { return ls.URL + "/v1" }

func TestLocalCandidates(t *testing.T) {
	defaults := discover.WellKnown()
	c, err := loadConfig(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if got := discover.Candidates(c.discoverSettings(), defaults); !slices.Equal(got, defaults) {
		t.Errorf("defaults: %v", got)
	}
	c, _ = loadConfig(map[string]string{"OLLAMA_BASE_URL": "http://gpu-box:11434/"})
	got := discover.Candidates(c.discoverSettings(), defaults)
	if len(got) != 4 || got[0].Name != "ollama" || got[0].BaseURL != "http://gpu-box:11434/v1" || got[0].Timeout != 2*time.Second || got[1].Name != "lmstudio" {
		t.Errorf("OLLAMA_BASE_URL: %v", got)
	}
	c, _ = loadConfig(map[string]string{"OLLAMA_BASE_URL": "http://127.0.0.1:11434/v1", "LLMBRIDGE_DISCOVER_LOCAL": "false"})
	if got := discover.Candidates(c.discoverSettings(), defaults); got != nil {
		t.Errorf("discovery off: %v", got)
	}
	for _, tc := range []struct{ env, value, err string }{
		{"LLMBRIDGE_DEMO", "maybe", `"Demo"`},
		{"LLMBRIDGE_DEMO_DELAY", "-1s", "LLMBRIDGE_DEMO_DELAY"},
		{"OLLAMA_BASE_URL", "127.0.0.1:11434", "OLLAMA_BASE_URL"},
		{"LLMBRIDGE_DISCOVER_LOCAL", "nope", `"DiscoverLocal"`},
	} {
		if _, err := loadConfig(map[string]string{tc.env: tc.value}); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s=%s: %v", tc.env, tc.value, err)
		}
	}
}

func TestDemoReason(t *testing.T) {
	dir := t.TempDir()
	yaml := filepath.Join(dir, "p.yaml")
	os.WriteFile(yaml, []byte("providers:\n  - name: mine\n    base_url: http://127.0.0.1:9/v1\n"), 0o600)
	for _, tc := range []struct {
		env map[string]string
		on  bool
		why string
	}{
		{map[string]string{}, true, "no provider is configured"},
		{map[string]string{"LLMBRIDGE_DEMO": ""}, true, "no provider is configured"},
		{map[string]string{"LLMBRIDGE_DEMO": "false"}, false, "LLMBRIDGE_DEMO=false"},
		{map[string]string{"OPENAI_API_KEY": "sk-x"}, false, "a provider is configured"},
		{map[string]string{"GEMINI_API_KEY": "g"}, false, "a provider is configured"},
		{map[string]string{"LLMBRIDGE_CONFIG": yaml}, false, "a provider is configured"},
		{map[string]string{"ANTHROPIC_API_KEY": "a", "LLMBRIDGE_DEMO": "true"}, true, "LLMBRIDGE_DEMO=true"},
	} {
		c, err := loadConfig(tc.env)
		if err != nil {
			t.Fatal(err)
		}
		if on, why := discover.DemoReason(c.discoverSettings()); on != tc.on || !strings.Contains(why, tc.why) {
			t.Errorf("%v: %v %q", tc.env, on, why)
		}
	}
}

// startWith runs the real server with environ and local model server
// candidates until the test ends.
func startWith(t *testing.T, environ []string, local []discover.Candidate) *instance {
	t.Helper()
	in := &instance{console: &lockedBuffer{}}
	addrc := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	// No live model lists: the local servers' probes are counted.
	environ = append([]string{"LLMBRIDGE_ADDR=127.0.0.1:0", "LLMBRIDGE_DB=off", "LLMBRIDGE_DEMO_DELAY=0s", "LLMBRIDGE_RETRIES=0", "LLMBRIDGE_MODELS_REFRESH=0",
		"LLMBRIDGE_LOG_FILE=" + filepath.Join(t.TempDir(), "requests.log")}, environ...)
	go func() {
		done <- run(ctx, runOptions{envFile: filepath.Join(t.TempDir(), ".env"), environ: environ, stderr: in.console, stdout: io.Discard,
			ready: func(a string) { addrc <- a }, local: local})
	}()
	select {
	case in.addr = <-addrc:
	case err := <-done:
		cancel()
		t.Fatalf("server did not start: %v\n%s", err, in.console)
	}
	var once sync.Once
	in.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("server: %v", err)
			}
		})
	}
	t.Cleanup(in.stop)
	return in
}

func (in *instance) models(t *testing.T) []string {
	t.Helper()
	status, body := in.do(t, "GET", "/v1/models", "", "")
	if status != 200 {
		t.Fatalf("/v1/models: %d %s", status, body)
	}
	var list struct{ Data []struct{ ID string } }
	json.Unmarshal([]byte(body), &list)
	var ids []string
	for _, m := range list.Data {
		ids = append(ids, m.ID)
	}
	return ids
}

// TestServerFirstRun is the first run of a user without provider keys
// (the .env.example as copied, provider keys empty): the demo is on and
// says why, a local Ollama is found, and both answer.
func TestServerFirstRun(t *testing.T) {
	ollama := newLocalServer(t, "llama3.2:latest")
	in := startWith(t, nil, []discover.Candidate{{Name: "ollama", BaseURL: ollama.base()}, {Name: "lmstudio", BaseURL: "http://" + testupstream.DeadAddr(t) + "/v1"}})
	ids := in.models(t)
	if got := strings.Join(ids, ","); got != "ollama/llama3.2:latest,demo/echo,demo/error-429,demo/error-500" {
		t.Errorf("models %s", got)
	}
	console := in.console.String()
	for _, want := range []string{"demo provider is on", "no provider is configured", "LLMBRIDGE_DEMO=false", "local model server found", "provider=ollama", "llama3.2:latest"} {
		if !strings.Contains(console, want) {
			t.Errorf("console lacks %q:\n%s", want, console)
		}
	}
	status, body := in.do(t, "POST", "/v1/chat/completions", "", `{"model":"demo/echo","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hello there, bridge"}]}`)
	if status != 200 || !strings.Contains(body, `"content":" bridge"`) || !strings.Contains(body, `"completion_tokens":4`) || !strings.HasSuffix(body, "data: [DONE]\n\n") {
		t.Errorf("demo stream: %d %s", status, body)
	}
	status, body = in.do(t, "POST", "/v1/chat/completions", "", `{"model":"ollama/llama3.2:latest","messages":[{"role":"user","content":"via ollama"}]}`)
	if status != 200 || !strings.Contains(body, `"content":"via ollama"`) {
		t.Errorf("ollama: %d %s", status, body)
	}
	status, body = in.do(t, "POST", "/v1/chat/completions", "", `{"model":"demo/error-429","messages":[{"role":"user","content":"x"}]}`)
	if status != 429 || !strings.Contains(body, "rate_limit_exceeded") {
		t.Errorf("error-429: %d %s", status, body)
	}
}

// TestServerDemoSwitch: with a provider key the demo is gone;
// LLMBRIDGE_DEMO=true brings it back beside the provider; =false keeps it
// off without keys too; LLMBRIDGE_DISCOVER_LOCAL=false probes nothing; a
// configured provider of the same name wins over a found server.
func TestServerDemoSwitch(t *testing.T) {
	ds := testupstream.New(t, testupstream.DeepSeek)
	ollama := newLocalServer(t, "found-model")
	cands := []discover.Candidate{{Name: "ollama", BaseURL: ollama.base()}}
	withKey := []string{"DEEPSEEK_API_KEY=" + ds.Key, "DEEPSEEK_BASE_URL=" + ds.BaseURL()}
	yaml := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(yaml, []byte("providers:\n  - name: ollama\n    base_url: "+ollama.base()+"\n    models: [configured-model]\n"), 0o600)

	for _, tc := range []struct {
		name    string
		environ []string
		models  string
		console []string // must appear
		absent  []string // must not appear
		probes  int32
	}{
		{"key", withKey, "deepseek/deepseek-chat,deepseek/deepseek-reasoner,ollama/found-model", nil, []string{"demo provider is on"}, 1},
		{"key and LLMBRIDGE_DEMO=true", append(withKey, "LLMBRIDGE_DEMO=true"),
			"deepseek/deepseek-chat,deepseek/deepseek-reasoner,ollama/found-model,demo/echo,demo/error-429,demo/error-500", []string{"demo provider is on", `why="LLMBRIDGE_DEMO=true"`, "unset LLMBRIDGE_DEMO"}, nil, 1},
		{"no key and LLMBRIDGE_DEMO=false", []string{"LLMBRIDGE_DEMO=false", "LLMBRIDGE_DISCOVER_LOCAL=false"}, "",
			[]string{"no provider is configured", "local model discovery is off"}, []string{"demo provider is on"}, 0},
		{"configured ollama wins", []string{"LLMBRIDGE_CONFIG=" + yaml}, "ollama/configured-model",
			[]string{"not added: a configured provider has its name"}, []string{"demo provider is on"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := ollama.probes.Load()
			in := startWith(t, tc.environ, cands)
			if got := strings.Join(in.models(t), ","); got != tc.models {
				t.Errorf("models %s, want %s", got, tc.models)
			}
			console := in.console.String()
			for _, s := range tc.console {
				if !strings.Contains(console, s) {
					t.Errorf("console lacks %q:\n%s", s, console)
				}
			}
			for _, s := range tc.absent {
				if strings.Contains(console, s) {
					t.Errorf("console has %q:\n%s", s, console)
				}
			}
			if n := ollama.probes.Load() - before; n != tc.probes {
				t.Errorf("%d probes, want %d", n, tc.probes)
			}
			in.stop()
		})
	}
}

// TestServerDemoAcrossReload: a reload that adds a provider key turns the
// demo off and says so; the demo's upstream is stopped at shutdown
// (TestMain's goleak check).
func TestServerDemoAcrossReload(t *testing.T) {
	ds := testupstream.New(t, testupstream.DeepSeek)
	dir := t.TempDir()
	envFile := filepath.Join(dir, ".env")
	os.WriteFile(envFile, []byte("DEEPSEEK_BASE_URL="+ds.BaseURL()+"\n"), 0o600)
	in := &instance{console: &lockedBuffer{}}
	addrc := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, runOptions{envFile: envFile, environ: []string{"LLMBRIDGE_ADDR=127.0.0.1:0", "LLMBRIDGE_DB=off", "LLMBRIDGE_DEMO_DELAY=0s",
			"LLMBRIDGE_LOG_FILE=" + filepath.Join(dir, "r.log")}, stderr: in.console, stdout: io.Discard,
			ready: func(a string) { addrc <- a }, poll: 20 * time.Millisecond})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	in.addr = <-addrc
	if status, body := in.do(t, "POST", "/v1/chat/completions", "", `{"model":"demo/echo","messages":[{"role":"user","content":"before"}]}`); status != 200 || !strings.Contains(body, "before") {
		t.Fatalf("demo before reload: %d %s", status, body)
	}
	os.WriteFile(envFile, []byte("DEEPSEEK_BASE_URL="+ds.BaseURL()+"\nDEEPSEEK_API_KEY="+ds.Key+"\n"), 0o600)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(in.console.String(), "demo provider is off") {
		if time.Now().After(deadline) {
			t.Fatalf("no reload:\n%s", in.console)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The line is written while the new bridge is built, before it
	// replaces the old one: the list follows a moment later.
	for want := "deepseek/deepseek-chat,deepseek/deepseek-reasoner"; ; time.Sleep(20 * time.Millisecond) {
		got := strings.Join(in.models(t), ",")
		if got == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("models after reload: %s", got)
		}
	}
}

// TestDiscoveredModelsArePrefixOnly is issue 24 item 11: whatever answers
// on a well-known loopback port is served under its prefix only. A fake
// "Ollama" listing another vendor's model names receives no request for
// the bare names (an agent's prompts for claude-opus-4-8), and does not
// make a configured provider's bare name ambiguous; its own models work
// as ollama/… and are listed.
func TestDiscoveredModelsArePrefixOnly(t *testing.T) {
	ds := testupstream.New(t, testupstream.DeepSeek)
	fake := newLocalServer(t, "claude-opus-4-8", "deepseek-chat", "llama3.2")
	var chats atomic.Int32
	counting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			chats.Add(1)
		}
		r2, _ := http.NewRequestWithContext(r.Context(), r.Method, fake.URL+r.URL.Path, r.Body)
		r2.Header = r.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(r2)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	defer counting.Close()
	in := startWith(t, []string{"LLMBRIDGE_DEMO=false", "DEEPSEEK_API_KEY=" + ds.Key, "DEEPSEEK_BASE_URL=" + ds.BaseURL()},
		[]discover.Candidate{{Name: "ollama", BaseURL: counting.URL + "/v1"}})
	if got := strings.Join(in.models(t), ","); !strings.Contains(got, "ollama/claude-opus-4-8") || !strings.Contains(got, "ollama/llama3.2") {
		t.Errorf("models %s: the found server's models are not listed with their prefix", got)
	}
	chat := func(model string) (int, string) {
		resp, err := http.Post("http://"+in.addr+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"secret prompt"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, body := chat("claude-opus-4-8"); status != http.StatusNotFound || !strings.Contains(body, "model_not_found") {
		t.Errorf("bare name only the found server lists: %d %s", status, body)
	}
	if n := chats.Load(); n != 0 {
		t.Fatalf("the found server received %d requests for bare names", n)
	}
	if status, body := chat("deepseek-chat"); status != 200 || strings.Contains(body, "secret prompt") {
		t.Errorf("a configured provider's bare name: %d %s", status, body) // deepseek's fake answers its own text
	}
	if n := chats.Load(); n != 0 {
		t.Fatalf("the found server received the configured provider's bare name")
	}
	if status, body := chat("ollama/llama3.2"); status != 200 || !strings.Contains(body, "secret prompt") || chats.Load() != 1 {
		t.Errorf("the prefixed name: %d %s (%d requests)", status, body, chats.Load())
	}
}
