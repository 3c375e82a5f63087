// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_vmlinuz.c - bzImage payload extraction for every compression the
 * kernel build uses, wrapped the way arch/x86/boot does it (setup sectors,
 * payload_offset/length, 4-byte size trailer, junk after), and the hostile
 * cases: wrong magic, truncated header, payload outside the file, cut and
 * corrupt streams.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lz4.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include "core/internal.h"
#include "profile/profile_priv.h"

#define ORIG_LEN    ((9u << 20) + 12345) /* > one 8 MiB LZ4 legacy block */
#define SMALL_LEN   ((1u << 20) + 777)	 /* for the slow encoders */
#define SETUP_SECTS 3
#define PAYLOAD_OFF 0x1c0

struct blob {
	uint8_t *p;
	size_t len;
	size_t orig_len; /* bytes of orig it inflates to */
};

static uint8_t *orig;

/* Compressible but not trivial: an ELF magic, then a pattern with noise. */
static int setup(void **state)
{
	(void)state;
	orig = malloc(ORIG_LEN);
	srand(42);
	for (size_t i = 0; i < ORIG_LEN; i++)
		orig[i] = (uint8_t)((i % 251) ^ (rand() % 8 == 0 ? rand() : 0));
	memcpy(orig,
	       "\x7f"
	       "ELF",
	       4);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(orig);
	return 0;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static struct blob gz(void)
{
	struct blob b = {malloc(SMALL_LEN + 4096), 0, SMALL_LEN};
	z_stream zs = {0};

	assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
			 Z_OK);
	zs.next_in = orig;
	zs.avail_in = SMALL_LEN;
	zs.next_out = b.p;
	zs.avail_out = SMALL_LEN + 4096;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	b.len = zs.total_out;
	deflateEnd(&zs);
	return b;
}

/* LZ4 legacy frame, as `lz4 -l`: magic, then {le32 size, block} per 8 MiB. */
static struct blob lz4(void)
{
	struct blob b = {malloc(ORIG_LEN + (1 << 20)), 4, ORIG_LEN};

	put32(b.p, 0x184c2102u);
	for (size_t off = 0; off < ORIG_LEN; off += 8u << 20) {
		int in = (int)VMT_MIN((size_t)8u << 20, ORIG_LEN - off);
		int n = LZ4_compress_default((const char *)orig + off, (char *)b.p + b.len + 4, in,
					     LZ4_compressBound(in));

		assert_true(n > 0);
		put32(b.p + b.len, (uint32_t)n);
		b.len += 4 + (size_t)n;
	}
	return b;
}

static struct blob zst(void)
{
	struct blob b = {malloc(ZSTD_compressBound(ORIG_LEN)), 0, ORIG_LEN};

	b.len = ZSTD_compress(b.p, ZSTD_compressBound(ORIG_LEN), orig, ORIG_LEN, 1);
	assert_false(ZSTD_isError(b.len));
	return b;
}

static struct blob xz(void)
{
	struct blob b = {malloc(SMALL_LEN + 65536), 0, SMALL_LEN};

	assert_int_equal(lzma_easy_buffer_encode(0, LZMA_CHECK_CRC32, NULL, orig, SMALL_LEN, b.p,
						 &b.len, SMALL_LEN + 65536),
			 LZMA_OK);
	return b;
}

static struct blob lzma_alone(void)
{
	struct blob b = {malloc(SMALL_LEN + 65536), 0, SMALL_LEN};
	lzma_stream ls = LZMA_STREAM_INIT;
	lzma_options_lzma opt;

	assert_false(lzma_lzma_preset(&opt, 0));
	assert_int_equal(lzma_alone_encoder(&ls, &opt), LZMA_OK);
	ls.next_in = orig;
	ls.avail_in = SMALL_LEN;
	ls.next_out = b.p;
	ls.avail_out = SMALL_LEN + 65536;
	assert_int_equal(lzma_code(&ls, LZMA_FINISH), LZMA_STREAM_END);
	b.len = ls.total_out;
	lzma_end(&ls);
	return b;
}

/* payload + size trailer inside a bzImage, with junk after the payload. */
static struct blob bzimage(struct blob payload, uint16_t version)
{
	size_t start = (SETUP_SECTS + 1) * 512 + PAYLOAD_OFF, plen = payload.len + 4;
	struct blob b = {calloc(1, start + plen + 100), start + plen + 100, payload.orig_len};

	b.p[0x1f1] = SETUP_SECTS;
	memcpy(b.p + 0x202, "HdrS", 4);
	b.p[0x206] = (uint8_t)version;
	b.p[0x207] = (uint8_t)(version >> 8);
	put32(b.p + 0x248, PAYLOAD_OFF);
	put32(b.p + 0x24c, (uint32_t)plen);
	memcpy(b.p + start, payload.p, payload.len);
	put32(b.p + start + payload.len, (uint32_t)payload.orig_len);
	memset(b.p + start + plen, 0xee, 100);
	free(payload.p);
	return b;
}

static void roundtrip(struct blob payload)
{
	struct blob img = bzimage(payload, 0x20f);
	void *out = NULL;
	size_t len = 0;

	size_t want = payload.orig_len;

	assert_int_equal(vmt_vmlinuz_extract(img.p, img.len, "img", &out, &len), 0);
	assert_int_equal(len, want);
	assert_memory_equal(out, orig, want);
	free(out);
	free(img.p);
}

static void test_gzip(void **state)
{
	(void)state;
	roundtrip(gz());
}

static void test_lz4(void **state)
{
	(void)state;
	roundtrip(lz4());
}

static void test_zstd(void **state)
{
	(void)state;
	roundtrip(zst());
}

static void test_xz(void **state)
{
	(void)state;
	roundtrip(xz());
}

static void test_lzma(void **state)
{
	(void)state;
	roundtrip(lzma_alone());
}

/* A bare compressed vmlinux (no bzImage around it) is accepted too. */
static void test_bare_stream(void **state)
{
	struct blob b = zst();
	void *out;
	size_t len;

	(void)state;
	assert_int_equal(vmt_vmlinuz_extract(b.p, b.len, "bare", &out, &len), 0);
	assert_int_equal(len, ORIG_LEN);
	free(out);
	free(b.p);
}

static void test_wrong_magic(void **state)
{
	static const char text[] = "root:x:0:0:root:/root:/bin/bash\n";
	struct blob img = bzimage(lz4(), 0x20f);
	void *out = NULL;
	size_t len;

	(void)state;
	assert_int_equal(vmt_vmlinuz_extract(text, sizeof(text), "/etc/passwd", &out, &len),
			 -ENOEXEC);
	assert_non_null(strstr(vmt_last_error(), "not a Linux kernel image: /etc/passwd"));
	/* a bzImage whose payload has no known magic */
	memset(img.p + (SETUP_SECTS + 1) * 512 + PAYLOAD_OFF, 0x33, 4);
	assert_int_equal(vmt_vmlinuz_extract(img.p, img.len, "img", &out, &len), -ENOEXEC);
	assert_non_null(strstr(vmt_last_error(), "unknown compression"));
	assert_null(out);
	free(img.p);
}

static void test_truncated_header(void **state)
{
	struct blob img = bzimage(lz4(), 0x20f);
	void *out = NULL;
	size_t len;

	(void)state;
	for (size_t cut = 0x206; cut < 0x250; cut += 7)
		assert_int_equal(vmt_vmlinuz_extract(img.p, cut, "img", &out, &len), -EBADMSG);
	/* whole header, payload cut off */
	assert_int_equal(vmt_vmlinuz_extract(img.p, 4096, "img", &out, &len), -EBADMSG);
	assert_non_null(strstr(vmt_last_error(), "outside"));
	/* payload_length pointing past the end */
	put32(img.p + 0x24c, 0xfffffff0u);
	assert_int_equal(vmt_vmlinuz_extract(img.p, img.len, "img", &out, &len), -EBADMSG);
	assert_null(out);
	free(img.p);
}

static void test_old_protocol(void **state)
{
	struct blob img = bzimage(lz4(), 0x206);
	void *out = NULL;
	size_t len;

	(void)state;
	assert_int_equal(vmt_vmlinuz_extract(img.p, img.len, "img", &out, &len), -ENOTSUP);
	free(img.p);
}

/* Streams cut short: every format reports corruption, none crashes. */
static void cut_stream(struct blob b, size_t keep)
{
	void *out = NULL;
	size_t len;

	assert_int_equal(vmt_decompress(b.p, keep, ORIG_LEN, "cut", &out, &len), -EBADMSG);
	assert_null(out);
	free(b.p);
}

static void test_truncated_streams(void **state)
{
	struct blob b;

	(void)state;
	b = lz4();
	cut_stream(b, b.len / 2);
	b = lz4();
	cut_stream(b, 6); /* magic and half a block size */
	b = gz();
	cut_stream(b, b.len / 2);
	b = zst();
	cut_stream(b, b.len - 100);
	b = xz();
	cut_stream(b, b.len / 3);
	b = lzma_alone();
	cut_stream(b, b.len / 3);
}

static void test_corrupt_lz4_block(void **state)
{
	struct blob b = lz4();
	void *out = NULL;
	size_t len;

	(void)state;
	put32(b.p + 4, 1000); /* the first block ends in the middle of a sequence */
	assert_int_equal(vmt_decompress(b.p, b.len, 0, "bad", &out, &len), -EBADMSG);
	/* a first block size no LZ4 block can have */
	put32(b.p + 4, 0x7fffffff);
	assert_int_equal(vmt_decompress(b.p, b.len, 0, "bad", &out, &len), -EBADMSG);
	assert_null(out);
	free(b.p);
}

/* A bzImage whose payload inflates to another size than its trailer says. */
static void test_size_mismatch(void **state)
{
	struct blob img = bzimage(gz(), 0x20f);
	size_t start = (SETUP_SECTS + 1) * 512 + PAYLOAD_OFF;
	uint32_t plen;
	void *out = NULL;
	size_t len;

	(void)state;
	memcpy(&plen, img.p + 0x24c, 4);
	put32(img.p + start + plen - 4, SMALL_LEN + 1);
	assert_int_equal(vmt_vmlinuz_extract(img.p, img.len, "img", &out, &len), -EBADMSG);
	assert_non_null(strstr(vmt_last_error(), "size"));
	assert_null(out);
	free(img.p);
}

static void test_unsupported(void **state)
{
	static const uint8_t bz2[] = "BZh91AY&SY";
	void *out = NULL;
	size_t len;

	(void)state;
	assert_int_equal(vmt_decompress(bz2, sizeof(bz2), 0, "bz", &out, &len), -ENOTSUP);
	assert_non_null(strstr(vmt_last_error(), "bzip2"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gzip),
	    cmocka_unit_test(test_lz4),
	    cmocka_unit_test(test_zstd),
	    cmocka_unit_test(test_xz),
	    cmocka_unit_test(test_lzma),
	    cmocka_unit_test(test_bare_stream),
	    cmocka_unit_test(test_wrong_magic),
	    cmocka_unit_test(test_truncated_header),
	    cmocka_unit_test(test_old_protocol),
	    cmocka_unit_test(test_truncated_streams),
	    cmocka_unit_test(test_corrupt_lz4_block),
	    cmocka_unit_test(test_size_mismatch),
	    cmocka_unit_test(test_unsupported),
	};

	vmt_set_log(NULL, NULL, VMT_LOG_ERROR);
	return cmocka_run_group_tests(tests, setup, teardown);
}
