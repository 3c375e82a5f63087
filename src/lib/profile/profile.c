// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * profile.c - load a kernel profile: from the cache when we can, else build
 * it from the vmlinuz and store it.
 *
 * Finding the cache must not cost a read of the 14 MB kernel image, so the
 * cache directory holds two kinds of names:
 *   <content-hash>.v<N>.prof   the profile, named by the image's content
 *   img-<stat-key>.v<N>        symlink to it, stat-key = hash(dev, ino,
 *                              size, mtime) of the image file
 * A warm load is stat + open(symlink) + mmap + header check.  A changed or
 * copied image misses the symlink, is hashed, and finds (or builds) the
 * profile by content.  Field lookups answer from the memo; only a miss
 * parses the BTF blob, and the new answers are written back at free.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/internal.h"
#include "profile/profile_priv.h"

#define KERNEL_FILE_MAX (4ull << 30)
#define SYSMAP_MAX	(256u << 20)
#define BANNER_MAX	512

struct vmt_profile {
	struct vmt_prof_view v;
	void *map; /* the cache file, mapped; or NULL */
	size_t map_len;
	uint8_t *buf; /* the same layout built in memory; or NULL */
	struct vmt_memo memo;
	struct vmt_btf *btf; /* parsed on the first memo miss */
	int btf_err;	     /* sticky: the blob is absent or corrupt */
	char *cache_path;    /* profile file to update; NULL: write nothing */
	char *kernel_path;   /* to rebuild from if the cached BTF turns out corrupt */
	char *system_map;
	void *old_map; /* a corrupt cache mapping: results borrowed from it stay valid */
	size_t old_map_len;
	bool from_cache;
	bool rewrite; /* the cache file must be rewritten at free */
	double load_ms;
};

/* A read-only mapping of an input file. */
struct fmap {
	const uint8_t *data;
	size_t len;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Prefix the current error text with the input's name. */
static int err_in(int err, const char *what)
{
	char msg[512];

	vmt_strlcpy(msg, vmt_last_error(), sizeof(msg));
	return vmt_error(err, "%s: %s", what, msg);
}

static int fmap_open(const char *path, uint64_t max, struct fmap *m, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;
	void *p;

	if (fd < 0)
		return vmt_error(-errno, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, st))
		err = vmt_error(-errno, "cannot stat %s: %s", path, strerror(errno));
	else if (!S_ISREG(st->st_mode) || st->st_size == 0)
		err =
		    vmt_error(-ENOEXEC, "not a Linux kernel image: %s (empty or not a file)", path);
	else if ((uint64_t)st->st_size > max)
		err = vmt_error(-EFBIG, "%s: file too large (%lld bytes)", path,
				(long long)st->st_size);
	if (err)
		goto out;
	p = mmap(NULL, (size_t)st->st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		err = vmt_error(-errno, "cannot map %s: %s", path, strerror(errno));
		goto out;
	}
	m->data = p;
	m->len = (size_t)st->st_size;
out:
	close(fd);
	return err;
}

static void fmap_close(struct fmap *m)
{
	if (m->data)
		munmap((void *)m->data, m->len);
	m->data = NULL;
}

/* --------------------------------------------------------------- build */

/* Symbols from kallsyms in .rodata, else any loadable segment, else System.map. */
static int symbols_recover(const struct vmt_elf *elf, const char *system_map, struct vmt_ksyms *ks)
{
	struct vmt_region r;
	struct fmap m = {0};
	struct stat st;
	int err = -ENOENT;

	if (!vmt_elf_section(elf, ".rodata", &r))
		err = vmt_kallsyms_recover(&r, ks);
	for (unsigned i = 0; err == -ENOENT && !vmt_elf_segment(elf, i, &r); i++)
		err = vmt_kallsyms_recover(&r, ks);
	if (err != -ENOENT || !system_map)
		return err;
	pr_info("no kallsyms tables; falling back to %s", system_map);
	err = fmap_open(system_map, SYSMAP_MAX, &m, &st);
	if (!err)
		err = vmt_sysmap_parse((const char *)m.data, m.len, ks);
	fmap_close(&m);
	return err;
}

static const struct vmt_ksym *ksym_find(const struct vmt_ksyms *ks, const char *name)
{
	for (size_t i = 0; i < ks->n; i++)
		if (!strcmp(ks->names + ks->syms[i].name, name))
			return &ks->syms[i];
	return NULL;
}

/* linux_banner's bytes in the image: the string we match running kernels against. */
static int banner_read(const struct vmt_elf *elf, const struct vmt_ksyms *ks, char *out)
{
	static const char *const must[] = {"_text", "init_task", "linux_banner"};
	const struct vmt_ksym *s = NULL;
	const uint8_t *p;
	size_t avail, n;

	for (size_t i = 0; i < ARRAY_SIZE(must); i++) {
		s = ksym_find(ks, must[i]);
		if (!s)
			return vmt_error(-ENOENT, "%zu symbols recovered, but no '%s' among them",
					 ks->n, must[i]);
	}
	if (vmt_elf_va(elf, s->addr, &p, &avail))
		return vmt_error(-ENOENT, "linux_banner (%#llx) is not in the image",
				 (unsigned long long)s->addr);
	for (n = 0; n < avail && n < BANNER_MAX - 1 && p[n]; n++)
		;
	if (n < 14 || memcmp(p, "Linux version ", 14))
		return vmt_error(-ENOENT, "linux_banner does not hold \"Linux version ...\"");
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

static int cmp_by_name(const void *a, const void *b, void *arg)
{
	const struct vmt_prof_sym *x = a, *y = b;
	const char *strs = arg;
	int c = strcmp(strs + x->name, strs + y->name);

	if (c)
		return c;
	/* Among same-named symbols, a global one (upper-case type) answers first. */
	c = (y->type >= 'A' && y->type <= 'Z') - (x->type >= 'A' && x->type <= 'Z');
	if (c)
		return c;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int cmp_by_addr(const void *a, const void *b, void *arg)
{
	uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
	const struct vmt_prof_sym *syms = arg, *x = &syms[i], *y = &syms[j];
	int c;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* Global last among equals: symbol_at() takes the last one at an address. */
	c = (x->type >= 'A' && x->type <= 'Z') - (y->type >= 'A' && y->type <= 'Z');
	return c ? c : (i > j) - (i < j);
}

/* Sort and serialize everything the build found into p->buf. */
static int image_assemble(struct vmt_profile *p, const struct vmt_ksyms *ks, const char *banner,
			  const void *btf, size_t btf_len, uint64_t hash, uint64_t size)
{
	struct vmt_prof_sym *syms = calloc(ks->n, sizeof(*syms));
	uint32_t *by_addr = calloc(ks->n, sizeof(*by_addr));
	struct vmt_prof_parts pp = {hash,    size,  banner, ks->names, ks->names_len, syms,
				    by_addr, ks->n, btf,    btf_len,   &p->memo};
	size_t len;
	int err = -ENOMEM;

	if (!syms || !by_addr)
		goto out;
	for (size_t i = 0; i < ks->n; i++)
		syms[i] = (struct vmt_prof_sym){
		    .addr = ks->syms[i].addr, .name = ks->syms[i].name, .type = ks->syms[i].type};
	qsort_r(syms, ks->n, sizeof(*syms), cmp_by_name, ks->names);
	for (size_t i = 0; i < ks->n; i++)
		by_addr[i] = (uint32_t)i;
	qsort_r(by_addr, ks->n, sizeof(*by_addr), cmp_by_addr, syms);
	err = vmt_prof_serialize(&pp, &p->buf, &len);
	if (!err)
		err = vmt_prof_view_init(&p->v, p->buf, len);
out:
	free(syms);
	free(by_addr);
	return err == -ENOMEM ? vmt_error(err, "out of memory building the profile") : err;
}

/* .BTF is optional: symbols alone still locate the kernel.  Corrupt BTF is dropped. */
static void btf_take(struct vmt_profile *p, const struct vmt_elf *elf, const char *what,
		     struct vmt_region *r)
{
	if (vmt_elf_section(elf, ".BTF", r)) {
		pr_warn("%s: no .BTF section: struct layouts will be unknown", what);
		r->len = 0;
		return;
	}
	p->btf = vmt_btf_new(r->data, r->len);
	if (!p->btf) {
		pr_warn("%s: %s", what, vmt_last_error());
		r->len = 0;
	}
}

static int profile_build(struct vmt_profile *p, const struct vmt_profile_opts *o,
			 const struct fmap *img, uint64_t hash)
{
	const char *what = o->kernel_path;
	struct vmt_ksyms ks = {0};
	struct vmt_region btf = {0};
	char banner[BANNER_MAX];
	struct vmt_elf elf;
	void *vmlinux = NULL;
	size_t vlen = img->len;
	int err;

	if (!vmt_elf_is_elf(img->data, img->len)) {
		err = vmt_vmlinuz_extract(img->data, img->len, what, &vmlinux, &vlen);
		if (err)
			goto out;
		if (!vmt_elf_is_elf(vmlinux, vlen)) {
			err = vmt_error(-ENOEXEC, "%s: the bzImage payload is not an ELF vmlinux",
					what);
			goto out;
		}
	}
	err = vmt_elf_open(&elf, vmlinux ? vmlinux : img->data, vlen);
	if (!err)
		err = symbols_recover(&elf, o->system_map, &ks);
	if (!err)
		err = banner_read(&elf, &ks, banner);
	if (err) {
		err = err_in(err, what);
		goto out;
	}
	btf_take(p, &elf, what, &btf);
	err = image_assemble(p, &ks, banner, btf.data, btf.len, hash, img->len);
out:
	vmt_ksyms_free(&ks);
	free(vmlinux);
	return err;
}

/* --------------------------------------------------------------- cache */

/* Map a cache file and validate it; on failure p is left untouched. */
static int cache_open(struct vmt_profile *p, const char *path, uint64_t image_size)
{
	void *map;
	size_t len;
	int err;

	err = vmt_cache_map(path, &map, &len);
	if (err)
		return err;
	err = vmt_prof_view_init(&p->v, map, len);
	if (!err && p->v.hdr->image_size != image_size)
		err = vmt_error(-EBADMSG, "profile cache is for another image");
	if (!err)
		err = vmt_prof_memo_load(map, len, &p->memo);
	if (err) {
		pr_info("ignoring profile cache %s: %s", path, vmt_last_error());
		vmt_memo_clear(&p->memo);
		memset(&p->v, 0, sizeof(p->v));
		munmap(map, len);
		return err;
	}
	p->map = map;
	p->map_len = len;
	p->from_cache = true;
	return 0;
}

static uint64_t stat_key(const struct stat *st)
{
	uint64_t k[5] = {st->st_dev, st->st_ino, (uint64_t)st->st_size,
			 (uint64_t)st->st_mtim.tv_sec, (uint64_t)st->st_mtim.tv_nsec};

	return vmt_hash64(k, sizeof(k), VMT_PROF_VERSION);
}

struct cache_names {
	char *dir;
	char link[4096];
	char file[4096];
	char base[64]; /* the file's name inside dir: the symlink's target */
};

static int cache_names_init(struct cache_names *cn, const char *dir, const struct stat *st)
{
	int err = vmt_cache_dir(dir, &cn->dir);

	if (err)
		return err;
	if ((size_t)snprintf(cn->link, sizeof(cn->link), "%s/img-%016llx.v%d", cn->dir,
			     (unsigned long long)stat_key(st),
			     VMT_PROF_VERSION) >= sizeof(cn->link))
		return vmt_error(-ENAMETOOLONG, "cache directory name too long: %s", cn->dir);
	return 0;
}

static void cache_names_content(struct cache_names *cn, uint64_t hash)
{
	snprintf(cn->base, sizeof(cn->base), "%016llx.v%d.prof", (unsigned long long)hash,
		 VMT_PROF_VERSION);
	snprintf(cn->file, sizeof(cn->file), "%s/%s", cn->dir, cn->base);
}

/* Write the freshly built profile and point the image's stat link at it. */
static void cache_store(struct vmt_profile *p, struct cache_names *cn)
{
	if (vmt_cache_write(cn->file, p->buf, p->v.hdr->file_size) ||
	    vmt_cache_link(cn->link, cn->base)) {
		pr_warn("profile not cached: %s", vmt_last_error());
		return;
	}
	p->cache_path = strdup(cn->file);
}

static int opts_check(const struct vmt_profile_opts *o)
{
	if (!o || o->sz < offsetof(struct vmt_profile_opts, no_cache) + sizeof(o->no_cache))
		return vmt_error(-EINVAL, "profile options missing or opts.sz not set");
	if (!o->kernel_path || !*o->kernel_path)
		return vmt_error(-EINVAL, "no kernel image given");
	return 0;
}

static bool opt_rebuild(const struct vmt_profile_opts *o)
{
	return o->sz >= offsetof(struct vmt_profile_opts, rebuild) + sizeof(o->rebuild) &&
	       o->rebuild;
}

/* Cold path: hash the image, find its profile by content or build it. */
static int profile_load_image(struct vmt_profile *p, const struct vmt_profile_opts *o,
			      struct cache_names *cn)
{
	struct fmap img = {0};
	struct stat st;
	uint64_t hash;
	int err;

	err = fmap_open(o->kernel_path, KERNEL_FILE_MAX, &img, &st);
	if (err)
		return err;
	hash = vmt_hash64(img.data, img.len, VMT_PROF_VERSION);
	if (cn) {
		cache_names_content(cn, hash);
		if (!opt_rebuild(o) && !cache_open(p, cn->file, img.len)) {
			if (vmt_cache_link(cn->link, cn->base))
				pr_warn("%s", vmt_last_error());
			p->cache_path = strdup(cn->file);
			goto out;
		}
	}
	err = profile_build(p, o, &img, hash);
	if (!err && cn)
		cache_store(p, cn);
out:
	fmap_close(&img);
	return err;
}

struct vmt_profile *vmt_profile_load(const struct vmt_profile_opts *opts)
{
	struct cache_names cn = {0}, *cnp = NULL;
	struct vmt_profile *p;
	double t0 = now_ms();
	struct stat st;
	int err;

	err = opts_check(opts);
	if (err)
		goto fail;
	if (stat(opts->kernel_path, &st)) {
		err = vmt_error(-errno, "cannot open %s: %s", opts->kernel_path, strerror(errno));
		goto fail;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		err = vmt_error(-ENOMEM, "out of memory");
		goto fail;
	}
	p->kernel_path = strdup(opts->kernel_path);
	p->system_map = opts->system_map ? strdup(opts->system_map) : NULL;
	if (!p->kernel_path || (opts->system_map && !p->system_map)) {
		err = vmt_error(-ENOMEM, "out of memory");
		goto fail_free;
	}
	if (!opts->no_cache) {
		if (!cache_names_init(&cn, opts->cache_dir, &st))
			cnp = &cn;
		else
			pr_warn("profile cache disabled: %s", vmt_last_error());
	}
	if (cnp && !opt_rebuild(opts) && !cache_open(p, cn.link, (uint64_t)st.st_size)) {
		cache_names_content(&cn, p->v.hdr->image_hash);
		p->cache_path = strdup(cn.file);
	} else {
		err = profile_load_image(p, opts, cnp);
	}
	free(cn.dir);
	if (err)
		goto fail_free;
	p->load_ms = now_ms() - t0;
	return p;
fail_free:
	vmt_profile_free(p);
fail:
	errno = -err;
	return NULL;
}

/* Write the memo's new answers back, keeping the caller's last error text. */
static void memo_flush(struct vmt_profile *p)
{
	struct vmt_prof_parts pp = {p->v.hdr->image_hash,
				    p->v.hdr->image_size,
				    p->v.banner,
				    p->v.strs,
				    p->v.strs_len,
				    p->v.syms,
				    p->v.by_addr,
				    p->v.nr_syms,
				    p->v.btf,
				    p->v.btf_len,
				    &p->memo};
	char saved[512];
	uint8_t *buf;
	size_t len;

	vmt_strlcpy(saved, vmt_last_error(), sizeof(saved));
	if (!vmt_prof_serialize(&pp, &buf, &len)) {
		if (vmt_cache_write(p->cache_path, buf, len))
			pr_warn("profile memo not saved: %s", vmt_last_error());
		free(buf);
	}
	vmt_error(0, "%s", saved);
}

void vmt_profile_free(struct vmt_profile *p)
{
	if (!p)
		return;
	if ((p->memo.nr_new || p->rewrite) && p->cache_path && p->v.hdr)
		memo_flush(p);
	vmt_memo_clear(&p->memo);
	vmt_btf_free(p->btf);
	if (p->map)
		munmap(p->map, p->map_len);
	if (p->old_map)
		munmap(p->old_map, p->old_map_len);
	free(p->buf);
	free(p->cache_path);
	free(p->kernel_path);
	free(p->system_map);
	free(p);
}

int vmt_profile_verify(const struct vmt_profile *p)
{
	for (int i = 0; i < VMT_PSEC_NR; i++) {
		int err = vmt_prof_check_section(&p->v, i);

		if (err)
			return err;
	}
	return 0;
}

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
	struct fmap img = {0};
	struct stat st;
	int err;

	pr_warn("%s; rebuilding it from %s", vmt_last_error(), p->kernel_path);
	if (!p->map || p->old_map)
		return -EBADMSG; /* built in memory just now, or healed once already */
	err = fmap_open(p->kernel_path, KERNEL_FILE_MAX, &img, &st);
	if (!err)
		err = profile_build(&q, &o, &img, vmt_hash64(img.data, img.len, VMT_PROF_VERSION));
	fmap_close(&img);
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

void vmt_profile_info(const struct vmt_profile *p, struct vmt_profile_info *info)
{
	memset(info, 0, sizeof(*info));
	info->cache_path = p->cache_path;
	info->from_cache = p->from_cache;
	info->image_hash = p->v.hdr->image_hash;
	info->image_size = p->v.hdr->image_size;
	info->btf_size = p->v.btf_len;
	info->nr_memo = p->memo.n;
	info->load_ms = p->load_ms;
}
