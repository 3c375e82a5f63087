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
	const char *kernel_path;   /* vmlinuz (bzImage) or vmlinux ELF */
	const char *cache_dir;     /* NULL: $XDG_CACHE_HOME/vmemtrans or ~/.cache/vmemtrans */
	const char *system_map;    /* optional */
	int no_cache;              /* build in memory only, write nothing */
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

/*
 * Struct layout from BTF.  "field" may be a dotted path through nested and
 * anonymous members ("se.sum_exec_runtime", "__sk_common.skc_family").
 * Byte offset into *off; -ENOENT if the struct or field does not exist,
 * -EINVAL for a bitfield.  Results are memoized in the on-disk cache.
 */
int vmt_profile_field(struct vmt_profile *p, const char *type, const char *field, uint32_t *off);
/* Field offset and size in bytes. */
int vmt_profile_field2(struct vmt_profile *p, const char *type, const char *field, uint32_t *off,
		       uint32_t *size);
int vmt_profile_struct_size(struct vmt_profile *p, const char *type, uint32_t *size);
/* Value of an enumerator, e.g. ("pid_type", "PIDTYPE_TGID"). */
int vmt_profile_enum(struct vmt_profile *p, const char *enum_type, const char *name, int64_t *val);

#endif
