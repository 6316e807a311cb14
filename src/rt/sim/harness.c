/* Simulation suite driver; see harness.h. */
#include "rt/sim/harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int sim_fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return 1;
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [--seeds N] [--base B] [--seed S] [--case NAME] [--trace] [--list]\n"
		"  --seeds N   seeds per case (default: each case's own, >= 1000 for most)\n"
		"  --base B    first seed (default 1; STRATA_SIM_BASE also sets it)\n"
		"  --seed S    run exactly seed S (replay a failure)\n"
		"  --case NAME run only this case\n"
		"  --trace     print every node's trace lines\n",
		prog);
}

int sim_main(int argc, char **argv, const char *suite, const struct sim_case *cases,
	     size_t ncases)
{
	unsigned long long seeds = 0, base = 1, only_seed = 0;
	bool have_seed = false, trace = false;
	const char *only_case = NULL;
	const char *env_base = getenv("STRATA_SIM_BASE");
	if (env_base)
		base = strtoull(env_base, NULL, 10);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seeds") && i + 1 < argc)
			seeds = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--base") && i + 1 < argc)
			base = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			only_seed = strtoull(argv[++i], NULL, 10);
			have_seed = true;
		} else if (!strcmp(argv[i], "--case") && i + 1 < argc)
			only_case = argv[++i];
		else if (!strcmp(argv[i], "--trace"))
			trace = true;
		else if (!strcmp(argv[i], "--list")) {
			for (size_t c = 0; c < ncases; c++)
				printf("%s%s\n", cases[c].name,
				       cases[c].expect_violation ? " (broken variant)" : "");
			return 0;
		} else {
			usage(argv[0]);
			return 2;
		}
	}
	unsigned passed = 0, failed = 0;
	unsigned long long total_seeds = 0;
	char why[1024];
	for (size_t c = 0; c < ncases; c++) {
		const struct sim_case *k = &cases[c];
		if (only_case && strcmp(only_case, k->name))
			continue;
		unsigned long long n = have_seed ? 1 : (seeds ? seeds : (k->seeds ? k->seeds : 1000));
		unsigned long long first = have_seed ? only_seed : base;
		clock_t t0 = clock();
		bool case_ok = true, caught = false;
		unsigned long long caught_seed = 0;
		for (unsigned long long s = first; s < first + n; s++) {
			why[0] = 0;
			int rc = k->run(s, trace, why, sizeof(why));
			total_seeds++;
			if (k->expect_violation) {
				if (rc) {
					caught = true;
					caught_seed = s;
					break;
				}
				continue;
			}
			if (rc) {
				printf("FAIL %s/%s seed %llu: %s\n", suite, k->name, s, why);
				printf("  replay: %s --case %s --seed %llu --trace\n", argv[0], k->name, s);
				case_ok = false;
				break;
			}
		}
		double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
		if (k->expect_violation) {
			if (caught) {
				printf("ok   %s/%s (broken variant): violation caught at seed %llu: %s\n",
				       suite, k->name, caught_seed, why);
			} else if (have_seed) {
				printf("ok   %s/%s (broken variant): seed %llu shows no violation\n", suite,
				       k->name, first);
			} else {
				printf("FAIL %s/%s (broken variant): no violation in %llu seeds; the checker "
				       "is blind\n",
				       suite, k->name, n);
				case_ok = false;
			}
		} else if (case_ok) {
			printf("ok   %s/%s: %llu seeds (%.1fs)\n", suite, k->name, n, secs);
		}
		fflush(stdout);
		if (case_ok)
			passed++;
		else
			failed++;
	}
	printf("summary: %u passed, %u failed (%llu seeds)\n", passed, failed, total_seeds);
	return failed ? 1 : 0;
}
