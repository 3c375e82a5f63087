// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * btf.c - struct layouts from the vmlinux's .BTF section.
 *
 * libbpf parses and validates the blob; we add a name index because
 * btf__find_by_name_kind() scans all ~100k vmlinux types per call, and
 * resolve dotted member paths the way C does: a name not found among a
 * struct's own members is searched inside its anonymous struct/union
 * members, whose offsets add up.  Modifiers and typedefs are looked
 * through.  Offsets are tracked in bits and must come out byte-aligned.
 */
#include <bpf/btf.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "profile/profile_priv.h"

#define MOD_DEPTH_MAX  32 /* typedef/const chains longer than this are a loop */
#define ANON_DEPTH_MAX 16 /* nesting of anonymous members */

struct vmt_btf {
	struct btf *btf;
	uint32_t *slots; /* type ids of named struct/union/enum/typedef, 0 = empty */
	size_t mask;
};

enum want {
	WANT_COMPOSITE,
	WANT_ENUM,
};

static uint64_t name_hash(const char *s)
{
	return vmt_hash64(s, strlen(s), 0);
}

static const char *type_name(const struct btf *btf, const struct btf_type *t)
{
	const char *s = btf__name_by_offset(btf, t->name_off);

	return s ? s : "";
}

static bool indexed_kind(const struct btf_type *t)
{
	return btf_is_composite(t) || btf_is_any_enum(t) || btf_is_typedef(t);
}

static int index_build(struct vmt_btf *b)
{
	uint32_t n = btf__type_cnt(b->btf), named = 0;
	size_t nslots = 16;

	for (uint32_t id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(b->btf, id);

		named += indexed_kind(t) && t->name_off;
	}
	while (nslots < 2 * (size_t)named)
		nslots *= 2;
	b->slots = calloc(nslots, sizeof(*b->slots));
	if (!b->slots)
		return -ENOMEM;
	b->mask = nslots - 1;
	/* Ascending ids: the first match along a probe chain is the lowest id. */
	for (uint32_t id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(b->btf, id);
		size_t h;

		if (!indexed_kind(t) || !t->name_off)
			continue;
		for (h = name_hash(type_name(b->btf, t)) & b->mask; b->slots[h];
		     h = (h + 1) & b->mask)
			;
		b->slots[h] = id;
	}
	return 0;
}

struct vmt_btf *vmt_btf_new(const void *data, size_t len)
{
	struct vmt_btf *b;
	int err;

	if (!len || len > UINT32_MAX) {
		errno = ENOENT;
		vmt_error(-ENOENT, "the kernel has no BTF (CONFIG_DEBUG_INFO_BTF=n?)");
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->btf = btf__new(data, (uint32_t)len);
	if (!b->btf) {
		err = errno;
		free(b);
		vmt_error(-EBADMSG, "the kernel's BTF is corrupt (libbpf: %s)", strerror(err));
		errno = EBADMSG;
		return NULL;
	}
	err = index_build(b);
	if (err) {
		vmt_btf_free(b);
		errno = -err;
		return NULL;
	}
	return b;
}

void vmt_btf_free(struct vmt_btf *b)
{
	if (!b)
		return;
	btf__free(b->btf);
	free(b->slots);
	free(b);
}

const struct btf *vmt_btf_get(const struct vmt_btf *b)
{
	return b->btf;
}

/* Follow typedef/const/volatile/restrict/type_tag to the real type; 0 for void or a loop. */
static uint32_t skip_mods(const struct btf *btf, uint32_t id)
{
	for (int i = 0; i < MOD_DEPTH_MAX; i++) {
		const struct btf_type *t = btf__type_by_id(btf, id);

		if (!t || !(btf_is_mod(t) || btf_is_typedef(t)))
			return t ? id : 0;
		id = t->type;
	}
	return 0;
}

static bool kind_fits(const struct btf_type *t, enum want w)
{
	return w == WANT_COMPOSITE ? btf_is_composite(t) : btf_is_any_enum(t);
}

/* "struct foo", "union foo", "enum foo" or "foo": the bare name. */
static const char *strip_tag(const char *name)
{
	static const char *const tags[] = {"struct ", "union ", "enum "};

	for (size_t i = 0; i < ARRAY_SIZE(tags); i++)
		if (!strncmp(name, tags[i], strlen(tags[i])))
			return name + strlen(tags[i]);
	return name;
}

/* Type id of the named struct/union (or enum), through a typedef if need be; 0 if none. */
static uint32_t type_find(const struct vmt_btf *b, const char *name, enum want w)
{
	uint32_t via_typedef = 0;

	name = strip_tag(name);
	for (size_t h = name_hash(name) & b->mask; b->slots[h]; h = (h + 1) & b->mask) {
		uint32_t id = b->slots[h], real;
		const struct btf_type *t = btf__type_by_id(b->btf, id);

		if (strcmp(type_name(b->btf, t), name))
			continue;
		if (kind_fits(t, w))
			return id;
		real = btf_is_typedef(t) ? skip_mods(b->btf, id) : 0;
		if (real && !via_typedef && kind_fits(btf__type_by_id(b->btf, real), w))
			via_typedef = real;
	}
	return via_typedef;
}

struct member_hit {
	uint64_t bit_off;
	uint32_t type;
	bool bitfield;
};

/*
 * Member visits one lookup may make.  Nesting alone does not bound the
 * search: a hostile BTF can nest k anonymous members of one type in itself,
 * k^16 paths.  Real kernels need a few hundred visits.
 */
#define MEMBER_VISITS_MAX 65536

/*
 * Member "name" (length n) of composite sid, searched into anonymous members
 * too; *budget counts member visits down (-ELOOP when spent).
 */
static int member_find(const struct btf *btf, uint32_t sid, const char *name, size_t n, int depth,
		       uint32_t *budget, struct member_hit *hit)
{
	const struct btf_type *t = btf__type_by_id(btf, sid);
	const struct btf_member *m = btf_members(t);
	uint16_t vlen = btf_vlen(t);

	if (*budget < vlen)
		return -ELOOP;
	*budget -= vlen;
	for (uint16_t i = 0; i < vlen; i++) {
		const char *mn = btf__name_by_offset(btf, m[i].name_off);

		if (mn && strlen(mn) == n && !strncmp(mn, name, n)) {
			hit->bit_off += btf_member_bit_offset(t, i);
			hit->bitfield = btf_member_bitfield_size(t, i) != 0;
			hit->type = m[i].type;
			return 0;
		}
	}
	if (depth >= ANON_DEPTH_MAX)
		return -ENOENT;
	for (uint16_t i = 0; i < vlen; i++) {
		uint32_t mid = m[i].name_off ? 0 : skip_mods(btf, m[i].type);
		struct member_hit sub = {0};
		int err;

		if (!mid || mid == sid || !btf_is_composite(btf__type_by_id(btf, mid)))
			continue;
		err = member_find(btf, mid, name, n, depth + 1, budget, &sub);
		if (err == -ELOOP)
			return err;
		if (!err) {
			hit->bit_off += btf_member_bit_offset(t, i) + sub.bit_off;
			hit->bitfield = sub.bitfield;
			hit->type = sub.type;
			return 0;
		}
	}
	return -ENOENT;
}

/* Apply "[i]" subscripts at *s to an array-typed hit. */
static int subscripts_apply(const struct btf *btf, const char **s, struct member_hit *hit)
{
	while (**s == '[') {
		const struct btf_type *t = btf__type_by_id(btf, skip_mods(btf, hit->type));
		char *end;
		unsigned long long i = strtoull(*s + 1, &end, 0);
		int64_t esz;

		if (*end != ']' || !t || !btf_is_array(t))
			return -EINVAL;
		esz = btf__resolve_size(btf, btf_array(t)->type);
		if (esz < 0 || (btf_array(t)->nelems && i >= btf_array(t)->nelems) ||
		    i > (UINT32_MAX / 8) / (uint64_t)(esz ? esz : 1))
			return -EINVAL;
		hit->bit_off += i * (uint64_t)esz * 8;
		hit->type = btf_array(t)->type;
		*s = end + 1;
	}
	return **s == '\0' || **s == '.' ? 0 : -EINVAL;
}

/* Walk the dotted path from struct sid; one component at a time. */
static int path_walk(const struct btf *btf, uint32_t sid, const char *type, const char *path,
		     struct member_hit *hit)
{
	const char *s = path;
	uint32_t budget = MEMBER_VISITS_MAX;

	hit->type = sid;
	while (*s) {
		size_t n = strcspn(s, ".[");
		uint32_t cur = skip_mods(btf, hit->type);
		int err;

		/* s > path here: the first component starts in a struct by construction. */
		if (!cur || !btf_is_composite(btf__type_by_id(btf, cur)))
			return vmt_error(-EINVAL, "%s.%s: '%.*s' is not a struct or union", type,
					 path, (int)(s - path - 1), path);
		if (!n)
			return vmt_error(-ENOENT, "%s.%s: empty field name", type, path);
		err = member_find(btf, cur, s, n, 0, &budget, hit);
		if (err == -ELOOP)
			return vmt_error(-ELOOP,
					 "%s.%s: BTF nests anonymous members too deeply "
					 "(corrupt or hostile type information)",
					 type, path);
		if (err)
			return vmt_error(-ENOENT, "%s has no field '%.*s' (in %s.%s)", type, (int)n,
					 s, type, path);
		s += n;
		err = subscripts_apply(btf, &s, hit);
		if (err)
			return vmt_error(err, "%s.%s: bad array subscript", type, path);
		if (*s == '.' && !*++s)
			return vmt_error(-EINVAL, "%s.%s: path ends with '.'", type, path);
		if (*s && hit->bitfield)
			return vmt_error(-EINVAL, "%s.%s: a bitfield has no members", type, path);
	}
	return 0;
}

int vmt_btf_field(const struct vmt_btf *b, const char *type, const char *path, uint32_t *off,
		  uint32_t *size)
{
	struct member_hit hit = {0};
	uint32_t sid = type_find(b, type, WANT_COMPOSITE);
	int64_t sz;
	int err;

	if (!sid)
		return vmt_error(-ENOENT, "no struct or union '%s' in the kernel's BTF", type);
	if (!*path)
		return vmt_error(-EINVAL, "empty field name for %s", type);
	err = path_walk(b->btf, sid, type, path, &hit);
	if (err)
		return err;
	if (hit.bitfield || hit.bit_off % 8)
		return vmt_error(-EINVAL, "%s.%s is a bitfield: no byte offset", type, path);
	if (hit.bit_off / 8 > UINT32_MAX)
		return vmt_error(-EOVERFLOW, "%s.%s: offset out of range", type, path);
	sz = btf__resolve_size(b->btf, hit.type);
	if (sz < 0 || sz > UINT32_MAX)
		return vmt_error(-EBADMSG, "%s.%s: BTF gives no size for its type", type, path);
	*off = (uint32_t)(hit.bit_off / 8);
	if (size)
		*size = (uint32_t)sz;
	return 0;
}

int vmt_btf_struct_size(const struct vmt_btf *b, const char *type, uint32_t *size)
{
	uint32_t sid = type_find(b, type, WANT_COMPOSITE);

	if (!sid)
		return vmt_error(-ENOENT, "no struct or union '%s' in the kernel's BTF", type);
	*size = btf__type_by_id(b->btf, sid)->size;
	return 0;
}

/* Value of enumerator name in enum type t; -ENOENT if it has none. */
static int enum_value(const struct btf *btf, const struct btf_type *t, const char *name,
		      int64_t *val)
{
	uint16_t vlen = btf_vlen(t);

	for (uint16_t i = 0; i < vlen; i++) {
		const char *en;

		if (btf_is_enum(t)) {
			const struct btf_enum *e = btf_enum(t) + i;

			en = btf__name_by_offset(btf, e->name_off);
			if (en && !strcmp(en, name)) {
				/* kflag marks a signed enum (pahole >= 1.24). */
				*val = btf_kflag(t) ? (int64_t)e->val : (int64_t)(uint32_t)e->val;
				return 0;
			}
		} else {
			const struct btf_enum64 *e = btf_enum64(t) + i;

			en = btf__name_by_offset(btf, e->name_off);
			if (en && !strcmp(en, name)) {
				*val = (int64_t)btf_enum64_value(e);
				return 0;
			}
		}
	}
	return -ENOENT;
}

int vmt_btf_enum(const struct vmt_btf *b, const char *enum_type, const char *name, int64_t *val)
{
	uint32_t n = btf__type_cnt(b->btf), id;

	if (enum_type && *enum_type) {
		id = type_find(b, enum_type, WANT_ENUM);
		if (!id)
			return vmt_error(-ENOENT, "no enum '%s' in the kernel's BTF", enum_type);
		if (enum_value(b->btf, btf__type_by_id(b->btf, id), name, val))
			return vmt_error(-ENOENT, "enum %s has no value '%s'", enum_type, name);
		return 0;
	}
	/* No enum named: search every enum, anonymous ones included (TCP_ESTABLISHED...). */
	for (id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(b->btf, id);

		if (btf_is_any_enum(t) && !enum_value(b->btf, t, name, val))
			return 0;
	}
	return vmt_error(-ENOENT, "no enumerator '%s' in the kernel's BTF", name);
}
