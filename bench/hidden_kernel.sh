#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# hidden_kernel.sh - the cost of vmt hidden's modules and hooks checks
# (issue 10), beside `vmt lsmod` in the same run: `vmt lsmod` (the modules
# list) and `vmt lsmod --views` (list, kset, tree, scan: the union), each
# the median of RUNS, wall time of the whole command (open, profile from the
# cache, listing, output) and --stats' time (guest open + listing); then, from
# `vmt hidden --rechecks 0 -v`, the module views' listing time, the module
# memory scan (bytes of mapped module memory read, time, rate) and the hook
# check's time (sys_call_table slot by slot, the IDT) and the kernel text
# comparison's (bytes compared, time: the image inflated and relocated, the
# text read and compared), medians of RUNS; and
# a plain sequential read of the whole memory file (dd, 4 MiB blocks, warm
# /dev/shm) for the rate a scan could reach.
#
# One guest, stopped at the end.
# Usage: bench/hidden_kernel.sh   (env: VMT, RUNS, PROCS, MEM, PREFIX)
set -euo pipefail

VMT=${VMT:-build/src/vmt/vmt}
RUNS=${RUNS:-7}
PROCS=${PROCS:-20}
MEM=${MEM:-512M}
PREFIX=${PREFIX:-bhk}
NAME=$PREFIX-vm

# shellcheck source=bench/vm_common.sh
. "$(dirname "$0")/vm_common.sh"

boot_ready
mem=$(mem_path)

machine_line
echo "guest: $MEM, $PROCS workload processes, kernel $("$VMT" vm exec "$NAME" -- uname -r)," \
	"modules: $("$VMT" vm exec "$NAME" -- 'wc -l < /proc/modules')"
printf '%-24s %10s %12s %8s\n' command wall_ms open+list_ms cpu_ms
read -r w l c < <(timed lsmod)
printf '%-24s %10.0f %12.1f %8.0f\n' "vmt lsmod" "$w" "$l" "$c"
read -r w l c < <(timed lsmod --views)
printf '%-24s %10.0f %12.1f %8.0f\n' "vmt lsmod --views" "$w" "$l" "$c"

# "views_ms scan_mib scan_ms hooks_ms entries text_bytes text_ms" of one vmt hidden -v, RUNS times.
runs=$(for _ in $(seq "$RUNS"); do
	"$VMT" hidden --vm "$NAME" --rechecks 0 -v 2>&1 >/dev/null | awk '
		/hidden: modules: .* found in/ {for (i = 1; i <= NF; i++) if ($i == "in") v = $(i + 1)}
		/hidden: module scan:/ {s = $5; sm = $9}
		/hidden: hooks: .* entries checked in/ {n = $4; h = $8}
		/hidden: text: .* bytes compared/ {tb = $4; tm = $11}
		END {print v, s, sm, h, n, tb, tm}'
done)
col() { awk -v k="$1" '{print $k}' <<<"$runs" | median; }
views_ms=$(col 1)
scan_mib=$(col 2)
scan_ms=$(col 3)
hooks_ms=$(col 4)
entries=$(col 5)
text_bytes=$(col 6)
text_ms=$(col 7)
dd_ms=$(for _ in $(seq "$RUNS"); do
	a=$(date +%s%N)
	dd if="$mem" of=/dev/null bs=4M status=none
	b=$(date +%s%N)
	echo $(((b - a) / 1000000))
done | median)
size_mib=$(($(stat -c %s "$mem") / 1048576))
awk -v v="$views_ms" -v m="$scan_mib" -v s="$scan_ms" -v h="$hooks_ms" -v n="$entries" \
	-v tb="$text_bytes" -v tm="$text_ms" \
	-v f="$size_mib" -v d="$dd_ms" 'BEGIN {
	printf "module views (list, kset, tree, scan) in vmt hidden: %.1f ms\n", v
	printf "module scan: %.1f MiB of mapped module memory in %.1f ms: %.0f MB/s\n", m, s,
	    (s > 0 ? m * 1.048576 / s * 1000 : 0)
	printf "hooks: %d entries (sys_call_table, IDT) in %.1f ms\n", n, h
	printf "kernel text: %.1f MB compared with the image in %.1f ms\n", tb / 1e6, tm
	printf "dd of the memory file (%d MiB): %d ms, %.0f MB/s\n", f, d, f * 1.048576 / d * 1000
}'
