// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pager_probe.c - the pager measured without QEMU (pager_probe.h): a page
 * table with every chunk on sub-host 0, a config, and a child with
 * LD_PRELOAD=libvmt-pager.so that maps the memory file MAP_SHARED (so the
 * pager registers it, as it does QEMU's RAM) and touches it.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/pager_probe.h"
#include "pagetable/pagetable.h"
#include "pager/pager_proto.h"
#include "subhost/subhost.h"

#define PAGE	  4096u
#define CHILD_OUT (1u << 20)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void nap_ns(uint64_t ns)
{
	struct timespec t = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};

	while (nanosleep(&t, &t) && errno == EINTR)
		;
}

int pager_probe_init(struct pager_probe *p)
{
	snprintf(p->dir, sizeof(p->dir), "/tmp/vmt-pager-probe-XXXXXX");
	if (!mkdtemp(p->dir)) {
		p->dir[0] = '\0'; /* nothing for pager_probe_fini to remove */
		return bench_fail(-errno, "mkdtemp: %s", strerror(errno));
	}
	return 0;
}

void pager_probe_fini(struct pager_probe *p)
{
	static const char *const files[] = {"pt", "pager.conf", "pager.log", "sock"};
	char path[128];

	if (p->mem)
		unlink(p->mem);
	if (!p->dir[0])
		return;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", p->dir, files[i]);
		unlink(path);
	}
	rmdir(p->dir);
}

int pager_probe_nbd_us(struct vmt_subhost *s, uint64_t ram, uint64_t len, uint64_t gap_ns,
		       unsigned n, double *out)
{
	uint64_t seed = 88172645463325252ull;
	char *buf = malloc(len);
	int err = buf ? 0 : -ENOMEM;

	for (unsigned i = 0; !err && i < n && !bench_stop; i++) {
		uint64_t off = (bench_xorshift(&seed) % (ram / len)) * len, t0;

		if (gap_ns)
			nap_ns(gap_ns);
		t0 = now_ns();
		err = vmt_subhost_pread(s, buf, len, off);
		out[i] = (double)(now_ns() - t0) / 1e3;
	}
	free(buf);
	if (err)
		return bench_fail(err, "nbd pread: %s", vmt_subhost_error(s));
	return bench_stop ? -EINTR : 0;
}

/* ---------------------------------------------------------- the parent */

/* A page table with every chunk on sub-host 0, a fresh memory file, the child's config. */
static int make_vm(struct pager_probe *p, uint64_t chunk, uint64_t cap)
{
	struct vmt_pt_host h = {.quota_chunks = 0};
	struct vmt_pt_create_opts o = {.sz = sizeof(o),
				       .ram_size = p->ram,
				       .chunk_shift = (unsigned)vmt_pt_chunk_shift_of(chunk),
				       .cap_chunks = cap / chunk,
				       .nr_hosts = 1,
				       .hosts = &h};
	char path[256];
	struct vmt_pt pt;
	FILE *f;
	int fd, err;

	snprintf(h.addr, sizeof(h.addr), "%s", p->addr);
	snprintf(h.export, sizeof(h.export), "%s", p->export_name ? p->export_name : "");
	snprintf(path, sizeof(path), "%s/pt", p->dir);
	unlink(path);
	unlink(p->mem);
	err = vmt_pt_create(path, &o, &pt);
	if (err)
		return bench_fail(err, "page table %s: %s", path, strerror(-err));
	for (uint64_t i = 0; i < pt.hdr->nr_chunks; i++)
		vmt_pt_set(&pt, i, VMT_PT_SUB, -1);
	vmt_pt_close(&pt);
	fd = open(p->mem, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)p->ram))
		err = bench_fail(-errno, "%s: %s", p->mem, strerror(errno));
	if (fd >= 0)
		close(fd);
	snprintf(path, sizeof(path), "%s/pager.conf", p->dir);
	f = err ? NULL : fopen(path, "w");
	if (!err && !f)
		return bench_fail(-errno, "%s: %s", path, strerror(errno));
	if (f) {
		fprintf(f,
			"mem=%s\npagetable=%s/pt\nlog=%s/pager.log\npsk=%s\ncap=%llu\n"
			"socket=%s/sock\ntail=%s\n",
			p->mem, p->dir, p->dir, p->psk, (unsigned long long)cap, p->dir,
			p->tail ? p->tail : "after");
		if (fclose(f))
			err = bench_fail(-EIO, "%s: write failed", path);
	}
	return err;
}

static void child_exec(struct pager_probe *p, const char *mode, uint64_t chunk, int out)
{
	char conf[128], a_chunk[24], a_ram[24], a_n[16];
	const char *argv[24];
	unsigned k = 0;

	snprintf(conf, sizeof(conf), "%s/pager.conf", p->dir);
	snprintf(a_chunk, sizeof(a_chunk), "%llu", (unsigned long long)chunk);
	snprintf(a_ram, sizeof(a_ram), "%llu", (unsigned long long)p->ram);
	snprintf(a_n, sizeof(a_n), "%u", p->samples);
	for (; p->child_argv[k] && k < 16; k++)
		argv[k] = p->child_argv[k];
	argv[k++] = mode;
	argv[k++] = a_chunk;
	argv[k++] = a_ram;
	argv[k++] = a_n;
	argv[k++] = p->mem;
	argv[k] = NULL;
	dup2(out, 1);
	if (p->netns) {
		char ns[128];
		int fd;

		snprintf(ns, sizeof(ns), "/run/netns/%s", p->netns);
		fd = open(ns, O_RDONLY);
		if (fd < 0 || setns(fd, CLONE_NEWNET))
			_exit(126);
	}
	setenv("LD_PRELOAD", p->pager_so, 1);
	setenv(VMT_PAGER_CONF_ENV, conf, 1);
	execv(argv[0], (char *const *)argv);
	_exit(127);
}

/* Run the child in mode; its stdout (malloc'ed, NUL-terminated) into *out. */
static int run_child(struct pager_probe *p, const char *mode, uint64_t chunk, char **out)
{
	char *buf = malloc(CHILD_OUT);
	size_t len = 0;
	int pp[2], st = 0;
	pid_t pid;

	if (!buf || pipe2(pp, O_CLOEXEC)) {
		free(buf);
		return bench_fail(-ENOMEM, "pager child: no pipe");
	}
	pid = fork();
	if (pid == 0)
		child_exec(p, mode, chunk, pp[1]);
	close(pp[1]);
	for (ssize_t n = 1; pid > 0 && n > 0 && len<CHILD_OUT - 1; len += n> 0 ? (size_t)n : 0)
		n = read(pp[0], buf + len, CHILD_OUT - 1 - len);
	close(pp[0]);
	buf[len] = '\0';
	while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (pid < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		free(buf);
		return bench_fail(-EIO, "pager child (%s, chunk %llu) failed: status %d; see %s",
				  mode, (unsigned long long)chunk, st, p->dir);
	}
	*out = buf;
	return 0;
}

int pager_probe_fault(struct pager_probe *p, uint64_t chunk, double **us, unsigned *n,
		      double *own_p50)
{
	char *out = NULL, *s, *end;
	double *v = NULL;
	int err = make_vm(p, chunk, 0);

	*us = NULL;
	*n = 0;
	if (!err)
		err = run_child(p, "fault", chunk, &out);
	if (err)
		return err;
	/* "N OWN_P50\n" then N lines of ns */
	*n = (unsigned)strtoul(out, &s, 10);
	*own_p50 = strtod(s, &s);
	v = calloc(*n ? *n : 1, sizeof(*v));
	for (unsigned i = 0; v && i < *n; i++, s = end) {
		v[i] = strtod(s, &end) / 1e3;
		if (end == s)
			err = bench_fail(-EPROTO, "pager child: %u of %u samples", i, *n);
	}
	free(out);
	if (!v || err) {
		free(v);
		return err ? err : -ENOMEM;
	}
	*us = v;
	return 0;
}

int pager_probe_stream(struct pager_probe *p, uint64_t chunk, double *mbs)
{
	char *out = NULL;
	int err = make_vm(p, chunk, p->ram / 2);

	if (!err)
		err = run_child(p, "stream", chunk, &out);
	if (!err && sscanf(out, "%lf", mbs) != 1)
		err = bench_fail(-EPROTO, "pager child: no figure");
	free(out);
	return err;
}

/* ----------------------------------------------------------- the child */

static uint8_t *child_map(const char *mem, uint64_t ram)
{
	int fd = open(mem, O_RDWR);
	uint8_t *m =
	    fd < 0 ? MAP_FAILED : mmap64(NULL, ram, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	return m == MAP_FAILED ? NULL : m;
}

/* The pager's own pagein_us p50 from STATS on its socket (0 if unavailable). */
static double pager_pagein_p50(void)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct vmt_pager_req q = {
	    .magic = VMT_PAGER_MAGIC, .version = VMT_PAGER_VERSION, .op = VMT_PAGER_STATS};
	struct vmt_pager_rep r;
	static char buf[65536];
	const char *conf = getenv(VMT_PAGER_CONF_ENV);
	unsigned long long v = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char *p;

	/* The socket is beside the config (make_vm). */
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", conf ? conf : "");
	if (strrchr(a.sun_path, '/'))
		strcpy(strrchr(a.sun_path, '/'), "/sock");
	if (fd >= 0 && !connect(fd, (struct sockaddr *)&a, sizeof(a)) &&
	    write(fd, &q, sizeof(q)) == sizeof(q) &&
	    recv(fd, &r, sizeof(r), MSG_WAITALL) == sizeof(r) && r.len < sizeof(buf) &&
	    recv(fd, buf, r.len, MSG_WAITALL) == (ssize_t)r.len) {
		buf[r.len] = '\0';
		p = strstr(buf, "\"pagein_us\":");
		if (p && (p = strstr(p, "\"p50\":")))
			v = strtoull(p + 6, NULL, 10);
	}
	if (fd >= 0)
		close(fd);
	return (double)v;
}

/* Fault to resume: one read in each of up to n distinct chunks, none resident. */
static int child_fault(const char *mem, uint64_t ram, uint64_t chunk, unsigned n)
{
	volatile uint8_t *m = child_map(mem, ram);
	uint64_t nr = ram / chunk, seed = 2463534242ull, *t;

	if (!m || !nr)
		return 1;
	n = n < nr ? n : (unsigned)nr;
	t = calloc(n ? n : 1, sizeof(*t));
	for (unsigned i = 0; t && i < n; i++) {
		uint64_t c = (i * 7919ull) % nr, pg = bench_xorshift(&seed) % (chunk / PAGE);
		uint64_t off = c * chunk + pg * PAGE, t0;

		nap_ns(2000000 + chunk * 20); /* 44 ms for 2M */
		t0 = now_ns();
		(void)m[off];
		t[i] = now_ns() - t0;
	}
	if (!t)
		return 1;
	printf("%u %.0f\n", n, pager_pagein_p50());
	for (unsigned i = 0; i < n; i++)
		printf("%llu\n", (unsigned long long)t[i]);
	free(t);
	return fflush(stdout) ? 1 : 0;
}

/* Stream through all of the file (2x the cap) twice, reading and writing every page. */
static int child_stream(const char *mem, uint64_t ram)
{
	uint8_t *m = child_map(mem, ram);
	uint64_t t0 = now_ns();

	if (!m)
		return 1;
	for (int pass = 0; pass < 2; pass++)
		for (uint64_t off = 0; off < ram; off += PAGE)
			m[off] = (uint8_t)(m[off + 1] + pass + 1);
	printf("%.1f\n", 2.0 * (double)ram / 1e6 / ((double)(now_ns() - t0) / 1e9));
	return fflush(stdout) ? 1 : 0;
}

int pager_probe_child(int argc, char **argv)
{
	uint64_t chunk, ram;

	if (argc != 5)
		return 2;
	chunk = strtoull(argv[1], NULL, 0);
	ram = strtoull(argv[2], NULL, 0);
	if (chunk < PAGE || (chunk & (chunk - 1)) || ram < chunk)
		return 2;
	if (!strcmp(argv[0], "fault"))
		return child_fault(argv[4], ram, chunk, (unsigned)strtoul(argv[3], NULL, 10));
	if (!strcmp(argv[0], "stream"))
		return child_stream(argv[4], ram);
	return 2;
}
