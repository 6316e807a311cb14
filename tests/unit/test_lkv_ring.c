/* Unit tests of the leaderless store's consistent-hash ring (src/reg/lkv_ring.c): placement
 * against a brute-force walk, distinct replicas, wrap-around, balance, determinism, and the
 * consistent-hashing property that adding a node moves only about 1/(n+1) of the keys. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "reg/lkv.h"

static uint64_t key_hash(unsigned i)
{
	char k[32];
	int len = snprintf(k, sizeof(k), "key-%u", i);
	return lkv_hash(k, (size_t)len);
}

/* The preference list by definition: walk the sorted tokens from the first >= h. */
static unsigned brute(const struct lkv_ring *r, uint64_t h, uint32_t count, uint32_t *out)
{
	size_t start = r->len;
	for (size_t i = 0; i < r->len; i++)
		if (r->v[i].token >= h) {
			start = i;
			break;
		}
	if (start == r->len)
		start = 0;
	unsigned got = 0;
	for (size_t k = 0; k < r->len && got < count; k++) {
		uint32_t node = r->v[(start + k) % r->len].node;
		bool dup = false;
		for (unsigned j = 0; j < got; j++)
			dup |= out[j] == node;
		if (!dup)
			out[got++] = node;
	}
	return got;
}

START_TEST(test_hash)
{
	ck_assert_uint_eq(lkv_hash("abc", 3), lkv_hash("abc", 3));
	ck_assert_uint_ne(lkv_hash("abc", 3), lkv_hash("abd", 3));
	ck_assert_uint_ne(lkv_hash("", 0), lkv_hash("\0", 1));
	/* The top byte (digest bucket, ring position) must vary: avalanche of the finalizer. */
	unsigned seen[256] = { 0 }, distinct = 0;
	for (unsigned i = 0; i < 4096; i++)
		if (!seen[key_hash(i) >> 56]++)
			distinct++;
	ck_assert_uint_eq(distinct, 256);
}
END_TEST

START_TEST(test_placement_matches_definition)
{
	struct lkv_ring r;
	ck_assert_int_eq(lkv_ring_init(&r, 5, LKV_VNODES), 0);
	ck_assert_uint_eq(r.len, 5 * LKV_VNODES);
	for (size_t i = 1; i < r.len; i++)
		ck_assert(r.v[i - 1].token <= r.v[i].token);
	for (unsigned i = 0; i < 2000; i++) {
		uint64_t h = key_hash(i);
		uint32_t a[8], b[8];
		unsigned na = lkv_ring_replicas(&r, h, 3, a);
		unsigned nb = brute(&r, h, 3, b);
		ck_assert_uint_eq(na, 3);
		ck_assert_uint_eq(nb, 3);
		for (unsigned j = 0; j < 3; j++) {
			ck_assert_uint_eq(a[j], b[j]);
			ck_assert(a[j] >= 1 && a[j] <= 5);
			for (unsigned k = 0; k < j; k++)
				ck_assert_uint_ne(a[j], a[k]);
		}
	}
	/* Wrap-around: past the last token the walk starts at the first. */
	uint32_t out[5];
	lkv_ring_replicas(&r, UINT64_MAX, 1, out);
	if (r.v[r.len - 1].token != UINT64_MAX)
		ck_assert_uint_eq(out[0], r.v[0].node);
	lkv_ring_replicas(&r, 0, 1, out);
	ck_assert_uint_eq(out[0], r.v[0].node);
	/* More replicas than nodes: every node once. */
	ck_assert_uint_eq(lkv_ring_replicas(&r, 42, 9, out), 5);
	lkv_ring_free(&r);
}
END_TEST

START_TEST(test_determinism)
{
	struct lkv_ring a, b;
	ck_assert_int_eq(lkv_ring_init(&a, 7, LKV_VNODES), 0);
	ck_assert_int_eq(lkv_ring_init(&b, 7, LKV_VNODES), 0);
	ck_assert_uint_eq(a.len, b.len);
	ck_assert_int_eq(memcmp(a.v, b.v, a.len * sizeof(*a.v)), 0);
	for (unsigned i = 0; i < 1000; i++) {
		uint32_t x[3], y[3];
		lkv_ring_replicas(&a, key_hash(i), 3, x);
		lkv_ring_replicas(&b, key_hash(i), 3, y);
		ck_assert_int_eq(memcmp(x, y, sizeof(x)), 0);
	}
	lkv_ring_free(&a);
	lkv_ring_free(&b);
}
END_TEST

START_TEST(test_balance)
{
	for (uint32_t n = 3; n <= 9; n += 2) {
		struct lkv_ring r;
		ck_assert_int_eq(lkv_ring_init(&r, n, LKV_VNODES), 0);
		unsigned primary[10] = { 0 }, member[10] = { 0 };
		const unsigned keys = 100000;
		for (unsigned i = 0; i < keys; i++) {
			uint32_t out[3];
			lkv_ring_replicas(&r, key_hash(i), 3, out);
			primary[out[0]]++;
			for (unsigned j = 0; j < 3; j++)
				member[out[j]]++;
		}
		for (uint32_t id = 1; id <= n; id++) {
			double share = (double)primary[id] / keys, want = 1.0 / n;
			ck_assert_msg(share > want * 0.75 && share < want * 1.25,
				      "n=%u node %u primary share %.3f, expected about %.3f", n, id, share,
				      want);
			double rs = (double)member[id] / keys, rwant = 3.0 / n;
			ck_assert_msg(rs > rwant * 0.8 && rs < rwant * 1.2,
				      "n=%u node %u replica share %.3f, expected about %.3f", n, id, rs,
				      rwant);
		}
		lkv_ring_free(&r);
	}
}
END_TEST

START_TEST(test_minimal_movement)
{
	struct lkv_ring a, b;
	ck_assert_int_eq(lkv_ring_init(&a, 5, LKV_VNODES), 0);
	ck_assert_int_eq(lkv_ring_init(&b, 6, LKV_VNODES), 0);
	unsigned moved = 0, to_new = 0;
	const unsigned keys = 50000;
	for (unsigned i = 0; i < keys; i++) {
		uint32_t x, y;
		lkv_ring_replicas(&a, key_hash(i), 1, &x);
		lkv_ring_replicas(&b, key_hash(i), 1, &y);
		moved += x != y;
		to_new += y == 6;
	}
	/* Only keys taken over by the new node move: about 1/6 of them. */
	ck_assert_uint_eq(moved, to_new);
	ck_assert_msg(moved > keys / 9 && moved < keys / 4, "moved %u of %u", moved, keys);
	lkv_ring_free(&a);
	lkv_ring_free(&b);
}
END_TEST

START_TEST(test_errors)
{
	struct lkv_ring r;
	ck_assert_int_eq(lkv_ring_init(&r, 0, LKV_VNODES), STRATA_EINVAL);
	ck_assert_int_eq(lkv_ring_init(&r, 3, 0), STRATA_EINVAL);
	ck_assert_int_eq(lkv_ring_init(&r, STRATA_MAX_NODES + 1, 4), STRATA_EINVAL);
	ck_assert_int_eq(lkv_ring_init(&r, 1, 4), 0);
	uint32_t out[3];
	ck_assert_uint_eq(lkv_ring_replicas(&r, 7, 3, out), 1);
	ck_assert_uint_eq(out[0], 1);
	lkv_ring_free(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("lkv_ring");
	TCase *tc = tcase_create("ring");
	/* A hang guard, not a speed bound: Check's 4 s default tripped under a heavily loaded
	 * machine (test_kv_sm, once). */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_hash);
	tcase_add_test(tc, test_placement_matches_definition);
	tcase_add_test(tc, test_determinism);
	tcase_add_test(tc, test_balance);
	tcase_add_test(tc, test_minimal_movement);
	tcase_add_test(tc, test_errors);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
