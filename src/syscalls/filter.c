// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * filter.c - the seccomp filter the tool runs under, and passing its
 * listener to the supervisor.
 *
 * Raw classic BPF, not libseccomp: the filter is installed in the child
 * of a multi-threaded process (vmt exec serves FUSE on threads), between
 * fork and exec, where only async-signal-safe calls are sound; building it
 * needs no allocation here (libseccomp's seccomp_load generates the
 * program with malloc).  The program is short enough to read whole:
 *
 *   arch != x86_64 or an x32 number          -> ENOSYS
 *   socket(AF_NETLINK, *, NETLINK_SOCK_DIAG or NETLINK_ROUTE)
 *                                            -> EPROTONOSUPPORT
 *   ioctl with cmd in 0x8910..0x8971 (SIOC*IF*), prlimit64 of a pid
 *   other than 0, the probes, uname, sysinfo -> the supervisor
 *   anything else                            -> runs natively
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "syscalls/supervisor.h"

#define X32_SYSCALL_BIT	  0x40000000u
#define SIOCIF_FIRST	  0x8910u /* SIOCGIFNAME */
#define SIOCIF_LAST	  0x8971u /* SIOCSIFMAP */
#define ARG_LO(i)	  (offsetof(struct seccomp_data, args) + (i) * sizeof(__u64))
#define CAP_SYS_ADMIN_BIT 21

/* Calls answered from the guest (probes.c, uts.c). */
static const int trapped[] = {
    SYS_kill,
    SYS_tkill,
    SYS_tgkill,
    SYS_rt_sigqueueinfo,
    SYS_rt_tgsigqueueinfo,
    SYS_getpriority,
    SYS_setpriority,
    SYS_getpgid,
    SYS_getsid,
    SYS_sched_getaffinity,
    SYS_sched_setaffinity,
    SYS_sched_getparam,
    SYS_sched_setparam,
    SYS_sched_getscheduler,
    SYS_sched_setscheduler,
    SYS_sched_rr_get_interval,
    SYS_uname,
    SYS_sysinfo,
    SYS_sched_getattr,
    SYS_sched_setattr,
    SYS_ioprio_get,
    SYS_ioprio_set,
    SYS_pidfd_open,
};

#define NTRAP	 (sizeof(trapped) / sizeof(trapped[0]))
#define PROG_MAX (16 + NTRAP + 16)

static struct sock_filter *emit(struct sock_filter *p, __u16 code, __u32 k, __u8 jt, __u8 jf)
{
	*p = (struct sock_filter){code, jt, jf, k};
	return p + 1;
}

/*
 * Layout (classic BPF jumps only forward): [0,9) header; 9+i: call i;
 * T = 9+NTRAP: jump to ALLOW; SOCKET block (6); IOCTL block (3); PRLIMIT
 * block (2); ALLOW; NOTIFY.  Offsets are relative to the next instruction.
 */
static size_t filter_build(struct sock_filter *prog)
{
	const size_t t = 9 + NTRAP, sock = t + 1, ioc = sock + 6, prl = ioc + 3, allow = prl + 2,
		     notify = allow + 1;
	struct sock_filter *p = prog;

	p = emit(p, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch), 0, 0);
	p = emit(p, BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
	p = emit(p, BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS, 0, 0);
	p = emit(p, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr), 0, 0);
	p = emit(p, BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1);
	p = emit(p, BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS, 0, 0);
	p = emit(p, BPF_JMP | BPF_JEQ | BPF_K, SYS_socket, (__u8)(sock - 6 - 1), 0);
	p = emit(p, BPF_JMP | BPF_JEQ | BPF_K, SYS_ioctl, (__u8)(ioc - 7 - 1), 0);
	p = emit(p, BPF_JMP | BPF_JEQ | BPF_K, SYS_prlimit64, (__u8)(prl - 8 - 1), 0);
	for (size_t i = 0; i < NTRAP; i++)
		p = emit(p, BPF_JMP | BPF_JEQ | BPF_K, (__u32)trapped[i],
			 (__u8)(notify - (9 + i) - 1), 0);
	p = emit(p, BPF_JMP | BPF_JA, (__u32)(allow - t - 1), 0, 0);
	/*
	 * socket(): netlink sock_diag and route sockets are refused, as by a
	 * kernel without them: they would ask the host's kernel for its sockets
	 * and interfaces.  ss then reads /proc/net; ip has no fallback (it
	 * fails rather than show the host's links); glibc's getifaddrs and
	 * AI_ADDRCONFIG assume both address families.
	 */
	p = emit(p, BPF_LD | BPF_W | BPF_ABS, ARG_LO(0), 0, 0);
	p = emit(p, BPF_JMP | BPF_JEQ | BPF_K, AF_NETLINK, 0, (__u8)(allow - (sock + 1) - 1));
	p = emit(p, BPF_LD | BPF_W | BPF_ABS, ARG_LO(2), 0, 0);
	p = emit(p, BPF_JMP | BPF_JEQ | BPF_K, NETLINK_SOCK_DIAG, 1, 0);
	p = emit(p, BPF_JMP | BPF_JEQ | BPF_K, NETLINK_ROUTE, 0, (__u8)(allow - (sock + 4) - 1));
	p = emit(p, BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPROTONOSUPPORT, 0, 0);
	/* ioctl(): the interface requests go to the supervisor (the kernel reads cmd as 32 bits).
	 */
	p = emit(p, BPF_LD | BPF_W | BPF_ABS, ARG_LO(1), 0, 0);
	p = emit(p, BPF_JMP | BPF_JGE | BPF_K, SIOCIF_FIRST, 0, (__u8)(allow - (ioc + 1) - 1));
	p = emit(p, BPF_JMP | BPF_JGT | BPF_K, SIOCIF_LAST, (__u8)(allow - (ioc + 2) - 1),
		 (__u8)(notify - (ioc + 2) - 1));
	/* prlimit64(0, ...) is getrlimit/setrlimit of the caller itself: no round trip. */
	p = emit(p, BPF_LD | BPF_W | BPF_ABS, ARG_LO(0), 0, 0);
	p = emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, (__u8)(allow - (prl + 1) - 1),
		 (__u8)(notify - (prl + 1) - 1));
	p = emit(p, BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0);
	p = emit(p, BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF, 0, 0);
	return (size_t)(p - prog);
}

/* CAP_SYS_ADMIN in the effective set (capget: no libcap, no allocation). */
static int has_sys_admin(void)
{
	struct {
		__u32 version;
		int pid;
	} hdr = {0x20080522 /* _LINUX_CAPABILITY_VERSION_3 */, 0};
	struct {
		__u32 effective, permitted, inheritable;
	} data[2];

	if (syscall(SYS_capget, &hdr, data))
		return 0;
	return (data[0].effective >> CAP_SYS_ADMIN_BIT) & 1;
}

int sc_filter_install(void)
{
	static struct sock_filter prog[PROG_MAX];
	struct sock_fprog fp;
	long fd;

	fp.len = (unsigned short)filter_build(prog);
	fp.filter = prog;
	/* Without CAP_SYS_ADMIN the kernel wants no_new_privs; with it, set-uid still works. */
	if (!has_sys_admin() && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &fp);
	return fd < 0 ? -errno : (int)fd;
}

int sc_fd_send(int sock, int fd)
{
	char data = 'L', ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {&data, 1};
	struct msghdr m = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
	struct cmsghdr *cm;

	memset(ctl, 0, sizeof(ctl));
	cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	while (sendmsg(sock, &m, MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

int sc_fd_recv(int sock)
{
	char data, ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {&data, 1};
	struct msghdr m = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
	struct cmsghdr *cm;
	ssize_t n;
	int fd;

	while ((n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC)) < 0)
		if (errno != EINTR)
			return -errno;
	cm = CMSG_FIRSTHDR(&m);
	if (n != 1 || !cm || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len != CMSG_LEN(sizeof(int)))
		return -EPROTO; /* the child failed before sending (it says why on stderr) */
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}
