/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hosts_priv.h - what the files of src/hosts share: running external tools
 * (ip, tc, nbdkit) by fork+execvp with an argv array, never a shell, and
 * small process helpers.
 */
#ifndef VMT_HOSTS_PRIV_H
#define VMT_HOSTS_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define HOSTS_RUN_TIMEOUT_MS 30000

/*
 * Run argv[0] (looked up in PATH) with argv, stdin from /dev/null, and wait
 * at most HOSTS_RUN_TIMEOUT_MS.  Its stdout goes to out (NUL-terminated,
 * cut at out_sz; out may be NULL), its stderr to err (same).  Returns 0 if
 * it exited 0, -EIO if it failed (err says why), -ETIMEDOUT, or the errno
 * of fork/exec.
 */
int hosts_run(char *const argv[], char *out, size_t out_sz, char *err, size_t err_sz);

/* hosts_run(), and on failure vmt_error() naming the command and its stderr. */
int hosts_run_err(char *const argv[], char *out, size_t out_sz);

/* Is pid alive (exists, not a zombie) and does its command line contain needle? */
bool hosts_pid_matches(pid_t pid, const char *needle);

/* SIGTERM pid, wait up to ms for it to go, then SIGKILL; true if it is gone. */
bool hosts_pid_stop(pid_t pid, int ms);

/* Read a decimal pid from a file; 0 if absent or malformed. */
pid_t hosts_pid_read(const char *path);

void hosts_sleep_ms(int ms);
long long hosts_now_ms(void);

/* mkdir -p with mode for the parts it makes. */
int hosts_mkdir_p(const char *path, mode_t mode);

/* Can something connect to ADDR:PORT (TCP) from the current network namespace? */
bool hosts_tcp_answers(const char *host, unsigned port, int timeout_ms);

#endif
