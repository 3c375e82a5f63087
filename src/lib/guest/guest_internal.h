/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guest_internal.h - the guest handle as the walkers see it.
 *
 * A struct vmt_guest ties a page source + page cache (mem/), the x86 MMU
 * (arch/) and the kernel profile (profile/) to one running kernel whose
 * KASLR slides were found at open time (kaslr.c).  Walkers (linux/) read
 * the guest only through the functions below, so they never know where a
 * page came from.
 */
#ifndef VMT_GUEST_INTERNAL_H
#define VMT_GUEST_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "arch/x86_64.h"
#include "core/internal.h"
#include "mem/mem.h"
#include "profile/profile.h"
#include "vmemtrans.h"

/* Link-time base of the kernel text mapping (__START_KERNEL_map). */
#define VMT_START_KERNEL_MAP 0xffffffff80000000ull

/* Upper bounds that keep a hostile guest from making a walk unbounded. */
#define VMT_MAX_TASKS	   (1u << 20) /* PID_MAX_LIMIT is 4M, 1M live tasks is plenty */
#define VMT_MAX_MODULES	   4096
#define VMT_MAX_SOCKETS	   (1u << 20)
#define VMT_MAX_ARGS_BYTES (1u << 20)  /* cmdline/environ cap per process */
#define VMT_MAX_ARGS_TOTAL (64u << 20) /* ... and for all processes of one listing */
#define VMT_MAX_PATH_DEPTH 256

struct task_offsets;
struct detail_offsets;
struct path_cache;

struct vmt_guest {
	struct vmt_mem *mem;
	struct vmt_memsrc *src; /* mem's (it owns it): for vmt_listing_end */
	struct vmt_x86_mmu *mmu;
	struct vmt_profile *prof;
	struct vmt_kernel_info ki;
	uint64_t text_link;  /* link-time _text */
	uint64_t text_va;    /* run-time _text */
	uint64_t image_size; /* _end - _text: the range mapped 1:1 to phys_load */
	uint64_t direct_map_size;
	struct task_offsets *task_off;	   /* linux/task_offsets.c, resolved on first use */
	struct detail_offsets *detail_off; /* linux/task_detail.c, likewise */
	struct path_cache *paths;	   /* linux/mm.c: d_path results of this listing */
};

/* Forget the d_path results of the last listing (linux/mm.c); also frees the cache. */
void vmt_path_cache_clear(struct vmt_guest *g, bool free_all);

/* Physical address of a kernel-image symbol's link address (no page walk). */
static inline uint64_t vmt_guest_image_pa(const struct vmt_guest *g, uint64_t link_va)
{
	return link_va - g->text_link + g->ki.phys_load;
}

/* Kernel virtual reads (image and direct map fast paths, else page walk). */
int vmt_kread(struct vmt_guest *g, uint64_t va, void *buf, size_t len);
int vmt_kread_u64(struct vmt_guest *g, uint64_t va, uint64_t *val);
int vmt_kread_u32(struct vmt_guest *g, uint64_t va, uint32_t *val);
/* Read a NUL-terminated kernel string of at most cap-1 bytes into buf. */
int vmt_kread_str(struct vmt_guest *g, uint64_t va, char *buf, size_t cap);
/* User virtual read in the address space whose top table is at pgd_pa. */
int vmt_uread(struct vmt_guest *g, uint64_t pgd_pa, uint64_t va, void *buf, size_t len);
/* Kernel direct-map VA to PA (mm->pgd to CR3); -EFAULT if outside the map. */
int vmt_kva_to_pa(struct vmt_guest *g, uint64_t va, uint64_t *pa);

/*
 * Hint: these kernel ranges will be read soon.  On a split VM read with a
 * fetch method, their pages that are not cached come in one round trip;
 * elsewhere nothing happens.  The image and the direct map are resolved
 * directly; other kernel addresses (vmalloc) through the kernel's page
 * tables, a batch per level (at most 256 such pages a call); bad addresses
 * are skipped.
 */
struct vmt_krange {
	uint64_t va;
	uint32_t len;
};
void vmt_kprefetch(struct vmt_guest *g, const struct vmt_krange *r, size_t n);

/*
 * One level of hints gathered over many objects (every task, every
 * bucket), asked for at once: a round trip per level of pointers, not per
 * object and level.  At most VMT_HINTS_MAX ranges (more are dropped: a hint
 * that is not given is only a read that waits).  Free r when done.
 */
#define VMT_HINTS_MAX (1u << 16)
struct vmt_hints {
	struct vmt_krange *r;
	size_t n, cap;
};
/* Add len bytes at va (bad pointers, len 0 or UINT32_MAX skipped). */
void vmt_hints_add(struct vmt_hints *h, uint64_t va, uint32_t len);
/* Ask for every range at once and empty the list. */
void vmt_hints_flush(struct vmt_guest *g, struct vmt_hints *h);

/* Run-time address of a kernel symbol (KASLR applied). */
int vmt_ksym(struct vmt_guest *g, const char *name, uint64_t *va);

/* Plausible kernel pointer: canonical, in the upper half, not NULL-ish. */
static inline bool vmt_kptr_ok(uint64_t va)
{
	return va >= 0xff00000000000000ull && va != ~0ull;
}

/* One struct field a walker needs; resolved from BTF through the profile. */
struct vmt_field_req {
	const char *type;
	const char *field; /* dotted path; NULL: sizeof(type) */
	uint32_t *out;
	bool optional; /* missing: *out = UINT32_MAX, not an error */
};

int vmt_resolve_fields(struct vmt_guest *g, const struct vmt_field_req *req, size_t n);

/*
 * A walker's offsets struct starts all "absent" (UINT32_MAX), so a field its
 * request table forgot reads as absent, never as a plausible offset 0.
 */
#define VMT_OFFSETS_ABSENT(o) memset((o), 0xff, sizeof(*(o)))

/* Request-table entries, inside a resolver whose offsets struct is named o. */
#define VMT_FIELD(t, f, dst)                                                                       \
	{                                                                                          \
		t, f, &o->dst, false                                                               \
	}
#define VMT_FIELD_OPT(t, f, dst)                                                                   \
	{                                                                                          \
		t, f, &o->dst, true                                                                \
	}

/*
 * Walk a kernel circular list_head: call fn for each node address (the
 * address of the embedded list_head, not of the container) after head_va,
 * stopping at head_va.  At most max nodes; a cycle that does not return to
 * the head, an unreadable node or more than max nodes gives -EBADMSG after
 * the nodes seen so far were reported.  fn returns 0 to go on, >0 to stop,
 * <0 to abort with that error.
 */
typedef int (*vmt_list_fn)(struct vmt_guest *g, uint64_t node_va, void *arg);
int vmt_list_walk(struct vmt_guest *g, uint64_t head_va, size_t max, vmt_list_fn fn, void *arg);
/* The same list backward (list_head.prev): a second view of it (task_views.c). */
int vmt_list_walk_prev(struct vmt_guest *g, uint64_t head_va, size_t max, vmt_list_fn fn,
		       void *arg);

/* Walk an hlist (or hlist_nulls, nulls end with bit 0 set) from first node. */
int vmt_hlist_walk(struct vmt_guest *g, uint64_t first_va, size_t max, vmt_list_fn fn, void *arg);

/*
 * Open a guest over any page source and an already loaded profile (unit
 * tests build both in memory).  Takes ownership of src and prof, also on
 * failure.
 */
int vmt_guest_open_parts(struct vmt_memsrc *src, struct vmt_profile *prof, size_t cache_pages,
			 struct vmt_guest **out);

/* No kernel image: g->prof from the guest's memory alone (kfind.c, local reads only). */
int vmt_kfind_profile(struct vmt_guest *g, const struct vmt_guest_opts *o);
/* A kernel image and memory both: -EBADMSG unless memory's BTF is the image's. */
int vmt_kfind_agree(struct vmt_guest *g, const char *kernel_path);

/* KASLR and paging-mode discovery (kaslr.c); fills g->ki and text_va. */
int vmt_kaslr_find(struct vmt_guest *g);

#endif
