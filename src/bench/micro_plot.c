// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * micro_plot.c - the plots of `vmt bench micro`, each figure with its
 * limit drawn beside it: latency vs chunk (NBD and TCP request/response),
 * throughput vs chunk (NBD, TCP, the link's rate), the pager's fault to
 * resume vs chunk (the plain 4 KB NBD read, the chunk's NBD read), split
 * time vs guest size (the limit line).  Per plot a .dat (one block per
 * series: x, median, and q1, q3 or min, max), a .gp and the PNG.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bench/micro.h"

struct series {
	const char *section, *metric, *title;
	bool flat; /* one value (param 0, or one param): drawn across the x range */
};

struct plot {
	const char *name, *title, *xlabel, *ylabel;
	bool logy, minmax; /* minmax: error bars min..max (few repetitions), else quartiles */
	double xdiv;	   /* param / xdiv = x */
	struct series s[4];
};

static const struct plot plots[] = {
    {"latency",
     "NBD chunk fetch (src/subhost, TLS-PSK) vs plain TCP request/response, same link",
     "chunk (KiB)",
     "latency, us (median, quartiles)",
     true,
     false,
     1024,
     {{"nbd", "nbd_read_latency", "NBD read (TLS-PSK)", false},
      {"nbd", "tcp_rr_latency", "limit: TCP request/response", false}}},
    {"throughput",
     "NBD chunk fetch throughput, one request in flight, vs TCP and the link",
     "chunk (KiB)",
     "MB/s (median, quartiles)",
     false,
     false,
     1024,
     {{"nbd", "nbd_read_mbs", "NBD read (TLS-PSK)", false},
      {"nbd", "tcp_rr_mbs", "limit: TCP request/response", false},
      {"nbd", "tcp_stream_mbs", "TCP bulk stream", true},
      {"nbd", "link_rate_mbs", "limit: link rate (tc)", true}}},
    {"pager",
     "Pager: fault to resume vs chunk, beside plain NBD reads on the same link",
     "chunk (KiB)",
     "us (median, quartiles)",
     true,
     false,
     1024,
     {{"pager", "pager_fault_latency", "pager fault to resume", false},
      {"pager", "nbd_read_4k_spaced", "limit: plain 4 KB NBD read", true},
      {"pager", "nbd_read_chunk_spaced", "plain NBD read of the chunk", false}}},
    {"split",
     "Split migration time vs guest size (half over two sub-hosts)",
     "guest (MiB)",
     "seconds (median, min..max)",
     false,
     true,
     1048576,
     {{"split", "split_total_s", "total", false},
      {"split", "split_downtime_s", "downtime", false},
      {"split", "split_limit_s", "limit: busiest link bytes / link rate", false}}},
};

static void x_range(const struct micro_results *r, const struct plot *p, double *lo, double *hi)
{
	*lo = 0;
	*hi = 0;
	for (size_t i = 0; i < r->n; i++) {
		const struct micro_row *w = &r->rows[i];
		double x = (double)w->param / p->xdiv;

		if (strcmp(w->section, p->s[0].section) || strcmp(w->metric, p->s[0].metric))
			continue;
		*lo = *lo == 0 || x < *lo ? x : *lo;
		*hi = x > *hi ? x : *hi;
	}
}

/* Blocks of the series with rows; used[k] says which. */
static int write_dat(const struct micro_results *r, const struct plot *p, const char *path,
		     bool *used)
{
	FILE *f = fopen(path, "w");
	double lo, hi;

	if (!f)
		return bench_fail(-errno, "%s: %s", path, strerror(errno));
	x_range(r, p, &lo, &hi);
	for (unsigned k = 0; k < 4 && p->s[k].metric; k++) {
		const struct series *s = &p->s[k];

		used[k] = false;
		for (size_t i = 0; i < r->n; i++) {
			const struct micro_row *w = &r->rows[i];
			double lo_y, hi_y;

			if (strcmp(w->section, s->section) || strcmp(w->metric, s->metric))
				continue;
			if (!used[k])
				fprintf(f, "# %s\n", s->title);
			used[k] = true;
			lo_y = p->minmax ? w->s.min : w->s.q1;
			hi_y = p->minmax ? w->s.max : w->s.q3;
			if (s->flat)
				fprintf(f, "%g %g %g %g\n%g %g %g %g\n", lo, w->s.median, lo_y,
					hi_y, hi, w->s.median, lo_y, hi_y);
			else
				fprintf(f, "%g %g %g %g\n", (double)w->param / p->xdiv, w->s.median,
					lo_y, hi_y);
		}
		if (used[k])
			fputs("\n\n", f);
	}
	return fclose(f) ? bench_fail(-EIO, "%s: write failed", path) : 0;
}

static int write_gp(const struct plot *p, const char *gp, const char *dat, const char *png,
		    const bool *used)
{
	FILE *f = fopen(gp, "w");
	unsigned idx = 0;
	bool first = true;

	if (!f)
		return bench_fail(-errno, "%s: %s", gp, strerror(errno));
	fprintf(
	    f,
	    "set terminal pngcairo size 960,600 noenhanced\nset output '%s'\nset title '%s'\n"
	    "set logscale x 2\nset xlabel '%s'\nset ylabel '%s'\nset key top left\nset grid\n%s",
	    png, p->title, p->xlabel, p->ylabel,
	    p->logy ? "set logscale y 10\n" : "set yrange [0:*]\n");
	fputs("plot ", f);
	for (unsigned k = 0; k < 4 && p->s[k].metric; k++) {
		if (!used[k])
			continue;
		fprintf(f, "%s'%s' index %u using %s lw 2 title '%s'", first ? "" : ", \\\n     ",
			dat, idx++,
			p->s[k].flat ? "1:2 with lines dt 2" : "1:2:3:4 with yerrorlines",
			p->s[k].title);
		first = false;
	}
	fputs(first ? "NaN notitle\n" : "\n", f);
	return fclose(f) ? bench_fail(-EIO, "%s: write failed", gp) : 0;
}

static bool has_rows(const struct micro_results *r, const char *section)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->rows[i].section, section))
			return true;
	return false;
}

int micro_plot(const struct micro_results *r, const char *dir)
{
	char dat[4096], gp[4096], png[4096];

	if (strchr(dir, '\''))
		return bench_fail(-EINVAL, "results folder names with ' are not plotted");
	for (size_t i = 0; i < sizeof(plots) / sizeof(plots[0]); i++) {
		const struct plot *p = &plots[i];
		bool used[4] = {false};
		int err;

		if (!has_rows(r, p->s[0].section))
			continue;
		snprintf(dat, sizeof(dat), "%s/%s.dat", dir, p->name);
		snprintf(gp, sizeof(gp), "%s/%s.gp", dir, p->name);
		snprintf(png, sizeof(png), "%s/%s.png", dir, p->name);
		err = write_dat(r, p, dat, used);
		if (!err)
			err = write_gp(p, gp, dat, png, used);
		if (!err)
			err = bench_gnuplot(gp);
		if (err)
			return err;
	}
	return 0;
}
