#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# procfs_pair.sh - the shadow /proc's snapshot build time of two vmt binaries,
# run alternately on one saved memory image (this machine's speed drifts by
# 1.5x within minutes, so only pairs taken side by side compare).  Each
# round runs OLD, NEW on one thread and NEW on two (VMT_PROCFS_THREADS=1,
# 2; by default NEW takes two when the load average leaves a CPU free);
# each build is timed by
# `vmt procfs --build-only --stats` (the build only, not opening the image),
# and the whole loop holds the machine-wide bench lock.  Prints every build
# and then the medians (wall, CPU of all building threads, walk, per-process
# files) with the load average before and after.
#
# Save an image first: start a guest (`vmt vm start NAME --procs 1000`), wait
# for /run/vmt-workload.ready in it, `vmt vm pause NAME`, copy
# /dev/shm/vmt-NAME.ram somewhere, `vmt vm stop NAME`.
# Usage: OLD=... NEW=... IMAGE=... KERNEL=... bench/procfs_pair.sh [ROUNDS]
set -euo pipefail

ROUNDS=${1:-9}
OLD=${OLD:?OLD=path of the old vmt}
NEW=${NEW:-build/src/vmt/vmt}
IMAGE=${IMAGE:?IMAGE=a saved RAM file}
KERNEL=${KERNEL:-build/guest/vmlinuz}
LOCK=${LOCK:-/tmp/vmt-bench.lock}

# "ms cpu_ms walk_ms perproc_ms" of one build
one() {
	env "$@" procfs --mem "$IMAGE" --kernel "$KERNEL" --build-only --stats 2>&1 >/dev/null |
		sed -n 's/^stats: procfs [a-z]*: \([0-9.]*\) ms (cpu \([0-9.]*\) ms).*walk \([0-9.]*\) ms, per-process files \([0-9.]*\).*/\1 \2 \3 \4/p'
}

rounds() {
	for _ in $(seq "$ROUNDS"); do
		echo "old $(one "$OLD")"
		echo "new-1-thread $(one VMT_PROCFS_THREADS=1 "$NEW")"
		echo "new-2-threads $(one VMT_PROCFS_THREADS=2 "$NEW")"
	done
}

one "$NEW" >/dev/null # the profile cache warm
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
out=$(flock "$LOCK" bash -c "$(declare -f one rounds); ROUNDS=$ROUNDS OLD=$OLD NEW=$NEW \
	IMAGE=$IMAGE KERNEL=$KERNEL rounds")
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$out"
awk '
function med(s,   a, n, t, i, j) {
	n = split(s, a, " ")
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
NF == 5 {
	if (!($1 in seen)) { seen[$1] = 1; order[++k] = $1 }
	w[$1] = w[$1] " " $2; c[$1] = c[$1] " " $3; wk[$1] = wk[$1] " " $4; p[$1] = p[$1] " " $5
}
END {
	printf "%-14s %9s %8s %8s %12s\n", "binary", "wall_ms", "cpu_ms", "walk_ms", "perproc_ms"
	for (i = 1; i <= k; i++) {
		b = order[i]
		printf "%-14s %9.1f %8.1f %8.1f %12.1f\n", b, med(w[b]), med(c[b]), med(wk[b]), med(p[b])
	}
}' <<<"$out"
