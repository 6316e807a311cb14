/* Unit tests for the simulation suites' driver (src/rt/sim/harness.h), on synthetic cases whose
 * verdict per seed is set by the test:
 *   - a broken variant caught at its first seed runs that one seed;
 *   - a broken variant caught only past its count draws on and passes, having run exactly the
 *     seeds up to the catch (an unlucky base does not make a working checker look blind);
 *   - a blind broken variant (never caught) fails, after exactly SIM_BROKEN_EXTEND times its
 *     count (bounded), and so does one whose every seed is vacuous (an unjudged seed is no catch);
 *   - a broken variant caught only past the extension fails;
 *   - --seed replays one seed and does not extend;
 *   - a normal case fails at its first failing seed and passes when none fails. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "rt/sim/harness.h"

#define BASE 1000u
#define COUNT 10u

/* The synthetic cases' behaviour: a seed from catch_from on (relative to BASE) returns verdict;
 * earlier seeds pass. calls counts the seeds run. */
static unsigned long long catch_from;
static int verdict;
static unsigned calls;

static int run_synthetic(uint64_t seed, bool trace, char *why, size_t whylen)
{
	(void)trace;
	calls++;
	if (seed >= BASE + catch_from)
		return verdict == SIM_VACUOUS ? sim_vacuous(why, whylen, "nothing to check")
					      : sim_fail(why, whylen, "violation at seed %llu",
							 (unsigned long long)seed);
	return SIM_PASS;
}

static const struct sim_case broken_case[] = {
	{"broken", run_synthetic, COUNT, true},
};
static const struct sim_case normal_case[] = {
	{"normal", run_synthetic, COUNT, false},
};

/* Runs the driver over one case from BASE (or only seed `seed` when nonzero). */
static int drive(const struct sim_case *c, unsigned long long from, int v,
		 unsigned long long seed)
{
	catch_from = from;
	verdict = v;
	calls = 0;
	char base[32], one[32];
	snprintf(base, sizeof(base), "%u", BASE);
	snprintf(one, sizeof(one), "%llu", seed);
	char *argv[] = {"test_sim_harness", "--base", base, seed ? "--seed" : NULL, one, NULL};
	int argc = seed ? 5 : 3;
	int rc = sim_main(argc, argv, "synthetic", c, 1);
	fflush(stdout);
	return rc;
}

START_TEST(test_broken_caught_at_once)
{
	ck_assert_int_eq(drive(broken_case, 0, SIM_FAIL, 0), 0);
	ck_assert_uint_eq(calls, 1);
}
END_TEST

START_TEST(test_broken_caught_past_count_draws_on)
{
	ck_assert_int_eq(drive(broken_case, COUNT + 15, SIM_FAIL, 0), 0);
	ck_assert_uint_eq(calls, COUNT + 16);
	/* The last seed of the extension still counts. */
	ck_assert_int_eq(drive(broken_case, COUNT * SIM_BROKEN_EXTEND - 1, SIM_FAIL, 0), 0);
	ck_assert_uint_eq(calls, COUNT * SIM_BROKEN_EXTEND);
}
END_TEST

START_TEST(test_blind_broken_fails_bounded)
{
	ck_assert_int_eq(drive(broken_case, 1000000, SIM_FAIL, 0), 1);
	ck_assert_uint_eq(calls, COUNT * SIM_BROKEN_EXTEND);
	/* Caught one seed past the extension: still blind. */
	ck_assert_int_eq(drive(broken_case, COUNT * SIM_BROKEN_EXTEND, SIM_FAIL, 0), 1);
	ck_assert_uint_eq(calls, COUNT * SIM_BROKEN_EXTEND);
	/* Every seed vacuous: nothing was caught. */
	ck_assert_int_eq(drive(broken_case, 0, SIM_VACUOUS, 0), 1);
	ck_assert_uint_eq(calls, COUNT * SIM_BROKEN_EXTEND);
}
END_TEST

START_TEST(test_replay_does_not_extend)
{
	/* A replayed seed that shows no violation is reported, not failed, and runs once. */
	ck_assert_int_eq(drive(broken_case, 1000000, SIM_FAIL, BASE + 3), 0);
	ck_assert_uint_eq(calls, 1);
}
END_TEST

START_TEST(test_normal_case)
{
	ck_assert_int_eq(drive(normal_case, 1000000, SIM_FAIL, 0), 0);
	ck_assert_uint_eq(calls, COUNT);
	ck_assert_int_eq(drive(normal_case, 4, SIM_FAIL, 0), 1);
	ck_assert_uint_eq(calls, 5);
}
END_TEST

static Suite *harness_suite(void)
{
	Suite *s = suite_create("sim_harness");
	TCase *tc = tcase_create("sim_harness");
	/* A hang guard, not a speed bound: Check's 4 s default tripped under a heavily loaded
	 * machine (test_kv_sm, once). */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_broken_caught_at_once);
	tcase_add_test(tc, test_broken_caught_past_count_draws_on);
	tcase_add_test(tc, test_blind_broken_fails_bounded);
	tcase_add_test(tc, test_replay_does_not_extend);
	tcase_add_test(tc, test_normal_case);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	unsetenv("STRATA_SIM_BASE");
	unsetenv("STRATA_SIM_REGRESSIONS");
	SRunner *sr = srunner_create(harness_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
