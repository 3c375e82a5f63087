// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * vmt-memcheck: proof, from inside the guest, that no page of its memory is lost or mixed up.
 *
 * Fills --size bytes with a pattern and then, pass after pass, verifies every page and rewrites
 * it with the next generation.  Word w of page p in generation g is a hash of (seed, p, g, w)
 * (splitmix64's mixer), never zero: a page that comes back from the wrong place, a stale copy
 * of an older generation, or a page of zeros all fail the check.  The memory is held for the
 * whole run, so a split VM's pager can page it out and back in between passes.
 *
 *   vmt-memcheck --size 200M [--passes N] [--seconds S] [--seed X] [--json] [--hold]
 *   vmt-memcheck --daemon --state /run/memcheck.json --size 200M [--seconds S] [--interval MS]
 *   vmt-memcheck --status /run/memcheck.json [--json]
 *
 * Exit status: 0 no mismatch, 1 mismatches (or a daemon that failed), 2 bad usage or a size
 * above MemAvailable, 3 the check could not run (mmap, the state file).
 * The state file (daemon mode) is rewritten atomically (write + rename) after every pass; its
 * "probe" object names the guest-physical address of one page (--probe-page, from
 * /proc/self/pagemap) so a test can corrupt that page from the host and watch it be reported.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXIT_MISMATCH 1
#define EXIT_USAGE    2
#define EXIT_FAILED   3

#define MAX_PASSES	     1000000u
#define MAX_SECONDS	     86400u
#define MAX_INTERVAL_MS	     600000u
#define DEFAULT_PASSES	     3u
#define DEFAULT_DAEMON_SECS  600u
#define DEFAULT_DAEMON_IVAL  1000u
#define MEM_RESERVE	     (16ull << 20) /* left for the rest of the guest */
#define MAX_LISTED	     16		   /* mismatched pages listed by index */
#define DAEMON_READY_TIMEOUT (600 * 1000)  /* ms the parent waits for the fill */

struct mismatch {
	uint64_t pass, page, offset, expected, got;
};

struct opts {
	uint64_t size, seed, probe_page;
	unsigned passes, seconds, interval_ms;
	bool json, hold, daemon, passes_set, seconds_set, interval_set;
	const char *state, *status, *file, *stop;
};

/* Everything a run has found so far: what the state file and the report say. */
struct run {
	const struct opts *o;
	uint8_t *mem;
	uint64_t pages, page_size, generation, passes, pages_checked, mismatches, bad_words;
	uint64_t listed[MAX_LISTED];
	bool have_first, have_probe, running;
	struct mismatch first;
	uint64_t probe_vaddr, probe_pfn;
	const char *phase, *error;
	double start, last_pass_s;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------- pattern */

static inline uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* The per-(page, generation) key; words derive from it. */
static inline uint64_t page_key(uint64_t seed, uint64_t page, uint64_t gen)
{
	uint64_t h = mix64(seed ^ (page * 0x9e3779b97f4a7c15ull));

	return mix64(h ^ (gen * 0xbf58476d1ce4e5b9ull + 0x632be59bd9b4e019ull));
}

/* Never zero, so a page of zeros can never pass. */
static inline uint64_t word_of(uint64_t key, uint64_t w)
{
	return mix64(key + w * 0x94d049bb133111ebull) | 1;
}

static void fill_page(uint64_t *p, size_t words, uint64_t key)
{
	for (size_t w = 0; w < words; w++)
		p[w] = word_of(key, w);
}

static void note_mismatch(struct run *r, uint64_t page, size_t w, uint64_t want, uint64_t got)
{
	r->bad_words++;
	if (r->have_first)
		return;
	r->have_first = true;
	r->first = (struct mismatch){r->passes + 1, page, w * 8, want, got};
}

/* Verify page p against generation gen; true if every word matched. */
static bool check_page(struct run *r, uint64_t page, uint64_t gen)
{
	const volatile uint64_t *p = (const volatile uint64_t *)(r->mem + page * r->page_size);
	size_t words = r->page_size / 8;
	uint64_t key = page_key(r->o->seed, page, gen);
	bool ok = true;

	for (size_t w = 0; w < words; w++) {
		uint64_t want = word_of(key, w), got = p[w];

		if (got != want) {
			note_mismatch(r, page, w, want, got);
			ok = false;
		}
	}
	return ok;
}

/* One pass: verify generation g in every page, rewrite it with g + 1. */
static void run_pass(struct run *r)
{
	uint64_t gen = r->generation;
	double t0 = now_s();

	for (uint64_t page = 0; page < r->pages; page++) {
		if (!check_page(r, page, gen)) {
			if (r->mismatches < MAX_LISTED)
				r->listed[r->mismatches] = page;
			r->mismatches++;
		}
		fill_page((uint64_t *)(r->mem + page * r->page_size), r->page_size / 8,
			  page_key(r->o->seed, page, gen + 1));
	}
	r->pages_checked += r->pages;
	r->generation = gen + 1;
	r->passes++;
	r->last_pass_s = now_s() - t0;
}

static void fill_all(struct run *r)
{
	for (uint64_t page = 0; page < r->pages; page++)
		fill_page((uint64_t *)(r->mem + page * r->page_size), r->page_size / 8,
			  page_key(r->o->seed, page, 0));
	r->generation = 0;
}

/* ------------------------------------------------------------- memory */

/* MemAvailable in bytes, or 0 if /proc/meminfo does not say. */
static uint64_t mem_available(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[256];
	unsigned long long kb = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return (uint64_t)kb << 10;
}

/* Physical frame of the probe page, from /proc/self/pagemap (needs root for the PFN). */
static void probe_update(struct run *r)
{
	uint64_t vaddr = (uint64_t)(uintptr_t)(r->mem + r->o->probe_page * r->page_size);
	uint64_t ent = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	r->have_probe = false;
	if (fd < 0)
		return;
	if (pread(fd, &ent, sizeof(ent), (off_t)(vaddr / r->page_size * 8)) == sizeof(ent) &&
	    (ent >> 63) & 1 && (ent & ((1ull << 55) - 1))) {
		r->have_probe = true;
		r->probe_vaddr = vaddr;
		r->probe_pfn = ent & ((1ull << 55) - 1);
	}
	close(fd);
}

static int map_file(const char *path, size_t len, uint8_t **out)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	void *p;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)len) < 0) {
		int err = -errno;

		close(fd);
		unlink(path);
		return err;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		unlink(path);
		return -errno;
	}
	*out = p;
	return 0;
}

static int map_memory(const struct opts *o, uint8_t **out)
{
	void *p;

	if (o->file)
		return map_file(o->file, o->size, out);
	p = mmap(NULL, o->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	/* Keep 4 KiB pages where they are: the probe's physical address must not move
	 * under a host-side test (khugepaged would copy them into a huge page). */
	madvise(p, o->size, MADV_NOHUGEPAGE);
	*out = p;
	return 0;
}

/* ------------------------------------------------------------- report */

static void hex_field(FILE *f, const char *name, uint64_t v, const char *sep)
{
	fprintf(f, "\"%s\": \"0x%016" PRIx64 "\"%s", name, v, sep);
}

static void write_first(FILE *f, const struct run *r)
{
	if (!r->have_first) {
		fprintf(f, "  \"first_mismatch\": null,\n");
		return;
	}
	fprintf(f,
		"  \"first_mismatch\": {\"pass\": %" PRIu64 ", \"page\": %" PRIu64
		", \"offset\": %" PRIu64 ", ",
		r->first.pass, r->first.page, r->first.offset);
	hex_field(f, "expected", r->first.expected, ", ");
	hex_field(f, "got", r->first.got, "},\n");
}

static void write_probe(FILE *f, const struct run *r)
{
	if (!r->have_probe) {
		fprintf(f, "  \"probe\": null,\n");
		return;
	}
	fprintf(f,
		"  \"probe\": {\"page\": %" PRIu64 ", \"vaddr\": %" PRIu64 ", \"pfn\": %" PRIu64
		", \"phys\": %" PRIu64 "},\n",
		r->o->probe_page, r->probe_vaddr, r->probe_pfn, r->probe_pfn * r->page_size);
}

/* The report and the state file: one JSON object, keys in a fixed order. */
static void write_json(FILE *f, const struct run *r)
{
	const struct opts *o = r->o;

	fprintf(f, "{\n  \"pid\": %d,\n  \"running\": %s,\n  \"phase\": \"%s\",\n", (int)getpid(),
		r->running ? "true" : "false", r->phase);
	fprintf(f, "  \"mode\": \"%s\",\n  \"size\": %" PRIu64 ",\n  \"page_size\": %" PRIu64 ",\n",
		o->file ? "file" : "anon", o->size, r->page_size);
	fprintf(f, "  \"pages\": %" PRIu64 ",\n  \"seed\": %" PRIu64 ",\n", r->pages, o->seed);
	fprintf(f, "  \"generation\": %" PRIu64 ",\n  \"passes\": %" PRIu64 ",\n", r->generation,
		r->passes);
	fprintf(f, "  \"pages_checked\": %" PRIu64 ",\n  \"mismatches\": %" PRIu64 ",\n",
		r->pages_checked, r->mismatches);
	fprintf(f, "  \"mismatched_words\": %" PRIu64 ",\n  \"mismatch_pages\": [", r->bad_words);
	for (uint64_t i = 0; i < r->mismatches && i < MAX_LISTED; i++)
		fprintf(f, "%s%" PRIu64, i ? ", " : "", r->listed[i]);
	fprintf(f, "],\n");
	write_first(f, r);
	write_probe(f, r);
	fprintf(f, "  \"elapsed_s\": %.3f,\n  \"last_pass_s\": %.3f,\n", now_s() - r->start,
		r->last_pass_s);
	if (r->error)
		fprintf(f, "  \"error\": \"%s\"\n}\n", r->error);
	else
		fprintf(f, "  \"error\": null\n}\n");
}

static void write_text(FILE *f, const struct run *r)
{
	fprintf(f, "vmt-memcheck: %s %" PRIu64 " bytes, %" PRIu64 " pages, seed %" PRIu64 "\n",
		r->o->file ? "file" : "anon", r->o->size, r->pages, r->o->seed);
	fprintf(f, "passes %" PRIu64 ", pages checked %" PRIu64 ", mismatches %" PRIu64 "\n",
		r->passes, r->pages_checked, r->mismatches);
	if (r->have_first)
		fprintf(f,
			"first mismatch: pass %" PRIu64 " page %" PRIu64 " offset %" PRIu64
			" expected 0x%016" PRIx64 " got 0x%016" PRIx64 "\n",
			r->first.pass, r->first.page, r->first.offset, r->first.expected,
			r->first.got);
	if (r->error)
		fprintf(f, "error: %s\n", r->error);
}

/* Write the state file atomically: readers see the old or the new one, never half. */
static int save_state(const struct run *r)
{
	char tmp[4096];
	FILE *f;
	int ok;

	if (!r->o->state)
		return 0;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", r->o->state) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	write_json(f, r);
	ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
	ok = (fclose(f) == 0) && ok;
	if (!ok || rename(tmp, r->o->state) < 0) {
		unlink(tmp);
		return -EIO;
	}
	return 0;
}

/* ------------------------------------------------------------- the run */

static bool stop_file_seen(const struct opts *o)
{
	return o->stop && access(o->stop, F_OK) == 0;
}

/* Sleep ms, waking early for a signal or the stop file; false if asked to stop. */
static bool idle(const struct opts *o, unsigned ms, double deadline)
{
	for (unsigned slept = 0; slept < ms; slept += 100) {
		if (stop_requested || stop_file_seen(o) || now_s() >= deadline)
			return false;
		poll(NULL, 0, ms - slept < 100 ? (int)(ms - slept) : 100);
	}
	return !stop_requested && !stop_file_seen(o);
}

/* Passes until --passes, --seconds, a signal or the stop file; state saved after each. */
static int run_passes(struct run *r, double deadline)
{
	const struct opts *o = r->o;

	for (unsigned n = 0; n < o->passes; n++) {
		if (n && !idle(o, o->interval_ms, deadline))
			break;
		r->phase = "verify";
		run_pass(r);
		probe_update(r);
		r->phase = "idle";
		if (save_state(r) < 0)
			return -EIO;
		if (stop_requested || stop_file_seen(o) || now_s() >= deadline)
			break;
	}
	return 0;
}

/* --hold: keep the memory until a signal, the stop file or the end of --seconds, then verify
 * once more. */
static void hold_then_verify(struct run *r, double deadline)
{
	r->phase = "hold";
	save_state(r);
	while (!stop_requested && !stop_file_seen(r->o) && now_s() < deadline)
		poll(NULL, 0, 100);
	r->phase = "verify";
	run_pass(r);
}

static int run_check(struct run *r, int ready_fd)
{
	const struct opts *o = r->o;
	double deadline = r->start + (double)o->seconds;
	int err;

	r->phase = "fill";
	fill_all(r);
	probe_update(r);
	r->phase = "idle";
	err = save_state(r);
	if (ready_fd >= 0) {
		/* The parent returns once the memory is filled and the state exists. */
		if (write(ready_fd, err ? "E" : "R", 1) < 0)
			err = err ? err : -EIO;
		close(ready_fd);
	}
	if (!err)
		err = run_passes(r, deadline);
	if (!err && o->hold)
		hold_then_verify(r, deadline);
	r->running = false;
	r->phase = err ? "failed" : "done";
	if (err)
		r->error = "cannot write the state file";
	save_state(r);
	return err;
}

/* ------------------------------------------------------------- status */

/* Print a state file; exit 0 clean, 1 mismatches or a failed daemon, 3 unreadable. */
static int show_status(const char *path, bool json)
{
	char buf[16384], *p;
	unsigned long long mm = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "vmt-memcheck: %s: %s\n", path, strerror(errno));
		return EXIT_FAILED;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		fprintf(stderr, "vmt-memcheck: %s: empty or unreadable\n", path);
		return EXIT_FAILED;
	}
	buf[n] = '\0';
	p = strstr(buf, "\"mismatches\": ");
	if (!p || sscanf(p, "\"mismatches\": %llu", &mm) != 1) {
		fprintf(stderr, "vmt-memcheck: %s: not a state file\n", path);
		return EXIT_FAILED;
	}
	if (json)
		fputs(buf, stdout);
	else
		printf("%s: mismatches %llu%s\n", path, mm,
		       strstr(buf, "\"error\": null") ? "" : " (failed)");
	return mm || !strstr(buf, "\"error\": null") ? EXIT_MISMATCH : 0;
}

/* ------------------------------------------------------------- options */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vmt-memcheck --size SIZE [--passes N] [--seconds S] [--seed X] [--json]\n"
		"                    [--hold] [--interval MS] [--file PATH] [--probe-page N]\n"
		"       vmt-memcheck --daemon --state PATH [--stop PATH] --size SIZE [...]\n"
		"       vmt-memcheck --status PATH [--json]\n"
		"  SIZE: bytes with K/M/G suffix, at most MemAvailable - 16M; N <= %u; S <= %u\n"
		"  exit: 0 no mismatch, 1 mismatch, 2 bad usage, 3 could not run\n",
		MAX_PASSES, MAX_SECONDS);
}

/* "200M", "64k", "1G", "4096": bytes; false on junk or overflow. */
static bool parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return false;
	if (*end == 'k' || *end == 'K')
		shift = 10;
	else if (*end == 'm' || *end == 'M')
		shift = 20;
	else if (*end == 'g' || *end == 'G')
		shift = 30;
	end += shift ? 1 : 0;
	if (*end || v > (UINT64_MAX >> shift))
		return false;
	*out = (uint64_t)v << shift;
	return true;
}

/* Decimal or 0x hex, at most max. */
static bool parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

enum { OPT_STATE = 256, OPT_STATUS, OPT_FILE, OPT_STOP, OPT_INTERVAL, OPT_PROBE };

static const struct option long_opts[] = {
    {"size", required_argument, NULL, 's'},
    {"passes", required_argument, NULL, 'p'},
    {"seconds", required_argument, NULL, 't'},
    {"seed", required_argument, NULL, 'S'},
    {"json", no_argument, NULL, 'j'},
    {"hold", no_argument, NULL, 'H'},
    {"daemon", no_argument, NULL, 'd'},
    {"state", required_argument, NULL, OPT_STATE},
    {"status", required_argument, NULL, OPT_STATUS},
    {"file", required_argument, NULL, OPT_FILE},
    {"stop", required_argument, NULL, OPT_STOP},
    {"interval", required_argument, NULL, OPT_INTERVAL},
    {"probe-page", required_argument, NULL, OPT_PROBE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* A number option: 1..max (0..max if zero_ok), stored in *dst. */
static bool set_count(const char *arg, unsigned max, bool zero_ok, unsigned *dst, bool *set)
{
	uint64_t v;

	if (!parse_uint(arg, max, &v) || (!v && !zero_ok))
		return false;
	*dst = (unsigned)v;
	*set = true;
	return true;
}

/* One option into o; false on a bad value. */
static bool set_opt(struct opts *o, int c, const char *arg)
{
	switch (c) {
	case 's':
		return parse_size(arg, &o->size);
	case 'S':
		return parse_uint(arg, UINT64_MAX, &o->seed);
	case OPT_PROBE:
		return parse_uint(arg, UINT64_MAX, &o->probe_page);
	case 'p':
		return set_count(arg, MAX_PASSES, false, &o->passes, &o->passes_set);
	case 't':
		return set_count(arg, MAX_SECONDS, false, &o->seconds, &o->seconds_set);
	case OPT_INTERVAL:
		return set_count(arg, MAX_INTERVAL_MS, true, &o->interval_ms, &o->interval_set);
	case 'j':
		return (o->json = true);
	case 'H':
		return (o->hold = true);
	case 'd':
		return (o->daemon = true);
	case OPT_STATE:
		return (o->state = arg);
	case OPT_STATUS:
		return (o->status = arg);
	case OPT_FILE:
		return (o->file = arg);
	case OPT_STOP:
		return (o->stop = arg);
	default:
		return false;
	}
}

/* Defaults that depend on the mode, then the checks between options. */
static const char *finish_opts(struct opts *o)
{
	if (o->status)
		return NULL;
	if (o->size < (uint64_t)sysconf(_SC_PAGESIZE))
		return "--size is required: at least one page";
	if (o->daemon && !o->state)
		return "--daemon needs --state PATH";
	if (!o->passes_set)
		o->passes = o->daemon || o->seconds_set ? MAX_PASSES : DEFAULT_PASSES;
	if (!o->seconds_set)
		o->seconds = o->daemon ? DEFAULT_DAEMON_SECS : MAX_SECONDS;
	if (!o->interval_set)
		o->interval_ms = o->daemon ? DEFAULT_DAEMON_IVAL : 0;
	if (o->probe_page >= o->size / (uint64_t)sysconf(_SC_PAGESIZE))
		return "--probe-page is beyond --size";
	return NULL;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	const char *why;
	int c;

	*o = (struct opts){.seed = 1};
	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(0);
		}
		if (!set_opt(o, c, optarg)) {
			if (optarg)
				fprintf(stderr, "vmt-memcheck: bad value '%s'\n", optarg);
			usage(stderr);
			return -EINVAL;
		}
	}
	why = optind < argc ? "unexpected argument" : finish_opts(o);
	if (why) {
		fprintf(stderr, "vmt-memcheck: %s\n", why);
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

/* ------------------------------------------------------------- main */

/* Refuse a size the guest cannot hold without the OOM killer stepping in. */
static bool size_allowed(uint64_t size)
{
	uint64_t avail = mem_available();

	if (avail > MEM_RESERVE && size <= avail - MEM_RESERVE)
		return true;
	fprintf(stderr,
		"vmt-memcheck: refusing --size %" PRIu64 ": MemAvailable is %" PRIu64
		" bytes (at most MemAvailable - %llu MiB may be checked)\n",
		size, avail, MEM_RESERVE >> 20);
	return false;
}

/* Detach; the parent waits until the child has filled its memory, then exits. */
static int daemonize(int *ready_fd)
{
	int fds[2], null;
	pid_t pid;
	char c = 0;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		struct pollfd pfd = {fds[0], POLLIN, 0};

		close(fds[1]);
		if (poll(&pfd, 1, DAEMON_READY_TIMEOUT) != 1 || read(fds[0], &c, 1) != 1 ||
		    c != 'R') {
			fprintf(stderr, "vmt-memcheck: daemon %d did not start\n", (int)pid);
			exit(EXIT_FAILED);
		}
		printf("%d\n", (int)pid);
		exit(0);
	}
	close(fds[0]);
	setsid();
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	/* No pipe of the caller (the agent's shell) stays open in the daemon. */
	for (int fd = 0; fd < 3 && null >= 0; fd++)
		dup2(null, fd);
	*ready_fd = fds[1];
	return 0;
}

static void install_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static int check_main(struct opts *o)
{
	struct run r = {.o = o, .running = true, .phase = "start", .start = now_s()};
	int err, ready_fd = -1;

	r.page_size = (uint64_t)sysconf(_SC_PAGESIZE);
	r.pages = o->size / r.page_size;
	if (!size_allowed(o->size))
		return EXIT_USAGE;
	if (o->daemon && !o->stop) {
		static char stop[4096];

		snprintf(stop, sizeof(stop), "%s.stop", o->state);
		o->stop = stop;
	}
	if (o->stop)
		unlink(o->stop);
	install_signals();
	if (o->daemon && (err = daemonize(&ready_fd)) < 0) {
		fprintf(stderr, "vmt-memcheck: cannot start the daemon: %s\n", strerror(-err));
		return EXIT_FAILED;
	}
	err = map_memory(o, &r.mem);
	if (err < 0) {
		fprintf(stderr, "vmt-memcheck: cannot map %" PRIu64 " bytes: %s\n", o->size,
			strerror(-err));
		return EXIT_FAILED;
	}
	err = run_check(&r, ready_fd);
	if (!o->daemon) {
		o->json ? write_json(stdout, &r) : write_text(stdout, &r);
		fflush(stdout);
	}
	if (o->file)
		unlink(o->file);
	if (o->stop)
		unlink(o->stop); /* consumed: the next run starts without it */
	munmap(r.mem, o->size);
	return err ? EXIT_FAILED : r.mismatches ? EXIT_MISMATCH : 0;
}

int main(int argc, char **argv)
{
	struct opts o;

	if (parse_opts(argc, argv, &o) < 0)
		return EXIT_USAGE;
	if (o.status)
		return show_status(o.status, o.json);
	return check_main(&o);
}
