/* Unit tests of the sends the perfect links refuse, owed and sent again (src/links/owed.c): a
 * node whose links to peer 2 hold at most BACKLOG bytes (peer 2 never answers, so nothing it
 * was sent leaves the backlog). Queued form: the first refusal is owed and counted once in
 * send_full, a later message that would fit waits behind it (FIFO), the count and byte caps
 * drop what is beyond them and count it, self is never owed, the node's counters follow, a
 * flush without room sends nothing. Numbered form: the module's message k is taken, owed, or
 * held behind an earlier one; a flush asks the module for the owed numbers only while there is
 * room. The broken variants' switch (strata_pl_owed_test_lossy) makes a refused send lost. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/error.h"
#include "core/msg.h"
#include "core/node.h"
#include "crypto/crypto.h"
#include "links/links.h"

#include "../lib/lone_node.h"

#define BACKLOG 100

static void m_handle(struct strata_module *m, const struct strata_event *ev) { (void)m, (void)ev; }
static void m_destroy(struct strata_module *m) { (void)m; }
static const struct strata_module_ops mops = {
	.name = "owedtest", .handle = m_handle, .destroy = m_destroy,
};

static struct strata_config cfg;
static uint64_t now_us;
static struct strata_env env;
static struct strata_node *node;
static struct strata_module mod;

static void setup(void)
{
	memset(&cfg, 0, sizeof(cfg));
	strata_config_defaults(&cfg);
	cfg.n = 3;
	cfg.cluster_hash = 42;
	cfg.backlog_bytes = cfg.max_value = BACKLOG;
	now_us = 1000;
	char err[128];
	node = lone_node_new(&cfg, 1, &now_us, &env, err, sizeof(err));
	ck_assert_msg(node != NULL, "%s", err);
	memset(&mod, 0, sizeof(mod));
	strata_node_add_module(node, &mod, &mops, 231);
}

static void teardown(void)
{
	strata_node_free(node);
}

static struct strata_msg *msg_of(size_t len, uint8_t fill)
{
	struct strata_msg *m = strata_msg_alloc(len);
	ck_assert(m != NULL);
	memset(m->data, fill, len);
	return m;
}

static int send_q(struct strata_pl_owed *o, uint32_t to, size_t len, uint8_t fill)
{
	struct strata_msg *m = msg_of(len, fill);
	int rc = strata_pl_owed_send(o, to, 0, m);
	strata_msg_unref(m);
	return rc;
}

START_TEST(test_queued)
{
	struct strata_counters *nc = strata_node_counters(node);
	/* at most 3 messages and 200 bytes owed to a peer */
	struct strata_pl_owed *o = strata_pl_owed_new(node, &mod, 7, NULL, 3, 200);
	ck_assert(o != NULL);
	struct strata_pl_owed_counts c;

	ck_assert_int_eq(send_q(o, 2, 60, 'a'), 0); /* taken: 60 of 100 bytes queued */
	ck_assert_uint_eq(nc->send_full, 0);
	ck_assert_int_eq(send_q(o, 2, 60, 'b'), 0); /* refused by the links: owed */
	ck_assert_uint_eq(nc->send_full, 1);
	ck_assert_int_eq(send_q(o, 2, 30, 'c'), 0); /* would fit, but waits behind b */
	ck_assert_uint_eq(nc->send_full, 1);        /* the links were not asked */
	ck_assert_int_eq(send_q(o, 2, 60, 'd'), 0); /* 3 messages, 150 bytes owed */
	strata_pl_owed_counts(o, &c);
	ck_assert_uint_eq(c.refused, 3);
	ck_assert_uint_eq(c.queued_msgs, 3);
	ck_assert_uint_eq(c.queued_bytes, 150);
	ck_assert_uint_eq(c.dropped, 0);
	ck_assert_int_eq(send_q(o, 2, 1, 'e'), STRATA_EFULL); /* beyond the count cap: dropped */
	strata_pl_owed_counts(o, &c);
	ck_assert_uint_eq(c.dropped, 1);
	ck_assert_uint_eq(c.queued_msgs, 3);

	/* another peer has its own backlog and queue */
	ck_assert_int_eq(send_q(o, 3, 90, 'f'), 0);
	ck_assert_int_eq(send_q(o, 3, 90, 'g'), 0);
	ck_assert_int_eq(send_q(o, 3, 90, 'h'), 0);              /* 180 bytes owed */
	ck_assert_int_eq(send_q(o, 3, 30, 'i'), STRATA_EFULL);   /* 210 > 200: dropped */
	ck_assert_int_eq(send_q(o, 1, 90, 'j'), 0);              /* self: never owed */
	ck_assert_int_eq(send_q(o, 2, BACKLOG + 1, 'k'), STRATA_ETOOBIG);
	ck_assert_int_eq(send_q(o, 4, 1, 'l'), STRATA_EINVAL);
	strata_pl_owed_counts(o, &c);
	ck_assert_uint_eq(c.refused, 5);
	ck_assert_uint_eq(c.dropped, 2);
	ck_assert_uint_eq(c.queued_msgs, 5);
	ck_assert_uint_eq(c.queued_bytes, 330);
	ck_assert_uint_eq(nc->owed, 5);
	ck_assert_uint_eq(nc->owed_dropped, 2);

	/* no room yet (the peers never acknowledge): a flush sends nothing */
	size_t pending = strata_links_pending(node, 2);
	strata_pl_owed_flush(o);
	strata_pl_owed_counts(o, &c);
	ck_assert_uint_eq(c.resent, 0);
	ck_assert_uint_eq(strata_links_pending(node, 2), pending);
	ck_assert_uint_eq(nc->send_full, 2); /* one per refusal, none for the retries */
	strata_pl_owed_free(o);
}
END_TEST

/* The broken variants' switch: after strata_pl_owed_test_lossy a refused send is lost, as with
 * the links alone (EFULL, nothing owed, nothing counted as owed). */
START_TEST(test_lossy)
{
	struct strata_counters *nc = strata_node_counters(node);
	struct strata_pl_owed *o = strata_pl_owed_new(node, &mod, 7, NULL, 3, 200);
	ck_assert(o != NULL);
	strata_pl_owed_test_lossy(o);
	struct strata_pl_owed_counts c;
	ck_assert_int_eq(send_q(o, 2, 60, 'a'), 0);           /* taken */
	ck_assert_int_eq(send_q(o, 2, 60, 'b'), STRATA_EFULL); /* refused: lost */
	ck_assert_int_eq(send_q(o, 2, 30, 'c'), 0);           /* fits: taken, nothing before it */
	strata_pl_owed_counts(o, &c);
	ck_assert_uint_eq(c.refused, 0);
	ck_assert_uint_eq(c.queued_msgs, 0);
	ck_assert_uint_eq(nc->owed, 0);
	ck_assert_uint_eq(nc->send_full, 1);
	strata_pl_owed_free(o);
}
END_TEST

/* Numbered form: message k of this module is 30 + 20k bytes of k; there are `last` of them. */
static uint64_t last;
static unsigned asked;

static struct strata_msg *msg_k(uint64_t k)
{
	return msg_of((size_t)(30 + 20 * k), (uint8_t)k);
}

static struct strata_msg *item(struct strata_module *m, uint32_t q, uint64_t k, bool *wait)
{
	(void)m, (void)q, (void)wait;
	asked++;
	return k <= last ? msg_k(k) : NULL;
}

static const struct strata_pl_owed_ops ops = { .item = item, .others_only = true };

START_TEST(test_numbered)
{
	struct strata_pl_owed *o = strata_pl_owed_new(node, &mod, 7, &ops, 0, 0);
	ck_assert(o != NULL);
	struct strata_pl_owed_counts c;
	struct strata_msg *m;
	last = 3;
	ck_assert_uint_eq(strata_pl_owed_next(o, 2), 1);
	m = msg_k(1);
	ck_assert_int_eq(strata_pl_owed_send_k(o, 2, 1, m), 0); /* 50 bytes queued */
	strata_msg_unref(m);
	ck_assert_uint_eq(strata_pl_owed_next(o, 2), 2);
	m = msg_k(2);
	ck_assert_int_eq(strata_pl_owed_send_k(o, 2, 2, m), STRATA_EFULL); /* 120 > 100 */
	strata_msg_unref(m);
	ck_assert_uint_eq(strata_pl_owed_next(o, 2), 2);
	m = msg_k(3);
	ck_assert_int_eq(strata_pl_owed_send_k(o, 2, 3, m), STRATA_EFULL); /* behind 2 */
	strata_msg_unref(m);
	ck_assert_uint_eq(strata_pl_owed_next(o, 2), 2);
	strata_pl_owed_counts(o, &c);
	ck_assert_uint_eq(c.refused, 2);
	ck_assert_uint_eq(strata_node_counters(node)->send_full, 1);

	/* a flush: peer 3's numbers run from 1 (nothing was sent to it): it gets 1 (50 bytes),
	 * not 2 (120 > 100); peer 2 has no room for 2; self is skipped (others_only) */
	asked = 0;
	strata_pl_owed_flush(o);
	strata_pl_owed_counts(o, &c);
	ck_assert_uint_eq(c.resent, 1);
	ck_assert_uint_eq(strata_pl_owed_next(o, 3), 2);
	ck_assert_uint_eq(strata_pl_owed_next(o, 2), 2);
	ck_assert_uint_eq(strata_pl_owed_next(o, 1), 1);
	ck_assert_uint_eq(asked, 3); /* peer 2: k = 2; peer 3: k = 1, 2 */
	ck_assert_uint_eq(strata_node_counters(node)->send_full, 1); /* retries ask room first */

	/* numbers below k are owed no more */
	strata_pl_owed_raise(o, 2, 4);
	ck_assert_uint_eq(strata_pl_owed_next(o, 2), 4);
	strata_pl_owed_raise(o, 2, 3);
	ck_assert_uint_eq(strata_pl_owed_next(o, 2), 4);
	strata_pl_owed_free(o);
}
END_TEST

int main(void)
{
	if (strata_crypto_init() != 0)
		return EXIT_FAILURE;
	Suite *s = suite_create("owed");
	TCase *tc = tcase_create("owed");
	tcase_set_timeout(tc, 60); /* a hang guard, not a speed bound */
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_queued);
	tcase_add_test(tc, test_numbered);
	tcase_add_test(tc, test_lossy);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
