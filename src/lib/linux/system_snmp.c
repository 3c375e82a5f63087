// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * system_snmp.c - /proc/net/snmp and /proc/net/netstat of the initial net
 * namespace, as net/ipv4/proc.c (snmp_seq_show, netstat_seq_show) and
 * net/mptcp/mib.c of 6.1 print them: the counter names come from the
 * kernel's own tables in its image (snmp4_ipstats_list, icmpmibmap,
 * snmp4_tcp_list, snmp4_udp_list, snmp4_net_list, snmp4_ipextstats_list,
 * mptcp_snmp_list: {name, entry} pairs ending in a NULL name), the values
 * are the per-CPU MIBs of init_net summed over the possible CPUs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linux/system.h"

#define SNMP_MAX_ROWS 512 /* per table; 6.1's longest (TcpExt) has about 130 */
#define ICMPMSG_MAX   512 /* ICMPMSG_MIB_MAX: In (type) and Out (0x100 | type) */
#define ICMPMSG_LINE  16  /* counters per IcmpMsg line pair */

struct snmp_walk {
	struct vmt_guest *g;
	struct vmt_snmp *s;
	struct sys_cpus cpus;
	uint64_t net;
	uint32_t name, entry, entry_size; /* struct snmp_mib */
};

static struct vmt_snmp_group *snmp_group(struct snmp_walk *w, const char *prefix, int file)
{
	struct vmt_snmp_group *grp;

	if (w->s->ngroups == VMT_SNMP_MAX_GROUPS)
		return NULL;
	grp = &w->s->groups[w->s->ngroups++];
	memset(grp, 0, sizeof(*grp));
	vmt_strlcpy(grp->prefix, prefix, sizeof(grp->prefix));
	grp->file = file;
	grp->rows = calloc(SNMP_MAX_ROWS, sizeof(*grp->rows));
	return grp->rows ? grp : NULL;
}

static struct vmt_snmp_row *snmp_row(struct vmt_snmp_group *grp, const char *pfx, const char *name)
{
	struct vmt_snmp_row *r;

	if (grp->n == SNMP_MAX_ROWS)
		return NULL;
	r = &grp->rows[grp->n++];
	snprintf(r->name, sizeof(r->name), "%s%s", pfx, name);
	return r;
}

/* A per-CPU MIB's element e summed over the possible CPUs (snmp_fold_field). */
static uint64_t snmp_fold(struct snmp_walk *w, uint64_t pcpu, uint32_t e, bool *bad)
{
	uint64_t sum = 0, base, v;

	if (!pcpu)
		return 0;
	for (uint32_t cpu = 0; cpu < w->cpus.nr_ids; cpu++) {
		if (!sys_cpu_in(w->cpus.possible, cpu))
			continue;
		if (sys_percpu_base(w->g, cpu, &base) ||
		    vmt_kread_u64(w->g, pcpu + base + 8ull * e, &v))
			*bad = true;
		else
			sum += v;
	}
	return sum;
}

/* The __percpu MIB pointer at init_net + the field's offset (0 if absent). */
static uint64_t snmp_mib(struct snmp_walk *w, const char *field)
{
	uint64_t p = 0;
	uint32_t off;

	if (vmt_profile_field(w->g->prof, "net", field, &off) ||
	    vmt_kread_u64(w->g, w->net + off, &p))
		w->s->flags |= VMT_F_PARTIAL;
	return p;
}

/*
 * Append one row per entry of the {name, entry} table at symbol list, its
 * value the MIB's element (pcpu: summed per CPU).  -ENOENT if no table.
 */
static int snmp_table(struct snmp_walk *w, struct vmt_snmp_group *grp, const char *list,
		      const char *pfx, uint64_t pcpu)
{
	uint64_t va;
	bool bad = false;

	if (vmt_ksym(w->g, list, &va))
		return -ENOENT;
	for (uint32_t i = 0; i < SNMP_MAX_ROWS; i++) {
		uint64_t e = va + (uint64_t)i * w->entry_size, np;
		struct vmt_snmp_row *r;
		char name[40];
		int32_t entry;

		if (vmt_kread_u64(w->g, e + w->name, &np) ||
		    vmt_kread(w->g, e + w->entry, &entry, 4))
			return -EFAULT;
		if (!np)
			break;
		if (!vmt_kptr_ok(np) || vmt_kread_str(w->g, np, name, sizeof(name)) || entry < 0 ||
		    entry > 4096 || !(r = snmp_row(grp, pfx, name)))
			return -EBADMSG;
		r->entry = entry;
		r->value = snmp_fold(w, pcpu, (uint32_t)entry, &bad);
	}
	if (bad)
		w->s->flags |= VMT_F_PARTIAL;
	return 0;
}

static int64_t snmp_enum(struct snmp_walk *w, const char *name)
{
	int64_t v;

	return vmt_profile_enum(w->g->prof, NULL, name, &v) ? -1 : v;
}

/* Ip: Forwarding DefaultTTL and snmp4_ipstats_list. */
static int snmp_ip(struct snmp_walk *w)
{
	struct vmt_snmp_group *grp = snmp_group(w, "Ip", 0);
	uint64_t devconf;
	uint32_t off, data;
	int32_t fwd = 0;
	uint8_t ttl = 0;
	int64_t idx = snmp_enum(w, "IPV4_DEVCONF_FORWARDING");
	struct vmt_snmp_row *r;

	if (!grp)
		return -ENOMEM;
	if (vmt_profile_field(w->g->prof, "net", "ipv4.devconf_all", &off) ||
	    vmt_kread_u64(w->g, w->net + off, &devconf) || !vmt_kptr_ok(devconf) ||
	    vmt_profile_field(w->g->prof, "ipv4_devconf", "data", &data) || idx < 1 ||
	    vmt_kread(w->g, devconf + data + 4 * (uint64_t)(idx - 1), &fwd, 4))
		w->s->flags |= VMT_F_PARTIAL;
	if (vmt_profile_field(w->g->prof, "net", "ipv4.sysctl_ip_default_ttl", &off) ||
	    vmt_kread(w->g, w->net + off, &ttl, 1))
		w->s->flags |= VMT_F_PARTIAL;
	r = snmp_row(grp, "", "Forwarding");
	r->value = fwd ? 1 : 2;
	r = snmp_row(grp, "", "DefaultTTL");
	r->value = ttl;
	return snmp_table(w, grp, "snmp4_ipstats_list", "", snmp_mib(w, "mib.ip_statistics"));
}

/* icmp_put(): fixed counters, then icmpmibmap's types In, fixed, Out. */
static int snmp_icmp(struct snmp_walk *w, const uint64_t *msg)
{
	static const char *const in[] = {"InMsgs", "InErrors", "InCsumErrors"};
	static const char *const in_e[] = {"ICMP_MIB_INMSGS", "ICMP_MIB_INERRORS",
					   "ICMP_MIB_CSUMERRORS"};
	static const char *const out[] = {"OutMsgs", "OutErrors", "OutRateLimitGlobal",
					  "OutRateLimitHost"};
	static const char *const out_e[] = {"ICMP_MIB_OUTMSGS", "ICMP_MIB_OUTERRORS",
					    "ICMP_MIB_RATELIMITGLOBAL", "ICMP_MIB_RATELIMITHOST"};
	struct vmt_snmp_group *grp = snmp_group(w, "Icmp", 0), tmp = {0};
	uint64_t icmp = snmp_mib(w, "mib.icmp_statistics");
	bool bad = false;
	size_t nmap;
	int err;

	if (!grp || !(tmp.rows = calloc(SNMP_MAX_ROWS, sizeof(*tmp.rows))))
		return -ENOMEM;
	err = snmp_table(w, &tmp, "icmpmibmap", "", 0); /* names and ICMP types only */
	nmap = tmp.n;
	for (int pass = 0; !err && pass < 2; pass++) {
		size_t nfixed = pass ? ARRAY_SIZE(out) : ARRAY_SIZE(in);

		for (size_t i = 0; i < nfixed; i++) {
			int64_t e = snmp_enum(w, pass ? out_e[i] : in_e[i]);
			struct vmt_snmp_row *r;

			if (e < 0)
				continue; /* OutRateLimit* are 6.2+ (and some 6.1.y) */
			r = snmp_row(grp, "", pass ? out[i] : in[i]);
			r->value = snmp_fold(w, icmp, (uint32_t)e, &bad);
		}
		for (size_t i = 0; i < nmap; i++) {
			struct vmt_snmp_row *r =
			    snmp_row(grp, pass ? "Out" : "In", tmp.rows[i].name);
			uint32_t type = (uint32_t)tmp.rows[i].entry & 0xff;

			r->value = msg[pass ? (0x100 | type) : type];
		}
	}
	free(tmp.rows);
	if (bad)
		w->s->flags |= VMT_F_PARTIAL;
	return err;
}

/* icmpmsg_put(): the non-zero per-type counters, 16 to a line pair. */
static int snmp_icmpmsg(struct snmp_walk *w, const uint64_t *msg)
{
	struct vmt_snmp_group *grp = NULL;

	for (uint32_t i = 0; i < ICMPMSG_MAX; i++) {
		struct vmt_snmp_row *r;
		char name[24];

		if (!msg[i])
			continue;
		if (!grp || grp->n == ICMPMSG_LINE)
			grp = snmp_group(w, "IcmpMsg", 0);
		if (!grp)
			return -ENOMEM;
		snprintf(name, sizeof(name), "%sType%u", i & 0x100 ? "Out" : "In", i & 0xff);
		r = snmp_row(grp, "", name);
		r->value = msg[i];
	}
	return 0;
}

static int snmp_all(struct snmp_walk *w)
{
	uint64_t *msg = calloc(ICMPMSG_MAX, sizeof(*msg)),
		 p = snmp_mib(w, "mib.icmpmsg_statistics");
	struct vmt_snmp_group *grp;
	int err;

	if (!msg)
		return -ENOMEM;
	if (p && (!vmt_kptr_ok(p) || vmt_kread(w->g, p, msg, ICMPMSG_MAX * 8)))
		w->s->flags |= VMT_F_PARTIAL;
	err = snmp_ip(w);
	if (!err)
		err = snmp_icmp(w, msg);
	if (!err)
		err = snmp_icmpmsg(w, msg);
	free(msg);
	if (!err)
		err = (grp = snmp_group(w, "Tcp", 0))
			  ? snmp_table(w, grp, "snmp4_tcp_list", "",
				       snmp_mib(w, "mib.tcp_statistics"))
			  : -ENOMEM;
	if (!err && grp)
		for (size_t i = 0; i < grp->n; i++)
			grp->rows[i].is_signed =
			    grp->rows[i].entry == snmp_enum(w, "TCP_MIB_MAXCONN");
	if (!err)
		err = (grp = snmp_group(w, "Udp", 0))
			  ? snmp_table(w, grp, "snmp4_udp_list", "",
				       snmp_mib(w, "mib.udp_statistics"))
			  : -ENOMEM;
	if (!err)
		err = (grp = snmp_group(w, "UdpLite", 0))
			  ? snmp_table(w, grp, "snmp4_udp_list", "",
				       snmp_mib(w, "mib.udplite_statistics"))
			  : -ENOMEM;
	if (!err)
		err = (grp = snmp_group(w, "TcpExt", 1))
			  ? snmp_table(w, grp, "snmp4_net_list", "",
				       snmp_mib(w, "mib.net_statistics"))
			  : -ENOMEM;
	if (!err)
		err = (grp = snmp_group(w, "IpExt", 1))
			  ? snmp_table(w, grp, "snmp4_ipextstats_list", "",
				       snmp_mib(w, "mib.ip_statistics"))
			  : -ENOMEM;
	if (!err && (grp = snmp_group(w, "MPTcpExt", 1)) &&
	    snmp_table(w, grp, "mptcp_snmp_list", "", snmp_mib(w, "mib.mptcp_statistics")) ==
		-ENOENT) {
		free(grp->rows); /* no MPTCP in this kernel: no line */
		w->s->ngroups--;
	}
	return err;
}

int vmt_net_snmp(struct vmt_guest *g, struct vmt_snmp **out)
{
	struct snmp_walk w = {.g = g};
	int err;

	*out = NULL;
	err = vmt_profile_field(g->prof, "snmp_mib", "name", &w.name);
	if (!err)
		err = vmt_profile_field(g->prof, "snmp_mib", "entry", &w.entry);
	if (!err)
		err = vmt_profile_struct_size(g->prof, "snmp_mib", &w.entry_size);
	if (!err)
		err = vmt_ksym(g, "init_net", &w.net);
	if (!err)
		err = sys_cpus_read(g, &w.cpus);
	if (err)
		return vmt_error(err, "SNMP tables of init_net not found");
	w.s = calloc(1, sizeof(*w.s));
	if (!w.s)
		return -ENOMEM;
	err = snmp_all(&w);
	if (err == -ENOMEM) {
		vmt_snmp_free(w.s);
		return err;
	}
	if (err) {
		w.s->flags |= VMT_F_PARTIAL;
		vmt_error(err, "an SNMP name table is unreadable");
	}
	*out = w.s;
	return 0;
}

void vmt_snmp_free(struct vmt_snmp *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->ngroups; i++)
		free(s->groups[i].rows);
	free(s);
}
