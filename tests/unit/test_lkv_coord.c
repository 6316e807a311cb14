/* Unit tests of what the leaderless stores share (src/reg/lkv_common.c): the table of requests a
 * node coordinates (ids that name a slot and a generation, so a late reply to an older request
 * of the slot finds nothing; the bound; the request's replicas and quorum sizes; its timer),
 * the acknowledgement bookkeeping (only a replica, only once), and the config check. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/error.h"
#include "core/node.h"
#include "crypto/crypto.h"
#include "links/links.h"

#include "../lib/lone_node.h"
#include "reg/lkv.h"

static void m_handle(struct strata_module *m, const struct strata_event *ev) { (void)m, (void)ev; }
static void m_destroy(struct strata_module *m) { (void)m; }
static const struct strata_module_ops mops = {
	.name = "coord", .handle = m_handle, .destroy = m_destroy,
};

/* A store's op record: the common part first (as lkv.c's and lkv_vc.c's). */
struct op {
	struct lkv_coord c;
	int own;
};

static struct strata_config cfg;
static uint64_t now_us;
static struct strata_env env;
static struct strata_node *node;
static struct strata_module mod;
static struct lkv_ring ring;
static struct lkv_coords tab;
static const struct lkv_limits lim = { .max_value = 1 << 20, .overhead = 64, .replicas = 3,
				       .r = 2, .w = 2 };

static void setup(void)
{
	memset(&cfg, 0, sizeof(cfg));
	strata_config_defaults(&cfg);
	cfg.n = 5;
	cfg.cluster_hash = 42;
	char err[128];
	node = lone_node_new(&cfg, 1, &now_us, &env, err, sizeof(err));
	ck_assert_msg(node != NULL, "%s", err);
	memset(&mod, 0, sizeof(mod));
	strata_node_add_module(node, &mod, &mops, 231);
	ck_assert_int_eq(lkv_ring_init(&ring, cfg.n, LKV_VNODES), 0);
	memset(&tab, 0, sizeof(tab));
}

static void teardown(void)
{
	for (size_t i = 0; i < LKV_MAX_PENDING; i++)
		if (tab.op[i]) {
			struct lkv_coord *c = tab.op[i];
			lkv_coord_remove(&tab, &mod, c);
			free(c);
		}
	lkv_ring_free(&ring);
	strata_node_free(node);
}

static struct op *add(const char *key, uint32_t r, uint32_t w)
{
	struct op *o = calloc(1, sizeof(*o));
	size_t len = strlen(key);
	uint8_t *k = malloc(len);
	ck_assert(o && k);
	struct strata_request q = { .id = 99, .key = (const uint8_t *)key, .key_len = len,
				    .r = r, .w = w };
	uint64_t h = lkv_coord_add(&tab, &o->c, &mod, &q, LKV_K_PUT, &lim, k, &ring, 1);
	ck_assert_uint_eq(h, lkv_hash(key, len));
	return o;
}

static void drop(struct op *o)
{
	lkv_coord_remove(&tab, &mod, &o->c);
	free(o);
}

START_TEST(test_fields)
{
	struct op *o = add("alpha", 0, 0);
	ck_assert_uint_eq(o->c.req_id, 99);
	ck_assert_uint_eq(o->c.kind, LKV_K_PUT);
	ck_assert_uint_eq(o->c.r, 2); /* the store's defaults */
	ck_assert_uint_eq(o->c.w, 2);
	ck_assert_uint_eq(o->c.klen, 5);
	ck_assert_mem_eq(o->c.key, "alpha", 5);
	uint32_t reps[STRATA_MAX_NODES];
	unsigned nrep = lkv_ring_replicas(&ring, lkv_hash("alpha", 5), 3, reps);
	ck_assert_uint_eq(o->c.nrep, nrep);
	ck_assert_uint_eq(nrep, 3);
	ck_assert_mem_eq(o->c.reps, reps, nrep * sizeof(reps[0]));
	for (unsigned i = 0; i < nrep; i++)
		ck_assert_int_eq(lkv_coord_rep(&o->c, reps[i]), (int)i);
	ck_assert(strata_timer_armed(&o->c.timer));
	struct op *p = add("beta", 3, 1); /* the request's own quorum sizes */
	ck_assert_uint_eq(p->c.r, 3);
	ck_assert_uint_eq(p->c.w, 1);
	ck_assert_uint_eq(tab.n, 2);
	struct strata_timer *t = &o->c.timer;
	lkv_coord_remove(&tab, &mod, &o->c);
	ck_assert(!strata_timer_armed(t));
	ck_assert_ptr_null(o->c.key);
	free(o);
	ck_assert_uint_eq(tab.n, 1);
}
END_TEST

START_TEST(test_ids)
{
	struct op *a = add("k", 0, 0);
	uint64_t rid = a->c.rid;
	ck_assert_ptr_eq(lkv_coord_find(&tab, rid), &a->c);
	ck_assert_ptr_null(lkv_coord_find(&tab, rid + LKV_MAX_PENDING)); /* a later generation */
	ck_assert_ptr_null(lkv_coord_find(&tab, rid + 1));                /* an empty slot */
	drop(a);
	ck_assert_ptr_null(lkv_coord_find(&tab, rid));
	/* Fill the table: every slot once, each id finds its own request. */
	static struct op *all[LKV_MAX_PENDING];
	for (size_t i = 0; i < LKV_MAX_PENDING; i++)
		all[i] = add("k", 0, 0);
	ck_assert_uint_eq(tab.n, LKV_MAX_PENDING);
	for (size_t i = 0; i < LKV_MAX_PENDING; i++) {
		ck_assert_ptr_eq(lkv_coord_find(&tab, all[i]->c.rid), &all[i]->c);
		ck_assert_ptr_eq(tab.op[all[i]->c.rid % LKV_MAX_PENDING], &all[i]->c);
	}
	/* The one free slot is taken again, under a new id; the old one finds nothing. */
	uint64_t old = all[7]->c.rid;
	drop(all[7]);
	struct op *b = add("k", 0, 0);
	ck_assert_uint_eq(b->c.rid % LKV_MAX_PENDING, old % LKV_MAX_PENDING);
	ck_assert_uint_ne(b->c.rid, old);
	ck_assert_ptr_null(lkv_coord_find(&tab, old));
	ck_assert_ptr_eq(lkv_coord_find(&tab, b->c.rid), &b->c);
}
END_TEST

START_TEST(test_acks)
{
	struct op *o = add("gamma", 0, 0);
	uint32_t other = 0;
	for (uint32_t id = 1; id <= cfg.n && !other; id++)
		if (lkv_coord_rep(&o->c, id) < 0)
			other = id;
	ck_assert_uint_ne(other, 0);
	ck_assert(!lkv_coord_ack(&o->c, other, false)); /* not one of the key's replicas */
	ck_assert_uint_eq(o->c.acked | o->c.full, 0);
	uint32_t a = o->c.reps[0], b = o->c.reps[1];
	ck_assert(lkv_coord_ack(&o->c, a, false));
	ck_assert(!lkv_coord_ack(&o->c, a, false)); /* a duplicate */
	ck_assert(!lkv_coord_ack(&o->c, a, true));
	ck_assert(lkv_coord_ack(&o->c, b, true));
	ck_assert(!lkv_coord_ack(&o->c, b, false));
	ck_assert_uint_eq(o->c.acked, lkv_bit(a));
	ck_assert_uint_eq(o->c.full, lkv_bit(b));
}
END_TEST

START_TEST(test_config)
{
	char err[160];
	cfg.lkv_replicas = 3;
	cfg.lkv_r = 2;
	cfg.lkv_w = 2;
	ck_assert_int_eq(lkv_config_check(&cfg, "lkv", err, sizeof(err)), 0);
	cfg.lkv_replicas = 6; /* more than n = 5 */
	ck_assert_int_eq(lkv_config_check(&cfg, "lkv-vc", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "lkv-vc: need 1 <= r, w <= replicas <= n (replicas=6 r=2 w=2 n=5)");
	cfg.lkv_replicas = 3;
	cfg.lkv_w = 4;
	ck_assert_int_eq(lkv_config_check(&cfg, "lkv", err, sizeof(err)), -1);
	cfg.lkv_w = 0;
	ck_assert_int_eq(lkv_config_check(&cfg, "lkv", err, sizeof(err)), -1);
}
END_TEST

int main(void)
{
	if (strata_crypto_init() != 0)
		return EXIT_FAILURE;
	Suite *s = suite_create("lkv_coord");
	TCase *tc = tcase_create("coord");
	tcase_set_timeout(tc, 60); /* a hang guard, not a speed bound */
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_fields);
	tcase_add_test(tc, test_ids);
	tcase_add_test(tc, test_acks);
	tcase_add_test(tc, test_config);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
