package configfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMCPSection(t *testing.T) {
	p := writeFile(t, `
mcp:
  servers:
    - name: everything
      command: ["node", "/opt/mcp/server-everything/dist/index.js", "stdio"]
      env: {LOG_LEVEL: info}
    - name: team
      url: https://tools.internal/mcp
      headers: {Authorization: "Bearer ${TEAM_TOOLS_TOKEN}"}
      timeout: 90s
keys:
  - key_id: key-12345678
    mcp_servers: [team]
`)
	f, err := Read(p, map[string]string{"TEAM_TOOLS_TOKEN": "tok-1"})
	if err != nil {
		t.Fatal(err)
	}
	s := f.MCP.Servers
	if len(s) != 2 || s[1].Headers["Authorization"] != "Bearer tok-1" || s[1].Timeout.Seconds() != 90 || s[0].Env["LOG_LEVEL"] != "info" {
		t.Errorf("servers %+v", s)
	}
	if got := f.KeyPolicies["key-12345678"].MCPServers; len(got) != 1 || got[0] != "team" {
		t.Errorf("keys: mcp_servers %v", got)
	}
}

func TestMCPSectionProblemsAllReported(t *testing.T) {
	p := writeFile(t, `
mcp:
  allowed_origins: ["not an origin"]
  servers:
    - name: Bad__Name
      command: [x]
    - name: both
      command: [x]
      url: http://a/mcp
    - name: neither
    - name: team
      url: https://tools.internal/mcp
      headers: {Authorization: "Bearer ${UNSET_TOKEN}"}
    - name: team
      url: ftp://x
keys:
  - key_id: k
    mcp_servers: [""]
`)
	_, err := Read(p, map[string]string{})
	for _, want := range []string{"Bad__Name", "not both", "(neither): set command", "${UNSET_TOKEN} is not set", "name listed twice", "want an http:// or https:// URL", "allowed_origins[0]", "mcp_servers[0]"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q: %v", want, err)
		}
	}
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "llmbridge.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
