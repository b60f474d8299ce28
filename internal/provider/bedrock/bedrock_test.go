package bedrock_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"go.uber.org/goleak"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/provider/bedrock"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

// TestMain checks for leaked goroutines once the idle connections the
// tests left in http.DefaultClient's pool are closed.
func TestMain(m *testing.M) {
	code := m.Run()
	http.DefaultClient.CloseIdleConnections()
	if err := goleak.Find(); code == 0 && err != nil {
		fmt.Fprintln(os.Stderr, "goleak:", err)
		code = 1
	}
	os.Exit(code)
}

// The model IDs the tests send: an inference profile (with ':') and an
// ARN (with ':' and '/').
const (
	profileModel = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
	arnModel     = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0"
)

func staticCreds(secret string) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(testupstream.BedrockAccessKeyID, secret, testupstream.BedrockSessionToken)
}

// signed is a provider signing with the fake's credentials (or secret).
func signed(t *testing.T, up *testupstream.Server, secret string) *bedrock.Provider {
	t.Helper()
	p := bedrock.New(bedrock.Config{Name: "bedrock", Region: testupstream.BedrockRegion, BaseURL: up.BaseURL(), Credentials: staticCreds(secret)})
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return p
}

func chat(model string, stream bool, msgs ...openai.Message) *openai.ChatRequest {
	if len(msgs) == 0 {
		msgs = []openai.Message{{Role: "user", Content: openai.TextContent("hi")}}
	}
	return &openai.ChatRequest{Model: model, Stream: stream, Messages: msgs}
}

// send builds, sends and returns the upstream's answer to req.
func send(t *testing.T, p *bedrock.Provider, req *openai.ChatRequest) *http.Response {
	t.Helper()
	hreq, err := p.NewRequest(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() }) // a second Close is harmless
	return resp
}

// A SigV4-signed request for model IDs with ':' and '/' reaches the fake,
// which recomputes the signature from what it received and accepts it;
// the model ID stays one path segment.
func TestSignedConverse(t *testing.T) {
	up := testupstream.New(t, testupstream.Bedrock)
	p := signed(t, up, testupstream.BedrockSecretKey)
	for _, model := range []string{profileModel, arnModel, "amazon.nova-lite-v1:0"} {
		resp := send(t, p, chat(model, false))
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %v", model, p.DecodeError(resp))
		}
		r, err := p.DecodeResponse(resp)
		if err != nil || r.Choices[0].Message.Content.String() != "Hello world" || r.Model != model || r.Usage.TotalTokens != 11 {
			t.Fatalf("%s: %+v %v", model, r, err)
		}
	}
	reqs := up.Requests()
	if got := reqs[1].Path; got != "/model/"+arnModel+"/converse" {
		t.Errorf("path %q", got)
	}
	h := reqs[0].Header
	if h.Get("X-Amz-Security-Token") != testupstream.BedrockSessionToken || !strings.Contains(h.Get("Authorization"), "/us-east-1/bedrock/aws4_request") {
		t.Errorf("headers %v", h)
	}
}

// The fake's check can fail: a signature made with another secret is
// refused, and the error says so without the secret.
func TestWrongSecretIsRefused(t *testing.T) {
	up := testupstream.New(t, testupstream.Bedrock)
	wrong := "wJalrXUtnFEMI/K7MDENG/bPxRfiCYWRONGKEY00"
	p := signed(t, up, wrong)
	resp := send(t, p, chat(profileModel, false))
	var ae *openai.APIError
	if err := p.DecodeError(resp); !errors.As(err, &ae) || ae.Status != 403 || ae.Code != "InvalidSignatureException" || ae.Type != openai.TypeAuthentication {
		t.Fatalf("got %v", err)
	}
	if strings.Contains(ae.Message, wrong) || strings.Contains(ae.Message, testupstream.BedrockSecretKey) {
		t.Errorf("secret in the message: %s", ae.Message)
	}
}

// Tampering with what was signed (the body, the path) fails as well.
func TestTamperedRequestIsRefused(t *testing.T) {
	up := testupstream.New(t, testupstream.Bedrock)
	p := signed(t, up, testupstream.BedrockSecretKey)
	for name, tamper := range map[string]func(*http.Request){
		"body": func(r *http.Request) {
			b := `{"messages":[{"role":"user","content":[{"text":"ho"}]}]}`
			r.Body, r.ContentLength = io.NopCloser(strings.NewReader(b)), int64(len(b))
		},
		"model": func(r *http.Request) {
			r.URL.RawPath = strings.Replace(r.URL.RawPath, "haiku", "sonnet", 1)
			r.URL.Path = strings.Replace(r.URL.Path, "haiku", "sonnet", 1)
		},
		"unescaped path": func(r *http.Request) { r.URL.RawPath = "" },
	} {
		hreq, err := p.NewRequest(context.Background(), chat(profileModel, false))
		if err != nil {
			t.Fatal(err)
		}
		tamper(hreq)
		resp, err := http.DefaultClient.Do(hreq)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode == 200 {
			t.Errorf("%s: tampered request accepted", name)
		}
		resp.Body.Close()
	}
}

// A signature older than five minutes is refused (the fake checks the
// clock as AWS does).
func TestStaleSignatureIsRefused(t *testing.T) {
	up := testupstream.New(t, testupstream.Bedrock)
	p := bedrock.New(bedrock.Config{Name: "bedrock", Region: testupstream.BedrockRegion, BaseURL: up.BaseURL(),
		Credentials: staticCreds(testupstream.BedrockSecretKey), Now: func() time.Time { return time.Now().Add(-10 * time.Minute) }})
	if resp := send(t, p, chat(profileModel, false)); resp.StatusCode != 403 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// countingCreds counts Retrieve calls; the first credentials it hands out
// have already expired.
type countingCreds struct{ n atomic.Int32 }

func (c *countingCreds) Retrieve(context.Context) (aws.Credentials, error) {
	n := c.n.Add(1)
	exp := time.Now().Add(time.Hour)
	if n == 1 {
		exp = time.Now().Add(-time.Second)
	}
	return aws.Credentials{AccessKeyID: testupstream.BedrockAccessKeyID, SecretAccessKey: testupstream.BedrockSecretKey,
		CanExpire: true, Expires: exp, Source: "test"}, nil
}

// Credentials come from the SDK's cache: fetched again once expired, then
// reused for every request while valid.
func TestCredentialsAreCachedAndRefreshed(t *testing.T) {
	up := testupstream.New(t, testupstream.Bedrock)
	creds := &countingCreds{}
	p := bedrock.New(bedrock.Config{Name: "bedrock", Region: testupstream.BedrockRegion, BaseURL: up.BaseURL(), Credentials: creds})
	for range 5 {
		resp := send(t, p, chat(profileModel, false))
		if resp.StatusCode != 200 {
			t.Fatal(p.DecodeError(resp))
		}
		resp.Body.Close()
	}
	if n := creds.n.Load(); n != 2 {
		t.Errorf("Retrieve called %d times, want 2 (the expired credentials, then one refresh)", n)
	}
}

// Credentials from the default chain: the AWS_* variables, session token
// included.
func TestDefaultChainFromEnvironment(t *testing.T) {
	isolate(t)
	t.Setenv("AWS_ACCESS_KEY_ID", testupstream.BedrockAccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", testupstream.BedrockSecretKey)
	t.Setenv("AWS_SESSION_TOKEN", testupstream.BedrockSessionToken)
	t.Setenv("AWS_REGION", testupstream.BedrockRegion)
	up := testupstream.New(t, testupstream.Bedrock)
	p := bedrock.New(bedrock.Config{Name: "bedrock", BaseURL: up.BaseURL()})
	if err := p.Validate(); err != nil || p.Region() != "us-east-1" {
		t.Fatal(err, p.Region())
	}
	if resp := send(t, p, chat(profileModel, false)); resp.StatusCode != 200 {
		t.Fatal(p.DecodeError(resp))
	}
}

// isolate keeps the test's AWS configuration from the machine's files and
// instance metadata.
func isolate(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]string{"AWS_CONFIG_FILE": dir + "/config", "AWS_SHARED_CREDENTIALS_FILE": dir + "/credentials",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_PROFILE": "", "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
		"AWS_SESSION_TOKEN": "", "AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_WEB_IDENTITY_TOKEN_FILE": "",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI": "", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": ""} {
		t.Setenv(k, v)
	}
}

// Without a region anywhere, Validate says so.
func TestNoRegionIsAConfigError(t *testing.T) {
	isolate(t)
	p := bedrock.New(bedrock.Config{Name: "bedrock", APIKey: "k"})
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "region") {
		t.Fatalf("Validate = %v", err)
	}
	if got := bedrock.New(bedrock.Config{Name: "b", Region: "eu-west-3", APIKey: "k"}).URL(arnModel, true); got !=
		"https://bedrock-runtime.eu-west-3.amazonaws.com/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream" {
		t.Errorf("URL %s", got)
	}
}

// A Bedrock API key goes as a bearer token, without signing.
func TestAPIKey(t *testing.T) {
	up := testupstream.New(t, testupstream.Bedrock)
	p := bedrock.New(bedrock.Config{Name: "bedrock", Region: "us-east-1", BaseURL: up.BaseURL(), APIKey: up.Key})
	resp := send(t, p, chat(profileModel, false))
	if resp.StatusCode != 200 {
		t.Fatal(p.DecodeError(resp))
	}
	resp.Body.Close()
	if h := up.Requests()[0].Header; h.Get("Authorization") != "Bearer "+up.Key || h.Get("X-Amz-Date") != "" {
		t.Errorf("headers %v", h)
	}
	p = bedrock.New(bedrock.Config{Name: "bedrock", Region: "us-east-1", BaseURL: up.BaseURL(), APIKey: "wrong-key"})
	var ae *openai.APIError
	if err := p.DecodeError(send(t, p, chat(profileModel, false))); !errors.As(err, &ae) || ae.Status != 403 {
		t.Fatalf("got %v", err)
	}
}

// An upstream that echoes the API key back has it redacted.
func TestEchoedKeyIsRedacted(t *testing.T) {
	const key = "ABSKQmVkcm9ja0FQSUtleS1leGFtcGxl"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Amzn-Errortype", "UnrecognizedClientException")
		w.WriteHeader(403)
		io.WriteString(w, `{"message":"bad token `+strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")+`"}`)
	}))
	defer srv.Close()
	p := bedrock.New(bedrock.Config{Name: "bedrock", Region: "us-east-1", BaseURL: srv.URL, APIKey: key})
	err := p.DecodeError(send(t, p, chat(profileModel, false)))
	if err == nil || strings.Contains(err.Error(), key) {
		t.Fatalf("got %v", err)
	}
}

// Exceptions keep their status, name the exception as the code, and keep
// Retry-After; each status becomes the OpenAI error type clients expect.
func TestExceptions(t *testing.T) {
	up := testupstream.New(t, testupstream.Bedrock)
	p := signed(t, up, testupstream.BedrockSecretKey)
	for _, tt := range []struct {
		rep        testupstream.Reply
		status     int
		code, typ  string
		retryAfter string
	}{
		{testupstream.Reply{Status: 429, RetryAfter: "3"}, 429, "ThrottlingException", "rate_limit_exceeded", "3"},
		{testupstream.Reply{Status: 429, ErrorBody: "ModelNotReadyException"}, 429, "ModelNotReadyException", "rate_limit_exceeded", ""},
		{testupstream.Reply{Status: 400}, 400, "ValidationException", openai.TypeInvalidRequest, ""},
		{testupstream.Reply{Status: 403}, 403, "AccessDeniedException", openai.TypeAuthentication, ""},
		{testupstream.Reply{Status: 408}, 408, "ModelTimeoutException", openai.TypeInvalidRequest, ""},
		{testupstream.Reply{Status: 424}, 424, "ModelErrorException", openai.TypeInvalidRequest, ""},
		{testupstream.Reply{Status: 503}, 503, "ServiceUnavailableException", openai.TypeServer, ""},
		{testupstream.Reply{Status: 500}, 500, "InternalServerException", openai.TypeServer, ""},
	} {
		up.Enqueue(tt.rep)
		var ae *openai.APIError
		if err := p.DecodeError(send(t, p, chat(profileModel, false))); !errors.As(err, &ae) ||
			ae.Status != tt.status || ae.Code != tt.code || ae.Type != tt.typ || ae.RetryAfter != tt.retryAfter || ae.Message == "" {
			t.Errorf("%s: got %+v", tt.code, ae)
		}
	}
	// The fake's own validation answers as Bedrock does.
	var ae *openai.APIError
	msgs := []openai.Message{{Role: "assistant", Content: openai.TextContent("I start")}}
	if err := p.DecodeError(send(t, p, chat(profileModel, false, msgs...))); !errors.As(err, &ae) || ae.Status != 400 || ae.Code != "ValidationException" {
		t.Errorf("validation: %v", err)
	}
}

// collect drains a stream into its content, reasoning, tool calls, finish
// reason and usage, and the error that ended it.
type collected struct {
	content, reasoning, signature, finish string
	tools                                 map[int]*openai.ToolCall
	usage                                 *openai.Usage
	err                                   error
}

func collect(p *bedrock.Provider, resp *http.Response) collected {
	c := collected{tools: map[int]*openai.ToolCall{}}
	for ch, err := range p.DecodeStream(resp) {
		if err != nil {
			c.err = err
			break
		}
		if ch.Usage != nil {
			c.usage = ch.Usage
		}
		for _, choice := range ch.Choices {
			d := choice.Delta
			if d.Content != nil {
				c.content += *d.Content
			}
			if d.ReasoningContent != nil {
				c.reasoning += *d.ReasoningContent
			}
			if raw := d.Extra[openai.SignatureField]; raw != nil {
				_ = json.Unmarshal(raw, &c.signature)
			}
			for _, tc := range d.ToolCalls {
				cur := c.tools[*tc.Index]
				if cur == nil {
					cur = &openai.ToolCall{ID: tc.ID, Function: openai.FunctionCall{Name: tc.Function.Name}}
					c.tools[*tc.Index] = cur
				}
				cur.Function.Arguments += tc.Function.Arguments
			}
			if choice.FinishReason != nil {
				c.finish = *choice.FinishReason
			}
		}
	}
	return c
}

// A ConverseStream answer with reasoning, text and two tool calls (one
// without input) comes back as OpenAI deltas, with cache usage.
func TestStream(t *testing.T) {
	up := testupstream.New(t, testupstream.Bedrock)
	p := signed(t, up, testupstream.BedrockSecretKey)
	up.Enqueue(testupstream.Reply{Reasoning: []string{"Think", "ing."}, Content: []string{"Let me ", "check."},
		ToolCalls: []testupstream.ToolCall{{ID: "tooluse_1", Name: "get_weather", Args: []string{`{"city":`, `"Paris"}`}}, {ID: "tooluse_2", Name: "now"}},
		Usage:     testupstream.Usage{Prompt: 1200, Cached: 1000, CacheWrite: 100, Completion: 40}})
	c := collect(p, send(t, p, chat(profileModel, true)))
	if c.err != nil || c.content != "Let me check." || c.reasoning != "Thinking." || c.signature != "EqoBCkgIARAB-sig" || c.finish != "tool_calls" {
		t.Fatalf("%+v", c)
	}
	if len(c.tools) != 2 || c.tools[0].ID != "tooluse_1" || c.tools[0].Function.Arguments != `{"city":"Paris"}` ||
		c.tools[1].Function.Name != "now" || c.tools[1].Function.Arguments != "{}" {
		t.Errorf("tools %+v %+v", c.tools[0], c.tools[1])
	}
	if u := c.usage; u == nil || u.PromptTokens != 1200 || u.CompletionTokens != 40 || u.TotalTokens != 1240 || u.CachedTokens() != 1000 || u.CacheWriteTokens() != 100 {
		t.Errorf("usage %+v", c.usage)
	}
}

// Exceptions inside the stream end it with an error of the exception's
// status; a cut stream is truncated.
func TestStreamFailures(t *testing.T) {
	up := testupstream.New(t, testupstream.Bedrock)
	p := signed(t, up, testupstream.BedrockSecretKey)
	for _, tt := range []struct {
		rep    testupstream.Reply
		status int
		code   string
	}{
		{testupstream.Reply{Content: []string{"a", "b", "c"}, ErrorEvent: true}, 424, "ModelStreamErrorException"},
		{testupstream.Reply{FailFirst: "error"}, 429, "ThrottlingException"},
	} {
		up.Enqueue(tt.rep)
		var ae *openai.APIError
		if c := collect(p, send(t, p, chat(profileModel, true))); !errors.As(c.err, &ae) || ae.Status != tt.status || ae.Code != tt.code {
			t.Errorf("%s: %v", tt.code, c.err)
		}
	}
	up.Enqueue(testupstream.Reply{Content: []string{"a", "b", "c"}, CutAfter: 2})
	if c := collect(p, send(t, p, chat(profileModel, true))); !errors.Is(c.err, openai.ErrTruncated) && !errors.Is(c.err, io.ErrUnexpectedEOF) {
		t.Errorf("cut: %v", c.err)
	}
}

// An upstream that echoes the session token (in an error response or an
// in-stream exception) has it redacted.
func TestEchoedSessionTokenIsRedacted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		msg := `{"message":"token ` + r.Header.Get("X-Amz-Security-Token") + ` expired"}`
		if r.URL.Path[len(r.URL.Path)-len("-stream"):] == "-stream" {
			w.Write(testupstream.EncodeBedrockFrame("exception", "validationException", []byte(msg)))
			return
		}
		w.Header().Set("X-Amzn-Errortype", "ExpiredTokenException")
		w.WriteHeader(403)
		io.WriteString(w, msg)
	}))
	defer srv.Close()
	p := bedrock.New(bedrock.Config{Name: "bedrock", Region: "us-east-1", BaseURL: srv.URL, Credentials: staticCreds(testupstream.BedrockSecretKey)})
	err := p.DecodeError(send(t, p, chat(profileModel, false)))
	if err == nil || strings.Contains(err.Error(), testupstream.BedrockSessionToken) || !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("error response: %v", err)
	}
	c := collect(p, send(t, p, chat(profileModel, true)))
	if c.err == nil || strings.Contains(c.err.Error(), testupstream.BedrockSessionToken) || !strings.Contains(c.err.Error(), "[redacted]") {
		t.Errorf("stream exception: %v", c.err)
	}
}

// failingCreds is a credentials chain with nothing to give.
type failingCreds struct{}

func (failingCreds) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{}, errors.New("no EC2 IMDS role found")
}

// Without credentials, NewRequest fails before anything is sent, with a
// plain error the Bridge logs and answers with 500.
func TestNoCredentials(t *testing.T) {
	p := bedrock.New(bedrock.Config{Name: "bedrock", Region: "us-east-1", Credentials: failingCreds{}})
	_, err := p.NewRequest(context.Background(), chat(profileModel, false))
	var ae *openai.APIError
	if err == nil || errors.As(err, &ae) || !strings.Contains(err.Error(), "retrieving AWS credentials") {
		t.Fatalf("got %v", err)
	}
}

// After an ExpiredTokenException the cached credentials are dropped: the
// next request fetches new ones.
func TestExpiredTokenRefreshesCredentials(t *testing.T) {
	up := testupstream.New(t, testupstream.Bedrock)
	creds := &countingCreds{}
	creds.n.Store(1) // past the already-expired first hand-out
	p := bedrock.New(bedrock.Config{Name: "bedrock", Region: testupstream.BedrockRegion, BaseURL: up.BaseURL(), Credentials: creds})
	up.Enqueue(testupstream.Reply{Status: 403, ErrorBody: "ExpiredTokenException"})
	var ae *openai.APIError
	if err := p.DecodeError(send(t, p, chat(profileModel, false))); !errors.As(err, &ae) || ae.Code != "ExpiredTokenException" {
		t.Fatalf("got %v", err)
	}
	for range 3 {
		resp := send(t, p, chat(profileModel, false))
		if resp.StatusCode != 200 {
			t.Fatal(p.DecodeError(resp))
		}
		resp.Body.Close()
	}
	if n := creds.n.Load() - 1; n != 2 {
		t.Errorf("Retrieve called %d times, want 2 (before and after the expired token)", n)
	}
}

// An AWS_PROFILE that names no profile is a configuration error at New.
func TestMissingProfileIsAConfigError(t *testing.T) {
	isolate(t)
	t.Setenv("AWS_PROFILE", "no-such-profile")
	p := bedrock.New(bedrock.Config{Name: "bedrock", Region: "us-east-1"})
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "no-such-profile") {
		t.Fatalf("Validate = %v", err)
	}
}
