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

double vmt_profile_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* --------------------------------------------------------------- cache */

int vmt_profile_cache_open(struct vmt_profile *p, const char *path, uint64_t image_size)
{
	void *map;
	size_t len;
	int err;

	err = vmt_cache_map(path, &map, &len);
	if (err)
		return err;
	err = vmt_prof_view_init(&p->v, map, len);
	if (!err && image_size != UINT64_MAX && p->v.hdr->image_size != image_size)
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
	struct vmt_fmap img = {0};
	struct stat st;
	uint64_t hash;
	int err;

	err = vmt_fmap_open(o->kernel_path, VMT_KERNEL_FILE_MAX, &img, &st);
	if (err)
		return err;
	hash = vmt_hash64(img.data, img.len, VMT_PROF_VERSION);
	if (cn) {
		cache_names_content(cn, hash);
		if (!opt_rebuild(o) && !vmt_profile_cache_open(p, cn->file, img.len)) {
			if (vmt_cache_link(cn->link, cn->base))
				pr_warn("%s", vmt_last_error());
			p->cache_path = strdup(cn->file);
			goto out;
		}
	}
	err = vmt_profile_build(p, o, &img, hash);
	if (!err && cn)
		cache_store(p, cn);
out:
	vmt_fmap_close(&img);
	return err;
}

struct vmt_profile *vmt_profile_load(const struct vmt_profile_opts *opts)
{
	struct cache_names cn = {0}, *cnp = NULL;
	struct vmt_profile *p;
	double t0 = vmt_profile_now_ms();
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
	if (cnp && !opt_rebuild(opts) &&
	    !vmt_profile_cache_open(p, cn.link, (uint64_t)st.st_size)) {
		cache_names_content(&cn, p->v.hdr->image_hash);
		p->cache_path = strdup(cn.file);
	} else {
		err = profile_load_image(p, opts, cnp);
	}
	free(cn.dir);
	if (err)
		goto fail_free;
	p->load_ms = vmt_profile_now_ms() - t0;
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
	struct vmt_prof_parts pp = {.image_hash = p->v.hdr->image_hash,
				    .image_size = p->v.hdr->image_size,
				    .banner = p->v.banner,
				    .strs = p->v.strs,
				    .strs_len = p->v.strs_len,
				    .syms = p->v.syms,
				    .by_addr = p->v.by_addr,
				    .nr_syms = p->v.nr_syms,
				    .btf = p->v.btf,
				    .btf_len = p->v.btf_len,
				    .memo = &p->memo};
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
	info->btf_hash = p->v.hdr->sec[VMT_PSEC_BTF].csum;
	info->kernel_path = p->kernel_path;
	vmt_kfind_origin(p, info);
}
