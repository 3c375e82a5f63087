#!/usr/bin/env bash
# nbd.sh - the sub-host client across an emulated gigabit link.
#
#   bench/nbd.sh [--count N] [--region MB] [--out FILE]      (as root)
#
# Makes two network namespaces of its own (bnbd<pid>s, bnbd<pid>c) joined
# by a veth shaped to 1 Gbit/s with tbf on both ends (no netem here, so no
# added delay: the round trip is the machine's own), runs nbdkit (memory
# plugin) in one, TLS-PSK on port 10809 and plain NBD on 10810, and
# build/bench/bench_nbd against each from the other.  Prints the figures
# beside the link's limit; --out also writes them to FILE (Markdown).
# Everything it made is removed on exit, pass or fail.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=${VMT_BUILD_DIR:-$repo/build}
bench=$build/bench/bench_nbd
count=2000
region=256
out=
while (($#)); do
	case $1 in
	--count) count=$2; shift 2 ;;
	--region) region=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	*) echo "usage: $0 [--count N] [--region MB] [--out FILE]" >&2; exit 2 ;;
	esac
done
[[ -x $bench ]] || { echo "nbd.sh: $bench not built (VMT_BUILD_DIR?)" >&2; exit 1; }
[[ $(id -u) == 0 ]] || { echo "nbd.sh: needs root (network namespaces)" >&2; exit 1; }
command -v nbdkit >/dev/null || { echo "nbd.sh: nbdkit not installed" >&2; exit 1; }

tag=bnbd$$
ns_s=${tag}s ns_c=${tag}c
ip_s=10.213.7.1 ip_c=10.213.7.2
work=$(mktemp -d /tmp/bnbd.XXXXXX)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	ip netns del "$ns_s" 2>/dev/null || true
	ip netns del "$ns_c" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$ns_s"
ip netns add "$ns_c"
ip link add "${tag}vs" netns "$ns_s" type veth peer name "${tag}vc" netns "$ns_c"
ip -n "$ns_s" addr add "$ip_s/24" dev "${tag}vs"
ip -n "$ns_c" addr add "$ip_c/24" dev "${tag}vc"
for pair in "$ns_s ${tag}vs" "$ns_c ${tag}vc"; do
	set -- $pair
	ip -n "$1" link set lo up
	ip -n "$1" link set "$2" up
	# burst >= rate/HZ and above a GSO segment, or tbf drops big segments
	tc -n "$1" qdisc add dev "$2" root tbf rate 1gbit burst 512kb latency 20ms
done

(umask 077 && printf 'vmt:%s\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
	>"$work/key.psk")
start_nbdkit() { # port pidfile [tls args]
	local port=$1 pidfile=$2
	shift 2
	ip netns exec "$ns_s" nbdkit -f --exit-with-parent -i "$ip_s" -p "$port" -P "$pidfile" \
		"$@" memory size=1G 2>>"$work/nbdkit.log" &
	pids+=($!)
	for _ in $(seq 100); do
		[[ -e $pidfile ]] && return 0
		sleep 0.05
	done
	echo "nbd.sh: nbdkit on port $port did not start:" >&2
	cat "$work/nbdkit.log" >&2
	exit 1
}
start_nbdkit 10809 "$work/tls.pid" --tls=require --tls-psk="$work/key.psk"
start_nbdkit 10810 "$work/plain.pid"

rtt=$(ip netns exec "$ns_c" ping -c 20 -i 0.05 -q "$ip_s" | sed -n 's|.*= [0-9.]*/\([0-9.]*\)/.*|\1|p')
{
	echo "# Sub-host client over an emulated 1 Gbit/s link"
	echo
	echo "$(date -u '+%F %H:%M UTC'), $(nproc) CPUs ($(sed -n 's/^model name\t*: //p' /proc/cpuinfo | head -1)), kernel $(uname -r), shared machine (load average $(cut -d' ' -f1-3 /proc/loadavg) at start)"
	echo "link: veth between two namespaces, tbf 1gbit on both ends = 125 MB/s raw (about 118 MB/s of TCP payload at MTU 1500); ping RTT avg ${rtt:-?} ms (no added delay)"
	echo "server: nbdkit $(nbdkit --version | awk '{print $2}') memory plugin; client: libnbd $(pkg-config --modversion libnbd 2>/dev/null || echo '?') through src/subhost"
	for mode in tls plain; do
		echo
		if [[ $mode == tls ]]; then
			echo "## TLS-PSK (the default)"
			args=(--addr "$ip_s:10809" --psk "$work/key.psk")
		else
			echo "## plain NBD (--insecure, comparison only)"
			args=(--addr "$ip_s:10810" --insecure)
		fi
		echo
		echo '```'
		ip netns exec "$ns_c" "$bench" "${args[@]}" --count "$count" --region "$region"
		echo '```'
	done
} | if [[ -n $out ]]; then tee "$out"; else cat; fi
