#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# split_read.sh - `vmt ps` on one guest, side by side in one run: unsplit,
# then split onto a main host and two sub-hosts (1 Gbit tbf links), read
# with method 1 (--fetch runtime) and method 2 (--fetch vm) at each fetch
# chunk 4K..2M.  Two configurations (CASE):
#  - issue (default): issue 6's own: 1 GiB guest, 1,000 processes, main host
#    96 MiB: about half of the ~190 MiB the guest has written goes to the
#    sub-hosts (the rest is zero and sent nowhere; the census is printed), the
#    default placement policy, no pushing out: the listing reads what the split
#    left where it is.  Method 2 brings home what it reads, so each of its
#    points gets a fresh instance booted and split the same way.
#  - harsh: 512 MiB guest split to 96 MiB main; before every split measurement
#    the guest churns 64 MiB, above the main host's cap, so each listing starts
#    from pages pushed out to the sub-hosts (~93 % of what `ps` reads).
# Method 1 reads with exact reads, its default (the task walk names each
# process's argument bytes ahead, and just those are fetched: ~80 bytes of
# a 4 KiB page), on the `runtime` lines, and with whole chunks only
# (--whole-chunks, the paper's method 1: every fetch a whole fetch chunk)
# on the `runtime-whole` lines.
# A `local` line is the split listing with the sub-hosts' pages left out
# (--fetch none): what method 1 costs beside its waits.  The `overlap` line
# is the best any method-1 listing could do on this machine: the fetch of
# as many scattered pages as method 1 at 4K read, from the same sub-hosts,
# beside as much CPU work as the unsplit listing took, on two threads
# (bench/bench_overlap.c; needs OVERLAP, default: beside VMT).
# Prints the median of RUNS listings per line, with the round trips, bytes
# from the sub-hosts and time waiting that `--stats` reports, the pager's
# page-outs during the listing (method 2 makes room under the cap), the
# pager's batches and NBD reads for PAGEINs, the time they waited for room
# under the cap, took in the pager in all, waited on the sub-hosts and spent
# installing pages, and the listing's link floor: the busiest sub-host's
# bytes at the read rate of that link, measured in the same run (nbdcopy of
# the VM's export).  Last, where the CPU went: cpu_ms the listing process's
# own (user + system), srv_ms the sub-hosts' servers' meanwhile (10 ms
# ticks): on a machine whose cores also run the sub-hosts, a listing cannot
# take less than (cpu_ms + srv_ms) / cores.
#
# The split's page-table chunk (PT_CHUNK, default 4K) is the unit the pager
# moves: method 2 can never bring in less than one, so a 64K chunk makes it
# move 16 times the bytes method 1 reads at 4K.
#
# Every timed listing holds /tmp/vmt-bench.lock (flock) so that timed runs
# of other benchmarks on the machine do not overlap it.
#
# PIN=1: every listing (unsplit ones too) runs on CPU 0 and the guest's QEMU
# and the sub-hosts' processes (everything in their namespaces: nbdkit) on
# CPU 1, as if the sub-hosts were other machines and the IDS had a core of
# its own.  By default all share this machine's cores: the sub-hosts' TLS
# and NBD work competes with the listing it serves.
#
# Needs root (namespaces, tc).  Everything made here is removed at the end.
# Usage: bench/split_read.sh   (env: CASE, VMT, PREFIX, SUBNET, LINK, PROCS,
#                               MEM, MAIN, CHURN, RUNS, CHUNKS, PT_CHUNK, COLD, PIN)
set -euo pipefail

CASE=${CASE:-issue}
case $CASE in
issue) dmem=1G dmain=96M dchurn=0 ;;
harsh) dmem=512M dmain=96M dchurn=64M ;;
*) echo "CASE must be issue or harsh" >&2; exit 2 ;;
esac
VMT=${VMT:-build/src/vmt/vmt}
OVERLAP=${OVERLAP:-$(dirname "$VMT")/../../bench/bench_overlap}
PREFIX=${PREFIX:-bsr}
SUBNET=${SUBNET:-10.94}
LINK=${LINK:-1gbit}
PROCS=${PROCS:-1000}
MEM=${MEM:-$dmem}
MAIN=${MAIN:-$dmain}
CHURN=${CHURN:-$dchurn}
RUNS=${RUNS:-3}
CHUNKS=${CHUNKS:-"4K 16K 64K 256K 1M 2M"}
PT_CHUNK=${PT_CHUNK:-4K}
COLD=${COLD:-1}
PIN=${PIN:-0}
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

# The pager's page-outs, PAGEIN batches, NBD reads, and the time (µs) its
# PAGEINs waited for room under the cap, took in all, waited on the
# sub-hosts and spent installing (UFFDIO_COPY) so far (zeros when the VM is
# not split, or for a pager that does not count them).
pager_out() {
	"$VMT" vm show "$NAME" --json | /usr/bin/python3 -c '
import json, sys
s = json.load(sys.stdin).get("pager_stats") or {}
print(*(s.get(k, 0) for k in ("pageouts", "pagein_batches", "pagein_reads", "pagein_wait_us",
                              "pagein_cmd_us", "pagein_net_us", "pagein_install_us")))'
}

# PIN=1: the guest's QEMU and the sub-hosts' processes onto CPU 1 (before
# each listing: servers start with the split); prints the taskset prefix
# for the listing itself.
pin_others() {
	[ "$PIN" = 1 ] || return 0
	local pids
	pids="$(pgrep -f "qemu-system.*-name vmt-$NAME " || true) $(ip netns pids "$PREFIX-sub1" 2>/dev/null || true) $(ip netns pids "$PREFIX-sub2" 2>/dev/null || true)"
	for p in $pids; do taskset -a -p 2 "$p" >/dev/null 2>&1 || true; done
	echo "taskset -c 0"
}

# CPU time (10 ms ticks) used so far by every process in the sub-hosts'
# namespaces (their nbdkit servers).
srv_ticks() {
	local t=0 p v
	for p in $(ip netns pids "$PREFIX-sub1" 2>/dev/null) $(ip netns pids "$PREFIX-sub2" 2>/dev/null); do
		v=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null) && t=$((t + v))
	done
	echo "$t"
}

# One listing: "ms round_trips bytes busiest_floor_ms wait_ms fetched" from
# --stats, the pager's "pageouts batches reads room_ms cmd_ms net_ms inst_ms"
# during it, then the CPU the listing's process used (user + system, ms) and
# the CPU the sub-hosts' servers used meanwhile (ms, in 10 ms ticks).
listing() {
	local o0 o1 a0 a1 r0 r1 w0 w1 c0 c1 n0 n1 i0 i1 pin s0 s1 err cpu
	read -r o0 a0 r0 w0 c0 n0 i0 <<<"$(pager_out)"
	pin=$(pin_others)
	err=$(mktemp)
	s0=$(srv_ticks)
	# (a listing with pages left out exits 1: PARTIAL_OK=1 for those); `times`
	# gives the children's CPU to the millisecond.
	cpu=$( (flock /tmp/vmt-bench.lock $pin "$VMT" ps --vm "$NAME" --stats "$@" >/dev/null 2>"$err" ||
		[ "${PARTIAL_OK:-}" = 1 ]) && times)
	cpu=$(awk 'NR == 2 { split($1, u, /[ms]/); split($2, k, /[ms]/)
		printf "%.1f", (u[1] * 60 + u[2] + k[1] * 60 + k[2]) * 1000 }' <<<"$cpu")
	s1=$(srv_ticks)
	awk -v rates="$RATES" '
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
		      printf "%s %d %d %.1f %s %d", ms, rt, b, floor * 1000, wait + 0, got }' "$err"
	rm -f "$err"
	read -r o1 a1 r1 w1 c1 n1 i1 <<<"$(pager_out)"
	echo " $((o1 - o0)) $((a1 - a0)) $((r1 - r0)) $(((w1 - w0) / 1000)) $(((c1 - c0) / 1000))" \
		"$(((n1 - n0) / 1000)) $(((i1 - i0) / 1000)) ${cpu:-0} $(((s1 - s0) * 10))"
}

# Median (by time) of RUNS listings, each after a churn when $1 is "churn".
measure() {
	local churn=$1
	shift
	for _ in $(seq "$RUNS"); do
		[ "$churn" = churn ] && [ "$CHURN" != 0 ] && guest "dd if=/dev/zero of=/dev/null bs=$CHURN count=1 2>/dev/null"
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

# The best schedule: method 1's remote pages fetched beside the unsplit listing's work.
overlap_floor() {
	local pages=$1
	[ -x "$OVERLAP" ] && [ "$pages" -gt 0 ] || return 0
	"$VMT" vm show "$NAME" --json | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)["split"]
print(d["main_netns"], d["psk_file"], d["hosts"][0]["export"], *(h["addr"] for h in d["hosts"]))' |
		while read -r ns psk export addrs; do
			# shellcheck disable=SC2086
			flock /tmp/vmt-bench.lock ip netns exec "$ns" "$OVERLAP" --psk "$psk" \
				--export "$export" --pages "$pages" --work-ms "$unsplit" $addrs
		done | sed "s/^/overlap: /"
}

"$VMT" hosts up --prefix "$PREFIX" --subnet "$SUBNET" --link "$LINK" --capacity 2G >/dev/null

# A fresh instance: boot NAME, wait for its workload, time the unsplit
# listing (into $unsplit), split it with the default placement policy.
N=0
instance() {
	[ "$N" -gt 0 ] && "$VMT" vm stop "$NAME" >/dev/null
	N=$((N + 1))
	NAME=$PREFIX-vm$N
	"$VMT" vm start "$NAME" --mem "$MEM" --procs "$PROCS" --timeout 900 >/dev/null
	guest "i=0; while [ ! -e /run/vmt-workload.ready ] && [ \$i -lt 1500 ]; do sleep 0.2; i=\$((i+1)); done"
	unsplit_line=$(RATES="" measure none)
	unsplit=${unsplit_line%% *}
	"$VMT" split "$NAME" --main-mem "$MAIN" --chunk "$PT_CHUNK" --subhosts sub1,sub2 \
		--hosts-prefix "$PREFIX" 2>&1 | sed "s/^/instance $N: /"
}

fmt='%-8s %-6s %8s %6s %6s %8s %8s %7s %8s %7s %7s %7s %6s %6s %6s %7s %7s\n'
# One line of the table: method, chunk, then measure's figures.
row() {
	local ms rt bytes floor wait got outs batches reads room cmd net inst cpu srv
	read -r ms rt bytes floor wait got outs batches reads room cmd net inst cpu srv <<<"$3"
	printf "$fmt" "$1" "$2" "$ms" "$rt" \
		"$(printf '%.1f' "$(echo "$bytes / 1048576" | bc -l)")" "$floor" "$wait" "$got" "$outs" \
		"$batches" "$reads" "$room" "$cmd" "$net" "$inst" "$cpu" "$srv"
	echo "$1 $ms" >>"$results"
}

instance
RATES=$(link_rates)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs);" \
	"load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%F)"
echo "case $CASE; guest: $MEM, $PROCS workload processes; main host $MAIN, page-table chunk $PT_CHUNK;" \
	"PIN=$PIN;" \
	"links $LINK, read rate per sub-host (MB/s):" \
	"$(for r in $RATES; do printf '%.1f ' "$(echo "$r / 1000000" | bc -l)"; done)"
printf "$fmt" method chunk ps_ms trips MB_in floor_ms wait_ms fetched pageouts \
	p_batch p_reads room_ms p_ms net_ms inst_ms cpu_ms srv_ms
row unsplit - "$unsplit_line"
for chunk in $CHUNKS; do
	row runtime "$chunk" "$(measure churn --fetch runtime --chunk "$chunk")"
	line=$(measure churn --fetch runtime --chunk "$chunk" --whole-chunks)
	row runtime-whole "$chunk" "$line"
	[ "$chunk" = 4K ] && m1_pages=$(awk '{print $6}' <<<"$line")
done
[ "$CASE" = issue ] && overlap_floor "${m1_pages:-0}"
# The split read path's own cost: the same listing with the sub-hosts' pages
# left out (--fetch none: those entries are partial, nothing waits on a link).
row local - "$(PARTIAL_OK=1 measure churn --fetch none)"
if [ "$CASE" = harsh ]; then
	# The churn before every listing pushes the listing's pages out again.
	for chunk in $CHUNKS; do
		row vm "$chunk" "$(measure churn --fetch vm --chunk "$chunk")"
	done
else
	# Method 2 brings home what it reads and there is no way back from a
	# split: each chunk size gets a fresh instance (booted and split the
	# same way), its first listing is the one measured (vm), beside the
	# unsplit listing and method 1 at 4K of the same instance (vm/u, vm/m1),
	# and the median of RUNS listings after it (vm-warm: pages now home).
	# COLD instances per chunk size (default 1).
	for chunk in $CHUNKS; do
		for _ in $(seq "$COLD"); do
			instance >&2
			m1=$(measure churn --fetch runtime --chunk 4K)
			m1w=$(measure churn --fetch runtime --chunk 4K --whole-chunks)
			cold=$(listing --fetch vm --chunk "$chunk")
			row vm "$chunk" "$cold"
			printf '  (same instance: unsplit %s ms, method 1 at 4K %s ms, with whole chunks %s ms)\n' \
				"$unsplit" "${m1%% *}" "${m1w%% *}"
			echo "pair $chunk ${cold%% *} ${m1%% *} ${m1w%% *} $unsplit" >>"$results"
			row vm-warm "$chunk" "$(measure none --fetch vm --chunk "$chunk")"
		done
	done
fi
# The issue's ratios: best method 1 / unsplit, best method 2 / best method 1,
# for method 1 with exact reads (its default) and with whole chunks only;
# then each instance's method 2 / method 1, and their median per chunk size.
awk '
	function median(v, n,    i, j, t) {
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
		return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
	}
	$1 == "unsplit" { u = $2 }
	$1 == "pair" { pair[++np] = $2 "=" sprintf("%.2f/%.2f", $3 / $4, $3 / $5)
		       if (!($2 in nc)) order[++nk] = $2
		       k = ++nc[$2]; ex[$2, k] = $3 / $4; wh[$2, k] = $3 / $5 }
	$1 == "runtime" || $1 == "runtime-whole" || $1 == "vm" {
		if (!($1 in best) || $2 < best[$1]) best[$1] = $2 }
	END { printf "best method 1: %.1f ms = %.2fx unsplit (whole chunks: %.1f ms = %.2fx);",
	      best["runtime"], best["runtime"] / u, best["runtime-whole"], best["runtime-whole"] / u
	      printf " best method 2: %.1f ms = %.2fx method 1 (%.2fx method 1 with whole chunks)\n",
	      best["vm"], best["vm"] / best["runtime"], best["vm"] / best["runtime-whole"]
	      for (i = 1; i <= np; i++) s = s " " pair[i]
	      if (np) print "method 2 (first listing) / method 1 at 4K of the same instance," \
	              " exact/whole, chunk=ratio:" s
	      s = ""
	      for (i = 1; i <= nk; i++) {
		      c = order[i]
		      for (j = 1; j <= nc[c]; j++) { a[j] = ex[c, j]; b[j] = wh[c, j] }
		      s = s sprintf(" %s=%.3f/%.3f (%d)", c, median(a, nc[c]), median(b, nc[c]), nc[c])
	      }
	      if (np) print "median of those ratios, exact/whole, chunk=median (instances):" s }' "$results"
