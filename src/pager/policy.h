/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * policy.h - which MAIN chunk the pager pushes out next.  Pure bookkeeping
 * over chunk indices (no I/O, no locks: the pager calls it under its lock),
 * so the unit tests drive it directly.
 *
 *  clock    second chance: a chunk that was paged in, zero-filled or
 *           written (WP fault) since the hand last passed is young; the
 *           hand clears that bit and moves on, an old chunk is the victim.
 *           Every pass of the hand ages every chunk by one step, so the
 *           recently used chunks stay (the S-memV idea of per-chunk access
 *           history with aging).
 *  fifo     the chunk that became MAIN longest ago, whatever its use.
 *  address  round robin by address: the next MAIN chunk after the last
 *           victim (deterministic, for experiments).
 */
#ifndef VMT_PAGER_POLICY_H
#define VMT_PAGER_POLICY_H

#include <stdbool.h>
#include <stdint.h>

enum pager_policy_kind { POLICY_CLOCK, POLICY_FIFO, POLICY_ADDRESS };

/* Is chunk i a victim the pager can take now (MAIN and not busy)? */
typedef bool (*pager_policy_ok_fn)(uint64_t i, void *ctx);
/* Clock: the hand just took chunk i's young bit (the pager re-arms its evidence). */
typedef void (*pager_policy_aged_fn)(uint64_t i, void *ctx);

struct pager_policy {
	enum pager_policy_kind kind;
	uint64_t nr;	/* chunks */
	uint8_t *state; /* per chunk: POLICY_F_* bits */
	uint32_t *prev; /* fifo: doubly linked list of MAIN chunks */
	uint32_t *next;
	uint32_t head;		   /* fifo: oldest */
	uint32_t tail;		   /* fifo: newest */
	uint64_t hand;		   /* clock / address: where the next search starts */
	uint64_t resident;	   /* chunks tracked as MAIN */
	pager_policy_aged_fn aged; /* optional */
};

/* Name to kind; -EINVAL for an unknown name. */
int pager_policy_parse(const char *name, enum pager_policy_kind *out);
const char *pager_policy_name(enum pager_policy_kind kind);
/* Allocate for nr chunks (nr < 2^32 - 1); -ENOMEM, -EINVAL. */
int pager_policy_init(struct pager_policy *p, enum pager_policy_kind kind, uint64_t nr);
void pager_policy_free(struct pager_policy *p);
/* Chunk i became MAIN (paged in, zero-filled, or MAIN from the start). */
void pager_policy_add(struct pager_policy *p, uint64_t i);
/* Chunk i left MAIN. */
void pager_policy_remove(struct pager_policy *p, uint64_t i);
/* Evidence that chunk i is in use (a fault on it). */
void pager_policy_touch(struct pager_policy *p, uint64_t i);
/*
 * The next victim: a tracked chunk for which ok() holds, in the policy's
 * order; -ENOENT if none (scans at most two rounds).  The victim stays
 * tracked until pager_policy_remove (a failed page-out keeps it MAIN).
 */
int pager_policy_pick(struct pager_policy *p, pager_policy_ok_fn ok, void *ctx, uint64_t *victim);

#endif
