package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// prompt is the task both agents get; followUpPrompt the question asked
// next in the same session, which the fake answers with followUpAnswer.
const (
	prompt         = "Create the file e2e.txt in the current directory by running a shell command, then tell me when you are done."
	followUpPrompt = "Second question for the e2e check: which command did you run?"
	followUpAnswer = "Follow-up: I ran printf piped into tee."
)

// baseEnv is the environment every agent starts with: no variable of the
// harness's own environment leaks in (no real keys, no proxies), HOME is
// fresh, as for a new user.
func baseEnv(home string) []string {
	env := []string{
		"HOME=" + home,
		"PATH=" + os.Getenv("PATH"),
		"SHELL=/bin/bash",
		"LANG=C.UTF-8",
		"TERM=dumb",
		"NO_COLOR=1",
		"TMPDIR=" + os.TempDir(),
	}
	return env
}

// agentCommand builds the CLI run for sc against the bridge at bridgeURL.
// With followUp it continues the most recent session with followUpPrompt.
func agentCommand(ctx context.Context, sc scenario, prefix, bridgeURL, home, work string, followUp bool) (*exec.Cmd, error) {
	bin := filepath.Join(prefix, "bin", sc.Agent)
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s is not installed under %s (npm install -g --prefix %s …): %w", sc.Agent, prefix, prefix, err)
	}
	var cmd *exec.Cmd
	env := baseEnv(home)
	switch sc.Agent {
	case "claude":
		// The README's set-up: the two variables, and the routed model
		// names when the upstream is not Anthropic. The rest only keeps an
		// offline run from waiting on Anthropic's own services.
		env = append(env,
			"ANTHROPIC_BASE_URL="+bridgeURL,
			"ANTHROPIC_AUTH_TOKEN="+accessKey,
			"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
			"DISABLE_AUTOUPDATER=1",
			"DISABLE_TELEMETRY=1",
			"DISABLE_ERROR_REPORTING=1",
		)
		if sc.Model != "" {
			env = append(env,
				"ANTHROPIC_MODEL="+sc.Model,
				"ANTHROPIC_DEFAULT_SONNET_MODEL="+sc.Model,
				"ANTHROPIC_DEFAULT_OPUS_MODEL="+sc.Model,
				"ANTHROPIC_DEFAULT_HAIKU_MODEL="+sc.Model,
				"ANTHROPIC_SMALL_FAST_MODEL="+sc.Model,
				"CLAUDE_CODE_MAX_OUTPUT_TOKENS=8192",
			)
		}
		args := []string{"-p", prompt, "--allowedTools", "Bash", "--max-turns", "6"}
		if sc.MCP {
			if err := claudeMCPAdd(ctx, bin, env, work, bridgeURL); err != nil {
				return nil, err
			}
			args = []string{"-p", mcpPrompt, "--allowedTools", mcpTool, "--max-turns", "6"}
			// The scripted model cannot search for deferred tools: offer
			// the MCP tools in the request itself.
			env = append(env, "ENABLE_TOOL_SEARCH=false")
		}
		if followUp {
			args = []string{"-p", followUpPrompt, "--continue", "--allowedTools", "Bash", "--max-turns", "6"}
		}
		cmd = exec.CommandContext(ctx, bin, args...)
	case "codex":
		codexHome := filepath.Join(home, ".codex")
		if err := os.MkdirAll(codexHome, 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(codexHome, "config.toml"), []byte(codexConfig(sc.Model, bridgeURL)), 0o600); err != nil {
			return nil, err
		}
		env = append(env, "CODEX_HOME="+codexHome, "LLMBRIDGE_API_KEY="+accessKey)
		args := []string{"exec", "--skip-git-repo-check", "--sandbox", "workspace-write", "--color", "never", prompt}
		if followUp {
			args = []string{"exec", "--skip-git-repo-check", "--sandbox", "workspace-write", "--color", "never", "resume", "--last", followUpPrompt}
		}
		cmd = exec.CommandContext(ctx, bin, args...)
	default:
		return nil, fmt.Errorf("unknown agent %q", sc.Agent)
	}
	cmd.Env = env
	cmd.Dir = work
	return cmd, nil
}

// codexConfig is config.toml as the README tells a new user to write it:
// a model provider pointing at the bridge with the Responses wire API,
// and the model only when one is routed elsewhere (empty: Codex's own
// default, which the bridge routes by its family).
func codexConfig(model, bridgeURL string) string {
	line := ""
	if model != "" {
		line = fmt.Sprintf("model = %q\n", model)
	}
	return line + fmt.Sprintf(`model_provider = "llmbridge"

[model_providers.llmbridge]
name = "LLM Bridge"
base_url = "%s/v1"
env_key = "LLMBRIDGE_API_KEY"
wire_api = "responses"
`, bridgeURL)
}
