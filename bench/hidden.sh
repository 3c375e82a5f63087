#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# hidden.sh - the cost of cross-view detection (issue 10) on a guest with
# PROCS processes, in one run: `vmt ps` (the task list), `vmt ps --views`
# (every view, the union), `vmt hidden --rechecks 0` (one listing of every
# check: processes, modules, hooks) and `vmt hidden` as shipped (re-checks
# only run when something was found: on this clean guest none); each the
# median of RUNS, wall time of the whole command (open, profile from the
# cache, listing, output) and the listing's own time (--stats).  Then the
# task_struct scan: bytes scanned and its rate (`vmt hidden -v`) against a
# plain sequential read of the same memory file (dd, 4 MiB blocks, the
# page cache warm: the file lives in /dev/shm).
#
# One guest, stopped at the end.
# Usage: bench/hidden.sh   (env: VMT, RUNS, PROCS, MEM, PREFIX)
set -euo pipefail

VMT=${VMT:-build/src/vmt/vmt}
RUNS=${RUNS:-5}
PROCS=${PROCS:-1000}
MEM=${MEM:-1G}
PREFIX=${PREFIX:-bhid}
NAME=$PREFIX-vm

# shellcheck source=bench/vm_common.sh
. "$(dirname "$0")/vm_common.sh"

boot_ready
mem=$(mem_path)

machine_line
echo "guest: $MEM, $PROCS workload processes; tasks listed by vmt ps -T:" \
	"$("$VMT" ps --vm "$NAME" -T | tail -n +2 | wc -l)"
printf '%-28s %10s %12s %8s %8s %8s\n' command wall_ms listing_ms cpu_ms wall/ps cpu/ps
read -r ps_wall ps_list ps_cpu < <(timed ps)
row() { # label wall listing cpu
	awk -v t="$1" -v w="$2" -v l="$3" -v c="$4" -v p="$ps_wall" -v pc="$ps_cpu" \
		'BEGIN {printf "%-28s %10.0f %12.1f %8.0f %8.2f %8.2f\n", t, w, l, c,
		        (p > 0 ? w / p : 0), (pc > 0 ? c / pc : 0)}'
}
row "vmt ps" "$ps_wall" "$ps_list" "$ps_cpu"
read -r w l c < <(timed ps --views -T)
row "vmt ps --views -T" "$w" "$l" "$c"
read -r w l c < <(timed hidden --rechecks 0)
row "vmt hidden --rechecks 0" "$w" "$l" "$c"
read -r w l c < <(timed hidden)
row "vmt hidden" "$w" "$l" "$c"

# The scan, as vmt hidden -v reports it, RUNS times.
scan=$(for _ in $(seq "$RUNS"); do
	"$VMT" hidden --vm "$NAME" --rechecks 0 -v 2>&1 >/dev/null |
		sed -n 's/.*processes: .*//; s/^vmt: hidden: scan: \([0-9.]*\) MiB in \([0-9.]*\) ms.*/\1 \2/p'
done)
mib=$(echo "$scan" | awk 'NR == 1 {print $1}')
scan_ms=$(echo "$scan" | awk '{print $2}' | median)
dd_ms=$(for _ in $(seq "$RUNS"); do
	a=$(date +%s%N)
	dd if="$mem" of=/dev/null bs=4M status=none
	b=$(date +%s%N)
	echo $(((b - a) / 1000000))
done | median)
size_mib=$(($(stat -c %s "$mem") / 1048576))
awk -v m="$mib" -v s="$scan_ms" -v f="$size_mib" -v d="$dd_ms" 'BEGIN {
	printf "scan: %.0f MiB in %.1f ms: %.0f MB/s; dd of the memory file (%d MiB): %.0f ms, %.0f MB/s; scan/dd rate %.2f\n",
	    m, s, m * 1.048576 / s * 1000, f, d, f * 1.048576 / d * 1000, (m / s) / (f / d)
}'
