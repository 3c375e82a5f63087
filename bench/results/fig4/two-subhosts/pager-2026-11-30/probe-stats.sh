#!/bin/bash
# One 2-sub-host instance like vmt bench fig4's; method 1 per-host stats, method 2 at 2M per-host page-ins.
set -u
# Run as: VMT=/tmp/build-C2/src/vmt/vmt VMT_GUEST_DIR=/work/main/build/guest probe-stats.sh (hosts prefix fc, subnet 10.82)
export VMT_RUN_DIR=${VMT_RUN_DIR:-/tmp/run-C} XDG_CACHE_HOME=${XDG_CACHE_HOME:-/tmp/cache-C}
V=${VMT:-vmt}; VM=fc-p-0; CH=${CH:-2M}
cleanup() { $V vm stop $VM >/dev/null 2>&1; $V hosts down --prefix fc >/dev/null 2>&1; }
trap cleanup EXIT
$V hosts up --prefix fc --subhosts 2 --link 1gbit --capacity 2G --subnet 10.82 >/dev/null || exit 1
$V vm start $VM --mem 2G --procs 100 --timeout 240 --no-kaslr >/dev/null || exit 1
$V vm exec $VM --timeout 1700 -- "i=0; while [ ! -e /run/vmt-workload.ready ] && [ \$i -lt 4500 ]; do sleep 0.2; i=\$((i+1)); done; mb=\$(awk '/MemAvailable/ {print int(\$2/1024) - 64}' /proc/meminfo); vmt-memcheck --daemon --state /run/vmt-fill.json --size \${mb}M --passes 1 --hold --seconds 86400 >/dev/null || exit 4; i=0; while ! grep -q '\"phase\": \"hold\"' /run/vmt-fill.json && [ \$i -lt 3000 ]; do sleep 0.2; i=\$((i+1)); done; echo filled \$mb" || exit 1
$V split $VM --main-mem 1G --subhosts sub1,sub2 --hosts-prefix fc --policy address --chunk 4K --json > /tmp/C-probe-split.json || exit 1
sleep 20
st() { $V vm show $VM --json | python3 -c 'import json,sys; s=json.load(sys.stdin)["pager_stats"]; print(json.dumps({k:s[k] for k in ("pageins","pageouts","bytes_in","pagein_cmds","pagein_batches","pagein_reads","pagein_net_us","pagein_install_us","pagein_cmd_us")}), [h["chunks"] for h in s["hosts"]])'; }
for c in 4K 2M 4K 2M; do
  echo "== method 1 at $c"; $V procfs --vm $VM --build-only --stats --fetch runtime --chunk $c 2>&1 | grep -E "snapshot|split:|sub-host"
done
echo "== before method 2 at $CH"; st
$V procfs --vm $VM --build-only --stats --fetch vm --chunk $CH 2>&1 | grep -E "snapshot|split:|sub-host"
echo "== after"; st
