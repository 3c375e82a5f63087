#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# procfs.sh - the shadow /proc's construction time (the paper's measured
# quantity) and pages read, for guests of 100 and 1,000 processes (more
# with SIZES), in snapshot and lazy mode: the median of RUNS builds
# (`vmt procfs --build-only --stats`, which times the build only, not
# opening the guest).  Then the FUSE overhead in the same run: `ps aux`
# through `vmt exec` on the guest (the ps alone, timed inside the private
# namespace, not the snapshot) against `ps aux` on this host's own /proc
# with as many processes (sleepers in a pid namespace of their own, so
# ps sees exactly that many), as a ratio.
#
# One guest at a time, stopped at the end.  Needs root (FUSE, unshare).
# Usage: bench/procfs.sh   (env: VMT, SIZES, RUNS, MEM, PREFIX)
set -euo pipefail

VMT=${VMT:-build/src/vmt/vmt}
SIZES=${SIZES:-"100 1000"}
RUNS=${RUNS:-5}
MEM=${MEM:-512M}
PREFIX=${PREFIX:-bpfs}
NAME=$PREFIX-vm

# shellcheck source=bench/vm_common.sh
. "$(dirname "$0")/vm_common.sh"

# "ms pages procs threads cpu_ms" of one build (--lazy or not).
build() {
	"$VMT" procfs --vm "$NAME" --build-only --stats "$@" 2>&1 >/dev/null |
		sed -n 's/^stats: procfs [a-z]*: \([0-9.]*\) ms (cpu \([0-9.]*\) ms), pages read \([0-9]*\), processes \([0-9]*\), threads \([0-9]*\).*/\1 \3 \4 \5 \2/p'
}

# Milliseconds of `ps aux` (output discarded) inside `vmt exec`, RUNS times
# (with VMT_PROCFS_DIRECT_IO=1 in the environment: every file opened and
# read through the server, as `vmt procfs` serves them).
# One ps per `vmt exec`: a fresh mount each time, nothing in the page cache.
ps_shadow() {
	for i in $(seq "$RUNS"); do
		env "$@" "$VMT" exec --vm "$NAME" -- sh -c '
			a=$(date +%s%N); ps aux >/dev/null; b=$(date +%s%N)
			echo $(( (b - a) / 1000 ))'
	done | awk '{print $1 / 1000}' | median
}

# Milliseconds of `ps aux` on this host's /proc with N processes.
ps_host() {
	local n=$1
	unshare --pid --fork --mount-proc sh -c "
		i=1; while [ \$i -lt $n ]; do sleep 600 & i=\$((i + 1)); done
		for i in \$(seq $RUNS); do
			a=\$(date +%s%N); ps aux >/dev/null; b=\$(date +%s%N)
			echo \$(( (b - a) / 1000 ))
		done" | awk '{print $1 / 1000}' | median
}

printf '%-7s %-9s %10s %8s %8s %8s %9s %9s %13s %7s %7s\n' procs mode build_ms cpu_ms \
	pages threads ps_shadow ps_dio ps_host_same_n ratio dio_rat
for n in $SIZES; do
	"$VMT" vm start "$NAME" --mem "$MEM" --procs "$n" --timeout 600 >/dev/null
	"$VMT" vm exec "$NAME" --timeout 600 -- \
		'i=0; while [ ! -e /run/vmt-workload.ready ] && [ $i -lt 3000 ]; do sleep 0.2; i=$((i+1)); done' \
		>/dev/null
	build >/dev/null # the profile cache and the guest's page cache warm
	for mode in snapshot lazy; do
		flag=()
		[ "$mode" = lazy ] && flag=(--lazy)
		runs=$(for i in $(seq "$RUNS"); do build "${flag[@]}"; done)
		ms=$(awk '{print $1}' <<<"$runs" | median)
		pages=$(awk '{print $2}' <<<"$runs" | median)
		procs=$(awk 'NR==1 {print $3}' <<<"$runs")
		threads=$(awk 'NR==1 {print $4}' <<<"$runs")
		cpu=$(awk '{print $5}' <<<"$runs" | median)
		if [ "$mode" = snapshot ]; then
			shadow=$(ps_shadow)
			dio=$(ps_shadow VMT_PROCFS_DIRECT_IO=1)
			host=$(ps_host "$procs")
			ratio=$(awk -v a="$shadow" -v b="$host" 'BEGIN {printf "%.2f", a / b}')
			rdio=$(awk -v a="$dio" -v b="$host" 'BEGIN {printf "%.2f", a / b}')
			printf '%-7s %-9s %10s %8s %8s %8s %9s %9s %13s %7s %7s\n' "$n" "$mode" \
				"$ms" "$cpu" "$pages" "$threads" "$shadow" "$dio" "$host" "${ratio}x" \
				"${rdio}x"
		else
			printf '%-7s %-9s %10s %8s %8s %8s\n' "$n" "$mode" "$ms" "$cpu" "$pages" \
				"$threads"
		fi
	done
	"$VMT" vm stop "$NAME" >/dev/null
done
