/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pager_probe.h - the pager measured without QEMU: a memory file whose
 * every chunk is on one sub-host, a child process with libvmt-pager.so
 * preloaded that maps it and touches it (fault to resume of pages not
 * resident; or streaming through twice the cap), and the plain NBD reads
 * it is compared with.  `vmt bench micro` (section pager) and
 * bench/bench_pager.c both use it.
 */
#ifndef VMT_BENCH_PAGER_PROBE_H
#define VMT_BENCH_PAGER_PROBE_H

#include <stdint.h>

struct vmt_subhost;

struct pager_probe {
	const char *addr;	       /* HOST:PORT of the sub-host's NBD server */
	const char *export_name;       /* "" or NULL: the default export */
	const char *psk;	       /* TLS-PSK key file */
	const char *pager_so;	       /* libvmt-pager.so */
	const char *tail;	       /* the pager's tail= ("after", "parallel") */
	const char *netns;	       /* the child's network namespace; NULL: ours */
	const char *mem;	       /* the memory file (in /dev/shm) */
	const char *const *child_argv; /* runs pager_probe_child: argv before its own */
	uint64_t ram;		       /* bytes of the memory file */
	unsigned samples;	       /* faults per run (at most one per chunk) */
	char dir[64];		       /* private folder: page table, config, log, socket */
};

/* Make p->dir ("" if that failed).  0 or -errno. */
int pager_probe_init(struct pager_probe *p);
/* Remove p->dir and p->mem. */
void pager_probe_fini(struct pager_probe *p);

/*
 * One child run: fault to resume of one page in each of up to p->samples
 * distinct chunks, none resident, 2 ms + 20 ns per chunk byte apart (the
 * previous chunk's tail lands first).  *us gets the samples (malloc'ed, *n
 * of them), *own_p50 the pager's own page-in median (us; 0 unknown).
 */
int pager_probe_fault(struct pager_probe *p, uint64_t chunk, double **us, unsigned *n,
		      double *own_p50);
/* One child run streaming read+write through the file twice, cap = half of it: MB/s. */
int pager_probe_stream(struct pager_probe *p, uint64_t chunk, double *mbs);

/*
 * Plain preads of len bytes at random aligned offsets below ram, gap_ns
 * apart: n samples in us into out.  0 or the read's -errno.
 */
int pager_probe_nbd_us(struct vmt_subhost *s, uint64_t ram, uint64_t len, uint64_t gap_ns,
		       unsigned n, double *out);

/* The child's side: argv = MODE CHUNK RAM SAMPLES MEMFILE (MODE fault|stream).  Exit code. */
int pager_probe_child(int argc, char **argv);

#endif
