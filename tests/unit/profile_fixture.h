/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * profile_fixture.h - synthetic kernels for the profile tests, so that they
 * need no real vmlinuz: kallsyms tables laid out as scripts/kallsyms.c
 * emits them (6.1, 6.1 + seqs_of_names as in Debian's 6.1, and 6.4+), a
 * minimal vmlinux ELF around them, and a small BTF blob made with libbpf.
 * Header-only because each unit test is a single-file executable.
 */
#ifndef VMT_TEST_PROFILE_FIXTURE_H
#define VMT_TEST_PROFILE_FIXTURE_H

#include <bpf/btf.h>
#include <elf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FX_TEXT	  0xffffffff81000000ull
#define FX_RODATA 0xffffffff82000000ull
#define FX_DATA	  0xffffffff82a00000ull
#define FX_BANNER "Linux version 6.1.0-fixture (test@vmemtrans) #1 SMP\n"

struct fx_buf {
	uint8_t *p;
	size_t len, cap;
	uint64_t va; /* link-time address of p[0]: alignment is by address */
};

static inline void fx_put(struct fx_buf *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 4096;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static inline void fx_u8(struct fx_buf *b, uint8_t v)
{
	fx_put(b, &v, 1);
}

static inline void fx_u16(struct fx_buf *b, uint16_t v)
{
	fx_put(b, &v, 2);
}

static inline void fx_u32(struct fx_buf *b, uint32_t v)
{
	fx_put(b, &v, 4);
}

static inline void fx_u64(struct fx_buf *b, uint64_t v)
{
	fx_put(b, &v, 8);
}

static inline void fx_align(struct fx_buf *b, unsigned a)
{
	while ((b->va + b->len) % a)
		fx_u8(b, 0);
}

struct fx_sym {
	const char *name;
	char type; /* 'A': absolute per-cpu, offset = address */
	uint64_t addr;
};

enum fx_layout {
	FX_61,	    /* offsets, base, num_syms, names, markers, tokens, index */
	FX_61_SEQS, /* ... markers, seqs_of_names, tokens, index (Debian 6.1) */
	FX_64,	    /* num_syms, names, markers, tokens, index, offsets, base, seqs */
};

/* Multi-character tokens; every other byte stands for itself or is filler. */
static const char *const fx_multi[] = {"init_", "task", "sym_", "linux_"};
#define FX_MULTI_BASE 0x80

static inline const char *fx_token(unsigned i, char *one)
{
	if (i >= FX_MULTI_BASE && i < FX_MULTI_BASE + 4)
		return fx_multi[i - FX_MULTI_BASE];
	if (i > 0x20 && i < 0x7f) {
		one[0] = (char)i;
		one[1] = '\0';
		return one;
	}
	return "qq"; /* never used by a name, but every token is non-empty */
}

/* Encode "Tname" greedily with the multi-char tokens into out; token count. */
static inline size_t fx_encode(char type, const char *name, uint8_t *out)
{
	size_t n = 0;

	out[n++] = (uint8_t)type;
	while (*name) {
		unsigned k;

		for (k = 0; k < 4; k++)
			if (!strncmp(name, fx_multi[k], strlen(fx_multi[k])))
				break;
		if (k < 4) {
			out[n++] = (uint8_t)(FX_MULTI_BASE + k);
			name += strlen(fx_multi[k]);
		} else {
			out[n++] = (uint8_t)*name++;
		}
	}
	return n;
}

static inline uint64_t fx_base(const struct fx_sym *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i].type != 'A')
			return s[i].addr;
	return 0;
}

static inline void fx_offsets(struct fx_buf *b, const struct fx_sym *s, size_t n)
{
	uint64_t base = fx_base(s, n);

	fx_align(b, 8);
	for (size_t i = 0; i < n; i++)
		fx_u32(b, s[i].type == 'A' ? (uint32_t)s[i].addr
					   : (uint32_t)(int32_t)(-(int64_t)(s[i].addr - base) - 1));
	fx_align(b, 8);
	fx_u64(b, base);
}

static const struct fx_sym *fx_sort_syms;

static inline int fx_cmp_name(const void *a, const void *b)
{
	return strcmp(fx_sort_syms[*(const uint32_t *)a].name,
		      fx_sort_syms[*(const uint32_t *)b].name);
}

static inline void fx_seqs(struct fx_buf *b, const struct fx_sym *s, size_t n)
{
	uint32_t *idx = malloc(n * sizeof(*idx));

	for (size_t i = 0; i < n; i++)
		idx[i] = (uint32_t)i;
	fx_sort_syms = s;
	qsort(idx, n, sizeof(*idx), fx_cmp_name);
	fx_align(b, 8);
	for (size_t i = 0; i < n; i++) {
		fx_u8(b, (uint8_t)(idx[i] >> 16));
		fx_u8(b, (uint8_t)(idx[i] >> 8));
		fx_u8(b, (uint8_t)idx[i]);
	}
	free(idx);
}

/* Where the pieces landed, for tests that corrupt them. */
struct fx_ktab {
	size_t num_syms, names, markers, tokens;
};

/* Append the kallsyms tables for s[0..n) (sorted by address) to b. */
static inline struct fx_ktab fx_kallsyms(struct fx_buf *b, const struct fx_sym *s, size_t n,
					 enum fx_layout l)
{
	struct fx_ktab at;
	uint32_t *markers = calloc((n + 255) / 256, sizeof(*markers));
	uint16_t idx[256];
	uint8_t enc[2048];
	char one[2];
	size_t start;

	if (l != FX_64)
		fx_offsets(b, s, n);
	fx_align(b, 8);
	at.num_syms = b->len;
	fx_u32(b, (uint32_t)n);
	fx_align(b, 8);
	at.names = start = b->len;
	for (size_t i = 0; i < n; i++) {
		size_t k = fx_encode(s[i].type, s[i].name, enc);

		if (!(i & 0xff))
			markers[i >> 8] = (uint32_t)(b->len - start);
		if (k > 0x7f) {
			fx_u8(b, (uint8_t)((k & 0x7f) | 0x80));
			fx_u8(b, (uint8_t)(k >> 7));
		} else {
			fx_u8(b, (uint8_t)k);
		}
		fx_put(b, enc, k);
	}
	fx_align(b, 8);
	at.markers = b->len;
	for (size_t i = 0; i < (n + 255) / 256; i++)
		fx_u32(b, markers[i]);
	if (l == FX_61_SEQS)
		fx_seqs(b, s, n);
	fx_align(b, 8);
	at.tokens = start = b->len;
	for (unsigned i = 0; i < 256; i++) {
		const char *t = fx_token(i, one);

		idx[i] = (uint16_t)(b->len - start);
		fx_put(b, t, strlen(t) + 1);
	}
	fx_align(b, 8);
	for (unsigned i = 0; i < 256; i++)
		fx_u16(b, idx[i]);
	if (l == FX_64) {
		fx_offsets(b, s, n);
		fx_seqs(b, s, n);
	}
	free(markers);
	return at;
}

/*
 * A symbol set shaped like a kernel's: per-cpu symbols at small absolute
 * addresses first, then _text, n filler symbols, linux_banner and init_task.
 * Names are malloc'ed; fx_syms_free releases them.
 */
static inline struct fx_sym *fx_syms(size_t n, size_t *count)
{
	struct fx_sym *s = calloc(n + 8, sizeof(*s));
	size_t k = 0;

	s[k++] = (struct fx_sym){strdup("fixed_percpu_data"), 'A', 0};
	s[k++] = (struct fx_sym){strdup("current_task"), 'A', 0x1fb80};
	s[k++] = (struct fx_sym){strdup("_text"), 'T', FX_TEXT};
	for (size_t i = 0; i < n; i++) {
		char name[32];

		snprintf(name, sizeof(name), "sym_%05zu", i);
		s[k++] =
		    (struct fx_sym){strdup(name), i % 3 ? 't' : 'T', FX_TEXT + 0x1000 + 16 * i};
	}
	s[k++] = (struct fx_sym){strdup("linux_banner"), 'D', FX_RODATA};
	s[k++] = (struct fx_sym){strdup("init_task"), 'D', FX_DATA};
	*count = k;
	return s;
}

static inline void fx_syms_free(struct fx_sym *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free((char *)s[i].name);
	free(s);
}

/* ------------------------------------------------------------ vmlinux */

/* A minimal vmlinux: .rodata (banner + kallsyms) in one PT_LOAD, .BTF, .shstrtab. */
static inline uint8_t *fx_vmlinux(const struct fx_sym *s, size_t n, const void *btf, size_t btf_len,
				  size_t *len)
{
	static const char shstr[] = "\0.rodata\0.BTF\0.shstrtab";
	struct fx_buf ro = {.va = FX_RODATA}, f = {0};
	Elf64_Ehdr eh = {0};
	Elf64_Phdr ph = {0};
	Elf64_Shdr sh[4] = {{0}};
	size_t ro_off = 0x1000, btf_off, str_off, sh_off;

	fx_put(&ro, FX_BANNER, sizeof(FX_BANNER));
	fx_kallsyms(&ro, s, n, FX_61_SEQS);
	btf_off = ro_off + ro.len;
	str_off = btf_off + btf_len;
	sh_off = (str_off + sizeof(shstr) + 7) & ~(size_t)7;

	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_phoff = sizeof(eh);
	eh.e_shoff = sh_off;
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(ph);
	eh.e_phnum = 1;
	eh.e_shentsize = sizeof(sh[0]);
	eh.e_shnum = 4;
	eh.e_shstrndx = 3;
	ph = (Elf64_Phdr){.p_type = PT_LOAD,
			  .p_offset = ro_off,
			  .p_vaddr = FX_RODATA,
			  .p_filesz = ro.len,
			  .p_memsz = ro.len};
	sh[1] = (Elf64_Shdr){.sh_name = 1,
			     .sh_type = SHT_PROGBITS,
			     .sh_addr = FX_RODATA,
			     .sh_offset = ro_off,
			     .sh_size = ro.len};
	sh[2] = (Elf64_Shdr){
	    .sh_name = 9, .sh_type = SHT_PROGBITS, .sh_offset = btf_off, .sh_size = btf_len};
	sh[3] = (Elf64_Shdr){
	    .sh_name = 14, .sh_type = SHT_STRTAB, .sh_offset = str_off, .sh_size = sizeof(shstr)};

	fx_put(&f, &eh, sizeof(eh));
	fx_put(&f, &ph, sizeof(ph));
	while (f.len < ro_off)
		fx_u8(&f, 0);
	fx_put(&f, ro.p, ro.len);
	fx_put(&f, btf, btf_len);
	fx_put(&f, shstr, sizeof(shstr));
	while (f.len < sh_off)
		fx_u8(&f, 0);
	fx_put(&f, sh, sizeof(sh));
	free(ro.p);
	*len = f.len;
	return f.p;
}

/* ---------------------------------------------------------------- BTF */

/*
 * struct list_head { struct list_head *next, *prev; };
 * struct sched_entity { u64 vruntime; u64 sum_exec_runtime; };
 * typedef struct sched_entity se_t;
 * struct task_struct {
 *	int pid;                                     0
 *	unsigned flags:3, in_execve:1;               4 (bitfields)
 *	struct list_head tasks;                      8
 *	const se_t se;                               24
 *	union { u64 a; struct { u32 lo, hi; }; };    40 (anonymous)
 *	char comm[16];                               48
 * };                                             64
 * enum pid_type { PIDTYPE_PID, PIDTYPE_TGID, PIDTYPE_PGID };
 * enum { TCP_ESTABLISHED = 1, TCP_LISTEN = 10 };
 */
static inline struct btf *fx_btf(void)
{
	struct btf *b = btf__new_empty();
	int u32, u64, i32, ch, lh, lhp, se, se_td, se_c, anon_s, anon_u, arr, ts, pt;

	u32 = btf__add_int(b, "unsigned int", 4, 0);
	u64 = btf__add_int(b, "long long unsigned int", 8, 0);
	i32 = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
	ch = btf__add_int(b, "char", 1, BTF_INT_CHAR);

	/* fields attach to the last type added: the pointer goes first, to the next id */
	lhp = btf__add_ptr(b, (int)btf__type_cnt(b) + 1);
	lh = btf__add_struct(b, "list_head", 16);
	btf__add_field(b, "next", lhp, 0, 0);
	btf__add_field(b, "prev", lhp, 64, 0);

	se = btf__add_struct(b, "sched_entity", 16);
	btf__add_field(b, "vruntime", u64, 0, 0);
	btf__add_field(b, "sum_exec_runtime", u64, 64, 0);
	se_td = btf__add_typedef(b, "se_t", se);
	se_c = btf__add_const(b, se_td);

	anon_s = btf__add_struct(b, NULL, 8);
	btf__add_field(b, "lo", u32, 0, 0);
	btf__add_field(b, "hi", u32, 32, 0);
	anon_u = btf__add_union(b, NULL, 8);
	btf__add_field(b, "a", u64, 0, 0);
	btf__add_field(b, NULL, anon_s, 0, 0);

	arr = btf__add_array(b, u32, ch, 16);

	ts = btf__add_struct(b, "task_struct", 64);
	btf__add_field(b, "pid", i32, 0, 0);
	btf__add_field(b, "flags", u32, 32, 3);
	btf__add_field(b, "in_execve", u32, 35, 1);
	btf__add_field(b, "tasks", lh, 64, 0);
	btf__add_field(b, "se", se_c, 192, 0);
	btf__add_field(b, NULL, anon_u, 320, 0);
	btf__add_field(b, "comm", arr, 384, 0);

	pt = btf__add_enum(b, "pid_type", 4);
	btf__add_enum_value(b, "PIDTYPE_PID", 0);
	btf__add_enum_value(b, "PIDTYPE_TGID", 1);
	btf__add_enum_value(b, "PIDTYPE_PGID", 2);
	btf__add_enum(b, NULL, 4);
	btf__add_enum_value(b, "TCP_ESTABLISHED", 1);
	btf__add_enum_value(b, "TCP_LISTEN", 10);
	(void)pt;
	(void)ts;
	return b;
}

#endif
