// SPDX-License-Identifier: LGPL-2.1-or-later
/* cmd_netstat.c - `vmt netstat`: the guest's sockets, read from its memory. */
#include <arpa/inet.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "cli.h"

static const char netstat_help[] =
    "usage: vmt netstat [options]\n\n"
    "List the guest's sockets from its memory (the kernel's TCP, UDP and UNIX\n"
    "hash tables), like `netstat -an`.  Without -t/-u/-x all kinds are shown.\n\n"
    "options:\n"
    "  -t, --tcp          TCP sockets (IPv4 and IPv6)\n"
    "  -u, --udp          UDP sockets\n"
    "  -x, --unix         UNIX domain sockets\n"
    "  -l, --listening    only listening sockets\n"
    "  -N, --all-netns    sockets of every network namespace (default: the\n"
    "                     initial one, as the guest's /proc/net shows)\n" CLI_TARGET_HELP;

static const char *const tcp_states[] = {
    "",	     "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",	 "TIME_WAIT",
    "CLOSE", "CLOSE_WAIT",  "LAST_ACK", "LISTEN",   "CLOSING",	 "NEW_SYN_RECV",
};

static const char *const proto_names[] = {"?", "tcp", "udp", "tcp6", "udp6", "unix"};

#define NS_TCP	1u
#define NS_UDP	2u
#define NS_UNIX 4u

static const char *state_name(const struct vmt_socket *s)
{
	/* net-tools netstat: SS_CONNECTING 2, SS_CONNECTED 3, SS_DISCONNECTING 4 */
	static const char *const unix_states[] = {"", "", "CONNECTING", "CONNECTED",
						  "DISCONNECTING"};

	if (s->proto == VMT_SOCK_UNIX) {
		if (s->unix_flags & (1u << 16))
			return "LISTENING";
		return s->state >= 0 && s->state < 5 ? unix_states[s->state] : "";
	}
	if (s->proto == VMT_SOCK_UDP || s->proto == VMT_SOCK_UDP6)
		return s->state == 1 ? "ESTABLISHED" : "";
	return s->state > 0 && s->state < 13 ? tcp_states[s->state] : "UNKNOWN";
}

static bool is_v6(const struct vmt_socket *s)
{
	return s->proto == VMT_SOCK_TCP6 || s->proto == VMT_SOCK_UDP6;
}

static void fmt_addr(const struct vmt_socket *s, const uint8_t *addr, char *out, size_t cap)
{
	inet_ntop(is_v6(s) ? AF_INET6 : AF_INET, addr, out, (socklen_t)cap);
}

struct ns_filter {
	unsigned kinds;
	bool listening;
	uint32_t netns; /* 0: all namespaces */
};

static bool ns_selected(const struct vmt_socket *s, const struct ns_filter *f)
{
	unsigned kinds = f->kinds;
	bool listening = f->listening;

	unsigned k = s->proto == VMT_SOCK_UNIX				     ? NS_UNIX
		     : s->proto == VMT_SOCK_UDP || s->proto == VMT_SOCK_UDP6 ? NS_UDP
									     : NS_TCP;

	if (!(kinds & k))
		return false;
	/* One namespace: a socket whose namespace is unknown may be another's. */
	if (f->netns && s->netns_ino != f->netns)
		return false;
	if (!listening)
		return true;
	if (k == NS_TCP)
		return s->state == 10;
	if (k == NS_UNIX)
		return s->unix_flags & (1u << 16);
	return s->state == 7; /* unconnected UDP is TCP_CLOSE */
}

static json_object *ns_json(const struct vmt_socket *s)
{
	json_object *o = json_object_new_object();
	char a[INET6_ADDRSTRLEN];

	json_object_object_add(o, "proto", json_object_new_string(proto_names[s->proto]));
	json_object_object_add(o, "state", json_object_new_int(s->state));
	json_object_object_add(o, "state_name", json_object_new_string(state_name(s)));
	json_object_object_add(o, "uid", json_object_new_int64(s->uid));
	json_object_object_add(o, "inode", json_object_new_uint64(s->inode));
	json_object_object_add(o, "netns", json_object_new_int64(s->netns_ino));
	if (s->proto == VMT_SOCK_UNIX) {
		json_object_object_add(o, "type", json_object_new_int(s->unix_type));
		json_object_object_add(o, "flags", json_object_new_int64(s->unix_flags));
		json_object_object_add(o, "path", json_object_new_string(s->path));
		return o;
	}
	fmt_addr(s, s->laddr, a, sizeof(a));
	json_object_object_add(o, "local", json_object_new_string(a));
	json_object_object_add(o, "lport", json_object_new_int(s->lport));
	fmt_addr(s, s->raddr, a, sizeof(a));
	json_object_object_add(o, "remote", json_object_new_string(a));
	json_object_object_add(o, "rport", json_object_new_int(s->rport));
	json_object_object_add(o, "tx_queue", json_object_new_int64(s->tx_queue));
	json_object_object_add(o, "rx_queue", json_object_new_int64(s->rx_queue));
	return o;
}

static void ns_print_inet(const struct vmt_socket *s)
{
	char la[INET6_ADDRSTRLEN], ra[INET6_ADDRSTRLEN], l[64], r[64];

	fmt_addr(s, s->laddr, la, sizeof(la));
	fmt_addr(s, s->raddr, ra, sizeof(ra));
	snprintf(l, sizeof(l), "%s:%u", la, s->lport);
	if (s->rport)
		snprintf(r, sizeof(r), "%s:%u", ra, s->rport);
	else
		snprintf(r, sizeof(r), "%s:*", ra);
	printf("%-5s %6u %6u %-39s %-39s %-11s %5u %llu\n", proto_names[s->proto], s->rx_queue,
	       s->tx_queue, l, r, state_name(s), s->uid, (unsigned long long)s->inode);
}

static void ns_print(const struct vmt_socket_list *l, const struct ns_filter *f, bool json)
{
	unsigned kinds = f->kinds;

	json_object *a = json ? json_object_new_array() : NULL;

	if (!json && (kinds & (NS_TCP | NS_UDP)))
		printf("%-5s %6s %6s %-39s %-39s %-11s %5s %s\n", "Proto", "Recv-Q", "Send-Q",
		       "Local Address", "Foreign Address", "State", "UID", "Inode");
	for (size_t i = 0; i < l->n; i++) {
		const struct vmt_socket *s = &l->socks[i];

		if (!ns_selected(s, f))
			continue;
		if (json)
			json_object_array_add(a, ns_json(s));
		else if (s->proto != VMT_SOCK_UNIX)
			ns_print_inet(s);
	}
	if (json) {
		puts(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN));
		json_object_put(a);
		return;
	}
	if (!(kinds & NS_UNIX))
		return;
	printf("%-5s %-6s %-11s %-10s %5s %s\n", "Proto", "Type", "State", "Inode", "UID", "Path");
	for (size_t i = 0; i < l->n; i++) {
		const struct vmt_socket *s = &l->socks[i];

		if (s->proto == VMT_SOCK_UNIX && ns_selected(s, f))
			printf("%-5s %-6s %-11s %-10llu %5u %s\n", "unix",
			       s->unix_type == SOCK_STREAM	? "STREAM"
			       : s->unix_type == SOCK_DGRAM	? "DGRAM"
			       : s->unix_type == SOCK_SEQPACKET ? "SEQPACKET"
								: "?",
			       state_name(s), (unsigned long long)s->inode, s->uid, s->path);
	}
}

int cmd_netstat(int argc, char **argv)
{
	static const struct option longopts[] = {
	    CLI_TARGET_LONGOPTS,
	    {"tcp", no_argument, NULL, 't'},
	    {"udp", no_argument, NULL, 'u'},
	    {"unix", no_argument, NULL, 'x'},
	    {"listening", no_argument, NULL, 'l'},
	    {"all-netns", no_argument, NULL, 'N'},
	    {0},
	};
	struct cli_target t = {0};
	struct vmt_socket_list *l = NULL;
	struct vmt_guest *g;
	struct ns_filter f = {0};
	bool all_netns = false;
	bool partial;
	double t0;
	int c, err;

	while ((c = getopt_long(argc, argv, "tuxlanNh", longopts, NULL)) != -1) {
		if (cli_target_opt(&t, c, optarg))
			continue;
		switch (c) {
		case 't':
			f.kinds |= NS_TCP;
			break;
		case 'u':
			f.kinds |= NS_UDP;
			break;
		case 'x':
			f.kinds |= NS_UNIX;
			break;
		case 'l':
			f.listening = true;
			break;
		case 'N':
			all_netns = true;
			break;
		case 'a': /* netstat habits: all and numeric are what we do anyway */
		case 'n':
			break;
		case 'h':
		case OPT_HELP:
			fputs(netstat_help, stdout);
			return EXIT_OK;
		default:
			fputs(netstat_help, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		cli_err("netstat", "unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (cli_target_check("netstat", &t))
		return EXIT_USAGE;
	t0 = cli_now_ms();
	g = cli_target_open("netstat", &t);
	if (!g)
		return EXIT_FAIL;
	vmt_listing_begin(g);
	err = vmt_sockets(g, &l);
	vmt_listing_end(g);
	if (err && !l)
		cli_err("netstat", "%s", vmt_last_error());
	if (l) {
		if (!f.kinds)
			f.kinds = NS_TCP | NS_UDP | NS_UNIX;
		f.netns = all_netns ? 0 : l->init_netns_ino;
		ns_print(l, &f, t.json);
	}
	partial = l && (l->flags & (VMT_F_PARTIAL | VMT_F_TRUNCATED));
	if (l && (l->flags & VMT_F_PARTIAL))
		cli_err("netstat", "socket tables are corrupt, listing is incomplete: %s",
			vmt_last_error());
	else if (partial)
		cli_err("netstat", "socket tables exceed vmt's bounds, listing is truncated");
	cli_target_stats(&t, g, cli_now_ms() - t0);
	vmt_socket_list_free(l);
	if (cli_target_close(&t, g))
		partial = true;
	return err || partial ? EXIT_FAIL : EXIT_OK;
}
