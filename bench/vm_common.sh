# SPDX-License-Identifier: LGPL-2.1-or-later
# vm_common.sh - sourced by the benches that boot one guest $NAME with $VMT:
# the guest is stopped on every exit, and `median` reads numbers on stdin.

cleanup() {
	"$VMT" vm stop "$NAME" >/dev/null 2>&1 || true
}
trap cleanup EXIT

median() {
	sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'
}
