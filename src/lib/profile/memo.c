// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * memo.c - answers to BTF questions, remembered so that a warm start never
 * parses BTF.  A key is the question ("f" "task_struct\0pid"), the value is
 * the answer, failures included: asking again for a missing field must not
 * cost a BTF parse either.  Keys loaded from the cache file point into its
 * mapping; keys added during this run are owned copies.
 */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "profile/profile_priv.h"

int vmt_memo_key(char *buf, size_t sz, int kind, const char *a, const char *b, uint32_t *len)
{
	size_t la = strlen(a), lb = b ? strlen(b) : 0;

	/* kind + a + NUL + b + NUL */
	if (la > sz || lb > sz || 3 + la + lb > sz || 3 + la + lb > UINT16_MAX)
		return -ENAMETOOLONG;
	buf[0] = (char)kind;
	memcpy(buf + 1, a, la + 1);
	if (b)
		memcpy(buf + 2 + la, b, lb + 1);
	else
		buf[2 + la] = '\0';
	*len = (uint32_t)(2 + la + lb);
	return 0;
}

static size_t key_hash(const char *key, uint32_t len)
{
	return (size_t)vmt_hash64(key, len, 0x6d656d6f);
}

const struct vmt_memo_val *vmt_memo_get(const struct vmt_memo *m, const char *key, uint32_t len)
{
	size_t mask = m->nslots - 1;

	if (!m->nslots)
		return NULL;
	for (size_t h = key_hash(key, len) & mask; m->slots[h]; h = (h + 1) & mask) {
		const struct vmt_memo_ent *e = &m->ents[m->slots[h] - 1];

		if (e->key_len == len && !memcmp(e->key, key, len))
			return &e->val;
	}
	return NULL;
}

/* Keep the slot table at most half full; rehash everything when it grows. */
static int slots_grow(struct vmt_memo *m)
{
	size_t n = m->nslots ? m->nslots * 2 : 64, mask = n - 1;
	uint32_t *s;

	if (m->nslots && 2 * (m->n + 1) <= m->nslots)
		return 0;
	s = calloc(n, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < m->n; i++) {
		size_t h = key_hash(m->ents[i].key, m->ents[i].key_len) & mask;

		while (s[h])
			h = (h + 1) & mask;
		s[h] = (uint32_t)i + 1;
	}
	free(m->slots);
	m->slots = s;
	m->nslots = n;
	return 0;
}

static int ents_grow(struct vmt_memo *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	struct vmt_memo_ent *e;

	if (m->n < m->cap)
		return 0;
	if (cap > UINT32_MAX / 2)
		return -E2BIG;
	e = realloc(m->ents, cap * sizeof(*e));
	if (!e)
		return -ENOMEM;
	m->ents = e;
	m->cap = cap;
	return 0;
}

int vmt_memo_put(struct vmt_memo *m, const char *key, uint32_t len, const struct vmt_memo_val *v,
		 bool borrow_key)
{
	struct vmt_memo_ent *e;
	size_t mask, h;
	int err;

	if (vmt_memo_get(m, key, len))
		return 0;
	err = ents_grow(m);
	if (!err)
		err = slots_grow(m);
	if (err)
		return err;
	e = &m->ents[m->n];
	e->key = borrow_key ? key : NULL;
	if (!borrow_key) {
		char *k = malloc(len);

		if (!k)
			return -ENOMEM;
		memcpy(k, key, len);
		e->key = k;
	}
	e->key_len = len;
	e->owned = !borrow_key;
	e->val = *v;
	mask = m->nslots - 1;
	for (h = key_hash(key, len) & mask; m->slots[h]; h = (h + 1) & mask)
		;
	m->slots[h] = (uint32_t)++m->n;
	m->nr_new += !borrow_key;
	return 0;
}

void vmt_memo_clear(struct vmt_memo *m)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->ents[i].owned)
			free((void *)m->ents[i].key);
	free(m->ents);
	free(m->slots);
	memset(m, 0, sizeof(*m));
}
