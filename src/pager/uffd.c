// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * uffd.c - the pager's userfaultfd: features probed with UFFDIO_API, the
 * memory file's mapping registered for missing and write-protect faults,
 * and the ioctls that install pages and (un)protect them.  Every install
 * tolerates EEXIST (someone installed the page first: wake instead).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pager/pager.h"

#ifndef UFFD_FEATURE_WP_HUGETLBFS_SHMEM
#define UFFD_FEATURE_WP_HUGETLBFS_SHMEM (1 << 12)
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif

static int uffd_api(int fd, uint64_t want, uint64_t *have)
{
	struct uffdio_api api = {.api = UFFD_API, .features = want};

	if (ioctl(fd, UFFDIO_API, &api) < 0)
		return -errno;
	*have = api.features;
	return 0;
}

static int uffd_new(void)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	return fd < 0 ? -errno : fd;
}

int pager_uffd_open(void)
{
	uint64_t avail = 0, want, have = 0;
	int fd = uffd_new(), err;

	if (fd < 0)
		return fd;
	/* UFFDIO_API takes once per descriptor: probe on one, then open the real one. */
	err = uffd_api(fd, 0, &avail);
	close(fd);
	if (err)
		return err;
	if (!(avail & UFFD_FEATURE_MISSING_SHMEM))
		return -EOPNOTSUPP;
	want = avail & (UFFD_FEATURE_MISSING_SHMEM | UFFD_FEATURE_WP_HUGETLBFS_SHMEM |
			UFFD_FEATURE_WP_UNPOPULATED);
	fd = uffd_new();
	if (fd < 0)
		return fd;
	err = uffd_api(fd, want, &have);
	if (err) {
		close(fd);
		return err;
	}
	g.uffd = fd;
	g.have_wp = (have & UFFD_FEATURE_WP_HUGETLBFS_SHMEM) != 0;
	pager_log("userfaultfd features 0x%llx of 0x%llx", (unsigned long long)have,
		  (unsigned long long)avail);
	return 0;
}

int pager_uffd_register(void *addr, uint64_t len)
{
	struct uffdio_register r = {
	    .range = {.start = (uint64_t)(uintptr_t)addr, .len = len},
	    .mode = UFFDIO_REGISTER_MODE_MISSING | (g.have_wp ? UFFDIO_REGISTER_MODE_WP : 0),
	};

	if (ioctl(g.uffd, UFFDIO_REGISTER, &r) < 0 && g.have_wp) {
		/* Write-protect mode refused: page without clean copies and without a cap. */
		pager_log("UFFDIO_REGISTER with WP: %s; retrying without", strerror(errno));
		g.have_wp = false;
		r.mode = UFFDIO_REGISTER_MODE_MISSING;
		if (ioctl(g.uffd, UFFDIO_REGISTER, &r) < 0)
			return -errno;
	} else if (!g.have_wp && ioctl(g.uffd, UFFDIO_REGISTER, &r) < 0) {
		return -errno;
	}
	if (!(r.ioctls & (1ull << _UFFDIO_COPY)))
		return -EOPNOTSUPP;
	g.have_zeropage = (r.ioctls & (1ull << _UFFDIO_ZEROPAGE)) != 0;
	if (g.have_wp && !(r.ioctls & (1ull << _UFFDIO_WRITEPROTECT)))
		g.have_wp = false;
	if (!g.have_wp && g.cap_chunks) {
		pager_log("no write-protect on this mapping: page-out disabled, cap ignored");
		g.cap_chunks = 0;
	}
	return 0;
}

int pager_uffd_copy(uint64_t dst, const void *src, uint64_t len, bool wp)
{
	struct uffdio_copy c = {
	    .dst = dst,
	    .src = (uint64_t)(uintptr_t)src,
	    .len = len,
	    .mode = wp && g.have_wp ? UFFDIO_COPY_MODE_WP : 0,
	};

	if (ioctl(g.uffd, UFFDIO_COPY, &c) == 0)
		return 0;
	return -errno;
}

int pager_uffd_zero(uint64_t dst)
{
	static const char zero[PAGER_PAGE] __attribute__((aligned(PAGER_PAGE)));
	struct uffdio_zeropage z = {.range = {.start = dst, .len = PAGER_PAGE}};

	if (!g.have_zeropage)
		return pager_uffd_copy(dst, zero, PAGER_PAGE, false);
	if (ioctl(g.uffd, UFFDIO_ZEROPAGE, &z) == 0)
		return 0;
	return -errno;
}

int pager_uffd_wp(uint64_t start, uint64_t len, bool protect)
{
	struct uffdio_writeprotect w = {
	    .range = {.start = start, .len = len},
	    .mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	if (!g.have_wp)
		return 0;
	while (ioctl(g.uffd, UFFDIO_WRITEPROTECT, &w) < 0) {
		if (errno != EAGAIN)
			return -errno;
	}
	return 0;
}

int pager_uffd_wake(uint64_t start, uint64_t len)
{
	struct uffdio_range r = {.start = start, .len = len};

	return ioctl(g.uffd, UFFDIO_WAKE, &r) < 0 ? -errno : 0;
}
