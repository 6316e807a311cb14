/* Unit tests for the instance table (src/core/itab.h): lazy creation, the capacity and its
 * error, byte and u64 keys, deletion with backward shift (checked against a reference model
 * under random operations), iteration with deletion, retirement below a watermark and the
 * owner's fini callback. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/itab.h"

struct ext {
	uint64_t id;
	uint64_t val;
};

static void count_fini(void *ext, void *arg)
{
	(void)ext;
	(*(unsigned *)arg)++;
}

START_TEST(test_lazy_and_cap)
{
	unsigned finis = 0;
	struct strata_itab *t = strata_itab_new("test table", 3, sizeof(struct ext), count_fini,
						&finis);
	ck_assert_ptr_nonnull(t);
	bool created = false;
	int rc = 0;
	struct ext *a = strata_itab_get_id(t, 7, &created, &rc);
	ck_assert_ptr_nonnull(a);
	ck_assert(created);
	ck_assert_uint_eq(a->val, 0); /* zeroed */
	a->val = 70;
	ck_assert_ptr_eq(strata_itab_get_id(t, 7, &created, &rc), a);
	ck_assert(!created);
	ck_assert_ptr_nonnull(strata_itab_get_id(t, 8, NULL, NULL));
	ck_assert_ptr_nonnull(strata_itab_get_id(t, 9, NULL, NULL));
	ck_assert_ptr_null(strata_itab_get_id(t, 10, &created, &rc));
	ck_assert_int_eq(rc, STRATA_EFULL);
	ck_assert_str_eq(strata_itab_error(t), "test table is full (3 instances)");
	ck_assert_ptr_null(strata_itab_find_id(t, 10));
	strata_itab_del_id(t, 8);
	ck_assert_uint_eq(finis, 1);
	ck_assert_ptr_nonnull(strata_itab_get_id(t, 10, NULL, NULL));
	ck_assert_ptr_eq(strata_itab_find_id(t, 7), a); /* pointers stay valid */
	ck_assert_uint_eq(a->val, 70);
	strata_itab_free(t);
	ck_assert_uint_eq(finis, 4);
}
END_TEST

START_TEST(test_byte_keys)
{
	struct strata_itab *t = strata_itab_new("keys", 8, sizeof(struct ext), NULL, NULL);
	struct ext *x = strata_itab_get(t, "x", 1, NULL, NULL);
	struct ext *xy = strata_itab_get(t, "xy", 2, NULL, NULL);
	struct ext *empty = strata_itab_get(t, NULL, 0, NULL, NULL);
	ck_assert_ptr_nonnull(x);
	ck_assert_ptr_nonnull(xy);
	ck_assert_ptr_nonnull(empty);
	ck_assert_ptr_ne(x, xy);
	ck_assert_ptr_ne(x, empty);
	ck_assert_ptr_eq(strata_itab_find(t, "xy", 2), xy);
	ck_assert_ptr_null(strata_itab_find(t, "y", 1));
	/* The key bytes of an instance, from its extension. */
	size_t kl = 0;
	const void *k = strata_itab_ext_key(xy, &kl);
	ck_assert_uint_eq(kl, 2);
	ck_assert_int_eq(memcmp(k, "xy", 2), 0);
	ck_assert_ptr_nonnull(strata_itab_ext_key(empty, &kl));
	ck_assert_uint_eq(kl, 0);
	strata_itab_free(t);
}
END_TEST

/* Random gets and deletes on a small id space against an array model: every lookup agrees, and
 * every iteration sees each live instance exactly once. */
START_TEST(test_random_model)
{
	enum { IDS = 200, CAP = 64 };
	struct strata_itab *t = strata_itab_new("model", CAP, sizeof(struct ext), NULL, NULL);
	bool live[IDS] = { false };
	size_t nlive = 0;
	uint64_t x = 88172645463325252ull;
	for (int step = 0; step < 200000; step++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint64_t id = x % IDS;
		if ((x >> 32) % 3) {
			int rc = 0;
			struct ext *e = strata_itab_get_id(t, id, NULL, &rc);
			if (live[id]) {
				ck_assert_ptr_nonnull(e);
				ck_assert_uint_eq(e->id, id);
			} else if (nlive < CAP) {
				ck_assert_ptr_nonnull(e);
				e->id = id;
				live[id] = true;
				nlive++;
			} else {
				ck_assert_ptr_null(e);
				ck_assert_int_eq(rc, STRATA_EFULL);
			}
		} else {
			strata_itab_del_id(t, id);
			if (live[id]) {
				live[id] = false;
				nlive--;
			}
		}
		ck_assert_uint_eq(strata_itab_len(t), nlive);
		if (step % 1000 == 0) {
			for (uint64_t k = 0; k < IDS; k++)
				ck_assert(!!strata_itab_find_id(t, k) == live[k]);
			unsigned seen[IDS] = { 0 };
			size_t it = 0;
			const void *key;
			size_t key_len;
			struct ext *e;
			while ((e = strata_itab_next(t, &it, &key, &key_len))) {
				ck_assert_uint_eq(key_len, 8);
				ck_assert_uint_eq(strata_itab_key_id(key), e->id);
				seen[e->id]++;
			}
			for (uint64_t k = 0; k < IDS; k++)
				ck_assert_uint_eq(seen[k], live[k] ? 1 : 0);
		}
	}
	strata_itab_free(t);
}
END_TEST

START_TEST(test_delete_while_iterating_and_retire)
{
	struct strata_itab *t = strata_itab_new("iter", 32, sizeof(struct ext), NULL, NULL);
	for (uint64_t k = 0; k < 20; k++)
		((struct ext *)strata_itab_get_id(t, k, NULL, NULL))->id = k;
	/* Delete every odd instance while iterating; every instance is visited once. */
	unsigned visits = 0;
	size_t it = 0;
	const void *key;
	struct ext *e;
	while ((e = strata_itab_next(t, &it, &key, NULL))) {
		visits++;
		if (e->id % 2)
			strata_itab_del_id(t, e->id);
	}
	ck_assert_uint_eq(visits, 20);
	ck_assert_uint_eq(strata_itab_len(t), 10);
	ck_assert_uint_eq(strata_itab_retire_below(t, 10), 5); /* 0, 2, 4, 6, 8 */
	ck_assert_uint_eq(strata_itab_len(t), 5);
	for (uint64_t k = 0; k < 20; k++)
		ck_assert(!!strata_itab_find_id(t, k) == (k >= 10 && k % 2 == 0));
	strata_itab_free(t);
}
END_TEST

static Suite *itab_suite(void)
{
	Suite *s = suite_create("itab");
	TCase *tc = tcase_create("itab");
	/* The random model runs 200,000 steps: ~1 s of CPU, more wall time on a loaded machine. */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_lazy_and_cap);
	tcase_add_test(tc, test_byte_keys);
	tcase_add_test(tc, test_random_model);
	tcase_add_test(tc, test_delete_while_iterating_and_retire);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(itab_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
