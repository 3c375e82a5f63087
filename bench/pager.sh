#!/usr/bin/env bash
# pager.sh - the pager's benchmark (bench_pager.c) against an nbdkit memory
# export with TLS-PSK on loopback.  Figures only, never pass/fail.
#   bench/pager.sh [BUILD_DIR] [--ram SIZE] [--samples N]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-${VMT_BUILD_DIR:-$repo/build}}
[ $# -gt 0 ] && shift
work=$(mktemp -d /tmp/bench-pager-sh-XXXXXX)
port=$((20000 + RANDOM % 20000))
cleanup() { [ -n "${kit:-}" ] && kill "$kit" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
psktool -u vmt -p "$work/psk.keys" >/dev/null
nbdkit -f --exit-with-parent -i 127.0.0.1 -p "$port" --tls=require --tls-psk="$work/psk.keys" \
	memory 1G &
kit=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
"$build/bench/bench_pager" --addr "127.0.0.1:$port" --psk "$work/psk.keys" \
	--pager "$build/src/pager/libvmt-pager.so" "$@"
