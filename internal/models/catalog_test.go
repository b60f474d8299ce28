package models_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/llmbridge/llmbridge/internal/models"
	anthropicprov "github.com/llmbridge/llmbridge/internal/provider/anthropic"
	"github.com/llmbridge/llmbridge/internal/provider/endpoint"
	geminiprov "github.com/llmbridge/llmbridge/internal/provider/gemini"
	openaiprov "github.com/llmbridge/llmbridge/internal/provider/openai"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// noRedirects is the Bridge's upstream client policy.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// source is the built-in provider of the fake's flavor, with key.
func source(f *testupstream.Server, key string) models.Source {
	cfg := endpoint.Config{Name: "p", BaseURL: f.BaseURL(), APIKey: key}
	switch f.Flavor {
	case testupstream.Anthropic:
		return anthropicprov.New(cfg)
	case testupstream.GeminiNative:
		return geminiprov.New(cfg)
	case testupstream.GeminiCompat:
		cfg.BaseURL += "/openai"
		return openaiprov.NewCompat(cfg)
	}
	return openaiprov.New(cfg)
}

func catalog(t *testing.T, f *testupstream.Server, o models.Options, keys ...string) *models.Catalog {
	t.Helper()
	if len(keys) == 0 {
		keys = []string{f.Key}
	}
	up := models.Upstream{Name: "p", Client: noRedirects, Secrets: keys}
	for _, k := range keys {
		up.Sources = append(up.Sources, source(f, k))
	}
	c := models.New([]models.Upstream{up}, o)
	t.Cleanup(c.Close)
	return c
}

// TestCatalogReadsEveryFormat fetches lists of names the bridge has never
// heard of from each flavor's real list format, over several pages where
// the API pages.
func TestCatalogReadsEveryFormat(t *testing.T) {
	ids := []string{"claude-opus-5-5", "gpt-5.5-mini", "gemini-3.5-flash", "model-four", "model-five"}
	for _, fl := range []struct {
		name   string
		flavor testupstream.Flavor
		extra  []string // listed but not callable
	}{
		{"openai", testupstream.OpenAI, nil},
		{"deepseek", testupstream.DeepSeek, nil},
		{"gemini-openai", testupstream.GeminiCompat, nil},
		{"anthropic", testupstream.Anthropic, nil},
		{"gemini", testupstream.GeminiNative, []string{"imagen-4.0-generate-001"}},
	} {
		t.Run(fl.name, func(t *testing.T) {
			f := testupstream.New(t, fl.flavor)
			f.SetModelList(&testupstream.ModelList{IDs: append(slices.Clone(ids), fl.extra...), PageSize: 2})
			c := catalog(t, f, models.Options{})
			if err := c.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := c.List(0); !slices.Equal(got, ids) {
				t.Fatalf("List = %v, want %v", got, ids)
			}
			if got := c.Serving("gpt-5.5-mini"); !slices.Equal(got, []int{0}) {
				t.Errorf("Serving = %v", got)
			}
			pages := f.ModelListRequests()
			if paged := fl.flavor == testupstream.Anthropic || fl.flavor == testupstream.GeminiNative; paged && pages < 3 || !paged && pages != 1 {
				t.Errorf("%d list requests", pages)
			}
		})
	}
}

// TestCatalogKeepsLastGoodList: a failing fetch keeps the last good list
// and is logged once however often it fails; the recovery is logged and
// replaces the list.
func TestCatalogKeepsLastGoodList(t *testing.T) {
	f := testupstream.New(t, testupstream.OpenAI)
	var logs bytes.Buffer
	changes := atomic.Int32{}
	c := catalog(t, f, models.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), OnChange: func() { changes.Add(1) }})
	ctx := context.Background()
	if err := c.Refresh(ctx); err == nil || c.List(0) != nil {
		t.Fatalf("no list yet: err %v, list %v", err, c.List(0))
	}
	f.SetModelList(&testupstream.ModelList{IDs: []string{"gpt-9"}})
	if err := c.Refresh(ctx); err != nil || !slices.Equal(c.List(0), []string{"gpt-9"}) {
		t.Fatalf("err %v, list %v", err, c.List(0))
	}
	f.SetModelList(&testupstream.ModelList{Status: 503})
	for range 3 {
		if err := c.Refresh(ctx); err == nil || !strings.Contains(err.Error(), "503") {
			t.Fatalf("err = %v", err)
		}
	}
	if !slices.Equal(c.List(0), []string{"gpt-9"}) {
		t.Fatalf("the last good list was lost: %v", c.List(0))
	}
	if n := strings.Count(logs.String(), "model list fetch failed"); n != 2 { // the first failure (no list yet), then the 503 streak
		t.Errorf("logged %d times:\n%s", n, logs.String())
	}
	f.SetModelList(&testupstream.ModelList{IDs: []string{"gpt-9", "gpt-10"}})
	if err := c.Refresh(ctx); err != nil || !slices.Equal(c.List(0), []string{"gpt-9", "gpt-10"}) {
		t.Fatalf("err %v, list %v", err, c.List(0))
	}
	if !strings.Contains(logs.String(), "model list fetched again") {
		t.Errorf("recovery not logged:\n%s", logs.String())
	}
	if err := c.Refresh(ctx); err != nil || changes.Load() != 2 {
		t.Errorf("OnChange ran %d times, want 2 (an unchanged list is no change)", changes.Load())
	}
}

// TestCatalogRefusesBadLists: what an upstream answers never grows
// without bound, never follows a redirect with the key, and never puts a
// key in a log.
func TestCatalogRefusesBadLists(t *testing.T) {
	var leaked atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Add(1)
		w.Write([]byte(`{"data":[{"id":"evil"}]}`))
	}))
	defer elsewhere.Close()
	for _, c := range []struct {
		name string
		list testupstream.ModelList
		want string
	}{
		{"huge", testupstream.ModelList{Huge: 2 << 20}, "larger than"},
		{"malformed", testupstream.ModelList{Body: `{"data":{"id":"x"}}`}, "not an OpenAI model list"},
		{"not json", testupstream.ModelList{Body: `<html>`}, "not an OpenAI model list"},
		{"redirect", testupstream.ModelList{Status: 302, Redirect: elsewhere.URL + "/v1/models"}, "redirect, never followed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := testupstream.New(t, testupstream.OpenAI)
			f.SetModelList(&testupstream.ModelList{IDs: []string{"good"}})
			cat := catalog(t, f, models.Options{MaxBytes: 1 << 20})
			if err := cat.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			f.SetModelList(&c.list)
			err := cat.Refresh(context.Background())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
			if !slices.Equal(cat.List(0), []string{"good"}) {
				t.Errorf("list = %v", cat.List(0))
			}
		})
	}
	if leaked.Load() != 0 {
		t.Error("the redirect was followed")
	}
}

func TestCatalogDropsInvalidIDs(t *testing.T) {
	f := testupstream.New(t, testupstream.OpenAI)
	f.SetModelList(&testupstream.ModelList{IDs: []string{"a", "a", "", "with space", "ctl\x01", "\u202eevil-rtl", "c1\u009b31m", "line\u2028sep", "nbsp\u00a0x", "模型-é", strings.Repeat("x", models.MaxNameLen+1), "gpt-*", "b"}})
	c := catalog(t, f, models.Options{})
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := c.List(0); !slices.Equal(got, []string{"a", "模型-é", "gpt-*", "b"}) {
		t.Fatalf("List = %v", got)
	}
	if got := c.Serving("gpt-4o"); got != nil {
		t.Errorf("a listed %q served %q: %v", "gpt-*", "gpt-4o", got)
	}
}

// TestCatalogTriesTheNextKey: a key refused with 401 moves on to the
// provider's next key; the refused key never reaches the error text.
func TestCatalogTriesTheNextKey(t *testing.T) {
	f := testupstream.New(t, testupstream.Anthropic)
	f.SetModelList(&testupstream.ModelList{IDs: []string{"claude-opus-5-5"}})
	c := catalog(t, f, models.Options{}, "sk-ant-wrong", f.Key)
	if err := c.Refresh(context.Background()); err != nil || !slices.Equal(c.List(0), []string{"claude-opus-5-5"}) {
		t.Fatalf("err %v, list %v", err, c.List(0))
	}
}

func TestCatalogRedactsErrors(t *testing.T) {
	const secret = "sk-secret-in-the-url-0123456789"
	src := openaiprov.New(endpoint.Config{Name: "p", BaseURL: "http://127.0.0.1:1/" + secret, APIKey: secret})
	c := models.New([]models.Upstream{{Name: "p", Sources: []models.Source{src}, Client: noRedirects, Secrets: []string{secret}}}, models.Options{Timeout: time.Second})
	err := c.Refresh(context.Background())
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("err = %v", err)
	}
}

func TestCatalogPrefixOnlyServesNothing(t *testing.T) {
	f := testupstream.New(t, testupstream.OpenAI)
	f.SetModelList(&testupstream.ModelList{IDs: []string{"llama3.2"}})
	c := models.New([]models.Upstream{{Name: "ollama", Sources: []models.Source{source(f, f.Key)}, Client: noRedirects, PrefixOnly: true}}, models.Options{})
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.List(0), []string{"llama3.2"}) || c.Serving("llama3.2") != nil {
		t.Fatalf("list %v, serving %v", c.List(0), c.Serving("llama3.2"))
	}
}

// TestCatalogRefreshesUntilClose: Start returns at once, fetches in the
// background every Every, and Close stops it without a leak.
func TestCatalogRefreshesUntilClose(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	f := testupstream.Start(testupstream.OpenAI)
	defer f.Close()
	f.SetModelList(&testupstream.ModelList{IDs: []string{"gpt-9"}})
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := models.New([]models.Upstream{{Name: "p", Sources: []models.Source{source(f, f.Key)}, Client: &http.Client{Transport: tr}}}, models.Options{Every: 10 * time.Millisecond})
	c.Start()
	c.Start() // once
	deadline := time.Now().Add(10 * time.Second)
	for f.ModelListRequests() < 3 {
		if time.Now().After(deadline) {
			t.Fatal("no refresh")
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.Close()
	c.Close()
	n := f.ModelListRequests()
	time.Sleep(30 * time.Millisecond)
	if f.ModelListRequests() != n {
		t.Error("still refreshing after Close")
	}
	if !slices.Equal(c.List(0), []string{"gpt-9"}) {
		t.Errorf("List = %v", c.List(0))
	}
	never := models.New(nil, models.Options{})
	never.Close() // without Start
	never.Start() // after Close: nothing
}

// TestCatalogBoundsPages: a cursor that repeats ends the fetch with an
// error instead of looping.
func TestCatalogBoundsPages(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"models":[{"name":"models/gemini-x"}],"nextPageToken":"same"}`))
	}))
	defer srv.Close()
	src := geminiprov.New(endpoint.Config{Name: "g", BaseURL: srv.URL, APIKey: "k"})
	c := models.New([]models.Upstream{{Name: "g", Sources: []models.Source{src}, Client: noRedirects}}, models.Options{})
	if err := c.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "repeats") {
		t.Fatalf("err = %v", err)
	}
}

// TestCatalogNeverLogsKeys: an upstream that echoes the key — in an error
// body, a malformed list, a redirect's Location — never gets it into a
// log line or an error.
func TestCatalogNeverLogsKeys(t *testing.T) {
	const key = "sk-echoed-key-0123456789abcdef"
	var mode atomic.Int32
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		switch mode.Load() {
		case 0:
			w.WriteHeader(500)
			w.Write([]byte(`{"error":{"message":"bad key ` + k + `"}}`))
		case 1:
			w.Write([]byte(`{"data":"` + k + `"}`))
		default:
			w.Header().Set("Location", "http://127.0.0.1:1/?key="+k)
			w.WriteHeader(307)
		}
	}))
	defer echo.Close()
	var logs bytes.Buffer
	src := openaiprov.New(endpoint.Config{Name: "p", BaseURL: echo.URL + "/v1", APIKey: key})
	c := models.New([]models.Upstream{{Name: "p", Sources: []models.Source{src}, Client: noRedirects, Secrets: []string{key}}},
		models.Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	for m := range int32(3) {
		mode.Store(m)
		if err := c.Refresh(context.Background()); err == nil || strings.Contains(err.Error(), key) {
			t.Errorf("mode %d: err = %v", m, err)
		}
	}
	if strings.Contains(logs.String(), key) || !strings.Contains(logs.String(), "model list fetch failed") {
		t.Errorf("logs:\n%s", logs.String())
	}
}
