/* Unit tests of the KV state machine's commands added for the RESP endpoint (src/smr/kv_sm.c,
 * docs/resp.md): put-nx/xx, incr (bounds, non-numbers), getset, mput (and its decoder check),
 * del's presence report, and the session cache answering a duplicate incr with the first
 * result without applying it again, also out of order within the session's window, and the
 * revision history `kv watch` replays; the state's size as the space quota counts it (every
 * command's accounting, a bound on each command's growth, a restore recomputing it). */
#include <check.h>
#include <stdio.h>
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

/* ---- the state's bytes (the space quota's count) ---- */

#define O SMR_KV_KEY_OVERHEAD

/* Applies c and checks the size changed by exactly `delta`, never by more than the command's
 * growth bound. */
static struct smr_result apply_sized(struct smr_kv *kv, uint64_t idx, struct smr_cmd c,
				     int64_t delta)
{
	uint64_t before = smr_kv_bytes(kv);
	struct smr_result r = apply(kv, idx, c);
	int64_t d = (int64_t)smr_kv_bytes(kv) - (int64_t)before;
	ck_assert_int_eq(d, delta);
	ck_assert_int_le(d, (int64_t)smr_cmd_growth(&c));
	return r;
}

static struct strata_msg *pairs(const char *k1, const char *v1, const char *k2, const char *v2)
{
	struct strata_wr w;
	strata_wr_init(&w, 256);
	strata_wr_u64(&w, 2);
	strata_wr_bytes(&w, k1, strlen(k1));
	strata_wr_bytes(&w, v1, strlen(v1));
	strata_wr_bytes(&w, k2, strlen(k2));
	strata_wr_bytes(&w, v2, strlen(v2));
	int err;
	struct strata_msg *m = strata_wr_take_msg(&w, &err);
	ck_assert_ptr_nonnull(m);
	return m;
}

START_TEST(test_bytes_accounting)
{
	struct smr_kv *kv = smr_kv_new(16);
	ck_assert_uint_eq(smr_kv_bytes(kv), 0);
	apply_sized(kv, 1, cmd(SMR_CMD_PUT, "k", "abc", 0, 0), 1 + 3 + O);
	/* An overwrite counts the value's difference; the growth bound counts it as new. */
	struct smr_cmd ow = cmd(SMR_CMD_PUT, "k", "x", 0, 0);
	ck_assert_uint_eq(smr_cmd_growth(&ow), 1 + 1 + O);
	apply_sized(kv, 2, ow, -2);
	apply_sized(kv, 3, cmd(SMR_CMD_PUT_NX, "k", "yyyy", 0, 0), 0);    /* present: no write */
	apply_sized(kv, 4, cmd(SMR_CMD_PUT_XX, "zz", "yyyy", 0, 0), 0);   /* absent: no write */
	apply_sized(kv, 5, cmd(SMR_CMD_PUT_XX, "k", "yyyy", 0, 0), 3);
	apply_sized(kv, 6, cmd(SMR_CMD_PUT_NX, "key2", "vv", 0, 0), 4 + 2 + O);
	uint64_t two = (1 + 4 + O) + (4 + 2 + O);
	ck_assert_uint_eq(smr_kv_bytes(kv), two);
	/* del: the key, its value and the overhead go; an absent key changes nothing. */
	struct smr_cmd del = cmd(SMR_CMD_DEL, "k", NULL, 0, 0);
	ck_assert_uint_eq(smr_cmd_growth(&del), 0);
	apply_sized(kv, 7, del, -(int64_t)(1 + 4 + O));
	apply_sized(kv, 8, cmd(SMR_CMD_DEL, "k", NULL, 0, 0), 0);
	/* mput: every pair; its bound counts every pair as new. */
	struct strata_msg *m = pairs("a", "1", "key2", "123456");
	struct smr_cmd mp = { .type = SMR_CMD_MPUT, .key = (const uint8_t *)"a", .key_len = 1,
			      .val = m->data, .val_len = m->len };
	ck_assert_uint_eq(smr_cmd_growth(&mp), (1 + 1 + O) + (4 + 6 + O));
	apply_sized(kv, 9, mp, (1 + 1 + O) + 4);
	strata_msg_unref(m);
	/* incr: the number's digits; its bound the longest number. */
	struct smr_cmd in = cmd(SMR_CMD_INCR, "n", "5", 0, 0);
	ck_assert_uint_eq(smr_cmd_growth(&in), 1 + SMR_INCR_VALUE_MAX + O);
	apply_sized(kv, 10, in, 1 + 1 + O);
	apply_sized(kv, 11, cmd(SMR_CMD_INCR, "n", "-100", 0, 0), 2); /* "-95" */
	apply_sized(kv, 12, cmd(SMR_CMD_INCR, "n", "x", 0, 0), 0);    /* not a number */
	/* cas: the new value (val2) if the compare holds, else nothing. */
	struct smr_cmd cas = cmd(SMR_CMD_CAS, "a", "1", 0, 0);
	cas.val2 = (const uint8_t *)"abcd";
	cas.val2_len = 4;
	ck_assert_uint_eq(smr_cmd_growth(&cas), 1 + 4 + O);
	apply_sized(kv, 13, cas, 3);
	apply_sized(kv, 14, cas, 0); /* "a" holds "abcd" now: compare failed */
	struct smr_result r = apply_sized(kv, 15, cmd(SMR_CMD_GETSET, "a", "", 0, 0), -4);
	strata_msg_unref(r.old);
	/* A duplicate (session, seq) changes nothing. */
	apply_sized(kv, 16, cmd(SMR_CMD_PUT, "s", "val", 7, 1), 1 + 3 + O);
	apply_sized(kv, 17, cmd(SMR_CMD_PUT, "s", "longer value", 7, 1), 0);
	uint64_t want = (1 + 0 + O) + (4 + 6 + O) + (1 + 3 + O) + (1 + 3 + O);
	ck_assert_uint_eq(smr_kv_bytes(kv), want);
	ck_assert_uint_ge(smr_kv_bytes_peak(kv), want);
	/* A restore recomputes the size from the keys (and its high-water mark starts there). */
	struct strata_msg *snap;
	ck_assert_int_eq(smr_kv_snapshot(kv, false, &snap), 0);
	struct smr_kv *kv2;
	ck_assert_int_eq(smr_kv_restore(snap->data, snap->len, 16, &kv2), 0);
	ck_assert_uint_eq(smr_kv_bytes(kv2), want);
	ck_assert_uint_eq(smr_kv_bytes_peak(kv2), want);
	strata_msg_unref(snap);
	ck_assert_int_eq(smr_kv_snapshot_canonical(kv, &snap), 0);
	struct smr_kv *kv3;
	ck_assert_int_eq(smr_kv_restore(snap->data, snap->len, 16, &kv3), 0);
	ck_assert_uint_eq(smr_kv_bytes(kv3), want);
	strata_msg_unref(snap);
	smr_kv_free(kv3);
	smr_kv_free(kv2);
	smr_kv_free(kv);
}
END_TEST

/* The space quota's marker (SMR_CMD_REFUSED): changes nothing, answers STRATA_ENOSPACE, and
 * decides for every copy of its (session, seq): refused after it, the copy's result before. */
START_TEST(test_refused_marker)
{
	struct smr_kv *kv = smr_kv_new(16);
	apply(kv, 1, cmd(SMR_CMD_PUT, "a", "1", 0, 0));
	uint64_t rev = smr_kv_revision(kv), bytes = smr_kv_bytes(kv);
	struct smr_cmd m = cmd(SMR_CMD_REFUSED, "k", NULL, 5, 1);
	ck_assert_uint_eq(smr_cmd_growth(&m), 0);
	struct smr_result r = apply(kv, 2, m);
	ck_assert_int_eq(r.status, STRATA_ENOSPACE);
	ck_assert(!r.duplicate);
	/* A copy of the refused write after the marker: a duplicate, refused, not applied. */
	r = apply(kv, 3, cmd(SMR_CMD_PUT, "k", "v", 5, 1));
	ck_assert(r.duplicate);
	ck_assert_int_eq(r.status, STRATA_ENOSPACE);
	ck_assert(get_eq(kv, "k", NULL));
	ck_assert_uint_eq(smr_kv_revision(kv), rev);
	ck_assert_uint_eq(smr_kv_bytes(kv), bytes);
	/* A copy before the marker: applied; the marker is then a duplicate with its result. */
	r = apply(kv, 4, cmd(SMR_CMD_PUT, "k", "v", 5, 2));
	ck_assert_int_eq(r.status, 0);
	r = apply(kv, 5, cmd(SMR_CMD_REFUSED, "k", NULL, 5, 2));
	ck_assert(r.duplicate);
	ck_assert_int_eq(r.status, 0);
	ck_assert_uint_eq(r.revision, rev + 1);
	ck_assert(get_eq(kv, "k", "v"));
	/* The refusal survives a snapshot: a copy after the restore is still refused. */
	struct strata_msg *snap;
	ck_assert_int_eq(smr_kv_snapshot(kv, false, &snap), 0);
	struct smr_kv *kv2;
	ck_assert_int_eq(smr_kv_restore(snap->data, snap->len, 16, &kv2), 0);
	strata_msg_unref(snap);
	r = apply(kv2, 6, cmd(SMR_CMD_PUT, "k", "w", 5, 1));
	ck_assert(r.duplicate);
	ck_assert_int_eq(r.status, STRATA_ENOSPACE);
	ck_assert(get_eq(kv2, "k", "v"));
	smr_kv_free(kv2);
	smr_kv_free(kv);
}
END_TEST

/* The BFT KV's largest quota: 256 MiB of checkpoint less 1 MiB and the largest session table;
 * at least 1 MiB when the session table alone could fill the checkpoint. */
START_TEST(test_bft_quota_max)
{
	ck_assert_uint_eq(smr_bft_quota_max(100000), 71386880);
	ck_assert_uint_eq(smr_bft_quota_max(0), ((uint64_t)256 << 20) - ((uint64_t)1 << 20));
	ck_assert_uint_eq(smr_bft_quota_max(1000000), (uint64_t)1 << 20);
}
END_TEST

/* The running size equals a recount over every key after each of many random commands, each
 * change within its command's growth bound; a restore gives the same size. */
START_TEST(test_bytes_random)
{
	struct smr_kv *kv = smr_kv_new(64);
	uint64_t x = 88172645463325252ull;
	char key[8], val[40];
	static struct smr_kv_item items[64];
	for (uint64_t i = 1; i <= 4000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		snprintf(key, sizeof(key), "k%u", (unsigned)(x % 40));
		unsigned vl = (unsigned)((x >> 8) % 39);
		memset(val, 'v', vl);
		val[vl] = 0;
		unsigned t = (unsigned)((x >> 20) % 6);
		struct smr_cmd c = cmd(t == 0 ? SMR_CMD_DEL : t == 1 ? SMR_CMD_PUT_NX
				       : t == 2 ? SMR_CMD_PUT_XX : t == 3 ? SMR_CMD_INCR
				       : SMR_CMD_PUT, key, t == 3 ? "7" : val, 0, 0);
		uint64_t before = smr_kv_bytes(kv);
		struct smr_result r = apply(kv, i, c);
		(void)r;
		ck_assert_int_le((int64_t)smr_kv_bytes(kv) - (int64_t)before,
				 (int64_t)smr_cmd_growth(&c));
		size_t n;
		bool more;
		ck_assert_int_eq(smr_kv_range(kv, "", 0, NULL, 0, 64, items, &n, &more), 0);
		ck_assert(!more);
		uint64_t sum = 0;
		for (size_t j = 0; j < n; j++)
			sum += items[j].key->len + items[j].val->len + O;
		ck_assert_uint_eq(smr_kv_bytes(kv), sum);
	}
	struct strata_msg *snap;
	ck_assert_int_eq(smr_kv_snapshot(kv, false, &snap), 0);
	struct smr_kv *kv2;
	ck_assert_int_eq(smr_kv_restore(snap->data, snap->len, 64, &kv2), 0);
	ck_assert_uint_eq(smr_kv_bytes(kv2), smr_kv_bytes(kv));
	strata_msg_unref(snap);
	smr_kv_free(kv2);
	smr_kv_free(kv);
}
END_TEST

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

/* A pipelining session: seqs out of order within the window apply once each, repeats get their
 * own seq's result, a seq below the window is refused, and a snapshot keeps the window. */
START_TEST(test_session_window)
{
	struct smr_kv *kv = smr_kv_new(16);
	uint64_t idx = 1;
	static const uint64_t order[] = { 3, 1, 2, 6, 4, 5 };
	int64_t got[7] = { 0 };
	for (unsigned i = 0; i < 6; i++) {
		struct smr_result r = apply(kv, idx++, cmd(SMR_CMD_INCR, "c", "1", 5, order[i]));
		ck_assert(!r.duplicate);
		got[order[i]] = r.num;
	}
	ck_assert(get_eq(kv, "c", "6"));
	for (uint64_t s = 1; s <= 6; s++) {
		struct smr_result r = apply(kv, idx++, cmd(SMR_CMD_INCR, "c", "1", 5, s));
		ck_assert(r.duplicate);
		ck_assert_int_eq(r.num, got[s]);
	}
	ck_assert(get_eq(kv, "c", "6"));
	/* seq 100 leaves 7..36 unapplied inside the window; 36 is new, 30 below it is not yet
	 * applied (applies), 100 - 64 = 36 is the lowest the window still knows */
	apply(kv, idx++, cmd(SMR_CMD_INCR, "c", "1", 5, 100));
	struct smr_result r = apply(kv, idx++, cmd(SMR_CMD_INCR, "c", "1", 5, 37));
	ck_assert(!r.duplicate && r.num == 8);
	r = apply(kv, idx++, cmd(SMR_CMD_INCR, "c", "1", 5, 36));
	ck_assert(r.duplicate && r.status == STRATA_EREPLAY);
	ck_assert(get_eq(kv, "c", "8"));
	/* the snapshot keeps the window: the restored replica answers repeats the same way */
	struct strata_msg *snap = NULL;
	ck_assert_int_eq(smr_kv_snapshot(kv, false, &snap), 0);
	struct smr_kv *rs = NULL;
	ck_assert_int_eq(smr_kv_restore(snap->data, snap->len, 16, &rs), 0);
	ck_assert(smr_kv_digest(rs) == smr_kv_digest(kv));
	r = apply(rs, idx, cmd(SMR_CMD_INCR, "c", "1", 5, 37));
	ck_assert(r.duplicate && r.num == 8);
	r = apply(rs, idx + 1, cmd(SMR_CMD_INCR, "c", "1", 5, 38));
	ck_assert(!r.duplicate && r.num == 9);
	strata_msg_unref(snap);
	smr_kv_free(rs);
	/* The broken variant (in-order only) takes a late seq for a repeat: the check can fail. */
	smr_kv_set_broken_window(kv, true);
	r = apply(kv, idx, cmd(SMR_CMD_INCR, "c", "1", 5, 50));
	ck_assert(r.duplicate);
	ck_assert(get_eq(kv, "c", "8"));
	smr_kv_free(kv);
}
END_TEST

/* The revision history (kv watch): one change per revision, key or prefix filters, paging with
 * limit/next, deletes as changes without a value, none after a restore (compacted), and the
 * oldest changes forgotten beyond SMR_HISTORY_MAX. */
START_TEST(test_history)
{
	struct smr_kv *kv = smr_kv_new(16);
	apply(kv, 1, cmd(SMR_CMD_PUT, "a/1", "x", 0, 0));     /* rev 1 */
	apply(kv, 2, cmd(SMR_CMD_PUT, "b", "y", 0, 0));       /* rev 2 */
	apply(kv, 3, cmd(SMR_CMD_DEL, "a/1", NULL, 0, 0));    /* rev 3 */
	apply(kv, 4, cmd(SMR_CMD_DEL, "nope", NULL, 0, 0));   /* no change, no revision */
	apply(kv, 5, cmd(SMR_CMD_INCR, "a/2", "4", 0, 0));    /* rev 4 */
	struct smr_kv_event ev[8];
	size_t n;
	uint64_t next, oldest;
	ck_assert_int_eq(smr_kv_history(kv, 1, "a/", 2, true, 8, ev, &n, &next, &oldest), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(oldest, 1);
	ck_assert_uint_eq(next, 5);
	ck_assert(ev[0].revision == 1 && ev[0].val && ev[0].version == 1);
	ck_assert(ev[1].revision == 3 && ev[1].val == NULL && ev[1].version == 0);
	ck_assert(ev[2].revision == 4 && ev[2].val->len == 1 && ev[2].val->data[0] == '4');
	ck_assert_int_eq(smr_kv_history(kv, 2, "b", 1, false, 8, ev, &n, &next, &oldest), 0);
	ck_assert(n == 1 && ev[0].revision == 2);
	/* a page of one: next is the first change not returned */
	ck_assert_int_eq(smr_kv_history(kv, 1, "", 0, true, 1, ev, &n, &next, &oldest), 0);
	ck_assert(n == 1 && ev[0].revision == 1 && next == 2);
	ck_assert_int_eq(smr_kv_history(kv, 5, "", 0, true, 8, ev, &n, &next, &oldest), 0);
	ck_assert(n == 0 && next == 5);
	/* restored from a snapshot: the history starts after it */
	struct strata_msg *snap = NULL;
	ck_assert_int_eq(smr_kv_snapshot(kv, false, &snap), 0);
	struct smr_kv *r = NULL;
	ck_assert_int_eq(smr_kv_restore(snap->data, snap->len, 16, &r), 0);
	ck_assert_int_eq(smr_kv_history(r, 1, "", 0, true, 8, ev, &n, &next, &oldest),
			 STRATA_ENOENT);
	ck_assert_uint_eq(oldest, 5);
	apply(r, 6, cmd(SMR_CMD_PUT, "c", "z", 0, 0)); /* rev 5 */
	ck_assert_int_eq(smr_kv_history(r, 5, "", 0, true, 8, ev, &n, &next, &oldest), 0);
	ck_assert(n == 1 && ev[0].revision == 5 && oldest == 5);
	strata_msg_unref(snap);
	smr_kv_free(r);
	/* beyond SMR_HISTORY_MAX changes the oldest are forgotten */
	for (uint64_t i = 0; i < SMR_HISTORY_MAX + 10; i++)
		apply(kv, 10 + i, cmd(SMR_CMD_PUT, "k", "v", 0, 0));
	uint64_t rev = smr_kv_revision(kv);
	ck_assert_int_eq(smr_kv_history(kv, 1, "", 0, true, 8, ev, &n, &next, &oldest),
			 STRATA_ENOENT);
	ck_assert_uint_eq(oldest, rev - SMR_HISTORY_MAX + 1);
	ck_assert_int_eq(smr_kv_history(kv, oldest, "", 0, true, 8, ev, &n, &next, &oldest), 0);
	ck_assert(n == 8 && ev[0].revision == oldest);
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

static size_t range(struct smr_kv *kv, const char *prefix, const char *after, size_t limit,
		    struct smr_kv_item *items, bool *more)
{
	size_t count = 99;
	ck_assert_int_eq(smr_kv_range(kv, prefix, strlen(prefix), after, after ? strlen(after) : 0,
				      limit, items, &count, more), 0);
	return count;
}

static int item_is(const struct smr_kv_item *it, const char *k, const char *v)
{
	return it->key->len == strlen(k) && memcmp(it->key->data, k, it->key->len) == 0 &&
	       it->val->len == strlen(v) && memcmp(it->val->data, v, it->val->len) == 0;
}

START_TEST(test_range)
{
	struct smr_kv *kv = smr_kv_new(16);
	const char *ks[] = { "b/2", "a", "b/1", "b/10", "b", "c/1", "b/1/x" };
	for (size_t i = 0; i < 7; i++)
		apply(kv, i + 1, cmd(SMR_CMD_PUT, ks[i], ks[i], 0, 0));
	struct smr_kv_item it[8];
	bool more;
	size_t n = range(kv, "b/", NULL, 8, it, &more);
	ck_assert_uint_eq(n, 4);
	ck_assert(!more);
	ck_assert(item_is(&it[0], "b/1", "b/1") && item_is(&it[1], "b/1/x", "b/1/x") &&
		  item_is(&it[2], "b/10", "b/10") && item_is(&it[3], "b/2", "b/2"));
	ck_assert_uint_eq(it[0].mod_revision, 3);
	n = range(kv, "b/", NULL, 2, it, &more);
	ck_assert_uint_eq(n, 2);
	ck_assert(more && item_is(&it[1], "b/1/x", "b/1/x"));
	n = range(kv, "b/", "b/1/x", 2, it, &more); /* the next page */
	ck_assert_uint_eq(n, 2);
	ck_assert(!more && item_is(&it[0], "b/10", "b/10") && item_is(&it[1], "b/2", "b/2"));
	n = range(kv, "", NULL, 8, it, &more);
	ck_assert_uint_eq(n, 7);
	ck_assert(item_is(&it[0], "a", "a") && item_is(&it[1], "b", "b") &&
		  item_is(&it[6], "c/1", "c/1"));
	ck_assert_uint_eq(range(kv, "zz", NULL, 8, it, &more), 0);
	ck_assert(!more);
	apply(kv, 8, cmd(SMR_CMD_DEL, "b/1", NULL, 0, 0));
	ck_assert_uint_eq(range(kv, "b/1", NULL, 8, it, &more), 2);
	smr_kv_free(kv);
}
END_TEST

/* A snapshot restores keys, revisions and the session table (a duplicate after the restore is
 * still answered from the cache, and the least recent session is still the next evicted);
 * a damaged snapshot is refused whole. */
START_TEST(test_snapshot_restore)
{
	struct smr_kv *kv = smr_kv_new(3);
	apply(kv, 1, cmd(SMR_CMD_PUT, "x", "1", 7, 1));
	apply(kv, 2, cmd(SMR_CMD_PUT, "y", "2", 8, 1));
	apply(kv, 3, cmd(SMR_CMD_INCR, "n", "5", 9, 1));
	apply(kv, 4, cmd(SMR_CMD_DEL, "y", NULL, 7, 2));
	struct strata_msg *snap = NULL;
	ck_assert_int_eq(smr_kv_snapshot(kv, false, &snap), 0);
	struct smr_kv *r = NULL;
	ck_assert_int_eq(smr_kv_restore(snap->data, snap->len, 3, &r), 0);
	ck_assert(smr_kv_digest(r) == smr_kv_digest(kv));
	ck_assert_uint_eq(smr_kv_revision(r), smr_kv_revision(kv));
	ck_assert_uint_eq(smr_kv_count(r), 2);
	ck_assert_uint_eq(smr_kv_sessions(r), 3);
	struct smr_kv_value v;
	ck_assert_int_eq(smr_kv_get(r, "x", 1, &v), 0);
	ck_assert_uint_eq(v.mod_revision, 1);
	/* the duplicate incr: cached result, no second increment, on both */
	struct smr_result a = apply(kv, 5, cmd(SMR_CMD_INCR, "n", "5", 9, 1));
	struct smr_result b = apply(r, 5, cmd(SMR_CMD_INCR, "n", "5", 9, 1));
	ck_assert(a.duplicate && b.duplicate && a.num == 5 && b.num == 5);
	/* a new session evicts the least recent (8) on both */
	apply(kv, 6, cmd(SMR_CMD_PUT, "z", "3", 10, 1));
	apply(r, 6, cmd(SMR_CMD_PUT, "z", "3", 10, 1));
	ck_assert(smr_kv_digest(r) == smr_kv_digest(kv));
	struct smr_result c = apply(r, 7, cmd(SMR_CMD_PUT, "y", "again", 8, 1));
	ck_assert(!c.duplicate); /* session 8 was forgotten */
	ck_assert(smr_kv_digest(r) != smr_kv_digest(kv));
	/* without the sessions (the broken variant's snapshot) the digests differ */
	struct strata_msg *bare = NULL;
	ck_assert_int_eq(smr_kv_snapshot(kv, true, &bare), 0);
	struct smr_kv *r2 = NULL;
	ck_assert_int_eq(smr_kv_restore(bare->data, bare->len, 3, &r2), 0);
	ck_assert(smr_kv_digest(r2) != smr_kv_digest(kv));
	smr_kv_free(r2);
	strata_msg_unref(bare);
	/* every truncation and a flipped magic are refused */
	for (size_t cut = 0; cut < snap->len; cut++) {
		struct smr_kv *t = NULL;
		ck_assert_int_ne(smr_kv_restore(snap->data, cut, 3, &t), 0);
		ck_assert_ptr_null(t);
	}
	snap->data[0] ^= 1;
	struct smr_kv *t = NULL;
	ck_assert_int_eq(smr_kv_restore(snap->data, snap->len, 3, &t), STRATA_EPROTO);
	strata_msg_unref(snap);
	smr_kv_free(r);
	smr_kv_free(kv);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kv_sm");
	TCase *tq = tcase_create("bytes");
	tcase_add_test(tq, test_bytes_accounting);
	tcase_add_test(tq, test_bytes_random);
	tcase_add_test(tq, test_refused_marker);
	tcase_add_test(tq, test_bft_quota_max);
	suite_add_tcase(s, tq);
	TCase *tc = tcase_create("commands");
	/* A hang guard, not a speed bound: Check's 4 s default tripped under a heavily loaded
	 * machine (test_kv_sm, once). */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_nx_xx_getset_del);
	tcase_add_test(tc, test_incr);
	tcase_add_test(tc, test_incr_duplicate_applied_once);
	tcase_add_test(tc, test_session_window);
	tcase_add_test(tc, test_history);
	tcase_add_test(tc, test_mput);
	tcase_add_test(tc, test_range);
	tcase_add_test(tc, test_snapshot_restore);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
