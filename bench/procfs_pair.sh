#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# procfs_pair.sh - the shadow /proc's snapshot build time of two vmt binaries,
# run alternately on one saved memory image (this machine's speed drifts by
# 1.5x within minutes, so only pairs taken side by side compare).
#
# Two kinds of build, each round OLD then NEW:
#  - first: `vmt procfs --build-only --stats`, a fresh process (what
#    `vmt exec -- ps` pays: every page of the page cache and of the tree is
#    memory the kernel zeroes first);
#  - rebuild (STEADY=N, default 4): a mounted `vmt procfs --stats` rebuilt N
#    times by SIGHUP (what a server with --refresh pays on every refresh:
#    its memory is reused).
# Each build is timed by --stats (the build only, not opening the image);
# every timed part holds the machine-wide bench lock, one round at a time.
# Prints every build, then the medians (wall, CPU, walk, per-process files
# for first builds; wall, CPU for rebuilds) with the load average before and
# after.
#
# Save an image first: start a guest (`vmt vm start NAME --procs 1000`), wait
# for /run/vmt-workload.ready in it, `vmt vm pause NAME`, copy
# /dev/shm/vmt-NAME.ram somewhere (to /dev/shm, `cp --sparse=always`, to read
# it from tmpfs as a live VM's file is), `vmt vm stop NAME`.
# Usage: OLD=... NEW=... IMAGE=... KERNEL=... [STEADY=N] bench/procfs_pair.sh [ROUNDS]
set -euo pipefail

ROUNDS=${1:-9}
OLD=${OLD:?OLD=path of the old vmt}
NEW=${NEW:-build/src/vmt/vmt}
IMAGE=${IMAGE:?IMAGE=a saved RAM file}
KERNEL=${KERNEL:-build/guest/vmlinuz}
LOCK=${LOCK:-/tmp/vmt-bench.lock}
STEADY=${STEADY:-4}
MNT=$(mktemp -d /tmp/vmt-procfs-pair.XXXXXX)
ERR=$MNT.err
trap 'umount -l "$MNT" 2>/dev/null || true; rmdir "$MNT"; rm -f "$ERR"' EXIT

# "ms cpu_ms walk_ms perproc_ms" of one first build
first() {
	"$1" procfs --mem "$IMAGE" --kernel "$KERNEL" --build-only --stats 2>&1 >/dev/null |
		sed -n 's/^stats: procfs [a-z]*: \([0-9.]*\) ms (cpu \([0-9.]*\) ms).*walk \([0-9.]*\) ms, per-process files \([0-9.]*\).*/\1 \2 \3 \4/p'
}

# "ms cpu_ms" of each of STEADY rebuilds of one mounted server
rebuilds() {
	local pid i
	"$1" procfs --mem "$IMAGE" --kernel "$KERNEL" --stats "$MNT" 2>"$ERR" &
	pid=$!
	for i in $(seq 100); do
		mountpoint -q "$MNT" && break
		sleep 0.1
	done
	for i in $(seq "$STEADY"); do
		kill -HUP "$pid"
		sleep 0.4 # the rebuild runs on a thread of its own; its stats line says when
	done
	kill -INT "$pid"
	wait "$pid" || true
	sed -n 's/^stats: procfs [a-z]*: \([0-9.]*\) ms (cpu \([0-9.]*\) ms).*/\1 \2/p' "$ERR" | tail -n +2
}

first "$NEW" >/dev/null # the profile cache warm
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
out=$(for _ in $(seq "$ROUNDS"); do
	for b in old new; do
		bin=$OLD
		[ "$b" = new ] && bin=$NEW
		echo "$b-first $(flock "$LOCK" bash -c "$(declare -f first); IMAGE=$IMAGE KERNEL=$KERNEL first $bin")"
		if [ "$STEADY" -gt 0 ]; then
			flock "$LOCK" bash -c "$(declare -f rebuilds); IMAGE=$IMAGE KERNEL=$KERNEL MNT=$MNT \
				ERR=$ERR STEADY=$STEADY rebuilds $bin" | sed "s/^/$b-rebuild /"
		fi
	done
done)
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
NF >= 3 {
	if (!($1 in seen)) { seen[$1] = 1; order[++k] = $1; cnt[$1] = 0 }
	cnt[$1]++
	w[$1] = w[$1] " " $2; c[$1] = c[$1] " " $3
	if (NF == 5) { wk[$1] = wk[$1] " " $4; p[$1] = p[$1] " " $5 }
}
END {
	printf "%-12s %4s %9s %8s %8s %12s\n", "build", "n", "wall_ms", "cpu_ms", "walk_ms", "perproc_ms"
	for (i = 1; i <= k; i++) {
		b = order[i]
		if (b in wk)
			printf "%-12s %4d %9.1f %8.1f %8.1f %12.1f\n", b, cnt[b], med(w[b]), med(c[b]), med(wk[b]), med(p[b])
		else
			printf "%-12s %4d %9.1f %8.1f\n", b, cnt[b], med(w[b]), med(c[b])
	}
}' <<<"$out"
