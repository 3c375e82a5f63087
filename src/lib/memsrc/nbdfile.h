/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nbdfile.h - a page source on another host than the VM's: the main host's
 * memory file and page table read over NBD from its read-only export
 * (`vmt vm export`, src/hosts/vmexport.c), pages on sub-hosts fetched from
 * the sub-hosts directly (method 1).  The contract of read_page is
 * memsrc.h's; how the seqlock is kept over the network is at the top of
 * nbdfile.c.
 */
#ifndef VMT_MEMSRC_NBDFILE_H
#define VMT_MEMSRC_NBDFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memsrc/memsrc.h"

/* Export names of a VM's export (one nbdkit, file plugin dir= mode). */
#define VMT_NBD_EXPORT_MEM	 "mem"
#define VMT_NBD_EXPORT_PAGETABLE "pagetable"
#define VMT_NBD_EXPORT_KERNEL	 "kernel"
#define VMT_NBD_EXPORT_META	 "meta"
#define VMT_NBD_META_MAX	 65536 /* a meta export larger than this is refused */

/* What the export's meta says about the VM (src/hosts/vmexport.c writes it). */
struct vmt_nbd_meta {
	char vm[64];
	uint64_t ram_size;
	char machine[16];
	int split_gen; /* 0: unsplit (no page table export) */
	uint64_t kernel_size;
	int64_t kernel_mtime_ns;
	char fetch[16];	      /* the VM's listing default, "" = runtime */
	uint64_t fetch_chunk; /* ... and fetch chunk, 0 = 64K */
	bool subhosts_insecure;
};

struct vmt_memsrc_nbd_opts {
	const char *from;	    /* "HOST[:PORT]" of the main host's export */
	const char *psk_file;	    /* its key (and the sub-hosts': the same file) */
	const char *vm;		    /* NULL, or the VM the export must serve (-ESRCH) */
	const char *machine;	    /* NULL: the meta's */
	uint64_t below_4g;	    /* 0: from the machine */
	int fetch;		    /* VMT_FETCH_NONE or VMT_FETCH_RUNTIME */
	uint64_t fetch_chunk;	    /* 0: the meta's, else 64K */
	uint64_t fetch_cache_bytes; /* bound of each cache (0: 4 MiB) */
	int timeout_ms;		    /* one request (0: 10000) */
};

/*
 * Connect to the export (TLS-PSK), read its meta and, for a split VM, its
 * page table, and return a source whose pages all come over the network.
 * meta (may be NULL) receives the meta.  Errors: -EINVAL bad options or a
 * fetch method that needs the main host (vm), -ECONNREFUSED / -ETIMEDOUT
 * no export, -EACCES wrong or no key, -ESRCH the export serves another VM,
 * -EBADMSG a malformed meta or page table, -ESTALE the VM was split after
 * it was exported.  vmt_last_error() says which.
 */
int vmt_memsrc_nbd_open(const struct vmt_memsrc_nbd_opts *o, struct vmt_memsrc **out,
			struct vmt_nbd_meta *meta);

/*
 * The guest's kernel image, fetched once from the export into
 * cache_dir/remote/ (cache_dir NULL: $XDG_CACHE_HOME/vmemtrans or
 * ~/.cache/vmemtrans) under a name made of the export's address and the
 * image's size and mtime, so the profile cache finds it again; its path in
 * path.  src must come from vmt_memsrc_nbd_open.
 */
int vmt_memsrc_nbd_kernel(struct vmt_memsrc *src, const char *cache_dir, char *path,
			  size_t path_sz);

#endif
