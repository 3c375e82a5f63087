#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# syscalls.sh - what a system call costs under `vmt exec`'s supervisor
# (src/syscalls/), against the same call natively, in the same run:
#   getpriority(PRIO_PROCESS, 1)       a guest pid: one notification round
#                                      trip, answered from the snapshot
#   getpriority(PRIO_PROCESS, 4000000) no such pid (chkproc's common case):
#                                      the snapshot's lookup, then the host
#                                      check that it is none of the tool's
#   getpriority(PRIO_PROCESS, 0)       trapped, passed on (CONTINUE)
#   getppid()                          not trapped: the filter's own cost
# each N times in one process (vmt-probe bench), the median of RUNS runs,
# natively (no filter) and under `vmt exec` (and `vmt exec --no-syscalls`
# for the untrapped baseline).  Prints a Markdown table, the machine first.
#
# One guest, stopped at the end.  Needs root (FUSE, unshare).
# Usage: bench/syscalls.sh   (env: VMT, PROBE, N, RUNS, PREFIX)
set -euo pipefail

VMT=${VMT:-build/src/vmt/vmt}
PROBE=${PROBE:-$(dirname "$VMT")/../../tests/system/tools/vmt-probe}
N=${N:-100000}
RUNS=${RUNS:-3}
PREFIX=${PREFIX:-bsc}
NAME=$PREFIX-vm

# shellcheck source=bench/vm_common.sh
. "$(dirname "$0")/vm_common.sh"

# ns per call of `vmt-probe bench N WHAT`, median of RUNS; args before -- run it.
per_call() {
	local what=$1
	shift
	for i in $(seq "$RUNS"); do
		"$@" "$PROBE" bench "$N" "$what"
	done | median
}

"$VMT" vm start "$NAME" --procs 20 --mem 512M --timeout 240 >/dev/null
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) CPUs, Linux $(uname -r)"
echo "calls per run: $N, median of $RUNS runs; ns per call"
echo
echo "| call | native | vmt exec | ratio |"
echo "| --- | --- | --- | --- |"
for what in 1 4000000 0 getppid; do
	case $what in
	1) label="getpriority(guest pid 1): answered" ;;
	4000000) label="getpriority(no such pid): ESRCH" ;;
	0) label="getpriority(0): passed to the host" ;;
	getppid) label="getppid(): not trapped" ;;
	esac
	native=$(per_call "$what" env)
	shadow=$(per_call "$what" "$VMT" exec --vm "$NAME" --)
	echo "| $label | $native | $shadow | $(awk "BEGIN {printf \"%.1fx\", $shadow / $native}") |"
done
nosc=$(per_call getppid "$VMT" exec --vm "$NAME" --no-syscalls --)
echo
echo "getppid() under \`vmt exec --no-syscalls\` (no filter): $nosc ns"
