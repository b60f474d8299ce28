package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/llmbridge/llmbridge/internal/golden"
)

func TestMaskConfigHidesEverySecret(t *testing.T) {
	env := map[string]string{
		"LLMBRIDGE_ADMIN_KEY":     "canary-admin",
		"LLMBRIDGE_METRICS_TOKEN": "canary-metrics",
		"ACCESS_API_KEYS":         "canary-acc-1,canary-acc-2",
		"OPENAI_API_KEY":          "canary-openai",
		"OPENAI_BASE_URL":         "https://api.openai.com/v1",
		"LLMBRIDGE_PROXY":         "http://user:canary-proxy@proxy.internal:3128",
		"LLMBRIDGE_REDIS_URL":     "rediss://:canary-redis@redis.internal:6380/0",
		"LLMBRIDGE_DB":            "postgres://bridge:canary-pg@db.internal/llm?sslmode=require&password=canary-pg2",
		"LLMBRIDGE_NOTE":          "copied canary-openai by mistake",
		"DEEPSEEK_MODELS":         "deepseek-chat,deepseek-reasoner",
		"LLMBRIDGE_EMPTY":         "",
		"HOME":                    "/root",
		"GEMINI_BASE_URL":         "https://x.example/v1beta?key=canary-query",
	}
	var b strings.Builder
	for _, s := range MaskConfig(env) {
		fmt.Fprintf(&b, "%s=%s\n", s.Name, s.Value)
	}
	out := b.String()
	if strings.Contains(out, "canary") {
		t.Errorf("a secret shows:\n%s", out)
	}
	if strings.Contains(out, "HOME") {
		t.Error("a variable that is not the bridge's shows")
	}
	golden.Check(t, "masked-config.golden", []byte(out))
}

func FuzzMaskConfig(f *testing.F) {
	f.Add("LLMBRIDGE_PROXY", "socks5://u:p@h:1", "s3cr3t")
	f.Add("OPENAI_BASE_URL", "https://h/v1?api_key=abcd", "abcd")
	f.Add("LLMBRIDGE_DB", "postgres://a:b@c/d", "zzzz")
	f.Fuzz(func(t *testing.T, name, value, secret string) {
		if len(secret) < 4 || strings.ContainsAny(secret, ",") || strings.TrimSpace(secret) != secret {
			return
		}
		env := map[string]string{"LLMBRIDGE_" + name: value, "OPENAI_API_KEY": secret, "LLMBRIDGE_X": value + secret}
		for _, s := range MaskConfig(env) {
			if s.Name != "OPENAI_API_KEY" && strings.Contains(s.Value, secret) {
				t.Fatalf("%s=%q shows the secret %q", s.Name, s.Value, secret)
			}
		}
	})
}

func TestPageOf(t *testing.T) {
	for path, want := range map[string]string{"/admin/": "live", "/admin/usage": "usage", "/admin/keys/": "keys", "/admin/nope": "", "/admin/live/x": ""} {
		got, ok := pageOf(path)
		if ok != (want != "") || ok && got != want {
			t.Errorf("pageOf(%q) = %q, %v", path, got, ok)
		}
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		40 * time.Second:                 "40 s",
		2*time.Minute + 5*time.Second:    "2 min 5 s",
		2*time.Hour + 5*time.Minute:      "2 h 5 min",
		3*24*time.Hour + 4*time.Hour + 1: "3 d 4 h",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
