#!/usr/bin/env bash
# test.sh - set up this machine (packages, build, guest) and run every test:
# unit tests (no VM) through meson, system tests (real guests under QEMU)
# through pytest.  Exit status is the suite's.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=${VMT_BUILD_DIR:-$repo/build}
export VMT_BUILD_DIR=$build VMT_GUEST_DIR=$build/guest
# Unit tests that need real struct layouts must not skip here: name the kernel.
export VMT_TEST_KERNEL=$build/guest/vmlinuz

"$repo/scripts/setup.sh"

echo "== format (.clang-format)"
find "$repo"/{include,src,tests,guest,bench} -name '*.[ch]' -print0 | xargs -0 clang-format --dry-run --Werror

echo "== unit tests"
meson test -C "$build" --suite unit --print-errorlogs

echo "== system tests (real guests under QEMU/TCG)"
cd "$repo/tests/system"
/usr/bin/python3 -m pytest -v -p no:cacheprovider --durations=25 "$@" .
