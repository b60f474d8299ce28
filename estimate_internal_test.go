package llmbridge

import (
	"strings"
	"testing"

	"github.com/llmbridge/llmbridge/internal/openai"
	"github.com/llmbridge/llmbridge/internal/openai/corpus"
)

// TestPromptEstimateIsTheWalk: for a body its parse did not count (an
// embeddings request), the prompt-token estimate is read off a tape
// (openai.TextBytes) and is the gjson walk's, for every client format's
// body, escapes included; a body too large for a tape still gets the
// walk's.
func TestPromptEstimateIsTheWalk(t *testing.T) {
	result := `tool output with \"quotes\", a tab\t and é\u00e9\ud83d\ude00`
	for _, body := range []string{
		`{"model":"openai/gpt-4o","messages":[{"role":"user","content":"` + result + `"}]}`,
		`{"model":"anthropic/claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"` + result + `"}]}]}`,
		`{"model":"openai/gpt-4o","input":"` + result + `"}`,
		`{"model":"openai/text-embedding-3-small","input":["` + result + `","two"]}`,
		`{"messages":[` + strings.Repeat(`0,`, 1<<20) + `{"content":"` + result + `"}]}`, // over the tape's bound
	} {
		want := (openai.WalkTextBytes(openai.ParseView([]byte(body))) + 3) / 4
		c := &call{input: input{body: []byte(body)}}
		if got := (&Request{c: c}).PromptTokensEstimate(); got != want || want == 0 {
			t.Errorf("%.60s…: estimate %d, the walk's %d", body, got, want)
		}
	}
}

// TestParsesCountThePrompt: the chat, Messages and Responses parses count
// the body's text as they check it, the same count the walk gives, and
// the estimate takes theirs (the body is not read again: here it is
// gone).
func TestParsesCountThePrompt(t *testing.T) {
	result := `tool output with \"quotes\", a tab\t and é\u00e9\ud83d\ude00`
	for _, tc := range []struct {
		f    clientFormat
		body string
	}{
		{chatFormat{}, `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"` + result + `"}]}`},
		{anthropicFormat{}, `{"model":"anthropic/claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"` + result + `"}]}]}`},
		{responsesFormat{}, `{"model":"openai/gpt-4o","input":[{"role":"user","content":"` + result + `"}]}`},
	} {
		env := tc.f.parse([]byte(tc.body))
		want := openai.WalkTextBytes(openai.ParseView([]byte(tc.body)))
		if env.bad != nil || !env.textRead || env.text != want {
			t.Errorf("%s: parse counted %d (read %v, bad %v), the walk %d", tc.f.name(), env.text, env.textRead, env.bad, want)
		}
		c := &call{input: input{env: env}}
		if got := (&Request{c: c}).PromptTokensEstimate(); got != (want+3)/4 {
			t.Errorf("%s: estimate %d, want %d", tc.f.name(), got, (want+3)/4)
		}
	}
	// A body refused once admitted goes nowhere: it reserves no tokens.
	env := chatFormat{}.parse([]byte(`{"model":"openai/gpt-4o","messages":[],"user":"` + strings.Repeat("x", 400) + `"}`))
	if env.bad == nil {
		t.Fatal("an empty messages array was not refused")
	}
	if got := (&Request{c: &call{input: input{env: env}}}).PromptTokensEstimate(); got != 0 {
		t.Errorf("a refused body's estimate %d, want 0", got)
	}
}

// BenchmarkPromptEstimate: a coding agent's 100 kB Messages request
// parsed and its prompt estimated, as admission of a key with a TPM limit
// does: the estimate counted by the parse ("parsed"), against the same
// parse followed by a second reading of the body onto a tape ("reread",
// the parse's count dropped), which is the reading this saves.
func BenchmarkPromptEstimate(b *testing.B) {
	body := corpus.AgentMessages(200)
	for _, counted := range []bool{true, false} {
		b.Run(map[bool]string{true: "parsed", false: "reread"}[counted], func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				env := anthropicFormat{}.parse(body)
				env.textRead = env.textRead && counted
				c := &call{input: input{env: env, body: body}}
				if (&Request{c: c}).PromptTokensEstimate() == 0 {
					b.Fatal("no estimate")
				}
			}
		})
	}
}
