#!/bin/sh
# Build the libFuzzer harnesses with clang (see README.md).  Out-of-tree:
# objects and binaries go to $OUT (default /tmp/vmt-fuzz).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
OUT=${OUT:-/tmp/vmt-fuzz}
CC=${CC:-clang}
SAN=${SAN:--fsanitize=address,undefined -fno-sanitize-recover=undefined}
CFLAGS="-std=gnu17 -g -O1 -D_GNU_SOURCE -DVMT_KFIND_WORK=(1ull<<22) -fno-omit-frame-pointer $SAN -I$root/include -I$root/src/lib -I$root/src"
LIBS="-lbpf -llz4 -lzstd -llzma -lz -ljson-c -lnbd -lpthread"
mkdir -p "$OUT/obj"
# Every library part but vm/ (launcher, QMP: not reached from these inputs).
objs=""
for c in "$root"/src/lib/core/*.c "$root"/src/lib/profile/*.c "$root"/src/lib/arch/*.c \
	 "$root"/src/lib/mem/*.c "$root"/src/lib/memsrc/*.c "$root"/src/lib/guest/*.c \
	 "$root"/src/lib/linux/*.c "$root"/src/pagetable/*.c "$root"/src/subhost/*.c; do
	o="$OUT/obj/$(basename "$(dirname "$c")")_$(basename "$c" .c).o"
	$CC $CFLAGS -fsanitize=fuzzer-no-link -c "$c" -o "$o"
	objs="$objs $o"
done
harnesses=${*:-"fuzz_kallsyms fuzz_vmlinuz fuzz_elf_btf fuzz_cache fuzz_walkers fuzz_kfind"}
for h in $harnesses; do
	extra=""; [ "$h" = fuzz_walkers ] && extra="-lcmocka -Wno-unused-function"
	$CC $CFLAGS -fsanitize=fuzzer "$here/$h.c" $objs $LIBS $extra -o "$OUT/$h"
	echo "built $OUT/$h"
done
