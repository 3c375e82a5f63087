// SPDX-License-Identifier: LGPL-2.1-or-later
/* log.c - the library's only way to speak: a settable callback and a
 * per-thread "last error" line that the CLI prints. */
#include <stdio.h>
#include <string.h>

#include "core/internal.h"

static void log_stderr(enum vmt_log_level level, const char *msg, void *arg)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};

	(void)arg;
	fprintf(stderr, "vmemtrans: %s: %s\n", names[level], msg);
}

static vmt_log_fn log_fn = log_stderr;
static void *log_arg;
static enum vmt_log_level log_max = VMT_LOG_WARN;
static __thread char last_error[512];

void vmt_set_log(vmt_log_fn fn, void *arg, enum vmt_log_level max_level)
{
	log_fn = fn;
	log_arg = arg;
	log_max = max_level;
}

void vmt_log(enum vmt_log_level level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!log_fn || level > log_max)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_fn(level, msg, log_arg);
}

int vmt_error(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	pr_debug("%s", last_error);
	return err;
}

void vmt_error_clear(void)
{
	last_error[0] = '\0';
}

const char *vmt_last_error(void)
{
	return last_error;
}

size_t vmt_strlcpy(char *dst, const char *src, size_t dst_sz)
{
	size_t n = 0;

	if (!dst_sz)
		return 0;
	while (n + 1 < dst_sz && src[n])
		n++;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return n;
}
