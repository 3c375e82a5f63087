#!/usr/bin/env bash
# demo.sh - set up this machine, boot the project's guest and show what vmt
# reads from its memory file: kernel, processes, modules, sockets.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=${VMT_BUILD_DIR:-$repo/build}
export VMT_GUEST_DIR=$build/guest
vmt=$build/src/vmt/vmt
name=${VMT_DEMO_VM:-vmt-demo}

"$repo/scripts/setup.sh"

trap '"$vmt" vm stop "$name" >/dev/null 2>&1 || true' EXIT
"$vmt" vm stop "$name" >/dev/null 2>&1 || true
"$vmt" vm start "$name" --procs "${VMT_DEMO_PROCS:-20}"
# Let the workload finish starting (it says so through the agent's view).
"$vmt" vm exec "$name" -- 'i=0; while [ ! -e /run/vmt-workload.ready ] && [ $i -lt 300 ]; do sleep 0.2; i=$((i+1)); done'

for cmd in info ps lsmod netstat; do
	echo
	echo "\$ vmt $cmd --vm $name"
	"$vmt" "$cmd" --vm "$name" --stats
done
