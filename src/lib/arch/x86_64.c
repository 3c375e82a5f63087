// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * x86_64.c - x86-64 page-table walks (4-level and LA57 5-level) over the
 * page cache, with a software TLB.
 *
 * The walk follows the SDM's rules for what makes an entry bad, because a
 * guest (hostile or just corrupted) can put anything in its tables: PS in
 * a PML4E/PML5E, or a large-page entry whose offset bits (between the PAT
 * bit 12 and the page size) are set, is reserved and fails with -EBADMSG.
 * Bits 52..62 are software-available and bit 63 is NX; both are ignored.
 * Not-present entries fail with -EFAULT whatever else they hold (Linux
 * keeps swap entries there).
 *
 * The TLB is three direct-mapped arrays, one per page size, keyed by
 * (root, va >> page shift): a 2 MiB or 1 GiB mapping is cached once and
 * every address inside it hits.  An entry is valid iff its stamp equals
 * the mmu's stamp, which changes whenever the memory layer starts a new
 * epoch (the guest may have changed its tables) or the paging mode changes.
 */
#include <stdlib.h>

#include "arch/x86_64.h"
#include "core/internal.h"

#define PTE_P	    (1ull << 0)
#define PTE_PS	    (1ull << 7)
#define PTE_ADDR    0x000ffffffffff000ull /* bits 51:12 */
#define PTE_ENTRIES 512
#define PHYS_BITS   52

#define TLB_4K_BITS 12
#define TLB_2M_BITS 9
#define TLB_1G_BITS 6

enum { SZ_4K, SZ_2M, SZ_1G, SZ_NR };

#define TLB_ENTRIES ((1u << TLB_4K_BITS) + (1u << TLB_2M_BITS) + (1u << TLB_1G_BITS))

static const unsigned size_shift[SZ_NR] = {12, 21, 30};
static const unsigned tlb_bits[SZ_NR] = {TLB_4K_BITS, TLB_2M_BITS, TLB_1G_BITS};
/* Where each page size's part of the one TLB array starts. */
static const unsigned tlb_base[SZ_NR] = {0, 1u << TLB_4K_BITS,
					 (1u << TLB_4K_BITS) + (1u << TLB_2M_BITS)};

struct tlb_entry {
	uint64_t root;
	uint64_t vpn;	/* va >> the page size's shift */
	uint64_t frame; /* physical base of the page */
	uint64_t stamp; /* valid iff == mmu->stamp */
};

struct vmt_x86_mmu {
	struct vmt_mem *mem;
	struct vmt_mem_stats *st;
	int levels;
	uint64_t rsvd_addr; /* address bits above MAXPHYADDR */
	uint64_t seen_epoch;
	uint64_t stamp;
	struct tlb_entry tlb[TLB_ENTRIES];
};

static inline struct tlb_entry *tlb_slot(struct vmt_x86_mmu *mmu, int sz, uint64_t root,
					 uint64_t vpn)
{
	/* Mix in the root so that processes with the same layout spread out. */
	uint64_t idx = (vpn ^ (root >> VMT_PAGE_SHIFT)) & ((1u << tlb_bits[sz]) - 1);

	return &mmu->tlb[tlb_base[sz] + idx];
}

static inline bool tlb_lookup(struct vmt_x86_mmu *mmu, uint64_t root, uint64_t va, uint64_t *frame,
			      int *sz_out)
{
	struct tlb_entry *e;
	uint64_t vpn;
	int sz;

	for (sz = 0; sz < SZ_NR; sz++) {
		vpn = va >> size_shift[sz];
		e = tlb_slot(mmu, sz, root, vpn);
		if (e->stamp == mmu->stamp && e->vpn == vpn && e->root == root) {
			*frame = e->frame;
			*sz_out = sz;
			return true;
		}
	}
	return false;
}

static void tlb_flush(struct vmt_x86_mmu *mmu)
{
	mmu->stamp++;
}

static bool va_canonical(const struct vmt_x86_mmu *mmu, uint64_t va)
{
	unsigned unused = 64 - (mmu->levels == 5 ? 57 : 48);

	return (uint64_t)((int64_t)(va << unused) >> unused) == va;
}

/* Reserved bits of a present entry at level lvl (1 = PT) with PS as given. */
static uint64_t entry_rsvd(const struct vmt_x86_mmu *mmu, int lvl, bool ps)
{
	unsigned shift = size_shift[0] + 9 * (lvl - 1);

	if (!ps)
		return mmu->rsvd_addr;
	/* Bits shift-1..13 of a large-page entry: bit 12 is PAT. */
	return mmu->rsvd_addr | (((1ull << shift) - 1) & ~((1ull << 13) - 1));
}

/*
 * Walk the tables; on success *frame is the page's base and *sz its size.
 * A peek (a hint's walk) reads the entries with vmt_mem_peek_local: only
 * tables on the main host, and nothing cached on the way.
 */
static int x86_walk(struct vmt_x86_mmu *mmu, uint64_t root, uint64_t va, uint64_t *frame, int *sz,
		    bool peek)
{
	uint64_t table = root, e, at;
	unsigned shift;
	bool ps;
	int lvl, err;

	for (lvl = mmu->levels; lvl >= 1; lvl--) {
		shift = size_shift[0] + 9 * (lvl - 1);
		at = table + ((va >> shift) & (PTE_ENTRIES - 1)) * 8;
		err = peek ? vmt_mem_peek_local(mmu->mem, at, &e, sizeof(e))
			   : vmt_mem_read_u64(mmu->mem, at, &e);
		if (err)
			return err;
		if (!(e & PTE_P))
			return -EFAULT;
		ps = lvl > 1 && (e & PTE_PS);
		if (ps && lvl > 3)
			return -EBADMSG; /* no 512 GiB pages */
		if (e & entry_rsvd(mmu, lvl, ps))
			return -EBADMSG;
		if (lvl == 1 || ps) {
			*frame = e & PTE_ADDR & ~((1ull << shift) - 1);
			*sz = lvl - 1;
			return 0;
		}
		table = e & PTE_ADDR;
	}
	return -EFAULT; /* not reached: lvl 1 always returns */
}

/* A new listing (the page cache's epoch moved): forget every translation. */
static void tlb_sync(struct vmt_x86_mmu *mmu)
{
	uint64_t epoch = vmt_mem_epoch_id(mmu->mem);

	if (epoch != mmu->seen_epoch) {
		mmu->seen_epoch = epoch;
		tlb_flush(mmu);
	}
}

static void tlb_fill(struct vmt_x86_mmu *mmu, uint64_t root, uint64_t va, uint64_t frame, int sz)
{
	*tlb_slot(mmu, sz, root, va >> size_shift[sz]) = (struct tlb_entry){
	    .root = root, .vpn = va >> size_shift[sz], .frame = frame, .stamp = mmu->stamp};
}

int vmt_x86_translate(struct vmt_x86_mmu *mmu, uint64_t root_pa, uint64_t va, uint64_t *pa,
		      uint64_t *page_size)
{
	uint64_t frame;
	int sz, err;

	if (!va_canonical(mmu, va))
		return -EINVAL;
	tlb_sync(mmu);
	root_pa &= PTE_ADDR; /* CR3 bits 11:0 are PCID or PWT/PCD, bit 63 no-flush */
	if (tlb_lookup(mmu, root_pa, va, &frame, &sz)) {
		mmu->st->tlb_hits++;
	} else {
		mmu->st->tlb_misses++;
		err = x86_walk(mmu, root_pa, va, &frame, &sz, false);
		if (err)
			return err;
		tlb_fill(mmu, root_pa, va, frame, sz);
	}
	*pa = frame | (va & ((1ull << size_shift[sz]) - 1));
	if (page_size)
		*page_size = 1ull << size_shift[sz];
	return 0;
}

int vmt_x86_read(struct vmt_x86_mmu *mmu, uint64_t root_pa, uint64_t va, void *buf, size_t len)
{
	uint64_t pa, psize, n;
	uint8_t *out = buf;
	int err;

	while (len) {
		err = vmt_x86_translate(mmu, root_pa, va, &pa, &psize);
		if (err)
			return err;
		/* Physically contiguous up to the end of the mapping page. */
		n = VMT_MIN(len, psize - (va & (psize - 1)));
		err = vmt_mem_read(mmu->mem, pa, out, n);
		if (err)
			return err;
		out += n;
		va += n;
		len -= n;
	}
	return 0;
}

int vmt_x86_mmu_new(struct vmt_mem *mem, int levels, struct vmt_x86_mmu **out)
{
	struct vmt_x86_mmu *mmu;

	*out = NULL;
	if (!mem || (levels != 4 && levels != 5))
		return vmt_error(-EINVAL, "x86-64 paging has 4 or 5 levels, not %d", levels);
	mmu = calloc(1, sizeof(*mmu));
	if (!mmu)
		return -ENOMEM;
	mmu->mem = mem;
	mmu->st = vmt_mem_stats_ptr(mem);
	mmu->levels = levels;
	mmu->seen_epoch = vmt_mem_epoch_id(mem);
	mmu->stamp = 1; /* zeroed entries are invalid */
	*out = mmu;
	return 0;
}

void vmt_x86_mmu_free(struct vmt_x86_mmu *mmu)
{
	free(mmu);
}

int vmt_x86_levels(const struct vmt_x86_mmu *mmu)
{
	return mmu->levels;
}

void vmt_x86_set_levels(struct vmt_x86_mmu *mmu, int levels)
{
	if (levels != 4 && levels != 5)
		return;
	mmu->levels = levels;
	tlb_flush(mmu);
}

void vmt_x86_set_phys_bits(struct vmt_x86_mmu *mmu, int phys_bits)
{
	if (phys_bits < 32 || phys_bits > PHYS_BITS)
		return;
	mmu->rsvd_addr = PTE_ADDR & ~((1ull << phys_bits) - 1);
	tlb_flush(mmu);
}

/* One level of every live hint walk: the next table (or the data page, final). */
static void prefetch_step(struct vmt_x86_mmu *mmu, const struct vmt_x86_hint *h, uint64_t *at,
			  uint8_t *state, size_t n, int lvl)
{
	unsigned shift = size_shift[0] + 9 * (lvl - 1);

	for (size_t i = 0; i < n; i++) {
		uint64_t e;
		bool ps;

		if (state[i] != 1)
			continue;
		state[i] = 0;
		if (vmt_mem_read_local(mmu->mem,
				       at[i] + ((h[i].va >> shift) & (PTE_ENTRIES - 1)) * 8, &e,
				       sizeof(e)) ||
		    !(e & PTE_P))
			continue;
		ps = lvl > 1 && (e & PTE_PS);
		if ((ps && lvl > 3) || (e & entry_rsvd(mmu, lvl, ps)))
			continue;
		if (lvl == 1 || ps) {
			at[i] = (e & PTE_ADDR & ~((1ull << shift) - 1)) |
				(h[i].va & ((1ull << shift) - 1) & PTE_ADDR);
			state[i] = 2; /* at[i] is the data page */
		} else {
			at[i] = e & PTE_ADDR;
			state[i] = 1;
		}
	}
}

/*
 * The hint's walk peeks at the tables (nothing cached: a thousand processes'
 * page-table paths are four thousand pages it needs eight bytes of) and
 * keeps the translation it found in the TLB, where the real read of the
 * page will find it instead of walking again.
 */
void vmt_x86_stream(struct vmt_x86_mmu *mmu, uint64_t root_pa, uint64_t va, size_t len)
{
	uint64_t frame, pa;
	int sz;

	if (!va_canonical(mmu, va) || !len || (va & (VMT_PAGE_SIZE - 1)) + len > VMT_PAGE_SIZE)
		return;
	tlb_sync(mmu);
	root_pa &= PTE_ADDR;
	if (!tlb_lookup(mmu, root_pa, va, &frame, &sz)) {
		if (x86_walk(mmu, root_pa, va, &frame, &sz, true))
			return;
		tlb_fill(mmu, root_pa, va, frame, sz);
	}
	pa = frame | (va & ((1ull << size_shift[sz]) - 1));
	vmt_mem_stream_bytes(mmu->mem, pa, len);
}

void vmt_x86_prefetch(struct vmt_x86_mmu *mmu, const struct vmt_x86_hint *h, size_t n)
{
	uint64_t *at = calloc(n, sizeof(*at)), *pfns = calloc(n, sizeof(*pfns));
	uint8_t *state = calloc(n, 1); /* 0 stopped, 1 walking (at = table), 2 at = data */
	size_t k;

	if (!vmt_mem_hints_pay(mmu->mem) || !at || !pfns || !state)
		goto out;
	tlb_sync(mmu);
	for (size_t i = 0; i < n; i++) {
		uint64_t frame;
		int sz;

		at[i] = h[i].root_pa & PTE_ADDR;
		state[i] = va_canonical(mmu, h[i].va);
		if (state[i] && tlb_lookup(mmu, at[i], h[i].va, &frame, &sz)) {
			/* translated already (a stream's hint): straight to the data page */
			at[i] = frame | (h[i].va & ((1ull << size_shift[sz]) - 1) & PTE_ADDR);
			state[i] = 2;
		}
	}
	for (int lvl = mmu->levels; lvl >= 0; lvl--) {
		k = 0;
		for (size_t i = 0; i < n; i++) {
			if (state[i] != (lvl ? 1 : 2))
				continue;
			if (!lvl && h[i].len && vmt_mem_parts(mmu->mem))
				/* just the bytes named: an exact read (the reads wait for it) */
				vmt_mem_stream_bytes(
				    mmu->mem, at[i] | (h[i].va & (VMT_PAGE_SIZE - 1)), h[i].len);
			else
				pfns[k++] = at[i] >> VMT_PAGE_SHIFT;
		}
		vmt_mem_prefetch(mmu->mem, pfns, k);
		if (lvl)
			prefetch_step(mmu, h, at, state, n, lvl);
	}
out:
	free(at);
	free(pfns);
	free(state);
}
