/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ktext.h - the kernel text as built, for a comparison with memory
 * (ktext.c; used by linux/ktext_check.c).
 *
 * The image's _text.._etext, relocated for a KASLR slide with the image's
 * own relocation table (vmlinux.relocs, appended to the payload), and per
 * byte what the kernel may have changed at boot or run time and how.
 */
#ifndef VMT_PROFILE_KTEXT_H
#define VMT_PROFILE_KTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vmt_profile;

enum vmt_ktext_kind {
	VMT_KT_CMP = 0, /* must equal the image's byte */
	VMT_KT_ANY,	/* a patch site whose contents vary (alternatives, paravirt,
			   retpolines, jump labels, static calls and their trampolines) */
	VMT_KT_SKIP,	/* inside a site checked from its first byte */
	VMT_KT_NOP5,	/* an ftrace site (call __fentry__): the 5-byte NOP once booted */
	VMT_KT_RET,	/* a return site (jmp __x86_return_thunk): as built, or ret; int3 */
	VMT_KT_LOCK,	/* an SMP lock prefix: lock (f0), or ds (3e) on one CPU */
};

struct vmt_ktext {
	uint64_t text;	 /* link-time _text */
	size_t len;	 /* _etext - _text */
	uint8_t *bytes;	 /* the image's text, relocated */
	uint8_t *kind;	 /* enum vmt_ktext_kind per byte */
	size_t sites[6]; /* sites of each kind (statistics) */
	size_t relocs;	 /* relocations applied */
	/* The image's relocations that fall in text: offsets, per list (+, -, 64-bit +). */
	uint32_t *rel[3];
	size_t nrel[3];
	bool has_relocs; /* the image had a relocation table */
};

/*
 * Build it from the image the profile was made from (-ENOENT without one,
 * or if it changed, or if slide != 0 and the image has no relocation
 * table).  Inflates the image the first time (0.2 to 2.5 s), then reads
 * what it found from a file beside the profile's cache.
 */
int vmt_ktext_build(struct vmt_profile *p, uint64_t slide, struct vmt_ktext **out);
void vmt_ktext_free(struct vmt_ktext *k);

#endif
