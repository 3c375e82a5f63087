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

#include <stdbool.h>
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

/*
 * The profile of a kernel found in guest-physical memory alone (no vmlinuz):
 * from_memory.c.  The memory is read through these callbacks (guest/kfind.c
 * supplies them over a guest's page source; tests over a buffer).
 */
struct vmt_physmem {
	void *ctx;
	uint64_t size;	  /* one past the highest guest-physical byte */
	const char *name; /* the memory file: messages, and the key of the "last seen" hint */
	/* Bulk copy, unreadable bytes as zeros, never a remote fetch (vmt_mem_scan). */
	int (*scan)(void *ctx, uint64_t pa, void *buf, size_t len);
	/* Exact read of local memory; negative errno if any byte is not here. */
	int (*read)(void *ctx, uint64_t pa, void *buf, size_t len);
	/*
	 * Do the page tables rooted at pgd_pa (4- or 5-level) map va to pa?
	 * Tells the running kernel from a stale copy.  NULL: not checked.
	 */
	bool (*maps)(void *ctx, uint64_t pgd_pa, uint64_t va, uint64_t pa);
};

struct vmt_profile_mem_opts {
	size_t sz;
	const char *cache_dir; /* as vmt_profile_opts */
	int no_cache;
	int rebuild;
};

/*
 * Find the running Linux kernel in pm (kallsyms tables, linux_banner, .BTF),
 * or its cached profile: the cache is keyed by banner + BTF checksum, and a
 * hint per memory file names the profile seen last, so a second open checks
 * that profile against memory (banner, BTF bytes) and parses nothing.
 * Symbol addresses are those of the boot the profile was made from (the
 * kallsyms base is relocated at boot); kaslr.c finds the slide relative to
 * them as it does for link-time addresses.  NULL + errno: -ENOENT no Linux
 * kernel, -ENOEXEC a kernel without usable kallsyms or BTF (the message
 * says to pass --kernel), -EBADMSG tables that do not hold together.
 */
struct vmt_profile *vmt_profile_from_memory(const struct vmt_physmem *pm,
					    const struct vmt_profile_mem_opts *opts);

/*
 * Is the BTF at pa in pm the profile's own blob?  0 yes, 1 no, or the read's
 * negative errno.  A kernel built again under the same banner has other
 * type ids almost everywhere, so the first and last 4 KiB and 14 pieces in
 * between are compared (64 KiB read, not the ~4 MiB blob): this tells
 * kernels apart; it is no defence against a guest editing its BTF (whose
 * real layouts the profile's blob describes anyway).
 */
int vmt_profile_btf_cmp(const struct vmt_profile *p, const struct vmt_physmem *pm, uint64_t pa);

/* The profile an open guest uses (guest/kfind.c); borrowed until vmt_guest_close. */
struct vmt_guest;
struct vmt_profile *vmt_guest_profile(struct vmt_guest *g);

/* The checksum vmt_profile_info's btf_hash holds, of any BTF bytes. */
uint64_t vmt_profile_btf_hash(const void *btf, size_t len);

enum vmt_profile_source {
	VMT_PROFILE_FROM_IMAGE,	 /* a vmlinuz / vmlinux file */
	VMT_PROFILE_FROM_MEMORY, /* guest-physical memory */
};

/* Where the profile came from and what it cost. */
struct vmt_profile_info {
	const char *cache_path; /* profile file, borrowed; NULL if not cached */
	int from_cache;		/* 1: loaded from an existing cache file; 0: built */
	uint64_t image_hash;	/* content hash of the kernel image */
	uint64_t image_size;
	size_t btf_size; /* bytes of raw BTF kept */
	size_t nr_memo;	 /* remembered BTF answers */
	double load_ms;	 /* wall time of vmt_profile_load */
	/* The parts' origin; the addresses are guest-physical, of the boot it was made from. */
	int source;		  /* enum vmt_profile_source */
	const char *kernel_path;  /* FROM_IMAGE: the image file; borrowed */
	uint64_t mem_text_pa;	  /* FROM_MEMORY: where _text was */
	uint64_t mem_kallsyms_pa; /* ... the kallsyms token table */
	uint64_t mem_banner_pa;	  /* ... linux_banner */
	uint64_t mem_btf_pa;	  /* ... the .BTF blob */
	uint64_t btf_hash;	  /* checksum of the BTF blob (vmt_hash64) */
};

void vmt_profile_info(const struct vmt_profile *p, struct vmt_profile_info *info);

/*
 * Check every byte of a cached profile against its checksums (about 1.5 ms;
 * a load only checks the header, the memo and the bounds).  -EBADMSG if the
 * file is corrupt: load again with opts.rebuild set.
 */
int vmt_profile_verify(const struct vmt_profile *p);

#endif
