package keyscli

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/joho/godotenv"
	"github.com/llmbridge/llmbridge/internal/keys"
)

var testVars = []EnvVar{
	{Flag: "access", Name: "ACCESS_API_KEYS", Help: "client access keys"},
	{Flag: "openai", Name: "OPENAI_API_KEY", Help: "OpenAI key"},
	{Flag: "deepseek", Name: "DEEPSEEK_API_KEY", Help: "DeepSeek key"},
}

func TestRotate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".env")
	orig := "# comment stays\nACCESS_API_KEYS=old\nexport OPENAI_API_KEY=old-openai\n\nLLMBRIDGE_ADDR=127.0.0.1:1219 # inline\nOPENAI_API_KEY=dup\n"
	os.WriteFile(path, []byte(orig), 0o644)
	var out bytes.Buffer
	if err := Rotate([]string{"--env-file", path, "--access", "a1,a2", "--openai", "sk new#1", "--deepseek", "ds"}, &out, testVars); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := "# comment stays\nACCESS_API_KEYS=a1,a2\nOPENAI_API_KEY=\"sk new#1\"\n\nLLMBRIDGE_ADDR=127.0.0.1:1219 # inline\nDEEPSEEK_API_KEY=ds\n"
	if string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	if strings.Contains(out.String(), "a1") || strings.Contains(out.String(), "sk new") {
		t.Errorf("keys printed: %s", out.String())
	}
	env, err := godotenv.Read(path)
	if err != nil || env["OPENAI_API_KEY"] != "sk new#1" || env["ACCESS_API_KEYS"] != "a1,a2" {
		t.Fatalf("read back: %v %v", env, err)
	}
	err = Rotate([]string{"--env-file", path}, io.Discard, testVars)
	if err == nil || !strings.Contains(err.Error(), "give at least one of --access, --openai, --deepseek") {
		t.Errorf("no flags: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestParse(t *testing.T) {
	in, err := parse("update", []string{"--rpm", "120", "--models", "openai/*, smart", "--mcp-servers", "team,db-*", "vk_0123456789abcdef"}, io.Discard)
	if err != nil || in.id != "vk_0123456789abcdef" || *in.params.RPM != 120 || strings.Join(*in.params.Models, "|") != "openai/*|smart" || in.params.TPM != nil ||
		strings.Join(*in.params.MCPServers, "|") != "team|db-*" {
		t.Fatalf("%+v %v", in, err)
	}
	for _, tc := range []struct {
		cmd  string
		args []string
		err  string
	}{
		{"show", nil, "give one key id"},
		{"revoke", []string{"vk_x"}, "give one key id"},
		{"update", []string{"vk_0123456789abcdef", "--rpm", "1"}, "give one key id"}, // flags go before it
		{"list", []string{"extra"}, "unexpected arguments"},
		{"list", []string{"--rpm", "1"}, "not defined"},
		{"create", []string{"--rpm", "many"}, "invalid value"},
	} {
		if _, err := parse(tc.cmd, tc.args, io.Discard); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s %q: %v", tc.cmd, tc.args, err)
		}
	}
	if in, err := parse("create", []string{"--name", "ann", "--owner", "ann@example.com", "--team", "research"}, io.Discard); err != nil ||
		*in.params.Team != "research" || *in.params.Owner != "ann@example.com" {
		t.Errorf("--team: %+v %v", in, err)
	}
	if in, err := parse("list", []string{"-help"}, io.Discard); in != nil || err != nil {
		t.Errorf("help: %v %v", in, err)
	}
}

func TestPrintKeys(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	revoked := now.Add(-time.Hour)
	list := []*keys.Key{{ID: "vk_1", Name: "ann", Last4: "abcd"}, {ID: "vk_2", Name: "bob", RevokedAt: &revoked}}
	list[0].RPM = 60
	var out bytes.Buffer
	if err := printKeys(&out, "table", list, map[string]keys.Spend{"vk_1": {TodayUSD: 1.5}}, now); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.Contains(s, "vk_1  ") || !strings.Contains(s, "…abcd") || !strings.Contains(s, "1.5") || !strings.Contains(s, "revoked 2026-11-20") {
		t.Errorf("table:\n%s", s)
	}
	if err := printKeys(io.Discard, "yaml", list, nil, now); err == nil {
		t.Error("an unknown format was accepted")
	}
}
