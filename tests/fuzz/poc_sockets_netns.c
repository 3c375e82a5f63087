// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * poc_sockets_netns.c - work amplification in vmt_sockets(): K network
 * namespaces on net_namespace_list, each with its own tcp_hashinfo whose
 * ehash and lhash2 arrays claim 2^24 buckets at distinct addresses.  Every
 * bound holds (K <= SOCK_MAX_NETNS, buckets <= SOCK_MAX_BUCKETS), but the
 * work is their product: K * 2 * 2^24 buckets.
 *   poc_sockets_netns [K]      (VMT_TEST_KERNEL=build/guest/vmlinuz)
 * Built like the harnesses (build.sh links it with cmocka); prints the time.
 */
#include <stdarg.h>
#include <setjmp.h>
#include <time.h>
#include <cmocka.h>

#define main vmt_unit_linux_main
#include "../unit/test_linux.c"
#undef main

int main(int argc, char **argv)
{
	int k = argc > 1 ? atoi(argv[1]) : 64;
	struct vmt_socket_list *l = NULL;
	struct net_fake n;
	struct timespec t0, t1;
	struct fake *f;
	uint32_t net_list, hinfo, hi_size;
	uint64_t head;

	if (!profile_load())
		return 77;
	f = fake_new(64ull << 20);
	net_layout(f, &n);
	net_list = off("net", "list");
	hinfo = off("net", "ipv4.tcp_death_row.hashinfo");
	hi_size = off("inet_hashinfo", NULL);
	head = sym("net_namespace_list");
	for (int i = 0; i < k; i++) {
		uint64_t net = kalloc(f, off("net", NULL)), hi = kalloc(f, hi_size);

		put64(f, net + hinfo, hi);
		put64(f, hi + off("inet_hashinfo", "ehash"),
		      PAGE_OFFSET + 0x1000 + 16 * (uint64_t)i);
		put32(f, hi + off("inet_hashinfo", "ehash_mask"), 0xffffff);
		put64(f, hi + off("inet_hashinfo", "lhash2"),
		      PAGE_OFFSET + 0x1008 + 16 * (uint64_t)i);
		put32(f, hi + off("inet_hashinfo", "lhash2_mask"), 0xffffff);
		list_add_tail(f, head, net + net_list);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int err = vmt_sockets(&f->g, &l);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%d netns: vmt_sockets -> %d, %.2f s, %zu sockets, flags %#x\n", k, err,
	       (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9, l ? l->n : 0,
	       l ? l->flags : 0);
	vmt_socket_list_free(l);
	fake_free(f);
	profile_unload();
	return 0;
}
