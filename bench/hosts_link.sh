#!/usr/bin/env bash
# hosts_link.sh - throughput across one link of `vmt hosts` (tc tbf on veth):
# nbdcopy of a region of random data to and from an nbdkit export that
# `vmt subhost start` serves on the sub-host, TLS-PSK and plain, for each
# link rate asked.  Figures only (a shared, noisy machine): never pass/fail.
#
# usage: bench/hosts_link.sh [--mb N] [--rates "1gbit 100mbit none"] [--out FILE]
# Needs root.  Makes hosts of its own prefix and removes them, pass or fail.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
vmt=${VMT_BUILD_DIR:-$repo/build}/src/vmt/vmt
mb=256
rates="1gbit 100mbit none"
out=""
while (($#)); do
	case $1 in
	--mb) mb=$2; shift 2 ;;
	--rates) rates=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	*) echo "usage: $0 [--mb N] [--rates LIST] [--out FILE]" >&2; exit 2 ;;
	esac
done

prefix=bl$$
prefix=${prefix:0:8}
tmp=$(mktemp -d /tmp/vmt-bench-link-XXXXXX)
export VMT_RUN_DIR=$tmp/run
cleanup() {
	"$vmt" hosts down --prefix "$prefix" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

head -c "${mb}M" /dev/urandom >"$tmp/data"
"$vmt" subhost key --out "$tmp/key" --user bench >/dev/null
bytes=$((mb << 20))

# seconds of one command, to the millisecond
timed() {
	local s e
	s=$(date +%s%N)
	"$@" >/dev/null
	e=$(date +%s%N)
	echo $(((e - s) / 1000000))
}
rate() { awk -v b="$bytes" -v ms="$1" 'BEGIN { printf "%.1f", b / (ms / 1000) / 1e6 }'; }

report=$(
	echo "| link | protocol | read MB/s (sub → main) | write MB/s (main → sub) |"
	echo "| --- | --- | --- | --- |"
	for r in $rates; do
		"$vmt" hosts up --prefix "$prefix" --subhosts 1 --link "$r" \
			--capacity "$((2 * mb + 64))M" >/dev/null
		tls=$("$vmt" subhost start --prefix "$prefix" --on sub1 --vm t --size "${mb}M" \
			--psk "$tmp/key" | cut -d' ' -f1)
		plain=$("$vmt" subhost start --prefix "$prefix" --on sub1 --vm p --size "${mb}M" \
			--insecure 2>/dev/null | cut -d' ' -f1)
		for u in "nbds://bench@$tls/t?tls-psk-file=$tmp/key" "nbd://$plain/p"; do
			ns=(ip netns exec "$prefix-main")
			"${ns[@]}" nbdcopy "$tmp/data" "$u" # fill it: holes would be skipped
			rd=$(timed "${ns[@]}" nbdcopy "$u" null:)
			wr=$(timed "${ns[@]}" nbdcopy "$tmp/data" "$u")
			echo "| $r | ${u%%:*} | $(rate "$rd") | $(rate "$wr") |"
		done
		"$vmt" hosts down --prefix "$prefix" >/dev/null
	done
)
header="nbdcopy of $mb MiB across one link; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%F)"
printf '%s\n\n%s\n' "$header" "$report"
if [ -n "$out" ]; then
	printf '# Link throughput (bench/hosts_link.sh)\n\n%s\n\n%s\n' "$header" "$report" >"$out"
fi
