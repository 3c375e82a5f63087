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
# trips, bytes from the sub-hosts and time waiting that `--stats` reports,
# the pager's page-outs during the listing (method 2 makes room under the
# cap), and the listing's link floor: the busiest sub-host's bytes at the
# read rate of that link, measured in the same run (nbdcopy of the VM's
# export).
#
# The split's page-table chunk (PT_CHUNK, default 4K) is the unit the pager
# moves: method 2 can never bring in less than one, so a 64K chunk makes it
# move 16 times the bytes method 1 reads at 4K.
#
# Needs root (namespaces, tc).  Everything made here is removed at the end.
# Usage: bench/split_read.sh   (env: VMT, PREFIX, SUBNET, LINK, PROCS, MEM,
#                               MAIN, CHURN, RUNS, CHUNKS, PT_CHUNK)
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
PT_CHUNK=${PT_CHUNK:-4K}
NAME=$PREFIX-vm

results=$(mktemp)
cleanup() {
	rm -f "$results"
	"$VMT" vm stop "$NAME" >/dev/null 2>&1 || true
	"$VMT" hosts down --prefix "$PREFIX" >/dev/null 2>&1 || true
}
trap cleanup EXIT

guest() {
	"$VMT" vm exec "$NAME" --timeout 300 -- "$1" >/dev/null
}

# The pager's page-outs and bytes sent so far ("0 0" when the VM is not split).
pager_out() {
	"$VMT" vm show "$NAME" --json | /usr/bin/python3 -c '
import json, sys
s = json.load(sys.stdin).get("pager_stats") or {}
print(s.get("pageouts", 0), s.get("bytes_out", 0))'
}

# One listing: "ms round_trips bytes busiest_floor_ms wait_ms fetched pageouts" from --stats.
listing() {
	local o0 o1 b0 b1
	read -r o0 b0 <<<"$(pager_out)"
	"$VMT" ps --vm "$NAME" --stats "$@" 2>&1 >/dev/null | awk -v rates="$RATES" '
		BEGIN { split(rates, rate, " ") }
		/^stats: [0-9.]+ ms/ { ms = $2 }
		/^stats: split:/ {
			for (i = 1; i <= NF; i++) {
				if ($i == "trips") rt = $(i + 1)
				if ($i == "waiting") wait = $(i + 1)
				if ($i == "sub-hosts") got = $(i + 1)
			}
		}
		/^stats: sub-host/ {
			k = $3 + 1
			for (i = 1; i <= NF; i++) if ($i == "bytes") { b += $(i - 1); t = $(i - 1) / rate[k] }
			if (t > floor) floor = t
		}
		END { gsub(",", "", rt); gsub(",", "", got)
		      printf "%s %d %d %.1f %s %d", ms, rt, b, floor * 1000, wait, got }'
	read -r o1 b1 <<<"$(pager_out)"
	echo " $((o1 - o0))"
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

# Read rate of each sub-host's link (bytes/s), in host order: nbdcopy of the
# VM's whole export to null from the main host, as the runtime would read it.
link_rates() {
	"$VMT" vm show "$NAME" --json | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)["split"]
user = open(d["psk_file"]).read().split(":")[0]
for h in d["hosts"]:
    print(d["main_netns"], "nbds://%s@%s/%s?tls-psk-file=%s" % (user, h["addr"], h["export"], d["psk_file"]))' |
		while read -r ns url; do
			local t0 t1
			t0=$(date +%s.%N)
			ip netns exec "$ns" nbdcopy --no-extents "$url" null:
			t1=$(date +%s.%N)
			echo "$(numfmt --from=iec "$MEM") / ($t1 - $t0)" | bc -l
		done | tr '\n' ' '
}

"$VMT" hosts up --prefix "$PREFIX" --subnet "$SUBNET" --link "$LINK" --capacity 1G >/dev/null
"$VMT" vm start "$NAME" --mem "$MEM" --procs "$PROCS" --timeout 240 >/dev/null
guest "i=0; while [ ! -e /run/vmt-workload.ready ] && [ \$i -lt 600 ]; do sleep 0.2; i=\$((i+1)); done"

fmt='%-8s %-6s %9s %7s %8s %9s %9s %8s %9s\n'
RATES=""
read -r unsplit _ <<<"$(measure none)"

"$VMT" split "$NAME" --main-mem "$MAIN" --chunk "$PT_CHUNK" --subhosts sub1,sub2 \
	--hosts-prefix "$PREFIX" >&2
RATES=$(link_rates)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs);" \
	"load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%F)"
echo "guest: $MEM, $PROCS workload processes; main host $MAIN, page-table chunk $PT_CHUNK;" \
	"links $LINK, read rate per sub-host (MB/s):" \
	"$(for r in $RATES; do printf '%.1f ' "$(echo "$r / 1000000" | bc -l)"; done)"
printf "$fmt" method chunk ps_ms trips MB_in floor_ms wait_ms fetched pageouts
printf "$fmt" unsplit - "$unsplit" 0 0 0 0 0 0
for method in runtime vm; do
	for chunk in $CHUNKS; do
		read -r ms rt bytes floor wait got outs <<<"$(measure churn --fetch "$method" --chunk "$chunk")"
		printf "$fmt" "$method" "$chunk" "$ms" "$rt" \
			"$(printf '%.1f' "$(echo "$bytes / 1048576" | bc -l)")" "$floor" "$wait" "$got" "$outs"
		echo "$method $ms" >>"$results"
	done
done
# The issue's ratios: best method 1 / unsplit, best method 2 / best method 1.
awk -v u="$unsplit" '
	{ if (!($1 in best) || $2 < best[$1]) best[$1] = $2 }
	END { printf "best method 1: %.1f ms = %.2fx unsplit; best method 2: %.1f ms = %.2fx method 1\n",
	      best["runtime"], best["runtime"] / u, best["vm"], best["vm"] / best["runtime"] }' "$results"
