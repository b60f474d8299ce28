#!/usr/bin/env bash
# The repository's test command (README, .ci/run): makes sure PostgreSQL
# is installed for the usage-store tests, then vets and runs every test
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

go vet ./...
go test -race ./...
