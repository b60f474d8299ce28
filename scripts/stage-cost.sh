#!/usr/bin/env bash
# stage-cost.sh — what each stage costs a request, read two ways from one
# run of BenchmarkStages (stages_bench_test.go):
#   delta  the variant's process CPU per request less the bare bridge's
#          (getrusage: counts the stage's background goroutines, and the
#          host's noise — ±10 µs on a shared 2-core machine);
#   share  the stage's own code as a share of the variant's CPU profile
#          (asked for LLMBRIDGE_PROFILE_HZ, default 1000: some times the
#          default's samples, see stages_bench_test.go), times its CPU
#          per request: the stage's own cost, without the noise, but
#          blind to what it costs others (GC of its allocations).
# Usage: scripts/stage-cost.sh [requests per variant, default 20000]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go test -c -o "$dir/t.test" . >/dev/null
export LLMBRIDGE_PROFILE_HZ=${LLMBRIDGE_PROFILE_HZ:-1000}

# Each stage's own code, as pprof -focus regular expressions.
declare -A focus=(
	[requestlog]='internal/requestlog\.'
	[store]='internal/usage\.|modernc\.org/sqlite|database/sql'
	[metrics+live]='internal/metrics\.|internal/live\.|prometheus'
	[limits]='internal/keys\.|\(\*call\)\.(ticketHeader|settle|admit)|PromptTokensEstimate'
	[cache]='cacheTap|\(\*call\)\.(cached|cacheKey|lookup|storeValue|stamp)|captureBody|internal/cache|recordingStream'
)
focus[all]=$(IFS='|'; echo "${focus[*]}")

# A first run warms the process's page cache and the file system.
"$dir/t.test" -test.run '^$' -test.bench '^BenchmarkStages$/^nonstream$/^all$' -test.benchtime "$((n / 4))x" >/dev/null 2>&1

printf '%-24s %10s %9s %8s %8s %8s\n' variant cpu-µs/op delta share B/op allocs
for shape in nonstream stream; do
	base=
	for v in none requestlog store metrics+live limits cache all; do
		"$dir/t.test" -test.run '^$' -test.bench "^BenchmarkStages\$/^$shape\$/^${v//+/\\+}\$" \
			-test.benchtime "${n}x" -test.cpuprofile "$dir/p.prof" >"$dir/out" 2>&1 || { cat "$dir/out"; exit 1; }
		read -r cpu bop allocs < <(awk '/^BenchmarkStages/ {for (i = 1; i < NF; i++) {
			if ($(i+1) == "cpu-µs/op") c = $i; if ($(i+1) == "B/op") b = $i; if ($(i+1) == "allocs/op") a = $i }
			print c, b, a}' "$dir/out")
		[ -z "$base" ] && base=$cpu
		share=-
		if [ "$v" != none ]; then
			pct=$(go tool pprof -top -nodecount 1000000 -focus "${focus[$v]}" "$dir/t.test" "$dir/p.prof" 2>/dev/null |
				sed -nE 's/^Showing nodes accounting for [^,]*, ([0-9.]+)% of .*/\1/p')
			share=$(awk -v p="${pct:-0}" -v c="$cpu" 'BEGIN {printf "%.1f", p * c / 100}')
		fi
		printf '%-24s %10s %9s %8s %8s %8s\n' "$shape/$v" "$cpu" \
			"$(awk -v c="$cpu" -v b="$base" 'BEGIN {printf "%+.1f", c - b}')" "$share" "$bop" "$allocs"
	done
done
