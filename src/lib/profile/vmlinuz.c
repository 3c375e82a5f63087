// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vmlinuz.c - the vmlinux inside a bzImage.
 *
 * x86 boot protocol >= 2.08 says where the compressed kernel is:
 * payload = (setup_sects + 1) * 512 + payload_offset, payload_length bytes
 * (fields at 0x1f1, 0x248, 0x24c).  The build appends the inflated size as a
 * 4-byte trailer to every format (gzip has it anyway as ISIZE), so the last
 * four payload bytes are a size hint, and anything after the compressed
 * stream is not an error.  Everything read from the image is bounds-checked:
 * a kernel file is as untrusted as guest memory.
 */
#include <limits.h>
#include <lz4.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "core/internal.h"
#include "profile/profile_priv.h"

#define BZ_SETUP_SECTS	 0x1f1
#define BZ_HDRS_MAGIC	 0x202
#define BZ_VERSION	 0x206
#define BZ_PAYLOAD_OFF	 0x248
#define BZ_PAYLOAD_LEN	 0x24c
#define BZ_MIN_VERSION	 0x208 /* first protocol with payload_offset */
#define LZ4_LEGACY_MAGIC 0x184c2102u
#define LZ4_LEGACY_BLOCK (8u << 20) /* every block but the last inflates to 8 MiB */

enum comp {
	COMP_NONE,
	COMP_GZIP,
	COMP_LZ4,
	COMP_ZSTD,
	COMP_XZ,
	COMP_LZMA,
	COMP_BZIP2,
	COMP_LZO,
};

static const char *const comp_names[] = {"none", "gzip", "lz4",	  "zstd",
					 "xz",	 "lzma", "bzip2", "lzo"};

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static enum comp comp_detect(const uint8_t *p, size_t len)
{
	static const uint8_t xz[] = {0xfd, '7', 'z', 'X', 'Z', 0x00};

	if (len >= 2 && p[0] == 0x1f && (p[1] == 0x8b || p[1] == 0x9e))
		return COMP_GZIP;
	if (len >= 4 && rd32(p) == LZ4_LEGACY_MAGIC)
		return COMP_LZ4;
	if (len >= 4 && rd32(p) == 0xfd2fb528u)
		return COMP_ZSTD;
	if (len >= sizeof(xz) && !memcmp(p, xz, sizeof(xz)))
		return COMP_XZ;
	/* .lzma "alone" header: lc/lp/pb properties byte 0x5d, then the dictionary size. */
	if (len >= 13 && p[0] == 0x5d && p[1] == 0 && p[2] == 0)
		return COMP_LZMA;
	if (len >= 3 && !memcmp(p, "BZh", 3))
		return COMP_BZIP2;
	if (len >= 4 && !memcmp(p, "\x89LZO", 4))
		return COMP_LZO;
	return COMP_NONE;
}

/* A growing output buffer capped at VMT_VMLINUX_MAX. */
struct obuf {
	uint8_t *p;
	size_t len, cap;
	const char *what;
};

static int obuf_reserve(struct obuf *o, size_t more)
{
	size_t want, cap;
	uint8_t *np;

	if (more > VMT_VMLINUX_MAX || o->len > VMT_VMLINUX_MAX - more)
		return vmt_error(-EFBIG, "%s: kernel inflates to more than %llu MiB", o->what,
				 VMT_VMLINUX_MAX >> 20);
	want = o->len + more;
	if (want <= o->cap)
		return 0;
	cap = o->cap ? o->cap : 1 << 20;
	while (cap < want)
		cap *= 2;
	cap = VMT_MIN(cap, (size_t)VMT_VMLINUX_MAX);
	np = realloc(o->p, cap);
	if (!np)
		return vmt_error(-ENOMEM, "%s: out of memory inflating the kernel", o->what);
	o->p = np;
	o->cap = cap;
	return 0;
}

static int inflate_gzip(const uint8_t *in, size_t len, struct obuf *o)
{
	z_stream zs = {0};
	uInt avail;
	int zr, err = 0;

	if (len > UINT_MAX)
		return vmt_error(-EFBIG, "%s: gzip payload too large", o->what);
	/* 16 + MAX_WBITS: gzip wrapper only; a stream end stops us before trailing bytes. */
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		return vmt_error(-ENOMEM, "%s: cannot initialize zlib", o->what);
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	do {
		err = obuf_reserve(o, 1 << 20);
		if (err)
			goto out;
		avail = (uInt)VMT_MIN(o->cap - o->len, (size_t)UINT_MAX);
		zs.next_out = o->p + o->len;
		zs.avail_out = avail;
		zr = inflate(&zs, Z_NO_FLUSH);
		o->len += avail - zs.avail_out;
		if (zr == Z_BUF_ERROR && zs.avail_in == 0)
			zr = Z_DATA_ERROR; /* input ended before the stream did */
	} while (zr == Z_OK || zr == Z_BUF_ERROR);
	if (zr != Z_STREAM_END)
		err = vmt_error(-EBADMSG, "%s: gzip payload is corrupt or truncated (%s)", o->what,
				zs.msg ? zs.msg : "unexpected end");
out:
	inflateEnd(&zs);
	return err;
}

/*
 * LZ4 legacy frame: magic, then blocks of {le32 size, data}.  The frame has
 * no end marker: it ends where the input ends, or at the 4-byte size trailer
 * the kernel build appends, or at another magic (concatenated frames).
 */
static int inflate_lz4(const uint8_t *in, size_t len, struct obuf *o)
{
	size_t pos = 4, nblocks = 0;
	int n, err;

	while (len - pos >= 4) {
		uint32_t c = rd32(in + pos);

		if (c == LZ4_LEGACY_MAGIC) {
			pos += 4;
			continue;
		}
		if (nblocks && (len - pos == 4 || c == 0))
			break; /* the size trailer, or zero padding after the stream */
		if (c == 0 || c > (uint32_t)LZ4_compressBound(LZ4_LEGACY_BLOCK)) {
			if (nblocks)
				break; /* trailing bytes that cannot be a block */
			return vmt_error(-EBADMSG, "%s: LZ4 payload has a bad block size %u",
					 o->what, c);
		}
		if (c > len - pos - 4)
			return vmt_error(-EBADMSG,
					 "%s: LZ4 payload truncated (block of %u bytes, %zu left)",
					 o->what, c, len - pos - 4);
		err = obuf_reserve(o, LZ4_LEGACY_BLOCK);
		if (err)
			return err;
		n = LZ4_decompress_safe((const char *)in + pos + 4, (char *)o->p + o->len, (int)c,
					(int)LZ4_LEGACY_BLOCK);
		if (n < 0)
			return vmt_error(-EBADMSG, "%s: LZ4 block %zu is corrupt", o->what,
					 nblocks);
		o->len += (size_t)n;
		pos += 4 + (size_t)c;
		nblocks++;
	}
	if (!nblocks)
		return vmt_error(-EBADMSG, "%s: LZ4 payload holds no block", o->what);
	return 0;
}

static int inflate_zstd(const uint8_t *in, size_t len, struct obuf *o)
{
	ZSTD_inBuffer ib = {in, len, 0};
	ZSTD_DCtx *dc = ZSTD_createDCtx();
	size_t zr = 1;
	int err = 0;

	if (!dc)
		return vmt_error(-ENOMEM, "%s: cannot create a zstd context", o->what);
	/* The kernel compresses with --ultra -22: windows above zstd's default limit. */
	ZSTD_DCtx_setParameter(dc, ZSTD_d_windowLogMax, 30);
	while (zr != 0) {
		ZSTD_outBuffer ob;

		err = obuf_reserve(o, 1 << 20);
		if (err)
			goto out;
		ob = (ZSTD_outBuffer){o->p, o->cap, o->len};
		zr = ZSTD_decompressStream(dc, &ob, &ib);
		o->len = ob.pos;
		if (ZSTD_isError(zr)) {
			err = vmt_error(-EBADMSG, "%s: zstd payload is corrupt (%s)", o->what,
					ZSTD_getErrorName(zr));
			goto out;
		}
		if (zr && ib.pos == ib.size && ob.pos < ob.size) {
			err = vmt_error(-EBADMSG, "%s: zstd payload truncated", o->what);
			goto out;
		}
	}
out:
	ZSTD_freeDCtx(dc);
	return err;
}

/* xz and legacy lzma both go through liblzma; only the decoder differs. */
static int inflate_lzma(const uint8_t *in, size_t len, struct obuf *o, enum comp c)
{
	lzma_stream ls = LZMA_STREAM_INIT;
	lzma_ret lr;
	int err = 0;

	if (c == COMP_XZ)
		lr = lzma_stream_decoder(&ls, VMT_VMLINUX_MAX, 0);
	else
		lr = lzma_alone_decoder(&ls, VMT_VMLINUX_MAX);
	if (lr != LZMA_OK)
		return vmt_error(-ENOMEM, "%s: cannot initialize liblzma", o->what);
	ls.next_in = in;
	ls.avail_in = len;
	do {
		err = obuf_reserve(o, 1 << 20);
		if (err)
			goto out;
		ls.next_out = o->p + o->len;
		ls.avail_out = o->cap - o->len;
		lr = lzma_code(&ls, LZMA_FINISH);
		o->len = o->cap - ls.avail_out;
	} while (lr == LZMA_OK);
	if (lr != LZMA_STREAM_END)
		err =
		    vmt_error(-EBADMSG, "%s: %s payload is corrupt or truncated (liblzma error %d)",
			      o->what, comp_names[c], (int)lr);
out:
	lzma_end(&ls);
	return err;
}

int vmt_decompress(const void *in, size_t len, size_t size_hint, const char *what, void **out,
		   size_t *out_len)
{
	struct obuf o = {.what = what};
	enum comp c = comp_detect(in, len);
	int err;

	if (c == COMP_NONE)
		return vmt_error(
		    -ENOEXEC, "%s: unknown compression (magic %02x %02x %02x %02x)", what,
		    len > 0 ? ((const uint8_t *)in)[0] : 0, len > 1 ? ((const uint8_t *)in)[1] : 0,
		    len > 2 ? ((const uint8_t *)in)[2] : 0, len > 3 ? ((const uint8_t *)in)[3] : 0);
	if (c == COMP_BZIP2 || c == COMP_LZO)
		return vmt_error(-ENOTSUP, "%s: %s-compressed kernels are not supported", what,
				 comp_names[c]);
	/*
	 * Trust the hint only as a first allocation size, never as a bound,
	 * and only where it is plausible: kernels compress 3-5x, so a hint
	 * 32x over the input is a lie that would reserve memory for nothing.
	 */
	if (size_hint && size_hint <= VMT_VMLINUX_MAX && size_hint / 32 <= len) {
		err = obuf_reserve(&o, size_hint + 64);
		if (err)
			return err;
	}
	switch (c) {
	case COMP_GZIP:
		err = inflate_gzip(in, len, &o);
		break;
	case COMP_LZ4:
		err = inflate_lz4(in, len, &o);
		break;
	case COMP_ZSTD:
		err = inflate_zstd(in, len, &o);
		break;
	default:
		err = inflate_lzma(in, len, &o, c);
		break;
	}
	if (err) {
		free(o.p);
		return err;
	}
	pr_debug("%s: %s payload of %zu bytes inflated to %zu", what, comp_names[c], len, o.len);
	*out = o.p;
	*out_len = o.len;
	return 0;
}

/* The payload's byte range inside a bzImage; -ENOEXEC if img is not one. */
static int bzimage_payload(const uint8_t *img, size_t len, const char *what, size_t *off,
			   size_t *plen)
{
	uint64_t setup, start, end;
	uint16_t version;

	if (len < BZ_HDRS_MAGIC + 4 || memcmp(img + BZ_HDRS_MAGIC, "HdrS", 4))
		return -ENOEXEC;
	if (len < BZ_PAYLOAD_LEN + 4)
		return vmt_error(-EBADMSG, "%s: truncated bzImage header (%zu bytes)", what, len);
	version = (uint16_t)(img[BZ_VERSION] | img[BZ_VERSION + 1] << 8);
	if (version < BZ_MIN_VERSION)
		return vmt_error(-ENOTSUP,
				 "%s: boot protocol %u.%02u is too old (no payload_offset)", what,
				 version >> 8, version & 0xff);
	/* setup_sects == 0 means 4, for compatibility with ancient loaders. */
	setup = img[BZ_SETUP_SECTS] ? img[BZ_SETUP_SECTS] : 4;
	start = (setup + 1) * 512 + rd32(img + BZ_PAYLOAD_OFF);
	if (!vmt_add_ok(start, rd32(img + BZ_PAYLOAD_LEN), &end) || end > len ||
	    rd32(img + BZ_PAYLOAD_LEN) < 8)
		return vmt_error(-EBADMSG,
				 "%s: bzImage payload (offset %llu, %u bytes) lies outside the "
				 "%zu-byte file",
				 what, (unsigned long long)start, rd32(img + BZ_PAYLOAD_LEN), len);
	*off = (size_t)start;
	*plen = rd32(img + BZ_PAYLOAD_LEN);
	return 0;
}

int vmt_vmlinuz_extract(const void *img, size_t len, const char *what, void **out, size_t *out_len)
{
	const uint8_t *p = img;
	size_t off = 0, plen = len;
	uint32_t trailer;
	bool bzimage;
	int err;

	err = bzimage_payload(p, len, what, &off, &plen);
	bzimage = !err;
	if (err == -ENOEXEC) {
		/* Not a bzImage: maybe a bare compressed vmlinux (vmlinux.gz and friends). */
		if (comp_detect(p, len) == COMP_NONE)
			return vmt_error(-ENOEXEC,
					 "not a Linux kernel image: %s (no bzImage header, no ELF)",
					 what);
		err = 0;
	}
	if (err)
		return err;
	trailer = plen >= 4 ? rd32(p + off + plen - 4) : 0;
	err = vmt_decompress(p + off, plen, trailer, what, out, out_len);
	if (err || !bzimage)
		return err;
	/* A bzImage always carries the size; LZ4 legacy has no checksum to catch the rest. */
	if ((uint32_t)*out_len != trailer) {
		free(*out);
		*out = NULL;
		return vmt_error(-EBADMSG,
				 "%s: payload inflated to %zu bytes, its size field says %u", what,
				 *out_len, trailer);
	}
	return 0;
}
