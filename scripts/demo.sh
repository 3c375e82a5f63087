#!/usr/bin/env bash
# demo.sh - set up this machine, boot the project's guest and show what vmt
# reads from its memory file: kernel, processes, modules, sockets.  Then make
# a main host and two sub-hosts (network namespaces, 1 Gbit links), split the
# running guest across them, and read it again with both fetch methods.
# Everything it makes is removed at the end.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=${VMT_BUILD_DIR:-$repo/build}
export VMT_GUEST_DIR=$build/guest
vmt=$build/src/vmt/vmt
name=${VMT_DEMO_VM:-vmt-demo}
hosts=${VMT_DEMO_HOSTS:-vdemo}

"$repo/scripts/setup.sh"

cleanup() {
	"$vmt" vm stop "$name" >/dev/null 2>&1 || true
	"$vmt" hosts down --prefix "$hosts" >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup
"$vmt" vm start "$name" --procs "${VMT_DEMO_PROCS:-20}"
# Let the workload finish starting (it says so through the agent's view).
"$vmt" vm exec "$name" -- 'i=0; while [ ! -e /run/vmt-workload.ready ] && [ $i -lt 300 ]; do sleep 0.2; i=$((i+1)); done'

for cmd in info ps lsmod netstat; do
	echo
	echo "\$ vmt $cmd --vm $name"
	"$vmt" "$cmd" --vm "$name" --stats
done

show() {
	echo
	echo "\$ vmt $*"
	"$vmt" "$@"
}
show hosts up --prefix "$hosts" --subhosts 2 --link 1gbit
show split "$name" --main-mem 128M --subhosts sub1,sub2 --hosts-prefix "$hosts"
# Push some of the kernel's data out: the guest writes 200M, over the 128M cap.
"$vmt" vm exec "$name" -- 'dd if=/dev/urandom of=/run/fill bs=1M count=200 2>/dev/null; rm /run/fill'
show ps --vm "$name" --fetch runtime --chunk 64K --stats
show lsmod --vm "$name" --fetch vm --chunk 64K --stats
show vm show "$name"
