// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * lookup.c - answering from a profile.  Symbols: binary search over the
 * name-sorted table and the address index, every offset from the file
 * checked before use.  Struct layouts: from the memo, else from the BTF
 * blob (parsed on the first miss, checksummed first, rebuilt from the
 * kernel image if it was damaged) and remembered.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "core/internal.h"
#include "profile/profile_priv.h"

/* ------------------------------------------------------------- symbols */

const char *vmt_profile_banner(const struct vmt_profile *p)
{
	return p->v.banner;
}

size_t vmt_profile_nr_symbols(const struct vmt_profile *p)
{
	return p->v.nr_syms;
}

/* Name of entry i, or "" if the (possibly corrupt) cache points outside STRS. */
static const char *sym_name(const struct vmt_profile *p, const struct vmt_prof_sym *s)
{
	return s->name < p->v.strs_len ? p->v.strs + s->name : "";
}

static const struct vmt_prof_sym *sym_lookup(const struct vmt_profile *p, const char *name)
{
	size_t lo = 0, hi = p->v.nr_syms;

	/* lower bound: the first (preferred) of same-named symbols */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(sym_name(p, &p->v.syms[mid]), name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < p->v.nr_syms && !strcmp(sym_name(p, &p->v.syms[lo]), name))
		return &p->v.syms[lo];
	return NULL;
}

int vmt_profile_symbol2(const struct vmt_profile *p, const char *name, uint64_t *addr, char *type)
{
	const struct vmt_prof_sym *s;

	if (!p || !name)
		return -EINVAL;
	s = sym_lookup(p, name);
	if (!s)
		return vmt_error(-ENOENT, "no symbol '%s' in the kernel profile", name);
	if (addr)
		*addr = s->addr;
	if (type)
		*type = s->type;
	return 0;
}

int vmt_profile_symbol(const struct vmt_profile *p, const char *name, uint64_t *addr)
{
	return vmt_profile_symbol2(p, name, addr, NULL);
}

static const struct vmt_prof_sym *sym_by_addr(const struct vmt_profile *p, size_t i)
{
	uint32_t k = p->v.by_addr[i];

	return k < p->v.nr_syms ? &p->v.syms[k] : NULL;
}

const char *vmt_profile_symbol_at(const struct vmt_profile *p, uint64_t addr, uint64_t *off)
{
	size_t lo = 0, hi = p->v.nr_syms;
	const struct vmt_prof_sym *s;

	/* upper bound: the first symbol above addr; the one before it contains addr */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		s = sym_by_addr(p, mid);
		if (s && s->addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	s = sym_by_addr(p, lo - 1);
	/* Past the last symbol nothing is known to contain addr. */
	if (!s || (lo == p->v.nr_syms && s->addr != addr))
		return NULL;
	if (off)
		*off = addr - s->addr;
	return sym_name(p, s);
}

int vmt_profile_symbol_by_index(const struct vmt_profile *p, size_t i, const char **name,
				uint64_t *addr, char *type)
{
	const struct vmt_prof_sym *s;

	if (!p || i >= p->v.nr_syms)
		return -ENOENT;
	s = sym_by_addr(p, i);
	if (!s)
		return vmt_error(-EBADMSG, "profile cache symbol index corrupt");
	if (name)
		*name = sym_name(p, s);
	if (addr)
		*addr = s->addr;
	if (type)
		*type = s->type;
	return 0;
}

/* ----------------------------------------------------------------- BTF */

/*
 * The cached BTF blob failed its checksum: build the profile again from the
 * kernel image and switch to it.  Names handed out so far point into the
 * old mapping, so that stays mapped until vmt_profile_free.
 */
static int profile_heal(struct vmt_profile *p)
{
	struct vmt_profile_opts o = {
	    .sz = sizeof(o), .kernel_path = p->kernel_path, .system_map = p->system_map};
	struct vmt_profile q = {0};
	struct vmt_fmap img = {0};
	struct stat st;
	uint64_t hash;
	int err;

	if (!p->kernel_path) /* made from guest memory: nothing to rebuild from here */
		return -EBADMSG;
	pr_warn("%s; rebuilding it from %s", vmt_last_error(), p->kernel_path);
	if (!p->map || p->old_map)
		return -EBADMSG; /* built in memory just now, or healed once already */
	err = vmt_fmap_open(p->kernel_path, VMT_KERNEL_FILE_MAX, &img, &st);
	if (err)
		return err;
	hash = vmt_hash64(img.data, img.len, VMT_PROF_VERSION);
	/* The file may have been replaced since the load: its profile is not this one. */
	if (hash != p->v.hdr->image_hash)
		err = vmt_error(-ESTALE, "%s changed since its profile was loaded", p->kernel_path);
	else
		err = vmt_profile_build(&q, &o, &img, hash);
	vmt_fmap_close(&img);
	if (err) {
		vmt_btf_free(q.btf);
		free(q.buf);
		return err;
	}
	p->old_map = p->map;
	p->old_map_len = p->map_len;
	p->map = NULL;
	p->buf = q.buf;
	p->v = q.v;
	p->btf = q.btf;
	p->rewrite = true;
	return 0;
}

static int btf_ready(struct vmt_profile *p)
{
	int err;

	if (p->btf)
		return 0;
	if (p->btf_err)
		return vmt_error(p->btf_err, "the kernel profile has no usable BTF");
	if (p->v.btf_len && p->map && vmt_prof_check_section(&p->v, VMT_PSEC_BTF)) {
		err = profile_heal(p);
		if (err)
			p->btf_err = err;
		if (err || p->btf)
			return err;
	}
	p->btf = vmt_btf_new(p->v.btf, p->v.btf_len);
	if (!p->btf)
		p->btf_err = -errno;
	return p->btf_err;
}

const struct btf *vmt_profile_btf(struct vmt_profile *p)
{
	int err = btf_ready(p);

	if (err) {
		errno = -err;
		return NULL;
	}
	return vmt_btf_get(p->btf);
}

/* Only answers that are facts about the kernel are remembered, not ENOMEM. */
static bool memo_val_ok(const struct vmt_memo_val *v, bool u32_vals)
{
	if (v->err != 0 && v->err != -ENOENT && v->err != -EINVAL)
		return false;
	return !u32_vals || (v->a <= UINT32_MAX && v->b <= UINT32_MAX);
}

/*
 * Answer (kind, a, b) from the memo, else with resolve() over BTF and
 * remember the answer.  1: v holds the answer from the memo; 0: resolved
 * now; <0: could not ask (key too long, BTF unusable).
 */
typedef int (*resolve_fn)(const struct vmt_btf *b, const char *a, const char *c,
			  struct vmt_memo_val *v);

static int memo_answer(struct vmt_profile *p, int kind, const char *a, const char *b,
		       resolve_fn resolve, struct vmt_memo_val *v)
{
	const struct vmt_memo_val *m;
	char key[1024];
	uint32_t klen;
	int err;

	if (vmt_memo_key(key, sizeof(key), kind, a, b, &klen))
		return vmt_error(-ENAMETOOLONG, "name too long: %s", a);
	m = vmt_memo_get(&p->memo, key, klen);
	if (m && memo_val_ok(m, kind != VMT_MEMO_ENUM)) {
		*v = *m;
		return 1;
	}
	err = btf_ready(p);
	if (err)
		return err;
	v->err = resolve(p->btf, a, b, v);
	if (memo_val_ok(v, kind != VMT_MEMO_ENUM) && !m &&
	    vmt_memo_put(&p->memo, key, klen, v, false))
		pr_debug("memo: out of memory, answer not remembered");
	return 0;
}

static int resolve_field(const struct vmt_btf *b, const char *type, const char *field,
			 struct vmt_memo_val *v)
{
	uint32_t off = 0, size = 0;
	int err = vmt_btf_field(b, type, field, &off, &size);

	v->a = off;
	v->b = size;
	return err;
}

int vmt_profile_field2(struct vmt_profile *p, const char *type, const char *field, uint32_t *off,
		       uint32_t *size)
{
	struct vmt_memo_val v = {0};
	int r;

	if (!p || !type || !field || !off)
		return -EINVAL;
	r = memo_answer(p, VMT_MEMO_FIELD, type, field, resolve_field, &v);
	if (r < 0)
		return r;
	if (r == 1 && v.err)
		return vmt_error(v.err, "%s.%s: %s", type, field,
				 v.err == -ENOENT ? "no such field in the kernel's BTF"
						  : "no byte offset (a bitfield?)");
	if (v.err)
		return v.err;
	*off = (uint32_t)v.a;
	if (size)
		*size = (uint32_t)v.b;
	return 0;
}

int vmt_profile_field(struct vmt_profile *p, const char *type, const char *field, uint32_t *off)
{
	return vmt_profile_field2(p, type, field, off, NULL);
}

static int resolve_size(const struct vmt_btf *b, const char *type, const char *unused,
			struct vmt_memo_val *v)
{
	uint32_t size = 0;
	int err = vmt_btf_struct_size(b, type, &size);

	(void)unused;
	v->a = size;
	v->b = 0;
	return err;
}

int vmt_profile_struct_size(struct vmt_profile *p, const char *type, uint32_t *size)
{
	struct vmt_memo_val v = {0};
	int r;

	if (!p || !type || !size)
		return -EINVAL;
	r = memo_answer(p, VMT_MEMO_SIZE, type, NULL, resolve_size, &v);
	if (r < 0)
		return r;
	if (v.err)
		return r == 1
			   ? vmt_error(v.err, "no struct or union '%s' in the kernel's BTF", type)
			   : v.err;
	*size = (uint32_t)v.a;
	return 0;
}

static int resolve_enum(const struct vmt_btf *b, const char *etype, const char *name,
			struct vmt_memo_val *v)
{
	int64_t val = 0;
	int err = vmt_btf_enum(b, *etype ? etype : NULL, name, &val);

	v->a = (uint64_t)val;
	v->b = 0;
	return err;
}

int vmt_profile_enum(struct vmt_profile *p, const char *enum_type, const char *name, int64_t *val)
{
	struct vmt_memo_val v = {0};
	int r;

	if (!p || !name || !val)
		return -EINVAL;
	r = memo_answer(p, VMT_MEMO_ENUM, enum_type ? enum_type : "", name, resolve_enum, &v);
	if (r < 0)
		return r;
	if (v.err)
		return r == 1 ? vmt_error(v.err, "no enumerator %s%s%s in the kernel's BTF",
					  enum_type ? enum_type : "", enum_type ? "." : "", name)
			      : v.err;
	*val = (int64_t)v.a;
	return 0;
}
