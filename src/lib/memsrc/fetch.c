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
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
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
static void hosts_ready(struct split_ctx *x);

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

	hosts_ready(f->split);
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
		st->host_chunks[w[i].host] += w[i].part ? 0 : w[i].nchunks;
		st->host_bytes[w[i].host] += w[i].len;
	}
}

void fetch_wants(struct memsrc_file *f, struct split_want *w, size_t n)
{
	struct vmt_subhost_io *io;
	size_t *of, m;
	bool *todo;

	fetch_stream_end(f); /* its handles are in its batch until then */
	io = calloc(n, sizeof(*io));
	of = calloc(n, sizeof(*of));
	todo = malloc(n * sizeof(*todo));

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
 * The prefetch stream.  Method 1's walkers know many pages ahead (the
 * argument pages of every process, found through page tables that are on
 * the main host): sent as they are found, their transfers overlap the rest
 * of the walk instead of following it.  At most as many bytes as the fetch
 * cache keeps per stream, and FETCH_STREAM_MAX wants (a process's argument
 * string is one or two, of some 100 bytes each, when exact).
 */
#define FETCH_STREAM_MAX 4096u

static int stream_alloc(struct memsrc_file *f)
{
	struct fetch_stream *st = &f->split->stream;
	size_t cap = f->base.prefetch_max ? FETCH_STREAM_MAX : 0, slots = 16;

	if (st->w)
		return 0;
	if (!cap)
		return -EINVAL;
	while (slots < 2 * cap)
		slots <<= 1;
	st->w = calloc(cap, sizeof(*st->w));
	st->io = calloc(cap, sizeof(*st->io));
	st->index = calloc(slots, sizeof(*st->index));
	st->landed = calloc(cap, sizeof(*st->landed));
	st->got = calloc(cap, sizeof(*st->got));
	if (!st->w || !st->io || !st->index || !st->landed || !st->got) {
		free(st->w);
		free(st->io);
		free(st->index);
		free(st->landed);
		free(st->got);
		*st = (struct fetch_stream){0};
		return -ENOMEM;
	}
	st->cap = cap;
	st->index_mask = slots - 1;
	st->mu_ok = !pthread_mutex_init(&st->mu, NULL);
	st->cond_ok = !pthread_cond_init(&st->landed_cond, NULL);
	st->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return 0;
}

/* Wants are found by their fetch chunk: a want never leaves the one it was cut from. */
static size_t stream_slot(const struct fetch_stream *st, uint64_t fetch_chunk)
{
	return (size_t)(fetch_chunk * 0x9e3779b97f4a7c15ull >> 32) & st->index_mask;
}

/* The want of the stream that reads all of [off, off + len) from k: *idx. */
static bool stream_find(const struct split_ctx *x, uint64_t off, uint64_t len, int k, size_t *idx)
{
	const struct fetch_stream *st = &x->stream;

	for (size_t i = stream_slot(st, off >> x->fetch_shift); st->index[i];
	     i = (i + 1) & st->index_mask) {
		const struct split_want *w = &st->w[st->index[i] - 1];

		if (w->host == k && off - w->off < w->len && w->len - (off - w->off) >= len) {
			*idx = st->index[i] - 1;
			return true;
		}
	}
	return false;
}

static bool stream_has(const struct split_ctx *x, uint64_t off, uint64_t len, int k)
{
	size_t i;

	return stream_find(x, off, len, k, &i);
}

static void stream_index(struct split_ctx *x, size_t idx)
{
	struct fetch_stream *st = &x->stream;
	size_t i = stream_slot(st, st->w[idx].off >> x->fetch_shift);

	while (st->index[i])
		i = (i + 1) & st->index_mask;
	st->index[i] = (uint32_t)idx + 1;
}

/* On the fetcher: a piece of want idx came (vmt_subhost_batch's on_answer). */
static void stream_answered(void *arg, size_t idx, uint64_t len)
{
	struct fetch_stream *st = arg;

	st->got[idx] += len;
	if (st->got[idx] < st->io[idx].len && !st->io[idx].err)
		return;
	pthread_mutex_lock(&st->mu);
	st->landed[idx] = 1;
	if (st->walk_waits)
		pthread_cond_signal(&st->landed_cond);
	pthread_mutex_unlock(&st->mu);
}

/* On the fetcher: nothing in flight, so every want added so far is answered or failed. */
static void stream_resolved(struct fetch_stream *st)
{
	pthread_mutex_lock(&st->mu);
	st->resolved = st->b.n;
	if (st->walk_waits)
		pthread_cond_signal(&st->landed_cond);
	pthread_mutex_unlock(&st->mu);
}

/*
 * The fetcher thread: sends what the walk published and takes the answers
 * in as they come, until the stream closes.  It owns the batch, and with
 * it the sub-hosts' handles, from the start of the stream to its end:
 * every read that needs a sub-host on the walk's side ends the stream
 * first (split.c, fetch_wants).  The walk writes io[i] and w[i] before it
 * publishes i (under mu); the fetcher touches nothing past published, and
 * the walk nothing before the join but a want whose answer landed (landed[i],
 * under mu: fetch_stream_take).
 */
static void *stream_fetcher(void *arg)
{
	struct fetch_stream *st = arg;
	struct pollfd p = {.events = POLLIN};
	uint64_t v;

	for (;;) {
		size_t n;
		bool closing;

		pthread_mutex_lock(&st->mu);
		n = st->published;
		closing = st->closing;
		pthread_mutex_unlock(&st->mu);
		if (st->b.n < n)
			vmt_subhost_batch_add(&st->b, n);
		if (vmt_subhost_batch_wait(&st->b, st->wake_fd))
			continue;
		stream_resolved(st);
		if (closing)
			return NULL;
		p.fd = st->wake_fd; /* nothing in flight: sleep until the walk says more */
		if (poll(&p, 1, -1) > 0 && read(st->wake_fd, &v, sizeof(v)) < 0) {
			/* EAGAIN: the wait above emptied it */
		}
	}
}

/* Tell the fetcher what was added (and, closing, that nothing more comes). */
static void stream_publish(struct fetch_stream *st, bool closing)
{
	uint64_t one = 1;

	pthread_mutex_lock(&st->mu);
	st->published = st->n;
	st->closing = closing;
	pthread_mutex_unlock(&st->mu);
	st->sent = st->n;
	if (write(st->wake_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is full, which wakes it just as well */
	}
}

/* A new stream: its batch, and the fetcher if a thread can be had (else the walk drives it). */
static void stream_start(struct fetch_stream *st)
{
	vmt_subhost_batch_begin(&st->b, st->io);
	st->open = true;
	st->sent = 0;
	st->published = 0;
	st->closing = false;
	st->resolved = 0;
	st->waited = false;
	if (!st->mu_ok || !st->cond_ok || st->wake_fd < 0)
		return;
	st->b.on_answer = stream_answered;
	st->b.answer_arg = st;
	st->threaded = !pthread_create(&st->thread, NULL, stream_fetcher, st);
	if (!st->threaded)
		st->b.on_answer = NULL;
}

/*
 * Just the bytes [off, off + len) of chunk c (entry e, on k): the hint
 * named them and the reader needs no more of the page (exact reads).
 */
static int stream_want_part(struct split_want *w, uint64_t off, uint64_t len, uint64_t c,
			    uint64_t e, int k)
{
	*w = (struct split_want){.off = off, .len = len, .host = k, .c0 = c, .nchunks = 1};
	w->part = true;
	w->ents = malloc(sizeof(*w->ents));
	if (!w->ents)
		return -ENOMEM;
	w->ents[0] = e;
	return 0;
}

/*
 * [off, off + len) (a whole page, or a part: exact reads), if it is on a
 * sub-host and neither cached nor asked for yet.
 */
static void stream_add_one(struct memsrc_file *f, uint64_t off, uint64_t len)
{
	struct split_ctx *x = f->split;
	struct fetch_stream *st = &x->stream;
	uint64_t c = vmt_pt_chunk_of(&f->pt, off), e;
	bool part = len < VMT_PAGE_SIZE;
	struct vmt_subhost *h;
	struct split_want *w;
	int k;

	if (c >= f->pt.hdr->nr_chunks || vmt_pt_e_moving(e = vmt_pt_load(&f->pt, c)))
		return; /* the real read decides (and waits, and says why) */
	k = vmt_pt_loc_host(vmt_pt_e_loc(e));
	if (k < 0 || (unsigned)k >= f->pt.hdr->nr_hosts || x->hosts[k].down ||
	    fcache_has(&x->cache, off, len, c, e) || stream_has(x, off, len, k))
		return;
	if (st->n == st->cap)
		return;
	if (host_get(f, k, &h)) {
		vmt_error_clear(); /* a hint's failure is the real read's to report */
		return;
	}
	w = &st->w[st->n];
	if (part ? stream_want_part(w, off, len, c, e, k) : split_want_run(f, off, c, e, k, w))
		return;
	/*
	 * Full: the fetch cache keeps no more.  Ending it and starting another
	 * would evict this one's pages before the walk reads them (measured at
	 * 64K chunks: twice the bytes); the pages not asked for here are read
	 * in the walk's later batches, into the page cache.
	 */
	if (st->bytes + w->len > x->cache.bound) {
		free(w->ents);
		return;
	}
	w->streamed = true;
	w->data = malloc(w->len);
	if (!w->data) {
		free(w->ents);
		return;
	}
	st->io[st->n] =
	    (struct vmt_subhost_io){.host = h, .off = w->off, .len = w->len, .buf = w->data};
	if (!st->open)
		stream_start(st);
	st->parts += part;
	st->bytes += w->len;
	stream_index(x, st->n++);
}

/* Hand the wants added since the last time over; without a fetcher, drive the batch a step. */
static void stream_send(struct fetch_stream *st)
{
	if (!st->open)
		return;
	if (st->threaded) {
		if (st->sent < st->n)
			stream_publish(st, false);
		return;
	}
	if (st->b.n < st->n)
		vmt_subhost_batch_add(&st->b, st->n);
	st->sent = st->n;
	vmt_subhost_batch_pump(&st->b);
}

/* Reads look for parts (mem.c) only while some are held or on their way. */
static void fetch_parts_sync(struct memsrc_file *f)
{
	f->base.parts_held = f->split->cache.parts + f->split->stream.parts;
}

/* Wants added one at a time go out together: each hand-over costs a wake-up. */
#define FETCH_STREAM_SEND 16u

void fetch_stream_add(struct memsrc_file *f, const uint64_t *off, size_t n)
{
	struct fetch_stream *st = &f->split->stream;

	if (!n || stream_alloc(f))
		return;
	hosts_ready(f->split); /* the hosts' state below is the openers' until then */
	for (size_t i = 0; i < n; i++)
		stream_add_one(f, off[i], VMT_PAGE_SIZE);
	if (st->n - st->sent >= FETCH_STREAM_SEND || st->sent == 0)
		stream_send(st);
}

void fetch_stream_add_bytes(struct memsrc_file *f, uint64_t off, size_t len)
{
	struct fetch_stream *st = &f->split->stream;

	if (!len || stream_alloc(f))
		return;
	hosts_ready(f->split);
	stream_add_one(f, off, len);
	fetch_parts_sync(f);
	if (st->n - st->sent >= FETCH_STREAM_SEND || st->sent == 0)
		stream_send(st);
}

void fetch_stream_pump(struct memsrc_file *f)
{
	stream_send(&f->split->stream);
}

/* The batch back on this thread, every answer in (or failed). */
static void stream_finish(struct fetch_stream *st)
{
	if (st->threaded) {
		stream_publish(st, true);
		pthread_join(st->thread, NULL);
		st->threaded = false;
	} else {
		vmt_subhost_batch_add(&st->b, st->n);
	}
	vmt_subhost_batch_end(&st->b);
}

/* Keep what came if its chunks did not move while it was read; else the real read redoes it. */
static void stream_settle(struct memsrc_file *f, struct split_want *w,
			  const struct vmt_subhost_io *io)
{
	struct split_ctx *x = f->split;

	w->err = io->err;
	if (w->err) {
		if (conn_dead(w->err) && x->hosts[w->host].h == io->host) {
			host_drop(x, w->host);
			x->hosts[w->host].lost = true; /* the real read reconnects, with grace */
		}
		return;
	}
	for (unsigned j = 0; j < w->nchunks; j++)
		if (vmt_pt_read_retry(&f->pt, w->c0 + j, w->ents[j]))
			return;
	fcache_put(&x->cache, w);
}

/* Forget the stream's wants (what the cache took is NULL in them). */
static void stream_drop_wants(struct fetch_stream *st)
{
	for (size_t i = 0; i < st->n; i++) {
		free(st->w[i].ents);
		free(st->w[i].data);
		st->w[i].taken = false;
	}
	memset(st->index, 0, (st->index_mask + 1) * sizeof(*st->index));
	memset(st->landed, 0, st->n * sizeof(*st->landed));
	memset(st->got, 0, st->n * sizeof(*st->got));
	st->n = 0;
	st->parts = 0;
	st->bytes = 0;
}

bool fetch_stream_end(struct memsrc_file *f)
{
	struct split_ctx *x = f->split;
	struct fetch_stream *st = &x->stream;
	struct vmt_mem_stats *stats = vmt_memsrc_stats(&f->base);
	uint64_t t0 = split_now_ns();

	if (!st->open)
		return false;
	st->open = false;
	stream_finish(st);
	stats->wait_ns += split_now_ns() - t0;
	stats->round_trips += !st->waited;
	if (vmt_fetch_test_hook)
		vmt_fetch_test_hook(vmt_fetch_test_arg);
	for (size_t i = 0; i < st->n; i++) {
		if (st->w[i].taken)
			continue;
		stream_settle(f, &st->w[i], &st->io[i]);
		count(f, &st->w[i], 1);
	}
	stats->cache_bytes = x->cache.bytes;
	stats->cache_bytes_max = VMT_MAX(stats->cache_bytes_max, x->cache.bytes);
	stream_drop_wants(st);
	fetch_parts_sync(f);
	return true;
}

/*
 * The walk needs want i now: wait for its answer alone, not for the whole
 * stream, so that the walk goes on with what came while the rest is still
 * on the links (a listing's last reads otherwise all wait for the stream's
 * last byte).  True if it came and was checked into the cache.
 */
static bool stream_wait_one(struct memsrc_file *f, size_t i)
{
	struct fetch_stream *st = &f->split->stream;
	struct vmt_mem_stats *stats = vmt_memsrc_stats(&f->base);
	uint64_t t0 = split_now_ns();
	bool ok;

	if (st->sent <= i)
		stream_publish(st, false);
	pthread_mutex_lock(&st->mu);
	st->walk_waits = true;
	while (!st->landed[i] && st->resolved <= i)
		pthread_cond_wait(&st->landed_cond, &st->mu);
	st->walk_waits = false;
	ok = st->landed[i] && !st->io[i].err; /* a failed read is the stream end's to settle */
	pthread_mutex_unlock(&st->mu);
	stats->wait_ns += split_now_ns() - t0;
	if (!ok)
		return false;
	stats->round_trips += !st->waited; /* the stream's requests went out together: one */
	st->waited = true;
	if (vmt_fetch_test_hook)
		vmt_fetch_test_hook(vmt_fetch_test_arg);
	stream_settle(f, &st->w[i], &st->io[i]);
	count(f, &st->w[i], 1);
	st->w[i].taken = true;
	return true;
}

bool fetch_stream_take(struct memsrc_file *f, uint64_t off, uint64_t len, int k)
{
	struct split_ctx *x = f->split;
	size_t i;

	if (!x->stream.open)
		return false;
	if (x->stream.threaded && k >= 0 && stream_find(x, off, len, k, &i) &&
	    !x->stream.w[i].taken && stream_wait_one(f, i))
		return true;
	return fetch_stream_end(f);
}

static void stream_free(struct split_ctx *x)
{
	struct fetch_stream *st = &x->stream;

	if (!st->w) /* never used (and wake_fd not made) */
		return;
	if (st->open)
		stream_finish(st);
	stream_drop_wants(st);
	free(st->w);
	free(st->io);
	free(st->index);
	free(st->landed);
	free(st->got);
	if (st->wake_fd >= 0)
		close(st->wake_fd);
	if (st->mu_ok)
		pthread_mutex_destroy(&st->mu);
	if (st->cond_ok)
		pthread_cond_destroy(&st->landed_cond);
	*st = (struct fetch_stream){0};
}

/*
 * At open: connect to every sub-host now, so that a listing does not pay
 * the TLS handshake and NBD negotiation (and the TLS library's start) in
 * the middle of its first reads.  Best effort and short: a sub-host that
 * does not answer within FETCH_OPEN_CONNECT_MS is left to the listing,
 * which connects (and reports) as before.  Each on a thread of its own
 * while the open goes on (the profile, KASLR) and the walk starts: one
 * after the other on the open's path, the handshakes made opening a split
 * guest take 3.5-8 ms instead of 1.4-2.7 (bench/results/split_read.md).
 * Whatever needs a sub-host's state first waits for them (hosts_ready).
 */
#define FETCH_OPEN_CONNECT_MS 1000

struct opener {
	struct memsrc_file *f;
	int k;
};

/* false if it failed: the listing tries again then, and says why if it fails too. */
static bool open_host(struct memsrc_file *f, int k)
{
	struct split_ctx *x = f->split;

	if (!host_connect_within(f, k, VMT_MIN(x->timeout_ms, FETCH_OPEN_CONNECT_MS)))
		return true;
	x->hosts[k].down = 0;
	return false;
}

static void *opener_main(void *arg)
{
	struct opener *o = arg;

	open_host(o->f, o->k);
	free(o);
	return NULL;
}

static void hosts_ready(struct split_ctx *x)
{
	for (unsigned k = 0; k < VMT_PT_MAX_HOSTS; k++) {
		if (x->hosts[k].opening)
			pthread_join(x->hosts[k].opener, NULL);
		x->hosts[k].opening = false;
	}
}

void fetch_open_hosts(struct memsrc_file *f)
{
	struct split_ctx *x = f->split;

	for (unsigned k = 0; k < f->pt.hdr->nr_hosts && k < VMT_PT_MAX_HOSTS; k++) {
		struct opener *o;

		if (x->hosts[k].h || x->hosts[k].opening)
			continue;
		o = malloc(sizeof(*o));
		if (o)
			*o = (struct opener){.f = f, .k = (int)k};
		if (o && !pthread_create(&x->hosts[k].opener, NULL, opener_main, o)) {
			x->hosts[k].opening = true;
			continue;
		}
		free(o); /* no thread: here, as before */
		if (!open_host(f, (int)k))
			vmt_error_clear();
	}
}

void fetch_epoch(struct split_ctx *x)
{
	for (unsigned k = 0; k < VMT_PT_MAX_HOSTS; k++) {
		/* An opener leaves its host so, and the walk need not wait for it yet. */
		if (x->hosts[k].opening)
			continue;
		x->hosts[k].down = 0;
		x->hosts[k].lost = false;
	}
}

void fetch_close(struct split_ctx *x)
{
	hosts_ready(x);
	stream_free(x);
	for (unsigned k = 0; k < VMT_PT_MAX_HOSTS; k++)
		host_drop(x, k);
}
