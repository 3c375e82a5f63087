/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * system.h - what the system-wide walkers (system*.c) share: CPU masks,
 * per-CPU areas, and small symbol readers.
 */
#ifndef VMT_LINUX_SYSTEM_H
#define VMT_LINUX_SYSTEM_H

#include <stdint.h>

#include "guest/guest_internal.h"

#define SYS_MAX_CPUS 8192	/* NR_CPUS of distribution kernels */
#define SYS_MAX_IRQS (1u << 16) /* nr_irqs is NR_IRQS-bounded, far below */

/* The possible and online CPUs of a guest (cpu_possible_mask, cpu_online_mask). */
struct sys_cpus {
	uint32_t nr_ids; /* nr_cpu_ids, capped at SYS_MAX_CPUS */
	uint64_t possible[SYS_MAX_CPUS / 64];
	uint64_t online[SYS_MAX_CPUS / 64];
};

int sys_cpus_read(struct vmt_guest *g, struct sys_cpus *c);

static inline bool sys_cpu_in(const uint64_t *mask, uint32_t cpu)
{
	return (mask[cpu / 64] >> (cpu % 64)) & 1;
}

/*
 * Address of a per-CPU symbol (percpu.h's per_cpu_ptr()): x86-64 links the
 * per-CPU section at 0, so these symbols ('A' in kallsyms) are offsets that
 * KASLR does not move; __per_cpu_offset[cpu] is added.  Symbols of a kernel
 * that links them in place are slid like any other.
 */
int sys_percpu_sym(struct vmt_guest *g, const char *name, uint64_t *off);
int sys_percpu_base(struct vmt_guest *g, uint32_t cpu, uint64_t *base);

/*
 * The irq descriptors of irq_desc_tree (SPARSE_IRQ: an xarray) or of
 * sparse_irqs (a maple tree, the kernel's symbol says which) with a
 * number below max, in irq order; *out is the caller's to free.  A node
 * that is unreadable or misshapen is skipped and makes the result -EBADMSG
 * (what was found is still returned).
 */
struct sys_irq_desc {
	uint32_t irq;
	uint64_t desc;
};

int sys_irq_descs(struct vmt_guest *g, uint32_t max, struct sys_irq_desc **out, size_t *n);

/* Read an int / unsigned long kernel variable by symbol name. */
int sys_sym_s32(struct vmt_guest *g, const char *name, int32_t *v);
int sys_sym_u64(struct vmt_guest *g, const char *name, uint64_t *v);

#endif
