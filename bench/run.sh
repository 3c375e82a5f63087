#!/usr/bin/env bash
# run.sh - boot a guest with many processes and measure `vmt ps` on it.
#
#   bench/run.sh [--procs N] [--runs N]      (after scripts/setup.sh)
#
# Prints a Markdown table and writes it to bench/results/ps.md with the
# machine it ran on.  Figures are medians over --runs; every listing starts
# with an empty page cache, and "end to end" is a whole `vmt ps` process
# (exec, profile load from the on-disk cache, KASLR search, walk, output).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=${VMT_BUILD_DIR:-$repo/build}
vmt=$build/src/vmt/vmt
procs=1000
runs=20
while (($#)); do
	case $1 in
	--procs) procs=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	*) echo "usage: $0 [--procs N] [--runs N]" >&2; exit 2 ;;
	esac
done

export VMT_RUN_DIR=$(mktemp -d /tmp/vmt-bench-run.XXXXXX)
export VMT_GUEST_DIR=${VMT_GUEST_DIR:-$build/guest}
cache=$(mktemp -d /tmp/vmt-bench-cache.XXXXXX)
name=bench$$
cleanup() {
	"$vmt" vm stop "$name" >/dev/null 2>&1 || true
	rm -rf "$VMT_RUN_DIR" "$cache"
}
trap cleanup EXIT

"$vmt" vm start "$name" --procs "$procs" --mem 1G --timeout 300 >/dev/null
"$vmt" vm exec "$name" --timeout 300 -- \
	'i=0; while [ ! -e /run/vmt-workload.ready ] && [ $i -lt 1500 ]; do sleep 0.2; i=$((i+1)); done' >/dev/null
mem=$("$vmt" vm show "$name" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["mem_path"])')
kernel=$("$vmt" vm show "$name" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["kernel"])')
guest_procs=$("$vmt" vm exec "$name" -- 'ls -d /proc/[0-9]* | wc -l')

# Cold: the first run builds the profile from vmlinuz.
t0=$(date +%s%N)
"$vmt" ps --vm "$name" --cache-dir "$cache" --json >/dev/null
cold_ms=$(( ($(date +%s%N) - t0) / 1000000 ))

# End to end, warm profile cache.
e2e=()
for ((i = 0; i < runs; i++)); do
	t0=$(date +%s%N)
	"$vmt" ps --vm "$name" --cache-dir "$cache" --json >/dev/null
	e2e+=($(( ($(date +%s%N) - t0) / 1000 )))
done
e2e_med=$(printf '%s\n' "${e2e[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}')
e2e_min=$(printf '%s\n' "${e2e[@]}" | sort -n | awk 'NR==1 {printf "%.1f", $1/1000}')
stats=$("$vmt" ps --vm "$name" --cache-dir "$cache" --json --stats 2>&1 >/dev/null)
lib=$("$build/bench/bench_ps" --mem "$mem" --kernel "$kernel" --cache-dir "$cache" --runs "$runs")

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
out=$repo/bench/results/ps.md
mkdir -p "$(dirname "$out")"
{
	echo "## vmt ps on a ${guest_procs}-process guest ($(date -u +%Y-%m-%d))"
	echo
	echo "Machine: $(nproc) cores, $cpu, $(free -g | awk '/Mem:/ {print $2}') GiB; guest: 1 GiB, TCG, KASLR on."
	echo
	echo '| what | median | min |'
	echo '| --- | --- | --- |'
	echo "| \`vmt ps --json\` end to end, warm profile cache ($runs runs) | $e2e_med ms | $e2e_min ms |"
	echo "$lib" | awk '/^(open|walk|walk\+cmd) / {printf "| library: %s | %s ms | %s ms |\n", $1, $3, $6}'
	echo "| first \`vmt ps\` ever (builds the profile from vmlinuz) | $cold_ms ms | |"
	echo
	echo '```'
	echo "$lib"
	echo "$stats"
	echo '```'
} | tee "$out"
