#!/bin/bash
# bench/bench_split.sh - split migration of a 2 GiB guest: 1 GiB stays on the
# main host, the rest goes over two sub-hosts on 1 Gbit/s tbf links (vmt hosts
# up).  Prints, from the same run, the split's migration time (start -> the
# guest runs on its new hosts) and the whole command's time beside their limit
# (bytes on the busiest link / link rate) and the downtime.  The guest's
# memory is filled first by vmt-memcheck (about all of MemAvailable), which
# then verifies it after the split.
#
# usage: bench/bench_split.sh [--mem 2G] [--main 1G] [--policy address|kernel+recent]
#                             [--chunk 64K] [--link 1gbit] [--insecure] [--live] [--out FILE]
#                             [--subnet A.B] [--lock FILE]
# --lock FILE: hold flock(FILE) for the split alone (the timed part), not for the
# guest's boot and fill.
# Needs root; uses $VMT_BUILD_DIR (default build), $VMT_GUEST_DIR, $VMT_BENCH_TAG
# (one letter: the hosts prefix and VM name start with it; default b).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${VMT_BUILD_DIR:-$REPO/build}
V=$BUILD/src/vmt/vmt
MEM=2G MAIN=1G POLICY=address CHUNK=64K LINK=1gbit OUT= INSECURE= LIVE= SUBNET=10.77 LOCK=
while [ $# -gt 0 ]; do
	case $1 in
	--mem) MEM=$2; shift 2 ;;
	--main) MAIN=$2; shift 2 ;;
	--policy) POLICY=$2; shift 2 ;;
	--chunk) CHUNK=$2; shift 2 ;;
	--link) LINK=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--subnet) SUBNET=$2; shift 2 ;;
	--lock) LOCK=$2; shift 2 ;;
	--insecure) INSECURE=--insecure; shift ;;
	--live) LIVE=--live; shift ;;
	*) echo "usage: $0 [--mem 2G] [--main 1G] [--policy P] [--chunk 64K] [--link 1gbit] [--out F]" >&2; exit 2 ;;
	esac
done
TAG=${VMT_BENCH_TAG:-b}$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
export VMT_RUN_DIR=${VMT_RUN_DIR:-$(mktemp -d /tmp/vmt-bench-split-XXXXXX)}
VM=$TAG-split
cleanup() {
	"$V" vm stop "$VM" >/dev/null 2>&1 || true
	"$V" hosts down --prefix "$TAG" >/dev/null 2>&1 || true
}
trap cleanup EXIT

"$V" hosts up --prefix "$TAG" --subhosts 2 --link "$LINK" --subnet "$SUBNET" --capacity 4G >/dev/null
"$V" vm start "$VM" --mem "$MEM" --procs 10 --timeout 300 >/dev/null
# Fill (almost) all of the guest's free memory with checked data.
"$V" vm exec "$VM" --timeout 600 -- \
	'mb=$(awk "/MemAvailable/{print int(\$2/1024)-64}" /proc/meminfo);
	 vmt-memcheck --daemon --state /run/mc.json --size ${mb}M --seconds 3600 --interval 2000 >/dev/null;
	 echo filled ${mb} MiB' >&2
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
J=$(${LOCK:+flock "$LOCK"} "$V" split "$VM" --main-mem "$MAIN" --subhosts sub1,sub2 --hosts-prefix "$TAG" \
	--policy "$POLICY" --chunk "$CHUNK" $INSECURE $LIVE --json)
sleep 5
CHECK=$("$V" vm exec "$VM" --timeout 300 -- 'vmt-memcheck --status /run/mc.json' || true)
RATE=$("$V" hosts show --prefix "$TAG" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["subhosts"][0]["rate_main"])')
python3 - "$J" "$LINK" "$RATE" "$CHECK" "${INSECURE:-TLS-PSK}" "$LOAD" <<'PY' | tee ${OUT:+"$OUT"}
import json, re, sys
j, link, rate, check, sec = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
load = sys.argv[6]
m = re.fullmatch(r"(\d+)([kmg]?)bit", link.lower())
bps = int(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}[m.group(2)] / 8
busiest = max(h["bytes"] for h in j["hosts"])
limit_ms = busiest / bps * 1000 or float("nan")
mib = 1 << 20
print(f"split of a {j['ram_bytes'] / mib:.0f} MiB guest, policy {j['policy']}, "
      f"chunk {j['chunk_bytes'] >> 10} KiB, links {link} (tc says {rate}), {sec.lstrip('-')}, "
      f"load average before the split {load}")
print(f"  main host {j['main_chunks'] * j['chunk_bytes'] / mib:.0f} MiB, " +
      ", ".join(f"{h['name']} {h['bytes'] / mib:.0f} MiB" for h in j["hosts"]) +
      f", zero {j['zero_chunks'] * j['chunk_bytes'] / mib:.0f} MiB")
print(f"  limit (busiest link {busiest / mib:.0f} MiB / {link}): {limit_ms / 1000:.2f} s")
mig = j.get("migrate_ms") or j["total_ms"]
print(f"  migration (start -> the guest runs on its new hosts) {mig / 1000:.2f} s = "
      f"{mig / limit_ms:.2f} x limit; command {j['total_ms'] / 1000:.2f} s = "
      f"{j['total_ms'] / limit_ms:.2f} x limit; "
      f"copy {j['copy_ms'] / 1000:.2f} s = {j['copy_ms'] / limit_ms:.2f} x limit; "
      f"downtime {j['downtime_ms'] / 1000:.2f} s")
print(f"  phases: prepare {j.get('prepare_ms', '?')} ms (before the stop), save {j['save_ms']} ms, "
      f"place {j['place_ms']} ms (core {j.get('core_ms', '?')}, zero scan {j.get('zero_ms', '?')}), "
      f"main file {j['main_ms']} ms, " + ", ".join(f"{h['name']} {h['send_ms']} ms" for h in j["hosts"]) +
      f", destination {j['dest_ms']} ms (its QMP {j.get('dest_qmp_ms', '?')}), finish {j.get('finish_ms', '?')} ms "
      f"after the cont (agent answered {j.get('agent_ms', '?')}, source gone {j.get('gone_ms', '?')}, "
      f"its pages freed {j.get('release_ms', '?')})")
if j.get("precopy_ms"):
    print(f"  --live: pre-copy {j['precopy_ms'] / 1000:.2f} s while the VM ran, "
          f"then {j['dirty_chunks']} changed chunks copied again in the downtime")
print(f"  guest's memory checker after the split: {check.strip()}")
PY
