// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * split.c - `vmt split`: move a running VM to the main host + sub-hosts,
 * stop-and-copy (README.md in this folder has the flow).
 *
 * Everything that can be checked is checked before the source stops.
 * After it stopped, any failure before the destination has taken over
 * undoes what was made (destination, new memory file, page table, pager
 * config, device state, exports, key) and continues the source: it runs
 * as it was.  The source's RAM file is only read (pread), never changed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "core/internal.h"
#include "pager/pager_proto.h"
#include "split/send.h"
#include "split/split_int.h"
#include "subhost/subhost.h"
#include "vmctl/qmp.h"
#include "vmctl/sockio.h"

#define SPLIT_CHUNK_DEFAULT (64u << 10)
#define SPLIT_SAMPLE_MS	    1000
#define SPLIT_SAVE_MS	    60000
#define SPLIT_AGENT_MS	    30000
#define SPLIT_QUIT_MS	    10000
#define LIVE_ROUNDS	    4 /* pre-copy rounds after the first, at most */

static const char *const policy_names[] = {"kernel+recent", "address", "kernel+address"};

/* ------------------------------------------------------------ progress */

static void progress(struct split_ctx *c, const char *phase, const struct send_job *j)
{
	struct vmt_split_progress *pr = &c->pr;
	int64_t now = vmt_now_ms();

	if (!c->o.progress || (j && now - c->last_tick < 200))
		return;
	c->last_tick = now;
	pr->nr_hosts = c->sp.nr_hosts;
	pr->phase = phase;
	/* Between phases the bars keep what the copy reached. */
	for (unsigned k = 0; k < c->sp.nr_hosts; k++) {
		vmt_strlcpy(pr->host_name[k], c->sp.hosts[k].name, sizeof(pr->host_name[k]));
		pr->host_total[k] = c->p.host_chunks[k] << c->p.shift;
		if (j)
			pr->host_done[k] = atomic_load(&j->done[k]);
	}
	pr->main_total = c->p.main << c->p.shift;
	if (j)
		pr->main_done = atomic_load(&j->main_done);
	c->o.progress(pr, c->o.progress_arg);
}

static bool cancelled(const struct split_ctx *c)
{
	return c->o.cancel && *c->o.cancel;
}

static void send_tick(struct send_job *j)
{
	if (cancelled(j->tick_arg))
		atomic_store(&j->abort, true);
	progress(j->tick_arg, "copying", j);
}

/* -------------------------------------------------------------- checks */

static int check_vm(struct split_ctx *c)
{
	int r = vmt_vm_load(c->o.vm, &c->vm);

	if (r)
		return r;
	if (c->vm.split.gen > 0)
		return vmt_error(-EALREADY, "VM '%s' is split already (page table %s)", c->vm.name,
				 c->vm.split.pagetable);
	r = qargs_read_pid(c->vm.qemu_pid, &c->src_args);
	if (!r)
		r = qargs_inspect(&c->src_args, &c->qi);
	if (r)
		return vmt_error(r, "VM '%s': %s", c->vm.name, vmt_last_error());
	if (strcmp(c->qi.mem_path, c->vm.mem_path))
		return vmt_error(-EINVAL, "VM '%s': QEMU's RAM is %s, the descriptor says %s",
				 c->vm.name, c->qi.mem_path, c->vm.mem_path);
	/* The rewrite gives every backend the one new file: they would alias. */
	if (c->qi.file_backends > 1)
		return vmt_error(-EOPNOTSUPP,
				 "VM '%s': QEMU has %u memory-backend-file objects: a split takes "
				 "one",
				 c->vm.name, c->qi.file_backends);
	if (!c->qi.mem_share)
		return vmt_error(-EINVAL,
				 "VM '%s': its RAM %s is not shared (memory-backend-file needs "
				 "share=on): the split cannot take it over",
				 c->vm.name, c->qi.mem_path);
	return 0;
}

static int check_sizes(struct split_ctx *c)
{
	struct stat st;
	int shift;

	if (fstat(c->src_fd, &st) < 0 || !S_ISREG(st.st_mode))
		return vmt_error(-EINVAL, "RAM %s is not a regular file", c->vm.mem_path);
	c->p.ram_size = (uint64_t)st.st_size;
	if (c->qi.mem_bytes && c->qi.mem_bytes != c->p.ram_size)
		return vmt_error(-EINVAL, "RAM file %s holds %llu bytes, QEMU says %llu",
				 c->vm.mem_path, (unsigned long long)c->p.ram_size,
				 (unsigned long long)c->qi.mem_bytes);
	shift = vmt_pt_chunk_shift_of(c->o.chunk);
	if (shift < 0)
		return vmt_error(-EINVAL, "--chunk must be a power of two from 4K to 2M");
	c->p.shift = (unsigned)shift;
	c->p.nr_chunks = vmt_pt_nr_chunks(c->p.ram_size, c->p.shift);
	if (c->o.main_mem > c->p.ram_size)
		return vmt_error(-EINVAL, "--main-mem %llu MiB is more than the VM's %llu MiB",
				 (unsigned long long)(c->o.main_mem >> 20),
				 (unsigned long long)(c->p.ram_size >> 20));
	if (c->o.cap && c->o.cap < (1ull << c->p.shift))
		return vmt_error(-EINVAL, "--cap is smaller than one chunk");
	c->p.flags = calloc(c->p.nr_chunks, 1);
	c->p.loc = calloc(c->p.nr_chunks, 1);
	return c->p.flags && c->p.loc ? 0 : -ENOMEM;
}

/* ----------------------------------------------------------- sampling */

/* kernel+recent: chunks whose contents change within the window are recent. */
static int sample_recent(struct split_ctx *c)
{
	uint64_t *h0 = calloc(c->p.nr_chunks, 8), *h1 = calloc(c->p.nr_chunks, 8);
	int ms = c->o.sample_ms ? c->o.sample_ms : SPLIT_SAMPLE_MS;
	int r = h0 && h1 ? 0 : -ENOMEM;

	progress(c, "sampling recently used memory", NULL);
	if (!r)
		r = place_hash_pass(c->src_fd, &c->p, h0);
	if (!r) {
		usleep((useconds_t)ms * 1000);
		r = place_hash_pass(c->src_fd, &c->p, h1);
	}
	for (uint64_t i = 0; !r && i < c->p.nr_chunks; i++)
		if (h0[i] != h1[i])
			c->p.flags[i] |= CH_RECENT;
	free(h0);
	free(h1);
	return r;
}

/* ------------------------------------------------------- source side */

/* Is the guest paused (any state but running)? */
static int qmp_status(struct vmt_qmp *q, bool *paused)
{
	struct json_object *ret = NULL, *st;
	int r = vmt_qmp_execute(q, "query-status", NULL, &ret);

	if (!r && !json_object_object_get_ex(ret, "status", &st))
		r = vmt_error(-EPROTO, "query-status has no status");
	if (!r)
		*paused = strcmp(json_object_get_string(st), "running") != 0;
	json_object_put(ret);
	return r;
}

static int source_stop_save(struct split_ctx *c)
{
	int r = vmt_qmp_connect(c->vm.qmp_sock, 10000, &c->src_q);

	if (r)
		return vmt_error(r, "cannot reach VM '%s''s monitor %s: %s", c->vm.name,
				 c->vm.qmp_sock, vmt_last_error());
	progress(c, "saving device state", NULL);
	unlink(c->sp.devstate);
	/* A paused VM stays paused: neither the destination nor an undo continues it. */
	r = qmp_status(c->src_q, &c->was_paused);
	if (!r)
		r = vmt_qmp_execute(c->src_q, "stop", NULL, NULL);
	if (r)
		return vmt_error(r, "QMP stop: %s", vmt_last_error());
	c->src_stopped = !c->was_paused;
	c->t_stop = vmt_now_ms();
	c->res->prepare_ms = c->t_stop - c->t0;
	c->src_migrated = true;
	r = split_qmp_ignore_shared(c->src_q, true);
	if (!r)
		r = split_qmp_migrate(c->src_q, "migrate", "cat >", c->sp.devstate);
	if (!r)
		r = split_qmp_wait_migrate(c->src_q, SPLIT_SAVE_MS, false);
	if (r)
		return vmt_error(r, "saving the device state: %s", vmt_last_error());
	c->res->save_ms = vmt_now_ms() - c->t_stop;
	return 0;
}

static void source_resume(struct split_ctx *c)
{
	if (!c->src_q)
		return;
	/*
	 * As it was: a save still running would pause it again when it ends, and
	 * x-ignore-shared would make a later migration of it leave its RAM behind.
	 */
	if (c->src_migrated) {
		vmt_qmp_execute(c->src_q, "migrate_cancel", NULL, NULL);
		split_qmp_wait_migrate(c->src_q, 5000, true);
		split_qmp_ignore_shared(c->src_q, false);
	}
	if (c->src_stopped && vmt_qmp_execute(c->src_q, "cont", NULL, NULL) == 0)
		c->src_stopped = false;
	vmt_qmp_close(c->src_q);
	c->src_q = NULL;
}

/* ------------------------------------------------------------ placing */

struct core_job {
	struct split_ctx *c;
	const char *kernel;
	struct place p; /* flags of its own: the zero scan writes the same bytes meanwhile */
	int err;
	int64_t ms;
};

static void *core_main(void *arg)
{
	struct core_job *k = arg;
	const struct vmt_split_opts *o = &k->c->o;
	unsigned want = (!o->live && !o->keep_free_pages ? CORE_WANT_FREE : 0) |
			(o->policy != VMT_SPLIT_ADDRESS ? CORE_WANT_KERNEL : 0);
	int64_t t = vmt_now_ms();

	k->err = place_mark_core(k->c->vm.mem_path, k->kernel, k->c->vm.machine, want, &k->p);
	k->ms = vmt_now_ms() - t;
	return NULL;
}

/* The core's walk (a thread) and the zero scan at once; then CH_CORE joins CH_DATA. */
static int core_and_zero(struct split_ctx *c, const char *kernel)
{
	struct core_job k = {.c = c, .kernel = kernel, .p = c->p};
	pthread_t th;
	bool threaded;
	int64_t t = vmt_now_ms();
	int r = 0;

	k.p.flags = calloc(c->p.nr_chunks, 1);
	if (!k.p.flags)
		return -ENOMEM;
	threaded = !pthread_create(&th, NULL, core_main, &k);
	/* Stopped: one mapping serves the zero scan and the copy (live: the copy maps its own). */
	if (!c->o.live && !c->src_mapped) {
		r = srcmap_open(c->src_fd, c->p.ram_size, &c->src_map);
		c->src_mapped = !r;
	}
	if (!r)
		r = place_scan_zero(c->src_fd, c->src_mapped ? &c->src_map : NULL, &c->p);
	c->res->zero_ms += vmt_now_ms() - t;
	if (threaded)
		pthread_join(th, NULL);
	else
		core_main(&k);
	c->res->core_ms += k.ms;
	for (uint64_t i = 0; i < c->p.nr_chunks; i++)
		c->p.flags[i] |= k.p.flags[i] & (CH_CORE | CH_FREE | CH_KERNEL | CH_PATH | CH_SLAB);
	c->p.free_err = k.p.free_err;
	c->p.free_blocks = k.p.free_blocks;
	c->p.free_pages = k.p.free_pages;
	free(k.p.flags);
	/* The core's error first: it says what the guest lacks. */
	return k.err ? k.err : r;
}

/*
 * Room left empty on the main host: twice the pager's free target
 * (vmt_pt_free_target: about 1/32 of its cap).  A main host filled to
 * the cap had the evictor page 1/32 of it out right after the split, the
 * lowest addresses first (the kernel's slab, stacks and page tables), which
 * the guest's next ps paged back in; one filled to the free target had it
 * start at the guest's first new pages, and its first pass write-protects
 * every resident chunk (clock ages them all), so each first write after it
 * cost a write-protect fault: 569 in one ps (bench/results/fig4.md).  The
 * second 1/32 is the guest's room for new pages before that pass.
 */
static uint64_t pager_room(uint64_t cap_chunks)
{
	return cap_chunks - VMT_MIN(2 * vmt_pt_free_target(cap_chunks), cap_chunks / 2);
}

static int decide(struct split_ctx *c)
{
	uint64_t main_bytes = c->o.main_mem, budget;
	const char *kernel = c->vm.kernel[0] ? c->vm.kernel : c->qi.kernel;
	int r;

	progress(c, "placing chunks", NULL);
	if (!kernel[0])
		return vmt_error(-ENOENT,
				 "VM '%s': the guest kernel's image is unknown (adopt it "
				 "with --kernel)",
				 c->vm.name);
	r = core_and_zero(c, kernel);
	if (r)
		return r;
	if (c->o.cap && c->o.cap < main_bytes)
		main_bytes = c->o.cap;
	budget = pager_room(main_bytes >> c->p.shift);
	r = place_decide(&c->p, c->o.policy, budget, c->sp.nr_hosts, c->quota);
	for (unsigned k = 0; !r && k < c->sp.nr_hosts; k++)
		if (c->p.host_chunks[k] && !c->pager_so[0])
			r = split_find_pager(c->pager_so, sizeof(c->pager_so));
	return r;
}

/* ------------------------------------------------- destination files */

static int make_mem(struct split_ctx *c)
{
	snprintf(c->new_mem, sizeof(c->new_mem), "/dev/shm/vmt-%s.split%d.ram", c->vm.name,
		 c->sp.gen);
	c->dst_fd = open(c->new_mem, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (c->dst_fd < 0)
		return vmt_error(-errno, "cannot create %s: %s", c->new_mem, strerror(errno));
	c->mem_made = true;
	if (ftruncate(c->dst_fd, (off_t)c->p.ram_size) < 0)
		return vmt_error(-errno, "cannot size %s: %s", c->new_mem, strerror(errno));
	return 0;
}

static int make_pagetable(struct split_ctx *c)
{
	struct vmt_pt_host hosts[VMT_PT_MAX_HOSTS] = {0};
	uint64_t cap = c->o.cap ? c->o.cap : c->o.main_mem;
	struct vmt_pt_create_opts po = {.sz = sizeof(po),
					.ram_size = c->p.ram_size,
					.chunk_shift = c->p.shift,
					.cap_chunks = cap >> c->p.shift,
					.nr_hosts = c->sp.nr_hosts,
					.hosts = hosts};
	int r;

	for (unsigned k = 0; k < c->sp.nr_hosts; k++) {
		vmt_strlcpy(hosts[k].addr, c->sp.hosts[k].addr, sizeof(hosts[k].addr));
		vmt_strlcpy(hosts[k].export, c->sp.hosts[k].export, sizeof(hosts[k].export));
		vmt_strlcpy(hosts[k].name, c->sp.hosts[k].name, sizeof(hosts[k].name));
		hosts[k].quota_chunks = c->quota[k];
	}
	unlink(c->sp.pagetable);
	r = vmt_pt_create(c->sp.pagetable, &po, &c->pt);
	if (r)
		return vmt_error(r, "cannot create the page table %s: %s", c->sp.pagetable,
				 strerror(-r));
	c->pt_made = true;
	for (uint64_t i = 0; !r && i < c->p.nr_chunks; i++) {
		if (c->p.loc[i] != VMT_PT_ABSENT)
			r = vmt_pt_set(&c->pt, i, c->p.loc[i], -1);
		/* The VM's core stays on the main host for good (pagetable.h). */
		if (!r && c->p.loc[i] == VMT_PT_MAIN && (c->p.flags[i] & CH_CORE))
			r = vmt_pt_pin(&c->pt, i);
	}
	return r;
}

static int make_conf(struct split_ctx *c)
{
	FILE *f;
	uint64_t cap = c->o.cap ? c->o.cap : c->o.main_mem;

	f = fopen(c->sp.pager_conf, "we");
	if (!f)
		return vmt_error(-errno, "cannot write %s: %s", c->sp.pager_conf, strerror(errno));
	c->conf_made = true;
	fprintf(f,
		"# written by vmt split (pager_proto.h)\nmem=%s\npagetable=%s\nsocket=%s\n"
		"log=%s/pager.log\n",
		c->new_mem, c->sp.pagetable, c->sp.pager_sock, c->vm.dir);
	if (!c->sp.insecure)
		fprintf(f, "psk=%s\n", c->sp.psk_file);
	if (c->copied[0])
		fprintf(f, "start_after=%s\n", c->copied);
	fprintf(f, "insecure=%d\ncap=%llu\n", c->sp.insecure, (unsigned long long)cap);
	if (fclose(f))
		return vmt_error(-EIO, "cannot write %s", c->sp.pager_conf);
	return 0;
}

static int copy(struct split_ctx *c, const uint8_t *todo, uint64_t *sent_hash)
{
	struct send_job *j = calloc(1, sizeof(*j));
	int r;

	if (!j)
		return -ENOMEM;
	j->todo = todo;
	j->sent_hash = sent_hash;
	j->punch = todo != NULL;
	j->p = &c->p;
	j->src_fd = c->src_fd;
	j->m = c->src_mapped ? &c->src_map : NULL;
	j->dst_fd = c->dst_fd;
	j->nr_hosts = c->sp.nr_hosts;
	j->tick = send_tick;
	j->tick_arg = c;
	for (unsigned k = 0; k < c->sp.nr_hosts; k++) {
		j->hosts[k] = c->conn[k];
		j->names[k] = c->sp.hosts[k].name;
	}
	c->t_copy0 = vmt_now_ms();
	r = send_run(j);
	/* The summary describes the copy made while the VM was stopped. */
	c->res->copy_ms = vmt_now_ms() - c->t_copy0;
	c->res->main_bytes_written += j->main_written;
	c->res->main_ms = j->main_ms;
	memcpy(c->res->host_ms, j->host_ms, sizeof(j->host_ms));
	free(j);
	return r;
}

/* ------------------------------------------------------- undo, finish */

/*
 * Once the source was told to quit (the guest runs on the destination and
 * the source never runs it again), its RAM file's pages are freed here with
 * a hole punched through a writable reopening of our descriptor: freeing
 * GiBs of tmpfs pages takes a while, and done now it overlaps the wait for
 * the guest's agent instead of following it (at the source's exit or our
 * close).
 */
struct punch {
	int fd;
	off_t off, len;
};

static void *punch_main(void *arg)
{
	struct punch *h = arg;

	fallocate(h->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, h->off, h->len);
	return NULL;
}

/* Two halves at once: on shared cores, two threads get two shares of CPU. */
static void punch_all(int fd, uint64_t size)
{
	off_t half = (off_t)(size / 2) & ~(off_t)4095;
	struct punch lo = {fd, 0, half}, hi = {fd, half, (off_t)size - half};
	pthread_t th;
	bool two = !pthread_create(&th, NULL, punch_main, &hi);

	punch_main(&lo);
	if (two)
		pthread_join(th, NULL);
	else
		punch_main(&hi);
}

/* A reader's listing holds the RAM file's lock for a moment (vmt_ramfile_punch_lock). */
#define SRC_LOCK_WAIT_MS 2000

static void *unmap_main(void *arg)
{
	struct split_ctx *c = arg;

	if (c->src_mapped)
		srcmap_close(&c->src_map);
	if (c->src_fd >= 0 && c->src_quit) {
		char path[64];
		int fd;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", c->src_fd);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd >= 0) {
			/* Locked out by a mapped reader: the pages go with its last descriptor. */
			if (!vmt_ramfile_punch_lock(fd, SRC_LOCK_WAIT_MS))
				punch_all(fd, c->p.ram_size);
			close(fd); /* and its lock */
		}
	}
	if (c->src_fd >= 0)
		close(c->src_fd);
	return NULL;
}

/*
 * The source's mapping and file descriptor go, after the cont: unmapping
 * GiBs and freeing the pages of an unlinked RAM file take a while, so it is
 * done by a thread while the guest's agent is awaited.
 */
static void src_release(struct split_ctx *c, bool background)
{
	if (background && !c->unmapping) {
		c->unmapping = !pthread_create(&c->unmap_thr, NULL, unmap_main, c);
		if (c->unmapping)
			return;
	}
	if (c->unmapping)
		pthread_join(c->unmap_thr, NULL);
	else
		unmap_main(c);
	c->unmapping = c->src_mapped = false;
	c->src_fd = -1;
}

static void undo(struct split_ctx *c)
{
	split_dest_kill(c);
	vmt_pt_close(&c->pt);
	if (c->pt_made)
		unlink(c->sp.pagetable);
	if (c->dst_fd >= 0)
		close(c->dst_fd);
	c->dst_fd = -1;
	if (c->mem_made)
		unlink(c->new_mem);
	if (c->conf_made)
		unlink(c->sp.pager_conf);
	if (c->copied[0])
		unlink(c->copied);
	unlink(c->sp.devstate);
	for (int i = 0; i < c->map.n; i++)
		unlink(c->map.e[i].new);
	split_hosts_undo(c, true);
	source_resume(c);
}

/* Without an agent: the destination's QMP says it runs. */
static int check_running(struct split_ctx *c)
{
	struct json_object *ret = NULL, *st;
	int r = vmt_qmp_execute(c->dst_q, "query-status", NULL, &ret);

	if (!r && (!json_object_object_get_ex(ret, "status", &st) ||
		   strcmp(json_object_get_string(st), c->was_paused ? "paused" : "running")))
		r = vmt_error(-EIO, "the destination QEMU does not run the guest");
	json_object_put(ret);
	return r;
}

/* The guest answers on the destination: the agent if it has one, else QMP status. */
static int check_guest(struct split_ctx *c)
{
	struct vmt_vm_desc d = c->vm;

	if (!c->vm.agent_sock[0] || c->was_paused)
		return check_running(c);
	vmt_strlcpy(d.agent_sock, qmap_get(&c->map, c->vm.agent_sock), sizeof(d.agent_sock));
	progress(c, "waiting for the guest's agent", NULL);
	if (vmt_agent_ping(&d, SPLIT_AGENT_MS))
		return vmt_error(-ETIMEDOUT,
				 "the guest's agent does not answer on the destination");
	return 0;
}

/* The source quits; its RAM file goes; the descriptor names the destination. */
static int finish(struct split_ctx *c)
{
	struct vmt_vm_desc *d = &c->vm;
	const char *old_mem = c->vm.mem_path;
	int64_t t;
	int r;

	if (!c->src_quit)
		vmt_qmp_execute(c->src_q, "quit", NULL, NULL);
	vmt_qmp_close(c->src_q);
	c->src_q = NULL;
	t = vmt_now_ms();
	if (!split_wait_gone(d->qemu_pid, SPLIT_QUIT_MS)) {
		kill(d->qemu_pid, SIGKILL);
		split_wait_gone(d->qemu_pid, 3000);
	}
	c->res->gone_ms = vmt_now_ms() - t;
	if (!c->src_quit && unlink(old_mem) < 0 && errno != ENOENT)
		pr_warn("cannot remove the old RAM file %s: %s", old_mem, strerror(errno));
	d->qemu_pid = c->dst_pid;
	vmt_strlcpy(d->qmp_sock, qmap_get(&c->map, d->qmp_sock), sizeof(d->qmp_sock));
	vmt_strlcpy(d->agent_sock, qmap_get(&c->map, d->agent_sock), sizeof(d->agent_sock));
	vmt_strlcpy(d->console_log, qmap_get(&c->map, d->console_log), sizeof(d->console_log));
	vmt_strlcpy(d->mem_path, c->new_mem, sizeof(d->mem_path));
	c->sp.chunk_bytes = 1ull << c->p.shift;
	c->sp.cap_bytes = c->o.cap ? c->o.cap : c->o.main_mem;
	c->sp.main_bytes = c->o.main_mem;
	vmt_strlcpy(c->sp.fetch, c->o.fetch ? c->o.fetch : "runtime", sizeof(c->sp.fetch));
	c->sp.fetch_chunk = c->o.fetch_chunk ? c->o.fetch_chunk : VMT_FETCH_CHUNK_DEFAULT;
	d->split = c->sp;
	r = vmt_vm_desc_write(d);
	split_hosts_close(c);
	return r;
}

static void fill_result(struct split_ctx *c)
{
	struct vmt_split_result *res = c->res;

	res->ram_bytes = c->p.ram_size;
	res->chunk_bytes = 1ull << c->p.shift;
	res->nr_chunks = c->p.nr_chunks;
	res->zero_chunks = 0;
	for (uint64_t i = 0; i < c->p.nr_chunks; i++)
		res->zero_chunks += c->p.loc[i] == VMT_PT_ABSENT;
	res->core_chunks = c->p.core;
	res->kernel_chunks = c->p.kernel;
	res->free_chunks = c->p.free;
	res->free_pages = c->p.free_pages;
	res->free_err = c->p.free_err;
	res->recent_chunks = c->o.policy == VMT_SPLIT_KERNEL_RECENT ? c->p.recent : 0;
	res->main_chunks = c->p.main;
	res->nr_hosts = c->sp.nr_hosts;
	for (unsigned k = 0; k < c->sp.nr_hosts; k++) {
		vmt_strlcpy(res->host_name[k], c->sp.hosts[k].name, sizeof(res->host_name[k]));
		vmt_strlcpy(res->host_addr[k], c->sp.hosts[k].addr, sizeof(res->host_addr[k]));
		res->host_chunks[k] = c->p.host_chunks[k];
		res->host_bytes[k] = c->p.host_chunks[k] << c->p.shift;
	}
	res->downtime_ms = c->t_cont - c->t_stop;
	res->dest_pid = c->dst_pid;
	vmt_strlcpy(res->policy, (unsigned)c->o.policy < 3 ? policy_names[c->o.policy] : "?",
		    sizeof(res->policy));
}

static int ctx_path(char *out, size_t sz, const char *dir, const char *name)
{
	if ((size_t)snprintf(out, sz, "%s/%s", dir, name) >= sz)
		return vmt_error(-ENAMETOOLONG, "path too long in %s", dir);
	return 0;
}

static int ctx_paths(struct split_ctx *c)
{
	struct vmt_vm_split *sp = &c->sp;
	const char *d = c->vm.dir;

	sp->gen = c->vm.split.gen + 1;
	if (strlen(d) + sizeof("/" VMT_PAGER_SOCK_NAME) > 108)
		return vmt_error(-ENAMETOOLONG, "VM folder %s is too long for a socket path", d);
	return ctx_path(sp->pagetable, sizeof(sp->pagetable), d, "pagetable") ||
		       ctx_path(sp->pager_sock, sizeof(sp->pager_sock), d, VMT_PAGER_SOCK_NAME) ||
		       ctx_path(sp->pager_conf, sizeof(sp->pager_conf), d, "pager.conf") ||
		       ctx_path(sp->devstate, sizeof(sp->devstate), d, "devstate")
		   ? -ENAMETOOLONG
		   : 0;
}

/* Before the source stops: the VM, sizes, sub-hosts, key, room, samples. */
static int prepare(struct split_ctx *c)
{
	int r = check_vm(c);

	if (r)
		return r;
	c->src_fd = open(c->vm.mem_path, O_RDONLY | O_CLOEXEC);
	if (c->src_fd < 0)
		return vmt_error(-errno, "cannot open RAM %s: %s", c->vm.mem_path, strerror(errno));
	r = check_sizes(c);
	if (r)
		return r;
	r = ctx_paths(c);
	if (!r)
		r = qargs_rewrite(&c->src_args, "", c->vm.dir, c->sp.gen, &c->dst_args, &c->map);
	qargs_free(&c->dst_args);
	if (!r)
		r = split_hosts_open(c);
	if (!r && c->o.main_mem < c->p.ram_size)
		r = split_find_pager(c->pager_so, sizeof(c->pager_so));
	if (!r && c->o.policy == VMT_SPLIT_KERNEL_RECENT && c->o.sample_ms >= 0)
		r = sample_recent(c);
	if (!r && cancelled(c))
		r = vmt_error(-ECANCELED, "interrupted");
	return r;
}

/* Each step of move(), given up when the user interrupts. */
#define STEP(r, call) ((r) ? (r) : cancelled(c) ? vmt_error(-ECANCELED, "interrupted") : (call))

/* ------------------------------------------------------------ live */

/* A chunk that held zeros at the pre-copy and data now: main if room is left, else a sub-host. */
static int place_late(struct split_ctx *c, uint64_t i, uint64_t budget)
{
	struct place *p = &c->p;
	int best = -1;

	if (p->main < budget) {
		p->loc[i] = VMT_PT_MAIN;
		p->main++;
		return 0;
	}
	for (unsigned k = 0; k < c->sp.nr_hosts; k++)
		if (p->host_chunks[k] < c->quota[k] &&
		    (best < 0 || p->host_chunks[k] < p->host_chunks[best]))
			best = (int)k;
	if (best < 0)
		return vmt_error(-ENOSPC,
				 "the sub-hosts lack room for what the VM wrote meanwhile");
	p->loc[i] = (uint8_t)(VMT_PT_SUB + best);
	p->host_chunks[best]++;
	return 0;
}

/*
 * Pre-copy (--live): everything is placed and copied while the VM runs,
 * remembering a hash of what each chunk held when it was read; once the
 * VM stopped, one pass over the RAM file finds the chunks whose bytes
 * differ from what was copied, and only those are copied again.  A chunk
 * whose hash matches holds what was sent (a keyed 64-bit hash: a guest
 * cannot aim for a collision).
 */
/* Copy again what changed since it was copied; *dirty = how many chunks that was. */
static int live_dirty(struct split_ctx *c, uint64_t *dirty)
{
	uint64_t *now = calloc(c->p.nr_chunks, sizeof(*now)), budget;
	uint8_t *todo = calloc(c->p.nr_chunks, 1);
	int r = now && todo ? 0 : -ENOMEM;

	*dirty = 0;
	budget = VMT_MIN(c->o.main_mem, c->o.cap ? c->o.cap : c->o.main_mem) >> c->p.shift;
	progress(c, "finding what changed", NULL);
	if (!r)
		r = place_hash_pass(c->src_fd, &c->p, now);
	for (uint64_t i = 0; !r && i < c->p.nr_chunks; i++) {
		if (now[i] == c->sent[i])
			continue;
		todo[i] = 1;
		(*dirty)++;
		if (c->p.loc[i] == VMT_PT_ABSENT)
			r = place_late(c, i, budget);
	}
	if (!r && *dirty)
		r = copy(c, todo, c->sent);
	free(now);
	free(todo);
	return r;
}

/*
 * The first round copies everything; further rounds (at most LIVE_ROUNDS)
 * copy what changed meanwhile, while that keeps shrinking and is more than
 * a sixteenth of the data: what is left goes in the downtime.
 */
static int live_precopy(struct split_ctx *c)
{
	int64_t t0 = vmt_now_ms();
	uint64_t dirty = UINT64_MAX, prev;
	int r;

	c->sent = calloc(c->p.nr_chunks, sizeof(*c->sent));
	if (!c->sent)
		return -ENOMEM;
	r = decide(c);
	if (!r)
		r = make_mem(c);
	if (!r) {
		progress(c, "pre-copying (the VM runs)", NULL);
		r = copy(c, NULL, c->sent);
		c->res->precopy_rounds = 1;
	}
	do {
		prev = dirty;
		if (!r && !cancelled(c) && c->res->precopy_rounds <= LIVE_ROUNDS) {
			r = live_dirty(c, &dirty);
			c->res->precopy_rounds++;
		}
	} while (!r && !cancelled(c) && c->res->precopy_rounds <= LIVE_ROUNDS && dirty < prev &&
		 dirty > c->p.data / 16);
	c->res->precopy_ms = vmt_now_ms() - t0;
	return r;
}

/* After the stop: the last round, in the downtime. */
static int live_final(struct split_ctx *c)
{
	int64_t t = vmt_now_ms();
	int r;

	c->res->copy_ms = 0;
	r = live_dirty(c, &c->res->dirty_chunks);

	c->res->place_ms = vmt_now_ms() - t - c->res->copy_ms;
	return r;
}

/*
 * Stop-and-copy starts the destination QEMU before the copy: its start
 * (exec, libraries, TCG, devices) overlaps the copy instead of adding to
 * the downtime.  The page table is final by then; the pager registers the
 * mapping at QEMU's mmap but starts its threads only once the file
 * c->copied exists (start_after in pager.conf), made when every chunk is
 * in the memory file or acknowledged by its sub-host.
 */
static int start_early(struct split_ctx *c)
{
	if ((size_t)snprintf(c->copied, sizeof(c->copied), "%s/copied", c->vm.dir) >=
	    sizeof(c->copied))
		return vmt_error(-ENAMETOOLONG, "VM folder %s is too long", c->vm.dir);
	if (unlink(c->copied) < 0 && errno != ENOENT)
		return vmt_error(-errno, "cannot remove %s: %s", c->copied, strerror(errno));
	return 0;
}

static int copy_done(struct split_ctx *c)
{
	int fd = open(c->copied, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0)
		return vmt_error(-errno, "cannot create %s: %s", c->copied, strerror(errno));
	close(fd);
	return 0;
}

/* After the source stopped: place, copy, start the destination. */
static int move(struct split_ctx *c)
{
	int64_t t;
	int r = 0, err;

	if (c->o.live)
		r = STEP(r, live_precopy(c));
	r = STEP(r, source_stop_save(c));
	t = vmt_now_ms();
	if (!c->o.live)
		r = STEP(r, decide(c));
	c->res->place_ms = vmt_now_ms() - t;
	if (!c->o.live)
		r = STEP(r, make_mem(c));
	if (c->o.live)
		r = STEP(r, live_final(c));
	r = STEP(r, make_pagetable(c));
	if (!r && !c->o.live)
		r = start_early(c);
	r = STEP(r, make_conf(c));
	r = STEP(r, qargs_rewrite(&c->src_args, c->new_mem, c->vm.dir, c->sp.gen, &c->dst_args,
				  &c->map));
	if (!r)
		vmt_pt_close(&c->pt);
	if (!c->o.live) {
		r = STEP(r, split_dest_spawn(c));
		r = STEP(r, copy(c, NULL, NULL));
		r = STEP(r, copy_done(c));
	}
	if (!r && cancelled(c))
		r = vmt_error(-ECANCELED, "interrupted");
	if (!r) {
		progress(c, "starting the destination", NULL);
		t = vmt_now_ms();
		r = split_dest_run(c);
		c->res->dest_ms = vmt_now_ms() - t;
	}
	/*
	 * Once the destination continued, the guest has run there (written to
	 * its disks, talked to peers): the source must never run again, so a
	 * guest that does not answer is reported, not undone.  The source
	 * quits now, while the guest's agent is awaited (finish() waits for it).
	 */
	if (!r && !c->was_paused) {
		vmt_qmp_execute(c->src_q, "quit", NULL, NULL);
		c->src_quit = true;
		/* Its pages are freed once the source QEMU and src_release() let go. */
		if (unlink(c->vm.mem_path) < 0 && errno != ENOENT)
			pr_warn("cannot remove the old RAM file %s: %s", c->vm.mem_path,
				strerror(errno));
		src_release(c, true);
	}
	err = r ? 0 : check_guest(c);
	c->res->agent_ms = r ? 0 : vmt_now_ms() - c->t_cont;
	if (err) {
		if (c->was_paused)
			return err;
		pr_warn("VM '%s' runs on the destination QEMU, but %s; it is kept (the source "
			"cannot take the guest back once it ran)",
			c->vm.name, vmt_last_error());
	}
	return r;
}

int vmt_split(const struct vmt_split_opts *opts, struct vmt_split_result *res)
{
	struct split_ctx *c = calloc(1, sizeof(*c));
	int64_t t;
	int r;

	memset(res, 0, sizeof(*res));
	if (!c)
		return -ENOMEM;
	memcpy(&c->o, opts, opts->sz ? VMT_MIN(opts->sz, sizeof(c->o)) : sizeof(c->o));
	if (!c->o.chunk)
		c->o.chunk = SPLIT_CHUNK_DEFAULT;
	c->res = res;
	c->src_fd = c->dst_fd = -1;
	c->t0 = vmt_now_ms();
	r = prepare(c);
	if (!r)
		r = move(c);
	if (r) {
		char msg[1024];

		vmt_strlcpy(msg, vmt_last_error(), sizeof(msg));
		undo(c);
		if (c->vm.qemu_pid > 0 && vmt_vm_is_running(&c->vm))
			vmt_error(r, "%s; VM '%s' runs on as before", msg, c->vm.name);
		else
			vmt_error(r, "%s", msg);
	} else {
		fill_result(c);
		r = finish(c);
	}
	t = vmt_now_ms();
	src_release(c, false);
	res->release_ms = vmt_now_ms() - t;
	if (c->dst_fd >= 0)
		close(c->dst_fd);
	vmt_pt_close(&c->pt);
	qargs_free(&c->src_args);
	qargs_free(&c->dst_args);
	if (c->dst_q)
		vmt_qmp_close(c->dst_q);
	free(c->p.flags);
	free(c->p.loc);
	free(c->sent);
	res->total_ms = vmt_now_ms() - c->t0;
	if (!r && c->t_cont) {
		res->migrate_ms = c->t_cont - c->t0;
		res->finish_ms = vmt_now_ms() - c->t_cont;
	}
	free(c);
	return r;
}
