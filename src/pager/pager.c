// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pager.c - libvmt-pager.so: LD_PRELOADed into stock QEMU, it wraps
 * mmap/mmap64; when QEMU maps the configured memory file shared, the
 * mapping is registered with userfaultfd and the pager's threads start.
 * Without VMT_PAGER_CONF in the environment it does nothing at all.
 */
/* mmap and mmap64 are defined here: no redirect of one to the other. */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "pager/pager.h"
#include "pager/pager_proto.h"

#define EXPORT __attribute__((visibility("default")))

struct pager g = {
    .log_fd = -1,
    .trace_fd = -1,
    .mem_fd = -1,
    .uffd = -1,
    .quit_fd = -1,
    .listen_fd = -1,
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .log_lock = PTHREAD_MUTEX_INITIALIZER,
};

static pthread_mutex_t map_lock = PTHREAD_MUTEX_INITIALIZER;
static bool registered;

/*
 * start_after=PATH in the config: the threads (faults, page-out, command
 * socket) start only once PATH exists.  vmt split starts the destination
 * QEMU while it still copies the memory file and the page table's chunks
 * are not all there yet: QEMU initializes meanwhile, and a fault (nothing
 * in QEMU touches guest RAM before the migration; a vCPU never runs
 * before it) waits in the userfaultfd queue until the copy is complete.
 */
/* Bounded, beyond any copy: 6 h move 2.6 TB over 1 Gbit (a failed split kills QEMU). */
#define START_AFTER_MAX_S (6 * 3600)
static char start_after[4096];
static pthread_t start_after_thr;

/* ------------------------------------------------------------ helpers */

uint64_t pager_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void pager_deadline_in(uint64_t ns, struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += (time_t)(ns / 1000000000ull);
	ts->tv_nsec += (long)(ns % 1000000000ull);
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

void pager_log(const char *fmt, ...)
{
	char buf[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n;

	if (g.log_fd < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(buf, sizeof(buf),
		     "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ pager[%d]: ", tm.tm_year + 1900,
		     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000,
		     (int)getpid());
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	/* One write per line: O_APPEND keeps lines whole. */
	if (write(g.log_fd, buf, (size_t)n) < 0)
		return;
}

/* Bounded exponential backoff: 10 ms doubling to 2 s; false when quitting. */
bool pager_sleep_backoff(unsigned attempt)
{
	uint64_t ms = attempt > 8 ? 2000 : 10ull << attempt;

	if (ms > 2000)
		ms = 2000;
	for (uint64_t t = 0; t < ms; t += 10) {
		struct timespec ts = {0, 10 * 1000000};

		if (atomic_load(&g.quit))
			return false;
		nanosleep(&ts, NULL);
	}
	return !atomic_load(&g.quit);
}

/* Log-scale buckets: 8 per power of two, from 1 us. */
static unsigned hist_bucket(uint64_t us)
{
	unsigned b;

	if (us < 1)
		return 0;
	b = (unsigned)(63 - __builtin_clzll(us)) * 8;
	b += (unsigned)((us << 3 >> (63 - __builtin_clzll(us))) & 7);
	return b < PAGER_HIST_BUCKETS ? b : PAGER_HIST_BUCKETS - 1;
}

static uint64_t hist_upper(unsigned b)
{
	unsigned p = b / 8, s = b % 8;

	return ((8ull + s + 1) << p) >> 3;
}

void pager_hist_add(struct pager_hist *h, uint64_t us)
{
	uint64_t m = atomic_load(&h->max);

	atomic_fetch_add(&h->b[hist_bucket(us)], 1);
	atomic_fetch_add(&h->n, 1);
	while (us > m && !atomic_compare_exchange_weak(&h->max, &m, us))
		;
}

uint64_t pager_hist_pct(const struct pager_hist *h, double pct)
{
	uint64_t n = atomic_load(&h->n), want, seen = 0;

	if (!n)
		return 0;
	want = (uint64_t)((double)n * pct / 100.0);
	if (want >= n)
		want = n - 1;
	for (unsigned b = 0; b < PAGER_HIST_BUCKETS; b++) {
		seen += atomic_load(&h->b[b]);
		if (seen > want) {
			uint64_t u = hist_upper(b), m = atomic_load(&h->max);

			return u < m ? u : m;
		}
	}
	return atomic_load(&h->max);
}

/* ---------------------------------------------------- sub-host handles */

int pager_conn_get(struct pager_conns *c, int k, struct vmt_subhost **out)
{
	const struct vmt_pt_host *h = &g.pt.hdr->hosts[k];
	struct vmt_subhost_opts o = {
	    .sz = sizeof(o),
	    .addr = h->addr,
	    .export_name = h->export,
	    .psk_file = g.conf.psk[0] ? g.conf.psk : NULL,
	    .insecure = g.conf.insecure,
	    .connect_timeout_ms = 3000,
	    .io_timeout_ms = c->io_timeout_ms > 0 ? c->io_timeout_ms : 5000,
	};
	int err;

	if (k < 0 || (unsigned)k >= g.pt.hdr->nr_hosts)
		return -EINVAL;
	if (!c->h[k]) {
		err = vmt_subhost_connect(&o, &c->h[k]);
		if (err) {
			pager_log("sub-host %d (%s): connect: %s", k, h->addr,
				  vmt_subhost_last_error());
			atomic_fetch_add(&g.st.errors, 1);
			return err;
		}
	}
	*out = c->h[k];
	return 0;
}

void pager_conn_drop(struct pager_conns *c, int k)
{
	vmt_subhost_close(c->h[k]);
	c->h[k] = NULL;
}

void pager_conns_close(struct pager_conns *c)
{
	for (int k = 0; k < VMT_PT_MAX_HOSTS; k++)
		pager_conn_drop(c, k);
}

/* ------------------------------------------------------- configuration */

static int conf_set(struct pager_conf *c, const char *key, const char *val)
{
	struct {
		const char *key;
		char *dst;
	} paths[] = {{"mem", c->mem},
		     {"pagetable", c->pagetable},
		     {"socket", c->socket},
		     {"log", c->log},
		     {"psk", c->psk}};

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if (!strcmp(key, paths[i].key)) {
			if (strlen(val) >= sizeof(c->mem))
				return -ENAMETOOLONG;
			strcpy(paths[i].dst, val);
			return 0;
		}
	}
	if (!strcmp(key, "insecure")) {
		c->insecure = !strcmp(val, "1");
		return 0;
	}
	if (!strcmp(key, "cap")) {
		c->cap_set = true;
		return vmt_pt_parse_size(val, &c->cap_bytes);
	}
	if (!strcmp(key, "policy"))
		return pager_policy_parse(val, &c->policy);
	if (!strcmp(key, "tail")) {
		c->tail_after_head = !strcmp(val, "after");
		return c->tail_after_head || !strcmp(val, "parallel") ? 0 : -EINVAL;
	}
	if (!strcmp(key, "start_after")) {
		if (strlen(val) >= sizeof(start_after))
			return -ENAMETOOLONG;
		strcpy(start_after, val);
		return 0;
	}
	if (!strcmp(key, "workers")) {
		c->workers = (unsigned)atoi(val);
		return c->workers >= 1 && c->workers <= 16 ? 0 : -EINVAL;
	}
	return -EINVAL;
}

static char *trim_ws(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int conf_load(const char *path, struct pager_conf *c, char *why, size_t why_sz)
{
	char line[4200];
	int lineno = 0, err = 0;
	FILE *f = fopen(path, "re");

	memset(c, 0, sizeof(*c));
	c->policy = POLICY_CLOCK;
	c->workers = PAGER_WORKERS;
	/* Measured on a 1 Gbit link: the tail's bytes delay the head's reply (bench/pager.sh). */
	c->tail_after_head = true;
	if (!f) {
		err = -errno;
		snprintf(why, why_sz, "%s", path);
		return err;
	}
	while (!err && fgets(line, sizeof(line), f)) {
		char *s = trim_ws(line), *eq;

		lineno++;
		if (!*s || *s == '#')
			continue;
		eq = strchr(s, '=');
		if (!eq) {
			err = -EINVAL;
			break;
		}
		*eq = '\0';
		err = conf_set(c, trim_ws(s), trim_ws(eq + 1));
	}
	fclose(f);
	if (err)
		snprintf(why, why_sz, "%s:%d: bad line", path, lineno);
	else if (!c->mem[0] || !c->pagetable[0])
		err = -EINVAL, snprintf(why, why_sz, "%s: mem= and pagetable= are required", path);
	else if (!c->insecure && !c->psk[0])
		err = -EINVAL, snprintf(why, why_sz, "%s: psk= required unless insecure=1", path);
	return err;
}

/* ------------------------------------------------------ start and stop */

static void pager_fatal(const char *what, int err)
{
	pager_log("fatal: %s: %s", what, strerror(-err));
	fprintf(stderr, "vmt-pager: %s: %s\n", what, strerror(-err));
	/* Running on would let the guest read holes as zeros: stop here. */
	_exit(1);
}

static int pager_open_table(void)
{
	int err = vmt_pt_open(g.conf.pagetable, true, &g.pt);

	if (err)
		return err;
	if (flock(g.pt.fd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? -EBUSY : -errno;
	g.chunk = 1ull << g.pt.hdr->chunk_shift;
	g.nr_chunks = g.pt.hdr->nr_chunks;
	g.cap_chunks =
	    g.conf.cap_set ? g.conf.cap_bytes >> g.pt.hdr->chunk_shift : g.pt.hdr->cap_chunks;
	if (g.conf.cap_set && g.conf.cap_bytes && !g.cap_chunks)
		g.cap_chunks = 1;
	g.low_chunks = g.cap_chunks - vmt_pt_free_target(g.cap_chunks);
	/* A quarter of the free target stays free for the guest's faults meanwhile. */
	g.burst_chunks = g.cap_chunks - vmt_pt_free_target(g.cap_chunks) / 4;
	if (g.burst_chunks < g.low_chunks || g.burst_chunks >= g.cap_chunks)
		g.burst_chunks = g.low_chunks;
	atomic_store(&g.pt.hdr->writer_pid, (uint64_t)getpid());
	return 0;
}

/* Chunks that are MAIN from the start are known to the policy. */
static int pager_recover_table(void)
{
	int err = pager_policy_init(&g.policy, g.conf.policy, g.nr_chunks);

	if (err)
		return err;
	for (uint64_t i = 0; i < g.nr_chunks; i++) {
		uint64_t e = vmt_pt_load(&g.pt, i);

		/* A move that a crashed writer left open: its data is where loc says. */
		if (vmt_pt_e_moving(e) &&
		    !vmt_pt_move_end(&g.pt, i, vmt_pt_e_loc(e), vmt_pt_e_copy(e)))
			pager_log("chunk %llu: finished a move left open", (unsigned long long)i);
		if (vmt_pt_e_loc(e) == VMT_PT_MAIN)
			pager_policy_add(&g.policy, i);
	}
	return 0;
}

static __attribute__((constructor)) void pager_init(void)
{
	const char *path = getenv(VMT_PAGER_CONF_ENV);
	char why[512] = "";
	int err;

	if (!path || !*path)
		return;
	err = conf_load(path, &g.conf, why, sizeof(why));
	if (g.conf.log[0])
		g.log_fd = open(g.conf.log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	/* Debugging only: which guest pages fault (tools read it beside the guest's state). */
	if (getenv("VMT_PAGER_TRACE") && *getenv("VMT_PAGER_TRACE"))
		g.trace_fd = open(getenv("VMT_PAGER_TRACE"),
				  O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (err)
		pager_fatal(why, err);
	pthread_cond_init(&g.cond, NULL);
	pthread_cond_init(&g.work_cond, NULL);
	pthread_cond_init(&g.evict_cond, NULL);
	/* The table is opened (and locked) only when the memory file is mapped. */
	g.active = true;
}

static void pager_join(pthread_t t)
{
	if (t)
		pthread_join(t, NULL);
}

/*
 * Registered with atexit when the threads start, so it runs before any
 * library's destructor (libnbd, GnuTLS) while our threads may still use them;
 * the destructor is a second chance (dlclose).
 */
static __attribute__((destructor)) void pager_fini(void)
{
	uint64_t one = 1;

	if (!g.active || !g.threads_up)
		return;
	g.threads_up = false;
	atomic_store(&g.quit, true);
	if (write(g.quit_fd, &one, sizeof(one)) < 0)
		pager_log("quit eventfd: %s", strerror(errno));
	pthread_mutex_lock(&g.lock);
	pthread_cond_broadcast(&g.cond);
	pthread_cond_broadcast(&g.work_cond);
	pthread_cond_broadcast(&g.evict_cond);
	pthread_mutex_unlock(&g.lock);
	pager_join(start_after_thr); /* before the others: it may be starting them */
	pager_join(g.fault_thr);
	pager_join(g.evict_thr);
	pager_join(g.ctl_thr);
	for (unsigned i = 0; i < g.nr_workers; i++)
		pager_join(g.workers[i]);
	if (g.conf.socket[0])
		unlink(g.conf.socket);
	/* Readers see that no pager writes the table any more. */
	atomic_store(&g.pt.hdr->writer_pid, 0);
	pager_log("stopped: faults=%llu pageins=%llu pageouts=%llu errors=%llu",
		  (unsigned long long)g.st.faults, (unsigned long long)g.st.pageins,
		  (unsigned long long)g.st.pageouts, (unsigned long long)g.st.errors);
}

/* --------------------------------------------------- the mmap wrapper */

typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);

static void *real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	static _Atomic(mmap_fn) fn;
	mmap_fn f = atomic_load(&fn);

	if (!f) {
		f = (mmap_fn)dlsym(RTLD_NEXT, "mmap64");
		if (!f)
			return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
		atomic_store(&fn, f);
	}
	return f(addr, len, prot, flags, fd, off);
}

static bool is_mem_file(int fd)
{
	struct stat st, ms;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	if (stat(g.conf.mem, &ms) < 0)
		return false;
	return st.st_dev == ms.st_dev && st.st_ino == ms.st_ino;
}

static int pager_start_workers(void)
{
	int err = pager_fault_start();

	if (!err)
		err = pager_evict_start();
	if (!err && g.conf.socket[0])
		err = pager_ctl_start();
	return err;
}

/* start_after: wait (bounded) until the file exists, then start the threads. */
static void *start_after_main(void *arg)
{
	struct pollfd p = {.fd = g.quit_fd, .events = POLLIN};
	int64_t left_ms = START_AFTER_MAX_S * 1000;
	int err;

	while (access(start_after, F_OK) < 0) {
		if (atomic_load(&g.quit))
			return NULL;
		if ((left_ms -= 5) < 0)
			pager_fatal("start_after: the file never came", -ETIMEDOUT);
		poll(&p, 1, 5);
	}
	pager_log("start_after: %s is there; the pager starts", start_after);
	err = pager_start_workers();
	if (err)
		pager_fatal("threads", err);
	return NULL;
}

static int pager_start_threads_masked(void)
{
	int err;

	g.quit_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (g.quit_fd < 0)
		return -errno;
	if (start_after[0])
		err = -pthread_create(&start_after_thr, NULL, start_after_main, NULL);
	else
		err = pager_start_workers();
	g.threads_up = true;
	return err;
}

static int pager_start_threads(void)
{
	sigset_t all, old;
	int err;

	/* QEMU's signals are for QEMU's threads: ours are born with all blocked. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pager_start_threads_masked();
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

/* A reader's listing holds the RAM file's lock for a moment (vmt_ramfile_punch_lock). */
#define PAGER_LOCK_WAIT_MS 5000

/* Register QEMU's mapping of the memory file; fatal on failure (see pager_fatal). */
static void pager_take_mapping(void *p, size_t len, int fd, off_t off)
{
	int err = pager_open_table();

	if (err)
		pager_fatal(g.conf.pagetable, err);
	err = pager_recover_table();
	if (err)
		pager_fatal("policy", err);
	pager_log("loaded: mem=%s chunk=%llu chunks=%llu cap=%llu policy=%s hosts=%u", g.conf.mem,
		  (unsigned long long)g.chunk, (unsigned long long)g.nr_chunks,
		  (unsigned long long)g.cap_chunks, pager_policy_name(g.conf.policy),
		  g.pt.hdr->nr_hosts);
	g.mem_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (g.mem_fd < 0)
		pager_fatal("dup of the memory file", -errno);
	/* Never punch under a reader's mapping: wait for its listing, else refuse to page. */
	err = vmt_ramfile_punch_lock(g.mem_fd, PAGER_LOCK_WAIT_MS);
	if (err)
		pager_fatal("exclusive lock of the memory file (a reader held it 5 s)", err);
	g.base = (uint64_t)(uintptr_t)p;
	g.len = len;
	g.map_off = (uint64_t)off;
	if (g.map_off + len > g.pt.hdr->ram_size || (g.map_off & (PAGER_PAGE - 1)))
		pager_fatal("mapping does not fit the page table", -EINVAL);
	err = pager_uffd_open();
	if (!err)
		err = pager_uffd_register(p, len);
	if (err)
		pager_fatal("userfaultfd", err);
	err = pager_start_threads();
	if (err)
		pager_fatal("threads", err);
	atexit(pager_fini);
	pager_log("registered %zu bytes at %p (file offset %llu), uffd wp=%d zeropage=%d", len, p,
		  (unsigned long long)off, g.have_wp, g.have_zeropage);
}

static void *pager_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *p = real_mmap(addr, len, prot, flags, fd, off);

	if (!g.active || p == MAP_FAILED || fd < 0 || !(flags & MAP_SHARED))
		return p;
	if (!is_mem_file(fd))
		return p;
	pthread_mutex_lock(&map_lock);
	if (!registered) {
		registered = true;
		pager_take_mapping(p, len, fd, off);
	} else {
		pager_log("a second mapping of the memory file (%zu bytes) is not paged", len);
	}
	pthread_mutex_unlock(&map_lock);
	return p;
}

EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return pager_mmap(addr, len, prot, flags, fd, off);
}

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return pager_mmap(addr, len, prot, flags, fd, off);
}
