#!/bin/bash
# One 2-sub-host instance like fig4's: CPU of the sub-hosts' nbdkit and of QEMU (the pager) during a method-2 construction at 2M.
set -u
# Run as: VMT=/tmp/build-C2/src/vmt/vmt VMT_GUEST_DIR=/work/main/build/guest probe-hosts.sh (hosts prefix fc, subnet 10.82)
export VMT_RUN_DIR=${VMT_RUN_DIR:-/tmp/run-C} XDG_CACHE_HOME=${XDG_CACHE_HOME:-/tmp/cache-C}
V=${VMT:-vmt}; VM=fc-p-0; CH=${CH:-2M}
cleanup() { $V vm stop $VM >/dev/null 2>&1; $V hosts down --prefix fc >/dev/null 2>&1; }
trap cleanup EXIT
$V hosts up --prefix fc --subhosts 2 --link 1gbit --capacity 2G --subnet 10.82 >/dev/null || exit 1
$V vm start $VM --mem 2G --procs 100 --timeout 240 --no-kaslr >/dev/null || exit 1
$V vm exec $VM --timeout 1700 -- "i=0; while [ ! -e /run/vmt-workload.ready ] && [ \$i -lt 4500 ]; do sleep 0.2; i=\$((i+1)); done; mb=\$(awk '/MemAvailable/ {print int(\$2/1024) - 64}' /proc/meminfo); vmt-memcheck --daemon --state /run/vmt-fill.json --size \${mb}M --passes 1 --hold --seconds 86400 >/dev/null || exit 4; i=0; while ! grep -q '\"phase\": \"hold\"' /run/vmt-fill.json && [ \$i -lt 3000 ]; do sleep 0.2; i=\$((i+1)); done; echo filled \$mb" || exit 1
$V split $VM --main-mem 1G --subhosts sub1,sub2 --hosts-prefix fc --policy address --chunk 4K --json > /dev/null || exit 1
sleep 20
QPID=$($V vm show $VM --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["qemu_pid"])')
NB=$(pgrep -f "nbdkit.*fc-p-0" | tr '\n' ' ')
cpu() { for p in $QPID $NB; do awk -v p=$p '{printf "%s:%d ", p, ($14+$15)*10}' /proc/$p/stat; done; echo; }
st() { $V vm show $VM --json | python3 -c 'import json,sys; s=json.load(sys.stdin)["pager_stats"]; print(json.dumps({k:s[k] for k in ("pageins","pagein_cmds","pagein_batches","pagein_reads","pagein_net_us","pagein_install_us","pagein_cmd_us")}), [h["chunks"] for h in s["hosts"]])'; }
echo "qemu $QPID nbdkit $NB (cpu ms, utime+stime)"
cpu; $V procfs --vm $VM --build-only --stats --fetch runtime --chunk 4K 2>&1 | grep -E "snapshot|sub-host"; cpu
st; cpu; $V procfs --vm $VM --build-only --stats --fetch vm --chunk $CH 2>&1 | grep -E "snapshot|split:|sub-host"; cpu; st
