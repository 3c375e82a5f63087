#!/bin/bash
# bench/bench_split_policy.sh - how each placement policy of `vmt split` does on
# the guest's workload: page-ins after the split (pager STATS), per policy.
# A 512 MiB guest runs its workload (--procs) plus, with --mc SIZE, an in-guest
# memory checker that keeps rewriting SIZE bytes (a hot working set); it is
# split to --main (default 96M) on two sub-hosts, and the pager's page-ins are
# read 10 s, 60 s and 120 s later.
#
# usage: bench/bench_split_policy.sh [--main 96M] [--mc 40M] [--procs 50]
# Needs root; uses $VMT_BUILD_DIR (default build), $VMT_GUEST_DIR.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
V=${VMT_BUILD_DIR:-$REPO/build}/src/vmt/vmt
MAIN=96M MC=40M PROCS=50
while [ $# -gt 0 ]; do
	case $1 in
	--main) MAIN=$2; shift 2 ;;
	--mc) MC=$2; shift 2 ;;
	--procs) PROCS=$2; shift 2 ;;
	*) echo "usage: $0 [--main 96M] [--mc 40M|0] [--procs 50]" >&2; exit 2 ;;
	esac
done
TAG=p$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
export VMT_RUN_DIR=${VMT_RUN_DIR:-$(mktemp -d /tmp/vmt-bench-policy-XXXXXX)}
cleanup() {
	"$V" vm stop "$TAG-a" >/dev/null 2>&1 || true
	"$V" vm stop "$TAG-k" >/dev/null 2>&1 || true
	"$V" hosts down --prefix "$TAG" >/dev/null 2>&1 || true
}
trap cleanup EXIT
"$V" hosts up --prefix "$TAG" --subhosts 2 --capacity 1G >/dev/null
stats() {
	"$V" vm show "$1" --json | python3 -c 'import json,sys; d=json.load(sys.stdin)["pager_stats"]
print(d["pageins"], d["faults"], d["pageouts"])'
}
echo "policy         core  recent  main  sub  zero | page-ins after 10 s / 60 s / 120 s (faults, page-outs at 120 s)"
for pol in address kernel+recent; do
	VM=$TAG-a
	[ "$pol" = address ] || VM=$TAG-k
	"$V" vm start "$VM" --mem 512M --procs "$PROCS" --timeout 300 >/dev/null
	"$V" vm exec "$VM" -- 'i=0; while [ ! -e /run/vmt-workload.ready ] && [ $i -lt 600 ]; do sleep 0.2; i=$((i+1)); done'
	if [ "$MC" != 0 ]; then
		"$V" vm exec "$VM" -- "vmt-memcheck --daemon --state /run/mc.json --size $MC --seconds 900 --interval 200 >/dev/null"
	fi
	sleep 5
	J=$("$V" split "$VM" --main-mem "$MAIN" --subhosts sub1,sub2 --hosts-prefix "$TAG" --policy "$pol" --json)
	sleep 10; s10=$(stats "$VM")
	sleep 50; s60=$(stats "$VM")
	sleep 60; s120=$(stats "$VM")
	python3 - "$pol" "$J" "$s10" "$s60" "$s120" <<'PY'
import json, sys
pol, j = sys.argv[1], json.loads(sys.argv[2])
s = [list(map(int, a.split())) for a in sys.argv[3:6]]
print(f"{pol:14} {j['core_chunks']:5} {j['recent_chunks']:7} {j['main_chunks']:5} "
      f"{sum(h['chunks'] for h in j['hosts']):4} {j['zero_chunks']:5} | "
      f"{s[0][0]} / {s[1][0]} / {s[2][0]} ({s[2][1]} faults, {s[2][2]} page-outs)")
PY
	"$V" vm stop "$VM" >/dev/null
done
