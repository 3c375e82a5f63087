// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * system_cpu.c - /proc/cpuinfo of an x86-64 guest: each online CPU's
 * struct cpuinfo_x86 (per-CPU cpu_info), with the feature, bug, VMX and
 * power flag names taken from the kernel's own tables in its image
 * (x86_cap_flags, x86_bug_flags, x86_vmx_flags, x86_power_flags), so a
 * kernel with other feature words names them its own way.  A table's
 * length is where its kallsyms symbol ends, capped by the capability
 * array's size.
 *
 * cpu MHz is cpu_khz unless the CPU has APERFMPERF (then 6.1 shows a
 * sample of the actual frequency, which memory does not hold: flagged
 * VMT_F_PARTIAL); bogomips needs HZ, derived from tick_nsec.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linux/system.h"

#define CPU_MAX_WORDS	  64
#define X86_FEATURE_TSC	  4		/* word 0 */
#define X86_FEATURE_VMX	  (4 * 32 + 5)	/* word 4 */
#define X86_FEATURE_APERF (3 * 32 + 28) /* X86_FEATURE_APERFMPERF */

struct cpu_offsets {
	uint32_t family, model, stepping, cpuid_level, cache_size, tlbsize, clflush, cache_align;
	uint32_t phys_bits, virt_bits, power, microcode, vendor, model_id, phys_id, core_id;
	uint32_t booted_cores, apicid, initial_apicid, cpu_index, caps, caps_size, lpj;
	uint32_t topo_size[4]; /* of phys_id, core_id, apicid, initial_apicid */
	uint32_t vmx, vmx_size;
};

struct cpu_names {
	uint64_t table; /* run-time address of the char *[] */
	uint32_t n;	/* entries */
};

struct cpu_walk {
	struct vmt_guest *g;
	struct cpu_offsets o;
	struct cpu_names caps, bugs, vmx, power;
	uint32_t khz, hz;
	uint64_t core_map;
};

/* Entries of a pointer table: where its symbol ends, at most max. */
static void cpu_names_find(struct vmt_guest *g, const char *sym, uint32_t max, struct cpu_names *t)
{
	uint64_t link, off;
	const char *name;

	t->n = 0;
	if (vmt_profile_symbol(g->prof, sym, &link) || vmt_ksym(g, sym, &t->table))
		return;
	while (t->n < max) {
		name = vmt_profile_symbol_at(g->prof, link + 8ull * t->n, &off);
		if (!name || strcmp(name, sym))
			break;
		t->n++;
	}
}

/* Append " name" for every set bit that has a name; bit i names table[i]. */
static void cpu_flag_names(struct vmt_guest *g, const struct cpu_names *t, const uint32_t *words,
			   uint32_t nbits, char *out, size_t cap, uint32_t *flags)
{
	size_t len = strlen(out);

	for (uint32_t i = 0; i < VMT_MIN(nbits, t->n); i++) {
		char name[64];
		uint64_t p;

		if (!((words[i / 32] >> (i % 32)) & 1))
			continue;
		if (vmt_kread_u64(g, t->table + 8ull * i, &p)) {
			*flags |= VMT_F_PARTIAL;
			continue;
		}
		if (!p)
			continue;
		if (!vmt_kptr_ok(p) || vmt_kread_str(g, p, name, sizeof(name))) {
			*flags |= VMT_F_PARTIAL;
			continue;
		}
		if (len + strlen(name) + 2 > cap) {
			*flags |= VMT_F_TRUNCATED;
			return;
		}
		len += (size_t)snprintf(out + len, cap - len, " %s", name);
	}
}

/* show_cpuinfo()'s power management line: names, "" entries, " [n]" for unnamed bits. */
static void cpu_power_names(struct cpu_walk *w, uint32_t power, struct vmt_cpuinfo *c)
{
	size_t len = 0;

	c->power[0] = '\0';
	for (uint32_t i = 0; i < 32; i++) {
		char name[64] = "";
		uint64_t p = 0;

		if (!(power & (1u << i)))
			continue;
		if (i < w->power.n && !vmt_kread_u64(w->g, w->power.table + 8ull * i, &p) && p &&
		    vmt_kptr_ok(p) && !vmt_kread_str(w->g, p, name, sizeof(name)))
			len += (size_t)snprintf(c->power + len, sizeof(c->power) - len, "%s%s",
						name[0] ? " " : "", name);
		else
			len += (size_t)snprintf(c->power + len, sizeof(c->power) - len, " [%u]", i);
		if (len >= sizeof(c->power)) {
			c->flags |= VMT_F_TRUNCATED;
			return;
		}
	}
}

/* 6.7 gathered the topology ids into cpuinfo_x86.topo (pkg_id, core_id, ...). */
static int cpu_topo_offsets(struct vmt_guest *g, struct cpu_offsets *o)
{
	static const char *const name[4][2] = {{"phys_proc_id", "topo.pkg_id"},
					       {"cpu_core_id", "topo.core_id"},
					       {"apicid", "topo.apicid"},
					       {"initial_apicid", "topo.initial_apicid"}};
	uint32_t *dst[4] = {&o->phys_id, &o->core_id, &o->apicid, &o->initial_apicid};

	for (int i = 0; i < 4; i++)
		if (vmt_profile_field2(g->prof, "cpuinfo_x86", name[i][0], dst[i],
				       &o->topo_size[i]) &&
		    vmt_profile_field2(g->prof, "cpuinfo_x86", name[i][1], dst[i],
				       &o->topo_size[i]))
			return -ENOENT;
	return 0;
}

static int cpu_offsets_resolve(struct vmt_guest *g, struct cpu_offsets *o)
{
	/* clang-format off */
	const struct vmt_field_req req[] = {
		VMT_FIELD("cpuinfo_x86", "x86", family),
		VMT_FIELD("cpuinfo_x86", "x86_model", model),
		VMT_FIELD("cpuinfo_x86", "x86_stepping", stepping),
		VMT_FIELD("cpuinfo_x86", "cpuid_level", cpuid_level),
		VMT_FIELD("cpuinfo_x86", "x86_cache_size", cache_size),
		VMT_FIELD("cpuinfo_x86", "x86_tlbsize", tlbsize),
		VMT_FIELD("cpuinfo_x86", "x86_clflush_size", clflush),
		VMT_FIELD("cpuinfo_x86", "x86_cache_alignment", cache_align),
		VMT_FIELD("cpuinfo_x86", "x86_phys_bits", phys_bits),
		VMT_FIELD("cpuinfo_x86", "x86_virt_bits", virt_bits),
		VMT_FIELD("cpuinfo_x86", "x86_power", power),
		VMT_FIELD("cpuinfo_x86", "microcode", microcode),
		VMT_FIELD("cpuinfo_x86", "x86_vendor_id", vendor),
		VMT_FIELD("cpuinfo_x86", "x86_model_id", model_id),
		VMT_FIELD("cpuinfo_x86", "booted_cores", booted_cores),
		VMT_FIELD("cpuinfo_x86", "cpu_index", cpu_index),
		VMT_FIELD("cpuinfo_x86", "loops_per_jiffy", lpj),
	};
	/* clang-format on */
	uint32_t off;
	int err;

	VMT_OFFSETS_ABSENT(o);
	err = vmt_resolve_fields(g, req, ARRAY_SIZE(req));
	if (!err)
		err = cpu_topo_offsets(g, o);
	if (!err)
		err = vmt_profile_field2(g->prof, "cpuinfo_x86", "x86_capability", &o->caps,
					 &o->caps_size);
	if (err)
		return vmt_error(err ? err : -ENOEXEC, "kernel profile lacks cpuinfo_x86");
	if (vmt_profile_field2(g->prof, "cpuinfo_x86", "vmx_capability", &o->vmx, &o->vmx_size))
		o->vmx = UINT32_MAX;
	(void)off;
	return 0;
}

/* A little-endian unsigned field of 1, 2 or 4 bytes. */
static uint32_t cpu_field(const uint8_t *ci, size_t len, uint32_t off, uint32_t size)
{
	uint32_t v = 0;

	if (off != UINT32_MAX && off + size <= len)
		memcpy(&v, ci + off, VMT_MIN(size, 4u));
	return size == 1 ? (v & 0xff) : size == 2 ? (v & 0xffff) : v;
}

/* cpumask_weight(topology_core_cpumask(cpu)): cpu_core_map may be a pointer (OFFSTACK). */
static uint32_t cpu_siblings(struct cpu_walk *w, uint64_t base, uint32_t nr_ids, uint32_t *flags)
{
	uint64_t v, mask = base + w->core_map, word;
	uint32_t n = 0;

	if (w->core_map == UINT64_MAX || vmt_kread_u64(w->g, mask, &v)) {
		*flags |= VMT_F_PARTIAL;
		return 0;
	}
	if (vmt_kptr_ok(v))
		mask = v;
	for (uint32_t i = 0; i < (nr_ids + 63) / 64; i++) {
		if (vmt_kread_u64(w->g, mask + 8ull * i, &word)) {
			*flags |= VMT_F_PARTIAL;
			break;
		}
		if (i == nr_ids / 64 && nr_ids % 64)
			word &= (1ull << (nr_ids % 64)) - 1;
		n += (uint32_t)__builtin_popcountll(word);
	}
	return n;
}

static void cpu_one(struct cpu_walk *w, uint64_t ci_va, uint32_t cpu, uint32_t nr_ids,
		    struct vmt_cpuinfo *c)
{
	const struct cpu_offsets *o = &w->o;
	uint8_t ci[1024];
	uint32_t caps[CPU_MAX_WORDS] = {0}, vmx[CPU_MAX_WORDS] = {0}, ncap, nbug_words;
	uint64_t base;

	c->cpu = cpu;
	if (vmt_kread(w->g, ci_va, ci, sizeof(ci))) {
		c->flags |= VMT_F_PARTIAL;
		return;
	}
	c->family = cpu_field(ci, sizeof(ci), o->family, 1);
	c->model = cpu_field(ci, sizeof(ci), o->model, 1);
	c->stepping = cpu_field(ci, sizeof(ci), o->stepping, 1);
	c->cpuid_level = (int32_t)cpu_field(ci, sizeof(ci), o->cpuid_level, 4);
	c->cache_size_kb = cpu_field(ci, sizeof(ci), o->cache_size, 4);
	c->tlb_size = (int32_t)cpu_field(ci, sizeof(ci), o->tlbsize, 4);
	c->clflush_size = cpu_field(ci, sizeof(ci), o->clflush, 2);
	c->cache_alignment = (int32_t)cpu_field(ci, sizeof(ci), o->cache_align, 4);
	c->phys_bits = cpu_field(ci, sizeof(ci), o->phys_bits, 1);
	c->virt_bits = cpu_field(ci, sizeof(ci), o->virt_bits, 1);
	c->microcode = cpu_field(ci, sizeof(ci), o->microcode, 4);
	c->phys_id = cpu_field(ci, sizeof(ci), o->phys_id, o->topo_size[0]);
	c->core_id = cpu_field(ci, sizeof(ci), o->core_id, o->topo_size[1]);
	c->cores = cpu_field(ci, sizeof(ci), o->booted_cores, 2);
	c->apicid = cpu_field(ci, sizeof(ci), o->apicid, o->topo_size[2]);
	c->initial_apicid = cpu_field(ci, sizeof(ci), o->initial_apicid, o->topo_size[3]);
	if (o->lpj + 8 <= sizeof(ci))
		memcpy(&c->loops_per_jiffy, ci + o->lpj, 8);
	if (o->vendor + 16 <= sizeof(ci))
		vmt_strlcpy(c->vendor_id, (const char *)ci + o->vendor, sizeof(c->vendor_id));
	if (o->model_id + 64 <= sizeof(ci))
		vmt_strlcpy(c->model_name, (const char *)ci + o->model_id, sizeof(c->model_name));
	if (o->caps + (uint64_t)o->caps_size > sizeof(ci) || o->caps_size > sizeof(caps)) {
		c->flags |= VMT_F_PARTIAL; /* a layout this reader does not expect */
		return;
	}
	memcpy(caps, ci + o->caps, o->caps_size);
	c->has_tsc = (caps[0] >> X86_FEATURE_TSC) & 1;
	c->khz = w->khz;
	if ((caps[X86_FEATURE_APERF / 32] >> (X86_FEATURE_APERF % 32)) & 1)
		c->flags |= VMT_F_PARTIAL;
	c->hz = w->hz;
	/* feature words first, then the bug words */
	nbug_words = (w->bugs.n + 31) / 32;
	ncap = VMT_MIN(w->caps.n, (o->caps_size / 4 - nbug_words) * 32);
	cpu_flag_names(w->g, &w->caps, caps, ncap, c->cap_flags, sizeof(c->cap_flags), &c->flags);
	if (ncap % 32 == 0 && ncap / 32 + nbug_words <= o->caps_size / 4)
		cpu_flag_names(w->g, &w->bugs, caps + ncap / 32, nbug_words * 32, c->bugs,
			       sizeof(c->bugs), &c->flags);
	if (o->vmx != UINT32_MAX && ((caps[X86_FEATURE_VMX / 32] >> (X86_FEATURE_VMX % 32)) & 1) &&
	    o->vmx + o->vmx_size <= sizeof(ci)) {
		memcpy(vmx, ci + o->vmx, VMT_MIN(o->vmx_size, sizeof(vmx)));
		c->has_vmx_flags = vmx[0] != 0;
		cpu_flag_names(w->g, &w->vmx, vmx, o->vmx_size * 8, c->vmx_flags,
			       sizeof(c->vmx_flags), &c->flags);
	}
	cpu_power_names(w, cpu_field(ci, sizeof(ci), o->power, 4), c);
	if (!sys_percpu_base(w->g, cpu, &base))
		c->siblings = cpu_siblings(w, base, nr_ids, &c->flags);
	else
		c->flags |= VMT_F_PARTIAL;
}

static void cpu_globals(struct cpu_walk *w)
{
	int64_t tick_nsec = 0;
	uint64_t va;
	int32_t khz = 0;

	if (!sys_sym_s32(w->g, "cpu_khz", &khz))
		w->khz = (uint32_t)khz;
	/* tick_nsec = (NSEC_PER_SEC + HZ / 2) / HZ */
	if (!vmt_ksym(w->g, "tick_nsec", &va) && !vmt_kread(w->g, va, &tick_nsec, 8) &&
	    tick_nsec > 0)
		w->hz = (uint32_t)((1000000000ll + tick_nsec / 2) / tick_nsec);
	if (sys_percpu_sym(w->g, "cpu_core_map", &w->core_map))
		w->core_map = UINT64_MAX;
	cpu_names_find(w->g, "x86_cap_flags", CPU_MAX_WORDS * 32, &w->caps);
	cpu_names_find(w->g, "x86_bug_flags", 8 * 32, &w->bugs);
	cpu_names_find(w->g, "x86_vmx_flags", CPU_MAX_WORDS * 32, &w->vmx);
	cpu_names_find(w->g, "x86_power_flags", 32, &w->power);
}

int vmt_cpuinfo(struct vmt_guest *g, struct vmt_cpuinfo_list **out)
{
	struct cpu_walk w = {.g = g};
	struct vmt_cpuinfo_list *l = NULL;
	struct sys_cpus *cpus = NULL;
	uint64_t info, base;
	int err;

	*out = NULL;
	err = cpu_offsets_resolve(g, &w.o);
	if (!err)
		err = sys_percpu_sym(g, "cpu_info", &info);
	if (err)
		return vmt_error(err, "per-CPU cpu_info not found");
	cpus = malloc(sizeof(*cpus));
	l = calloc(1, sizeof(*l));
	if (!cpus || !l) {
		err = -ENOMEM;
		goto out;
	}
	err = sys_cpus_read(g, cpus);
	if (err)
		goto out;
	l->cpus = calloc(cpus->nr_ids, sizeof(*l->cpus));
	if (!l->cpus) {
		err = -ENOMEM;
		goto out;
	}
	cpu_globals(&w);
	if (!w.hz || !w.caps.n)
		l->flags |= VMT_F_PARTIAL;
	for (uint32_t cpu = 0; cpu < cpus->nr_ids; cpu++) {
		if (!sys_cpu_in(cpus->online, cpu))
			continue;
		if (sys_percpu_base(g, cpu, &base)) {
			l->flags |= VMT_F_PARTIAL;
			continue;
		}
		cpu_one(&w, info + base, cpu, cpus->nr_ids, &l->cpus[l->n++]);
	}
	*out = l;
	l = NULL;
out:
	free(cpus);
	vmt_cpuinfo_list_free(l);
	return err;
}

void vmt_cpuinfo_list_free(struct vmt_cpuinfo_list *l)
{
	if (!l)
		return;
	free(l->cpus);
	free(l);
}
