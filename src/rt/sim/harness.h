/* The command-line driver shared by every simulation suite (tests/sim/sim_*.c).
 *
 *   sim_links [--seeds N] [--base B] [--seed S] [--case NAME] [--trace] [--list]
 *
 * Each case runs over seeds base..base+N-1 (default base 1, N = the case's own count, at least
 * 1,000 for the node issue's suites). A failing seed prints the case, the seed, why, and the
 * command that replays it (--seed S --case NAME --trace). Cases marked expect_violation are the
 * deliberately broken variants: the suite fails unless the checker catches a violation on at
 * least one of their seeds. The last line is "summary: P passed, F failed". */
#ifndef STRATA_RT_SIM_HARNESS_H
#define STRATA_RT_SIM_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sim_case {
	const char *name;
	/* Runs one seed. Returns 0 when every property held, else nonzero with why filled in. */
	int (*run)(uint64_t seed, bool trace, char *why, size_t whylen);
	unsigned seeds;        /* default number of seeds */
	bool expect_violation; /* a broken variant: must be caught */
};

int sim_main(int argc, char **argv, const char *suite, const struct sim_case *cases,
	     size_t ncases);

/* Formats into why (for run functions). Returns 1 so it can be returned directly. */
int sim_fail(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
