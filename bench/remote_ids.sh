#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# remote_ids.sh - `vmt ps` of one split guest, side by side in one run: on
# the main host (method 1, sub-hosts read over their links) and from the
# monitoring host through the main host's read-only export (`--from`: every
# page over NBD + TLS-PSK, main-host pages under the page table's seqlock
# read over the same export), at a few fetch chunks.  Links: 1 Gbit tbf,
# the monitor on a link of its own.  Prints the median of RUNS listings per
# line with the round trips and time waiting that `--stats` reports.
#
# Needs root (namespaces, tc).  Everything made here is removed at the end.
# Usage: bench/remote_ids.sh   (env: VMT, PREFIX, SUBNET, LINK, PROCS, MEM,
#                               MAIN, RUNS, CHUNKS)
set -euo pipefail

VMT=${VMT:-build/src/vmt/vmt}
PREFIX=${PREFIX:-brm}
SUBNET=${SUBNET:-10.96}
LINK=${LINK:-1gbit}
PROCS=${PROCS:-200}
MEM=${MEM:-256M}
MAIN=${MAIN:-48M}
RUNS=${RUNS:-5}
CHUNKS=${CHUNKS:-"4K 64K 1M"}
NAME=$PREFIX-vm

cleanup() {
	"$VMT" vm stop "$NAME" >/dev/null 2>&1 || true
	"$VMT" hosts down --prefix "$PREFIX" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# One listing: "ms round_trips wait_ms" from --stats.
listing() {
	"$@" --stats 2>&1 >/dev/null | awk '
		/^stats: [0-9.]+ ms/ { ms = $2 }
		/^stats: split:/ { for (i = 1; i <= NF; i++) {
			if ($i == "trips") rt = $(i + 1)
			if ($i == "waiting") wait = $(i + 1) } }
		END { gsub(",", "", rt); printf "%s %s %s\n", ms, rt, wait }'
}

# Median (by time) of RUNS listings.
median() {
	for _ in $(seq "$RUNS"); do listing "$@"; done | sort -n | awk -v n="$RUNS" \
		'NR == int((n + 1) / 2) { print }'
}

"$VMT" hosts up --prefix "$PREFIX" --subnet "$SUBNET" --subhosts 2 --link "$LINK" \
	--capacity 1G --monitor >/dev/null
"$VMT" vm start "$NAME" --mem "$MEM" --procs "$PROCS" --timeout 240 >/dev/null
"$VMT" vm exec "$NAME" --timeout 300 -- \
	'i=0; while [ ! -e /run/vmt-workload.ready ] && [ $i -lt 900 ]; do sleep 0.2; i=$((i+1)); done' \
	>/dev/null
"$VMT" split "$NAME" --main-mem "$MAIN" --subhosts sub1,sub2 --hosts-prefix "$PREFIX" >/dev/null
"$VMT" vm export "$NAME" >/dev/null
port=$("$VMT" vm show "$NAME" --json | /usr/bin/python3 -c \
	'import json, sys; print(json.load(sys.stdin)["export"]["listen"].rsplit(":", 1)[1])')
key=$("$VMT" vm show "$NAME" --json | /usr/bin/python3 -c \
	'import json, sys; print(json.load(sys.stdin)["export"]["psk_file"])')
# The kernel image comes over once; the profile cache is warm for both sides after this.
ip netns exec "$PREFIX-mon" "$VMT" ps --vm "$NAME" --from "$SUBNET.0.1:$port" --psk "$key" \
	>/dev/null

printf "%-6s %-28s %10s %12s %10s\n" chunk where "ms (median)" "round trips" "wait ms"
for c in $CHUNKS; do
	read -r ms rt wait <<<"$(median "$VMT" ps --vm "$NAME" --fetch runtime --chunk "$c")"
	printf "%-6s %-28s %10s %12s %10s\n" "$c" "main host (method 1)" "$ms" "$rt" "$wait"
	read -r ms rt wait <<<"$(median ip netns exec "$PREFIX-mon" "$VMT" ps --vm "$NAME" \
		--from "$SUBNET.0.1:$port" --psk "$key" --chunk "$c")"
	printf "%-6s %-28s %10s %12s %10s\n" "$c" "monitor (--from, export)" "$ms" "$rt" "$wait"
done
