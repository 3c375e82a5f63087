#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# profile_memory.sh - what opening a guest costs when its kernel profile
# comes from its memory (issue 11) against from its vmlinuz, in the same run
# on the same guest: the profile load alone (`vmt profile build`, its
# "time:" line: find + decode + BTF check + store) and `vmt info` end to
# end (wall time of the whole command), each first (empty cache directory)
# and cached (second open), median of RUNS.
#
# One guest, stopped at the end.  Usage: bench/profile_memory.sh
# (env: VMT, KERNEL, RUNS, MEM, PREFIX)
set -euo pipefail

VMT=${VMT:-build/src/vmt/vmt}
KERNEL=${KERNEL:-${VMT_GUEST_DIR:-build/guest}/vmlinuz}
RUNS=${RUNS:-5}
MEM=${MEM:-512M}
PREFIX=${PREFIX:-bpm}
NAME=$PREFIX-vm
CACHES=$(mktemp -d /tmp/vmt-bench-profmem.XXXXXX)

# shellcheck source=bench/vm_common.sh
. "$(dirname "$0")/vm_common.sh"
trap 'cleanup; rm -rf "$CACHES"' EXIT

# The "time: N ms" of `vmt profile build` with the given source options.
load_ms() {
	"$VMT" profile build "$@" | sed -n 's/^time: *\([0-9.]*\) ms/\1/p'
}

# Wall milliseconds of `vmt info` (output discarded).
info_ms() {
	local a b
	a=$(date +%s%N)
	"$VMT" info "$@" >/dev/null
	b=$(date +%s%N)
	echo $(((b - a) / 1000)) | awk '{print $1 / 1000}'
}

# One measurement: "<first> <cached>" for a source, each in a fresh cache dir.
pair() {
	local what=$1 i=$2 d
	shift 2
	d=$CACHES/$what-$i
	mkdir -p "$d"
	echo "$("$@" --cache-dir "$d") $("$@" --cache-dir "$d")"
}

"$VMT" vm start "$NAME" --procs 20 --mem "$MEM" --timeout 240 >/dev/null
sleep 10 # the workload settles
mem=$("$VMT" vm show "$NAME" --json | sed -n 's/.*"mem_path": *"\([^"]*\)".*/\1/p')

for i in $(seq "$RUNS"); do
	pair img "$i" load_ms --kernel "$KERNEL" >>"$CACHES/load_img"
	pair mem "$i" load_ms --from-memory --mem "$mem" >>"$CACHES/load_mem"
	pair iimg "$i" info_ms --mem "$mem" --kernel "$KERNEL" >>"$CACHES/info_img"
	pair imem "$i" info_ms --mem "$mem" >>"$CACHES/info_mem"
done

col() { awk "{print \$$2}" "$CACHES/$1" | median; }
echo "# profile from memory vs vmlinuz: $(date -u +%F), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), guest $MEM, runs $RUNS (median, ms)"
echo
echo "| what | from vmlinuz | from memory | ratio |"
echo "| --- | ---: | ---: | ---: |"
for m in load info; do
	for k in 1 2; do
		a=$(col "${m}_img" "$k")
		b=$(col "${m}_mem" "$k")
		label=$([ "$m" = load ] && echo "profile load" || echo "vmt info (whole command)")
		label="$label, $([ "$k" = 1 ] && echo first open || echo cached)"
		echo "| $label | $a | $b | $(awk "BEGIN {printf \"%.2f\", $b / $a}") |"
	done
done
