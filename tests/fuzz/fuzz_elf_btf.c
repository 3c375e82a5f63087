// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fuzz_elf_btf.c - ELF section/segment lookups and BTF layout queries.
 *
 * Input: byte 0 selects.
 *   0x00..0x7f  ELF: the rest is a vmlinux; look up the sections the
 *               builder needs, every PT_LOAD segment and a few addresses.
 *   0x80..0xff  BTF: the rest is a raw .BTF blob; resolve every
 *               (type, dotted path) the walkers ask for, sizes and enums,
 *               plus one query whose strings come from the blob's tail.
 */
#include "fuzz_common.h"
#include "profile/profile_priv.h"

static const char *const fields[][2] = {
    {"task_struct", "tasks"},
    {"task_struct", "pid"},
    {"task_struct", "comm"},
    {"task_struct", "signal"},
    {"task_struct", "thread_node"},
    {"task_struct", "mm"},
    {"task_struct", "__state"},
    {"task_struct", "real_cred"},
    {"task_struct", "se.sum_exec_runtime"},
    {"cred", "uid"},
    {"signal_struct", "pids"},
    {"pid", "numbers[0].nr"},
    {"mm_struct", "pgd"},
    {"mm_struct", "arg_start"},
    {"mm_struct", "exe_file"},
    {"file", "f_path.dentry"},
    {"dentry", "d_name.name"},
    {"module", "list"},
    {"module", "name"},
    {"module", "core_layout.size"},
    {"sock", "__sk_common.skc_family"},
    {"inet_hashinfo", "ehash"},
    {"struct x", "a.b[3].c"},
    {"x", "a[0x7fffffff]"},
    {"x", "a.."},
    {"x", "[1]"},
    {"x", "a[1"},
    {"union u", "a.b.c.d.e.f.g.h"},
};

static void btf_queries(const uint8_t *d, size_t n)
{
	struct vmt_btf *b = vmt_btf_new(d, n);
	uint32_t off, sz;
	int64_t v;
	char q[3][64];

	if (!b)
		return;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		vmt_btf_field(b, fields[i][0], fields[i][1], &off, &sz);
		vmt_btf_struct_size(b, fields[i][0], &sz);
	}
	vmt_btf_enum(b, "pid_type", "PIDTYPE_PGID", &v);
	vmt_btf_enum(b, NULL, "TCP_ESTABLISHED", &v);
	vmt_btf_enum(b, "", "x", &v);
	/* names from the tail: "type\0path\0enum" */
	memset(q, 0, sizeof(q));
	if (n > 96) {
		const uint8_t *t = d + n - 96;
		for (int k = 0; k < 3; k++) {
			memcpy(q[k], t + 32 * k, 32);
			q[k][32] = 0;
		}
		vmt_btf_field(b, q[0], q[1], &off, &sz);
		vmt_btf_struct_size(b, q[0], &sz);
		vmt_btf_enum(b, q[0], q[2], &v);
		vmt_btf_enum(b, NULL, q[2], &v);
	}
	vmt_btf_free(b);
}

static void elf_queries(const uint8_t *d, size_t n)
{
	static const char *const secs[] = {".rodata", ".BTF", ".data", ".text", ".init.data", ""};
	struct vmt_elf e;
	struct vmt_region r;
	const uint8_t *p;
	size_t avail;

	if (vmt_elf_open(&e, d, n))
		return;
	for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++)
		if (!vmt_elf_section(&e, secs[i], &r) && r.len)
			(void)*(volatile const uint8_t *)(r.data + r.len - 1);
	for (unsigned i = 0; !vmt_elf_segment(&e, i, &r); i++)
		if (r.len)
			(void)*(volatile const uint8_t *)(r.data + r.len - 1);
	if (!vmt_elf_va(&e, 0xffffffff81000000ull, &p, &avail) && avail)
		(void)*(volatile const uint8_t *)(p + avail - 1);
	if (!vmt_elf_va(&e, ~0ull, &p, &avail) && avail)
		(void)*(volatile const uint8_t *)(p + avail - 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;

	if (!init++)
		fuzz_quiet();
	if (size < 1)
		return 0;
	/* exact-size copy, 8-aligned as a section of the vmlinux would be */
	uint8_t *d = malloc(size - 1 ? size - 1 : 1);
	memcpy(d, data + 1, size - 1);
	if (data[0] & 0x80)
		btf_queries(d, size - 1);
	else
		elf_queries(d, size - 1);
	free(d);
	return 0;
}
