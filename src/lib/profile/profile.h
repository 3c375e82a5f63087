/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * profile.h - what the runtime knows about one kernel build, recovered from
 * its vmlinuz alone:
 *   - the vmlinux inside (bzImage payload: gzip, LZ4, zstd, xz, lzma),
 *   - symbols from the kernel's own kallsyms tables (CONFIG_KALLSYMS_ALL),
 *     link-time addresses, before KASLR,
 *   - struct layouts from the vmlinux's .BTF section (via libbpf),
 *   - the linux_banner string, to match the kernel running in memory.
 *
 * A profile is built once per kernel image and cached on disk (keyed by the
 * image's content hash), so a second run maps the cache file and parses
 * nothing.  System.map is optional extra input, never required.
 */
#ifndef VMT_PROFILE_H
#define VMT_PROFILE_H

#include <stddef.h>
#include <stdint.h>

struct vmt_profile;

struct vmt_profile_opts {
	size_t sz;
	const char *kernel_path; /* vmlinuz (bzImage) or vmlinux ELF */
	const char *cache_dir;	 /* NULL: $XDG_CACHE_HOME/vmemtrans or ~/.cache/vmemtrans */
	const char *system_map;	 /* optional */
	int no_cache;		 /* build in memory only, write nothing */
	int rebuild;		 /* ignore an existing cache file, build and store anew */
};

/* NULL + errno on failure; vmt_last_error() names the problem. */
struct vmt_profile *vmt_profile_load(const struct vmt_profile_opts *opts);
void vmt_profile_free(struct vmt_profile *p);

/* "Linux version 6.1.0-... (...) #1 SMP ..." with the trailing newline.  Borrowed. */
const char *vmt_profile_banner(const struct vmt_profile *p);

/* Link-time (unrelocated) address of a symbol; -ENOENT if unknown. */
int vmt_profile_symbol(const struct vmt_profile *p, const char *name, uint64_t *addr);
/* Name of the symbol containing addr (link-time); NULL if none.  Borrowed. */
const char *vmt_profile_symbol_at(const struct vmt_profile *p, uint64_t addr, uint64_t *off);
size_t vmt_profile_nr_symbols(const struct vmt_profile *p);
/* vmt_profile_symbol plus the nm-style type letter (T t D B A...); addr, type may be NULL. */
int vmt_profile_symbol2(const struct vmt_profile *p, const char *name, uint64_t *addr, char *type);
/* Symbol i in address order (0 <= i < nr_symbols); -ENOENT past the end.  *name borrowed. */
int vmt_profile_symbol_by_index(const struct vmt_profile *p, size_t i, const char **name,
				uint64_t *addr, char *type);

/*
 * Struct layout from BTF.  "field" may be a dotted path through nested and
 * anonymous members ("se.sum_exec_runtime", "__sk_common.skc_family"), with
 * array subscripts ("comm[0]"); "struct x" and typedef names are accepted.
 * Byte offset into *off; -ENOENT if the struct or field does not exist,
 * -EINVAL for a bitfield.  Results are memoized in the on-disk cache, so
 * these calls may change p: serialize them if threads share a profile
 * (the symbol calls above are read-only).
 */
int vmt_profile_field(struct vmt_profile *p, const char *type, const char *field, uint32_t *off);
/* Field offset and size in bytes. */
int vmt_profile_field2(struct vmt_profile *p, const char *type, const char *field, uint32_t *off,
		       uint32_t *size);
int vmt_profile_struct_size(struct vmt_profile *p, const char *type, uint32_t *size);
/*
 * Value of an enumerator, e.g. ("pid_type", "PIDTYPE_TGID").  enum_type NULL
 * or "": search every enum, anonymous ones too (TCP_ESTABLISHED).
 */
int vmt_profile_enum(struct vmt_profile *p, const char *enum_type, const char *name, int64_t *val);

/*
 * The kernel's BTF, for lookups the calls above do not cover.  Parsed on
 * first use (tens of ms: prefer the memoized calls).  Borrowed until
 * vmt_profile_free; NULL + errno if the kernel has no usable BTF.
 */
struct btf;
const struct btf *vmt_profile_btf(struct vmt_profile *p);

/* Where the profile came from and what it cost. */
struct vmt_profile_info {
	const char *cache_path; /* profile file, borrowed; NULL if not cached */
	int from_cache;		/* 1: loaded from an existing cache file; 0: built */
	uint64_t image_hash;	/* content hash of the kernel image */
	uint64_t image_size;
	size_t btf_size; /* bytes of raw BTF kept */
	size_t nr_memo;	 /* remembered BTF answers */
	double load_ms;	 /* wall time of vmt_profile_load */
};

void vmt_profile_info(const struct vmt_profile *p, struct vmt_profile_info *info);

/*
 * Check every byte of a cached profile against its checksums (about 1.5 ms;
 * a load only checks the header, the memo and the bounds).  -EBADMSG if the
 * file is corrupt: load again with opts.rebuild set.
 */
int vmt_profile_verify(const struct vmt_profile *p);

#endif
