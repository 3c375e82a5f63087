#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# split_read.sh - `vmt ps` on one guest, side by side in one run: unsplit,
# then split onto a main host and two sub-hosts (1 Gbit tbf links), read
# with method 1 (--fetch runtime) and method 2 (--fetch vm) at each fetch
# chunk 4K..2M.  Before every split measurement the guest churns a buffer
# above the main host's cap, so each listing starts from pages pushed out
# to the sub-hosts (method 2 brings home what it reads; the guest's own use
# does too).  Prints the median of RUNS listings per line, with the round
# trips, bytes from the sub-hosts and time waiting that `--stats` reports.
#
# Needs root (namespaces, tc).  Everything made here is removed at the end.
# Usage: bench/split_read.sh   (env: VMT, PREFIX, SUBNET, LINK, PROCS, MEM,
#                               MAIN, CHURN, RUNS, CHUNKS)
set -euo pipefail

VMT=${VMT:-build/src/vmt/vmt}
PREFIX=${PREFIX:-bsr}
SUBNET=${SUBNET:-10.94}
LINK=${LINK:-1gbit}
PROCS=${PROCS:-200}
MEM=${MEM:-256M}
MAIN=${MAIN:-48M}
CHURN=${CHURN:-64M}
RUNS=${RUNS:-3}
CHUNKS=${CHUNKS:-"4K 16K 64K 256K 1M 2M"}
NAME=$PREFIX-vm

cleanup() {
	"$VMT" vm stop "$NAME" >/dev/null 2>&1 || true
	"$VMT" hosts down --prefix "$PREFIX" >/dev/null 2>&1 || true
}
trap cleanup EXIT

guest() {
	"$VMT" vm exec "$NAME" --timeout 300 -- "$1" >/dev/null
}

# One listing: "ms round_trips bytes wait_ms fetched" from --stats.
listing() {
	"$VMT" ps --vm "$NAME" --stats "$@" 2>&1 >/dev/null | awk '
		/^stats: [0-9.]+ ms/ { ms = $2 }
		/^stats: split:/ {
			for (i = 1; i <= NF; i++) {
				if ($i == "trips") rt = $(i + 1)
				if ($i == "waiting") wait = $(i + 1)
				if ($i == "sub-hosts") got = $(i + 1)
			}
		}
		/^stats: sub-host/ { for (i = 1; i <= NF; i++) if ($i == "bytes") b += $(i - 1) }
		END { gsub(",", "", rt); gsub(",", "", got); printf "%s %d %d %s %d\n", ms, rt, b, wait, got }'
}

# Median (by time) of RUNS listings, each after a churn when $1 is "churn".
measure() {
	local churn=$1
	shift
	for _ in $(seq "$RUNS"); do
		[ "$churn" = churn ] && guest "dd if=/dev/zero of=/dev/null bs=$CHURN count=1 2>/dev/null"
		listing "$@"
	done | sort -n | awk -v n="$RUNS" 'NR == int((n + 1) / 2)'
}

"$VMT" hosts up --prefix "$PREFIX" --subnet "$SUBNET" --link "$LINK" --capacity 1G >/dev/null
"$VMT" vm start "$NAME" --mem "$MEM" --procs "$PROCS" --timeout 240 >/dev/null
guest "i=0; while [ ! -e /run/vmt-workload.ready ] && [ \$i -lt 600 ]; do sleep 0.2; i=\$((i+1)); done"

printf '%-8s %-6s %10s %8s %10s %10s %8s\n' method chunk ps_ms trips MB_in wait_ms fetched
read -r ms _ <<<"$(measure none)"
printf '%-8s %-6s %10s %8s %10s %10s %8s\n' unsplit - "$ms" 0 0 0 0

"$VMT" split "$NAME" --main-mem "$MAIN" --subhosts sub1,sub2 --hosts-prefix "$PREFIX" >&2
for method in runtime vm; do
	for chunk in $CHUNKS; do
		read -r ms rt bytes wait got <<<"$(measure churn --fetch "$method" --chunk "$chunk")"
		printf '%-8s %-6s %10s %8s %10.1f %10s %8s\n' "$method" "$chunk" "$ms" "$rt" \
			"$(echo "$bytes / 1048576" | bc -l)" "$wait" "$got"
	done
done
