/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* split_priv.h - what the files of the split part share. */
#ifndef VMT_SPLIT_PRIV_H
#define VMT_SPLIT_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "memsrc/srcmap.h"
#include "split/split.h"

/* ------------------------------------------------ QEMU command lines (qargs.c) */

#define QARGS_MAX 512

struct qargs {
	char *v[QARGS_MAX + 1];
	int n;
};

/* What a QEMU command line says about the VM. */
struct qemu_info {
	char mem_path[4096]; /* memory-backend-file's mem-path */
	bool mem_share;	     /* share=on */
	uint64_t mem_bytes;  /* its size= (or -m) */
	char machine[16];    /* "pc" or "q35" */
	char kernel[4096], initrd[4096], append[2048];
	char qmp_sock[4096];	/* first QMP UNIX server socket */
	char console_log[4096]; /* first -serial file: / chardev file */
	char pidfile[4096];
	bool daemonize, kvm, la57;
	unsigned file_backends; /* memory-backend-file objects */
};

/* The old and new paths of what the destination QEMU must not share with the source. */
#define QMAP_MAX 32
struct qmap {
	int n;
	struct {
		char old[4096], new[4096];
	} e[QMAP_MAX];
};

int qargs_read_pid(pid_t pid, struct qargs *out);
void qargs_free(struct qargs *a);
int qargs_inspect(const struct qargs *a, struct qemu_info *out);
/*
 * The destination's command line: mem-path -> new_mem, server sockets, file
 * logs and the pidfile -> new paths in dir (prefix "g<gen>-"), -daemonize
 * and -incoming dropped, "-incoming defer" added.  map gets every rename.
 */
int qargs_rewrite(const struct qargs *src, const char *new_mem, const char *dir, int gen,
		  struct qargs *out, struct qmap *map);
/* The new name of old in map, or old itself. */
const char *qmap_get(const struct qmap *map, const char *old);
/* Parse a QEMU size ("512M", "2G", bytes); -EINVAL. */
int qsize_parse(const char *s, uint64_t *out);

/* ------------------------------------------------ placement (place.c, core.c) */

/* Per-chunk flags. */
enum {
	CH_DATA = 1u << 0,   /* not all zeros */
	CH_CORE = 1u << 1,   /* kernel image or kernel page table */
	CH_RECENT = 1u << 2, /* changed during the sampling window */
	CH_FREE = 1u << 3,   /* every page on the guest's buddy free lists: placed nowhere */
	CH_KERNEL = 1u << 4, /* the kernel's own pages (reserved, slab, page tables): main first */
	/*
	 * Of the kernel's own pages, what every listing reads, kept first when
	 * they do not all fit: each process's page tables down to its arguments
	 * (CH_PATH), then slab (CH_SLAB: tasks, mms, creds, files ...).  Kernel
	 * stacks, the struct page array, other page tables come after them.
	 */
	CH_PATH = 1u << 5,
	CH_SLAB = 1u << 6,
};

struct place {
	uint64_t ram_size, nr_chunks;
	unsigned shift;
	uint8_t *flags; /* nr_chunks */
	uint8_t *loc;	/* nr_chunks: VMT_PT_ABSENT / MAIN / SUB + k */
	uint64_t core, recent, data, main;
	uint64_t kernel; /* CH_KERNEL chunks with data, not core */
	uint64_t free;	 /* chunks with data skipped for being free (CH_FREE, not core) */
	/* The free-list walk (core.c): blocks and pages seen, or why it was not used. */
	uint64_t free_blocks, free_pages;
	int free_err; /* 0, -ENOTSUP (poisoning), or the walk's error */
	uint64_t host_chunks[VMT_SPLIT_MAX_HOSTS];
};

/* Keyed 64-bit hash of a chunk's bytes, 0 for all zeros (change detection, not crypto). */
uint64_t place_chunk_hash(const void *buf, size_t len);
/* Hash of each chunk (holes and zeros are 0): sampling, and pre-copy's dirty check. */
int place_hash_pass(int fd, const struct place *p, uint64_t *hash);
struct srcmap;
/* CH_DATA from the RAM file, read through m (NULL: a mapping of fd of its own). */
int place_scan_zero(int fd, const struct srcmap *m, struct place *p);
#define CORE_WANT_FREE	 1u /* CH_FREE: chunks wholly on the guest's free lists */
#define CORE_WANT_KERNEL 2u /* CH_KERNEL: the kernel's own pages (a kernel-first policy) */
/*
 * Mark the guest kernel's image and page tables CH_CORE; with CORE_WANT_FREE,
 * also CH_FREE on the chunks whose every page is on the guest's buddy free
 * lists (unless the guest poisons free pages: p->free_err = -ENOTSUP), and
 * with CORE_WANT_KERNEL, CH_KERNEL on the kernel's own pages.  A free-list
 * walk that fails marks nothing (p->free_err) and is no error.
 */
int place_mark_core(const char *mem_path, const char *kernel, const char *machine, unsigned want,
		    struct place *p);
/*
 * Decide loc[] by policy: main_budget chunks on the main host, the rest
 * over nr_hosts sub-hosts within quota[k] chunks each.  -ENOSPC (message
 * set) when the core does not fit or the sub-hosts lack room.
 */
int place_decide(struct place *p, enum vmt_split_policy pol, uint64_t main_budget,
		 unsigned nr_hosts, const uint64_t *quota);

/* The source file: src/lib/memsrc/srcmap.h (a read-only mapping that never touches a hole). */

/* Is the 4 KiB-aligned buffer all zeros? */
bool buf_is_zero(const void *buf, size_t len);

#endif
