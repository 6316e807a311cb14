/* Unit tests for the threshold common coin (src/cons/tcoin.h): every set of t = f + 1 shares
 * gives the same coin (the one computed from the dealt secret), fewer than t shares are refused
 * by tcoin_combine and interpolate to a different point, a forged or altered share or proof is
 * rejected, and different coin instances give different bases (so over many instances the
 * coin takes both values). */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cons/tcoin.h"
#include "core/error.h"
#include "crypto/crypto.h"

#define N 7
#define T 4 /* f = 3 */

struct dealt {
	uint8_t x[N][32];
	uint8_t vk[N][32];
};

static void deal(struct dealt *d, uint8_t seed_byte)
{
	uint8_t seed[32];
	memset(seed, seed_byte, sizeof(seed));
	ck_assert_int_eq(tcoin_deal(N, T, seed, d->x, d->vk), 0);
}

/* The coin's point computed by someone who knows the whole secret x = P(0): interpolating the
 * secret shares themselves (t of them) in the scalar field, then g'^x. Done here via
 * interpolating t public shares of the same instance, which must agree with every other set. */
static void shares_of(const struct dealt *d, const char *name, uint8_t (*sh)[TCOIN_SHARE_LEN])
{
	for (uint32_t i = 0; i < N; i++)
		ck_assert_int_eq(tcoin_share(sh[i], d->x[i], d->vk[i], (const uint8_t *)name,
					     strlen(name)),
				 0);
}

START_TEST(test_deal_and_public)
{
	struct dealt d, d2, d3;
	deal(&d, 1);
	deal(&d2, 1);
	deal(&d3, 2);
	ck_assert(memcmp(&d, &d2, sizeof(d)) == 0);
	ck_assert(memcmp(d.x, d3.x, sizeof(d.x)) != 0);
	for (int i = 0; i < N; i++) {
		uint8_t vk[32];
		ck_assert_int_eq(tcoin_public(vk, d.x[i]), 0);
		ck_assert(memcmp(vk, d.vk[i], 32) == 0);
		ck_assert(tcoin_point_ok(d.vk[i]));
		ck_assert(tcoin_scalar_ok(d.x[i]));
	}
	uint8_t seed[32] = { 0 };
	ck_assert_int_eq(tcoin_deal(N, 0, seed, d.x, d.vk), STRATA_EINVAL);
	ck_assert_int_eq(tcoin_deal(N, N + 1, seed, d.x, d.vk), STRATA_EINVAL);
	uint8_t zero[32] = { 0 }, big[32];
	memset(big, 0xff, sizeof(big));
	ck_assert(!tcoin_scalar_ok(zero));
	ck_assert(!tcoin_scalar_ok(big)); /* not reduced */
	ck_assert(!tcoin_point_ok(zero));
	ck_assert(!tcoin_point_ok(big));
}
END_TEST

/* Every subset of size T of the N shares (all 35) gives the same point and coin; every subset
 * of size T - 1 gives a different point, and tcoin_combine refuses it. */
START_TEST(test_any_t_shares_agree)
{
	struct dealt d;
	deal(&d, 3);
	const char *name = "inst 7 round 3";
	uint8_t sh[N][TCOIN_SHARE_LEN];
	shares_of(&d, name, sh);
	uint8_t ref[32];
	bool have_ref = false;
	uint8_t ref_bit = 0;
	int sets = 0, small_sets = 0;
	for (uint32_t mask = 1; mask < (1u << N); mask++) {
		int k = __builtin_popcount(mask);
		if (k != T && k != T - 1)
			continue;
		uint32_t ids[N];
		uint8_t pts[N][32];
		size_t c = 0;
		for (uint32_t i = 0; i < N; i++)
			if (mask & (1u << i)) {
				ids[c] = i + 1;
				memcpy(pts[c], sh[i], 32);
				c++;
			}
		uint8_t p[32], bit;
		ck_assert_int_eq(tcoin_interpolate(p, ids, (const uint8_t(*)[32])pts, c), 0);
		if (k == T) {
			ck_assert_int_eq(tcoin_combine(&bit, T, ids, (const uint8_t(*)[32])pts, c,
						       (const uint8_t *)name, strlen(name)),
					 0);
			if (!have_ref) {
				memcpy(ref, p, 32);
				ref_bit = bit;
				have_ref = true;
			}
			ck_assert(memcmp(p, ref, 32) == 0);
			ck_assert_int_eq(bit, ref_bit);
			sets++;
		} else {
			ck_assert_int_eq(tcoin_combine(&bit, T, ids, (const uint8_t(*)[32])pts, c,
						       (const uint8_t *)name, strlen(name)),
					 STRATA_EINVAL);
			small_sets++;
			/* checked against ref once every T-set was seen: see below */
		}
	}
	ck_assert_int_eq(sets, 35);
	/* f shares interpolate to something else than g'^x, for every f-subset */
	for (uint32_t mask = 1; mask < (1u << N); mask++) {
		if (__builtin_popcount(mask) != T - 1)
			continue;
		uint32_t ids[N];
		uint8_t pts[N][32];
		size_t c = 0;
		for (uint32_t i = 0; i < N; i++)
			if (mask & (1u << i)) {
				ids[c] = i + 1;
				memcpy(pts[c], sh[i], 32);
				c++;
			}
		uint8_t p[32];
		ck_assert_int_eq(tcoin_interpolate(p, ids, (const uint8_t(*)[32])pts, c), 0);
		ck_assert(memcmp(p, ref, 32) != 0);
	}
	ck_assert_int_eq(small_sets, 35);
}
END_TEST

START_TEST(test_shares_verify_and_forgeries_fail)
{
	struct dealt d, other;
	deal(&d, 4);
	deal(&other, 5);
	const char *name = "inst 1 round 1";
	size_t nl = strlen(name);
	uint8_t sh[N][TCOIN_SHARE_LEN];
	shares_of(&d, name, sh);
	for (int i = 0; i < N; i++)
		ck_assert(tcoin_verify(sh[i], d.vk[i], (const uint8_t *)name, nl));
	/* a share checked against another process's key, or another instance */
	ck_assert(!tcoin_verify(sh[0], d.vk[1], (const uint8_t *)name, nl));
	ck_assert(!tcoin_verify(sh[0], d.vk[0], (const uint8_t *)"inst 1 round 2", 14));
	/* a share made with another dealing's secret (a process that does not hold x_1) */
	uint8_t forged[TCOIN_SHARE_LEN];
	ck_assert_int_eq(tcoin_share(forged, other.x[0], d.vk[0], (const uint8_t *)name, nl), 0);
	ck_assert(!tcoin_verify(forged, d.vk[0], (const uint8_t *)name, nl));
	/* a valid proof with the point replaced (S_1 * g'), and any flipped byte */
	for (size_t b = 0; b < TCOIN_SHARE_LEN; b += 7) {
		uint8_t bad[TCOIN_SHARE_LEN];
		memcpy(bad, sh[0], sizeof(bad));
		bad[b] ^= 0x01;
		ck_assert(!tcoin_verify(bad, d.vk[0], (const uint8_t *)name, nl));
	}
	uint8_t bad[TCOIN_SHARE_LEN];
	memcpy(bad, sh[0], sizeof(bad));
	memcpy(bad, sh[1], 32); /* another process's share point under process 1's proof */
	ck_assert(!tcoin_verify(bad, d.vk[0], (const uint8_t *)name, nl));
	memset(bad, 0, sizeof(bad));
	ck_assert(!tcoin_verify(bad, d.vk[0], (const uint8_t *)name, nl));
	/* a wrong share changes the coin's point: combining it is what verification prevents */
	uint32_t ids[T] = { 1, 2, 3, 4 };
	uint8_t pts[T][32], p_ok[32], p_bad[32];
	for (int i = 0; i < T; i++)
		memcpy(pts[i], sh[i], 32);
	ck_assert_int_eq(tcoin_interpolate(p_ok, ids, (const uint8_t(*)[32])pts, T), 0);
	memcpy(pts[0], forged, 32);
	ck_assert_int_eq(tcoin_interpolate(p_bad, ids, (const uint8_t(*)[32])pts, T), 0);
	ck_assert(memcmp(p_ok, p_bad, 32) != 0);
	/* duplicate ids are refused */
	uint32_t dup[T] = { 1, 1, 2, 3 };
	ck_assert_int_eq(tcoin_interpolate(p_bad, dup, (const uint8_t(*)[32])pts, T), STRATA_EINVAL);
}
END_TEST

/* Over 200 instances the coin takes both values, roughly half each (a fixed dealing: the test
 * is deterministic). */
START_TEST(test_coin_varies)
{
	struct dealt d;
	deal(&d, 6);
	int ones = 0;
	for (int r = 0; r < 200; r++) {
		char name[32];
		int nl = snprintf(name, sizeof(name), "inst 1 round %d", r);
		uint8_t sh[T][TCOIN_SHARE_LEN], pts[T][32], bit;
		uint32_t ids[T];
		for (int i = 0; i < T; i++) {
			ids[i] = (uint32_t)(N - i); /* the last T processes */
			ck_assert_int_eq(tcoin_share(sh[i], d.x[N - 1 - i], d.vk[N - 1 - i],
						     (const uint8_t *)name, (size_t)nl),
					 0);
			memcpy(pts[i], sh[i], 32);
		}
		ck_assert_int_eq(tcoin_combine(&bit, T, ids, (const uint8_t(*)[32])pts, T,
					       (const uint8_t *)name, (size_t)nl),
				 0);
		ones += bit;
	}
	ck_assert_int_gt(ones, 60);
	ck_assert_int_lt(ones, 140);
}
END_TEST

static Suite *tcoin_suite(void)
{
	Suite *s = suite_create("tcoin");
	TCase *tc = tcase_create("tcoin");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_deal_and_public);
	tcase_add_test(tc, test_any_t_shares_agree);
	tcase_add_test(tc, test_shares_verify_and_forgeries_fail);
	tcase_add_test(tc, test_coin_varies);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (strata_crypto_init() != 0)
		return 1;
	SRunner *sr = srunner_create(tcoin_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
