// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fetch.c - method 1, "runtime fetch" (self paging): the runtime reads the
 * chunks it needs from their sub-hosts itself, over NBD (src/subhost).
 *
 * One connection per sub-host, opened when a page first needs it, to the
 * address and export the page table's header names, with the VM's TLS-PSK
 * key (or plain NBD when insecure).  All the wants of a batch go out in one
 * vmt_subhost_pread_batch: pipelined on each connection, the sub-hosts in
 * parallel, so a batch costs about one round trip.
 *
 * A connection that broke (the server restarted, a timeout) is replaced
 * once per batch and its reads sent again; a server that refuses the new
 * connection is given FETCH_RESTART_GRACE_MS to come back (the sub-host's
 * supervisor restarts a dead nbdkit within a fraction of a second, and the
 * whole listing would otherwise lose it).  A sub-host that cannot be
 * reached is "down" until the next listing: every page on it fails at once
 * with the connect error instead of waiting for a timeout per page, and the
 * next listing tries again (so a sub-host that came back is used again).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memsrc/split.h"
#include "subhost/subhost.h"

/* Errors after which a handle is of no more use: connect again. */
static bool conn_dead(int err)
{
	return err == -ECONNRESET || err == -ETIMEDOUT || err == -EPIPE || err == -ENOTCONN ||
	       err == -ESHUTDOWN || err == -ECONNABORTED;
}

/* How long a sub-host whose connection died may refuse a new one (restarting). */
#define FETCH_RESTART_GRACE_MS 3000
#define FETCH_RESTART_POLL_MS  100

static int host_connect_within(struct memsrc_file *f, int k, int timeout_ms);

static int host_connect(struct memsrc_file *f, int k)
{
	return host_connect_within(f, k, f->split->timeout_ms);
}

static int host_connect_within(struct memsrc_file *f, int k, int timeout_ms)
{
	struct split_ctx *x = f->split;
	const struct vmt_pt_host *ph = &f->pt.hdr->hosts[k];
	struct vmt_subhost_opts o = {
	    .sz = sizeof(o),
	    .addr = ph->addr,
	    .export_name = ph->export,
	    .psk_file = x->insecure ? NULL : x->psk_file,
	    .insecure = x->insecure,
	    .connect_timeout_ms = timeout_ms,
	    .io_timeout_ms = x->timeout_ms,
	};
	char addr[VMT_PT_ADDR_MAX + 1], export[VMT_PT_NAME_MAX + 1];
	uint64_t until;
	int err, grace;

	/* The header is shared memory: use NUL-terminated copies. */
	vmt_strlcpy(addr, ph->addr, sizeof(addr));
	vmt_strlcpy(export, ph->export, sizeof(export));
	o.addr = addr;
	o.export_name = export;
	grace = x->hosts[k].lost ? VMT_MIN(FETCH_RESTART_GRACE_MS, x->timeout_ms) : 0;
	x->hosts[k].lost = false;
	until = split_now_ns() + (uint64_t)grace * 1000000;
	/* A server being restarted refuses, or resets a handshake the old one took. */
	while (((err = vmt_subhost_connect(&o, &x->hosts[k].h)) == -ECONNREFUSED ||
		err == -ECONNRESET) &&
	       split_now_ns() < until)
		usleep(FETCH_RESTART_POLL_MS * 1000);
	if (err) {
		x->hosts[k].down = err;
		return vmt_error(err, "sub-host %d (%s, export '%s'): %s", k, addr, export,
				 vmt_subhost_last_error());
	}
	return 0;
}

/* Sub-host k's handle, connecting if needed; -errno if it is down. */
static int host_get(struct memsrc_file *f, int k, struct vmt_subhost **h)
{
	struct fetch_host *fh = &f->split->hosts[k];
	int err;

	/* Named again each time: a walker's own error may have replaced it since. */
	if (!fh->h && fh->down)
		return vmt_error(fh->down,
				 "sub-host %d (%.*s): %s; not asked again in this listing", k,
				 VMT_PT_ADDR_MAX, f->pt.hdr->hosts[k].addr, strerror(-fh->down));
	if (!fh->h && (err = host_connect(f, k)))
		return err;
	*h = fh->h;
	return 0;
}

static void host_drop(struct split_ctx *x, int k)
{
	vmt_subhost_close(x->hosts[k].h);
	x->hosts[k].h = NULL;
}

/* Fill io[] for the wants still to read (todo) that have a handle; how many. */
static size_t prepare(struct memsrc_file *f, struct split_want *w, size_t n, const bool *todo,
		      struct vmt_subhost_io *io, size_t *of)
{
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		struct vmt_subhost *h = NULL;

		if (!todo[i] || w[i].err)
			continue;
		if (!w[i].data && !(w[i].data = malloc(w[i].len))) {
			w[i].err = -ENOMEM;
			continue;
		}
		w[i].err = host_get(f, w[i].host, &h);
		if (w[i].err)
			continue;
		io[m] = (struct vmt_subhost_io){
		    .host = h, .off = w[i].off, .len = w[i].len, .buf = w[i].data};
		of[m++] = i;
	}
	return m;
}

void (*vmt_fetch_test_hook)(void *arg);
void *vmt_fetch_test_arg;

/* Longest request made of adjacent reads (more would only delay the first page). */
#define FETCH_MERGE_MAX (1u << 20)

static const struct vmt_subhost_io *sort_io;

static int io_cmp(const void *a, const void *b)
{
	const struct vmt_subhost_io *x = &sort_io[*(const size_t *)a];
	const struct vmt_subhost_io *y = &sort_io[*(const size_t *)b];

	if (x->host != y->host)
		return (uintptr_t)x->host < (uintptr_t)y->host ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

/*
 * Adjacent reads of one sub-host (small fetch chunks, a prefetch batch of a
 * struct's pages) become one request: each request costs the server and
 * TLS a fixed overhead that dominates 4 KiB reads.  mio[g] covers
 * io[ord[grp[g]] .. ord[grp[g + 1] - 1]]; a merged request reads into its
 * own buffer.  Returns the number of requests.
 */
static size_t merge(struct vmt_subhost_io *io, size_t m, size_t *ord, size_t *grp,
		    struct vmt_subhost_io *mio)
{
	size_t g = 0;

	for (size_t i = 0; i < m; i++)
		ord[i] = i;
	sort_io = io;
	qsort(ord, m, sizeof(*ord), io_cmp);
	for (size_t i = 0; i < m; i++) {
		const struct vmt_subhost_io *x = &io[ord[i]];
		struct vmt_subhost_io *last = g ? &mio[g - 1] : NULL;

		if (last && last->host == x->host && last->off + last->len == x->off &&
		    last->len + x->len <= FETCH_MERGE_MAX) {
			last->len += x->len;
			continue;
		}
		grp[g] = i;
		mio[g++] = *x;
	}
	grp[g] = m;
	for (size_t j = 0; j < g; j++) {
		if (grp[j + 1] - grp[j] == 1 || (mio[j].buf = malloc(mio[j].len)))
			continue;
		while (j--) /* no room to merge: the caller reads them one by one */
			if (grp[j + 1] - grp[j] > 1)
				free(mio[j].buf);
		return 0;
	}
	return g;
}

/* The merged requests' results back into the reads they cover. */
static void scatter(struct vmt_subhost_io *io, const size_t *ord, const size_t *grp,
		    struct vmt_subhost_io *mio, size_t g)
{
	for (size_t j = 0; j < g; j++) {
		bool merged = grp[j + 1] - grp[j] > 1;

		for (size_t i = grp[j]; i < grp[j + 1]; i++) {
			struct vmt_subhost_io *x = &io[ord[i]];

			x->err = mio[j].err;
			if (merged && !x->err)
				memcpy(x->buf, (uint8_t *)mio[j].buf + (x->off - mio[j].off),
				       x->len);
		}
		if (merged)
			free(mio[j].buf);
	}
}

void (*vmt_fetch_test_hook)(void *arg);
void *vmt_fetch_test_arg;

static void batch_run(struct memsrc_file *f, struct vmt_subhost_io *io, size_t m)
{
	struct vmt_mem_stats *st = vmt_memsrc_stats(&f->base);
	size_t *ord = malloc(m * sizeof(*ord)), *grp = malloc((m + 1) * sizeof(*grp)), g = 0;
	struct vmt_subhost_io *mio = calloc(m, sizeof(*mio));
	uint64_t t0 = split_now_ns();

	if (ord && grp && mio)
		g = merge(io, m, ord, grp, mio);
	if (g) {
		vmt_subhost_pread_batch(mio, g);
		scatter(io, ord, grp, mio, g);
	} else {
		vmt_subhost_pread_batch(io, m);
	}
	st->wait_ns += split_now_ns() - t0;
	st->round_trips++;
	free(ord);
	free(grp);
	free(mio);
	/* Unit tests move a chunk here, between the read and the seqlock check. */
	if (vmt_fetch_test_hook)
		vmt_fetch_test_hook(vmt_fetch_test_arg);
}

/*
 * Record each read's result in its want.  A want whose connection died is
 * left to read again (todo, err 0) after its handle is dropped, when
 * may_retry; true if there is any.
 */
static bool collect(struct memsrc_file *f, struct split_want *w, bool *todo,
		    const struct vmt_subhost_io *io, const size_t *of, size_t m, bool may_retry)
{
	struct split_ctx *x = f->split;
	bool resend = false;

	for (size_t j = 0; j < m; j++) {
		struct split_want *wi = &w[of[j]];
		int k = wi->host;

		wi->err = io[j].err;
		todo[of[j]] = false;
		if (!wi->err)
			continue;
		if (may_retry && conn_dead(wi->err)) {
			if (x->hosts[k].h == io[j].host) {
				host_drop(x, k);
				x->hosts[k].lost = true;
			}
			wi->err = 0;
			todo[of[j]] = resend = true;
			continue;
		}
		vmt_error(wi->err, "sub-host %d (%.*s): reading %llu bytes at %#llx: %s", k,
			  VMT_PT_ADDR_MAX, f->pt.hdr->hosts[k].addr, (unsigned long long)wi->len,
			  (unsigned long long)wi->off,
			  x->hosts[k].h ? vmt_subhost_error(x->hosts[k].h) : strerror(-wi->err));
	}
	return resend;
}

static void count(struct memsrc_file *f, const struct split_want *w, size_t n)
{
	struct vmt_mem_stats *st = vmt_memsrc_stats(&f->base);

	for (size_t i = 0; i < n; i++) {
		if (w[i].err || (unsigned)w[i].host >= VMT_MAX_SUBHOSTS)
			continue;
		st->host_requests[w[i].host]++;
		st->host_chunks[w[i].host] += w[i].nchunks;
		st->host_bytes[w[i].host] += w[i].len;
	}
}

void fetch_wants(struct memsrc_file *f, struct split_want *w, size_t n)
{
	struct vmt_subhost_io *io = calloc(n, sizeof(*io));
	size_t *of = calloc(n, sizeof(*of)), m;
	bool *todo = malloc(n * sizeof(*todo));

	if (!io || !of || !todo) {
		for (size_t i = 0; i < n; i++)
			w[i].err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		todo[i] = true;
	/* A second pass only for reads whose connection died: reconnect once. */
	for (int pass = 0; pass < 2; pass++) {
		m = prepare(f, w, n, todo, io, of);
		if (!m)
			break;
		batch_run(f, io, m);
		if (!collect(f, w, todo, io, of, m, pass == 0))
			break;
	}
	count(f, w, n);
out:
	free(io);
	free(of);
	free(todo);
}

/*
 * At open: connect to every sub-host now, so that a listing does not pay
 * the TLS handshake and NBD negotiation (and the TLS library's start) in
 * the middle of its first reads.  Best effort and short: a sub-host that
 * does not answer within FETCH_OPEN_CONNECT_MS is left to the listing,
 * which connects (and reports) as before.
 */
#define FETCH_OPEN_CONNECT_MS 1000

void fetch_open_hosts(struct memsrc_file *f)
{
	struct split_ctx *x = f->split;

	for (unsigned k = 0; k < f->pt.hdr->nr_hosts && k < VMT_PT_MAX_HOSTS; k++) {
		if (x->hosts[k].h ||
		    !host_connect_within(f, (int)k, VMT_MIN(x->timeout_ms, FETCH_OPEN_CONNECT_MS)))
			continue;
		x->hosts[k].down = 0; /* the listing tries again, and says why if it fails */
		vmt_error_clear();
	}
}

void fetch_epoch(struct split_ctx *x)
{
	for (unsigned k = 0; k < VMT_PT_MAX_HOSTS; k++) {
		x->hosts[k].down = 0;
		x->hosts[k].lost = false;
	}
}

void fetch_close(struct split_ctx *x)
{
	for (unsigned k = 0; k < VMT_PT_MAX_HOSTS; k++)
		host_drop(x, k);
}
