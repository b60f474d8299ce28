#!/usr/bin/env bash
# The repository's test command (README, .ci/run): makes sure PostgreSQL
# and redis-server are installed for the usage-store and shared-limits tests, then vets and runs every test
# with the race detector. The tests start their own throwaway PostgreSQL
# cluster (internal/pgtest) and stop it; nothing else needs to be running.
set -euo pipefail
cd "$(dirname "$0")/.."

have_postgres() {
	command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

if [[ -n "${LLMBRIDGE_TEST_DATABASE_URL:-}" ]] || have_postgres; then
	export LLMBRIDGE_REQUIRE_POSTGRES=1
else
	sudo=""
	if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo="sudo"
	fi
	if command -v apt-get >/dev/null 2>&1 && { [[ $(id -u) -eq 0 ]] || [[ -n $sudo ]]; }; then
		echo "test.sh: installing PostgreSQL from Debian's packages for the usage-store tests" >&2
		export DEBIAN_FRONTEND=noninteractive
		$sudo apt-get install -y -q --no-install-recommends postgresql >/dev/null ||
			{ $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q --no-install-recommends postgresql >/dev/null; }
	fi
	if have_postgres; then
		export LLMBRIDGE_REQUIRE_POSTGRES=1
	else
		echo "test.sh: PostgreSQL is not installed and cannot be installed here: its tests will SKIP" >&2
	fi
fi

# Redis for the shared-limits tests (internal/redistest starts throwaway
# redis-server processes on free loopback ports), installed the same way.
if ! command -v redis-server >/dev/null 2>&1; then
	sudo=""
	if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo="sudo"
	fi
	if command -v apt-get >/dev/null 2>&1 && { [[ $(id -u) -eq 0 ]] || [[ -n $sudo ]]; }; then
		echo "test.sh: installing redis-server from Debian's packages for the shared-limits tests" >&2
		export DEBIAN_FRONTEND=noninteractive
		$sudo apt-get install -y -q --no-install-recommends redis-server >/dev/null ||
			{ $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q --no-install-recommends redis-server >/dev/null; }
	fi
fi
if command -v redis-server >/dev/null 2>&1; then
	export LLMBRIDGE_REQUIRE_REDIS=1
else
	echo "test.sh: redis-server is not installed and cannot be installed here: its tests will SKIP" >&2
fi

# Chromium for the admin UI's browser tests (server/ui_test.go drives it
# headless through chromedp), installed the same way.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
	sudo=""
	if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo="sudo"
	fi
	if command -v apt-get >/dev/null 2>&1 && { [[ $(id -u) -eq 0 ]] || [[ -n $sudo ]]; }; then
		echo "test.sh: installing chromium from Debian's packages for the admin UI browser tests" >&2
		export DEBIAN_FRONTEND=noninteractive
		$sudo apt-get install -y -q --no-install-recommends chromium >/dev/null ||
			{ $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q --no-install-recommends chromium >/dev/null; }
	fi
fi
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
	export LLMBRIDGE_REQUIRE_CHROMIUM=1
else
	echo "test.sh: chromium is not installed and cannot be installed here: the admin UI browser tests will SKIP" >&2
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
