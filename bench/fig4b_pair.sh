#!/bin/bash
# fig4b_pair.sh - Fig. 4(b) with two vmt binaries alternately (old and new), instance by
# instance, so that the machine's drift hits both alike.
#
# Per instance: a fresh guest at the paper's shape (2 GiB, 100 workload processes, filled with
# vmt-memcheck to MemAvailable - 64 MiB, KASLR off); busybox ps through the agent on the unsplit
# guest; split --main-mem 1G --policy P --chunk 4K onto one sub-host behind a 1 Gbit link;
# the pager left to settle; one discarded method-1 build (64K, as vmt bench fig4 does); then the
# timed part under the machine-wide bench lock: the shadow /proc construction with the point's
# method and fetch chunk, and ps in the guest right after.  Page-ins from the pager's STATS.
#
# usage: OLD=path/to/vmt NEW=path/to/vmt bench/fig4b_pair.sh OUT_DIR [REPS] [POINTS]
#   POINTS: method:chunk list (default "runtime:64K vm:4K vm:32K")
#   env: PREFIX (hosts prefix and VM names, default f4p), SUBNET (default 10.96),
#        LOCK (default /tmp/vmt-bench.lock), OLD_POLICY, NEW_POLICY (the split's --policy
#        of each binary, default address), VMT_RUN_DIR, VMT_GUEST_DIR as for vmt.
# Output: OUT_DIR/results.csv (one row per instance), split-NAME.json.
set -u
OUT=${1:?usage: OLD=vmt NEW=vmt $0 OUT_DIR [REPS] [POINTS]}
REPS=${2:-3}
POINTS=${3:-"runtime:64K vm:4K vm:32K"}
PREFIX=${PREFIX:-f4p}
SUBNET=${SUBNET:-10.96}
LOCK=${LOCK:-/tmp/vmt-bench.lock}
declare -A BIN=([old]=${OLD:?OLD=vmt binary} [new]=${NEW:?NEW=vmt binary})
declare -A POLICY=([old]=${OLD_POLICY:-address} [new]=${NEW_POLICY:-address})
mkdir -p "$OUT"
CSV=$OUT/results.csv
[ -e "$CSV" ] || echo "rep,binary,policy,method,chunk,build_ms,ps_ms,pageins_ps,pageins_build,unsplit_ps_ms,split_total_ms,split_downtime_ms,sub_bytes,main_chunks,kernel_chunks,free_chunks,load1" >"$CSV"

V=${BIN[new]}
NAME=""
cleanup() {
	[ -n "$NAME" ] && "$V" vm stop "$NAME" >/dev/null 2>&1
	"${BIN[new]}" hosts down --prefix "$PREFIX" >/dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 130' INT TERM
"$V" hosts up --prefix "$PREFIX" --subhosts 1 --link 1gbit --capacity 2G --subnet "$SUBNET" >/dev/null || exit 1

pageins() {
	"$V" vm show "$NAME" --json |
		python3 -c 'import json,sys; print(json.load(sys.stdin).get("pager_stats",{}).get("pageins",-1))'
}
guest_ps() {
	"$V" vm exec "$NAME" --json --timeout 240 -- "ps >/dev/null" |
		python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["exit_code"]==0; print(d["duration_ns"]/1e6)'
}
build() { # method chunk -> ms (method 1 as the paper's: whole chunks, no exact reads)
	local whole=()
	[ "$1" = runtime ] && whole=(--whole-chunks)
	"$V" procfs --vm "$NAME" --build-only --stats --fetch "$1" --chunk "$2" "${whole[@]}" 2>&1 |
		sed -n 's/.*stats: procfs snapshot: \([0-9.]*\) ms.*/\1/p'
}
FILL='i=0; while [ ! -e /run/vmt-workload.ready ] && [ $i -lt 4500 ]; do sleep 0.2; i=$((i+1)); done
mb=$(awk "/MemAvailable/ {print int(\$2/1024) - 64}" /proc/meminfo)
vmt-memcheck --daemon --state /run/mc.json --size ${mb}M --passes 1 --hold --seconds 86400 >/dev/null
i=0; while ! grep -q "\"phase\": \"hold\"" /run/mc.json && [ $i -lt 3000 ]; do sleep 0.2; i=$((i+1)); done'

n=0
for rep in $(seq "$REPS"); do
	for point in $POINTS; do
		order="old new"
		[ $(((rep + n) % 2)) -eq 0 ] && order="new old"
		for b in $order; do
			V=${BIN[$b]} m=${point%%:*} c=${point##*:} NAME=$PREFIX-b$n
			n=$((n + 1))
			"$V" vm start "$NAME" --mem 2G --procs 100 --timeout 240 --no-kaslr >/dev/null || continue
			"$V" vm exec "$NAME" --timeout 1700 -- "$FILL" >/dev/null
			guest_ps >/dev/null # the agent's path warm, as for every later ps
			ups=$(flock "$LOCK" bash -c "$(declare -f guest_ps); V=$V NAME=$NAME guest_ps")
			if ! "$V" split "$NAME" --main-mem 1G --subhosts sub1 --hosts-prefix "$PREFIX" \
				--policy "${POLICY[$b]}" --chunk 4K --json >"$OUT/split-$NAME.json"; then
				"$V" vm stop "$NAME" >/dev/null
				continue
			fi
			prev=""
			for _ in $(seq 60); do # settled: no page-in for 3 s
				s=$(pageins)
				[ "$s" = "$prev" ] && break
				prev=$s
				sleep 3
			done
			build runtime 64K >/dev/null
			p0=$(pageins)
			# shellcheck disable=SC2046
			set -- $(flock "$LOCK" bash -c "$(declare -f build pageins guest_ps)
				V=$V NAME=$NAME; b=\$(build $m $c); p=\$(pageins); ps=\$(guest_ps)
				echo \$b \$p \$ps \$(cut -d' ' -f1 /proc/loadavg)")
			bms=$1 p1=$2 pms=$3 load=$4
			p2=$(pageins)
			read -r tot down sub mainc kc fc < <(python3 -c "import json; d=json.load(open('$OUT/split-$NAME.json')); print(d['total_ms'], d['downtime_ms'], d['hosts'][0]['bytes'], d['main_chunks'], d.get('kernel_chunks', 0), d.get('free_chunks', 0))")
			echo "$rep,$b,${POLICY[$b]},$m,$c,$bms,$pms,$((p2 - p1)),$((p1 - p0)),$ups,$tot,$down,$sub,$mainc,$kc,$fc,$load" | tee -a "$CSV"
			"$V" vm stop "$NAME" >/dev/null
			NAME=""
		done
	done
done
