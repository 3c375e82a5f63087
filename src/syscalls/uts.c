// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * uts.c - uname(2) and sysinfo(2) of the guest, from the files of the same
 * snapshot (so `uname -r` and /proc/sys/kernel/osrelease agree):
 *   uname: sysname, nodename, release, version, domainname from
 *     /proc/sys/kernel/{ostype,hostname,osrelease,version,domainname};
 *     machine from the snapshot's system info (utsname()->machine).
 *   sysinfo: uptime from /proc/uptime; loads from /proc/loadavg (its two
 *     decimals scaled to 1 << SI_LOAD_SHIFT: the kernel's value to within
 *     0.01); procs from loadavg's fourth field (nr_threads, as the kernel);
 *     totalram, freeram, sharedram (Shmem), bufferram (Buffers),
 *     totalswap, freeswap from /proc/meminfo, in bytes with mem_unit 1;
 *     totalhigh and freehigh 0 (x86_64 has no high memory).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>

#include "syscalls/sc_internal.h"

#define SI_LOAD_SHIFT 16

/* One line of /proc/sys/kernel, without its newline, into a 65-byte field. */
static int uts_field(struct sc_call *c, const char *path, char *out, size_t cap)
{
	char buf[256];
	int err = sc_sys_text(c, path, buf, sizeof(buf));

	if (err)
		return err;
	size_t len = strcspn(buf, "\n");

	len = len < cap - 1 ? len : cap - 1; /* utsname fields hold 64 characters */
	memcpy(out, buf, len);
	out[len] = '\0';
	return 0;
}

long sc_uname(struct sc_call *c)
{
	struct utsname u;
	int err;

	memset(&u, 0, sizeof(u));
	if (!c->snap)
		return -EIO;
	err = uts_field(c, "sys/kernel/ostype", u.sysname, sizeof(u.sysname));
	if (!err)
		err = uts_field(c, "sys/kernel/hostname", u.nodename, sizeof(u.nodename));
	if (!err)
		err = uts_field(c, "sys/kernel/osrelease", u.release, sizeof(u.release));
	if (!err)
		err = uts_field(c, "sys/kernel/version", u.version, sizeof(u.version));
	if (err)
		return -EIO; /* the snapshot could not read the guest's utsname */
	snprintf(u.machine, sizeof(u.machine), "%s", c->snap->si.machine);
	if (uts_field(c, "sys/kernel/domainname", u.domainname, sizeof(u.domainname)))
		snprintf(u.domainname, sizeof(u.domainname), "(none)");
	err = c->mem.write(&c->mem, c->n->data.args[0], &u, sizeof(u));
	return err == -ESRCH ? -ESRCH : err ? -EFAULT : 0;
}

/* "Key:   N kB" of meminfo, in bytes (0 if absent). */
static unsigned long meminfo_bytes(const char *text, const char *key)
{
	const char *p = strstr(text, key);

	return p ? strtoul(p + strlen(key), NULL, 10) * 1024ul : 0;
}

/* "0.52" -> 0.52 << SI_LOAD_SHIFT, from the decimal text (no floating point). */
static unsigned long load_fixed(const char **s)
{
	char *end;
	unsigned long ip = strtoul(*s, &end, 10), frac = 0;

	if (*end == '.') {
		frac = strtoul(end + 1, &end, 10); /* two digits, as fs/proc/loadavg.c prints */
	}
	*s = end;
	return (ip << SI_LOAD_SHIFT) + frac * (1ul << SI_LOAD_SHIFT) / 100;
}

static int sysinfo_fill(struct sc_call *c, struct sysinfo *si)
{
	char up[128], load[128], mem[4096];
	const char *s = load, *slash;
	int err;

	err = sc_sys_text(c, "uptime", up, sizeof(up));
	if (!err)
		err = sc_sys_text(c, "loadavg", load, sizeof(load));
	if (!err)
		err = sc_sys_text(c, "meminfo", mem, sizeof(mem));
	if (err)
		return -EIO;
	si->uptime = strtol(up, NULL, 10);
	for (int i = 0; i < 3; i++)
		si->loads[i] = load_fixed(&s);
	slash = strchr(s, '/');
	si->procs = slash ? (unsigned short)strtoul(slash + 1, NULL, 10) : 0;
	si->totalram = meminfo_bytes(mem, "MemTotal:");
	si->freeram = meminfo_bytes(mem, "MemFree:");
	si->sharedram = meminfo_bytes(mem, "Shmem:");
	si->bufferram = meminfo_bytes(mem, "Buffers:");
	si->totalswap = meminfo_bytes(mem, "SwapTotal:");
	si->freeswap = meminfo_bytes(mem, "SwapFree:");
	si->mem_unit = 1;
	return 0;
}

long sc_sysinfo(struct sc_call *c)
{
	struct sysinfo si;
	int err;

	memset(&si, 0, sizeof(si));
	if (!c->snap)
		return -EIO;
	err = sysinfo_fill(c, &si);
	if (err)
		return err;
	err = c->mem.write(&c->mem, c->n->data.args[0], &si, sizeof(si));
	return err == -ESRCH ? -ESRCH : err ? -EFAULT : 0;
}
