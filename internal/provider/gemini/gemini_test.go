package gemini_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge/internal/golden"
	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/provider/gemini"
	"github.com/llmbridge/llmbridge/providertest"
)

// translate sends req through the provider to a recording server and
// returns the body Gemini would receive.
func translate(t *testing.T, req *openai.ChatRequest) (*http.Request, []byte, error) {
	p := gemini.New(gemini.Config{Name: "gemini", BaseURL: "https://generativelanguage.googleapis.com/v1beta", APIKey: "AIza-test-key"})
	hreq, err := p.NewRequest(t.Context(), req)
	if err != nil {
		return nil, nil, err
	}
	b, _ := io.ReadAll(hreq.Body)
	return hreq, b, nil
}

func readRequest(t *testing.T, name string) *openai.ChatRequest {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var req openai.ChatRequest
	if err := json.Unmarshal(b, &req); err != nil {
		t.Fatal(err)
	}
	return &req
}

func TestTranslateRequestGolden(t *testing.T) {
	req := readRequest(t, "request_openai.json")
	hreq, body, err := translate(t, req)
	if err != nil {
		t.Fatal(err)
	}
	if hreq.URL.String() != "https://generativelanguage.googleapis.com/v1beta/models/gemini-3-pro-preview:streamGenerateContent?alt=sse" {
		t.Errorf("URL %s", hreq.URL)
	}
	if hreq.Header.Get("X-Goog-Api-Key") != "AIza-test-key" || strings.Contains(hreq.URL.String(), "AIza") || hreq.Header.Get("Authorization") != "" {
		t.Errorf("key placement: header %q, URL %s", hreq.Header.Get("X-Goog-Api-Key"), hreq.URL)
	}
	golden.Check(t, "request_gemini.golden.json", golden.IndentJSON(t, body))
}

func TestTranslateRequestErrors(t *testing.T) {
	for name, in := range map[string]string{
		"http image":           `{"model":"g","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]}]}`,
		"bad tool arguments":   `{"model":"g","messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{not json"}}]}]}`,
		"unknown tool call id": `{"model":"g","messages":[{"role":"user","content":"x"},{"role":"tool","tool_call_id":"nope","content":"1"}]}`,
		"only system":          `{"model":"g","messages":[{"role":"system","content":"x"}]}`,
		"bad effort":           `{"model":"g","messages":[{"role":"user","content":"x"}],"reasoning_effort":"extreme"}`,
	} {
		t.Run(name, func(t *testing.T) {
			var req openai.ChatRequest
			if err := json.Unmarshal([]byte(in), &req); err != nil {
				t.Fatal(err)
			}
			_, _, err := translate(t, &req)
			var ae *openai.APIError
			if !errors.As(err, &ae) || ae.Status != 400 || ae.Message == "" {
				t.Fatalf("got %v, want a 400 APIError", err)
			}
		})
	}
}

func response(t *testing.T, name, contentType string) *http.Response {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {contentType}}, Body: io.NopCloser(bytes.NewReader(b))}
}

// The recorded streams of wire-formats.md §6.3 (text; a Gemini 3 tool call
// with its thought signature; thought parts), translated to OpenAI chunks.
func TestDecodeStreamGolden(t *testing.T) {
	p := gemini.New(gemini.Config{Name: "gemini", BaseURL: "https://x/v1beta"})
	for _, name := range []string{"stream_text", "stream_toolcall_signature", "stream_thoughts", "stream_toolcall_finish"} {
		t.Run(name, func(t *testing.T) {
			// Encoded after the stream: a consumer may keep the chunks,
			// and nothing the decoder does later may change them.
			var chunks []*openai.ChatChunk
			for ch, err := range p.DecodeStream(response(t, name+".sse", "text/event-stream")) {
				if err != nil {
					t.Fatal(err)
				}
				chunks = append(chunks, ch)
			}
			var out bytes.Buffer
			for _, ch := range chunks {
				ch.Created = 0 // the only wall-clock field
				b, _ := openai.Marshal(ch)
				out.Write(maskIDs(b))
				out.WriteByte('\n')
			}
			golden.Check(t, name+".golden.jsonl", out.Bytes())
		})
	}
}

func TestDecodeResponseGolden(t *testing.T) {
	p := gemini.New(gemini.Config{Name: "gemini", BaseURL: "https://x/v1beta"})
	r, err := p.DecodeResponse(response(t, "response_thinking.json", "application/json"))
	if err != nil {
		t.Fatal(err)
	}
	r.Created = 0
	b, _ := openai.Marshal(r)
	golden.Check(t, "response_thinking.golden.json", golden.IndentJSON(t, maskIDs(b)))
}

// mintedID is a chunk or response id the translation minted (the
// upstream gave no responseId).
var mintedID = regexp.MustCompile(`"chatcmpl-[0-9a-f]{24}"`)

// maskIDs replaces minted random ids with stable markers.
func maskIDs(b []byte) []byte {
	s := mintedID.ReplaceAllString(string(b), `"chatcmpl-MINTED"`)
	for {
		i := strings.Index(s, `"id":"call_g`)
		if i < 0 {
			return []byte(s)
		}
		j := i + len(`"id":"call_g`)
		k := j
		for k < len(s) && (s[k] >= '0' && s[k] <= '9' || s[k] >= 'a' && s[k] <= 'f') {
			k++
		}
		s = s[:i] + `"id":"call_G` + s[k:]
	}
}

func TestDecodeStreamTruncated(t *testing.T) {
	p := gemini.New(gemini.Config{Name: "gemini", BaseURL: "https://x/v1beta"})
	body := "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"The\"}],\"role\": \"model\"}}]}\r\n\r\n"
	var last error
	for _, err := range p.DecodeStream(&http.Response{Body: io.NopCloser(strings.NewReader(body))}) {
		last = err
	}
	if !errors.Is(last, openai.ErrTruncated) {
		t.Fatalf("got %v", last)
	}
}

func TestDecodeErrors(t *testing.T) {
	p := gemini.New(gemini.Config{Name: "gemini", BaseURL: "https://x/v1beta", APIKey: "AIza-secret"})
	for _, tc := range []struct {
		status     int
		body, code string
		want       int
	}{
		{400, `{"error":{"code":400,"message":"API key not valid. Please pass a valid API key. AIza-secret","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]}}`, "invalid_api_key", 401},
		{429, `{"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED"}}`, "rate_limit_exceeded", 429},
		{400, `[{"error":{"code":400,"message":"bad","status":"INVALID_ARGUMENT"}}]`, "", 400},
		{503, `{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}`, "", 503},
		{504, `{"error":{"code":504,"message":"Deadline","status":"DEADLINE_EXCEEDED"}}`, "", 504},
		{500, `<html>oops</html>`, "", 500},
	} {
		e := p.DecodeError(&http.Response{StatusCode: tc.status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(tc.body))}).(*openai.APIError)
		if e.Status != tc.want || e.Code != tc.code || e.Message == "" || strings.Contains(e.Message, "AIza-secret") {
			t.Errorf("%s: %+v", tc.body, e)
		}
	}
}

func FuzzTranslateRequest(f *testing.F) {
	b, _ := os.ReadFile("testdata/request_openai.json")
	f.Add(b)
	f.Add([]byte(`{"model":"g","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":["string","null"],"const":1}}}],"tool_choice":"required"}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var req openai.ChatRequest
		if json.Unmarshal(in, &req) != nil {
			return
		}
		req.Model = "g"
		_, body, err := translate(t, &req)
		if err != nil {
			var ae *openai.APIError
			if !errors.As(err, &ae) || ae.Status != 400 {
				t.Fatalf("error is not a 400 APIError: %v", err)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("invalid JSON: %s", body)
		}
	})
}

func FuzzDecodeStream(f *testing.F) {
	for _, n := range []string{"stream_text.sse", "stream_toolcall_signature.sse", "stream_thoughts.sse"} {
		b, _ := os.ReadFile(filepath.Join("testdata", n))
		f.Add(b)
	}
	p := gemini.New(gemini.Config{Name: "gemini", BaseURL: "https://x/v1beta"})
	f.Fuzz(func(t *testing.T, body []byte) {
		b := providertest.NewCountingBody(bytes.NewReader(body))
		for range p.DecodeStream(&http.Response{Body: b}) {
		}
		if b.Closes() != 1 {
			t.Fatalf("closed %d times", b.Closes())
		}
	})
}

// BenchmarkTranslateRequest: the request translation (compare with the
// OpenAI pass-through's BenchmarkRewriteBody in the root package).
func BenchmarkTranslateRequest(b *testing.B) {
	raw, _ := os.ReadFile("testdata/request_openai.json")
	var req openai.ChatRequest
	_ = json.Unmarshal(raw, &req)
	p := gemini.New(gemini.Config{Name: "gemini", BaseURL: "https://x/v1beta"})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.NewRequest(b.Context(), &req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeTextStream: a stream of 100 text events (the recording's
// middle event repeated) and its last; allocs/event is what one more
// event costs, near enough.
func BenchmarkDecodeTextStream(b *testing.B) {
	rec, _ := os.ReadFile("testdata/stream_text.sse")
	events := bytes.Split(bytes.TrimSpace(rec), []byte("\r\n\r\n")) // recorded with CRLF
	const n = 100
	var body []byte
	for range n {
		body = append(append(body, events[1]...), "\n\n"...)
	}
	body = append(append(body, events[len(events)-1]...), "\n\n"...)
	benchDecode(b, body)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/event")
}

// benchDecode decodes the stream body b.N times.
func benchDecode(b *testing.B, body []byte) {
	p := gemini.New(gemini.Config{Name: "gemini", BaseURL: "https://x/v1beta"})
	b.ReportAllocs()
	for b.Loop() {
		for _, err := range p.DecodeStream(&http.Response{Body: io.NopCloser(bytes.NewReader(body))}) {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkDecodeStreamEvent: per-event cost of translating a Gemini
// stream (a 3-event recording, reported per event).
func BenchmarkDecodeStreamEvent(b *testing.B) {
	body, _ := os.ReadFile("testdata/stream_text.sse")
	benchDecode(b, body)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/3, "ns/event")
}
