// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cache.c - the on-disk profile: one file per kernel image, mapped
 * read-only on load so that a warm start parses nothing.
 *
 * Layout: struct vmt_prof_hdr, then the sections it lists, each 8-byte
 * aligned.  Loading checks the header (magic, version, checksum, the file's
 * own size) and that every section lies inside the file with sane sizes;
 * entries are bounds-checked again when used, so a file corrupted in the
 * middle gives wrong answers at worst, never a crash.  The memo section is
 * small and checksummed on its own.  Files are replaced with write-to-temp +
 * rename, so a reader sees the old file or the new one, never half of one.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"
#include "profile/profile_priv.h"

#define P1 0x9e3779b185ebca87ull
#define P2 0xc2b2ae3d27d4eb4full
#define P3 0x165667b19e3779f9ull
#define P4 0x85ebca77c2b2ae63ull
#define P5 0x27d4eb2f165667c5ull

static uint64_t rotl(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t round64(uint64_t acc, uint64_t in)
{
	return rotl(acc + in * P2, 31) * P1;
}

/* XXH64's structure: four independent lanes keep the multiplier pipelined. */
uint64_t vmt_hash64(const void *data, size_t len, uint64_t seed)
{
	const uint8_t *p = data, *end = p + len;
	uint64_t h;

	if (len >= 32) {
		uint64_t v[4] = {seed + P1 + P2, seed + P2, seed, seed - P1};

		for (; end - p >= 32; p += 32)
			for (int i = 0; i < 4; i++)
				v[i] = round64(v[i], rd64(p + 8 * i));
		h = rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18);
		for (int i = 0; i < 4; i++)
			h = (h ^ round64(0, v[i])) * P1 + P4;
	} else {
		h = seed + P5;
	}
	h += len;
	for (; end - p >= 8; p += 8)
		h = rotl(h ^ round64(0, rd64(p)), 27) * P1 + P4;
	for (; p < end; p++)
		h = rotl(h ^ (*p * P5), 11) * P1;
	h ^= h >> 33;
	h *= P2;
	h ^= h >> 29;
	h *= P3;
	return h ^ (h >> 32);
}

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static size_t memo_bytes(const struct vmt_memo *m)
{
	size_t n = sizeof(struct vmt_prof_memo_hdr) + m->n * sizeof(struct vmt_prof_memo_rec);

	for (size_t i = 0; i < m->n; i++)
		n += m->ents[i].key_len;
	return n;
}

static void memo_write(const struct vmt_memo *m, uint8_t *out)
{
	struct vmt_prof_memo_hdr mh = {.nr = (uint32_t)m->n};
	struct vmt_prof_memo_rec *rec = (void *)(out + sizeof(mh));
	uint8_t *keys = (uint8_t *)(rec + m->n);

	for (size_t i = 0; i < m->n; i++) {
		const struct vmt_memo_ent *e = &m->ents[i];

		rec[i] = (struct vmt_prof_memo_rec){.key_off = mh.keys_len,
						    .key_len = e->key_len,
						    .err = e->val.err,
						    .a = e->val.a,
						    .b = e->val.b};
		memcpy(keys + mh.keys_len, e->key, e->key_len);
		mh.keys_len += e->key_len;
	}
	mh.csum = vmt_hash64(rec, (size_t)(keys + mh.keys_len - (uint8_t *)rec), 0);
	memcpy(out, &mh, sizeof(mh));
}

int vmt_prof_serialize(const struct vmt_prof_parts *pp, uint8_t **buf, size_t *len)
{
	const void *src[VMT_PSEC_NR] = {pp->banner, pp->strs, pp->syms, pp->by_addr, pp->btf, NULL};
	size_t lens[VMT_PSEC_NR] = {strlen(pp->banner) + 1,
				    pp->strs_len,
				    pp->nr_syms * sizeof(*pp->syms),
				    pp->nr_syms * sizeof(*pp->by_addr),
				    pp->btf_len,
				    memo_bytes(pp->memo)};
	struct vmt_prof_hdr h = {.version = VMT_PROF_VERSION,
				 .hdr_size = sizeof(h),
				 .image_hash = pp->image_hash,
				 .image_size = pp->image_size,
				 .nr_syms = pp->nr_syms};
	size_t pos = align8(sizeof(h));
	uint8_t *b;

	memcpy(h.magic, VMT_PROF_MAGIC, sizeof(VMT_PROF_MAGIC));
	for (int i = 0; i < VMT_PSEC_NR; i++) {
		h.sec[i].off = pos;
		h.sec[i].len = lens[i];
		pos = align8(pos + lens[i]);
	}
	h.file_size = pos;
	b = calloc(1, pos);
	if (!b)
		return vmt_error(-ENOMEM, "out of memory building the profile");
	for (int i = 0; i < VMT_PSEC_MEMO; i++)
		if (lens[i])
			memcpy(b + h.sec[i].off, src[i], lens[i]);
	memo_write(pp->memo, b + h.sec[VMT_PSEC_MEMO].off);
	for (int i = 0; i < VMT_PSEC_NR; i++)
		h.sec[i].csum = vmt_hash64(b + h.sec[i].off, h.sec[i].len, i);
	h.csum = vmt_hash64(&h, sizeof(h), 0);
	memcpy(b, &h, sizeof(h));
	*buf = b;
	*len = pos;
	return 0;
}

static int hdr_check(const struct vmt_prof_hdr *h, size_t len)
{
	struct vmt_prof_hdr c = *h;

	if (memcmp(h->magic, VMT_PROF_MAGIC, sizeof(VMT_PROF_MAGIC)))
		return vmt_error(-EBADMSG, "not a profile cache file (bad magic)");
	if (h->version != VMT_PROF_VERSION || h->hdr_size != sizeof(*h))
		return vmt_error(-EBADMSG, "profile cache format %u, expected %u", h->version,
				 VMT_PROF_VERSION);
	c.csum = 0;
	if (vmt_hash64(&c, sizeof(c), 0) != h->csum)
		return vmt_error(-EBADMSG, "profile cache header checksum mismatch");
	if (h->file_size != len)
		return vmt_error(-EBADMSG, "profile cache truncated (%zu of %llu bytes)", len,
				 (unsigned long long)h->file_size);
	for (int i = 0; i < VMT_PSEC_NR; i++) {
		uint64_t end;

		if (h->sec[i].off < sizeof(*h) || h->sec[i].off % 8 ||
		    !vmt_add_ok(h->sec[i].off, h->sec[i].len, &end) || end > len)
			return vmt_error(-EBADMSG, "profile cache section %d out of bounds", i);
	}
	return 0;
}

int vmt_prof_view_init(struct vmt_prof_view *v, const void *img, size_t len)
{
	const uint8_t *b = img;
	const struct vmt_prof_hdr *h = img;
	uint64_t nsyms;
	int err;

	if (len < sizeof(*h))
		return vmt_error(-EBADMSG, "profile cache truncated (%zu bytes)", len);
	err = hdr_check(h, len);
	if (err)
		return err;
	nsyms = h->nr_syms;
	if (nsyms > UINT32_MAX || h->sec[VMT_PSEC_SYMS].len != nsyms * sizeof(*v->syms) ||
	    h->sec[VMT_PSEC_BYADDR].len != nsyms * sizeof(*v->by_addr))
		return vmt_error(-EBADMSG, "profile cache symbol tables are inconsistent");
	/* Every string must end inside its section: the last byte is a NUL. */
	if (!h->sec[VMT_PSEC_BANNER].len ||
	    b[h->sec[VMT_PSEC_BANNER].off + h->sec[VMT_PSEC_BANNER].len - 1] ||
	    !h->sec[VMT_PSEC_STRS].len ||
	    b[h->sec[VMT_PSEC_STRS].off + h->sec[VMT_PSEC_STRS].len - 1])
		return vmt_error(-EBADMSG, "profile cache string tables are not terminated");
	v->hdr = h;
	v->banner = (const char *)b + h->sec[VMT_PSEC_BANNER].off;
	v->strs = (const char *)b + h->sec[VMT_PSEC_STRS].off;
	v->strs_len = h->sec[VMT_PSEC_STRS].len;
	v->syms = (const void *)(b + h->sec[VMT_PSEC_SYMS].off);
	v->by_addr = (const void *)(b + h->sec[VMT_PSEC_BYADDR].off);
	v->nr_syms = nsyms;
	v->btf = b + h->sec[VMT_PSEC_BTF].off;
	v->btf_len = h->sec[VMT_PSEC_BTF].len;
	return 0;
}

int vmt_prof_check_section(const struct vmt_prof_view *v, int sec)
{
	static const char *const names[] = {"banner",	     "names", "symbols",
					    "address index", "BTF",   "memo"};
	const uint8_t *b = (const uint8_t *)v->hdr;

	if (vmt_hash64(b + v->hdr->sec[sec].off, v->hdr->sec[sec].len, sec) ==
	    v->hdr->sec[sec].csum)
		return 0;
	return vmt_error(-EBADMSG, "profile cache is corrupt (%s checksum mismatch)", names[sec]);
}

int vmt_prof_memo_load(const void *img, size_t len, struct vmt_memo *m)
{
	const struct vmt_prof_hdr *h = img;
	const uint8_t *sec = (const uint8_t *)img + h->sec[VMT_PSEC_MEMO].off;
	size_t slen = h->sec[VMT_PSEC_MEMO].len;
	const struct vmt_prof_memo_rec *rec;
	struct vmt_prof_memo_hdr mh;
	const char *keys;
	uint64_t need;

	(void)len; /* the section bounds were checked by vmt_prof_view_init */
	if (slen < sizeof(mh))
		return vmt_error(-EBADMSG, "profile cache memo truncated");
	memcpy(&mh, sec, sizeof(mh));
	need = sizeof(mh) + (uint64_t)mh.nr * sizeof(*rec) + mh.keys_len;
	if (need != slen || vmt_hash64(sec + sizeof(mh), slen - sizeof(mh), 0) != mh.csum)
		return vmt_error(-EBADMSG, "profile cache memo is corrupt");
	rec = (const void *)(sec + sizeof(mh));
	keys = (const char *)(rec + mh.nr);
	for (uint32_t i = 0; i < mh.nr; i++) {
		struct vmt_memo_val v = {rec[i].err, rec[i].a, rec[i].b};
		int err;

		if (rec[i].key_off > mh.keys_len || rec[i].key_len > mh.keys_len - rec[i].key_off ||
		    rec[i].key_len < 2)
			return vmt_error(-EBADMSG, "profile cache memo record %u out of bounds", i);
		err = vmt_memo_put(m, keys + rec[i].key_off, rec[i].key_len, &v, true);
		if (err)
			return vmt_error(err, "out of memory loading the profile memo");
	}
	return 0;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int vmt_cache_write(const char *path, const void *buf, size_t len)
{
	char tmp[4096];
	int fd, err;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= sizeof(tmp))
		return vmt_error(-ENAMETOOLONG, "cache path too long: %s", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return vmt_error(-errno, "cannot write %s: %s", tmp, strerror(errno));
	err = write_all(fd, buf, len);
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err) {
		unlink(tmp);
		return vmt_error(err, "cannot write %s: %s", path, strerror(-err));
	}
	return 0;
}

int vmt_cache_link(const char *link, const char *target)
{
	char tmp[4096];

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%d", link, (int)getpid()) >= sizeof(tmp))
		return vmt_error(-ENAMETOOLONG, "cache path too long: %s", link);
	unlink(tmp);
	if (symlink(target, tmp))
		return vmt_error(-errno, "cannot create %s: %s", tmp, strerror(errno));
	if (rename(tmp, link)) {
		int err = -errno;

		unlink(tmp);
		return vmt_error(err, "cannot create %s: %s", link, strerror(-err));
	}
	return 0;
}

/* mkdir -p, private to the user: the cache is theirs. */
static int mkdir_p(char *path)
{
	for (char *s = path + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(path, 0700) && errno != EEXIST) {
			*s = '/';
			return -errno;
		}
		*s = '/';
	}
	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

int vmt_cache_dir(const char *dir, char **out)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char *path = NULL;
	int err;

	if (dir && *dir)
		err = asprintf(&path, "%s", dir);
	else if (xdg && xdg[0] == '/')
		err = asprintf(&path, "%s/vmemtrans", xdg);
	else if (home && home[0] == '/')
		err = asprintf(&path, "%s/.cache/vmemtrans", home);
	else
		return vmt_error(-ENOENT, "no cache directory: set XDG_CACHE_HOME or HOME");
	if (err < 0)
		return vmt_error(-ENOMEM, "out of memory");
	err = mkdir_p(path);
	if (err) {
		vmt_error(err, "cannot create cache directory %s: %s", path, strerror(-err));
		free(path);
		return err;
	}
	*out = path;
	return 0;
}

int vmt_cache_map(const char *path, void **map, size_t *len)
{
	struct stat st;
	void *m;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto out;
	}
	if (st.st_size < (off_t)sizeof(struct vmt_prof_hdr)) {
		err = vmt_error(-EBADMSG, "profile cache %s is truncated", path);
		goto out;
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED) {
		err = -errno;
		goto out;
	}
	*map = m;
	*len = (size_t)st.st_size;
out:
	close(fd);
	return err;
}
