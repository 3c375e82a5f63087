/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hidden.h - `vmt hidden`: what one view of the guest has and another lacks.
 *
 * cmd_hidden.c parses the options, opens the guest and runs the checks in
 * turn; each check lives in its own file (hidden_tasks.c: processes;
 * hidden_sockets.c: sockets;
 * hidden_kernel.c: modules, hooked dispatch tables and kernel text).  A check reads its
 * views, re-reads a discrepancy before it reports it (a guest that forks and
 * exits must not raise false alarms) and reports what persisted.
 */
#ifndef VMT_HIDDEN_H
#define VMT_HIDDEN_H

#include <stdbool.h>
#include <stdio.h>

struct vmt_guest;
struct json_object;

struct hidden_ctx {
	struct vmt_guest *g;
	unsigned rechecks;	 /* how many fresh listings a discrepancy must survive */
	unsigned recheck_ms;	 /* pause between them (the guest runs on) */
	bool json;		 /* add to out; else print text lines to stdout */
	bool verbose;		 /* also say what each view saw, and what re-checks cleared */
	struct json_object *out; /* the report (an object); each check adds its key */
};

/*
 * Each check returns how many discrepancies it reports (>= 0), or a negative
 * errno when it could not check at all (its views unreadable): then
 * cmd_hidden.c says so and exits 1 too, since a check that cannot run cannot
 * vouch for the guest.
 */
int hidden_tasks(struct hidden_ctx *c);
int hidden_sockets(struct hidden_ctx *c);
int hidden_modules(struct hidden_ctx *c);
int hidden_hooks(struct hidden_ctx *c);

/*
 * Wait c->recheck_ms before a re-check's fresh listing (cmd_hidden.c); a
 * guest paused by --pause is resumed for that time and paused again, so
 * that the re-check sees it move on.  The caller then calls
 * vmt_listing_begin() and reads its views again.
 */
void hidden_recheck_wait(struct hidden_ctx *c);

#endif
