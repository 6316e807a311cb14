/* Unit tests of the KV state machine's commands added for the RESP endpoint (src/smr/kv_sm.c,
 * docs/resp.md): put-nx/xx, incr (bounds, non-numbers), getset, mput (and its decoder check),
 * del's presence report, and the session cache answering a duplicate incr with the first
 * result without applying it again. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/codec.h"
#include "core/error.h"
#include "smr/smr.h"

static struct smr_cmd cmd(uint8_t type, const char *k, const char *v, uint64_t session,
			  uint64_t seq)
{
	struct smr_cmd c = { .type = type, .session = session, .seq = seq,
			     .key = (const uint8_t *)k, .key_len = strlen(k),
			     .val = (const uint8_t *)v, .val_len = v ? strlen(v) : 0 };
	return c;
}

static struct smr_result apply(struct smr_kv *kv, uint64_t idx, struct smr_cmd c)
{
	struct smr_result r;
	ck_assert_int_eq(smr_kv_apply(kv, idx, &c, &r), 0);
	return r;
}

static int get_eq(struct smr_kv *kv, const char *k, const char *want)
{
	struct smr_kv_value v;
	if (smr_kv_get(kv, k, strlen(k), &v) != 0)
		return want == NULL;
	return want && v.val->len == strlen(want) && memcmp(v.val->data, want, v.val->len) == 0;
}

START_TEST(test_nx_xx_getset_del)
{
	struct smr_kv *kv = smr_kv_new(16);
	ck_assert_int_eq(apply(kv, 1, cmd(SMR_CMD_PUT_XX, "k", "a", 0, 0)).num, 0);
	ck_assert(get_eq(kv, "k", NULL));
	ck_assert_int_eq(apply(kv, 2, cmd(SMR_CMD_PUT_NX, "k", "a", 0, 0)).num, 1);
	ck_assert_int_eq(apply(kv, 3, cmd(SMR_CMD_PUT_NX, "k", "b", 0, 0)).num, 0);
	ck_assert(get_eq(kv, "k", "a"));
	ck_assert_int_eq(apply(kv, 4, cmd(SMR_CMD_PUT_XX, "k", "c", 0, 0)).num, 1);
	struct smr_result r = apply(kv, 5, cmd(SMR_CMD_GETSET, "k", "d", 0, 0));
	ck_assert_ptr_nonnull(r.old);
	ck_assert(r.old->len == 1 && r.old->data[0] == 'c');
	strata_msg_unref(r.old);
	ck_assert(get_eq(kv, "k", "d"));
	r = apply(kv, 6, cmd(SMR_CMD_GETSET, "new", "x", 0, 0));
	ck_assert_ptr_null(r.old);
	ck_assert_int_eq(apply(kv, 7, cmd(SMR_CMD_DEL, "k", NULL, 0, 0)).num, 1);
	ck_assert_int_eq(apply(kv, 8, cmd(SMR_CMD_DEL, "k", NULL, 0, 0)).num, 0);
	smr_kv_free(kv);
}
END_TEST

START_TEST(test_incr)
{
	struct smr_kv *kv = smr_kv_new(16);
	ck_assert_int_eq(apply(kv, 1, cmd(SMR_CMD_INCR, "c", "1", 0, 0)).num, 1);
	ck_assert_int_eq(apply(kv, 2, cmd(SMR_CMD_INCR, "c", "-11", 0, 0)).num, -10);
	ck_assert(get_eq(kv, "c", "-10"));
	uint64_t rev = smr_kv_revision(kv);
	/* Not numbers, and overflow: an error and no change. */
	const char *bad[] = { "", "+1", "01", "1 ", "x", "-0", "99999999999999999999" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(apply(kv, 3, cmd(SMR_CMD_INCR, "c", bad[i], 0, 0)).status,
				 STRATA_EINVAL);
	apply(kv, 4, cmd(SMR_CMD_PUT, "s", "abc", 0, 0));
	ck_assert_int_eq(apply(kv, 5, cmd(SMR_CMD_INCR, "s", "1", 0, 0)).status, STRATA_EINVAL);
	apply(kv, 6, cmd(SMR_CMD_PUT, "m", "9223372036854775807", 0, 0));
	rev = smr_kv_revision(kv);
	ck_assert_int_eq(apply(kv, 7, cmd(SMR_CMD_INCR, "m", "1", 0, 0)).status, STRATA_EINVAL);
	ck_assert_uint_eq(smr_kv_revision(kv), rev);
	ck_assert(get_eq(kv, "m", "9223372036854775807"));
	ck_assert_int_eq(apply(kv, 8, cmd(SMR_CMD_INCR, "m", "-9223372036854775807", 0, 0)).num, 0);
	smr_kv_free(kv);
}
END_TEST

START_TEST(test_incr_duplicate_applied_once)
{
	struct smr_kv *kv = smr_kv_new(16);
	struct smr_result a = apply(kv, 1, cmd(SMR_CMD_INCR, "c", "5", 77, 1));
	struct smr_result b = apply(kv, 2, cmd(SMR_CMD_INCR, "c", "5", 77, 1));
	ck_assert(!a.duplicate && b.duplicate);
	ck_assert_int_eq(b.num, 5);
	ck_assert(get_eq(kv, "c", "5"));
	/* The broken variant (no sessions) applies it twice: the check above can fail. */
	smr_kv_set_broken_sessions(kv, true);
	apply(kv, 3, cmd(SMR_CMD_INCR, "c", "5", 77, 1));
	ck_assert(get_eq(kv, "c", "10"));
	smr_kv_free(kv);
}
END_TEST

START_TEST(test_mput)
{
	struct strata_wr w;
	strata_wr_init(&w, 1024);
	strata_wr_u64(&w, 2);
	strata_wr_bytes(&w, "a", 1);
	strata_wr_bytes(&w, "1", 1);
	strata_wr_bytes(&w, "b", 1);
	strata_wr_bytes(&w, "2", 1);
	int err = 0;
	struct strata_msg *m = strata_wr_take_msg(&w, &err);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(smr_mput_check(m->data, m->len), 0);
	ck_assert_int_eq(smr_mput_check(m->data, m->len - 1), STRATA_EPROTO);
	uint8_t zero = 0;
	ck_assert_int_eq(smr_mput_check(&zero, 1), STRATA_EPROTO); /* no pairs */
	struct smr_kv *kv = smr_kv_new(16);
	struct smr_cmd c = { .type = SMR_CMD_MPUT, .key = (const uint8_t *)"a", .key_len = 1,
			     .val = m->data, .val_len = m->len };
	struct smr_result r;
	ck_assert_int_eq(smr_kv_apply(kv, 1, &c, &r), 0);
	ck_assert_int_eq(r.num, 2);
	ck_assert(get_eq(kv, "a", "1") && get_eq(kv, "b", "2"));
	ck_assert_uint_eq(smr_kv_revision(kv), 2);
	smr_kv_free(kv);
	strata_msg_unref(m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kv_sm");
	TCase *tc = tcase_create("commands");
	tcase_add_test(tc, test_nx_xx_getset_del);
	tcase_add_test(tc, test_incr);
	tcase_add_test(tc, test_incr_duplicate_applied_once);
	tcase_add_test(tc, test_mput);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
