/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pager_proto.h - the pager's command socket: a UNIX stream socket in the
 * VM's folder (<vm dir>/pager.sock), served by libvmt-pager.so inside QEMU.
 *
 * One request, one reply (none for HINT), any number of times per
 * connection.  Frames are little-endian (host order: both ends are on the
 * main host), fixed header then an explicit, capped payload.  A malformed
 * frame gets a reply with status -EPROTO and the connection is closed.
 *
 * Request:  struct vmt_pager_req, then n struct vmt_pager_range (PAGEIN, HINT)
 * Reply:    struct vmt_pager_rep, then len bytes (STATS: JSON text, no NUL)
 *
 *  PAGEIN  page these memory-file ranges in (method 2, "VM remote paging"):
 *          every chunk they touch that lives on a sub-host is fetched and
 *          installed in the memory file; the reply comes when all of them
 *          are resident (status 0), or with the first error (-ETIMEDOUT:
 *          a sub-host did not answer within the request's timeout_ms).
 *          Chunks brought in may push others out under the cap.
 *          rep.value = chunks that were paged in for this request.
 *  HINT    the same ranges as PAGEIN, asked for ahead (a walk that knows
 *          what it will read): no reply; the pager pages them in while
 *          the client sends nothing else, in batches of what has arrived,
 *          and a PAGEIN that comes meanwhile goes first.  n = 0 forgets
 *          the hints not done yet.  Errors are not reported: the PAGEIN
 *          that needs the chunks reports them.
 *  STATS   counters and latency percentiles as a JSON object (rep.len bytes):
 *          faults, pageins, pageouts, bytes_in, bytes_out, resident_chunks,
 *          cap_chunks, fault_us {p50,p90,p99,max}, errors, retries, ...
 *  PING    rep.value = pager's pid.
 *
 * Configuration: QEMU is started with LD_PRELOAD=libvmt-pager.so and
 * VMT_PAGER_CONF=<vm dir>/pager.conf, a file of key=value lines written by
 * `vmt split` ('#' starts a comment):
 *   mem=PATH        the memory file whose mapping the pager registers
 *   pagetable=PATH  the page table (pagetable.h); hosts and quotas are there
 *   socket=PATH     this command socket
 *   log=PATH        the pager's log (appended)
 *   psk=PATH        TLS-PSK key file for the sub-hosts (absent if insecure)
 *   insecure=0|1    plain NBD (comparison only)
 *   cap=BYTES       main-host cap on resident guest memory (0: none)
 *   policy=NAME     page-out victim choice (see the pager's README)
 *   start_after=PATH  the pager's threads start once PATH exists (vmt split
 *                   starts QEMU during its copy: faults wait until then)
 */
#ifndef VMT_PAGER_PROTO_H
#define VMT_PAGER_PROTO_H

#include <stdint.h>

#define VMT_PAGER_MAGIC	     0x56504752u /* "VPGR" */
#define VMT_PAGER_VERSION    1
#define VMT_PAGER_MAX_RANGES 4096
#define VMT_PAGER_MAX_REPLY  (1u << 20)
#define VMT_PAGER_SOCK_NAME  "pager.sock"
#define VMT_PAGER_CONF_ENV   "VMT_PAGER_CONF" /* path of the pager's config file */

enum vmt_pager_op {
	VMT_PAGER_PING = 1,
	VMT_PAGER_PAGEIN = 2,
	VMT_PAGER_STATS = 3,
	VMT_PAGER_HINT = 4,
};

struct vmt_pager_req {
	uint32_t magic;
	uint16_t version;
	uint16_t op;
	uint32_t n;	     /* PAGEIN, HINT: ranges that follow, <= VMT_PAGER_MAX_RANGES */
	uint32_t timeout_ms; /* PAGEIN: give up after this (0 = 30000) */
};

struct vmt_pager_range {
	uint64_t off; /* memory-file offset */
	uint64_t len;
};

struct vmt_pager_rep {
	uint32_t magic;
	uint16_t version;
	uint16_t op;
	int32_t status; /* 0 or -errno */
	uint32_t len;	/* payload bytes that follow, <= VMT_PAGER_MAX_REPLY */
	uint64_t value; /* op-specific (see above) */
};

#endif
