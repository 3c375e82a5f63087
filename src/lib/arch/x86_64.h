/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * x86_64.h - x86-64 address translation over the page cache.
 *
 * 4-level and 5-level (LA57) paging, 4 KiB / 2 MiB / 1 GiB pages, with a
 * direct-mapped TLB keyed by (root, virtual page) that is flushed whenever
 * the memory layer starts a new epoch.  Only present entries are followed;
 * reserved bits set in a paging-structure entry make the walk fail with
 * -EBADMSG (a real CPU would #PF(RSVD)); a not-present entry gives -EFAULT.
 */
#ifndef VMT_ARCH_X86_64_H
#define VMT_ARCH_X86_64_H

#include <stdint.h>

#include "mem/mem.h"

struct vmt_x86_mmu;

/*
 * levels is 4 or 5 (else -EINVAL).  mem is borrowed and must outlive the
 * mmu; TLB hits and misses are counted in mem's stats.
 */
int vmt_x86_mmu_new(struct vmt_mem *mem, int levels, struct vmt_x86_mmu **out);
void vmt_x86_mmu_free(struct vmt_x86_mmu *mmu);
int vmt_x86_levels(const struct vmt_x86_mmu *mmu);
/* Switch paging mode (4 or 5; other values are ignored); flushes the TLB. */
void vmt_x86_set_levels(struct vmt_x86_mmu *mmu, int levels);
/*
 * MAXPHYADDR: address bits 51..phys_bits of a present entry are reserved
 * (-EBADMSG).  Default 52, i.e. no check; QEMU's TCG CPUs use 40.  Values
 * outside 32..52 are ignored.  Flushes the TLB.
 */
void vmt_x86_set_phys_bits(struct vmt_x86_mmu *mmu, int phys_bits);

/*
 * Translate va in the address space whose top-level table is at root_pa.
 * On success *pa is the physical address and *page_size (if non-NULL) the
 * size of the mapping page.  Non-canonical va: -EINVAL.
 */
int vmt_x86_translate(struct vmt_x86_mmu *mmu, uint64_t root_pa, uint64_t va, uint64_t *pa,
		      uint64_t *page_size);

/*
 * Read len bytes at virtual va (may cross pages, each translated on its
 * own); 0 or the first page's negative errno, buf undefined on error.
 */
int vmt_x86_read(struct vmt_x86_mmu *mmu, uint64_t root_pa, uint64_t va, void *buf, size_t len);

/*
 * Hint: the pages at these (root, va) will be read soon.  All the walks go
 * level by level together, each level's tables asked of the memory layer in
 * one batch (vmt_mem_prefetch), then the data pages: on a split VM, a
 * listing of many processes pays a round trip per level, not per process
 * and level.  Only pages already local are read to follow a walk; a walk
 * that meets anything odd just stops (the real read reports it).
 */
struct vmt_x86_hint {
	uint64_t root_pa, va;
	/* 0: the page; else the caller reads just [va, va + len), within the page */
	uint32_t len;
};
void vmt_x86_prefetch(struct vmt_x86_mmu *mmu, const struct vmt_x86_hint *h, size_t n);
/*
 * Hint for len bytes at va, within one page, that will be read, but not
 * before the caller has done more work: its walk follows only tables
 * already on the main host, and the bytes go to the memory layer's stream
 * (vmt_mem_stream_bytes).
 */
void vmt_x86_stream(struct vmt_x86_mmu *mmu, uint64_t root_pa, uint64_t va, size_t len);

#endif
