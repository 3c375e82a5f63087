/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * internal.h - helpers shared by every part of libvmemtrans: logging,
 * the per-thread error text, and overflow-safe arithmetic.
 */
#ifndef VMT_CORE_INTERNAL_H
#define VMT_CORE_INTERNAL_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmemtrans.h"

#define VMT_PAGE_SHIFT 12
#define VMT_PAGE_SIZE  (1ull << VMT_PAGE_SHIFT)
#define VMT_PAGE_MASK  (~(VMT_PAGE_SIZE - 1))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define VMT_MIN(a, b) ((a) < (b) ? (a) : (b))
#define VMT_MAX(a, b) ((a) > (b) ? (a) : (b))

__attribute__((format(printf, 2, 3))) void vmt_log(enum vmt_log_level level, const char *fmt, ...);
#define pr_err(...)   vmt_log(VMT_LOG_ERROR, __VA_ARGS__)
#define pr_warn(...)  vmt_log(VMT_LOG_WARN, __VA_ARGS__)
#define pr_info(...)  vmt_log(VMT_LOG_INFO, __VA_ARGS__)
#define pr_debug(...) vmt_log(VMT_LOG_DEBUG, __VA_ARGS__)

/*
 * Record a one-line error for vmt_last_error() and return err (a negative
 * errno), so call sites read: return vmt_error(-ENOENT, "no kernel in %s", p);
 */
__attribute__((format(printf, 2, 3))) int vmt_error(int err, const char *fmt, ...);
void vmt_error_clear(void);

/* a + b into *res; false on overflow. */
static inline bool vmt_add_ok(uint64_t a, uint64_t b, uint64_t *res)
{
	return !__builtin_add_overflow(a, b, res);
}

static inline bool vmt_mul_ok(uint64_t a, uint64_t b, uint64_t *res)
{
	return !__builtin_mul_overflow(a, b, res);
}

/* Copy at most dst_sz-1 bytes of src (which may lack a NUL), always terminate. */
size_t vmt_strlcpy(char *dst, const char *src, size_t dst_sz);

#endif
