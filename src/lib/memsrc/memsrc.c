// SPDX-License-Identifier: LGPL-2.1-or-later
/* memsrc.c - what every page source shares: destruction through its ops. */
#include "memsrc/memsrc.h"

void vmt_memsrc_free(struct vmt_memsrc *src)
{
	if (src)
		src->ops->destroy(src);
}
