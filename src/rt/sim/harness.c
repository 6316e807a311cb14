/* Simulation suite driver; see harness.h. */
#include "rt/sim/harness.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int vfmt(int verdict, char *why, size_t whylen, const char *fmt, va_list ap)
{
	vsnprintf(why, whylen, fmt, ap);
	return verdict;
}

int sim_fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int v = vfmt(SIM_FAIL, why, whylen, fmt, ap);
	va_end(ap);
	return v;
}

int sim_outside(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int v = vfmt(SIM_OUTSIDE, why, whylen, fmt, ap);
	va_end(ap);
	return v;
}

int sim_vacuous(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int v = vfmt(SIM_VACUOUS, why, whylen, fmt, ap);
	va_end(ap);
	return v;
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [--seeds N] [--base B] [--seed S] [--case NAME] [--trace] [--list]\n"
		"          [--max-seeds N] [--scale K] [--regressions FILE] [--time-limit S]\n"
		"          [--skip-broken]\n"
		"  --seeds N          seeds per case (default: each case's own, >= 1000 for most)\n"
		"  --base B           first seed (default 1; STRATA_SIM_BASE also sets it)\n"
		"  --seed S           run exactly seed S (replay a failure)\n"
		"  --case NAME        run only this case\n"
		"  --trace            print every node's trace lines\n"
		"  --max-seeds N      at most N seeds per case (sanitizer runs)\n"
		"  --scale K          K times each case's seeds (soak)\n"
		"  --regressions FILE replay the seeds listed in FILE first (\"CASE SEED [# why]\");\n"
		"                     STRATA_SIM_REGRESSIONS=DIR reads DIR/<suite>.txt\n"
		"  --time-limit S     each of the C cases run gets S/C seconds (wall clock) for its\n"
		"                     seeds; it stops there (time-bounded soak)\n"
		"  --skip-broken      run no broken variant (memory checks under valgrind: the\n"
		"                     correct cases' code, a few seeds each)\n",
		prog);
}

static bool parse_u64(const char *s, unsigned long long *out)
{
	char *end;
	errno = 0;
	if (!s || *s < '0' || *s > '9')
		return false;
	*out = strtoull(s, &end, 10);
	return errno == 0 && *end == 0;
}

#define MAX_REGRESSIONS 1024
struct regression {
	char name[64];
	unsigned long long seed;
};

/* Reads "CASE SEED [# comment]" lines; blank lines and '#' lines are skipped. A missing file is
 * an empty list when it came from the directory variable (a suite without regressions yet). */
static int load_regressions(const char *path, bool must_exist, const char *suite,
			    const struct sim_case *cases, size_t ncases, struct regression *out,
			    size_t *n)
{
	*n = 0;
	FILE *f = fopen(path, "r");
	if (!f) {
		if (!must_exist && errno == ENOENT)
			return 0;
		fprintf(stderr, "%s: cannot read regressions %s: %s\n", suite, path, strerror(errno));
		return -1;
	}
	char line[512];
	unsigned lineno = 0;
	int rc = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		char name[64], seed[32], extra[8];
		int k = sscanf(line, "%63s %31s %7s", name, seed, extra);
		if (k <= 0)
			continue;
		unsigned long long sv;
		bool known = false;
		for (size_t c = 0; c < ncases; c++)
			known |= !strcmp(cases[c].name, name);
		if (k != 2 || !parse_u64(seed, &sv) || !known || *n == MAX_REGRESSIONS) {
			fprintf(stderr, "%s: %s:%u: expected \"CASE SEED\" with a case of this suite\n",
				suite, path, lineno);
			rc = -1;
			break;
		}
		snprintf(out[*n].name, sizeof(out[*n].name), "%s", name);
		out[*n].seed = sv;
		(*n)++;
	}
	fclose(f);
	return rc;
}

static double cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* How many outside/vacuous seeds of a case are printed with their reason. */
#define SHOW_UNJUDGED 3

static const char *verdict_word(int v)
{
	return v == SIM_OUTSIDE ? "outside the model" : "vacuous";
}

int sim_main(int argc, char **argv, const char *suite, const struct sim_case *cases,
	     size_t ncases)
{
	unsigned long long seeds = 0, base = 1, only_seed = 0, max_seeds = 0, scale = 1,
			   time_limit = 0;
	bool have_seed = false, trace = false, skip_broken = false;
	const char *only_case = NULL, *reg_file = NULL;
	const char *env_base = getenv("STRATA_SIM_BASE");
	if (env_base && *env_base && !parse_u64(env_base, &base)) {
		fprintf(stderr, "%s: STRATA_SIM_BASE=%s is not a number\n", suite, env_base);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool ok = true;
		if (!strcmp(a, "--seeds"))
			ok = parse_u64(v, &seeds), i++;
		else if (!strcmp(a, "--base"))
			ok = parse_u64(v, &base), i++;
		else if (!strcmp(a, "--seed")) {
			ok = parse_u64(v, &only_seed), i++;
			have_seed = true;
		} else if (!strcmp(a, "--max-seeds"))
			ok = parse_u64(v, &max_seeds) && max_seeds > 0, i++;
		else if (!strcmp(a, "--scale"))
			ok = parse_u64(v, &scale) && scale > 0, i++;
		else if (!strcmp(a, "--time-limit"))
			ok = parse_u64(v, &time_limit) && time_limit > 0, i++;
		else if (!strcmp(a, "--regressions") && v)
			reg_file = argv[++i];
		else if (!strcmp(a, "--case") && v)
			only_case = argv[++i];
		else if (!strcmp(a, "--trace"))
			trace = true;
		else if (!strcmp(a, "--skip-broken"))
			skip_broken = true;
		else if (!strcmp(a, "--list")) {
			for (size_t c = 0; c < ncases; c++)
				printf("%s (%s%u seeds)\n", cases[c].name,
				       cases[c].expect_violation ? "broken variant, " : "",
				       cases[c].seeds ? cases[c].seeds : 1000);
			return 0;
		} else
			ok = false;
		if (!ok) {
			usage(argv[0]);
			return 2;
		}
	}
	if (only_case) {
		bool known = false;
		for (size_t c = 0; c < ncases; c++)
			known |= !strcmp(cases[c].name, only_case);
		if (!known) {
			fprintf(stderr, "%s: no case '%s' (--list shows them)\n", suite, only_case);
			return 2;
		}
	}
	static struct regression regs[MAX_REGRESSIONS];
	size_t nregs = 0;
	char reg_path[1024];
	const char *reg_dir = getenv("STRATA_SIM_REGRESSIONS");
	if (!reg_file && reg_dir && *reg_dir) {
		snprintf(reg_path, sizeof(reg_path), "%s/%s.txt", reg_dir, suite);
		if (load_regressions(reg_path, false, suite, cases, ncases, regs, &nregs))
			return 2;
	} else if (reg_file && load_regressions(reg_file, true, suite, cases, ncases, regs, &nregs))
		return 2;
	if (have_seed)
		nregs = 0; /* a replay runs exactly the seed asked for */

	/* A time limit is shared among the cases this invocation runs that are not broken
	 * variants: each gets an equal share of what is left of the limit when it starts, so
	 * time a case does not use goes to the cases after it and the suite runs for the whole
	 * limit. A broken variant stops at its first catch (normally within a few seeds); it may
	 * use what is left, bounded by its count. */
	size_t nleft = 0;
	for (size_t c = 0; c < ncases; c++)
		nleft += (!only_case || !strcmp(only_case, cases[c].name)) &&
			 !cases[c].expect_violation;
	double slice = 0;
	struct timespec wstart;
	clock_gettime(CLOCK_MONOTONIC, &wstart);
	unsigned passed = 0, failed = 0;
	unsigned long long total_seeds = 0, total_outside = 0, total_vacuous = 0, total_regs = 0;
	double cpu_total = 0;
	char why[1024];
	for (size_t c = 0; c < ncases; c++) {
		const struct sim_case *k = &cases[c];
		if (only_case && strcmp(only_case, k->name))
			continue;
		if (skip_broken && k->expect_violation)
			continue;
		unsigned long long n = seeds ? seeds : (k->seeds ? k->seeds : 1000);
		n *= scale;
		/* A broken variant stops at its first catch, so its count is only a bound on a
		 * blind checker's cost: capping it (the ASan pass) would turn a variant caught on 1 %
		 * of seeds into a coin flip on fresh bases. */
		if (max_seeds && n > max_seeds && !k->expect_violation)
			n = max_seeds;
		if (have_seed)
			n = 1;
		/* A broken variant that has not been caught within its count keeps drawing seeds,
		 * up to SIM_BROKEN_EXTEND times its count: an unlucky base must not make a
		 * working checker look blind. Needing the extension is reported (a note); only a
		 * checker blind over the whole extension fails. */
		unsigned long long count = n;
		if (k->expect_violation && !have_seed)
			n *= SIM_BROKEN_EXTEND;
		unsigned long long first = have_seed ? only_seed : base;
		double t0 = cpu_seconds();
		struct timespec w0;
		clock_gettime(CLOCK_MONOTONIC, &w0);
		if (time_limit) {
			double used = (double)(w0.tv_sec - wstart.tv_sec) +
				      (double)(w0.tv_nsec - wstart.tv_nsec) / 1e9;
			slice = (double)time_limit - used;
			if (!k->expect_violation && nleft)
				slice /= (double)nleft--;
			if (slice < 0.001)
				slice = 0.001;
		}
		bool case_ok = true, caught = false, stopped = false;
		unsigned long long caught_seed = 0, ran = 0, outside = 0, vacuous = 0, nreg = 0,
				   reg_unjudged = 0;
		/* Regression seeds of this case first, then the range. */
		size_t ri = 0;
		for (;;) {
			unsigned long long s;
			bool is_reg = false;
			while (ri < nregs && (k->expect_violation || strcmp(regs[ri].name, k->name)))
				ri++;
			if (ri < nregs) {
				s = regs[ri++].seed;
				is_reg = true;
			} else if (ran - nreg < n) {
				s = first + (ran - nreg);
			} else {
				break;
			}
			if (slice > 0 && !is_reg && ran > nreg) {
				struct timespec w;
				clock_gettime(CLOCK_MONOTONIC, &w);
				if ((double)(w.tv_sec - w0.tv_sec) +
					    (double)(w.tv_nsec - w0.tv_nsec) / 1e9 >=
				    slice) {
					stopped = true;
					break;
				}
			}
			why[0] = 0;
			int rc = k->run(s, trace, why, sizeof(why));
			ran++;
			nreg += is_reg;
			if (rc == SIM_OUTSIDE || rc == SIM_VACUOUS) {
				unsigned long long *cnt = rc == SIM_OUTSIDE ? &outside : &vacuous;
				reg_unjudged += is_reg;
				if (++*cnt <= SHOW_UNJUDGED || have_seed)
					printf("  %s %s/%s seed %llu%s: %s\n", verdict_word(rc), suite,
					       k->name, s, is_reg ? " (regression)" : "", why);
				continue;
			}
			if (k->expect_violation) {
				if (rc) {
					caught = true;
					caught_seed = s;
					break;
				}
				continue;
			}
			if (rc) {
				printf("FAIL %s/%s seed %llu%s: %s\n", suite, k->name, s,
				       is_reg ? " (regression seed)" : "", why);
				printf("  replay: %s --case %s --seed %llu --trace\n", argv[0], k->name, s);
				case_ok = false;
				break;
			}
		}
		double secs = cpu_seconds() - t0;
		cpu_total += secs;
		total_seeds += ran;
		total_outside += outside;
		total_vacuous += vacuous;
		total_regs += nreg;
		char counts[160];
		snprintf(counts, sizeof(counts), "%llu outside the model, %llu vacuous", outside,
			 vacuous);
		/* The share is judged on the drawn seeds: listed regressions are often unjudged. */
		unsigned long long unjudged = outside + vacuous - reg_unjudged, drawn = ran - nreg;
		if (k->expect_violation) {
			unsigned long long nth = ran - nreg;
			if (caught) {
				printf("ok   %s/%s (broken variant): violation caught at seed %llu (seed %llu "
				       "of its %llu): %s\n",
				       suite, k->name, caught_seed, nth, count, why);
				if (!have_seed && nth > count)
					printf("note %s/%s (broken variant): caught only after %llu seeds, "
					       "past its count of %llu (base %llu): its fault hits too rarely "
					       "for that count\n",
					       suite, k->name, nth, count, first);
			} else if (have_seed || stopped) {
				printf("ok   %s/%s (broken variant): %s %llu shows no violation (%s)\n",
				       suite, k->name, have_seed ? "seed" : "time limit reached after",
				       have_seed ? first : ran, counts);
			} else {
				printf("FAIL %s/%s (broken variant): no violation in %llu seeds (its count "
				       "%llu, drawn on to %u times that; %s): the checker is blind\n",
				       suite, k->name, ran, count, SIM_BROKEN_EXTEND, counts);
				case_ok = false;
			}
		} else if (case_ok && !have_seed && drawn > 0 &&
			   unjudged * 100 > drawn * SIM_MAX_UNJUDGED_PCT) {
			printf("FAIL %s/%s: %llu of %llu seeds outside the model or vacuous (%s): the "
			       "schedules test too little\n",
			       suite, k->name, unjudged, drawn, counts);
			case_ok = false;
		} else if (case_ok) {
			char regtxt[48] = "";
			if (nreg)
				snprintf(regtxt, sizeof(regtxt), " (%llu regression)", nreg);
			printf("ok   %s/%s: %llu seeds%s, %s (%.1fs, %.0f seeds/s)%s\n", suite, k->name,
			       ran, regtxt, counts, secs, secs > 0 ? (double)ran / secs : 0.0,
			       stopped ? " - time limit reached" : "");
			if (!have_seed && drawn > 0 && unjudged * 100 > drawn * SIM_NOTE_UNJUDGED_PCT)
				printf("note %s/%s: %llu%% of the seeds were not judged; the schedules "
				       "leave the model too often\n",
				       suite, k->name, unjudged * 100 / drawn);
		}
		fflush(stdout);
		if (case_ok)
			passed++;
		else
			failed++;
	}
	char basetxt[48] = "";
	if (!have_seed)
		snprintf(basetxt, sizeof(basetxt), "base %llu, ", base);
	printf("summary: %u passed, %u failed (%s%llu seeds, %llu outside the model, %llu vacuous, "
	       "%llu regression; %.1f cpu s, %.0f seeds/s)\n",
	       passed, failed, basetxt, total_seeds, total_outside, total_vacuous, total_regs,
	       cpu_total, cpu_total > 0 ? (double)total_seeds / cpu_total : 0.0);
	return failed ? 1 : 0;
}
