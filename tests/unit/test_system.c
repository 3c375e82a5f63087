// SPDX-License-Identifier: LGPL-2.1-or-later
/* test_system.c - the system-wide walkers over a fake guest (being written). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

int main(void)
{
	return 77;
}
