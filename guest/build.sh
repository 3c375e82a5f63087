#!/usr/bin/env bash
# Builds the VMemTrans test guest (see guest/README.md):
#   <out>/vmlinuz, <out>/kernel-release, <out>/config   a Debian 12 kernel (--flavour; default
#                                                       the current 6.1 cloud kernel)
#   <out>/initramfs.cpio.gz                             busybox, vmt-agent, vmt-workload,
#                                                       vmt-memcheck, modules, /init
# The kernel package is downloaded into <cache>/kernel/ and unpacked there, never installed.
# Idempotent: when nothing changed it only resolves the kernel package and returns.
set -euo pipefail

usage() {
	cat <<EOF
usage: $0 [--flavour F] [--cache DIR] [--out DIR] [--bin DIR]
  --flavour F  the kernel: 6.1-cloud (default), 6.1-generic, 6.12-cloud, 6.12-generic
               (the package that linux-image-cloud-amd64, linux-image-amd64,
               linux-image-6.12-cloud-amd64 or linux-image-6.12-amd64 depends on now)
  --cache DIR  downloads and unpacked kernel    (default: \$VMT_CACHE or <repo>/cache)
  --out DIR    where the guest image is written (default for 6.1-cloud: \$VMT_GUEST_DIR or
               <repo>/build/guest; for another flavour: <repo>/build/guest-<flavour>)
  --bin DIR    meson build dir with guest/vmt-agent, guest/vmt-workload, guest/vmt-memcheck
               (default: \$VMT_BUILD_DIR or <repo>/build)
EOF
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
cache=${VMT_CACHE:-$repo/cache}
out=""
flavour=6.1-cloud
bin=${VMT_BUILD_DIR:-$repo/build}

# Modules that load in a bare guest without hardware; dependencies are added (and ordered) below.
MODULES=(dummy af_key tcp_diag udp_diag unix_diag)
PATH=$PATH:/usr/sbin:/sbin

while (($#)); do
	case $1 in
	--flavour | --flavor) flavour=${2:?--flavour needs a name}; shift 2 ;;
	--cache) cache=${2:?--cache needs a directory}; shift 2 ;;
	--out) out=${2:?--out needs a directory}; shift 2 ;;
	--bin) bin=${2:?--bin needs a directory}; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done

log() { echo "guest/build.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

# The metapackage whose dependency is the kernel, and the offline fallback's file pattern.
case $flavour in
6.1-cloud) META_PKG=linux-image-cloud-amd64 deb_glob='linux-image-6.1.*-cloud-amd64_*.deb' ;;
6.1-generic) META_PKG=linux-image-amd64 deb_glob='linux-image-6.1.*-[0-9]-amd64_*.deb' ;;
6.12-cloud) META_PKG=linux-image-6.12-cloud-amd64 deb_glob='linux-image-6.12.*-cloud-amd64_*.deb' ;;
6.12-generic) META_PKG=linux-image-6.12-amd64 deb_glob='linux-image-6.12.*+deb12-amd64_*.deb' ;;
*) usage >&2; die "unknown flavour '$flavour'" ;;
esac
if [[ -z $out ]]; then
	if [[ $flavour == 6.1-cloud ]]; then
		out=${VMT_GUEST_DIR:-$repo/build/guest}
	else
		out=$repo/build/guest-$flavour
	fi
fi

for tool in apt-cache apt-get dpkg-deb modinfo cpio gzip readelf sha256sum flock; do
	command -v "$tool" >/dev/null || die "$tool not found"
done
[[ -x /bin/busybox ]] || die "/bin/busybox missing (apt-get install busybox-static)"

umask 022
mkdir -p "$cache/kernel" "$out"
cache=$(cd "$cache" && pwd)
out=$(cd "$out" && pwd)
# Concurrent runs (parallel tests) wait for each other instead of sharing half-written files.
exec 8>"$cache/kernel/.lock" 9>"$out/.lock"
flock 8
flock 9

# ---- kernel: the package the metapackage depends on now, downloaded once ----

kernel_deb() {
	local pkg ver deb tmp
	pkg=$(apt-cache depends "$META_PKG" 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }') || true
	ver=""
	if [[ -n $pkg ]]; then
		ver=$(apt-cache policy "$pkg" | awk '$1 == "Candidate:" { print $2; exit }')
	fi
	if [[ -z $pkg || -z $ver || $ver == "(none)" ]]; then
		# Offline: fall back to what an earlier run downloaded, if it is unambiguous.
		local found
		# shellcheck disable=SC2206 # the pattern is meant to expand
		found=("$cache"/kernel/$deb_glob)
		[[ ${#found[@]} -eq 1 && -f ${found[0]} ]] ||
			die "cannot resolve $META_PKG (run apt-get update)"
		log "warning: $META_PKG not resolvable, using cached ${found[0]##*/}"
		echo "${found[0]}"
		return
	fi
	deb="$cache/kernel/${pkg}_${ver//:/%3a}_amd64.deb"
	if [[ ! -f $deb ]]; then
		log "downloading $pkg $ver"
		tmp=$(mktemp -d "$cache/kernel/download.XXXXXX")
		# apt drops privileges to _apt for downloads: let it write into the directory.
		if [[ $(id -u) -eq 0 ]] && id _apt >/dev/null 2>&1; then
			chown _apt "$tmp"
		fi
		(cd "$tmp" && apt-get download -q "$pkg=$ver" >&2) || { rm -rf "$tmp"; die "download $pkg failed"; }
		mv "$tmp"/"${pkg}"_*.deb "$deb"
		rm -rf "$tmp"
	fi
	echo "$deb"
}

deb=$(kernel_deb)
kdir=${deb%.deb}
if [[ ! -f $kdir/.unpacked ]]; then
	log "unpacking ${deb##*/}"
	rm -rf "$kdir" "$kdir.tmp"
	dpkg-deb -x "$deb" "$kdir.tmp"
	touch "$kdir.tmp/.unpacked"
	mv "$kdir.tmp" "$kdir"
fi
# Newer packages (merged /usr) put the modules under usr/lib/modules.
shopt -s nullglob
releases=("$kdir"/lib/modules/* "$kdir"/usr/lib/modules/*)
shopt -u nullglob
[[ ${#releases[@]} -eq 1 && -d ${releases[0]} ]] || die "expected one lib/modules/<release> in $kdir"
rel=${releases[0]##*/}
moddir=${releases[0]}
[[ -f $kdir/boot/vmlinuz-$rel ]] || die "no boot/vmlinuz-$rel in ${deb##*/}"

# ---- guest programs from the meson build dir ----

if [[ -f $bin/build.ninja ]] && command -v ninja >/dev/null; then
	ninja -C "$bin" guest/vmt-agent guest/vmt-workload guest/vmt-memcheck >/dev/null ||
		log "warning: ninja failed, using the existing binaries"
fi
for prog in vmt-agent vmt-workload vmt-memcheck; do
	[[ -x $bin/guest/$prog ]] ||
		die "$bin/guest/$prog missing: run 'meson setup build && ninja -C build' (or pass --bin)"
	if LC_ALL=C readelf -lW "$bin/guest/$prog" | grep -q 'program interpreter'; then
		die "$bin/guest/$prog is not statically linked"
	fi
done

# ---- modules: the chosen ones plus their dependencies, dependencies first ----
# The packages carry no modules.dep (depmod writes it on install); each module's "depends"
# field (modinfo) is what depmod puts there, so the order is computed from that, per kernel.

declare -A ko_path=() seen=()
while IFS= read -r -d '' f; do
	name=${f##*/}
	name=${name%%.ko*}
	ko_path[${name//-/_}]=$f
done < <(find "$moddir/kernel" \( -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' \) -print0)

mod_order=()
add_module() { # name depth
	local name=${1//-/_} depth=$2 deps dep
	[[ -z ${seen[$name]:-} ]] || return 0
	((depth < 16)) || die "module dependency chain too deep at $name"
	if [[ -z ${ko_path[$name]:-} ]]; then
		# Built into this kernel: nothing to load (it is then not in lsmod either).
		grep -qE "/${name//_/[-_]}\.ko\$" "$moddir/modules.builtin" 2>/dev/null &&
			{ log "$name is built into $rel"; seen[$name]=1; return 0; }
		die "module $name not in $META_PKG ($rel)"
	fi
	seen[$name]=1
	deps=$(modinfo -F depends "${ko_path[$name]}")
	for dep in ${deps//,/ }; do
		add_module "$dep" $((depth + 1))
	done
	mod_order+=("$name")
}
for m in "${MODULES[@]}"; do
	add_module "$m" 0
done

# ---- up to date? ----

stamp=$(
	{
		echo "${deb##*/} $rel ${mod_order[*]}"
		sha256sum "$here/build.sh" "$here/rootfs/init" "$here"/rootfs/etc/* /bin/busybox \
			"$bin/guest/vmt-agent" "$bin/guest/vmt-workload" "$bin/guest/vmt-memcheck" | cut -d' ' -f1
	} | sha256sum | cut -d' ' -f1
)
if [[ -f $out/.stamp && $(<"$out/.stamp") == "$stamp" && -f $out/vmlinuz && -f $out/initramfs.cpio.gz ]]; then
	log "up to date: $out ($rel)"
	exit 0
fi

# ---- initramfs tree ----

stage=$(mktemp -d "$out/.initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,run,tmp,root,home/vmt,etc/vmt,lib/modules/"$rel"}
chmod 1777 "$stage/tmp"
chmod 700 "$stage/root"
install -m 755 /bin/busybox "$stage/bin/busybox"
while IFS= read -r applet; do
	[[ -e $stage/$applet || -L $stage/$applet ]] || ln -s /bin/busybox "$stage/$applet"
done < <(/bin/busybox --list-full)
install -m 755 "$bin/guest/vmt-agent" "$bin/guest/vmt-workload" "$bin/guest/vmt-memcheck" \
	"$stage/bin/"
install -m 755 "$here/rootfs/init" "$stage/init"
for f in "$here"/rootfs/etc/*; do
	install -m 644 "$f" "$stage/etc/"
done

: >"$stage/etc/vmt/modules"
for name in "${mod_order[@]}"; do
	src=${ko_path[$name]}
	relpath=${src#"$moddir"/}
	relpath=${relpath%.xz}
	relpath=${relpath%.zst}
	mkdir -p "$stage/lib/modules/$rel/${relpath%/*}"
	case $src in # busybox insmod wants plain .ko files
	*.xz) xz -dc "$src" >"$stage/lib/modules/$rel/$relpath" ;;
	*.zst) zstd -qdc "$src" >"$stage/lib/modules/$rel/$relpath" ;;
	*) install -m 644 "$src" "$stage/lib/modules/$rel/$relpath" ;;
	esac
	echo "$relpath" >>"$stage/etc/vmt/modules"
done
echo "$rel" >"$stage/etc/vmt/kernel-release"

# ---- archive: sorted, owned by root, fixed times, so equal inputs give equal bytes ----

# One newc entry (no data); the header is 110 bytes, header + name padded to 4 bytes.
newc_entry() { # name mode rdev_major rdev_minor
	local name=$1 namesize=$((${#1} + 1))
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%s\0' \
		0 "$2" 0 0 1 "${SOURCE_DATE_EPOCH:-0}" 0 0 0 "$3" "$4" "$namesize" 0 "$name"
	printf '%*s' $(((4 - (110 + namesize) % 4) % 4)) '' | tr ' ' '\0'
}

find "$stage" -exec touch -h -d "@${SOURCE_DATE_EPOCH:-0}" {} +
{
	(cd "$stage" && find . -mindepth 1 -printf '%P\0' | LC_ALL=C sort -z |
		cpio --null --create --format=newc --owner=0:0 --reproducible --quiet)
	# The kernel opens /dev/console before /init runs; a device node needs no root when
	# written by hand (8576 = 020600 octal: character device, rw for root; console is 5:1).
	newc_entry dev/console 8576 5 1
	newc_entry TRAILER!!! 0 0 0
} | gzip -n -9 >"$out/initramfs.cpio.gz.tmp"
mv "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"

install -m 644 "$kdir/boot/vmlinuz-$rel" "$out/vmlinuz"
install -m 644 "$kdir/boot/config-$rel" "$out/config"
echo "$rel" >"$out/kernel-release"
echo "$stamp" >"$out/.stamp"
log "built $out: kernel $rel, modules: ${mod_order[*]}"
