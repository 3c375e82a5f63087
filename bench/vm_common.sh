# SPDX-License-Identifier: LGPL-2.1-or-later
# vm_common.sh - sourced by the benches that boot one guest $NAME with $VMT:
# the guest is stopped on every exit, `median` reads numbers on stdin; `boot_ready`,
# `mem_path`, `machine_line`, and `once`/`timed` to time a vmt command on the guest.

cleanup() {
	"$VMT" vm stop "$NAME" >/dev/null 2>&1 || true
}
trap cleanup EXIT

median() {
	sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'
}

# "wall_ms listing_ms cpu_ms" of one run of vmt ARGS on $NAME (stdout discarded); CPU time
# (user + system) is what the command costs, whatever else the machine runs.
once() {
	local out
	out=$(/usr/bin/time -f 'TIME %e %U %S' "$VMT" "$@" --vm "$NAME" --stats 2>&1 >/dev/null || true)
	awk '/^stats: / {l = $2} /^TIME / {w = $2 * 1000; c = ($3 + $4) * 1000}
	     END {printf "%d %s %d\n", w, (l == "" ? 0 : l), c}' <<<"$out"
}

# "median_wall_ms median_listing_ms median_cpu_ms" of once ARGS over $RUNS.
timed() {
	local out
	out=$(for _ in $(seq "$RUNS"); do once "$@"; done)
	echo "$(awk '{print $1}' <<<"$out" | median) $(awk '{print $2}' <<<"$out" | median)" \
		"$(awk '{print $3}' <<<"$out" | median)"
}

# Boot $NAME ($MEM, $PROCS workload processes) and wait until its workload is ready.
boot_ready() {
	"$VMT" vm start "$NAME" --mem "$MEM" --procs "$PROCS" --timeout 900 >/dev/null
	"$VMT" vm exec "$NAME" --timeout 900 -- \
		'i=0; while [ ! -e /run/vmt-workload.ready ] && [ $i -lt 4500 ]; do sleep 0.2; i=$((i+1)); done' \
		>/dev/null
}

# The memory file of $NAME.
mem_path() {
	"$VMT" vm show "$NAME" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["mem_path"])'
}

# "machine: kernel, CPUs, model, load" for a results header.
machine_line() {
	echo "machine: $(uname -r), $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -1)," \
		"load $(cut -d' ' -f1-3 /proc/loadavg)"
}
