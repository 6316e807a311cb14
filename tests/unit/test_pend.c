/* Unit tests of the KV logs' pending-request table (src/smr/pend.c): the slot bound and its
 * busy reply, ids that name a slot and a generation (a freed request's id finds nothing, not
 * even the next request in its slot), the byte bound and its accounting, a log's own fields
 * after the common record (zeroed on every allocation), and what freeing releases. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "smr/smr.h"

/* A log's record: the common part first, its own fields after it (as log.c and tob_log.c). */
struct rec {
	struct smr_pend c;
	uint64_t own[3];
};

#define SLOT(id) ((uint32_t)((id) & ((1u << SMR_PEND_ID_BITS) - 1)))

START_TEST(test_slots_and_busy)
{
	struct smr_pend_table t;
	ck_assert_int_eq(smr_pend_init(&t, 5, sizeof(struct rec)), 0);
	t.id_gen = 12345;
	ck_assert_uint_eq(t.cap, 5);
	char why[100];
	uint64_t ids[5];
	bool seen[5] = { false };
	for (int i = 0; i < 5; i++) {
		struct smr_pend *p = smr_pend_alloc(&t, 10, why, sizeof(why));
		ck_assert_ptr_nonnull(p);
		ids[i] = p->id;
		ck_assert_uint_ne(p->id, 0);
		ck_assert_uint_lt(SLOT(p->id), 5);
		ck_assert(!seen[SLOT(p->id)]);
		seen[SLOT(p->id)] = true;
		ck_assert_ptr_eq(smr_pend_at(&t, SLOT(p->id)), p);
	}
	ck_assert_uint_eq(t.n, 5);
	ck_assert_ptr_null(smr_pend_alloc(&t, 10, why, sizeof(why)));
	ck_assert_str_eq(why, "busy: 5 requests pending on this node, retry");
	for (int i = 0; i < 5; i++)
		ck_assert_ptr_eq(smr_pend_find(&t, ids[i]), smr_pend_at(&t, SLOT(ids[i])));
	ck_assert_ptr_null(smr_pend_find(&t, 0));
	ck_assert_ptr_null(smr_pend_find(&t, (ids[0] & ~(uint64_t)0xfffff) | 7)); /* slot >= cap */
	smr_pend_fini(&t);
	ck_assert_ptr_null(t.rec);

	/* The bound on slots is also the ids' slot bits. */
	ck_assert_int_eq(smr_pend_init(&t, 1u << 30, sizeof(struct smr_pend)), 0);
	ck_assert_uint_eq(t.cap, 1u << SMR_PEND_ID_BITS);
	smr_pend_fini(&t);
}
END_TEST

START_TEST(test_stale_ids)
{
	struct smr_pend_table t;
	ck_assert_int_eq(smr_pend_init(&t, 1, sizeof(struct rec)), 0);
	char why[100];
	uint64_t old[4];
	for (int round = 0; round < 4; round++) {
		struct smr_pend *p = smr_pend_alloc(&t, 0, why, sizeof(why));
		ck_assert_ptr_nonnull(p);
		ck_assert_uint_eq(SLOT(p->id), 0); /* one slot: always the same */
		for (int i = 0; i < round; i++) {
			ck_assert_uint_ne(p->id, old[i]);
			ck_assert_ptr_null(smr_pend_find(&t, old[i])); /* an answer for an older one */
		}
		ck_assert_ptr_eq(smr_pend_find(&t, p->id), p);
		old[round] = p->id;
		smr_pend_free(&t, p);
		ck_assert_ptr_null(smr_pend_find(&t, old[round]));
		ck_assert_uint_eq(t.n, 0);
	}
	smr_pend_fini(&t);
}
END_TEST

START_TEST(test_bytes)
{
	struct smr_pend_table t;
	ck_assert_int_eq(smr_pend_init(&t, 8, sizeof(struct rec)), 0);
	char why[100];
	struct smr_pend *a = smr_pend_alloc(&t, 1000, why, sizeof(why));
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(t.bytes, 0); /* only what the caller holds counts */
	smr_pend_hold(&t, a, SMR_PEND_BYTES - 100);
	ck_assert_uint_eq(t.bytes, SMR_PEND_BYTES - 100);
	struct smr_pend *b = smr_pend_alloc(&t, 100, why, sizeof(why)); /* exactly at the bound */
	ck_assert_ptr_nonnull(b);
	smr_pend_hold(&t, b, 60);
	ck_assert_ptr_null(smr_pend_alloc(&t, 41, why, sizeof(why)));
	char want[100];
	snprintf(want, sizeof(want), "busy: %zu bytes of writes pending, retry", SMR_PEND_BYTES - 40);
	ck_assert_str_eq(why, want);
	ck_assert_uint_eq(t.n, 2);
	smr_pend_free(&t, a);
	ck_assert_uint_eq(t.bytes, 60);
	ck_assert_ptr_nonnull(smr_pend_alloc(&t, 41, why, sizeof(why)));
	smr_pend_free(&t, b);
	ck_assert_uint_eq(t.bytes, 0);
	smr_pend_fini(&t);
}
END_TEST

START_TEST(test_record_and_release)
{
	struct smr_pend_table t;
	ck_assert_int_eq(smr_pend_init(&t, 2, sizeof(struct rec)), 0);
	char why[100];
	struct rec *r = (struct rec *)smr_pend_alloc(&t, 0, why, sizeof(why));
	ck_assert_ptr_nonnull(r);
	r->own[0] = r->own[1] = r->own[2] = 77;
	struct strata_request q = {
		.key = (const uint8_t *)"pre", .key_len = 3, .value = (const uint8_t *)"pre/a",
		.value_len = 5, .limit = 9, .session = 4, .seq = 2,
	};
	r->c.kind = SMR_REQ_RANGE;
	ck_assert_int_eq(smr_pend_read_args(&r->c, &q), 0);
	ck_assert_uint_eq(r->c.key->len, 3);
	ck_assert_uint_eq(r->c.after->len, 5);
	ck_assert_uint_eq(r->c.limit, 9);
	smr_pend_write_session(&r->c, &q, NULL, true); /* a session of its own: no random draw */
	ck_assert_uint_eq(r->c.session, 4);
	ck_assert_uint_eq(r->c.seq, 2);
	struct strata_msg *key = strata_msg_ref(r->c.key), *after = strata_msg_ref(r->c.after);
	r->c.cmd = strata_msg_new("cmd", 3);
	struct strata_msg *cmd = strata_msg_ref(r->c.cmd);
	ck_assert_uint_eq(key->refs, 2);
	smr_pend_free(&t, &r->c);
	ck_assert_uint_eq(key->refs, 1); /* the table's references are gone */
	ck_assert_uint_eq(after->refs, 1);
	ck_assert_uint_eq(cmd->refs, 1);
	ck_assert_uint_eq(r->own[0] | r->own[1] | r->own[2], 0);

	/* A get's key may be empty; a get keeps no start key. */
	struct rec *g = (struct rec *)smr_pend_alloc(&t, 0, why, sizeof(why));
	ck_assert_ptr_nonnull(g);
	ck_assert_uint_eq(g->own[0] | g->own[1] | g->own[2], 0);
	g->c.kind = SMR_REQ_GET;
	struct strata_request qg = { .value = (const uint8_t *)"x", .value_len = 1 };
	ck_assert_int_eq(smr_pend_read_args(&g->c, &qg), 0);
	ck_assert_uint_eq(g->c.key->len, 0);
	ck_assert_ptr_null(g->c.after);
	/* One left pending: fini releases it. */
	g->c.cmd = strata_msg_ref(cmd);
	ck_assert_uint_eq(cmd->refs, 2);
	smr_pend_fini(&t);
	ck_assert_uint_eq(cmd->refs, 1);
	strata_msg_unref(key);
	strata_msg_unref(after);
	strata_msg_unref(cmd);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pend");
	TCase *tc = tcase_create("pend");
	tcase_set_timeout(tc, 60); /* a hang guard, not a speed bound */
	tcase_add_test(tc, test_slots_and_busy);
	tcase_add_test(tc, test_stale_ids);
	tcase_add_test(tc, test_bytes);
	tcase_add_test(tc, test_record_and_release);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
