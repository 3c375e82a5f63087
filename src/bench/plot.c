// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * plot.c - the gnuplot driver: per figure a data file (one block per
 * series: x = chunk KiB, median, min, max[, page-ins]), a script beside it
 * (so a plot can be redrawn or restyled by hand) and the PNG.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "core/internal.h"

struct series {
	const char *figure, *method, *title;
	bool flat; /* one value for every chunk (unsplit; ps after method 1; the control) */
};

static const struct series fig4a[] = {
    {"4a", "runtime", "method 1: runtime fetch", false},
    {"4a", "vm", "method 2: VM remote paging", false},
    {"4a", "unsplit", "unsplit VM", true},
};

static const struct series fig4b[] = {
    {"4b", "vm", "after method 2", false},
    {"4b", "runtime", "after method 1", true},
    {"4b", "unsplit", "unsplit VM", true},
    {"4b", "local", "new QEMU, nothing remote", true},
};

/* Write one block per series with data; used[i] says which were written. */
static int write_dat(const struct bench_results *r, const char *path, const struct series *s,
		     unsigned ns, const uint64_t *chunks, unsigned nc, bool *used)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return bench_fail(-errno, "%s: %s", path, strerror(errno));
	for (unsigned i = 0; i < ns; i++) {
		struct bench_summary sm;

		bench_results_summary(r, s[i].figure, s[i].method, ~0ull, &sm);
		used[i] = sm.n > 0;
		if (!used[i])
			continue;
		fprintf(f, "# %s\n", s[i].title);
		for (unsigned c = 0; c < nc; c++) {
			uint64_t ch = s[i].flat ? ~0ull : chunks[c];
			double pi = bench_results_pageins(r, s[i].figure, s[i].method, ch);

			bench_results_summary(r, s[i].figure, s[i].method, ch, &sm);
			if (sm.n)
				fprintf(f, "%g %.3f %.3f %.3f %.0f\n", chunks[c] / 1024.0,
					sm.median, sm.min, sm.max, pi);
		}
		fputs("\n\n", f);
	}
	return fclose(f) ? bench_fail(-EIO, "%s: write failed", path) : 0;
}

static int write_gp(const char *gp, const char *dat, const char *png, const char *ylabel,
		    const char *title, const struct series *s, unsigned ns, const bool *used,
		    bool pageins)
{
	FILE *f = fopen(gp, "w");
	unsigned idx = 0;
	bool first = true;

	if (!f)
		return bench_fail(-errno, "%s: %s", gp, strerror(errno));
	fprintf(f,
		"set terminal pngcairo size 960,600 noenhanced\nset output '%s'\n"
		"set title '%s'\nset logscale x 2\nset xlabel 'chunk size (KiB)'\n"
		"set ylabel '%s'\nset yrange [0:*]\nset key top right\nset grid\n",
		png, title, ylabel);
	if (pageins)
		fputs("set y2label 'guest page-ins during ps'\nset y2range [0:*]\nset ytics "
		      "nomirror\n"
		      "set y2tics\n",
		      f);
	fputs("plot ", f);
	for (unsigned i = 0; i < ns; i++) {
		if (!used[i])
			continue;
		fprintf(f, "%s'%s' index %u using 1:2:3:4 with yerrorlines lw 2 title '%s'",
			first ? "" : ", \\\n     ", dat, idx, s[i].title);
		if (pageins && !s[i].flat)
			fprintf(f,
				", \\\n     '%s' index %u using 1:5 axes x1y2 with linespoints "
				"dt 2 title 'page-ins %s'",
				dat, idx, s[i].title);
		first = false;
		idx++;
	}
	fputs(first ? "NaN notitle\n" : "\n", f);
	return fclose(f) ? bench_fail(-EIO, "%s: write failed", gp) : 0;
}

/* Full path of prog in PATH, or NULL. */
static char *which(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[4096];

	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		size_t n = strcspn(p, ":");

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, p, prog);
		if (n && !access(buf, X_OK))
			return strdup(buf);
		p += n + (p[n] == ':');
	}
	return NULL;
}

int bench_gnuplot(const char *gp)
{
	char *gnuplot = which("gnuplot");
	char *argv[] = {gnuplot, (char *)gp, NULL};
	struct bench_out out = {0};
	int err;

	if (!gnuplot)
		return bench_fail(-ENOENT, "gnuplot not found (apt-get install gnuplot-nox)");
	err = bench_run(argv, 60, true, &out);
	if (!err && out.status)
		err = bench_fail(-EIO, "gnuplot %s: %s", gp, out.err);
	bench_out_free(&out);
	free(gnuplot);
	return err;
}

static int plot_one(const struct bench_results *r, const char *dir, const char *name,
		    const struct series *s, unsigned ns, const uint64_t *chunks, unsigned nc,
		    const char *ylabel, const char *title, bool pageins)
{
	char dat[4096], gp[4096], png[4096];
	bool used[8];
	int err;

	if (ns > ARRAY_SIZE(used))
		return bench_fail(-EINVAL, "%s: %u series, at most %zu", name, ns,
				  ARRAY_SIZE(used));
	snprintf(dat, sizeof(dat), "%s/%s.dat", dir, name);
	snprintf(gp, sizeof(gp), "%s/%s.gp", dir, name);
	snprintf(png, sizeof(png), "%s/%s.png", dir, name);
	err = write_dat(r, dat, s, ns, chunks, nc, used);
	if (!err)
		err = write_gp(gp, dat, png, ylabel, title, s, ns, used, pageins);
	return err ? err : bench_gnuplot(gp);
}

int bench_plot_fig4(const struct bench_results *r, const char *dir, const uint64_t *chunks,
		    unsigned nr_chunks)
{
	int err;

	if (strchr(dir, '\''))
		return bench_fail(-EINVAL, "results folder names with ' are not plotted");
	err = plot_one(r, dir, "fig4a", fig4a, (unsigned)ARRAY_SIZE(fig4a), chunks, nr_chunks,
		       "shadow /proc construction (ms)",
		       "Fig. 4(a): shadow /proc construction vs chunk size (median, min..max)",
		       false);
	if (err)
		return err;
	return plot_one(r, dir, "fig4b", fig4b, (unsigned)ARRAY_SIZE(fig4b), chunks, nr_chunks,
			"ps in the guest (ms, as the agent timed it)",
			"Fig. 4(b): ps inside the VM right after construction (median, min..max)",
			true);
}
