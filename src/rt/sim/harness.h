/* The command-line driver shared by every simulation suite (tests/sim/sim_*.c).
 *
 *   sim_links [--seeds N] [--base B] [--seed S] [--case NAME] [--trace] [--list]
 *             [--max-seeds N] [--scale K] [--regressions FILE] [--time-limit SECONDS]
 *
 * Each case runs over seeds base..base+N-1 (default base 1, N = the case's own count, at least
 * 1,000 for the node issue's suites). A failing seed prints the case, the seed, why, and the
 * command that replays it (--seed S --case NAME --trace). Cases marked expect_violation are the
 * deliberately broken variants: the suite fails unless the checker catches a violation on at
 * least one of their seeds. A broken variant stops at its first catch; one not caught within its
 * count draws on up to SIM_BROKEN_EXTEND times its count (and prints a note when it needed
 * that), so that an unlucky seed base does not make a working checker look blind; blind over the
 * whole extension, it fails. The last line is "summary: P passed, F failed (...)".
 *
 * Verdicts of one seed (what a run function returns):
 *   SIM_PASS     every property held
 *   SIM_FAIL     a property was violated (sim_fail fills why; any nonzero value not below)
 *   SIM_OUTSIDE  the schedule left the model the algorithm assumes (e.g. P detected a live
 *                process in a fail-stop run): neither a pass nor a failure; counted and the
 *                first few printed (sim_outside, or sim_model_verdict in tests/sim/lib/model.h)
 *   SIM_VACUOUS  the schedule allowed nothing to check (e.g. every client's node crashed
 *                before it could complete an operation): counted, not failed (sim_vacuous)
 * A case whose seeds are outside the model or vacuous more than SIM_MAX_UNJUDGED_PCT percent
 * of the time fails ("the schedules test too little"); above SIM_NOTE_UNJUDGED_PCT it prints a
 * note. Outside-the-model and vacuous seeds never count as a broken variant's catch.
 *
 * Seed selection: --max-seeds N caps each case's count (sanitizer runs; not a broken variant's,
 * which stops at its first catch anyway), --scale K multiplies
 * it (soak), --regressions FILE (or STRATA_SIM_REGRESSIONS=DIR holding <suite>.txt) replays
 * listed seeds first: lines "CASE SEED [# why]"; a listed seed must not fail. --time-limit S
 * shares S seconds of wall clock among the cases that are not broken variants (each gets an
 * equal share of what is left when it starts), then each stops (time-bounded soak; the seeds
 * run are reported). The summary line names the base and the CPU seconds and seeds per second. */
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

/* Any other nonzero return is a failure too; the two unjudged verdicts have values no suite
 * returns by accident. */
enum sim_verdict { SIM_PASS = 0, SIM_FAIL = 1, SIM_OUTSIDE = 0x4f55, SIM_VACUOUS = 0x5641 };
/* A broken variant not caught within its count draws on, up to this many times its count. */
#define SIM_BROKEN_EXTEND 10
#define SIM_NOTE_UNJUDGED_PCT 5
#define SIM_MAX_UNJUDGED_PCT 50
/* A workload's operation phase that ends short of the minimum of completed operations the
 * suite's non-vacuity check demands runs on, with its faults, up to this many times its length
 * (docs/simulator.md, "Vacuity is judged on what the schedule allowed"): a schedule that cut
 * the clients off for most of a short phase then still gives the checks their operations, and
 * a run still short at the end fails. Seeds that reach the minimum in time run as before. */
#define SIM_OPS_EXTEND 3

/* Format into why (for run functions) and return the verdict so it can be returned directly:
 * sim_fail returns SIM_FAIL, sim_outside SIM_OUTSIDE, sim_vacuous SIM_VACUOUS. */
int sim_fail(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int sim_outside(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int sim_vacuous(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
