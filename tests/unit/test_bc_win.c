/* The broadcast delivery window (bcast/common.h): bc_win_add against a plain reference that
 * slides one position at a time, over random adds, and a seq far ahead (a peer's frame can
 * carry any seq) handled in one step with the same outcome. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bcast/common.h"

static bool ref_bit(const struct bc_win *w, uint64_t s)
{
	uint64_t i = s % BC_WIN_BITS;
	return (w->bits[i / 64] >> (i % 64)) & 1u;
}

static void ref_put(struct bc_win *w, uint64_t s, bool v)
{
	uint64_t i = s % BC_WIN_BITS;
	if (v)
		w->bits[i / 64] |= 1ull << (i % 64);
	else
		w->bits[i / 64] &= ~(1ull << (i % 64));
}

/* The window's rule written the slow way: slide one position per step. */
static uint64_t ref_add(struct bc_win *w, uint64_t seq)
{
	uint64_t given_up = 0;
	if (seq <= w->low)
		return 0;
	while (seq > w->low + BC_WIN_BITS) {
		uint64_t s = w->low + 1;
		if (!ref_bit(w, s))
			given_up++;
		ref_put(w, s, false);
		w->low = s;
	}
	ref_put(w, seq, true);
	while (ref_bit(w, w->low + 1)) {
		ref_put(w, w->low + 1, false);
		w->low++;
	}
	return given_up;
}

static uint64_t rnd(uint64_t *x) /* xorshift64: deterministic */
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

START_TEST(test_matches_reference)
{
	uint64_t x = 88172645463325252ull;
	for (int t = 0; t < 500; t++) {
		struct bc_win a, b;
		bc_win_reset(&a);
		bc_win_reset(&b);
		for (int k = 0; k < 50; k++) {
			uint64_t r = rnd(&x) % 10, base = a.low, seq;
			if (r < 6)
				seq = base + 1 + rnd(&x) % 5000; /* inside or just past the window */
			else if (r < 9)
				seq = base + rnd(&x) % 20000; /* a few windows ahead */
			else
				seq = base + rnd(&x) % 200000; /* far ahead: the one-step path */
			uint64_t ga = bc_win_add(&a, seq), gb = ref_add(&b, seq);
			ck_assert_uint_eq(ga, gb);
			ck_assert_uint_eq(a.low, b.low);
			ck_assert_int_eq(memcmp(a.bits, b.bits, sizeof a.bits), 0);
			ck_assert(bc_win_has(&a, seq));
		}
	}
}
END_TEST

START_TEST(test_far_ahead_is_one_step)
{
	struct bc_win w;
	bc_win_reset(&w);
	ck_assert_uint_eq(bc_win_add(&w, 3), 0);
	ck_assert_uint_eq(bc_win_add(&w, 1), 0);
	/* low = 1, 3 delivered; a seq of 2^41 (as a fuzzed lurb frame carried) must not walk
	 * 2^41 positions: everything below seq - BITS is given up except the delivered 3 */
	uint64_t seq = 2176724238334ull;
	uint64_t given = bc_win_add(&w, seq);
	ck_assert_uint_eq(w.low, seq - BC_WIN_BITS);
	ck_assert_uint_eq(given, (seq - BC_WIN_BITS - 1) - 1);
	ck_assert(bc_win_has(&w, seq));
	ck_assert(!bc_win_has(&w, seq - 1));
	/* and again up to the top: the earlier seq (delivered) is the one position not given up */
	uint64_t low0 = w.low;
	given = bc_win_add(&w, UINT64_MAX);
	ck_assert_uint_eq(w.low, UINT64_MAX - BC_WIN_BITS);
	ck_assert_uint_eq(given, (UINT64_MAX - BC_WIN_BITS - low0) - 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bc_win");
	TCase *tc = tcase_create("win");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_matches_reference);
	tcase_add_test(tc, test_far_ahead_is_one_step);
	suite_add_tcase(s, tc);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
