package llmbridge_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
	"github.com/openai/openai-go/v3"
)

// newModelsEnv is newClaudeEnv with each fake's model list set before the
// Bridge is built (lists by fake: openai, deepseek, gemini, claude).
func newModelsEnv(t *testing.T, lists map[string][]string, opts ...llmbridge.Option) (*claudeEnv, *llmbridge.Bridge) {
	t.Helper()
	e := &claudeEnv{
		openai:   testupstream.New(t, testupstream.OpenAI),
		deepseek: testupstream.New(t, testupstream.DeepSeek),
		gemini:   testupstream.New(t, testupstream.GeminiNative),
		claude:   testupstream.New(t, testupstream.Anthropic),
	}
	for name, f := range map[string]*testupstream.Server{"openai": e.openai, "deepseek": e.deepseek, "gemini": e.gemini, "claude": e.claude} {
		if ids, ok := lists[name]; ok {
			f.SetModelList(&testupstream.ModelList{IDs: ids, PageSize: 2})
		}
	}
	base := []llmbridge.Option{
		llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: e.openai.BaseURL(), APIKey: e.openai.Key})),
		llmbridge.WithProvider(llmbridge.DeepSeek(llmbridge.ProviderConfig{BaseURL: e.deepseek.BaseURL(), APIKey: e.deepseek.Key})),
		llmbridge.WithProvider(llmbridge.Gemini(llmbridge.ProviderConfig{BaseURL: e.gemini.BaseURL(), APIKey: e.gemini.Key})),
		llmbridge.WithProvider(llmbridge.Anthropic(llmbridge.ProviderConfig{BaseURL: e.claude.BaseURL(), APIKey: e.claude.Key})),
		llmbridge.WithAccessKeys(accessKey),
		llmbridge.WithRetry(llmbridge.RetryPolicy{Max: 0}),
	}
	b, err := llmbridge.New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(b)
	t.Cleanup(func() { e.srv.Close(); b.Close() })
	return e, b
}

// waitModel waits until b's model list holds id (the background fetch).
func waitModel(t *testing.T, b *llmbridge.Bridge, id string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if slices.ContainsFunc(b.Models(), func(m llmbridge.Model) bool { return m.ID == id }) {
			return
		}
	}
	t.Fatalf("%s never listed", id)
}

// TestBareNamesRouteByFamily: names no list has heard of reach the
// provider of their family through every client format — Chat
// Completions, Anthropic Messages and Responses, each with its official
// SDK — with no model configured (Claude Code's default, Codex's, an
// SDK's).
func TestBareNamesRouteByFamily(t *testing.T) {
	e, _ := newModelsEnv(t, nil)
	ctx := ctxTimeout(t)
	formats := map[string]func(model string) error{
		"chat": func(model string) error {
			_, err := e.oai().Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: model,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
			return err
		},
		"messages": func(model string) error {
			_, err := e.client().Messages.New(ctx, anthropic.MessageNewParams{Model: anthropic.Model(model), MaxTokens: 64,
				Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
			return err
		},
		"responses": func(model string) error {
			_, err := e.oai().Responses.New(ctx, hiParams(model))
			return err
		},
	}
	for _, fam := range []struct {
		model string
		fake  *testupstream.Server
	}{
		{"gpt-5.5-mini", e.openai},
		{"claude-opus-5-5", e.claude},
		{"gemini-3.5-flash", e.gemini},
		{"deepseek-v4", e.deepseek},
	} {
		for name, send := range formats {
			t.Run(fam.model+"/"+name, func(t *testing.T) {
				before := len(fam.fake.Requests())
				if err := send(fam.model); err != nil {
					t.Fatal(err)
				}
				reqs := fam.fake.Requests()
				if len(reqs) != before+1 {
					t.Fatalf("the %s fake got %d requests", fam.model, len(reqs)-before)
				}
				last := reqs[len(reqs)-1]
				if !strings.Contains(last.Path, fam.model) && modelOf(t, last.Body) != fam.model {
					t.Errorf("upstream got %s %s", last.Path, last.Body)
				}
			})
		}
	}

	resp, body := (&env{srv: e.srv}).do(t, http.MethodGet, "/v1/models/claude-opus-5-5", "", "Authorization", "Bearer "+accessKey)
	if resp.StatusCode != 200 || !strings.Contains(body, `"id":"anthropic/claude-opus-5-5"`) {
		t.Errorf("GET /v1/models/claude-opus-5-5: %d %s", resp.StatusCode, body)
	}
	// No family claims it: today's 404.
	resp, body = (&env{srv: e.srv}).post(t, "/v1/chat/completions", `{"model":"mistral-large","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 404 || errorBody(t, body)["code"] != "model_not_found" {
		t.Errorf("mistral-large: %d %s", resp.StatusCode, body)
	}
}

func modelOf(t *testing.T, body []byte) string {
	t.Helper()
	var v struct {
		Model string `json:"model"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return v.Model
}

// TestLiveModelLists: /v1/models shows what the upstreams serve — each
// provider's configured list, then the names only its upstream lists,
// each once — in the OpenAI and the Anthropic shape, and a name only an
// upstream lists resolves to it (no family claims "ft:…").
func TestLiveModelLists(t *testing.T) {
	e, b := newModelsEnv(t, map[string][]string{
		"openai": {"gpt-4o", "gpt-5.5-mini", "ft:gpt-4o:acme::abc"},
		"claude": {"claude-opus-5-5", "claude-sonnet-4-5", "claude-haiku-5"},
		"gemini": {"gemini-3.5-flash", "imagen-4.0-generate-001", "gemini-embedding-002"},
	}, llmbridge.WithModelRefresh(time.Hour))
	waitModel(t, b, "openai/ft:gpt-4o:acme::abc")
	waitModel(t, b, "anthropic/claude-haiku-5")
	waitModel(t, b, "gemini/gemini-embedding-002")
	ctx := ctxTimeout(t)

	var ids []string
	iter := e.oai().Models.ListAutoPaging(ctx)
	for iter.Next() {
		ids = append(ids, iter.Current().ID)
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"openai/gpt-4o", "openai/gpt-5.5-mini", "openai/ft:gpt-4o:acme::abc", "anthropic/claude-opus-5-5", "gemini/gemini-3.5-flash", "deepseek/deepseek-chat"} {
		if n := countOf(ids, want); n != 1 {
			t.Errorf("%s listed %d times in %v", want, n, ids)
		}
	}
	if slices.Contains(ids, "gemini/imagen-4.0-generate-001") {
		t.Error("an image model the bridge cannot call is listed")
	}

	var aids []string
	aiter := e.client().Models.ListAutoPaging(ctx, anthropic.ModelListParams{Limit: anthropic.Int(3)})
	for aiter.Next() {
		aids = append(aids, aiter.Current().ID)
	}
	if err := aiter.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(aids, ids) {
		t.Errorf("Anthropic shape lists %v, OpenAI shape %v", aids, ids)
	}

	resp, body := (&env{srv: e.srv}).post(t, "/v1/chat/completions", `{"model":"ft:gpt-4o:acme::abc","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 200 || modelOf(t, lastBody(t, e.openai)) != "ft:gpt-4o:acme::abc" {
		t.Errorf("ft: %d %s", resp.StatusCode, body)
	}
}

func countOf(list []string, s string) (n int) {
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// TestLiveModelListRecovers: a list that fails at start leaves the
// configured one; once the upstream answers again, the next refresh adds
// its names.
func TestLiveModelListRecovers(t *testing.T) {
	e, b := newModelsEnv(t, nil, llmbridge.WithModelRefresh(20*time.Millisecond))
	e.claude.SetModelList(&testupstream.ModelList{Status: 500})
	for deadline := time.Now().Add(10 * time.Second); e.claude.ModelListRequests() < 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no refresh")
		}
	}
	if !slices.ContainsFunc(b.Models(), func(m llmbridge.Model) bool { return m.ID == "anthropic/claude-sonnet-4-5" }) {
		t.Fatal("the configured list is gone")
	}
	e.claude.SetModelList(&testupstream.ModelList{IDs: []string{"claude-opus-5-5"}})
	waitModel(t, b, "anthropic/claude-opus-5-5")
}

// TestFamilyPrecedence pins who wins a bare name: a route, then
// provider/model, then a configured list, then a live list, then the most
// specific family; an equal tie is a 400 naming the candidates, in the
// client's format; a PrefixOnly provider claims nothing.
func TestFamilyPrecedence(t *testing.T) {
	a := testupstream.New(t, testupstream.OpenAI)
	c := testupstream.New(t, testupstream.OpenAI)
	d := testupstream.New(t, testupstream.OpenAI)
	compat := func(name string, f *testupstream.Server, models, patterns []string) llmbridge.Provider {
		return llmbridge.OpenAICompatible(llmbridge.ProviderConfig{Name: name, BaseURL: f.BaseURL(), APIKey: f.Key, Models: models, ModelPatterns: patterns})
	}
	b, err := llmbridge.New(
		llmbridge.WithProvider(compat("a", a, []string{"llama-listed"}, []string{"llama-*"})),
		llmbridge.WithProvider(compat("b", c, nil, []string{"llama-*", "qwen3-*"})),
		llmbridge.WithProvider(compat("local", d, nil, []string{"*"}), llmbridge.PrefixOnly()),
		llmbridge.WithRoute(llmbridge.Route{Name: "llama-routed", Targets: []llmbridge.RouteTarget{{Model: "b/llama-x"}}}),
		llmbridge.WithRetry(llmbridge.RetryPolicy{Max: 0}),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, tc := range []struct{ model, want string }{
		{"llama-routed", "b/llama-x"},
		{"b/llama-listed", "b/llama-listed"},
		{"llama-listed", "a/llama-listed"},
		{"qwen3-coder", "b/qwen3-coder"}, // only b's family
		{"mistral", ""},                  // the PrefixOnly "*" claims nothing
	} {
		got := b.Targets(tc.model)
		if tc.want == "" && got != nil || tc.want != "" && (len(got) != 1 || got[0].Provider+"/"+got[0].Model != tc.want) {
			t.Errorf("Targets(%q) = %v, want %s", tc.model, got, tc.want)
		}
	}

	srv := httptest.NewServer(b)
	defer srv.Close()
	e := &env{srv: srv}
	resp, body := e.do(t, http.MethodPost, "/v1/chat/completions", `{"model":"llama-4-scout","messages":[{"role":"user","content":"hi"}]}`)
	eb := errorBody(t, body)
	if resp.StatusCode != 400 || eb["code"] != "model_ambiguous" || !strings.Contains(eb["message"].(string), "a/llama-4-scout, b/llama-4-scout") {
		t.Fatalf("ambiguous: %d %s", resp.StatusCode, body)
	}
	ac := anthropic.NewClient(aoption.WithBaseURL(srv.URL), aoption.WithAPIKey("unused"), aoption.WithMaxRetries(0))
	_, err = ac.Messages.New(ctxTimeout(t), anthropic.MessageNewParams{Model: "llama-4-scout", MaxTokens: 8,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
	var ae *anthropic.Error
	if !errors.As(err, &ae) || ae.StatusCode != 400 || !strings.Contains(ae.RawJSON(), `"type":"error"`) || !strings.Contains(ae.RawJSON(), "b/llama-4-scout") {
		t.Fatalf("Anthropic client: %v", err)
	}
	if len(a.Requests())+len(c.Requests())+len(d.Requests()) != 0 {
		t.Error("an ambiguous name went upstream")
	}
}

// TestFamilyAttackerNames: a client's glob characters are literal, so a
// name never widens a family; patterns with other wildcards are refused
// at New.
func TestFamilyAttackerNames(t *testing.T) {
	_, b := newModelsEnv(t, nil)
	for model, want := range map[string]string{
		"gpt-*":                         "openai/gpt-*", // matches "gpt-*" literally: OpenAI answers 404 itself
		"*":                             "",
		"claude*":                       "",
		"[a-z]*":                        "",
		strings.Repeat("claude-", 1000): "",
	} {
		got := b.Targets(model)
		if want == "" && got != nil || want != "" && (len(got) != 1 || got[0].Provider+"/"+got[0].Model != want) {
			t.Errorf("Targets(%.30q) = %v, want %q", model, got, want)
		}
	}
	_, err := llmbridge.New(llmbridge.WithProvider(llmbridge.OpenAICompatible(llmbridge.ProviderConfig{Name: "x", BaseURL: "http://127.0.0.1:1/v1", ModelPatterns: []string{"llama-?", ""}})),
		llmbridge.WithModelRefresh(-time.Second))
	if err == nil || !strings.Contains(err.Error(), "only * is a wildcard") || !strings.Contains(err.Error(), "empty") || !strings.Contains(err.Error(), "negative") {
		t.Fatalf("New: %v", err)
	}
}

// BenchmarkResolveBareName: what resolving a bare name costs, by how it
// resolves — a configured list, a live list, a family, nothing.
func BenchmarkResolveBareName(b *testing.B) {
	up := testupstream.New(b, testupstream.OpenAI)
	up.SetModelList(&testupstream.ModelList{IDs: []string{"ft:gpt-4o:acme::abc"}})
	br, err := llmbridge.New(
		llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: up.BaseURL(), APIKey: up.Key})),
		llmbridge.WithProvider(llmbridge.Anthropic(llmbridge.ProviderConfig{BaseURL: "http://127.0.0.1:1/v1", APIKey: "k"})),
		llmbridge.WithModelRefresh(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	for deadline := time.Now().Add(10 * time.Second); len(br.Targets("ft:gpt-4o:acme::abc")) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal("no live list")
		}
	}
	for _, name := range []string{"gpt-4o", "ft:gpt-4o:acme::abc", "claude-opus-5-5", "mistral"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				br.Targets(name)
			}
		})
	}
}

// TestLiveListPrecedence: a live list beats a family (a vLLM that lists
// gpt-oss-20b gets it, not OpenAI's gpt-*); of several live lists the one
// whose family claims the name wins (an aggregator listing a vendor's
// bare name does not make it ambiguous); otherwise several live lists
// are a 400 naming them.
func TestLiveListPrecedence(t *testing.T) {
	oa, cl := testupstream.New(t, testupstream.OpenAI), testupstream.New(t, testupstream.Anthropic)
	gw, vl := testupstream.New(t, testupstream.OpenAI), testupstream.New(t, testupstream.OpenAI)
	oa.SetModelList(&testupstream.ModelList{IDs: []string{"gpt-5.5"}})
	cl.SetModelList(&testupstream.ModelList{IDs: []string{"claude-opus-5-5"}})
	gw.SetModelList(&testupstream.ModelList{IDs: []string{"claude-opus-5-5", "llama-4", "gpt-5.5"}})
	vl.SetModelList(&testupstream.ModelList{IDs: []string{"gpt-oss-20b", "llama-4"}})
	compat := func(name string, f *testupstream.Server) llmbridge.Option {
		return llmbridge.WithProvider(llmbridge.OpenAICompatible(llmbridge.ProviderConfig{Name: name, BaseURL: f.BaseURL(), APIKey: f.Key}))
	}
	b, err := llmbridge.New(
		llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: oa.BaseURL(), APIKey: oa.Key})),
		llmbridge.WithProvider(llmbridge.Anthropic(llmbridge.ProviderConfig{BaseURL: cl.BaseURL(), APIKey: cl.Key})),
		compat("gateway", gw), compat("vllm", vl),
		llmbridge.WithModelRefresh(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, id := range []string{"openai/gpt-5.5", "anthropic/claude-opus-5-5", "gateway/llama-4", "vllm/gpt-oss-20b"} {
		waitModel(t, b, id)
	}
	for model, want := range map[string]string{
		"gpt-oss-20b":     "vllm/gpt-oss-20b",
		"claude-opus-5-5": "anthropic/claude-opus-5-5",
		"gpt-5.5":         "openai/gpt-5.5",
		"llama-4":         "",
	} {
		got := b.Targets(model)
		if want == "" && got != nil || want != "" && (len(got) != 1 || got[0].Provider+"/"+got[0].Model != want) {
			t.Errorf("Targets(%q) = %v, want %q", model, got, want)
		}
	}
	srv := httptest.NewServer(b)
	defer srv.Close()
	resp, body := (&env{srv: srv}).do(t, http.MethodPost, "/v1/chat/completions", `{"model":"llama-4","messages":[{"role":"user","content":"hi"}]}`)
	if eb := errorBody(t, body); resp.StatusCode != 400 || eb["code"] != "model_ambiguous" || !strings.Contains(eb["message"].(string), "gateway/llama-4, vllm/llama-4") {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
}

// TestModelListNeverDelays: New returns and requests are served while the
// upstream's list request still hangs; Close cancels it and returns.
func TestModelListNeverDelays(t *testing.T) {
	fake := testupstream.New(t, testupstream.OpenAI)
	listing, released := make(chan struct{}), make(chan struct{})
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/v1/models" {
			close(listing)
			<-r.Context().Done() // hangs until the bridge gives up
			close(released)
			return
		}
		fake.Config.Handler.ServeHTTP(w, r)
	}))
	defer front.Close()
	b, err := llmbridge.New(llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: front.URL + "/v1", APIKey: fake.Key})),
		llmbridge.WithModelRefresh(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	<-listing // the fetch is under way, and hangs
	resp, err := b.ChatCompletion(ctxTimeout(t), &llmbridge.ChatRequest{Model: "gpt-5.5-mini", Messages: []llmbridge.Message{llmbridge.UserMessage("hi")}})
	if err != nil || resp.Choices[0].Message.Content.String() != "Hello world" {
		t.Fatalf("%v %+v", err, resp)
	}
	select {
	case <-released:
		t.Fatal("the list request ended before Close")
	default:
	}
	b.Close()
	<-released
}

// TestReloadKeepsLiveLists: a Bridge built WithModelListsFrom the one it
// replaces lists and resolves the live names at once, before its own
// fetch answers.
func TestReloadKeepsLiveLists(t *testing.T) {
	fake := testupstream.New(t, testupstream.OpenAI)
	fake.SetModelList(&testupstream.ModelList{IDs: []string{"ft:gpt-4o:acme::abc"}})
	mk := func(opts ...llmbridge.Option) *llmbridge.Bridge {
		b, err := llmbridge.New(append([]llmbridge.Option{llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: fake.BaseURL(), APIKey: fake.Key}))}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}
	old := mk(llmbridge.WithModelRefresh(time.Hour))
	waitModel(t, old, "openai/ft:gpt-4o:acme::abc")
	fake.SetModelList(&testupstream.ModelList{Status: 503}) // the new Bridge's own fetch fails
	next := mk(llmbridge.WithModelRefresh(time.Hour), llmbridge.WithModelListsFrom(old))
	if got := next.Targets("ft:gpt-4o:acme::abc"); len(got) != 1 || got[0].Provider != "openai" {
		t.Errorf("Targets = %v", got)
	}
	if !slices.ContainsFunc(next.Models(), func(m llmbridge.Model) bool { return m.ID == "openai/ft:gpt-4o:acme::abc" }) {
		t.Error("the live name is not listed")
	}
	if off := mk(llmbridge.WithModelListsFrom(old), llmbridge.WithModelListsFrom(nil)); len(off.Targets("ft:gpt-4o:acme::abc")) != 0 {
		t.Error("a Bridge without WithModelRefresh took live lists")
	}
}
