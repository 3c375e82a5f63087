// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * policy.c - victim choice for page-out (see policy.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pager/policy.h"

#define POLICY_F_MAIN 1u /* tracked as MAIN */
#define POLICY_F_REF  2u /* used since the clock hand last passed */
#define POLICY_NIL    UINT32_MAX

static const char *const policy_names[] = {
    [POLICY_CLOCK] = "clock",
    [POLICY_FIFO] = "fifo",
    [POLICY_ADDRESS] = "address",
};

int pager_policy_parse(const char *name, enum pager_policy_kind *out)
{
	for (unsigned k = 0; k < sizeof(policy_names) / sizeof(policy_names[0]); k++) {
		if (!strcmp(name, policy_names[k])) {
			*out = (enum pager_policy_kind)k;
			return 0;
		}
	}
	return -EINVAL;
}

const char *pager_policy_name(enum pager_policy_kind kind)
{
	return kind <= POLICY_ADDRESS ? policy_names[kind] : "?";
}

int pager_policy_init(struct pager_policy *p, enum pager_policy_kind kind, uint64_t nr)
{
	memset(p, 0, sizeof(*p));
	if (!nr || nr >= POLICY_NIL || kind > POLICY_ADDRESS)
		return -EINVAL;
	p->kind = kind;
	p->nr = nr;
	p->head = p->tail = POLICY_NIL;
	p->state = calloc(nr, 1);
	if (kind == POLICY_FIFO) {
		p->prev = malloc(nr * sizeof(uint32_t));
		p->next = malloc(nr * sizeof(uint32_t));
	}
	if (!p->state || (kind == POLICY_FIFO && (!p->prev || !p->next))) {
		pager_policy_free(p);
		return -ENOMEM;
	}
	return 0;
}

void pager_policy_free(struct pager_policy *p)
{
	free(p->state);
	free(p->prev);
	free(p->next);
	memset(p, 0, sizeof(*p));
}

static void fifo_unlink(struct pager_policy *p, uint32_t i)
{
	uint32_t a = p->prev[i], b = p->next[i];

	if (a != POLICY_NIL)
		p->next[a] = b;
	else
		p->head = b;
	if (b != POLICY_NIL)
		p->prev[b] = a;
	else
		p->tail = a;
}

void pager_policy_add(struct pager_policy *p, uint64_t i)
{
	if (i >= p->nr || (p->state[i] & POLICY_F_MAIN))
		return;
	p->state[i] = POLICY_F_MAIN | POLICY_F_REF;
	p->resident++;
	if (p->kind != POLICY_FIFO)
		return;
	p->prev[i] = p->tail;
	p->next[i] = POLICY_NIL;
	if (p->tail != POLICY_NIL)
		p->next[p->tail] = (uint32_t)i;
	else
		p->head = (uint32_t)i;
	p->tail = (uint32_t)i;
}

void pager_policy_remove(struct pager_policy *p, uint64_t i)
{
	if (i >= p->nr || !(p->state[i] & POLICY_F_MAIN))
		return;
	p->state[i] = 0;
	p->resident--;
	if (p->kind == POLICY_FIFO)
		fifo_unlink(p, (uint32_t)i);
}

void pager_policy_touch(struct pager_policy *p, uint64_t i)
{
	if (i < p->nr && (p->state[i] & POLICY_F_MAIN))
		p->state[i] |= POLICY_F_REF;
}

static int fifo_pick(struct pager_policy *p, pager_policy_ok_fn ok, void *ctx, uint64_t *victim)
{
	for (uint32_t i = p->head; i != POLICY_NIL; i = p->next[i]) {
		if (ok(i, ctx)) {
			*victim = i;
			return 0;
		}
	}
	return -ENOENT;
}

/* Clock and address share the hand; only clock honours (and clears) the bit. */
static int hand_pick(struct pager_policy *p, pager_policy_ok_fn ok, void *ctx, uint64_t *victim)
{
	bool clock = p->kind == POLICY_CLOCK;

	for (uint64_t n = 0; n < 2 * p->nr; n++) {
		uint64_t i = p->hand;

		p->hand = i + 1 == p->nr ? 0 : i + 1;
		if (!(p->state[i] & POLICY_F_MAIN))
			continue;
		if (clock && (p->state[i] & POLICY_F_REF)) {
			p->state[i] &= (uint8_t)~POLICY_F_REF;
			if (p->aged)
				p->aged(i, ctx);
			continue;
		}
		if (ok(i, ctx)) {
			*victim = i;
			return 0;
		}
	}
	return -ENOENT;
}

int pager_policy_pick(struct pager_policy *p, pager_policy_ok_fn ok, void *ctx, uint64_t *victim)
{
	if (!p->resident)
		return -ENOENT;
	return p->kind == POLICY_FIFO ? fifo_pick(p, ok, ctx, victim)
				      : hand_pick(p, ok, ctx, victim);
}
