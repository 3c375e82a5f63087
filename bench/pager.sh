#!/usr/bin/env bash
# pager.sh - the pager's benchmark (bench_pager.c) against an nbdkit memory
# export with TLS-PSK.  Figures only, never pass/fail.
#   bench/pager.sh [--build DIR] [--link RATE] [--ram SIZE] [--samples N]
# Without --link the server is on 127.0.0.1.  With --link (e.g. 1gbit) it
# runs in a network namespace of its own, joined by a veth pair shaped with
# tc tbf at RATE on both ends (the paper's Gigabit Ethernet); the namespace
# and the veth are removed at the end.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${VMT_BUILD_DIR:-$repo/build}
link=
args=()
while (($#)); do
	case $1 in
	--build) build=$2; shift 2 ;;
	--link) link=$2; shift 2 ;;
	*) args+=("$1"); shift ;;
	esac
done
work=$(mktemp -d /tmp/bench-pager-sh-XXXXXX)
port=$((20000 + RANDOM % 20000))
tag=vpb$((RANDOM % 10000))
net=$((RANDOM % 200 + 20))
ns=
# Every step may find nothing to undo; none may stop the ones after it (set -e).
cleanup() {
	if [ -n "${kit:-}" ]; then kill "$kit" 2>/dev/null || true; wait "$kit" 2>/dev/null || true; fi
	if [ -n "$ns" ]; then ip netns del "$ns" 2>/dev/null || true; fi
	ip link del "${tag}h" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
psktool -u vmt -p "$work/psk.keys" >/dev/null
addr=127.0.0.1
run=()
if [ -n "$link" ]; then
	ns=$tag
	ip netns add "$ns"
	ip link add "${tag}h" type veth peer name "${tag}n"
	ip link set "${tag}n" netns "$ns"
	ip addr add "10.251.$net.1/30" dev "${tag}h"
	ip link set "${tag}h" up
	ip netns exec "$ns" ip addr add "10.251.$net.2/30" dev "${tag}n"
	ip netns exec "$ns" ip link set "${tag}n" up
	ip netns exec "$ns" ip link set lo up
	tc qdisc add dev "${tag}h" root tbf rate "$link" burst 256kb latency 20ms
	ip netns exec "$ns" tc qdisc add dev "${tag}n" root tbf rate "$link" burst 256kb latency 20ms
	addr=10.251.$net.2
	run=(ip netns exec "$ns")
	echo "link: veth + tbf $link, server in namespace $ns at $addr"
fi
"${run[@]}" nbdkit -f --exit-with-parent -i "$addr" -p "$port" --tls=require \
	--tls-psk="$work/psk.keys" memory 1G &
kit=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/$addr/$port") 2>/dev/null && break; sleep 0.1; done
"$build/bench/bench_pager" --addr "$addr:$port" --psk "$work/psk.keys" \
	--pager "$build/src/pager/libvmt-pager.so" "${args[@]}"
