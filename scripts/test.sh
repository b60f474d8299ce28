#!/usr/bin/env bash
# The repository's test command (README, .ci/run): makes sure PostgreSQL,
# redis-server and Chromium are installed (Debian packages) for the
# usage-store, shared-limits/cache and admin UI tests, builds the static
# server binary, then vets and runs every test with the race detector. The
# tests start their own throwaway PostgreSQL cluster (internal/pgtest),
# redis-server (internal/redistest) and browser and stop them; nothing else
# needs to be running.
set -euo pipefail
cd "$(dirname "$0")/.."

have_postgres() {
	command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}
have_redis() { command -v redis-server >/dev/null 2>&1; }
have_chromium() { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }

# apt_install PKG installs a Debian package when we are root (or have
# passwordless sudo), updating the package lists once if the first try
# fails. It fails quietly where nothing can be installed.
apt_install() {
	local sudo=""
	if [[ $(id -u) -ne 0 ]]; then
		command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null || return 1
		sudo="sudo"
	fi
	command -v apt-get >/dev/null 2>&1 || return 1
	echo "test.sh: installing $1 from Debian's packages" >&2
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get install -y -q --no-install-recommends "$1" >/dev/null ||
		{ $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q --no-install-recommends "$1" >/dev/null; }
}

# require CHECK PKG VAR WHAT: makes sure the service CHECK looks for is
# installed (from PKG) and then makes its tests required (VAR=1) rather
# than skipped.
require() {
	"$1" || apt_install "$2" || true
	if "$1"; then
		export "$3=1"
	else
		echo "test.sh: $2 is not installed and cannot be installed here: the $4 tests will SKIP" >&2
	fi
}

if [[ -n "${LLMBRIDGE_TEST_DATABASE_URL:-}" ]]; then
	export LLMBRIDGE_REQUIRE_POSTGRES=1
else
	require have_postgres postgresql LLMBRIDGE_REQUIRE_POSTGRES usage-store
fi
# internal/redistest starts throwaway redis-server processes on free
# loopback ports for the shared-limits and cache tests.
require have_redis redis-server LLMBRIDGE_REQUIRE_REDIS "shared-limits and cache"
# server/ui_test.go drives Chromium headless through chromedp.
require have_chromium chromium LLMBRIDGE_REQUIRE_CHROMIUM "admin UI browser"
# server/ui_pages_test.go injects axe-core (npm, this exact version) into
# every admin page; it is installed once into a cache directory.
axe_dir="${XDG_CACHE_HOME:-$HOME/.cache}/llmbridge/axe-core-4.14.1"
if [[ ! -f $axe_dir/node_modules/axe-core/axe.min.js ]] && command -v npm >/dev/null 2>&1; then
	npm install --prefix "$axe_dir" --no-audit --no-fund --silent axe-core@4.14.1 >/dev/null 2>&1 || true
fi
if [[ -f $axe_dir/node_modules/axe-core/axe.min.js ]]; then
	export LLMBRIDGE_AXE_JS="$axe_dir/node_modules/axe-core/axe.min.js" LLMBRIDGE_REQUIRE_AXE=1
else
	echo "test.sh: axe-core cannot be installed from npm here: the admin UI accessibility test will SKIP" >&2
fi

# The container's binary: static, CGO off (the SQLite driver is pure Go).
# The shutdown test runs this build of the server (LLMBRIDGE_SERVER_BIN).
bin_dir=$(mktemp -d)
trap 'rm -rf "$bin_dir"' EXIT
CGO_ENABLED=0 go build -trimpath -o "$bin_dir/llmbridge" ./server
export LLMBRIDGE_SERVER_BIN="$bin_dir/llmbridge"
if command -v docker >/dev/null 2>&1 && timeout 10 docker info >/dev/null 2>&1; then
	docker build -q -t llmbridge:test . >/dev/null
	echo "test.sh: built the container image llmbridge:test" >&2
else
	echo "test.sh: no Docker daemon here: skipping the image build (the static binary it holds was built above)" >&2
fi

go vet ./...
go test -race ./...
# Stack-depth tests measure frames as the shipped build lays them out; the
# race detector's are larger, so they skip under -race and run here.
go test -count=1 -run 'StaysWithinEightKiB' .

# The coding agents end to end (scripts/agents-e2e.sh): the real Claude Code
# and Codex CLIs at the versions the README names, through the bridge to the
# fakes, so a client-format regression fails here. The CLIs are installed
# from npm once per version pair into a cache directory. A run with the
# latest versions: CLAUDE_CODE_VERSION=latest CODEX_VERSION=latest
# scripts/agents-e2e.sh. LLMBRIDGE_AGENTS_E2E=off skips it.
export CLAUDE_CODE_VERSION="${CLAUDE_CODE_VERSION:-2.1.332}" CODEX_VERSION="${CODEX_VERSION:-0.171.0}"
if [[ ${LLMBRIDGE_AGENTS_E2E:-on} == off ]]; then
	echo "test.sh: LLMBRIDGE_AGENTS_E2E=off: skipping the coding-agent end-to-end check" >&2
else
	export AGENTS_PREFIX="${AGENTS_PREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/llmbridge-agents/claude-$CLAUDE_CODE_VERSION-codex-$CODEX_VERSION}"
	./scripts/agents-e2e.sh
fi
