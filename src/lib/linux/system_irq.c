// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * system_irq.c - the irq descriptors (SPARSE_IRQ: irq_desc_tree, an xarray,
 * or sparse_irqs, a maple tree, whichever symbol the kernel has: 6.5 moved
 * them) and /proc/interrupts as kernel/irq/proc.c show_interrupts()
 * and x86's arch_show_interrupts() of 6.1 print it: per irq the online
 * CPUs' counts, chip, hardware irq, flow name and actions; then the
 * architecture's per-CPU counters (irq_stat), those a kernel's
 * configuration has, in the kernel's order.
 *
 * Hostile guest: xarray nodes must step their shift down by 6 from the
 * root; maple nodes must keep their pivots ascending inside the parent's
 * range and hold one irq per entry; at most SYS_XA_MAX_NODES nodes are
 * visited and MT_HEIGHT_MAX levels deep; action chains are capped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linux/system.h"

#define SYS_XA_MAX_NODES 4096
#define IRQ_MAX_ACTIONS	 64
#define MT_NODE_SIZE	 256 /* struct maple_node */
#define MT_HEIGHT_MAX	 31
#define MT_LEAF_64	 1 /* enum maple_type, in bits 3..6 of a node pointer */
#define MT_RANGE_64	 2
#define MT_ARANGE_64	 3
#define MR64_SLOTS	 16
#define MA64_SLOTS	 10

struct xa_walk {
	struct vmt_guest *g;
	uint32_t shift_off, slots_off, max;
	struct sys_irq_desc *d;
	size_t n, nodes;
	bool bad;
};

static void xa_walk_node(struct xa_walk *x, uint64_t entry, uint64_t index, int shift)
{
	uint64_t node, slots[64];
	uint8_t node_shift;

	if ((entry & 3) != 2 || entry <= 4096) { /* a leaf: the irq_desc */
		if (index < x->max && vmt_kptr_ok(entry))
			x->d[x->n++] = (struct sys_irq_desc){(uint32_t)index, entry};
		return;
	}
	node = entry - 2;
	if (++x->nodes > SYS_XA_MAX_NODES || !vmt_kptr_ok(node) ||
	    vmt_kread(x->g, node + x->shift_off, &node_shift, 1) ||
	    (shift >= 0 && node_shift != shift) || node_shift > 60 || node_shift % 6 ||
	    vmt_kread(x->g, node + x->slots_off, slots, sizeof(slots))) {
		x->bad = true;
		return;
	}
	for (uint64_t i = 0; i < 64; i++) {
		uint64_t idx = index + (i << node_shift);

		if (!slots[i] || idx >= x->max)
			continue;
		if (node_shift == 0 && (slots[i] & 3) == 2)
			continue; /* a sibling or retry entry at the bottom: not a desc */
		xa_walk_node(x, slots[i], idx, node_shift ? node_shift - 6 : -1);
	}
}

static int irq_xa_descs(struct vmt_guest *g, uint64_t tree, struct xa_walk *x)
{
	uint32_t xa_head;
	uint64_t head;
	int err;

	err = vmt_profile_field(g->prof, "xarray", "xa_head", &xa_head);
	if (!err)
		err = vmt_profile_field(g->prof, "xa_node", "shift", &x->shift_off);
	if (!err)
		err = vmt_profile_field(g->prof, "xa_node", "slots", &x->slots_off);
	if (!err)
		err = vmt_kread_u64(g, tree + xa_head, &head);
	if (err)
		return vmt_error(err, "irq_desc_tree unreadable");
	if (head)
		xa_walk_node(x, head, 0, -1);
	return x->bad ? vmt_error(-EBADMSG, "irq_desc_tree has a bad node") : 0;
}

/* sparse_irqs (a maple tree): irq_insert_desc() stores each desc over [irq, irq]. */
struct mt_walk {
	struct vmt_guest *g;
	uint32_t r_piv, r_slot, r_meta, a_piv, a_slot, a_meta;
	struct xa_walk *x;
};

/* ma_data_end(): arange nodes and range nodes with room keep it in their metadata. */
static unsigned mt_node_end(const struct mt_walk *m, const uint8_t *buf, bool ar,
			    const uint64_t *piv, unsigned npiv, uint64_t max)
{
	unsigned end;

	if (ar)
		end = buf[m->a_meta];
	else if (piv[npiv - 1] == 0)
		end = buf[m->r_meta];
	else
		end = piv[npiv - 1] == max ? npiv - 1 : npiv;
	return VMT_MIN(end, npiv);
}

static void mt_leaf_entry(struct xa_walk *x, uint64_t entry, uint64_t lo, uint64_t hi)
{
	if (lo != hi || lo >= x->max || x->n >= x->max || !vmt_kptr_ok(entry))
		x->bad = true; /* not what irq_insert_desc() stores */
	else
		x->d[x->n++] = (struct sys_irq_desc){(uint32_t)lo, entry};
}

static void mt_walk_node(struct mt_walk *m, uint64_t enode, uint64_t min, uint64_t max, int depth)
{
	uint64_t node = enode & ~0xffull, piv[MR64_SLOTS], slot[MR64_SLOTS], lo = min;
	unsigned type = (unsigned)(enode >> 3 & 0xf), npiv, end;
	struct xa_walk *x = m->x;
	uint8_t buf[MT_NODE_SIZE];
	bool ar = type == MT_ARANGE_64;

	if (depth > MT_HEIGHT_MAX || ++x->nodes > SYS_XA_MAX_NODES || !vmt_kptr_ok(node) ||
	    type < MT_LEAF_64 || type > MT_ARANGE_64 || vmt_kread(x->g, node, buf, sizeof(buf))) {
		x->bad = true;
		return;
	}
	npiv = (ar ? MA64_SLOTS : MR64_SLOTS) - 1;
	memcpy(piv, buf + (ar ? m->a_piv : m->r_piv), npiv * 8);
	memcpy(slot, buf + (ar ? m->a_slot : m->r_slot), (npiv + 1) * 8);
	end = mt_node_end(m, buf, ar, piv, npiv, max);
	for (unsigned i = 0; i <= end && !x->bad; i++) {
		uint64_t hi = i < npiv && (piv[i] || i == 0) ? piv[i] : max;

		if (hi < lo || hi > max) { /* pivots out of order or out of the parent's range */
			x->bad = true;
			return;
		}
		if (slot[i] && type != MT_LEAF_64)
			mt_walk_node(m, slot[i], lo, hi, depth + 1);
		else if (slot[i])
			mt_leaf_entry(x, slot[i], lo, hi);
		if (hi == max)
			break;
		lo = hi + 1;
	}
}

/* The node layouts from BTF, each field inside the 256-byte node. */
static int mt_offsets(struct vmt_guest *g, struct mt_walk *m)
{
	uint32_t *dst[] = {&m->r_piv, &m->r_slot, &m->r_meta, &m->a_piv, &m->a_slot, &m->a_meta};
	const char *type[] = {"maple_range_64", "maple_arange_64"};
	const char *field[] = {"pivot", "slot", "meta"};
	const uint32_t len[] = {(MR64_SLOTS - 1) * 8, MR64_SLOTS * 8, 1,
				(MA64_SLOTS - 1) * 8, MA64_SLOTS * 8, 1};

	for (int i = 0; i < 6; i++) {
		int err = vmt_profile_field(g->prof, type[i / 3], field[i % 3], dst[i]);

		if (err)
			return err;
		if (*dst[i] + len[i] > MT_NODE_SIZE)
			return -EINVAL;
	}
	return 0;
}

static int irq_mt_descs(struct vmt_guest *g, uint64_t tree, struct xa_walk *x)
{
	struct mt_walk m = {.g = g, .x = x};
	uint32_t root_off;
	uint64_t root;
	int err;

	err = vmt_profile_field(g->prof, "maple_tree", "ma_root", &root_off);
	if (!err)
		err = mt_offsets(g, &m);
	if (!err)
		err = vmt_kread_u64(g, tree + root_off, &root);
	if (err)
		return vmt_error(err, "sparse_irqs unreadable");
	if ((root & 3) == 2 && root > 4096) /* xa_is_node(): a tree */
		mt_walk_node(&m, root, 0, UINT64_MAX, 0);
	else if (root)
		mt_leaf_entry(x, root, 0, 0); /* a lone entry sits at index 0 */
	return x->bad ? vmt_error(-EBADMSG, "sparse_irqs has a bad node") : 0;
}

int sys_irq_descs(struct vmt_guest *g, uint32_t max, struct sys_irq_desc **out, size_t *n)
{
	struct xa_walk x = {.g = g, .max = VMT_MIN(max, SYS_MAX_IRQS)};
	uint64_t tree;
	int err;

	*out = NULL;
	*n = 0;
	x.d = calloc(x.max ? x.max : 1, sizeof(*x.d)); /* one leaf per index at most */
	if (!x.d)
		return -ENOMEM;
	if (!vmt_ksym(g, "irq_desc_tree", &tree))
		err = irq_xa_descs(g, tree, &x);
	else if (!vmt_ksym(g, "sparse_irqs", &tree))
		err = irq_mt_descs(g, tree, &x);
	else
		err = vmt_error(-ENOENT, "neither irq_desc_tree nor sparse_irqs in the profile");
	if (err && !x.n) {
		free(x.d);
		return err;
	}
	*out = x.d;
	*n = x.n;
	return err;
}

/* ----------------------------------------------------- /proc/interrupts */

struct irq_offsets {
	uint32_t kstat_irqs, kstat_cnt, status, action, chip, domain, hwirq, name;
	uint32_t act_name, act_next, chip_name, chip_print;
};

struct irq_walk {
	struct vmt_guest *g;
	struct irq_offsets o;
	struct vmt_interrupts *v;
	struct sys_cpus cpus;
	uint64_t chained, hidden;
};

static uint32_t *irq_counts(struct irq_walk *w)
{
	return w->v->counts + w->v->n * w->v->nr_cpus;
}

/* " name, name" of the action chain into a[] (already holding "" or more). */
static void irq_actions(struct irq_walk *w, uint64_t act, struct vmt_irq_line *l)
{
	size_t len = 0;

	for (int i = 0; act && i < IRQ_MAX_ACTIONS; i++) {
		uint64_t np;
		char name[64];

		if (!vmt_kptr_ok(act) || vmt_kread_u64(w->g, act + w->o.act_name, &np) ||
		    !vmt_kptr_ok(np) || vmt_kread_str(w->g, np, name, sizeof(name)) ||
		    vmt_kread_u64(w->g, act + w->o.act_next, &act)) {
			l->flags |= VMT_F_PARTIAL;
			return;
		}
		len += (size_t)snprintf(l->actions + len,
					sizeof(l->actions) - VMT_MIN(len, sizeof(l->actions)),
					"%s%s", i ? ", " : "", name);
		if (len >= sizeof(l->actions)) {
			l->flags |= VMT_F_TRUNCATED;
			return;
		}
	}
}

static void irq_chip(struct irq_walk *w, uint64_t chip, struct vmt_irq_line *l)
{
	uint64_t np = 0, print = 0;

	if (!chip) {
		strcpy(l->chip, "None");
		return;
	}
	if (!vmt_kptr_ok(chip) || vmt_kread_u64(w->g, chip + w->o.chip_name, &np) ||
	    vmt_kread_u64(w->g, chip + w->o.chip_print, &print)) {
		l->flags |= VMT_F_PARTIAL;
		return;
	}
	if (print)
		l->flags |= VMT_F_PARTIAL; /* the chip prints itself: its name stands in */
	if (!np || !vmt_kptr_ok(np) || vmt_kread_str(w->g, np, l->chip, sizeof(l->chip)))
		strcpy(l->chip, "-");
}

/* One irq's line, or nothing (hidden; no action and never counted; chained). */
static void irq_line(struct irq_walk *w, uint32_t irq, uint64_t desc)
{
	struct vmt_irq_line *l = &w->v->lines[w->v->n];
	uint64_t kstat = 0, action = 0, chip = 0, domain = 0, np = 0, base;
	uint32_t status = 0, any = 0, *counts = irq_counts(w), k = 0;
	uint32_t cnt = w->o.kstat_cnt == UINT32_MAX ? 0 : w->o.kstat_cnt;

	if (vmt_kread_u32(w->g, desc + w->o.status, &status) ||
	    vmt_kread_u64(w->g, desc + w->o.kstat_irqs, &kstat) ||
	    vmt_kread_u64(w->g, desc + w->o.action, &action)) {
		w->v->flags |= VMT_F_PARTIAL;
		return;
	}
	if (status & w->hidden)
		return;
	memset(l, 0, sizeof(*l));
	for (uint32_t cpu = 0; cpu < w->cpus.nr_ids; cpu++) {
		if (!sys_cpu_in(w->cpus.online, cpu))
			continue;
		if (kstat && (sys_percpu_base(w->g, cpu, &base) ||
			      vmt_kread_u32(w->g, kstat + base + cnt, &counts[k])))
			l->flags |= VMT_F_PARTIAL;
		any |= counts[k++];
	}
	if ((!action || action == w->chained) && !any) {
		memset(counts, 0, w->v->nr_cpus * sizeof(*counts));
		return;
	}
	l->irq = (int32_t)irq;
	l->counts = counts;
	if (vmt_kread_u64(w->g, desc + w->o.chip, &chip) ||
	    vmt_kread_u64(w->g, desc + w->o.domain, &domain) ||
	    vmt_kread_u64(w->g, desc + w->o.hwirq, &l->hwirq) ||
	    vmt_kread_u64(w->g, desc + w->o.name, &np))
		l->flags |= VMT_F_PARTIAL;
	irq_chip(w, chip, l);
	l->has_domain = domain != 0;
	if (np && (!vmt_kptr_ok(np) || vmt_kread_str(w->g, np, l->name, sizeof(l->name))))
		l->flags |= VMT_F_PARTIAL;
	irq_actions(w, action, l);
	w->v->n++;
}

/* arch_show_interrupts() of arch/x86/kernel/irq.c (6.1), in its order. */
static const struct {
	const char *label, *field, *desc;
	int cond; /* 0 always, 1 x86_platform_ipi_callback, 2.. a system vector's bit */
} irq_arch[] = {
    {"NMI", "__nmi_count", "Non-maskable interrupts", 0},
    {"LOC", "apic_timer_irqs", "Local timer interrupts", 0},
    {"SPU", "irq_spurious_count", "Spurious interrupts", 0},
    {"PMI", "apic_perf_irqs", "Performance monitoring interrupts", 0},
    {"IWI", "apic_irq_work_irqs", "IRQ work interrupts", 0},
    {"RTR", "icr_read_retry_count", "APIC ICR read retries", 0},
    {"PLT", "x86_platform_ipis", "Platform interrupts", 1},
    {"RES", "irq_resched_count", "Rescheduling interrupts", 0},
    {"CAL", "irq_call_count", "Function call interrupts", 0},
    {"TLB", "irq_tlb_count", "TLB shootdowns", 0},
    {"TRM", "irq_thermal_count", "Thermal event interrupts", 0},
    {"THR", "irq_threshold_count", "Threshold APIC interrupts", 0},
    {"DFR", "irq_deferred_error_count", "Deferred Error APIC interrupts", 0},
    {"MCE", "@mce_exception_count", "Machine check exceptions", 0},
    {"MCP", "@mce_poll_count", "Machine check polls", 0},
    {"HYP", "irq_hv_callback_count", "Hypervisor callback interrupts", 0xf3},
    {"HRE", "irq_hv_reenlightenment_count", "Hyper-V reenlightenment interrupts", 0xee},
    {"HVS", "hyperv_stimer0_count", "Hyper-V stimer0 interrupts", 0xed},
    {"ERR", "!irq_err_count", NULL, 0},
    {"MIS", "!irq_mis_count", NULL, 0},
    {"PIN", "kvm_posted_intr_ipis", "Posted-interrupt notification event", 0},
    {"NPI", "kvm_posted_intr_nested_ipis", "Nested posted-interrupt event", 0},
    {"PIW", "kvm_posted_intr_wakeup_ipis", "Posted-interrupt wakeup event", 0},
};

static bool irq_arch_cond(struct irq_walk *w, int cond)
{
	uint64_t va, word;

	if (cond == 1)
		return !sys_sym_u64(w->g, "x86_platform_ipi_callback", &word) && word;
	if (!cond)
		return true;
	return !vmt_ksym(w->g, "system_vectors", &va) &&
	       !vmt_kread_u64(w->g, va + 8ull * ((uint32_t)cond / 64), &word) &&
	       ((word >> (cond % 64)) & 1);
}

static void irq_arch_lines(struct irq_walk *w)
{
	uint64_t stat_off, off, base;
	uint32_t field;

	if (sys_percpu_sym(w->g, "irq_stat", &stat_off))
		stat_off = UINT64_MAX;
	for (size_t i = 0; i < ARRAY_SIZE(irq_arch); i++) {
		const char *f = irq_arch[i].field;
		struct vmt_irq_line *l = &w->v->lines[w->v->n];
		uint32_t *counts = irq_counts(w), k = 0;
		int32_t v;

		memset(l, 0, sizeof(*l));
		l->irq = -1;
		vmt_strlcpy(l->label, irq_arch[i].label, sizeof(l->label));
		if (f[0] == '!') { /* one global atomic_t */
			if (sys_sym_s32(w->g, f + 1, &v))
				continue;
			l->single = true;
			l->value = (uint32_t)v;
			w->v->n++;
			continue;
		}
		if (f[0] == '@' ? sys_percpu_sym(w->g, f + 1, &off)
				: (stat_off == UINT64_MAX ||
				   vmt_profile_field(w->g->prof, "irq_cpustat_t", f, &field)))
			continue; /* not in this kernel's configuration */
		if (f[0] != '@')
			off = stat_off + field;
		if (!irq_arch_cond(w, irq_arch[i].cond))
			continue;
		vmt_strlcpy(l->desc, irq_arch[i].desc, sizeof(l->desc));
		l->counts = counts;
		for (uint32_t cpu = 0; cpu < w->cpus.nr_ids; cpu++)
			if (sys_cpu_in(w->cpus.online, cpu) &&
			    (sys_percpu_base(w->g, cpu, &base) ||
			     vmt_kread_u32(w->g, off + base, &counts[k++])))
				l->flags |= VMT_F_PARTIAL;
		w->v->n++;
	}
}

static int irq_offsets_resolve(struct vmt_guest *g, struct irq_offsets *o)
{
	/* clang-format off */
	const struct vmt_field_req req[] = {
		VMT_FIELD("irq_desc", "kstat_irqs", kstat_irqs),
		VMT_FIELD_OPT("irqstat", "cnt", kstat_cnt), /* 6.10+: a struct per CPU */
		VMT_FIELD("irq_desc", "status_use_accessors", status),
		VMT_FIELD("irq_desc", "action", action),
		VMT_FIELD("irq_desc", "irq_data.chip", chip),
		VMT_FIELD("irq_desc", "irq_data.domain", domain),
		VMT_FIELD("irq_desc", "irq_data.hwirq", hwirq),
		VMT_FIELD("irq_desc", "name", name),
		VMT_FIELD("irqaction", "name", act_name),
		VMT_FIELD("irqaction", "next", act_next),
		VMT_FIELD("irq_chip", "name", chip_name),
		VMT_FIELD("irq_chip", "irq_print_chip", chip_print),
	};
	/* clang-format on */

	VMT_OFFSETS_ABSENT(o);
	return vmt_resolve_fields(g, req, ARRAY_SIZE(req));
}

static int irq_alloc(struct irq_walk *w, size_t ndesc)
{
	size_t lines = ndesc + ARRAY_SIZE(irq_arch);
	struct vmt_interrupts *v = w->v;

	for (uint32_t cpu = 0; cpu < w->cpus.nr_ids; cpu++)
		if (sys_cpu_in(w->cpus.online, cpu))
			v->nr_cpus++;
	v->cpus = calloc(v->nr_cpus ? v->nr_cpus : 1, sizeof(*v->cpus));
	v->lines = calloc(lines, sizeof(*v->lines));
	v->counts = calloc(lines * (v->nr_cpus ? v->nr_cpus : 1), sizeof(*v->counts));
	if (!v->cpus || !v->lines || !v->counts)
		return -ENOMEM;
	for (uint32_t cpu = 0, k = 0; cpu < w->cpus.nr_ids; cpu++)
		if (sys_cpu_in(w->cpus.online, cpu))
			v->cpus[k++] = cpu;
	return 0;
}

int vmt_interrupts(struct vmt_guest *g, struct vmt_interrupts **out)
{
	struct irq_walk *w = calloc(1, sizeof(*w));
	struct sys_irq_desc *d = NULL;
	int64_t hidden;
	size_t n = 0;
	int32_t nr = 0;
	int err;

	*out = NULL;
	if (!w)
		return -ENOMEM;
	w->g = g;
	err = irq_offsets_resolve(g, &w->o);
	if (!err)
		err = sys_cpus_read(g, &w->cpus);
	if (!err)
		err = sys_sym_s32(g, "nr_irqs", &nr);
	if (!err && !(w->v = calloc(1, sizeof(*w->v))))
		err = -ENOMEM;
	if (err)
		goto out;
	w->v->nr_irqs = nr;
	if (sys_irq_descs(g, nr < 0 ? 0 : (uint32_t)nr, &d, &n) == -ENOMEM) {
		err = -ENOMEM;
		goto out;
	}
	if (!d)
		w->v->flags |= VMT_F_PARTIAL;
	err = irq_alloc(w, n);
	if (err)
		goto out;
	w->hidden = !vmt_profile_enum(g->prof, NULL, "IRQ_HIDDEN", &hidden) && hidden > 0
			? (uint64_t)hidden
			: (1u << 20);
	if (vmt_ksym(g, "chained_action", &w->chained))
		w->chained = 1;
	for (size_t i = 0; i < n; i++)
		irq_line(w, d[i].irq, d[i].desc);
	irq_arch_lines(w);
	*out = w->v;
	w->v = NULL;
out:
	free(d);
	vmt_interrupts_free(w->v);
	free(w);
	return err;
}

void vmt_interrupts_free(struct vmt_interrupts *v)
{
	if (!v)
		return;
	free(v->cpus);
	free(v->lines);
	free(v->counts);
	free(v);
}
