// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * plot_xy.c - a generic x/y plot for the sections whose x is not a chunk
 * size: per series a block of the data file (x, median, min, max), a
 * gnuplot script beside it and the PNG.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/scale.h"

static int xy_dat(const char *path, const struct bench_xy_series *s, unsigned ns)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return bench_fail(-errno, "%s: %s", path, strerror(errno));
	for (unsigned i = 0; i < ns; i++) {
		fprintf(f, "# %s\n", s[i].title);
		for (size_t k = 0; k < s[i].n; k++)
			fprintf(f, "%g %.3f %.3f %.3f\n", s[i].x[k], s[i].y[k],
				s[i].lo ? s[i].lo[k] : s[i].y[k], s[i].hi ? s[i].hi[k] : s[i].y[k]);
		fputs("\n\n", f);
	}
	return fclose(f) ? bench_fail(-EIO, "%s: write failed", path) : 0;
}

static int xy_gp(const char *gp, const char *dat, const char *png, const struct bench_xy_plot *p,
		 const struct bench_xy_series *s, unsigned ns)
{
	FILE *f = fopen(gp, "w");

	if (!f)
		return bench_fail(-errno, "%s: %s", gp, strerror(errno));
	fprintf(f,
		"set terminal pngcairo size 960,680 noenhanced\nset output '%s'\n"
		"set title '%s'\n%sset xlabel '%s'\nset ylabel '%s'\nset yrange [0:*]\n"
		"set key outside below\nset grid\nset offsets graph 0.03, graph 0.03, 0, 0\n",
		png, p->title, p->logx ? "set logscale x 2\n" : "", p->xlabel, p->ylabel);
	for (unsigned i = 0; i < ns; i++)
		if (s[i].fit)
			fprintf(f, "f%u(x) = %.9g + %.9g * x\n", i, s[i].a, s[i].b);
	fputs("plot ", f);
	for (unsigned i = 0; i < ns; i++) {
		fprintf(f, "%s'%s' index %u using 1:2:3:4 with yerrorlines lw 2 lc %u title '%s'",
			i ? ", \\\n     " : "", dat, i, i + 1, s[i].title);
		if (s[i].fit)
			fprintf(f, ", \\\n     f%u(x) with lines dt 2 lc %u title 'fit: %s'", i,
				i + 1, s[i].fit_title ? s[i].fit_title : "least squares");
	}
	fputs(ns ? "\n" : "NaN notitle\n", f);
	return fclose(f) ? bench_fail(-EIO, "%s: write failed", gp) : 0;
}

/* gnuplot through env(1), which finds it in PATH: exit 127 when there is none. */
static int run_gnuplot(const char *gp)
{
	char *argv[] = {"/usr/bin/env", "gnuplot", (char *)gp, NULL};
	struct bench_out out = {0};
	int err = bench_run(argv, 60, true, &out);

	if (!err && out.status == 127)
		err = bench_fail(-ENOENT, "gnuplot not found (apt-get install gnuplot-nox)");
	else if (!err && out.status)
		err = bench_fail(-EIO, "gnuplot %s: %s", gp, out.err);
	bench_out_free(&out);
	return err;
}

int bench_plot_xy(const char *dir, const struct bench_xy_plot *p, const struct bench_xy_series *s,
		  unsigned ns)
{
	char dat[4096], gp[4096], png[4096];
	int err;

	if (strchr(dir, '\''))
		return bench_fail(-EINVAL, "results folder names with ' are not plotted");
	snprintf(dat, sizeof(dat), "%s/%s.dat", dir, p->name);
	snprintf(gp, sizeof(gp), "%s/%s.gp", dir, p->name);
	snprintf(png, sizeof(png), "%s/%s.png", dir, p->name);
	err = xy_dat(dat, s, ns);
	if (!err)
		err = xy_gp(gp, dat, png, p, s, ns);
	return err ? err : run_gnuplot(gp);
}
