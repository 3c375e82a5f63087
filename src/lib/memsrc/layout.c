// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * layout.c - where QEMU puts an x86 guest's RAM block in guest-physical
 * space, so a RAM file offset can be found for a guest-physical address.
 *
 * QEMU 7.2 (hw/i386/pc_piix.c, pc_q35.c) maps the single RAM block as two
 * aliases: [0, below_4g) at file offset 0 and [4 GiB, 4 GiB + rest) at file
 * offset below_4g.  The legacy VGA/BIOS window under 1 MiB is still backed
 * by the file, so it stays inside the first range.
 */
#include <string.h>

#include "core/internal.h"
#include "memsrc/memsrc.h"

#define GIB	    (1ull << 30)
#define FOUR_GIB    (4 * GIB)
#define PC_DEFAULT  0xe0000000ull /* i440fx max-ram-below-4g default, 3.5 GiB */
#define PC_ALIGNED  0xc0000000ull /* ... moved to 3 GiB by gigabyte_align */
#define Q35_HOLE    0xb0000000ull /* q35 fits RAM below 4 GiB up to 2.75 GiB */
#define Q35_ALIGNED 0x80000000ull /* ... else splits at 2 GiB */

/*
 * pc_piix.c: lowmem = max-ram-below-4g (default 3.5 GiB); if RAM does not
 * fit below it, every current pc machine (gigabyte_align) caps lowmem at
 * 3 GiB so that 1 GiB-aligned guest addresses stay 1 GiB aligned in the
 * host.  Old pc-1.7-and-earlier types without gigabyte_align are not
 * modelled: pass below_4g explicitly for those.
 */
static uint64_t lowmem_pc(uint64_t ram_size, uint64_t max_below)
{
	uint64_t lowmem = max_below ? max_below : PC_DEFAULT;

	if (ram_size >= lowmem && lowmem > PC_ALIGNED)
		lowmem = PC_ALIGNED;
	return lowmem;
}

/* pc_q35.c: 2.75 GiB, or 2 GiB once RAM is that big; the user may only lower it. */
static uint64_t lowmem_q35(uint64_t ram_size, uint64_t max_below)
{
	uint64_t lowmem = ram_size >= Q35_HOLE ? Q35_ALIGNED : Q35_HOLE;

	if (max_below && lowmem > max_below)
		lowmem = max_below;
	return lowmem;
}

static bool machine_is(const char *machine, const char *name, const char *versioned)
{
	return !strcmp(machine, name) || !strncmp(machine, versioned, strlen(versioned));
}

int vmt_ram_layout_x86(uint64_t ram_size, const char *machine, uint64_t below_4g,
		       struct vmt_ram_layout *out)
{
	uint64_t lowmem;

	memset(out, 0, sizeof(*out));
	if (!machine)
		machine = "pc";
	if (!ram_size || below_4g > FOUR_GIB)
		return vmt_error(-EINVAL, "bad RAM size %#llx or below-4G split %#llx",
				 (unsigned long long)ram_size, (unsigned long long)below_4g);
	if (machine_is(machine, "pc", "pc-i440fx"))
		lowmem = lowmem_pc(ram_size, below_4g);
	else if (machine_is(machine, "q35", "pc-q35"))
		lowmem = lowmem_q35(ram_size, below_4g);
	else
		return vmt_error(-EINVAL, "unknown x86 machine type '%s' (pc or q35)", machine);

	out->r[0] = (struct vmt_ram_range){.gpa = 0, .len = VMT_MIN(ram_size, lowmem)};
	out->n = 1;
	if (ram_size > lowmem) {
		out->r[1] = (struct vmt_ram_range){
		    .gpa = FOUR_GIB, .len = ram_size - lowmem, .file_off = lowmem};
		out->n = 2;
	}
	return 0;
}

uint64_t vmt_ram_layout_end(const struct vmt_ram_layout *layout)
{
	uint64_t end = 0;
	unsigned i;

	for (i = 0; i < layout->n && i < VMT_RAM_MAX_RANGES; i++)
		end = VMT_MAX(end, layout->r[i].gpa + layout->r[i].len);
	return end;
}
