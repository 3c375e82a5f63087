// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * render_basic.c - the basic files of the shadow /proc: per task cmdline,
 * environ and comm; system-wide uptime, version, modules and
 * net/{tcp,tcp6,udp,udp6,unix}.  Formats follow Linux 6.1 (fs/proc/,
 * net/ipv4/tcp_ipv4.c, net/ipv6/tcp_ipv6.c, net/ipv4/udp.c,
 * net/ipv6/datagram.c, net/unix/af_unix.c, kernel/module/procfs.c).
 *
 * What memory cannot give is written as the kernel would for a quiet
 * socket: timers, retransmits, rto/ato, cwnd and drops are 0, and the
 * "pointer" columns (hashed %pK in the guest) show the object's real
 * address.  UDP's "sl" is the hash bucket in the guest; here it is the
 * row's index (neither netstat nor ss reads it).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "procfs/render_basic.h"

#define NSEC_PER_SEC 1000000000ull

/* ------------------------------------------------------------ per task */

int pfs_basic_task_fill(struct pfs_tree *tr, const struct pfs_ctx *c, const struct vmt_task *t,
			struct pfs_node *dir)
{
	struct textbuf b;
	int err;

	(void)c;
	err = pfs_file(tr, dir, "cmdline", 0444, t->cmdline ? t->cmdline : "",
		       t->cmdline ? t->cmdline_len : 0);
	if (!err)
		err = pfs_file(tr, dir, "environ", 0400, t->environ ? t->environ : "",
			       t->environ ? t->environ_len : 0);
	if (err)
		return err;
	/* proc_task_name(): the kthread's or workqueue worker's full name, as status's Name. */
	pfs_tb_take(tr, &b);
	tb_put(&b, t->name[0] ? t->name : t->comm, strlen(t->name[0] ? t->name : t->comm));
	tb_put(&b, "\n", 1);
	err = pfs_file_tb(tr, dir, "comm", 0644, &b);
	pfs_tb_give(tr, &b);
	return err;
}

/* ------------------------------------------------------------ system */

void pfs_render_uptime(struct textbuf *b, uint64_t uptime_ns, uint64_t idle_ns)
{
	tb_printf(b, "%llu.%02llu %llu.%02llu\n", (unsigned long long)(uptime_ns / NSEC_PER_SEC),
		  (unsigned long long)(uptime_ns % NSEC_PER_SEC / (NSEC_PER_SEC / 100)),
		  (unsigned long long)(idle_ns / NSEC_PER_SEC),
		  (unsigned long long)(idle_ns % NSEC_PER_SEC / (NSEC_PER_SEC / 100)));
}

/*
 * linux_proc_banner is "%s version %s (BY@HOST) (COMPILER) %s\n" over
 * utsname's sysname, release and version; the build part in the middle is
 * only in linux_banner, which the kernel wrote from the same strings.
 */
void pfs_render_version(struct textbuf *b, const struct vmt_sysinfo *si, const char *banner)
{
	const char *mid = NULL, *end = NULL;
	char head[160];
	size_t vlen = strlen(si->version);

	snprintf(head, sizeof(head), "Linux version %s ", si->release);
	if (banner && !strncmp(banner, head, strlen(head))) {
		mid = banner + strlen(head);
		end = vlen ? strstr(mid, si->version) : NULL;
	}
	tb_printf(b, "%s version %s ", si->sysname[0] ? si->sysname : "Linux", si->release);
	if (mid && end)
		tb_put(b, mid, (size_t)(end - mid));
	tb_printf(b, "%s\n", si->version);
}

/* m_show(): NAME SIZE REFCNT USERS STATE 0xBASE[ (TAINTS)] */
void pfs_render_modules(struct textbuf *b, const struct vmt_module_list *l)
{
	for (size_t i = 0; l && i < l->n; i++) {
		const struct vmt_module *m = &l->mods[i];

		tb_printf(b, "%s %llu %d %s %s 0x%016llx", m->name, (unsigned long long)m->size,
			  m->refcnt, m->deps[0] ? m->deps : "-", m->state[0] ? m->state : "Live",
			  (unsigned long long)m->base);
		if (m->taints[0])
			tb_printf(b, " %s", m->taints);
		tb_put(b, "\n", 1);
	}
}

/* An address word as the kernel prints __be32 with %08X on little-endian x86. */
static unsigned le32_of(const uint8_t *p)
{
	return (unsigned)p[0] | (unsigned)p[1] << 8 | (unsigned)p[2] << 16 | (unsigned)p[3] << 24;
}

static void net_addr(struct textbuf *b, const uint8_t *a, uint16_t port, bool v6)
{
	if (v6)
		tb_printf(b, "%08X%08X%08X%08X:%04X", le32_of(a), le32_of(a + 4), le32_of(a + 8),
			  le32_of(a + 12), port);
	else
		tb_printf(b, "%08X:%04X", le32_of(a), port);
}

/* seq_pad() of the IPv4 files: every line is width-1 characters, then '\n'. */
static void pad_line(struct textbuf *b, size_t start, size_t width)
{
	static const char spaces[160] = {[0 ... 159] = ' '};
	size_t used = b->len - start;

	if (!b->err && used < width - 1)
		tb_put(b, spaces, width - 1 - used);
	tb_put(b, "\n", 1);
}

#define TCP_TIME_WAIT 6
#define TCP_SYN_RECV  3
#define TCP_LISTEN    10

static void tcp_row(struct textbuf *b, const struct vmt_socket *s, size_t i, bool v6)
{
	tb_printf(b, "%4zu: ", i);
	net_addr(b, s->laddr, s->lport, v6);
	tb_put(b, " ", 1);
	net_addr(b, s->raddr, s->rport, v6);
	if (s->state == TCP_TIME_WAIT) { /* get_timewait4_sock() */
		tb_printf(b, " %02X %08X:%08X %02X:%08lX %08X %5d %8d %d %d %016llx", s->state, 0,
			  0, 3, 0ul, 0, 0, 0, 0, (int)s->refcnt, (unsigned long long)s->kva);
	} else if (s->state == TCP_SYN_RECV && !s->inode) { /* get_openreq4() */
		tb_printf(b, " %02X %08X:%08X %02X:%08lX %08X %5u %8d %u %d %016llx", s->state, 0,
			  0, 1, 0ul, 0, s->uid, 0, 0, 0, (unsigned long long)s->kva);
	} else {
		tb_printf(
		    b, " %02X %08X:%08X %02X:%08lX %08X %5u %8d %llu %d %016llx %lu %lu %u %u %d",
		    s->state, s->tx_queue, s->rx_queue, 0, 0ul, 0, s->uid, 0,
		    (unsigned long long)s->inode, (int)s->refcnt, (unsigned long long)s->kva, 0ul,
		    0ul, 0u, 0u, s->state == TCP_LISTEN ? 0 : -1);
	}
}

static void udp_row(struct textbuf *b, const struct vmt_socket *s, size_t i, bool v6)
{
	tb_printf(b, "%5zu: ", i);
	net_addr(b, s->laddr, s->lport, v6);
	tb_put(b, " ", 1);
	net_addr(b, s->raddr, s->rport, v6);
	tb_printf(b, " %02X %08X:%08X %02X:%08lX %08X %5u %8d %llu %d %016llx %u", s->state,
		  s->tx_queue, s->rx_queue, 0, 0ul, 0, s->uid, 0, (unsigned long long)s->inode,
		  (int)s->refcnt, (unsigned long long)s->kva, 0u);
}

/* unix_seq_show(): the path's NULs (abstract names) are '@', as the walker keeps them. */
static void unix_row(struct textbuf *b, const struct vmt_socket *s)
{
	tb_printf(b, "%016llx: %08X %08X %08X %04X %02X %5llu", (unsigned long long)s->kva,
		  s->refcnt, 0, s->unix_flags, (unsigned)s->unix_type, (unsigned)s->state,
		  (unsigned long long)s->inode);
	if (s->path[0])
		tb_printf(b, " %s", s->path);
	tb_put(b, "\n", 1);
}

static const char tcp4_head[] = "  sl  local_address rem_address   st tx_queue rx_queue tr "
				"tm->when retrnsmt   uid  timeout inode";
static const char udp4_head[] = "   sl  local_address rem_address   st tx_queue rx_queue tr "
				"tm->when retrnsmt   uid  timeout inode ref pointer drops";
static const char tcp6_head[] = "  sl  local_address                         remote_address   "
				"                     st tx_queue rx_queue tr tm->when retrnsmt"
				"   uid  timeout inode\n";
static const char udp6_head[] = "  sl  local_address                         remote_address   "
				"                     st tx_queue rx_queue tr tm->when retrnsmt"
				"   uid  timeout inode ref pointer drops\n";
static const char unix_head[] = "Num       RefCount Protocol Flags    Type St Inode Path\n";

static void net_head(struct textbuf *b, int proto)
{
	size_t start = b->len;

	switch (proto) {
	case VMT_SOCK_TCP:
		tb_put(b, tcp4_head, sizeof(tcp4_head) - 1);
		pad_line(b, start, 150);
		break;
	case VMT_SOCK_UDP:
		tb_put(b, udp4_head, sizeof(udp4_head) - 1);
		pad_line(b, start, 128);
		break;
	case VMT_SOCK_TCP6:
		tb_put(b, tcp6_head, sizeof(tcp6_head) - 1);
		break;
	case VMT_SOCK_UDP6:
		tb_put(b, udp6_head, sizeof(udp6_head) - 1);
		break;
	default:
		tb_put(b, unix_head, sizeof(unix_head) - 1);
		break;
	}
}

void pfs_render_net(struct textbuf *b, const struct vmt_socket_list *l, int proto, uint32_t netns)
{
	size_t row = 0;

	net_head(b, proto);
	for (size_t i = 0; l && i < l->n; i++) {
		const struct vmt_socket *s = &l->socks[i];
		size_t start = b->len;

		if (s->proto != proto || (netns && s->netns_ino && s->netns_ino != netns))
			continue;
		switch (proto) {
		case VMT_SOCK_TCP:
			tcp_row(b, s, row, false);
			pad_line(b, start, 150);
			break;
		case VMT_SOCK_TCP6:
			tcp_row(b, s, row, true);
			tb_put(b, "\n", 1);
			break;
		case VMT_SOCK_UDP:
			udp_row(b, s, row, false);
			pad_line(b, start, 128);
			break;
		case VMT_SOCK_UDP6:
			udp_row(b, s, row, true);
			tb_put(b, "\n", 1);
			break;
		default:
			unix_row(b, s);
			break;
		}
		row++;
	}
}

static int file_of(struct pfs_tree *tr, struct pfs_node *dir, const char *name, struct textbuf *b)
{
	int err = pfs_file_tb(tr, dir, name, 0444, b);

	tb_free(b);
	return err == -EEXIST ? 0 : err;
}

static int net_fill(struct pfs_tree *tr, const struct pfs_ctx *c, struct pfs_node *root)
{
	static const struct {
		const char *name;
		int proto;
	} files[] = {{"tcp", VMT_SOCK_TCP},
		     {"tcp6", VMT_SOCK_TCP6},
		     {"udp", VMT_SOCK_UDP},
		     {"udp6", VMT_SOCK_UDP6},
		     {"unix", VMT_SOCK_UNIX}};
	struct pfs_node *net = pfs_dir(tr, root, "net", 0555, 0, 0);
	struct textbuf b;
	int err = 0;

	if (!net)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]) && !err; i++) {
		tb_init(&b);
		pfs_render_net(&b, c->socks, files[i].proto, c->socks->init_netns_ino);
		err = file_of(tr, net, files[i].name, &b);
	}
	return err;
}

int pfs_basic_system_fill(struct pfs_tree *tr, const struct pfs_ctx *c, struct pfs_node *root)
{
	struct vmt_kernel_info ki;
	struct textbuf b;
	int err = 0;

	if (c->si) {
		tb_init(&b);
		pfs_render_uptime(&b, c->si->uptime_ns, c->idle_ns);
		err = file_of(tr, root, "uptime", &b);
		tb_init(&b);
		if (!c->g || vmt_guest_kernel_info(c->g, &ki))
			ki.banner[0] = '\0';
		pfs_render_version(&b, c->si, ki.banner);
		if (!err)
			err = file_of(tr, root, "version", &b);
		tb_free(&b);
	}
	if (c->mods && !err) {
		tb_init(&b);
		pfs_render_modules(&b, c->mods);
		err = file_of(tr, root, "modules", &b);
	}
	if (c->socks && !err)
		err = net_fill(tr, c, root);
	return err;
}
