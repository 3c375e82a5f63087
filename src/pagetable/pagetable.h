/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pagetable.h - where each chunk of a split VM's guest RAM lives.
 *
 * The page table is a file beside the VM's memory file (<vm dir>/pagetable),
 * mapped MAP_SHARED by its one writer and by any number of readers:
 *  - `vmt split` creates and fills it before the destination QEMU starts;
 *  - from then on the pager inside QEMU (libvmt-pager.so) is the only writer;
 *  - readers (the runtime, `vmt vm show`, tests) map it read-only.
 *
 * File layout: struct vmt_pt_header (VMT_PT_HEADER_SIZE bytes), then
 * nr_chunks 64-bit entries.  Chunk i covers memory-file offsets
 * [i << chunk_shift, (i + 1) << chunk_shift): offsets in the RAM file, which
 * are also the offsets in every sub-host's NBD export (a chunk is one
 * contiguous read there).  The runtime maps guest-physical addresses to
 * file offsets with its RAM layout (memsrc.h) before asking here.
 *
 * Entry (one atomic 64-bit word):
 *   bits  0..7   location: VMT_PT_ABSENT, VMT_PT_MAIN, or VMT_PT_SUB + k
 *   bits  8..15  clean copy: 0, or k + 1 when loc is MAIN and sub-host k
 *                still holds a byte-identical copy (the chunk came home and
 *                has not been written since: write-protect tracking), so a
 *                page-out need not send it again
 *   bits 16..23  flags: VMT_PT_F_PINNED (bit 16) = the VM's core (kernel
 *                image, kernel page tables): it stays on the main host, the
 *                pager never pages it out; set by `vmt split`, kept by moves
 *   bits 24..63  sequence: even = stable, odd = moving; +1 when a move
 *                starts, +1 when it ends, so it changes on every move
 *
 * Locations:
 *   ABSENT  no data anywhere: never written, or all zeros; reads as zeros
 *           (a hole in the memory file that faults to a zero page)
 *   MAIN    in the memory file on the main host; a hole inside a MAIN
 *           chunk is a page of zeros
 *   SUB+k   on sub-host k (hosts[k] in the header), in its export at the
 *           same offset; the memory file has a hole there
 *
 * Reader protocol (seqlock; vmt_pt_read_begin / vmt_pt_read_retry):
 *   e1 = vmt_pt_read_begin(pt, i)          acquire load; if moving, the
 *                                          reader backs off and retries
 *   read the data from where e1 says (pread of the memory file, or NBD)
 *   if vmt_pt_read_retry(pt, i, e1): the chunk moved while we read: retry
 * A read that raced a page-out sees the sequence change and retries; it
 * never returns the zeros of a freshly punched hole as data.  Readers
 * bound their retries and report the object as unreadable after that.
 *
 * Writer protocol (vmt_pt_move_begin / vmt_pt_move_end), for page-out:
 *   write-protect the chunk in QEMU, copy it, send it, wait for the
 *   sub-host's flush, then move_begin (seq odd), punch the hole,
 *   move_end(SUB + k) (seq even), un-write-protect.  For page-in:
 *   move_begin, fetch, UFFDIO_COPY, move_end(MAIN).  The per-host counters
 *   in the header are updated by move_end.  Only one writer process may
 *   hold the table (the pager holds an exclusive flock on it).
 */
#ifndef VMT_PAGETABLE_H
#define VMT_PAGETABLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VMT_PT_MAGIC	   "VMTPGTB1"
#define VMT_PT_VERSION	   1
#define VMT_PT_HEADER_SIZE 8192u
#define VMT_PT_MAX_HOSTS   16
#define VMT_PT_ADDR_MAX	   128 /* "HOST:PORT" */
#define VMT_PT_NAME_MAX	   64

/* Chunk sizes the page table takes: 4 KiB .. 2 MiB, powers of two. */
#define VMT_PT_CHUNK_SHIFT_MIN 12
#define VMT_PT_CHUNK_SHIFT_MAX 21

enum vmt_pt_loc {
	VMT_PT_ABSENT = 0,
	VMT_PT_MAIN = 1,
	VMT_PT_SUB = 2, /* VMT_PT_SUB + k: sub-host k, k < VMT_PT_MAX_HOSTS */
};

struct vmt_pt_host {
	char addr[VMT_PT_ADDR_MAX];   /* HOST:PORT of its NBD server */
	char export[VMT_PT_NAME_MAX]; /* NBD export name ("" = default) */
	char name[VMT_PT_NAME_MAX];   /* as the user named it, e.g. "sub1" */
	uint64_t quota_chunks;	      /* most chunks that may live there */
	_Atomic uint64_t chunks;      /* chunks whose location is this host */
	_Atomic uint64_t copies;      /* chunks with a clean copy here */
};

struct vmt_pt_header {
	char magic[8]; /* VMT_PT_MAGIC, no NUL */
	uint32_t version;
	uint32_t header_size;		/* VMT_PT_HEADER_SIZE */
	uint64_t ram_size;		/* bytes of the memory file */
	uint32_t chunk_shift;		/* log2 of the chunk size */
	uint32_t nr_hosts;		/* sub-hosts, <= VMT_PT_MAX_HOSTS */
	uint64_t nr_chunks;		/* ram_size >> chunk_shift, rounded up */
	uint64_t cap_chunks;		/* main-host cap: most MAIN chunks (0 = none) */
	_Atomic uint64_t main_chunks;	/* chunks whose location is MAIN */
	_Atomic uint64_t absent_chunks; /* chunks whose location is ABSENT */
	_Atomic uint64_t generation;	/* +1 on every move_end: "did anything move?" */
	_Atomic uint64_t writer_pid;	/* pid of the process that writes it now */
	struct vmt_pt_host hosts[VMT_PT_MAX_HOSTS];
};

_Static_assert(sizeof(struct vmt_pt_header) <= VMT_PT_HEADER_SIZE, "page table header too big");

/* An open page table: the mapping and what was checked when it was opened. */
struct vmt_pt {
	struct vmt_pt_header *hdr;
	_Atomic uint64_t *entry; /* nr_chunks entries */
	size_t map_len;
	int fd;
	bool writable;
};

#define VMT_PT_LOC_MASK	  0xffull
#define VMT_PT_COPY_SHIFT 8
#define VMT_PT_COPY_MASK  (0xffull << VMT_PT_COPY_SHIFT)
#define VMT_PT_F_PINNED	  (1ull << 16)
#define VMT_PT_FLAGS_MASK (0xffull << 16)
#define VMT_PT_SEQ_SHIFT  24
#define VMT_PT_SEQ_ONE	  (1ull << VMT_PT_SEQ_SHIFT)

static inline unsigned vmt_pt_e_loc(uint64_t e)
{
	return (unsigned)(e & VMT_PT_LOC_MASK);
}
/* Sub-host holding a clean copy of a MAIN chunk, or -1. */
static inline int vmt_pt_e_copy(uint64_t e)
{
	return (int)((e & VMT_PT_COPY_MASK) >> VMT_PT_COPY_SHIFT) - 1;
}
static inline uint64_t vmt_pt_e_seq(uint64_t e)
{
	return e >> VMT_PT_SEQ_SHIFT;
}
static inline bool vmt_pt_e_moving(uint64_t e)
{
	return vmt_pt_e_seq(e) & 1;
}
/* Sub-host index of a SUB location, or -1. */
static inline int vmt_pt_loc_host(unsigned loc)
{
	return loc >= VMT_PT_SUB && loc < VMT_PT_SUB + VMT_PT_MAX_HOSTS ? (int)(loc - VMT_PT_SUB)
									: -1;
}

/*
 * Chunks the pager keeps free under a cap of cap_chunks (1/32, at least one
 * above two chunks), so that most faults never wait for a page-out; the
 * split leaves twice this free for it.
 */
static inline uint64_t vmt_pt_free_target(uint64_t cap_chunks)
{
	return cap_chunks >= 32 ? cap_chunks / 32 : cap_chunks > 2;
}

/* ------------------------------------------------------------- geometry */

/* Is shift a chunk size the page table takes? */
static inline bool vmt_pt_chunk_shift_ok(unsigned shift)
{
	return shift >= VMT_PT_CHUNK_SHIFT_MIN && shift <= VMT_PT_CHUNK_SHIFT_MAX;
}
/* log2 of a chunk size in bytes, or -EINVAL unless a power of two in 4K..2M. */
int vmt_pt_chunk_shift_of(uint64_t bytes);
/* Chunks covering ram_size bytes (the last one may be short). */
static inline uint64_t vmt_pt_nr_chunks(uint64_t ram_size, unsigned shift)
{
	return (ram_size + (1ull << shift) - 1) >> shift;
}
/* Byte length of chunk i (the last one may be short); 0 if out of range. */
uint64_t vmt_pt_chunk_len(const struct vmt_pt *pt, uint64_t i);
/* Parse "4K", "64k", "2M", "1048576" into bytes; -EINVAL on junk or overflow. */
int vmt_pt_parse_size(const char *s, uint64_t *out);

/* ------------------------------------------------------- open and create */

struct vmt_pt_create_opts {
	size_t sz;
	uint64_t ram_size;
	unsigned chunk_shift;
	uint64_t cap_chunks;
	unsigned nr_hosts;
	const struct vmt_pt_host *hosts; /* nr_hosts; counters ignored */
};

/*
 * Create path (mode 0600; fails with -EEXIST if it exists) with every chunk
 * ABSENT, and open it writable.  Errors: -EINVAL bad geometry or too many
 * hosts, -errno from the file system.
 */
int vmt_pt_create(const char *path, const struct vmt_pt_create_opts *o, struct vmt_pt *out);
/*
 * Open an existing page table; writable=false maps it read-only.  Checks
 * the magic, version, geometry and that the file holds every entry:
 * -EBADMSG otherwise (a corrupt or foreign file), -ENOENT if absent.
 */
int vmt_pt_open(const char *path, bool writable, struct vmt_pt *out);
/* Unmap and close; a zeroed or closed pt is fine. */
void vmt_pt_close(struct vmt_pt *pt);

/* Chunk index of a memory-file offset. */
static inline uint64_t vmt_pt_chunk_of(const struct vmt_pt *pt, uint64_t off)
{
	return off >> pt->hdr->chunk_shift;
}

/* ------------------------------------------------------------- readers */

/* Acquire-load entry i (the caller checks i < nr_chunks). */
static inline uint64_t vmt_pt_load(const struct vmt_pt *pt, uint64_t i)
{
	return atomic_load_explicit(&pt->entry[i], memory_order_acquire);
}
/*
 * Start a read of chunk i: its entry, once it is not moving.  Spins politely
 * (sched_yield, then short sleeps) for at most timeout_ms; -EAGAIN if the
 * chunk was still moving then (the writer may be stuck on a dead sub-host).
 */
int vmt_pt_read_begin(const struct vmt_pt *pt, uint64_t i, int timeout_ms, uint64_t *entry);
/* After reading the data: true if chunk i moved since e was loaded (retry). */
static inline bool vmt_pt_read_retry(const struct vmt_pt *pt, uint64_t i, uint64_t e)
{
	atomic_thread_fence(memory_order_acquire);
	return vmt_pt_load(pt, i) != e;
}

/* ------------------------------------------------------------- writer */

/*
 * Mark chunk i moving (seq becomes odd) and return its entry as it was.
 * -EBUSY if it is already moving (a writer bug), -ERANGE if i is out of range.
 */
int vmt_pt_move_begin(struct vmt_pt *pt, uint64_t i, uint64_t *old);
/*
 * End the move of chunk i: new location loc (and copy host, -1 for none),
 * seq even again; updates the header's counters and generation.
 */
int vmt_pt_move_end(struct vmt_pt *pt, uint64_t i, unsigned loc, int copy);
/*
 * Set a chunk's location without the moving state, for `vmt split` filling
 * a table that no reader or pager has yet.  Updates the counters.
 */
int vmt_pt_set(struct vmt_pt *pt, uint64_t i, unsigned loc, int copy);
/* Pin chunk i on the main host (VMT_PT_F_PINNED); seq unchanged. */
int vmt_pt_pin(struct vmt_pt *pt, uint64_t i);
static inline bool vmt_pt_e_pinned(uint64_t e)
{
	return e & VMT_PT_F_PINNED;
}
/* Drop the clean copy of a MAIN chunk (the guest wrote it); seq unchanged. */
int vmt_pt_drop_copy(struct vmt_pt *pt, uint64_t i);

/* Counts by location, recomputed from the entries (for checks and tests). */
struct vmt_pt_census {
	uint64_t absent, main, moving, pinned;
	uint64_t sub[VMT_PT_MAX_HOSTS];
	uint64_t copies[VMT_PT_MAX_HOSTS];
};
void vmt_pt_census(const struct vmt_pt *pt, struct vmt_pt_census *c);

/* ------------------------------------------------- the RAM file's lock */

/*
 * Who may punch holes in a VM's RAM file holds its flock(2) exclusively
 * while it may: the pager from registering QEMU's mapping until QEMU exits,
 * the split around freeing its source's pages.  A reader that maps the file
 * (memsrc/file.c) holds it shared for one listing, because a read fault
 * through the mapping on a page punched under it would put a zero page back
 * into the file, where the guest then reads zeros instead of faulting to its
 * sub-host.  Take it exclusively, waiting at most wait_ms for readers'
 * listings: 0, -EWOULDBLOCK if a reader held it that long, or -errno.
 */
int vmt_ramfile_punch_lock(int fd, unsigned wait_ms);

#endif
