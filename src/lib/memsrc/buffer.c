// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * buffer.c - a page source over guest RAM that is already in our memory
 * (a caller's buffer: synthetic page tables in unit tests, a loaded dump).
 * Guest-physical address = offset in the buffer.
 */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "memsrc/memsrc.h"

struct memsrc_buffer {
	struct vmt_memsrc base; /* first: the ops get &base */
	const uint8_t *buf;
	size_t len;
};

static int buffer_read_page(struct vmt_memsrc *src, uint64_t pfn, void *page)
{
	struct memsrc_buffer *b = (struct memsrc_buffer *)src;
	uint64_t off, n;

	if (pfn >= (b->len + VMT_PAGE_SIZE - 1) >> VMT_PAGE_SHIFT)
		return -EFAULT;
	off = pfn << VMT_PAGE_SHIFT;
	n = VMT_MIN(VMT_PAGE_SIZE, b->len - off);
	memcpy(page, b->buf + off, n);
	memset((uint8_t *)page + n, 0, VMT_PAGE_SIZE - n);
	return 0;
}

static int buffer_scan(struct vmt_memsrc *src, uint64_t pa, void *buf, size_t len)
{
	struct memsrc_buffer *b = (struct memsrc_buffer *)src;

	if (pa > b->len || len > b->len - pa)
		return -EFAULT;
	memcpy(buf, b->buf + pa, len);
	return 0;
}

static void buffer_destroy(struct vmt_memsrc *src)
{
	free(src);
}

static const struct vmt_memsrc_ops buffer_ops = {
    .name = "buffer",
    .read_page = buffer_read_page,
    .scan = buffer_scan,
    .destroy = buffer_destroy,
};

int vmt_memsrc_buffer_new(const void *buf, size_t len, struct vmt_memsrc **out)
{
	struct memsrc_buffer *b;

	*out = NULL;
	if (!buf && len)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->base.ops = &buffer_ops;
	b->base.ram_end = len;
	b->buf = buf;
	b->len = len;
	*out = &b->base;
	return 0;
}
