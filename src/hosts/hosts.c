// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hosts.c - make and remove the emulated hosts: network namespaces, one
 * veth pair per sub-host, tc tbf on both ends, a tmpfs store per sub-host.
 *
 * `up` records the whole plan in the state (complete=false) before it
 * makes anything, so an `up` killed half-way leaves a state that `down`
 * can clean; a failure inside `up` undoes what was made.  `down` derives
 * every name from the prefix too, so it also cleans when the state is
 * lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/internal.h"
#include "hosts/hosts.h"
#include "hosts/hosts_priv.h"
#include "hosts/state.h"

#define HOSTS_NETNS_DIR "/run/netns"

int vmt_netns_enter(const char *netns)
{
	char path[256];
	int fd;

	if (!netns || !*netns)
		return 0;
	if (strchr(netns, '/') ||
	    snprintf(path, sizeof(path), HOSTS_NETNS_DIR "/%s", netns) >= (int)sizeof(path))
		return vmt_error(-EINVAL, "bad namespace name '%s'", netns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return vmt_error(-errno, "no network namespace %s: %s", netns, strerror(errno));
	if (setns(fd, CLONE_NEWNET)) {
		int e = -errno;

		close(fd);
		return vmt_error(e, "cannot enter network namespace %s: %s", netns, strerror(-e));
	}
	close(fd);
	return 0;
}

static bool netns_exists(const char *netns)
{
	char path[256];

	snprintf(path, sizeof(path), HOSTS_NETNS_DIR "/%s", netns);
	return !access(path, F_OK);
}

/* "1gbit", "100mbit", "12.5mbps": tc's units; bits per second out. */
static int hosts_rate_parse(const char *s, uint64_t *bps)
{
	static const struct {
		const char *unit;
		double mul;
	} units[] = {{"bit", 1}, {"kbit", 1e3}, {"mbit", 1e6}, {"gbit", 1e9}, {"tbit", 1e12},
		     {"bps", 8}, {"kbps", 8e3}, {"mbps", 8e6}, {"gbps", 8e9}};
	char *end;
	double v = strtod(s, &end);

	if (end == s || v <= 0 || s[0] == '-' || s[0] == '+')
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (strcmp(end, units[i].unit))
			continue;
		v *= units[i].mul;
		if (v < 8000 || v > 1e13) /* 1 kB/s .. 10 Tbit/s */
			return -ERANGE;
		*bps = (uint64_t)v;
		return 0;
	}
	return -EINVAL;
}

/*
 * tbf burst: the bucket must hold at least one whole packet as the veth
 * hands it over, and veth passes GSO packets of up to 64 KiB; a smaller
 * bucket makes tbf segment every super-packet (CPU-bound, well below the
 * rate).  Beyond that, a bucket of 1 ms at the rate (125 kB at 1gbit)
 * keeps the short-term rate close to the nominal one, as a real NIC's
 * line rate would, while being large enough that timer slack does not
 * starve the link.  Measured here (nbdcopy of 256 MiB across one link,
 * machine loaded): 1gbit gives 111-117 MB/s with TLS-PSK or plain NBD
 * (DESIGN.md: 119.5 MB/s of bare TCP), 100mbit gives 11.7-11.9 MB/s (of
 * 12.5).  Other buckets at 1gbit, plain NBD, same load: 16 KiB 63-78 MB/s,
 * 68 KiB 101-108, 125 kB 107-112, 256 KiB 98-108, 1 MiB 111-113: from 1 ms
 * up the link is at its plateau, and a bigger bucket only lets longer
 * bursts pass above the rate.  latency bounds the queue: 20 ms (2.5 MB at 1gbit), deep
 * enough for TCP's window, shallow enough not to hide a stall.
 */
static uint64_t hosts_burst(uint64_t bps)
{
	uint64_t b = bps / 8 / 1000;

	return VMT_MAX(b, (uint64_t)(64 << 10) + 4096);
}

static int hosts_tc(const char *netns, const char *dev, const char *rate)
{
	uint64_t bps;
	char burst[32];
	char *argv[] = {"tc",	     "-n",	(char *)netns, "qdisc", "replace",    "dev",
			(char *)dev, "root",	"tbf",	       "rate",	(char *)rate, "burst",
			burst,	     "latency", "20ms",	       NULL};

	if (hosts_rate_parse(rate, &bps))
		return vmt_error(-EINVAL, "bad rate '%s'", rate);
	snprintf(burst, sizeof(burst), "%llu", (unsigned long long)hosts_burst(bps));
	return hosts_run_err(argv, NULL, 0);
}

int vmt_hosts_link_rate(const char *netns, const char *dev, char *buf, size_t buf_sz)
{
	char out[1024], *p, *e;
	char *argv[] = {"tc",  "-n",	    (char *)netns, "qdisc", "show",
			"dev", (char *)dev, "root",	   NULL};
	int ret = hosts_run_err(argv, out, sizeof(out));

	if (ret)
		return ret;
	p = strstr(out, "qdisc tbf ") ? strstr(out, " rate ") : NULL;
	if (!p) {
		vmt_strlcpy(buf, "none", buf_sz);
		return 0;
	}
	p += 6;
	e = p + strcspn(p, " \n");
	*e = '\0';
	vmt_strlcpy(buf, p, buf_sz);
	return 0;
}

int vmt_hosts_store_used(const char *store, uint64_t *used)
{
	struct statvfs sv;

	if (statvfs(store, &sv))
		return vmt_error(-errno, "statvfs %s: %s", store, strerror(errno));
	*used = (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
	return 0;
}

static int ip_run(char *const argv[])
{
	return hosts_run_err(argv, NULL, 0);
}

static int netns_make(const char *netns)
{
	char *add[] = {"ip", "netns", "add", (char *)netns, NULL};
	char *lo[] = {"ip", "-n", (char *)netns, "link", "set", "lo", "up", NULL};
	int ret = ip_run(add);

	return ret ? ret : ip_run(lo);
}

/* One end of link k: address, up, rate limit. */
static int link_end(const char *netns, const char *dev, const char *addr, const char *rate)
{
	char cidr[32];
	char *a[] = {"ip", "-n", (char *)netns, "addr", "add", cidr, "dev", (char *)dev, NULL};
	char *u[] = {"ip", "-n", (char *)netns, "link", "set", (char *)dev, "up", NULL};
	int ret;

	snprintf(cidr, sizeof(cidr), "%s/24", addr);
	ret = ip_run(a);
	if (!ret)
		ret = ip_run(u);
	if (!ret && strcmp(rate, "none"))
		ret = hosts_tc(netns, dev, rate);
	return ret;
}

static int sub_make(const struct vmt_hosts *h, const struct vmt_hosts_sub *s)
{
	char *veth[] = {
	    "ip",   "link", "add",  (char *)s->main_if, "netns", (char *)h->main_netns, "type",
	    "veth", "peer", "name", (char *)s->sub_if,	"netns", (char *)s->netns,	NULL};
	char opts[64];
	int ret = netns_make(s->netns);

	if (!ret)
		ret = ip_run(veth);
	if (!ret)
		ret = link_end(h->main_netns, s->main_if, s->main_addr, h->link);
	if (!ret)
		ret = link_end(s->netns, s->sub_if, s->addr, h->link);
	if (!ret)
		ret = hosts_mkdir_p(s->store, 0700);
	if (ret)
		return ret < 0 && !strstr(vmt_last_error(), "`")
			   ? vmt_error(ret, "cannot make %s: %s", s->store, strerror(-ret))
			   : ret;
	snprintf(opts, sizeof(opts), "size=%llu,mode=0700", (unsigned long long)h->capacity);
	if (mount("vmt-store", s->store, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts))
		return vmt_error(-errno, "cannot mount tmpfs on %s: %s", s->store, strerror(errno));
	return 0;
}

/* Write a sysctl of namespace netns (a forked child enters it: /proc/sys/net is per namespace). */
static int netns_sysctl(const char *netns, const char *path, const char *val)
{
	int st;
	pid_t pid = fork();

	if (pid < 0)
		return vmt_error(-errno, "fork: %s", strerror(errno));
	if (pid == 0) {
		int fd;

		if (vmt_netns_enter(netns))
			_exit(2);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, val, strlen(val)) != (ssize_t)strlen(val))
			_exit(1);
		_exit(close(fd) ? 1 : 0);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return vmt_error(-EIO, "cannot set %s to %s in %s", path, val, netns);
	return 0;
}

/*
 * Every host reaches every other through the main host, as on a star
 * network: a reader on a sub-host or the monitor reads the main host's
 * export and fetches chunks from the other sub-hosts directly (their
 * addresses in a split VM's page table are the main host's view).
 * Forwarded traffic crosses two rate-limited links, as it would.
 */
static int hosts_routes(const struct vmt_hosts *h)
{
	char net[32];
	int ret = netns_sysctl(h->main_netns, "/proc/sys/net/ipv4/ip_forward", "1");

	snprintf(net, sizeof(net), "%s.0.0/16", h->subnet);
	for (int k = 0; !ret && k < h->nr_sub; k++) {
		char *argv[] = {"ip", "-n",  (char *)h->sub[k].netns,	  "route", "replace",
				net,  "via", (char *)h->sub[k].main_addr, NULL};

		ret = ip_run(argv);
	}
	if (!ret && h->monitor) {
		char *argv[] = {"ip", "-n",  (char *)h->mon.netns,     "route", "replace",
				net,  "via", (char *)h->mon.main_addr, NULL};

		ret = ip_run(argv);
	}
	return ret;
}

/* The monitoring host: a namespace and a rated link to the main host, like a sub-host's. */
static int mon_make(const struct vmt_hosts *h)
{
	const struct vmt_hosts_mon *m = &h->mon;
	char *veth[] = {
	    "ip",   "link", "add",  (char *)m->main_if, "netns", (char *)h->main_netns, "type",
	    "veth", "peer", "name", (char *)m->mon_if,	"netns", (char *)m->netns,	NULL};
	int ret = netns_make(m->netns);

	if (!ret)
		ret = ip_run(veth);
	if (!ret)
		ret = link_end(h->main_netns, m->main_if, m->main_addr, h->link);
	if (!ret)
		ret = link_end(m->netns, m->mon_if, m->addr, h->link);
	return ret;
}

/* ---------------------------------------------------------------- down */

struct teardown {
	char failed[1024]; /* what could not be removed */
	bool found;	   /* something existed */
};

static void td_fail(struct teardown *t, const char *what)
{
	size_t n = strlen(t->failed);

	snprintf(t->failed + n, sizeof(t->failed) - n, "%s%s", n ? "; " : "", what);
}

/* Stop whatever serves from a store: the state's exports and any other pid file. */
static void td_exports(struct teardown *t, const struct vmt_hosts_sub *s)
{
	struct vmt_serve_entry *e;
	size_t n;

	if (vmt_serve_list(s->store, &e, &n))
		return;
	for (size_t i = 0; i < n; i++) {
		t->found = true;
		if (vmt_serve_stop(s->store, e[i].vm, false) &&
		    vmt_serve_stop(s->store, e[i].vm, false))
			td_fail(t, vmt_last_error());
	}
	free(e);
}

/* Processes still inside one of our namespaces (ours by construction). */
static void td_netns_pids(const char *netns)
{
	char out[4096], *save, *tok;
	char *argv[] = {"ip", "netns", "pids", (char *)netns, NULL};

	if (hosts_run(argv, out, sizeof(out), NULL, 0))
		return;
	for (tok = strtok_r(out, "\n", &save); tok; tok = strtok_r(NULL, "\n", &save)) {
		pid_t pid = (pid_t)atoi(tok);

		if (pid > 1 && pid != getpid())
			hosts_pid_stop(pid, 2000);
	}
}

static bool is_mountpoint(const char *path)
{
	char parent[4200];
	struct stat a, b;

	snprintf(parent, sizeof(parent), "%s/..", path);
	return !stat(path, &a) && !stat(parent, &b) && a.st_dev != b.st_dev;
}

static void td_store(struct teardown *t, const struct vmt_hosts_sub *s)
{
	char sub_dir[4200], msg[4400];

	if (is_mountpoint(s->store)) {
		t->found = true;
		if (umount2(s->store, 0) && umount2(s->store, MNT_DETACH)) {
			snprintf(msg, sizeof(msg), "umount %s: %s", s->store, strerror(errno));
			td_fail(t, msg);
			return;
		}
	}
	if (!rmdir(s->store))
		t->found = true;
	vmt_strlcpy(sub_dir, s->store, sizeof(sub_dir));
	*strrchr(sub_dir, '/') = '\0';
	rmdir(sub_dir);
}

static void td_netns(struct teardown *t, const char *netns)
{
	char *argv[] = {"ip", "netns", "del", (char *)netns, NULL};

	if (!netns_exists(netns))
		return;
	t->found = true;
	td_netns_pids(netns);
	if (hosts_run_err(argv, NULL, 0))
		td_fail(t, vmt_last_error());
}

/* Remove everything h names, best effort; h->nr_sub may be VMT_HOSTS_SUB_MAX (probe all). */
static void hosts_teardown(const struct vmt_hosts *h, struct teardown *t)
{
	for (int k = 0; k < h->nr_sub; k++)
		td_exports(t, &h->sub[k]);
	for (int k = 0; k < h->nr_sub; k++) {
		td_netns(t, h->sub[k].netns);
		td_store(t, &h->sub[k]);
	}
	td_netns(t, h->mon.netns); /* named by the prefix: probed with or without a monitor */
	td_netns(t, h->main_netns);
}

static void state_files_remove(const char *dir)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/hosts.json", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/hosts.json.tmp", dir);
	unlink(path);
}

int vmt_hosts_down(const char *prefix)
{
	char p[VMT_HOSTS_PREFIX_MAX + 1], path[4200];
	struct vmt_hosts *h;
	struct teardown t = {.found = false};
	int ret, lock;

	ret = vmt_hosts_prefix(prefix, p);
	if (ret)
		return ret;
	if (geteuid())
		return vmt_error(-EPERM, "removing hosts needs root");
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	ret = hosts_state_dir(p, h->dir, sizeof(h->dir));
	if (ret)
		goto out;
	lock = access(h->dir, F_OK) ? -1 : hosts_lock(h->dir);
	/* Names derive from the prefix, so all 16 are probed, state or not. */
	hosts_layout(h, p, "10.77", VMT_HOSTS_SUB_MAX);
	hosts_teardown(h, &t);
	snprintf(path, sizeof(path), "%s/hosts.json", h->dir);
	if (!access(path, F_OK))
		t.found = true;
	state_files_remove(h->dir);
	snprintf(path, sizeof(path), "%s/lock", h->dir);
	unlink(path);
	hosts_unlock(lock);
	rmdir(h->dir);
	if (*t.failed)
		ret = vmt_error(-EBUSY, "could not remove: %s", t.failed);
	else if (!t.found)
		ret = vmt_error(-ENOENT, "no hosts of prefix '%s': nothing to do", p);
out:
	free(h);
	return ret;
}

/* ------------------------------------------------------------------ up */

static int up_opts(const struct vmt_hosts_up_opts *o, struct vmt_hosts *h)
{
	char p[VMT_HOSTS_PREFIX_MAX + 1];
	const char *subnet = o->subnet ? o->subnet : "10.77";
	unsigned a, b;
	uint64_t bps;
	char tail;
	int ret;

	if (o->sz < sizeof(*o))
		return vmt_error(-EINVAL, "hosts up: options struct too small");
	ret = vmt_hosts_prefix(o->prefix, p);
	if (ret)
		return ret;
	h->nr_sub = o->nr_sub ? o->nr_sub : 2;
	if (h->nr_sub < 1 || h->nr_sub > VMT_HOSTS_SUB_MAX)
		return vmt_error(-EINVAL, "sub-hosts: %d, want 1 to %d", o->nr_sub,
				 VMT_HOSTS_SUB_MAX);
	vmt_strlcpy(h->link, o->link ? o->link : VMT_HOSTS_DEFAULT_RATE, sizeof(h->link));
	if (strcmp(h->link, "none") && hosts_rate_parse(h->link, &bps))
		return vmt_error(-EINVAL,
				 "bad link rate '%s': a tc rate such as 1gbit, 100mbit, 50mbps, "
				 "or none",
				 h->link);
	h->capacity = o->capacity ? o->capacity : VMT_HOSTS_DEFAULT_CAP;
	h->monitor = o->monitor;
	if (h->capacity < (1 << 20))
		return vmt_error(-EINVAL, "capacity %llu is below 1 MiB",
				 (unsigned long long)h->capacity);
	if (sscanf(subnet, "%u.%u%c", &a, &b, &tail) != 2 || a > 255 || b > 255 ||
	    strlen(subnet) > 7)
		return vmt_error(-EINVAL, "bad subnet '%s': the first two octets, e.g. 10.77",
				 subnet);
	ret = hosts_state_dir(p, h->dir, sizeof(h->dir));
	if (!ret)
		hosts_layout(h, p, subnet, h->nr_sub);
	return ret;
}

/* Same hosts as asked?  0, or -EEXIST with every difference named. */
static int up_compare(const struct vmt_hosts *old, const struct vmt_hosts *want)
{
	char msg[512] = "";
	size_t n = 0;

	if (!old->complete)
		return vmt_error(-EEXIST,
				 "hosts of prefix '%s' are half made (an interrupted up); "
				 "run `vmt hosts down --prefix %s` first",
				 old->prefix, old->prefix);
	if (old->nr_sub != want->nr_sub)
		n += snprintf(msg + n, sizeof(msg) - n, "sub-hosts: %d up, %d asked; ", old->nr_sub,
			      want->nr_sub);
	if (strcmp(old->link, want->link))
		n += snprintf(msg + n, sizeof(msg) - n, "link: %s up, %s asked; ", old->link,
			      want->link);
	if (old->capacity != want->capacity)
		n +=
		    snprintf(msg + n, sizeof(msg) - n, "capacity: %llu up, %llu asked; ",
			     (unsigned long long)old->capacity, (unsigned long long)want->capacity);
	if (strcmp(old->subnet, want->subnet))
		n += snprintf(msg + n, sizeof(msg) - n, "subnet: %s up, %s asked; ", old->subnet,
			      want->subnet);
	if (old->monitor != want->monitor)
		n += snprintf(msg + n, sizeof(msg) - n, "monitor: %s up, %s asked; ",
			      old->monitor ? "one" : "none", want->monitor ? "one" : "none");
	if (!n)
		return 0;
	return vmt_error(-EEXIST, "%srun `vmt hosts down --prefix %s` first", msg, old->prefix);
}

/* Namespaces of this prefix without a state: made by someone else or a lost state. */
static int up_no_strays(const struct vmt_hosts *h)
{
	char name[32];

	if (netns_exists(h->main_netns))
		return vmt_error(-EEXIST,
				 "namespace %s exists but no state does: run "
				 "`vmt hosts down --prefix %s` first",
				 h->main_netns, h->prefix);
	if (netns_exists(h->mon.netns))
		return vmt_error(-EEXIST,
				 "namespace %s exists but no state does: run "
				 "`vmt hosts down --prefix %s` first",
				 h->mon.netns, h->prefix);
	for (int k = 1; k <= VMT_HOSTS_SUB_MAX; k++) {
		snprintf(name, sizeof(name), "%s-sub%d", h->prefix, k);
		if (netns_exists(name))
			return vmt_error(-EEXIST,
					 "namespace %s exists but no state does: run "
					 "`vmt hosts down --prefix %s` first",
					 name, h->prefix);
	}
	return 0;
}

static int up_make(struct vmt_hosts *h)
{
	struct teardown t = {.found = false};
	char why[512];
	int ret = hosts_state_save(h); /* the plan first: down can clean a killed up */

	if (!ret)
		ret = netns_make(h->main_netns);
	for (int k = 0; !ret && k < h->nr_sub; k++)
		ret = sub_make(h, &h->sub[k]);
	if (!ret && h->monitor)
		ret = mon_make(h);
	if (!ret)
		ret = hosts_routes(h);
	if (!ret) {
		h->complete = true;
		ret = hosts_state_save(h);
	}
	if (!ret)
		return 0;
	vmt_strlcpy(why, vmt_last_error(), sizeof(why));
	hosts_teardown(h, &t);
	state_files_remove(h->dir);
	return vmt_error(ret, "%s%s%s", why, *t.failed ? "; and could not undo: " : "", t.failed);
}

int vmt_hosts_up(const struct vmt_hosts_up_opts *o, struct vmt_hosts *out, bool *already)
{
	struct vmt_hosts *want = calloc(1, sizeof(*want)), *old = calloc(1, sizeof(*old));
	int ret, lock = -1;

	if (already)
		*already = false;
	if (!want || !old) {
		ret = -ENOMEM;
		goto out;
	}
	ret = up_opts(o, want);
	if (ret)
		goto out;
	if (geteuid()) {
		ret = vmt_error(-EPERM, "making hosts needs root (network namespaces, tc, mount)");
		goto out;
	}
	ret = hosts_mkdir_p(want->dir, 0755);
	if (ret) {
		ret = vmt_error(ret, "cannot make %s: %s", want->dir, strerror(-ret));
		goto out;
	}
	lock = hosts_lock(want->dir);
	if (lock < 0) {
		ret = lock;
		goto out;
	}
	ret = hosts_state_load_dir(want->prefix, want->dir, old);
	if (!ret) {
		ret = up_compare(old, want);
		if (!ret && already)
			*already = true;
		if (!ret && out)
			*out = *old;
		goto out;
	}
	if (ret != -ENOENT)
		goto out;
	ret = up_no_strays(want);
	if (!ret)
		ret = up_make(want);
	if (!ret && out)
		*out = *want;
out:
	hosts_unlock(lock);
	free(want);
	free(old);
	return ret;
}
