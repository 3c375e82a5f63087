#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# ids_tools.sh - run time of the IDS tools of issue 8 through `vmt exec`
# (the guest's view: shadow /proc over FUSE, system calls answered by the
# supervisor) against the same tools on this host's own /proc, in the same
# run: `chkrootkit lkm` (chkproc: 4,194,304 chdir probes, a getpriority for
# each absent pid; chkdirs), `unhide sys`, `unhide proc`, `lsof -n`, and
# the cost of one absent-pid probe of each kind (chdir into /proc/N: a FUSE
# lookup; getpriority(N): a supervisor notification), from 100,000 probes.
# Each figure is the tool alone, timed inside the namespace (not the
# snapshot or the mount); the median of RUNS (chkrootkit: LKM_RUNS, as it
# takes minutes).  WHOLE=1 also times a whole `chkrootkit` (every test).
#
# One guest, stopped at the end.  Needs root (FUSE, unshare).
# Usage: bench/ids_tools.sh   (env: VMT, RUNS, LKM_RUNS, WHOLE, PROCS, PREFIX)
set -euo pipefail

VMT=${VMT:-build/src/vmt/vmt}
RUNS=${RUNS:-3}
LKM_RUNS=${LKM_RUNS:-1}
WHOLE=${WHOLE:-0}
PROCS=${PROCS:-20}
PREFIX=${PREFIX:-bids}
NAME=$PREFIX-vm

# shellcheck source=bench/vm_common.sh
. "$(dirname "$0")/vm_common.sh"

# Seconds of CMD (output discarded), timed in the shell that runs it.
TIMED='a=$(date +%s%N); "$@" >/dev/null 2>&1; b=$(date +%s%N); echo $(( (b - a) / 1000000 ))'

shadow() { # runs, cmd...
	local n=$1
	shift
	for i in $(seq "$n"); do
		"$VMT" exec --vm "$NAME" -- sh -c "$TIMED" sh "$@"
	done | awk '{print $1 / 1000}' | median
}

host() { # runs, cmd...
	local n=$1
	shift
	for i in $(seq "$n"); do
		sh -c "$TIMED" sh "$@"
	done | awk '{print $1 / 1000}' | median
}

# Microseconds per absent-pid probe, over 100,000 pids that neither the guest
# nor the host has (4,000,000 and up; Linux's cap is 4,194,304).
PROBE='import os, sys, time
kind = sys.argv[1]
t = time.perf_counter()
for i in range(4000000, 4100000):
    try:
        os.chdir(f"/proc/{i}") if kind == "chdir" else os.getpriority(os.PRIO_PROCESS, i)
    except OSError:
        pass
print(f"{(time.perf_counter() - t) * 10:.2f}")'

"$VMT" vm start "$NAME" --mem 512M --procs "$PROCS" --timeout 600 >/dev/null
"$VMT" vm exec "$NAME" --timeout 600 -- \
	'i=0; while [ ! -e /run/vmt-workload.ready ] && [ $i -lt 3000 ]; do sleep 0.2; i=$((i+1)); done' \
	>/dev/null

echo "machine: $(uname -r), $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
echo "host processes: $(ls -d /proc/[0-9]* | wc -l), host pid_max $(cat /proc/sys/kernel/pid_max);" \
	"guest pid_max $("$VMT" exec --vm "$NAME" -- cat /proc/sys/kernel/pid_max)"
printf '%-22s %12s %12s %7s\n' tool vmt_exec_s host_s ratio
row() {
	awk -v t="$1" -v a="$2" -v b="$3" 'BEGIN {printf "%-22s %12.2f %12.2f %7.1f\n", t, a, b, (b > 0 ? a / b : 0)}'
}
row "lsof -n" "$(shadow "$RUNS" lsof -n)" "$(host "$RUNS" lsof -n)"
row "unhide proc" "$(shadow "$RUNS" unhide proc)" "$(host "$RUNS" unhide proc)"
row "unhide sys" "$(shadow "$RUNS" unhide sys)" "$(host "$RUNS" unhide sys)"
row "chkrootkit lkm" "$(shadow "$LKM_RUNS" chkrootkit lkm)" "$(host "$LKM_RUNS" chkrootkit lkm)"
if [ "$WHOLE" = 1 ]; then
	row "chkrootkit (all)" "$(shadow 1 chkrootkit)" "$(host 1 chkrootkit)"
fi
printf '%-22s %12s %12s\n' "probe (absent pid)" vmt_exec_us host_us
for kind in chdir getpriority; do
	a=$("$VMT" exec --vm "$NAME" -- python3 -c "$PROBE" "$kind")
	b=$(python3 -c "$PROBE" "$kind")
	printf '%-22s %12s %12s\n' "$kind /proc/N" "$a" "$b"
done
