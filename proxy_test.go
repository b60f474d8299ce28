package llmbridge_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge"
	"github.com/llmbridge/llmbridge/internal/testupstream"
)

const proxyPassword = "proxy-pass-canary-7731"

// proxied builds a bridge whose "openai" provider goes through proxyURL and
// whose "deepseek" provider connects directly.
func proxied(t *testing.T, proxyURL, openaiBase string, extra ...llmbridge.Option) (*httptest.Server, *testupstream.Server, *testupstream.Server) {
	t.Helper()
	oa := testupstream.New(t, testupstream.OpenAI)
	ds := testupstream.New(t, testupstream.DeepSeek)
	if openaiBase == "" {
		openaiBase = oa.BaseURL()
	} else {
		openaiBase = strings.Replace(oa.BaseURL(), "127.0.0.1", openaiBase, 1)
	}
	b, err := llmbridge.New(append([]llmbridge.Option{
		llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{BaseURL: openaiBase, APIKey: oa.Key}), llmbridge.ViaProxy(proxyURL)),
		llmbridge.WithProvider(llmbridge.DeepSeek(llmbridge.ProviderConfig{BaseURL: ds.BaseURL(), APIKey: ds.Key})),
		llmbridge.WithRetry(llmbridge.RetryPolicy{}),
	}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	t.Cleanup(func() { srv.Close(); b.Close() })
	return srv, oa, ds
}

func chat(t *testing.T, srv *httptest.Server, model string, stream bool) (int, string) {
	t.Helper()
	s := ""
	if stream {
		s = `,"stream":true`
	}
	resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"x"}]`+s+`}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestProxyRoutesOnlyTheMarkedProvider(t *testing.T) {
	socks := testupstream.StartSOCKS5(t, "user", proxyPassword)
	httpProxy := testupstream.StartHTTPProxy(t, "user", proxyPassword)
	for _, tc := range []struct {
		name, url string
		p         *testupstream.Proxy
	}{
		{"socks5h", "socks5h://user:" + proxyPassword + "@" + socks.Addr, socks},
		{"http", "http://user:" + proxyPassword + "@" + httpProxy.Addr, httpProxy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.p.Conns()
			srv, oa, ds := proxied(t, tc.url, "")
			for _, stream := range []bool{false, true} {
				if code, body := chat(t, srv, "openai/gpt-4o", stream); code != 200 {
					t.Fatalf("via proxy: %d %s", code, body)
				}
				if code, body := chat(t, srv, "deepseek/deepseek-chat", stream); code != 200 {
					t.Fatalf("direct: %d %s", code, body)
				}
			}
			if tc.p.Conns() == before {
				t.Error("the proxied provider did not use the proxy")
			}
			dsHost := strings.TrimPrefix(ds.URL, "http://")
			for _, d := range tc.p.Dests() {
				if strings.HasSuffix(d, dsHost[strings.LastIndex(dsHost, ":"):]) {
					t.Errorf("the direct provider went through the proxy (%s)", d)
				}
			}
			if len(oa.Requests()) != 2 || len(ds.Requests()) != 2 {
				t.Errorf("requests: openai %d deepseek %d", len(oa.Requests()), len(ds.Requests()))
			}
		})
	}
}

func TestSOCKS5ResolvesLocallySOCKS5hRemotely(t *testing.T) {
	socks := testupstream.StartSOCKS5(t, "", "")
	srv, _, _ := proxied(t, "socks5h://"+socks.Addr, "localhost")
	if code, body := chat(t, srv, "openai/gpt-4o", false); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	srv, _, _ = proxied(t, "socks5://"+socks.Addr, "localhost")
	if code, body := chat(t, srv, "openai/gpt-4o", false); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	d := socks.Dests()
	if len(d) != 2 || !strings.HasPrefix(d[0], "localhost:") {
		t.Fatalf("socks5h should pass the name: %v", d)
	}
	if h, _, _ := net.SplitHostPort(d[1]); net.ParseIP(h) == nil {
		t.Errorf("socks5 should pass an address: %v", d)
	}
}

func TestProxyFailuresAreClear502s(t *testing.T) {
	socks := testupstream.StartSOCKS5(t, "user", "right-password")
	httpProxy := testupstream.StartHTTPProxy(t, "user", "right-password")
	dead := testupstream.DeadAddr(t)
	silent := testupstream.StartSilent(t)
	for _, tc := range []struct{ name, url, host string }{
		{"socks down", "socks5h://user:" + proxyPassword + "@" + dead, dead},
		{"socks wrong password", "socks5://user:" + proxyPassword + "@" + socks.Addr, socks.Addr},
		{"socks proxy that never answers", "socks5h://user:" + proxyPassword + "@" + silent.Addr, silent.Addr},
		{"http proxy down", "http://user:" + proxyPassword + "@" + dead, dead},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, oa, _ := proxied(t, tc.url, "", llmbridge.WithTimeouts(llmbridge.Timeouts{Connect: 200 * time.Millisecond}))
			code, body := chat(t, srv, "openai/gpt-4o", true)
			if code != 502 || !strings.Contains(body, `"code":"proxy_unreachable"`) || !strings.Contains(body, tc.host) {
				t.Fatalf("%d %s", code, body)
			}
			if strings.Contains(body, proxyPassword) {
				t.Fatalf("the proxy password leaked: %s", body)
			}
			if len(oa.Requests()) != 0 {
				t.Error("request reached the upstream")
			}
			if code, _ := chat(t, srv, "deepseek/deepseek-chat", false); code != 200 {
				t.Errorf("direct provider affected: %d", code)
			}
		})
	}
	// A wrong password for an HTTP proxy with an http:// upstream comes back
	// as the proxy's 407 response, which is relayed as an upstream error.
	srv, _, _ := proxied(t, "http://user:wrong@"+httpProxy.Addr, "")
	if code, body := chat(t, srv, "openai/gpt-4o", false); code != 407 || strings.Contains(body, "wrong") {
		t.Errorf("%d %s", code, body)
	}
}

func TestViaProxyValidation(t *testing.T) {
	for _, bad := range []string{"ftp://x", "socks5://", "http://user:" + proxyPassword + "@%zz"} {
		_, err := llmbridge.New(llmbridge.WithProvider(llmbridge.OpenAI(llmbridge.ProviderConfig{}), llmbridge.ViaProxy(bad)))
		if err == nil {
			t.Errorf("%q accepted", bad)
		} else if strings.Contains(err.Error(), proxyPassword) {
			t.Errorf("password in error: %v", err)
		}
	}
}
