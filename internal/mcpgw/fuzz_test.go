package mcpgw

import (
	"strings"
	"testing"
)

// FuzzNames: the names and URIs clients send are split without panics,
// and what splits joins back to the same server and name.
func FuzzNames(f *testing.F) {
	for _, s := range []string{"team__echo", "__x", "a____b", "llmbridge://team/file:%2F%2F%2Fx", "llmbridge://team/", "llmbridge:///x", "llmbridge://t/%zz", "file:///etc/passwd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if server, name, ok := splitName(s); ok {
			if joinName(server, name) != s || strings.Contains(server, sep) {
				t.Fatalf("splitName(%q) = %q, %q", s, server, name)
			}
		}
		if server, up, ok := unwrapURI(s); ok {
			s2, up2, ok2 := unwrapURI(wrapURI(server, up))
			if !ok2 || s2 != server || up2 != up {
				t.Fatalf("unwrapURI(%q) = %q, %q does not round-trip", s, server, up)
			}
		}
	})
}

// FuzzResolve: any server entry is resolved or refused, never a panic,
// and an accepted header never holds a line break.
func FuzzResolve(f *testing.F) {
	f.Add("team", "https://tools.internal/mcp", "Authorization", "Bearer ${TOKEN}", "tok")
	f.Add("x", "http://h/${TOKEN}", "X\r\nY", "v\r\nInjected: 1", "")
	f.Fuzz(func(t *testing.T, name, url, hk, hv, tok string) {
		c := Config{Servers: []ServerConfig{{Name: name, URL: url, Headers: map[string]string{hk: hv}}}}
		if c.Resolve(map[string]string{"TOKEN": tok}) == nil {
			for k, v := range c.Servers[0].Headers {
				if strings.ContainsAny(k+v, "\r\n") {
					t.Fatalf("accepted header %q: %q", k, v)
				}
			}
		}
	})
}
