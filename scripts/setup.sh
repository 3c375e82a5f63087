#!/usr/bin/env bash
# setup.sh - make this machine ready: Debian packages, build, guest image.
# Idempotent: a second run only rebuilds what changed.  Needs root (apt-get).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=${VMT_BUILD_DIR:-$repo/build}

# Everything the project needs, from Debian's archive only.
packages=(
	build-essential meson ninja-build pkg-config clang-format
	libbpf-dev libjson-c-dev libcmocka-dev
	liblz4-dev libzstd-dev liblzma-dev zlib1g-dev
	busybox-static cpio qemu-system-x86 qemu-utils
	python3-pytest iproute2 procps kmod
	nbdkit libnbd-dev libnbd-bin gnutls-bin iputils-ping
	fuse3 libfuse3-dev psmisc net-tools
	lsof chkrootkit unhide libseccomp-dev
	gnuplot-nox
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
if ((${#missing[@]})); then
	echo "setup: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f "$build/build.ninja" ]; then
	# Warnings are errors here: the tree is kept -Wall -Wextra clean.
	meson setup --werror "$build" "$repo" >/dev/null
fi
ninja -C "$build" >/dev/null
echo "setup: built $build/src/vmt/vmt"

"$repo/guest/build.sh" --bin "$build" --out "$build/guest"

# The other kernels that tests/system/test_kernels.py boots: the 6.12 cloud kernel on every
# run; with VMT_TEST_KERNELS=all (or a list) those named (the test builds any still missing).
case ${VMT_TEST_KERNELS:-} in
"") flavours=(6.12-cloud) ;;
all) flavours=(6.1-generic 6.12-cloud 6.12-generic) ;;
*) IFS=, read -ra flavours <<<"$VMT_TEST_KERNELS" ;;
esac
for f in "${flavours[@]}"; do
	[[ $f == 6.1-cloud ]] && continue
	"$repo/guest/build.sh" --flavour "$f" --bin "$build" --out "$build/guest-$f"
done
