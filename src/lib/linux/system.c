// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * system.c - /proc/stat and /proc/loadavg of a guest, computed the way
 * Linux 6.1's fs/proc/stat.c and loadavg.c compute them:
 *
 *   cpu lines   kernel_cpustat per CPU (per-CPU area at __per_cpu_offset);
 *               idle and iowait from tick_cpu_sched when NO_HZ is active
 *               (get_idle_time(): idle_sleeptime, plus the time since
 *               idle_entrytime while the CPU sits idle), else cpustat
 *   intr        kstat.irqs_sum + arch_irq_stat_cpu() per CPU +
 *               arch_irq_stat(); then each irq's count (irq_desc_tree)
 *   ctxt        sum of runqueues.nr_switches (possible CPUs)
 *   processes   total_forks
 *   procs_*     sum of rq->nr_running (online) / rq->nr_iowait (possible)
 *   softirq     kstat.softirqs[] per CPU
 *   loadavg     avenrun[], nr_running(), nr_threads, init_pid_ns.idr's
 *               cursor - 1
 * "Now" for an idle CPU is the guest's boot-based clock as of its last
 * timekeeping update (vmt_sysinfo()), so an idle CPU's idle time may lag
 * its own /proc/stat by up to a tick or a NO_HZ sleep.
 */
#include <stdlib.h>
#include <string.h>

#include "linux/system.h"

#define SYS_MAX_IRQS  (1u << 16) /* nr_irqs is NR_IRQS-bounded, far below */
#define NSEC_PER_USEC 1000ull

/* ------------------------------------------------------------- helpers */

int sys_sym_s32(struct vmt_guest *g, const char *name, int32_t *v)
{
	uint64_t va;
	int err = vmt_ksym(g, name, &va);

	return err ? err : vmt_kread(g, va, v, sizeof(*v));
}

int sys_sym_u64(struct vmt_guest *g, const char *name, uint64_t *v)
{
	uint64_t va;
	int err = vmt_ksym(g, name, &va);

	return err ? err : vmt_kread_u64(g, va, v);
}

int sys_percpu_sym(struct vmt_guest *g, const char *name, uint64_t *off)
{
	uint64_t link;
	int err = vmt_profile_symbol(g->prof, name, &link);

	if (err)
		return err;
	*off = vmt_kptr_ok(link) ? link + g->ki.virt_slide : link;
	return 0;
}

int sys_percpu_base(struct vmt_guest *g, uint32_t cpu, uint64_t *base)
{
	uint64_t arr;
	int err = vmt_ksym(g, "__per_cpu_offset", &arr);

	if (!err)
		err = vmt_kread_u64(g, arr + 8ull * cpu, base);
	return err;
}

static int sys_read_mask(struct vmt_guest *g, const char *name, uint32_t nr_ids, uint64_t *mask)
{
	uint64_t va;
	int err = vmt_ksym(g, name, &va);

	if (!err)
		err = vmt_kread(g, va, mask, (nr_ids + 63) / 64 * 8);
	return err;
}

int sys_cpus_read(struct vmt_guest *g, struct sys_cpus *c)
{
	int32_t ids;
	int err;

	memset(c, 0, sizeof(*c));
	err = sys_sym_s32(g, "nr_cpu_ids", &ids);
	if (err)
		return vmt_error(err, "nr_cpu_ids unreadable");
	if (ids <= 0)
		return vmt_error(-EBADMSG, "nr_cpu_ids is %d", ids);
	c->nr_ids = VMT_MIN((uint32_t)ids, SYS_MAX_CPUS);
	err = sys_read_mask(g, "__cpu_possible_mask", c->nr_ids, c->possible);
	if (!err)
		err = sys_read_mask(g, "__cpu_online_mask", c->nr_ids, c->online);
	if (err)
		return vmt_error(err, "CPU masks unreadable");
	/* Bits past nr_cpu_ids are not CPUs. */
	if (c->nr_ids % 64) {
		c->possible[c->nr_ids / 64] &= (1ull << (c->nr_ids % 64)) - 1;
		c->online[c->nr_ids / 64] &= (1ull << (c->nr_ids % 64)) - 1;
	}
	return 0;
}

/* ------------------------------------------------------------- offsets */

struct stat_offsets {
	uint32_t cpustat, irqs_sum, softirqs, softirqs_size;
	uint32_t rq_nr_running, rq_nr_switches, rq_nr_iowait;
	uint32_t ts_idle_sleeptime, ts_iowait_sleeptime, ts_idle_entrytime, rq_curr, rq_idle;
	uint32_t desc_kstat_irqs, desc_tot_count, desc_status, desc_istate;
	uint32_t irqstat_cnt; /* 6.10+: kstat_irqs points to struct irqstat, not a u32 */
	int64_t cputime[VMT_CPU_NR_TIMES]; /* index into cpustat[] per column, -1: none */
	/* arch_irq_stat_cpu(): irq_cpustat_t members it adds (UINT32_MAX: absent) */
	uint32_t irq_stat_fields[16];
	uint32_t irq_platform_ipis;
	uint64_t kernel_cpustat, kstat, runqueues, tick_cpu_sched, irq_stat;
	uint64_t mce_exception_count, mce_poll_count; /* UINT64_MAX: not in this kernel */
};

static const char *const stat_cputime_enum[VMT_CPU_NR_TIMES] = {
    "CPUTIME_USER", "CPUTIME_NICE",    "CPUTIME_SYSTEM", "CPUTIME_IDLE",  "CPUTIME_IOWAIT",
    "CPUTIME_IRQ",  "CPUTIME_SOFTIRQ", "CPUTIME_STEAL",	 "CPUTIME_GUEST", "CPUTIME_GUEST_NICE",
};

/* arch/x86/kernel/irq.c arch_irq_stat_cpu() of 6.1, x86_platform_ipis aside. */
static const char *const stat_irq_fields[] = {
    "__nmi_count",	    "apic_timer_irqs",	     "irq_spurious_count",
    "apic_perf_irqs",	    "apic_irq_work_irqs",    "icr_read_retry_count",
    "irq_resched_count",    "irq_call_count",	     "irq_thermal_count",
    "irq_threshold_count",  "irq_hv_callback_count", "irq_hv_reenlightenment_count",
    "hyperv_stimer0_count",
};

static int stat_offsets_resolve(struct vmt_guest *g, struct stat_offsets *o)
{
	/* clang-format off */
	const struct vmt_field_req req[] = {
		VMT_FIELD("kernel_cpustat", "cpustat", cpustat),
		VMT_FIELD("kernel_stat", "irqs_sum", irqs_sum),
		VMT_FIELD("kernel_stat", "softirqs", softirqs),
		VMT_FIELD("rq", "nr_running", rq_nr_running),
		VMT_FIELD("rq", "nr_switches", rq_nr_switches),
		VMT_FIELD("rq", "nr_iowait", rq_nr_iowait),
		VMT_FIELD_OPT("tick_sched", "idle_sleeptime", ts_idle_sleeptime),
		VMT_FIELD_OPT("tick_sched", "iowait_sleeptime", ts_iowait_sleeptime),
		VMT_FIELD_OPT("tick_sched", "idle_entrytime", ts_idle_entrytime),
		VMT_FIELD_OPT("rq", "curr", rq_curr),
		VMT_FIELD_OPT("rq", "idle", rq_idle),
		VMT_FIELD_OPT("irq_desc", "kstat_irqs", desc_kstat_irqs),
		VMT_FIELD_OPT("irq_desc", "tot_count", desc_tot_count),
		VMT_FIELD_OPT("irqstat", "cnt", irqstat_cnt),
		VMT_FIELD_OPT("irq_desc", "status_use_accessors", desc_status),
		VMT_FIELD_OPT("irq_desc", "core_internal_state__do_not_mess_with_it", desc_istate),
		VMT_FIELD_OPT("irq_cpustat_t", "x86_platform_ipis", irq_platform_ipis),
	};
	/* clang-format on */
	uint32_t off;
	int err;

	VMT_OFFSETS_ABSENT(o);
	err = vmt_resolve_fields(g, req, ARRAY_SIZE(req));
	if (err)
		return err;
	if (vmt_profile_field2(g->prof, "kernel_stat", "softirqs", &off, &o->softirqs_size))
		o->softirqs_size = 0;
	for (size_t i = 0; i < VMT_CPU_NR_TIMES; i++)
		if (vmt_profile_enum(g->prof, "cpu_usage_stat", stat_cputime_enum[i],
				     &o->cputime[i]) ||
		    o->cputime[i] < 0 || o->cputime[i] >= 16)
			o->cputime[i] = -1;
	for (size_t i = 0; i < ARRAY_SIZE(stat_irq_fields); i++)
		if (vmt_profile_field(g->prof, "irq_cpustat_t", stat_irq_fields[i],
				      &o->irq_stat_fields[i]))
			o->irq_stat_fields[i] = UINT32_MAX;
	for (size_t i = ARRAY_SIZE(stat_irq_fields); i < ARRAY_SIZE(o->irq_stat_fields); i++)
		o->irq_stat_fields[i] = UINT32_MAX;
	err = sys_percpu_sym(g, "kernel_cpustat", &o->kernel_cpustat);
	if (!err)
		err = sys_percpu_sym(g, "kstat", &o->kstat);
	if (!err)
		err = sys_percpu_sym(g, "runqueues", &o->runqueues);
	if (err)
		return vmt_error(err, "per-CPU kernel_cpustat, kstat or runqueues not found");
	if (sys_percpu_sym(g, "tick_cpu_sched", &o->tick_cpu_sched))
		o->tick_cpu_sched = UINT64_MAX;
	if (sys_percpu_sym(g, "irq_stat", &o->irq_stat))
		o->irq_stat = UINT64_MAX;
	if (sys_percpu_sym(g, "mce_exception_count", &o->mce_exception_count))
		o->mce_exception_count = UINT64_MAX;
	if (sys_percpu_sym(g, "mce_poll_count", &o->mce_poll_count))
		o->mce_poll_count = UINT64_MAX;
	return 0;
}

/* ------------------------------------------------------------ per CPU */

struct stat_walk {
	struct vmt_guest *g;
	struct stat_offsets o;
	struct sys_cpus cpus;
	bool nohz;	   /* tick_nohz_active */
	bool platform_ipi; /* x86_platform_ipi_callback set */
	uint64_t now_ns;   /* ktime_get() as of the last timekeeping update */
	struct vmt_cpu_stat *s;
};

static uint64_t stat_u32_at(struct vmt_guest *g, uint64_t va, bool *bad)
{
	uint32_t v = 0;

	if (vmt_kread_u32(g, va, &v))
		*bad = true;
	return v;
}

/* arch_irq_stat_cpu(). */
static uint64_t stat_arch_irqs(struct stat_walk *w, uint64_t base, bool *bad)
{
	const struct stat_offsets *o = &w->o;
	uint8_t buf[512];
	uint64_t sum = 0;
	uint32_t v;

	if (o->irq_stat != UINT64_MAX) {
		if (vmt_kread(w->g, base + o->irq_stat, buf, sizeof(buf))) {
			*bad = true;
			return 0;
		}
		for (size_t i = 0; i < ARRAY_SIZE(o->irq_stat_fields); i++) {
			if (o->irq_stat_fields[i] > sizeof(buf) - 4)
				continue;
			memcpy(&v, buf + o->irq_stat_fields[i], 4);
			sum += v;
		}
		if (w->platform_ipi && o->irq_platform_ipis <= sizeof(buf) - 4) {
			memcpy(&v, buf + o->irq_platform_ipis, 4);
			sum += v;
		}
	}
	if (o->mce_exception_count != UINT64_MAX)
		sum += stat_u32_at(w->g, base + o->mce_exception_count, bad);
	if (o->mce_poll_count != UINT64_MAX)
		sum += stat_u32_at(w->g, base + o->mce_poll_count, bad);
	return sum;
}

/*
 * get_idle_time() / get_iowait_time(): with NO_HZ active, an online CPU's
 * idle and iowait come from its tick_sched (microseconds, as
 * get_cpu_idle_time_us() rounds them), else from cpustat.  While the CPU
 * sits idle the kernel adds the time since idle_entrytime; it knows that
 * from tick_sched.idle_active, a bitfield, which is read here as "the
 * runqueue runs its idle task" (no BTF bitfield parse on this path).
 */
static void stat_nohz_times(struct stat_walk *w, uint32_t cpu, uint64_t base, uint32_t iowait,
			    struct vmt_cpu_times *t, bool *bad)
{
	const struct stat_offsets *o = &w->o;
	uint64_t ts = base + o->tick_cpu_sched, rq = base + o->runqueues, idle, io, entry;
	uint64_t curr = 0, idle_task = 1, delta = 0;

	if (!w->nohz || !sys_cpu_in(w->cpus.online, cpu) || o->tick_cpu_sched == UINT64_MAX ||
	    o->ts_idle_sleeptime == UINT32_MAX || o->ts_iowait_sleeptime == UINT32_MAX ||
	    o->ts_idle_entrytime == UINT32_MAX)
		return;
	if (vmt_kread_u64(w->g, ts + o->ts_idle_sleeptime, &idle) ||
	    vmt_kread_u64(w->g, ts + o->ts_iowait_sleeptime, &io) ||
	    vmt_kread_u64(w->g, ts + o->ts_idle_entrytime, &entry)) {
		*bad = true;
		return;
	}
	if (o->rq_curr != UINT32_MAX && o->rq_idle != UINT32_MAX &&
	    (vmt_kread_u64(w->g, rq + o->rq_curr, &curr) ||
	     vmt_kread_u64(w->g, rq + o->rq_idle, &idle_task)))
		*bad = true;
	if (curr && curr == idle_task && w->now_ns > entry && (int64_t)entry > 0)
		delta = w->now_ns - entry;
	if (!iowait)
		idle += delta;
	else
		io += delta;
	t->ns[VMT_CPU_IDLE] = idle / NSEC_PER_USEC * NSEC_PER_USEC;
	t->ns[VMT_CPU_IOWAIT] = io / NSEC_PER_USEC * NSEC_PER_USEC;
}

static void stat_one_cpu(struct stat_walk *w, uint32_t cpu)
{
	const struct stat_offsets *o = &w->o;
	struct vmt_cpu_stat *s = w->s;
	struct vmt_cpu_times t = {.cpu = cpu};
	uint64_t base, cs[16], irqs_sum = 0, sw = 0;
	uint32_t softirqs[VMT_NR_SOFTIRQS] = {0}, nr_running = 0, iowait = 0;
	bool bad = false;

	if (sys_percpu_base(w->g, cpu, &base) ||
	    vmt_kread(w->g, base + o->kernel_cpustat + o->cpustat, cs, sizeof(cs))) {
		s->flags |= VMT_F_PARTIAL;
		return;
	}
	for (size_t i = 0; i < VMT_CPU_NR_TIMES; i++)
		t.ns[i] = o->cputime[i] < 0 ? 0 : cs[o->cputime[i]];
	if (vmt_kread_u64(w->g, base + o->kstat + o->irqs_sum, &irqs_sum) ||
	    vmt_kread(w->g, base + o->kstat + o->softirqs, softirqs,
		      VMT_MIN(sizeof(softirqs), o->softirqs_size)) ||
	    vmt_kread_u64(w->g, base + o->runqueues + o->rq_nr_switches, &sw) ||
	    vmt_kread_u32(w->g, base + o->runqueues + o->rq_nr_running, &nr_running) ||
	    vmt_kread_u32(w->g, base + o->runqueues + o->rq_nr_iowait, &iowait))
		bad = true;
	stat_nohz_times(w, cpu, base, iowait, &t, &bad);
	for (size_t i = 0; i < VMT_CPU_NR_TIMES; i++)
		s->total.ns[i] += t.ns[i];
	s->intr_total += irqs_sum + stat_arch_irqs(w, base, &bad);
	s->possible[s->nr_possible].cpu = cpu;
	memcpy(s->possible[s->nr_possible++].n, softirqs, sizeof(softirqs));
	for (size_t i = 0; i < VMT_NR_SOFTIRQS; i++) {
		s->softirqs[i] += softirqs[i];
		s->softirq_total += softirqs[i];
	}
	s->ctxt += sw;
	s->procs_blocked += iowait;
	if (sys_cpu_in(w->cpus.online, cpu)) {
		s->procs_running += nr_running;
		t.flags = bad ? VMT_F_PARTIAL : 0;
		s->cpus[s->nr_cpus++] = t;
	}
	if (bad)
		s->flags |= VMT_F_PARTIAL;
}

/*
 * Every possible CPU's per-CPU counters in one hint: on a split VM the
 * per-CPU areas may live on sub-hosts, and the walk reads them CPU by CPU.
 */
static void stat_prefetch(struct stat_walk *w)
{
	const struct stat_offsets *o = &w->o;
	struct vmt_krange r[64 * 6];
	size_t n = 0;
	uint64_t base;

	for (uint32_t cpu = 0; cpu < w->cpus.nr_ids && n + 6 <= ARRAY_SIZE(r); cpu++) {
		if (!sys_cpu_in(w->cpus.possible, cpu) || sys_percpu_base(w->g, cpu, &base))
			continue;
		r[n++] = (struct vmt_krange){base + o->kernel_cpustat + o->cpustat, 128};
		r[n++] = (struct vmt_krange){base + o->kstat, 64};
		r[n++] = (struct vmt_krange){base + o->runqueues + o->rq_nr_running, 8};
		r[n++] = (struct vmt_krange){base + o->runqueues + o->rq_nr_switches, 8};
		r[n++] = (struct vmt_krange){base + o->runqueues + o->rq_nr_iowait, 8};
		if (o->irq_stat != UINT64_MAX)
			r[n++] = (struct vmt_krange){base + o->irq_stat, 512};
	}
	vmt_kprefetch(w->g, r, n);
}

/* ---------------------------------------------------------- irq counts */

/* kstat_irqs(): tot_count, or the per-CPU counts of per-CPU and NMI irqs. */
static uint64_t irq_desc_count(struct stat_walk *w, uint64_t desc, bool *bad)
{
	const struct stat_offsets *o = &w->o;
	uint64_t kstat_irqs, sum = 0, base;
	uint32_t status = 0, istate = 0;

	if (o->desc_kstat_irqs == UINT32_MAX || o->desc_tot_count == UINT32_MAX)
		return 0;
	if (vmt_kread_u64(w->g, desc + o->desc_kstat_irqs, &kstat_irqs)) {
		*bad = true;
		return 0;
	}
	if (!kstat_irqs)
		return 0;
	if (o->desc_status != UINT32_MAX)
		vmt_kread_u32(w->g, desc + o->desc_status, &status);
	if (o->desc_istate != UINT32_MAX)
		vmt_kread_u32(w->g, desc + o->desc_istate, &istate);
	/* _IRQ_PER_CPU (1 << 9), _IRQ_PER_CPU_DEVID (1 << 17), IRQS_NMI (0x2000) */
	if (!(status & ((1u << 9) | (1u << 17))) && !(istate & 0x2000))
		return stat_u32_at(w->g, desc + o->desc_tot_count, bad);
	for (uint32_t cpu = 0; cpu < w->cpus.nr_ids; cpu++)
		if (sys_cpu_in(w->cpus.possible, cpu) && !sys_percpu_base(w->g, cpu, &base))
			sum += stat_u32_at(w->g,
					   kstat_irqs + base +
					       (o->irqstat_cnt == UINT32_MAX ? 0 : o->irqstat_cnt),
					   bad);
	return sum;
}

static void stat_irqs(struct stat_walk *w)
{
	struct sys_irq_desc *d = NULL;
	size_t n = 0;
	bool bad = false;
	int32_t nr;

	if (sys_sym_s32(w->g, "nr_irqs", &nr) || nr < 0) {
		w->s->flags |= VMT_F_PARTIAL;
		return;
	}
	w->s->nr_irqs = VMT_MIN((uint32_t)nr, SYS_MAX_IRQS);
	w->s->irqs = calloc(w->s->nr_irqs ? w->s->nr_irqs : 1, sizeof(*w->s->irqs));
	if (!w->s->irqs) {
		w->s->nr_irqs = 0;
		w->s->flags |= VMT_F_PARTIAL;
		return;
	}
	if (sys_irq_descs(w->g, w->s->nr_irqs, &d, &n))
		w->s->flags |= VMT_F_PARTIAL;
	for (size_t i = 0; i < n; i++)
		w->s->irqs[d[i].irq] = irq_desc_count(w, d[i].desc, &bad);
	free(d);
	if (bad)
		w->s->flags |= VMT_F_PARTIAL;
}

/* ------------------------------------------------------------------ API */

/* softirq_to_name[]: the kernel's own names ("HI", "TIMER", ...). */
static void stat_softirq_names(struct stat_walk *w)
{
	uint64_t va, p;

	if (vmt_ksym(w->g, "softirq_to_name", &va))
		return;
	for (size_t i = 0; i < VMT_NR_SOFTIRQS; i++)
		if (vmt_kread_u64(w->g, va + 8 * i, &p) || !vmt_kptr_ok(p) ||
		    vmt_kread_str(w->g, p, w->s->softirq_names[i], sizeof(w->s->softirq_names[i])))
			w->s->softirq_names[i][0] = '\0';
}

static void stat_globals(struct stat_walk *w)
{
	struct vmt_sysinfo si;
	int32_t v = 0;
	uint64_t cb = 0, forks = 0;

	w->nohz = !sys_sym_s32(w->g, "tick_nohz_active", &v) && v;
	w->platform_ipi = !sys_sym_u64(w->g, "x86_platform_ipi_callback", &cb) && cb;
	if (!vmt_sysinfo(w->g, &si))
		w->now_ns = si.uptime_ns;
	if (sys_sym_u64(w->g, "total_forks", &forks))
		w->s->flags |= VMT_F_PARTIAL;
	w->s->processes = forks;
	stat_softirq_names(w);
}

int vmt_cpu_stat(struct vmt_guest *g, struct vmt_cpu_stat **out)
{
	struct stat_walk *w;
	int32_t v;
	int err;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->g = g;
	err = stat_offsets_resolve(g, &w->o);
	if (!err)
		err = sys_cpus_read(g, &w->cpus);
	if (!err && !(w->s = calloc(1, sizeof(*w->s))))
		err = -ENOMEM;
	if (!err && !(w->s->cpus = calloc(w->cpus.nr_ids, sizeof(*w->s->cpus))))
		err = -ENOMEM;
	if (!err && !(w->s->possible = calloc(w->cpus.nr_ids, sizeof(*w->s->possible))))
		err = -ENOMEM;
	if (err)
		goto out;
	w->s->total.cpu = UINT32_MAX;
	stat_globals(w);
	stat_prefetch(w);
	for (uint32_t cpu = 0; cpu < w->cpus.nr_ids; cpu++)
		if (sys_cpu_in(w->cpus.possible, cpu))
			stat_one_cpu(w, cpu);
	/* arch_irq_stat(): irq_err_count + irq_mis_count (atomic_t) */
	if (!sys_sym_s32(g, "irq_err_count", &v))
		w->s->intr_total += (uint32_t)v;
	if (!sys_sym_s32(g, "irq_mis_count", &v))
		w->s->intr_total += (uint32_t)v;
	stat_irqs(w);
	*out = w->s;
	w->s = NULL;
out:
	vmt_cpu_stat_free(w->s);
	free(w);
	return err;
}

void vmt_cpu_stat_free(struct vmt_cpu_stat *s)
{
	if (!s)
		return;
	free(s->cpus);
	free(s->possible);
	free(s->irqs);
	free(s);
}

int vmt_loadavg(struct vmt_guest *g, struct vmt_loadavg *out)
{
	struct sys_cpus *cpus;
	uint64_t rq, base, ns;
	uint32_t off, nr, idr_next;
	int32_t threads;
	int err;

	memset(out, 0, sizeof(*out));
	err = vmt_ksym(g, "avenrun", &ns);
	if (!err)
		err = vmt_kread(g, ns, out->avenrun, sizeof(out->avenrun));
	if (err)
		return vmt_error(err, "avenrun unreadable");
	if (sys_sym_s32(g, "nr_threads", &threads))
		out->flags |= VMT_F_PARTIAL;
	else
		out->nr_threads = (uint32_t)threads;
	if (vmt_profile_field(g->prof, "pid_namespace", "idr.idr_next", &off) ||
	    vmt_ksym(g, "init_pid_ns", &ns) || vmt_kread_u32(g, ns + off, &idr_next))
		out->flags |= VMT_F_PARTIAL;
	else
		out->last_pid = (int32_t)(idr_next - 1);
	cpus = malloc(sizeof(*cpus));
	if (!cpus)
		return -ENOMEM;
	if (sys_cpus_read(g, cpus) || vmt_profile_field(g->prof, "rq", "nr_running", &off) ||
	    sys_percpu_sym(g, "runqueues", &rq)) {
		out->flags |= VMT_F_PARTIAL;
		goto out;
	}
	for (uint32_t cpu = 0; cpu < cpus->nr_ids; cpu++) {
		if (!sys_cpu_in(cpus->online, cpu))
			continue;
		if (sys_percpu_base(g, cpu, &base) || vmt_kread_u32(g, base + rq + off, &nr))
			out->flags |= VMT_F_PARTIAL;
		else
			out->nr_running += nr;
	}
out:
	free(cpus);
	return 0;
}
