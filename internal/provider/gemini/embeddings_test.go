package gemini_test

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge/internal/golden"
	"github.com/llmbridge/llmbridge/internal/provider/gemini"
	"github.com/llmbridge/llmbridge/internal/testupstream"
	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind (the fakes and
// the HTTP clients the tests start).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestEmbeddingsRequestGolden(t *testing.T) {
	req, e := gemini.DecodeEmbeddingRequest(readTestdata(t, "embeddings_request_openai.json"))
	if e != nil {
		t.Fatal(e)
	}
	if !req.Base64 || req.Dimensions == nil || *req.Dimensions != 4 || len(req.Inputs) != 2 {
		t.Fatalf("decoded %+v", req)
	}
	p := gemini.New(gemini.Config{Name: "gemini", BaseURL: "https://generativelanguage.googleapis.com/v1beta", APIKey: "AIza-test-key"})
	hreq, err := p.NewEmbeddingsRequest(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if hreq.URL.String() != "https://generativelanguage.googleapis.com/v1beta/models/gemini-embedding-001:batchEmbedContents" ||
		hreq.Header.Get("X-Goog-Api-Key") != "AIza-test-key" || strings.Contains(hreq.URL.String(), "AIza") {
		t.Errorf("request %s %v", hreq.URL, hreq.Header)
	}
	body, _ := io.ReadAll(hreq.Body)
	golden.Check(t, "embeddings_request_gemini.golden.json", golden.IndentJSON(t, body))
}

func TestEmbeddingsResponseGolden(t *testing.T) {
	body := readTestdata(t, "embeddings_response_gemini.json")
	for _, b64 := range []bool{false, true} {
		req := &gemini.EmbeddingRequest{Model: "gemini-embedding-001", Inputs: []string{"a", "b"}, Base64: b64}
		out, err := gemini.EmbeddingsResponse(body, req, 11)
		if err != nil {
			t.Fatal(err)
		}
		name := "embeddings_response_float.golden.json"
		if b64 {
			name = "embeddings_response_base64.golden.json"
		}
		golden.Check(t, name, golden.IndentJSON(t, out))
		var resp struct {
			Object string `json:"object"`
			Data   []struct {
				Object    string          `json:"object"`
				Index     int             `json:"index"`
				Embedding json.RawMessage `json:"embedding"`
			} `json:"data"`
			Usage struct{ PromptTokens, TotalTokens int } `json:"usage"`
		}
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatal(err)
		}
		if resp.Object != "list" || len(resp.Data) != 2 || resp.Data[1].Index != 1 || resp.Data[1].Object != "embedding" {
			t.Errorf("response %s", out)
		}
		got := decodeEmbedding(t, resp.Data[1].Embedding)
		want := []float32{0.00033951, -0.0211, 0.5, 1.25e-7}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("base64=%v: value %d = %v, want %v", b64, i, got[i], want[i])
			}
		}
	}
}

// decodeEmbedding reads a float array or base64 of little-endian float32,
// as the OpenAI SDKs do.
func decodeEmbedding(t *testing.T, raw json.RawMessage) []float32 {
	t.Helper()
	var s string
	if json.Unmarshal(raw, &s) == nil {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b)%4 != 0 {
			t.Fatalf("bad base64 embedding %q: %v", s, err)
		}
		out := make([]float32, len(b)/4)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return out
	}
	var f []float32
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestEmbeddingRequestErrors(t *testing.T) {
	for _, tc := range []struct{ body, param, msg string }{
		{`{"model":"m","input":[[1,2,3]]}`, "input[0]", "token arrays"},
		{`{"model":"m","input":[1,2,3]}`, "input[0]", "token arrays"},
		{`{"model":"m","input":["a",{}]}`, "input[1]", "string"},
		{`{"model":"m","input":[]}`, "input", "empty"},
		{`{"model":"m"}`, "input", "input"},
		{`{"model":"m","input":5}`, "input", "string"},
		{`{"input":"x"}`, "model", "model"},
		{`{"model":"m","input":"x","encoding_format":"int8"}`, "encoding_format", "float or base64"},
		{`{"model":"m","input":"x","dimensions":0}`, "dimensions", "positive"},
		{`{"model":"m","input":"x","dimensions":1.5}`, "dimensions", "positive"},
		{`{"model":`, "", "not valid JSON"},
	} {
		_, e := gemini.DecodeEmbeddingRequest([]byte(tc.body))
		if e == nil || e.Status != http.StatusBadRequest || e.Param != tc.param || !strings.Contains(e.Message, tc.msg) {
			t.Errorf("%s: %+v", tc.body, e)
		}
	}
}

// Through the Gemini fake: the batch request is accepted (model in every
// request matching the path), dimensions honoured, errors translated.
func TestEmbeddingsAgainstFake(t *testing.T) {
	up := testupstream.New(t, testupstream.GeminiNative)
	p := gemini.New(gemini.Config{Name: "gemini", BaseURL: up.BaseURL(), APIKey: up.Key})
	req, e := gemini.DecodeEmbeddingRequest([]byte(`{"model":"gemini-embedding-001","input":["x","yy","zzz"],"dimensions":3,"encoding_format":"base64"}`))
	if e != nil {
		t.Fatal(e)
	}
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	call := func() ([]byte, error) {
		hreq, err := p.NewEmbeddingsRequest(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(hreq)
		if err != nil {
			t.Fatal(err)
		}
		return p.DecodeEmbeddings(resp, req, 3)
	}
	out, err := call()
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Data []struct {
			Embedding json.RawMessage `json:"embedding"`
		} `json:"data"`
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Data) != 3 || len(decodeEmbedding(t, resp.Data[2].Embedding)) != 3 || resp.Usage.PromptTokens != 3 {
		t.Errorf("response %s", out)
	}
	up.Enqueue(testupstream.Reply{Status: 429})
	if _, err := call(); err == nil || !strings.Contains(err.Error(), "429") {
		t.Errorf("error = %v", err)
	}
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzEmbeddings: any body is refused with a 400 or gives a request that
// encodes; any Gemini body gives an error or a valid OpenAI response.
func FuzzEmbeddings(f *testing.F) {
	f.Add([]byte(`{"model":"m","input":["a","b"],"encoding_format":"base64","dimensions":4}`), []byte(`{"embeddings":[{"values":[0.5,1]},{"values":[2]}]}`))
	f.Add([]byte(`{"model":"m","input":"a"}`), []byte(`{"embeddings":[{"values":[1e40,-0]}]}`))
	f.Fuzz(func(t *testing.T, reqBody, respBody []byte) {
		req, e := gemini.DecodeEmbeddingRequest(reqBody)
		if e != nil {
			if e.Status != http.StatusBadRequest {
				t.Fatalf("status %d", e.Status)
			}
			return
		}
		p := gemini.New(gemini.Config{Name: "gemini", BaseURL: "https://example.com/v1beta", APIKey: "k"})
		if _, err := p.NewEmbeddingsRequest(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		out, err := gemini.EmbeddingsResponse(respBody, req, 1)
		if err == nil && !json.Valid(out) {
			t.Fatalf("invalid JSON: %s", out)
		}
	})
}
