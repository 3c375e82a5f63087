// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * kallsyms.c - symbols of a stripped vmlinux, recovered from the tables
 * scripts/kallsyms.c compiled into .rodata (CONFIG_KALLSYMS_ALL).
 *
 * 6.1 emits, each label 8-byte aligned, in this order:
 *   kallsyms_offsets       s32[N]  (6.4+ moves offsets and base after token_index)
 *   kallsyms_relative_base u64
 *   kallsyms_num_syms      u32     N
 *   kallsyms_names         per symbol: length (1 byte, or 2 if bit 7 is set:
 *                          ULEB128 for names over 127 tokens), then token bytes
 *   kallsyms_markers       u32[(N + 255) / 256]: names offset of every 256th symbol
 *   kallsyms_token_table   256 NUL-terminated strings
 *   kallsyms_token_index   u16[256]: token_table offset of each token
 *
 * 6.2/6.3, and 6.1 stable kernels such as Debian's, also have
 * kallsyms_seqs_of_names (u8[N][3]) between markers and token_table.
 *
 * None of these has a symbol we could look up, so we anchor on content:
 * bytes that occur verbatim in names map to themselves, so tokens '0'..'9'
 * are the strings "0".."9" in a row.  From there each table is found next
 * to its neighbour and checked against it: token_index must describe the
 * token table exactly, markers must be the offsets at which decoding N
 * names lands, addresses must come out sorted (the tool sorts by address).
 * Any mismatch rejects the candidate; nothing is read outside the region.
 */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "profile/profile_priv.h"

#define TOKEN_MAX	 256				  /* longest token we believe in */
#define MARKERS_MAX	 (1u << 20)			  /* 256 M symbols */
#define NAME_WINDOW	 (256u * (2 + VMT_KSYM_NAME_MAX)) /* names after the last marker */
#define DIGIT_TOKEN_BASE 0x30
#define KERNEL_HALF	 0xffff800000000000ull /* x86-64, 4- and 5-level */
#define WORK_MAX	 (1ull << 28)	       /* steps per search: about a second, then give up */

struct ktok {
	size_t start, end; /* token table [start, end) */
	size_t idx_end;	   /* one past token_index */
	uint16_t idx[256];
};

struct ktab {
	struct ktok tok;
	size_t mstart; /* markers: u32[nmark] */
	uint32_t nmark;
	size_t nstart; /* names [nstart, nend) */
	size_t nend;
	uint32_t nsyms; /* u32 at nstart - 8 */
	/*
	 * Steps left for the whole search, shared by all candidates: crafted
	 * bytes could otherwise make the candidate scans quadratic.
	 */
	uint64_t *work;
};

static bool spend(struct ktab *k, uint64_t n)
{
	if (*k->work < n) {
		*k->work = 0;
		return false;
	}
	*k->work -= n;
	return true;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Are n bytes at pos inside the region? */
static bool r_has(const struct vmt_region *r, size_t pos, size_t n)
{
	return pos <= r->len && n <= r->len - pos;
}

/* Is pos 8-byte aligned as a link-time address (what .balign 8 guarantees)? */
static bool r_aligned(const struct vmt_region *r, size_t pos)
{
	return ((r->va + pos) & 7) == 0;
}

static size_t r_align_up(const struct vmt_region *r, size_t pos)
{
	return pos + ((8 - ((r->va + pos) & 7)) & 7);
}

/* The NUL-terminated, non-empty string at pos ends before limit: its length. */
static size_t token_len(const struct vmt_region *r, size_t pos, size_t limit)
{
	const uint8_t *nul;

	if (pos >= limit)
		return 0;
	nul = memchr(r->data + pos, 0, VMT_MIN(limit - pos, (size_t)TOKEN_MAX + 1));
	return nul ? (size_t)(nul - (r->data + pos)) : 0;
}

/* Check that idx describes the 256 tokens from start exactly, ending at end. */
static bool tokens_match_index(const struct vmt_region *r, const struct ktok *t)
{
	size_t pos = t->start;

	for (unsigned i = 0; i < 256; i++) {
		size_t n = token_len(r, pos, t->end);

		if (t->idx[i] != pos - t->start || !n)
			return false;
		pos += n + 1;
	}
	return pos == t->end;
}

/* p is where "0\0" "1\0" ... starts: is it token 0x30 of a real token table? */
static bool tokens_try(const struct vmt_region *r, size_t p, struct ktok *t)
{
	size_t pos = p, ipos;

	for (unsigned i = DIGIT_TOKEN_BASE; i < 256; i++) {
		size_t n = token_len(r, pos, r->len);

		if (!n)
			return false;
		pos += n + 1;
	}
	t->end = pos;
	ipos = r_align_up(r, pos);
	if (!r_has(r, ipos, 256 * 2))
		return false;
	for (unsigned i = 0; i < 256; i++)
		t->idx[i] = rd16(r->data + ipos + 2 * i);
	if (t->idx[0] != 0 || t->idx[DIGIT_TOKEN_BASE] > p)
		return false;
	t->start = p - t->idx[DIGIT_TOKEN_BASE];
	t->idx_end = ipos + 256 * 2;
	return r_aligned(r, t->start) && tokens_match_index(r, t);
}

/*
 * Walk back from end over at most max strictly decreasing u32 values down
 * to a 0: the markers array.
 */
static bool markers_try(const struct vmt_region *r, size_t end, uint32_t max, struct ktab *k)
{
	uint64_t prev = 1ull << 32;
	size_t pos = end;
	uint32_t n = 0;

	while (pos >= 4 && prev != 0) {
		uint32_t v = rd32(r->data + pos - 4);

		if (v >= prev || ++n > max || !spend(k, 1))
			return false;
		prev = v;
		pos -= 4;
	}
	if (prev != 0 || !r_aligned(r, pos))
		return false;
	k->mstart = pos;
	k->nmark = n;
	return true;
}

static uint32_t marker(const struct vmt_region *r, const struct ktab *k, uint32_t i)
{
	return rd32(r->data + k->mstart + 4 * (size_t)i);
}

/* Length prefix and token count of the names entry at pos; false past limit. */
static bool name_entry(const struct vmt_region *r, size_t pos, size_t limit, size_t *hdr,
		       size_t *ntok)
{
	uint8_t b0;

	if (pos >= limit)
		return false;
	b0 = r->data[pos];
	*hdr = 1;
	*ntok = b0;
	if (b0 & 0x80) {
		if (limit - pos < 2)
			return false;
		*hdr = 2;
		*ntok = (b0 & 0x7f) | (size_t)r->data[pos + 1] << 7;
	}
	return *ntok && *ntok <= limit - pos - *hdr;
}

/* Do N entries from nstart land on every marker and end just before the markers? */
static bool names_match_markers(const struct vmt_region *r, struct ktab *k, uint32_t n)
{
	size_t pos = k->nstart, hdr, ntok;

	for (uint32_t i = 0; i < n; i++) {
		if (!(i & 0xff) && (pos - k->nstart != marker(r, k, i >> 8) || !spend(k, 256)))
			return false;
		if (!name_entry(r, pos, k->mstart, &hdr, &ntok))
			return false;
		pos += hdr + ntok;
	}
	if (k->mstart - pos >= 8)
		return false;
	for (size_t q = pos; q < k->mstart; q++)
		if (r->data[q])
			return false;
	k->nend = pos;
	return true;
}

/* Find num_syms: an 8-aligned u32 N before names, with (N + 255) / 256 == nmark. */
static bool names_find(const struct vmt_region *r, struct ktab *k)
{
	uint32_t last = marker(r, k, k->nmark - 1);
	size_t hi, lo;

	if (k->mstart < (size_t)last + 2 + 8)
		return false;
	hi = k->mstart - last - 2;
	hi -= (r->va + hi) & 7;
	lo = hi > NAME_WINDOW + 8 ? hi - NAME_WINDOW : 8;
	for (size_t ns = hi; ns >= lo && ns >= 8; ns -= 8) {
		uint32_t n = rd32(r->data + ns - 8);

		if (!spend(k, 1))
			return false;
		/* num_syms is followed by 4 bytes of .balign padding */
		if (!n || rd32(r->data + ns - 4) || (n + 255ull) / 256 != k->nmark)
			continue;
		if ((k->mstart - ns) / 2 < n)
			continue;
		k->nstart = ns;
		if (names_match_markers(r, k, n)) {
			k->nsyms = n;
			return true;
		}
	}
	return false;
}

enum addr_mode {
	ADDR_PERCPU,   /* offset >= 0: absolute (per-cpu); < 0: base - 1 - offset */
	ADDR_RELATIVE, /* base + (u32)offset */
	ADDR_ABSOLUTE, /* u64 addresses, no base */
};

static uint64_t addr_at(const struct vmt_region *r, size_t tab, uint64_t base, enum addr_mode m,
			uint32_t i)
{
	int32_t off;

	if (m == ADDR_ABSOLUTE)
		return rd64(r->data + tab + 8 * (size_t)i);
	off = (int32_t)rd32(r->data + tab + 4 * (size_t)i);
	if (m == ADDR_RELATIVE)
		return base + (uint32_t)off;
	return off >= 0 ? (uint64_t)off : base - 1 - (int64_t)off;
}

static bool addrs_sorted(const struct vmt_region *r, struct ktab *k, size_t tab, uint64_t base,
			 enum addr_mode m)
{
	uint32_t n = k->nsyms;
	uint64_t prev = 0;

	if (!spend(k, n))
		return false;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t a = addr_at(r, tab, base, m, i);

		if (a < prev)
			return false;
		prev = a;
	}
	return true;
}

struct kaddrs {
	size_t tab;
	uint64_t base;
	enum addr_mode mode;
};

/* Offsets table at tab followed by relative_base at rb: which decoding sorts? */
static bool addrs_try_relative(const struct vmt_region *r, struct ktab *k, size_t tab, size_t rb,
			       struct kaddrs *a)
{
	if (!r_has(r, tab, 4 * (size_t)k->nsyms) || !r_has(r, rb, 8))
		return false;
	a->tab = tab;
	a->base = rd64(r->data + rb);
	/* The base is the lowest kernel text address: in the upper (kernel) half. */
	if (a->base < KERNEL_HALF)
		return false;
	for (a->mode = ADDR_PERCPU; a->mode <= ADDR_RELATIVE; a->mode++)
		if (addrs_sorted(r, k, tab, a->base, a->mode))
			return true;
	return false;
}

static bool addrs_find(const struct vmt_region *r, struct ktab *k, struct kaddrs *a)
{
	size_t n = k->nsyms, obytes = (4 * n + 7) & ~(size_t)7, tab;

	/* <= 6.3: offsets, pad, relative_base, then num_syms. */
	if (k->nstart >= 16 + obytes &&
	    addrs_try_relative(r, k, k->nstart - 16 - obytes, k->nstart - 16, a))
		return true;
	/* 6.4+: offsets and relative_base after token_index. */
	tab = r_align_up(r, k->tok.idx_end);
	if (addrs_try_relative(r, k, tab, r_align_up(r, tab + 4 * n), a))
		return true;
	/* !KALLSYMS_BASE_RELATIVE: u64 addresses right before num_syms. */
	a->mode = ADDR_ABSOLUTE;
	a->base = 0;
	if (k->nstart >= 8 + 8 * n) {
		a->tab = k->nstart - 8 - 8 * n;
		return addr_at(r, a->tab, 0, ADDR_ABSOLUTE, k->nsyms - 1) >= KERNEL_HALF &&
		       addrs_sorted(r, k, a->tab, 0, ADDR_ABSOLUTE);
	}
	return false;
}

/* Append the expansion of the names entry at *pos ("Tname") to out. */
static int name_expand(const struct vmt_region *r, const struct ktab *k, size_t *pos, char *buf,
		       size_t *len)
{
	size_t hdr, ntok, n = 0;

	if (!name_entry(r, *pos, k->nend, &hdr, &ntok))
		return -EBADMSG;
	for (size_t i = 0; i < ntok; i++) {
		const char *tok =
		    (const char *)r->data + k->tok.start + k->tok.idx[r->data[*pos + hdr + i]];
		size_t tl = strlen(tok); /* verified NUL-terminated by tokens_match_index */

		if (tl > VMT_KSYM_NAME_MAX - n)
			return -ENAMETOOLONG;
		memcpy(buf + n, tok, tl);
		n += tl;
	}
	*pos += hdr + ntok;
	*len = n;
	return n >= 2 ? 0 : -EBADMSG;
}

static int names_append(struct vmt_ksyms *ks, size_t *cap, const char *s, size_t n)
{
	if (ks->names_len + n + 1 > *cap) {
		size_t ncap = VMT_MAX(*cap * 2, ks->names_len + n + 1);
		char *p = realloc(ks->names, ncap);

		if (!p)
			return -ENOMEM;
		ks->names = p;
		*cap = ncap;
	}
	memcpy(ks->names + ks->names_len, s, n);
	ks->names[ks->names_len + n] = '\0';
	ks->names_len += n + 1;
	return 0;
}

static int ksyms_decode(const struct vmt_region *r, const struct ktab *k, const struct kaddrs *a,
			struct vmt_ksyms *out)
{
	struct vmt_ksyms ks = {0};
	size_t pos = k->nstart, cap = (k->nend - k->nstart) * 3 + 64, len;
	char buf[VMT_KSYM_NAME_MAX];
	int err = -ENOMEM;

	ks.syms = calloc(k->nsyms, sizeof(*ks.syms));
	ks.names = malloc(cap);
	if (!ks.syms || !ks.names)
		goto fail;
	for (uint32_t i = 0; i < k->nsyms; i++) {
		err = name_expand(r, k, &pos, buf, &len);
		if (err)
			goto fail;
		ks.syms[i].addr = addr_at(r, a->tab, a->base, a->mode, i);
		ks.syms[i].type = buf[0];
		ks.syms[i].name = (uint32_t)ks.names_len;
		err = names_append(&ks, &cap, buf + 1, len - 1);
		if (err || ks.names_len > UINT32_MAX)
			goto fail;
	}
	ks.n = k->nsyms;
	*out = ks;
	return 0;
fail:
	vmt_ksyms_free(&ks);
	return err == -ENOMEM ? err : -EBADMSG;
}

/* Markers, names and addresses, given that the markers array ends at end. */
static bool ktab_from_markers(const struct vmt_region *r, size_t end, struct ktab *k,
			      struct kaddrs *a)
{
	return markers_try(r, end, MARKERS_MAX, k) && names_find(r, k) && addrs_find(r, k, a);
}

/*
 * kallsyms_seqs_of_names: N big-endian 3-byte symbol indexes in name order,
 * from s up to the padding before the token table.  It must be a
 * permutation of 0..N-1, which no stray bytes will be.
 */
static bool seqs_match(const struct vmt_region *r, struct ktab *k, size_t s, size_t ts)
{
	uint32_t n = k->nsyms;
	uint8_t *seen;
	bool ok = s <= ts && (ts - s) / 3 >= n && ts - s - 3 * (size_t)n < 8 && spend(k, n);

	if (!ok || !(seen = calloc((n + 7) / 8, 1)))
		return false;
	for (size_t i = 0; ok && i < n; i++) {
		const uint8_t *e = r->data + s + 3 * i;
		uint32_t v = (uint32_t)e[0] << 16 | (uint32_t)e[1] << 8 | e[2];

		ok = v < n && !(seen[v / 8] & (1u << (v % 8)));
		if (ok)
			seen[v / 8] |= (uint8_t)(1u << (v % 8));
	}
	free(seen);
	return ok;
}

/* With seqs in [s, ts) (plus up to 7 bytes of padding), markers end at e: check it all. */
static bool seqs_layout_try(const struct vmt_region *r, size_t e, size_t s, struct ktab *k,
			    struct kaddrs *a)
{
	size_t ts = k->tok.start, nmax = (ts - s) / 3;
	size_t nmin = ts - s > 7 ? (ts - s - 7 + 2) / 3 : 1;

	if (!nmax || nmax > 256ull * MARKERS_MAX)
		return false;
	/* N is known to within 3, so the marker count to within 1: probe its 0 before walking. */
	for (size_t m = (nmin + 255) / 256; m <= (nmax + 255) / 256; m++) {
		if (4 * m > e || !r_aligned(r, e - 4 * m) || rd32(r->data + e - 4 * m))
			continue;
		if (markers_try(r, e, (uint32_t)m, k) && k->nmark == m && names_find(r, k) &&
		    seqs_match(r, k, s, ts) && addrs_find(r, k, a))
			return true;
	}
	return false;
}

/*
 * 6.2/6.3 (and 6.1 stable kernels with the backport) put seqs_of_names
 * between markers and token table.  Its length depends on N, which we do
 * not know yet, so try every 4-aligned end of markers going back from the
 * token table; an O(1) probe rejects almost every position.
 */
static bool ktab_with_seqs(const struct vmt_region *r, struct ktab *k, struct kaddrs *a)
{
	size_t ts = k->tok.start, e;

	if (ts < 12)
		return false;
	e = ts - 8;
	e -= (r->va + e) & 3;
	for (; e >= 4 && spend(k, 1); e -= 4) {
		size_t s = r_align_up(r, e);

		if (s < ts && seqs_layout_try(r, e, s, k, a))
			return true;
	}
	return false;
}

/* All checks for the token table candidate whose digits start at p. */
static bool ktab_try(const struct vmt_region *r, size_t p, struct ktab *k, struct kaddrs *a)
{
	size_t ts;

	if (!tokens_try(r, p, &k->tok))
		return false;
	ts = k->tok.start;
	/* 6.1, 6.4+: markers end at the token table, or 4 bytes before it if their count is odd. */
	if (ktab_from_markers(r, ts, k, a))
		return true;
	if (ts >= 4 && !rd32(r->data + ts - 4) && ktab_from_markers(r, ts - 4, k, a))
		return true;
	return ktab_with_seqs(r, k, a);
}

int vmt_kallsyms_recover(const struct vmt_region *r, struct vmt_ksyms *out)
{
	uint64_t work = WORK_MAX;

	return vmt_kallsyms_recover_budget(r, out, &work);
}

int vmt_kallsyms_recover_budget(const struct vmt_region *r, struct vmt_ksyms *out, uint64_t *budget)
{
	char digits[20]; /* tokens '0'..'9': "0\0" "1\0" ... "9\0" */
	struct ktab k;
	struct kaddrs a;
	size_t from = 0;
	int err;

	for (int i = 0; i < 10; i++) {
		digits[2 * i] = (char)('0' + i);
		digits[2 * i + 1] = '\0';
	}
	while (from < r->len && *budget) {
		const uint8_t *hit = memmem(r->data + from, r->len - from, digits, sizeof(digits));

		if (!hit)
			break;
		/* tokens_try walks up to 256 tokens: bytes full of digit runs pay for it too */
		*budget -= VMT_MIN(*budget, 256);
		from = (size_t)(hit - r->data);
		memset(&k, 0, sizeof(k));
		k.work = budget;
		if (ktab_try(r, from, &k, &a)) {
			err = ksyms_decode(r, &k, &a, out);
			if (err == -ENOMEM)
				return vmt_error(err, "out of memory decoding kallsyms");
			if (!err) {
				pr_debug("kallsyms: %u symbols, names at +%#zx, tokens at +%#zx",
					 k.nsyms, k.nstart, k.tok.start);
				return 0;
			}
		}
		from++;
	}
	if (!*budget)
		return vmt_error(-ENOENT, "kallsyms search gave up: too many near-matches "
					  "(a crafted image?)");
	return vmt_error(-ENOENT,
			 "no consistent kallsyms tables found (is CONFIG_KALLSYMS_ALL set?)");
}

void vmt_ksyms_free(struct vmt_ksyms *ks)
{
	if (!ks)
		return;
	free(ks->syms);
	free(ks->names);
	memset(ks, 0, sizeof(*ks));
}

/* One "addr type name" line; false for anything else (Debian's placeholder included). */
static bool sysmap_line(const char *s, size_t n, uint64_t *addr, char *type, const char **name,
			size_t *nlen)
{
	char *end;
	const char *p;

	if (n < 20 || n > 600)
		return false;
	*addr = strtoull(s, &end, 16);
	if (end != s + 16 || end[0] != ' ' || end[2] != ' ')
		return false;
	*type = end[1];
	*name = end + 3;
	*nlen = n - (size_t)(*name - s);
	for (p = *name; p < *name + *nlen; p++)
		if (*p == ' ' || *p == '\t' || *p == '\0')
			return false;
	return *nlen > 0;
}

int vmt_sysmap_parse(const char *text, size_t len, struct vmt_ksyms *out)
{
	struct vmt_ksyms ks = {0};
	size_t cap = 0, scap = 0, pos = 0;

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos), *name;
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos, nlen;
		uint64_t addr;
		char type;

		if (sysmap_line(text + pos, n, &addr, &type, &name, &nlen)) {
			if (ks.n == scap) {
				struct vmt_ksym *s;

				scap = scap ? scap * 2 : 4096;
				s = realloc(ks.syms, scap * sizeof(*s));
				if (!s)
					goto nomem;
				ks.syms = s;
			}
			ks.syms[ks.n] = (struct vmt_ksym){addr, (uint32_t)ks.names_len, type};
			if (names_append(&ks, &cap, name, nlen) || ks.names_len > UINT32_MAX)
				goto nomem;
			ks.n++;
		}
		pos += n + 1;
	}
	if (!ks.n) {
		vmt_ksyms_free(&ks);
		return vmt_error(-ENOENT, "System.map holds no symbols (a placeholder?)");
	}
	*out = ks;
	return 0;
nomem:
	vmt_ksyms_free(&ks);
	return vmt_error(-ENOMEM, "out of memory reading System.map");
}
