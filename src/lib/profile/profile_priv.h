/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * profile_priv.h - the pieces behind profile.h, private to profile/ and its
 * unit tests:
 *   vmlinuz.c  bzImage header -> compressed payload -> vmlinux bytes
 *   elf.c      ELF64 section and segment lookup in those bytes
 *   kallsyms.c symbols recovered from the kernel's own kallsyms tables
 *   btf.c      struct/field/enum resolution over libbpf's struct btf
 *   memo.c     (type, field) -> answer table kept in the cache file
 *   cache.c    the cache file: format, validation, atomic rewrite
 *   build.c    a profile image made from a kernel image
 *   profile.c  load: cache by stat link, cache by content, or build
 *   lookup.c   the public symbol and layout lookups
 *
 * Every parser here takes bytes that came from a file nobody vouches for:
 * lengths and offsets are checked before use, failures return a negative
 * errno with vmt_error() set, never a crash.
 */
#ifndef VMT_PROFILE_PRIV_H
#define VMT_PROFILE_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile/profile.h"

struct btf;

/* ------------------------------------------------------------- vmlinuz.c */

/* Largest vmlinux we agree to inflate: a decompression bomb stops here. */
#define VMT_VMLINUX_MAX (1ull << 30)

/*
 * Extract the kernel from a bzImage (or from a bare gzip/LZ4/zstd/xz/lzma
 * stream).  "what" names the input in error messages.  On success *out is a
 * malloc'ed buffer the caller frees.  -ENOEXEC: neither bzImage nor a known
 * compression; -ENOTSUP: a known but unsupported compression (bzip2, lzo);
 * -EBADMSG: truncated or corrupt stream; -EFBIG: over VMT_VMLINUX_MAX.
 */
int vmt_vmlinuz_extract(const void *img, size_t len, const char *what, void **out, size_t *out_len);

/* Inflate one stream whose format is told by its magic; same contract. */
int vmt_decompress(const void *in, size_t len, size_t size_hint, const char *what, void **out,
		   size_t *out_len);

/* ----------------------------------------------------------------- elf.c */

struct vmt_elf {
	const uint8_t *data;
	size_t len;
	uint64_t shoff, phoff;
	uint32_t shnum, phnum;
	uint32_t shstrndx;
};

/* A byte range of the image and the link-time address of its first byte. */
struct vmt_region {
	const uint8_t *data;
	size_t len;
	uint64_t va;
};

bool vmt_elf_is_elf(const void *data, size_t len);
/* Check the ELF64 little-endian headers; elf borrows data. */
int vmt_elf_open(struct vmt_elf *elf, const void *data, size_t len);
/* A PROGBITS section by name; -ENOENT if absent or without file bytes. */
int vmt_elf_section(const struct vmt_elf *elf, const char *name, struct vmt_region *out);
/* File bytes of PT_LOAD segment i (i counts loadable segments only); -ENOENT past the last. */
int vmt_elf_segment(const struct vmt_elf *elf, unsigned i, struct vmt_region *out);
/* Bytes at link-time address va: *p and how many follow in its segment. */
int vmt_elf_va(const struct vmt_elf *elf, uint64_t va, const uint8_t **p, size_t *avail);

/* ------------------------------------------------------------ kallsyms.c */

/* Longest expanded kallsyms entry (type letter + name); KSYM_NAME_LEN is 512 in 6.1. */
#define VMT_KSYM_NAME_MAX 1024

struct vmt_ksym {
	uint64_t addr;
	uint32_t name; /* offset into vmt_ksyms.names */
	char type;     /* nm-style letter: T t D d B b R r A ... */
};

struct vmt_ksyms {
	struct vmt_ksym *syms;
	size_t n;
	char *names; /* NUL-separated */
	size_t names_len;
};

/*
 * Find and decode the kallsyms tables inside r (normally .rodata).  Handles
 * the 6.1 layout (offsets, relative_base, num_syms, names, markers,
 * token_table, token_index) and the 6.4+ one (offsets after token_index);
 * absolute-percpu, plain-relative and absolute addresses.  -ENOENT when no
 * consistent table set exists.  out is filled only on success.
 */
int vmt_kallsyms_recover(const struct vmt_region *r, struct vmt_ksyms *out);
/*
 * The same with the caller's work budget (steps), shared by several calls:
 * the in-memory finder tries many windows and bounds them all together.
 */
int vmt_kallsyms_recover_budget(const struct vmt_region *r, struct vmt_ksyms *out,
				uint64_t *budget);
/* Parse System.map text ("addr type name" lines); -ENOENT if it holds no symbols. */
int vmt_sysmap_parse(const char *text, size_t len, struct vmt_ksyms *out);
void vmt_ksyms_free(struct vmt_ksyms *ks);

/* ----------------------------------------------------------------- btf.c */

/* libbpf's struct btf plus a name index, so a lookup is not a linear scan. */
struct vmt_btf;

/* Parse raw .BTF bytes (copied).  NULL + errno (-EBADMSG if libbpf rejects it). */
struct vmt_btf *vmt_btf_new(const void *data, size_t len);
void vmt_btf_free(struct vmt_btf *b);
const struct btf *vmt_btf_get(const struct vmt_btf *b);

/* Same contracts as vmt_profile_field2 / _struct_size / _enum. */
int vmt_btf_field(const struct vmt_btf *b, const char *type, const char *path, uint32_t *off,
		  uint32_t *size);
int vmt_btf_struct_size(const struct vmt_btf *b, const char *type, uint32_t *size);
int vmt_btf_enum(const struct vmt_btf *b, const char *enum_type, const char *name, int64_t *val);

/* ---------------------------------------------------------------- memo.c */

enum vmt_memo_kind {
	VMT_MEMO_FIELD = 'f',
	VMT_MEMO_SIZE = 's',
	VMT_MEMO_ENUM = 'e',
	VMT_MEMO_ORIGIN = 'o', /* from_memory.c: where a part was found ("mem", part) */
};

/* One remembered answer: err (0 or negative errno) and up to two values. */
struct vmt_memo_val {
	int32_t err;
	uint64_t a, b;
};

struct vmt_memo_ent {
	const char *key; /* kind letter, then "type\0field" */
	uint32_t key_len;
	bool owned; /* key malloc'ed (new this run) rather than in the cache map */
	struct vmt_memo_val val;
};

struct vmt_memo {
	struct vmt_memo_ent *ents;
	size_t n, cap;
	uint32_t *slots; /* open addressing: index + 1, 0 = empty */
	size_t nslots;
	size_t nr_new; /* entries added since load: the cache needs rewriting */
};

/* Build the key kind|a\0b into buf; -ENAMETOOLONG if it does not fit. */
int vmt_memo_key(char *buf, size_t sz, int kind, const char *a, const char *b, uint32_t *len);
const struct vmt_memo_val *vmt_memo_get(const struct vmt_memo *m, const char *key, uint32_t len);
/* Add an entry; borrow_key keeps a pointer to key instead of copying it. */
int vmt_memo_put(struct vmt_memo *m, const char *key, uint32_t len, const struct vmt_memo_val *v,
		 bool borrow_key);
void vmt_memo_clear(struct vmt_memo *m);

/* --------------------------------------------------------------- cache.c */

#define VMT_PROF_MAGIC "VMTPROF"
/* Bump on any change of the layout below or of what the builder stores. */
#define VMT_PROF_VERSION 1

enum vmt_prof_sec {
	VMT_PSEC_BANNER, /* linux_banner, NUL-terminated */
	VMT_PSEC_STRS,	 /* symbol names, NUL-separated, last byte NUL */
	VMT_PSEC_SYMS,	 /* struct vmt_prof_sym[nr_syms], sorted by name */
	VMT_PSEC_BYADDR, /* uint32_t[nr_syms]: indexes into SYMS, sorted by address */
	VMT_PSEC_BTF,	 /* raw .BTF blob (may be empty) */
	VMT_PSEC_MEMO,	 /* struct vmt_prof_memo_hdr, records, key bytes */
	VMT_PSEC_NR,
};

struct vmt_prof_hdr {
	char magic[8];
	uint32_t version;
	uint32_t hdr_size;
	uint64_t file_size;
	uint64_t image_hash; /* content hash of the kernel image file */
	uint64_t image_size;
	uint64_t nr_syms;
	struct {
		uint64_t off, len;
		uint64_t csum; /* vmt_hash64 of the section's bytes */
	} sec[VMT_PSEC_NR];
	uint64_t csum; /* vmt_hash64 of this header with csum = 0 */
};

struct vmt_prof_sym {
	uint64_t addr;
	uint32_t name; /* offset into STRS */
	char type;
	uint8_t pad[3];
};

struct vmt_prof_memo_hdr {
	uint32_t nr;
	uint32_t keys_len;
	uint64_t csum; /* vmt_hash64 over records and keys */
};

struct vmt_prof_memo_rec {
	uint32_t key_off; /* into the key bytes after the records */
	uint32_t key_len;
	int32_t err;
	uint32_t pad;
	uint64_t a, b;
};

/* A validated view of one profile image (a mapped cache file or a built buffer). */
struct vmt_prof_view {
	const struct vmt_prof_hdr *hdr;
	const char *banner;
	const char *strs;
	size_t strs_len;
	const struct vmt_prof_sym *syms;
	const uint32_t *by_addr;
	size_t nr_syms;
	const uint8_t *btf;
	size_t btf_len;
};

/* The parts a profile image is written from. */
struct vmt_prof_parts {
	uint64_t image_hash, image_size;
	const char *banner;
	const char *strs;
	size_t strs_len;
	const struct vmt_prof_sym *syms;
	const uint32_t *by_addr;
	size_t nr_syms;
	const void *btf;
	size_t btf_len;
	const struct vmt_memo *memo;
};

/* Fast 64-bit hash (not cryptographic): cache keys and checksums. */
uint64_t vmt_hash64(const void *data, size_t len, uint64_t seed);

/* Serialize parts into one malloc'ed image buffer. */
int vmt_prof_serialize(const struct vmt_prof_parts *parts, uint8_t **buf, size_t *len);
/* Validate an image and point view into it; -EBADMSG (message set) if corrupt. */
int vmt_prof_view_init(struct vmt_prof_view *v, const void *img, size_t len);
/*
 * Compare section sec with its checksum: -EBADMSG if it differs.  Too slow
 * for every load (about 1.5 ms for a whole file), so it runs before the BTF
 * blob is parsed, and on request (vmt_profile_verify).
 */
int vmt_prof_check_section(const struct vmt_prof_view *v, int sec);
/* Load the image's memo records into m, keys borrowed from img. */
int vmt_prof_memo_load(const void *img, size_t len, struct vmt_memo *m);
/* Write buf to path atomically (temp file + rename). */
int vmt_cache_write(const char *path, const void *buf, size_t len);
/* Point link at target (a name in the same directory) atomically. */
int vmt_cache_link(const char *link, const char *target);
/* The cache directory (created); malloc'ed.  dir NULL: XDG default. */
int vmt_cache_dir(const char *dir, char **out);
/* mmap a cache file read-only; -ENOENT if absent. */
int vmt_cache_map(const char *path, void **map, size_t *len);

/* --------------------------------------------- profile.c, build.c, lookup.c */

#define VMT_KERNEL_FILE_MAX (4ull << 30)

struct vmt_profile {
	struct vmt_prof_view v;
	void *map; /* the cache file, mapped; or NULL */
	size_t map_len;
	uint8_t *buf; /* the same layout built in memory; or NULL */
	struct vmt_memo memo;
	struct vmt_btf *btf; /* parsed on the first memo miss */
	int btf_err;	     /* sticky: the blob is absent or corrupt */
	char *cache_path;    /* profile file to update; NULL: write nothing */
	char *kernel_path;   /* to rebuild from if the cached BTF turns out corrupt */
	char *system_map;
	void *old_map; /* a corrupt cache mapping: results borrowed from it stay valid */
	size_t old_map_len;
	bool from_cache;
	bool rewrite; /* the cache file must be rewritten at free */
	double load_ms;
};

/* A read-only mapping of an input file. */
struct vmt_fmap {
	const uint8_t *data;
	size_t len;
};

struct stat;

/* Map a regular, non-empty file of at most max bytes; st filled. */
int vmt_fmap_open(const char *path, uint64_t max, struct vmt_fmap *m, struct stat *st);
void vmt_fmap_close(struct vmt_fmap *m);
/* Sort and serialize symbols, banner, BTF (and p->memo) into p->buf and p->v. */
int vmt_profile_assemble(struct vmt_profile *p, const struct vmt_ksyms *ks, const char *banner,
			 const void *btf, size_t btf_len, uint64_t hash, uint64_t size);
/* Map a cache file and validate it (image_size must match unless UINT64_MAX); on failure p is
 * untouched. */
int vmt_profile_cache_open(struct vmt_profile *p, const char *path, uint64_t image_size);
double vmt_profile_now_ms(void);

/* Build p's image (p->buf, p->v, and p->btf if the BTF is good) from a kernel image. */
int vmt_profile_build(struct vmt_profile *p, const struct vmt_profile_opts *o,
		      const struct vmt_fmap *img, uint64_t hash);

/* ---------------------------------------------------------- from_memory.c */

/* Caps of the in-memory kernel finder (the guest is hostile: every walk bounded). */
#define VMT_KFIND_MAX_HITS   8		    /* token-table candidates examined */
#define VMT_KFIND_IMAGE_MAX  (1ull << 30)   /* _end - _text */
#define VMT_KFIND_BTF_MAX    (256ull << 20) /* __stop_BTF - __start_BTF */
#define VMT_KFIND_BANNER_MAX 512
/*
 * kallsyms work for one search, all windows together (kallsyms.c's steps:
 * about a second natively).  A fuzzing build lowers it: the bound is what
 * is tested, not its size.
 */
#ifndef VMT_KFIND_WORK
#define VMT_KFIND_WORK (1ull << 28)
#endif

/* One kernel image found in physical memory. */
struct vmt_kfound {
	struct vmt_ksyms ks;
	uint64_t text, end; /* _text, _end as kallsyms has them (run-time) */
	uint64_t text_pa;   /* physical _text */
	uint64_t tok_pa;    /* the kallsyms token table that led here */
	uint64_t banner_pa;
	uint64_t btf_pa;
	uint8_t *btf; /* malloc'ed copy of .BTF */
	size_t btf_len;
	bool running; /* its own page tables map _text to text_pa */
	bool have_offset;
	uint64_t kaslr_offset; /* vmcoreinfo's KERNELOFFSET: run-time - link-time */
	char banner[VMT_KFIND_BANNER_MAX];
};

/*
 * Scan pm for kernel images, decode each one's kallsyms, locate its banner
 * and BTF, and pick the running one (whose init_top_pgt maps its _text to
 * it).  Why each candidate was taken or not goes to the debug log.
 */
int vmt_kfind(const struct vmt_physmem *pm, struct vmt_kfound *out);
void vmt_kfound_free(struct vmt_kfound *k);
/* Make k's symbol addresses link-time ones (KERNELOFFSET off); no-op without it. */
void vmt_kfind_unslide(struct vmt_kfound *k);
/* Cache key of a kernel found in memory: banner and BTF checksum. */
uint64_t vmt_kfind_key(const char *banner, uint64_t btf_csum);
/* The origin entries (VMT_MEMO_ORIGIN) of p, into info. */
void vmt_kfind_origin(const struct vmt_profile *p, struct vmt_profile_info *info);

#endif
