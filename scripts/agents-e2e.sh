#!/usr/bin/env bash
# End-to-end check of the coding-agent set-ups in the README with the real
# CLIs: installs Claude Code and Codex CLI from npm into a temporary prefix
# and runs internal/cmd/agente2e, which starts scripted fake upstreams (the
# providers' real wire formats), the bridge on a loopback port and each CLI
# as a new user would configure it, and checks a shell-tool round trip and
# a follow-up turn through the bridge. scripts/test.sh runs it with the
# pinned versions the README names; it needs Node.js and npm (and the npm
# registry the first time a version is installed).
#
#   scripts/agents-e2e.sh                     # every scenario
#   scripts/agents-e2e.sh -run claude-gemini  # flags go to agente2e (-run, -out, -v, -timeout)
#
# AGENTS_PREFIX reuses an installation, installing into it when the CLIs
# are missing (default: a new temporary directory); CLAUDE_CODE_VERSION and
# CODEX_VERSION pin the CLIs (default: latest).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v npm >/dev/null 2>&1 || { echo "agents-e2e.sh: npm is required (Node.js 18 or newer)" >&2; exit 2; }
prefix="${AGENTS_PREFIX:-}"
if [[ -z $prefix ]]; then
	prefix="$(mktemp -d -t llmbridge-agents.XXXXXX)"
	trap 'rm -rf "$prefix"' EXIT
fi
if [[ ! -x $prefix/bin/claude || ! -x $prefix/bin/codex ]]; then
	echo "agents-e2e.sh: installing the CLIs into $prefix" >&2
	npm install -g --silent --no-fund --no-audit --prefix "$prefix" \
		"@anthropic-ai/claude-code@${CLAUDE_CODE_VERSION:-latest}" "@openai/codex@${CODEX_VERSION:-latest}"
fi
echo "agents-e2e.sh: $("$prefix/bin/claude" --version), $("$prefix/bin/codex" --version)" >&2
go run ./internal/cmd/agente2e -agents "$prefix" "$@"
