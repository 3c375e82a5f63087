// SPDX-License-Identifier: LGPL-2.1-or-later
/* memsrc.c - what every page source shares: batches, epochs, stats, destruction. */
#include "memsrc/memsrc.h"

struct vmt_mem_stats *vmt_memsrc_stats(struct vmt_memsrc *src)
{
	/* Counted nowhere: a source used without a page cache (tests, tools). */
	static __thread struct vmt_mem_stats scratch;

	return src->stats ? src->stats : &scratch;
}

int vmt_memsrc_read_pages(struct vmt_memsrc *src, struct vmt_page_req *req, size_t n)
{
	int first = 0;

	if (src->ops->read_pages)
		return src->ops->read_pages(src, req, n);
	for (size_t i = 0; i < n; i++) {
		req[i].err = src->ops->read_page(src, req[i].pfn, req[i].buf);
		if (req[i].err && !first)
			first = req[i].err;
	}
	return first;
}

void vmt_memsrc_epoch(struct vmt_memsrc *src)
{
	if (src->ops->epoch)
		src->ops->epoch(src);
}

void vmt_memsrc_epoch_end(struct vmt_memsrc *src)
{
	if (src->ops->epoch_end)
		src->ops->epoch_end(src);
}

void vmt_memsrc_free(struct vmt_memsrc *src)
{
	if (src)
		src->ops->destroy(src);
}
