// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench_mem.c - cost of the memory layer's hot paths over a synthetic
 * buffer source: an 8-byte vmt_mem_read that hits the cache (same page,
 * and spread over many cached pages), and a translation that hits or
 * misses the TLB.  The target for `vmt ps` is ~100k small reads in a few
 * ms, i.e. tens of ns per read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arch/x86_64.h"
#include "mem/mem.h"

#define RAM_SIZE  (64u << 20)
#define ROOT	  0x1000ull
#define DATA_BASE (8u << 20) /* 4 KiB data pages mapped from here */
#define N_PAGES	  8192u	     /* 32 MiB mapped with 4 KiB pages: twice the 4K TLB */
#define VA_BASE	  0xffff888000000000ull
#define P_RW	  3ull

static uint8_t *ram;
static uint64_t next_table = ROOT + 4096;
static volatile uint64_t sink;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void map_4k(uint64_t va, uint64_t pa)
{
	uint64_t table = ROOT, *e;
	int lvl;

	for (lvl = 4; lvl > 1; lvl--) {
		e = (uint64_t *)(ram + table + ((va >> (12 + 9 * (lvl - 1))) & 511) * 8);
		if (!*e) {
			*e = next_table | P_RW;
			next_table += 4096;
		}
		table = *e & 0x000ffffffffff000ull;
	}
	*(uint64_t *)(ram + table + ((va >> 12) & 511) * 8) = pa | P_RW;
}

static void report(const char *what, double ns, unsigned long n)
{
	printf("%-40s %7.1f ns/op  (%lu ops)\n", what, ns / n, n);
}

static void bench_reads(struct vmt_mem *mem)
{
	const unsigned long n = 20000000;
	uint64_t v, acc = 0;
	unsigned long i;
	double t;

	t = now_ns();
	for (i = 0; i < n; i++) {
		vmt_mem_read(mem, DATA_BASE + (i & 511) * 8, &v, 8);
		acc += v;
	}
	report("mem_read 8B, same page (fast path)", now_ns() - t, n);

	/* warm 4096 pages, then read them round-robin: every read is a hash hit */
	for (i = 0; i < 4096; i++)
		vmt_mem_read(mem, DATA_BASE + i * 4096, &v, 8);
	t = now_ns();
	for (i = 0; i < n; i++) {
		vmt_mem_read(mem, DATA_BASE + ((i * 7) & 4095) * 4096 + 64, &v, 8);
		acc += v;
	}
	report("mem_read 8B, 4096 cached pages (hash)", now_ns() - t, n);
	sink = acc;
}

static void bench_xlate(struct vmt_x86_mmu *mmu, const struct vmt_mem_stats *st)
{
	const unsigned long n = 10000000;
	uint64_t pa, acc = 0, h0, m0;
	unsigned long i;
	double t;

	h0 = st->tlb_hits;
	t = now_ns();
	for (i = 0; i < n; i++) {
		vmt_x86_translate(mmu, ROOT, VA_BASE + (i & 255) * 4096, &pa, NULL);
		acc += pa;
	}
	report("translate, TLB hit", now_ns() - t, n);
	printf("    hits %llu of %lu\n", (unsigned long long)(st->tlb_hits - h0), n);

	/* 8192 pages through a 4096-entry direct-mapped TLB: all conflict misses */
	m0 = st->tlb_misses;
	t = now_ns();
	for (i = 0; i < n; i++) {
		vmt_x86_translate(mmu, ROOT, VA_BASE + (i % N_PAGES) * 4096, &pa, NULL);
		acc += pa;
	}
	report("translate, TLB miss (4 cached PTE reads)", now_ns() - t, n);
	printf("    misses %llu of %lu\n", (unsigned long long)(st->tlb_misses - m0), n);

	t = now_ns();
	for (i = 0; i < n; i++) {
		uint64_t v;

		vmt_x86_read(mmu, ROOT, VA_BASE + (i & 255) * 4096 + 16, &v, 8);
		acc += v;
	}
	report("x86_read 8B, TLB hit", now_ns() - t, n);
	sink = acc;
}

int main(void)
{
	struct vmt_memsrc *src;
	struct vmt_mem *mem;
	struct vmt_x86_mmu *mmu;
	unsigned i;

	ram = calloc(1, RAM_SIZE);
	if (!ram)
		return 1;
	for (i = 0; i < N_PAGES; i++)
		map_4k(VA_BASE + (uint64_t)i * 4096, DATA_BASE + (uint64_t)i * 4096);
	if (vmt_memsrc_buffer_new(ram, RAM_SIZE, &src) || vmt_mem_new(src, 0, &mem)) {
		fprintf(stderr, "bench_mem: setup failed\n");
		return 1;
	}
	if (vmt_x86_mmu_new(mem, 4, &mmu)) {
		fprintf(stderr, "bench_mem: mmu setup failed\n");
		return 1;
	}
	bench_reads(mem);
	bench_xlate(mmu, vmt_mem_stats_ptr(mem));
	vmt_x86_mmu_free(mmu);
	vmt_mem_free(mem);
	free(ram);
	return 0;
}
