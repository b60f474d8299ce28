package main

import (
	"strings"
	"testing"
	"time"
)

// Issue 24, item 7: an admin key shorter than 16 characters is refused at
// start, with a hint; 16 is enough.
func TestAdminKeyHasAMinimumLength(t *testing.T) {
	_, err := loadConfig(map[string]string{"LLMBRIDGE_ADMIN_KEY": "short-admin-key"})
	if err == nil || !strings.Contains(err.Error(), "LLMBRIDGE_ADMIN_KEY must be at least 16 characters") {
		t.Errorf("a 15-character admin key: %v", err)
	}
	if _, err := loadConfig(map[string]string{"LLMBRIDGE_ADMIN_KEY": "long-enough-key!"}); err != nil {
		t.Errorf("a 16-character admin key: %v", err)
	}
}

// Issue 24, item 1: LLMBRIDGE_BODY_TIMEOUT (30 s by default) reaches the
// Bridge; LLMBRIDGE_TRUSTED_PROXIES takes addresses and prefixes and
// refuses anything else.
func TestBodyTimeoutAndTrustedProxies(t *testing.T) {
	c, err := loadConfig(map[string]string{})
	if err != nil || c.BodyTimeout != 30*time.Second {
		t.Fatalf("default body timeout %v, %v", c.BodyTimeout, err)
	}
	c, err = loadConfig(map[string]string{"LLMBRIDGE_BODY_TIMEOUT": "5s", "LLMBRIDGE_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7 ,::1"})
	if err != nil || c.BodyTimeout != 5*time.Second {
		t.Fatalf("%v %v", c.BodyTimeout, err)
	}
	var got []string
	for _, p := range c.Proxies {
		got = append(got, p.String())
	}
	if strings.Join(got, " ") != "10.0.0.0/8 192.0.2.7/32 ::1/128" {
		t.Errorf("trusted proxies %v", got)
	}
	if _, err := loadConfig(map[string]string{"LLMBRIDGE_TRUSTED_PROXIES": "nginx"}); err == nil || !strings.Contains(err.Error(), `"nginx" is neither`) {
		t.Errorf("a host name as trusted proxy: %v", err)
	}
	if _, err := loadConfig(map[string]string{"LLMBRIDGE_BODY_TIMEOUT": "-1s"}); err == nil {
		t.Error("a negative body timeout was accepted")
	}
}
