package llmbridge_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/openai/corpus"
	"github.com/llmbridge/llmbridge/internal/testupstream"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// corpusBridge is a bridge in front of one fake OpenAI upstream that
// counts what reaches it.
func corpusBridge(t *testing.T) (*testupstream.Server, *httptest.Server) {
	t.Helper()
	up := testupstream.New(t, testupstream.OpenAI)
	b, err := llmbridge.New(
		llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: up.BaseURL(), APIKey: up.Key})),
		llmbridge.WithAccessKeys(accessKey),
	)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	t.Cleanup(func() {
		srv.Close()
		b.Close()
	})
	return up, srv
}

func postBody(t *testing.T, client *http.Client, url string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/v1/chat/completions", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+accessKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("the bridge failed (a panic closes the connection): %v", err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	return resp.StatusCode, out
}

// TestMalformedCorpusNeverReachesUpstream sends the generated corpus of
// malformed bodies (every documented member with wrong types and values,
// broken messages, parts, tools and tool calls, invalid UTF-8 in every
// string, truncations, byte mutations; internal/openai/corpus) to the live
// handler: every one is answered 400 in OpenAI's error shape naming the
// member at fault, and nothing reaches the upstream.
func TestMalformedCorpusNeverReachesUpstream(t *testing.T) {
	up, srv := corpusBridge(t)
	client := srv.Client()
	cases := corpus.Invalid("openai/gpt-4o", 12, 10000)
	if len(cases) < 10000 {
		t.Fatalf("corpus has %d bodies", len(cases))
	}
	failures := 0
	for _, c := range cases {
		status, body := postBody(t, client, srv.URL, c.Body)
		var e struct {
			Error *struct {
				Message *string `json:"message"`
				Type    *string `json:"type"`
				Param   *string `json:"param"`
				Code    *string `json:"code"`
			} `json:"error"`
		}
		problem := ""
		switch err := json.Unmarshal(body, &e); {
		case status != http.StatusBadRequest:
			problem = "status " + http.StatusText(status)
		case err != nil || e.Error == nil || e.Error.Message == nil || e.Error.Type == nil || e.Error.Code == nil:
			problem = "not an OpenAI error body"
		case *e.Error.Type != "invalid_request_error" || *e.Error.Message == "":
			problem = "wrong type or empty message"
		case c.Param == "" && e.Error.Param != nil:
			problem = "param " + *e.Error.Param + ", want null"
		case c.Param != "" && (e.Error.Param == nil || *e.Error.Param != c.Param):
			problem = "param should be " + c.Param
		}
		if problem != "" {
			t.Errorf("%s: %s: %.300s", c.Name, problem, body)
			if failures++; failures > 20 {
				t.Fatal("too many failures")
			}
		}
	}
	if n := len(up.Requests()); n != 0 {
		t.Fatalf("%d malformed bodies reached the upstream", n)
	}
}

// TestValidCorpusPassesThroughUntouched: valid bodies using every
// documented member (edges, nulls, unknown members and types) reach the
// upstream byte for byte, but for the model the route names and, on
// streams, the usage option the bridge adds.
func TestValidCorpusPassesThroughUntouched(t *testing.T) {
	up, srv := corpusBridge(t)
	client := srv.Client()
	valid := corpus.Valid("openai/gpt-4o")
	for i, c := range valid {
		status, body := postBody(t, client, srv.URL, c.Body)
		if status != http.StatusOK {
			t.Errorf("%s: status %d: %s", c.Name, status, body)
			continue
		}
		reqs := up.Requests()
		if len(reqs) != i+1 {
			t.Fatalf("%s: upstream saw %d requests, want %d", c.Name, len(reqs), i+1)
		}
		got := reqs[i].Body
		wantModel := gjson.GetBytes(c.Body, "model").Str[len("openai/"):]
		if m := gjson.GetBytes(got, "model").Str; m != wantModel {
			t.Errorf("%s: upstream model %q, want %q", c.Name, m, wantModel)
		}
		if gjson.GetBytes(c.Body, "stream").Type == gjson.True {
			if gjson.GetBytes(got, "stream_options.include_usage").Type != gjson.True {
				t.Errorf("%s: stream without include_usage upstream: %s", c.Name, got)
			}
		}
		if a, b := withoutRewritten(t, c.Body), withoutRewritten(t, got); !bytes.Equal(a, b) {
			t.Errorf("%s: body changed on the way\nsent:     %s\nupstream: %s", c.Name, a, b)
		}
	}
}

// withoutRewritten removes the members the bridge may rewrite.
func withoutRewritten(t *testing.T, body []byte) []byte {
	t.Helper()
	out := append([]byte{}, body...)
	for _, k := range []string{"model", "stream_options"} {
		var err error
		if out, err = sjson.DeleteBytes(out, k); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestInProcessValidation: typed requests are held to the handler's rules
// before anything goes upstream.
func TestInProcessValidation(t *testing.T) {
	up, _ := corpusBridge(t)
	b, err := llmbridge.New(llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: up.BaseURL(), APIKey: up.Key})))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	temp := 3.0
	_, err = b.ChatCompletion(t.Context(), &llmbridge.ChatRequest{Model: "openai/gpt-4o", Temperature: &temp,
		Messages: []llmbridge.Message{{Role: "user", Content: llmbridge.TextContent("hi")}}})
	var ae *llmbridge.APIError
	if !errors.As(err, &ae) || ae.Status != 400 || ae.Param != "temperature" {
		t.Fatalf("temperature 3: %v", err)
	}
	for _, err := range b.ChatCompletionStream(t.Context(), &llmbridge.ChatRequest{Model: "openai/gpt-4o",
		Messages: []llmbridge.Message{{Role: "tool", Content: llmbridge.TextContent("x")}}}) {
		if !errors.As(err, &ae) || ae.Status != 400 || ae.Param != "messages[0].tool_call_id" {
			t.Fatalf("tool message without tool_call_id: %v", err)
		}
	}
	if n := len(up.Requests()); n != 0 {
		t.Fatalf("%d invalid typed requests reached the upstream", n)
	}
	if _, err := b.ChatCompletion(t.Context(), &llmbridge.ChatRequest{Model: "openai/gpt-4o",
		Messages: []llmbridge.Message{{Role: "user", Content: llmbridge.TextContent("hi")}}}); err != nil {
		t.Fatalf("a valid typed request: %v", err)
	}
}
