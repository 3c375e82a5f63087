/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz_common.h - shared bits of the libFuzzer harnesses (tests/fuzz/README.md). */
#ifndef VMT_FUZZ_COMMON_H
#define VMT_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "vmemtrans.h"

/* The library logs every rejected input: keep the fuzzer's output readable. */
static inline void fuzz_quiet(void)
{
	if (!getenv("VMT_FUZZ_VERBOSE")) {
		vmt_set_log(NULL, NULL, VMT_LOG_ERROR);
		libbpf_set_print(NULL); /* "BTF type [n] is malformed" on every bad blob */
	}
}

#endif
