// SPDX-License-Identifier: LGPL-2.1-or-later
/* stats.c - repetitions reduced to a median and their spread (min/max, IQR). */
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_quantile(const double *v, size_t n, double q)
{
	double pos;
	size_t i;

	if (!n)
		return 0;
	pos = q * (double)(n - 1);
	i = (size_t)pos;
	if (i + 1 >= n)
		return v[n - 1];
	return v[i] + (pos - (double)i) * (v[i + 1] - v[i]);
}

void bench_summarize(double *v, size_t n, struct bench_summary *s)
{
	memset(s, 0, sizeof(*s));
	if (!n)
		return;
	qsort(v, n, sizeof(*v), cmp_double);
	s->n = n;
	s->min = v[0];
	s->max = v[n - 1];
	s->median = bench_quantile(v, n, 0.5);
	s->q1 = bench_quantile(v, n, 0.25);
	s->q3 = bench_quantile(v, n, 0.75);
}

uint64_t bench_xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}
