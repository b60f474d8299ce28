package kinds

import (
	"strings"
	"testing"
)

// The YAML kind values name one kind each; the built-ins read their
// variables in precedence order; a comma list with an empty entry is an
// error naming the variable, never the keys.
func TestTable(t *testing.T) {
	for _, kind := range []string{"", "openai", "gemini", "gemini-openai", "anthropic", "bedrock", "azure", "vertex"} {
		if Of(kind) == nil {
			t.Errorf("kind %q has no entry", kind)
		}
	}
	if Of("bogus") != nil || !strings.Contains(Names(), "vertex") || strings.Contains(Names(), ", ,") {
		t.Errorf("Names() = %q", Names())
	}
	bs, err := ReadBuiltins(map[string]string{"GEMINI_API_KEY": "second", "GOOGLE_API_KEY": "first", "OPENAI_BASE_URL": "http://x",
		"DEEPSEEK_USE_PROXY": "maybe", "ANTHROPIC_API_KEY": "a,,b"})
	if err == nil || !strings.Contains(err.Error(), "DEEPSEEK_USE_PROXY") || !strings.Contains(err.Error(), "ANTHROPIC_API_KEY: key 2") || strings.Contains(err.Error(), "a,,b") {
		t.Fatalf("err %v", err)
	}
	byName := map[string]Builtin{}
	for _, b := range bs {
		byName[b.Name] = b
	}
	if byName["gemini"].Key != "first" || !byName["gemini"].UseProxy || byName["openai"].BaseURL != "http://x" || byName["deepseek"].BaseURL != "https://api.deepseek.com" {
		t.Errorf("builtins %+v", byName)
	}
	if keys, err := SplitKeys("X", " k1 , k2 "); err != nil || len(keys) != 2 || keys[1] != "k2" {
		t.Errorf("SplitKeys = %q %v", keys, err)
	}
	if !strings.HasPrefix(KeyVarList(), "OPENAI_API_KEY, GOOGLE_API_KEY") {
		t.Errorf("KeyVarList() = %q", KeyVarList())
	}
}
