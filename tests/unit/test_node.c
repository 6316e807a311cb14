/* Unit tests of the node core: FIFO event queue (handlers run to completion), timer order,
 * persist-before-send (a failed sync stops the node before anything leaves), Lamport clocks. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/node.h"
#include "crypto/crypto.h"
#include "links/links.h"

struct fake_env {
	uint64_t now;
	uint64_t wake;
	int sends;
	int sync_rc;
	int replies;
	int last_status;
	int events;
	int syncs;
	int async_rc;        /* what sync_async returns */
	uint64_t async_ticket;
};

static uint64_t f_now(void *c) { return ((struct fake_env *)c)->now; }
static void f_send(void *c, uint32_t to, const uint8_t *b, size_t l)
{
	(void)to, (void)b, (void)l;
	((struct fake_env *)c)->sends++;
}
static void f_wake(void *c, uint64_t d) { ((struct fake_env *)c)->wake = d; }
static uint64_t f_rand(void *c) { (void)c; return 4; }
static int f_sync(void *c)
{
	((struct fake_env *)c)->syncs++;
	return ((struct fake_env *)c)->sync_rc;
}
static int f_sync_async(void *c, uint64_t ticket)
{
	struct fake_env *e = c;
	e->syncs++;
	e->async_ticket = ticket;
	return e->async_rc;
}
static void f_output(void *c, const struct strata_output *o)
{
	struct fake_env *e = c;
	if (o->kind == STRATA_OUT_REPLY) {
		e->replies++;
		e->last_status = o->status;
	} else if (o->kind == STRATA_OUT_EVENT) {
		e->events++;
	}
}

/* A test module: records the order in which it handles events, raises follow-ups. */
struct tmod {
	struct strata_module base;
	int order[16];
	int n;
	struct strata_timer t1, t2;
	int turn_ends;
	int replies_at_turn_end; /* replies already out when TURN_END ran (must be 0) */
	struct fake_env *fe;
};

enum { EV_A = 1001, EV_B, EV_C, EV_D };

static void t_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct tmod *t = (struct tmod *)m;
	if (t->n < 16)
		t->order[t->n++] = ev->type == STRATA_EV_TIMER ? (int)(2000 + ev->arg) : ev->type;
	if (ev->type == STRATA_EV_TURN_END) {
		t->turn_ends++;
		if (t->fe)
			t->replies_at_turn_end += t->fe->replies;
		/* an event raised at turn end is handled in the same batch */
		strata_raise(m->node, m, EV_D, 0, 0, 0, NULL);
		return;
	}
	if (ev->type == EV_A) {
		/* Raised inside a handler: queued, handled after this handler returns, in order. */
		strata_raise(m->node, m, EV_B, 0, 0, 0, NULL);
		strata_raise(m->node, m, EV_C, 0, 0, 0, NULL);
		t->order[t->n++] = -1; /* still inside A */
	}
}

static int t_request(struct strata_module *m, const struct strata_request *r)
{
	struct strata_msg *msg = strata_msg_new("x", 1);
	strata_pl_send(m, 2, 0, msg);
	strata_msg_unref(msg);
	strata_raise(m->node, m, EV_A, 0, 0, 0, NULL);
	strata_node_reply(m->node, m, r->id, 0, 0, NULL, 0, NULL);
	if (r->op == STRATA_OP_BROADCAST) { /* asks twice: one TURN_END all the same */
		strata_node_at_turn_end(m);
		strata_node_at_turn_end(m);
	}
	return 0;
}

static void t_destroy(struct strata_module *m) { (void)m; }

static const struct strata_module_ops tops = {
	.name = "t", .handle = t_handle, .request = t_request, .destroy = t_destroy,
};

static struct strata_config cfg;
static uint8_t sk1[STRATA_SK_LEN];

static struct strata_node *mk(struct fake_env *fe, struct strata_env *env, struct tmod *t)
{
	memset(&cfg, 0, sizeof(cfg));
	strata_config_defaults(&cfg);
	cfg.n = 2;
	cfg.cluster_hash = 42;
	uint8_t sk2[STRATA_SK_LEN];
	strata_keypair(cfg.nodes[1].public_key, sk1);
	strata_keypair(cfg.nodes[2].public_key, sk2);
	*env = (struct strata_env){ .ctx = fe, .now_us = f_now, .send = f_send, .wake_at = f_wake,
				    .random = f_rand, .sync = f_sync, .output = f_output };
	struct strata_node_opts o = { .cfg = &cfg, .id = 1, .incarnation = 1, .secret_key = sk1,
				      .env = env, .transport = &strata_links_transport };
	char err[128];
	struct strata_node *n = strata_node_new(&o, err, sizeof(err));
	ck_assert_msg(n != NULL, "%s", err);
	memset(t, 0, sizeof(*t));
	strata_node_add_module(n, &t->base, &tops, 230);
	return n;
}

START_TEST(test_fifo_run_to_completion)
{
	struct fake_env fe = { 0 };
	struct strata_env env;
	struct tmod t;
	struct strata_node *n = mk(&fe, &env, &t);
	fe.sync_rc = 0;
	/* learn node 2's incarnation so perfect-link frames may go out */
	struct strata_request r = { .id = 7, .op = STRATA_OP_WRITE };
	strata_node_request(n, "t", &r);
	ck_assert_int_eq(fe.replies, 1);
	ck_assert_int_eq(fe.last_status, 0);
	/* A, then (still inside A) -1, then B, C: queued events run after the handler returns */
	ck_assert_int_eq(t.n, 4);
	ck_assert_int_eq(t.order[0], EV_A);
	ck_assert_int_eq(t.order[1], -1);
	ck_assert_int_eq(t.order[2], EV_B);
	ck_assert_int_eq(t.order[3], EV_C);
	ck_assert(!strata_node_failed(n));
	ck_assert_uint_gt(strata_node_lamport(n), 0);
	strata_node_free(n);
}
END_TEST

START_TEST(test_timers_fire_in_deadline_order)
{
	struct fake_env fe = { 0 };
	struct strata_env env;
	struct tmod t;
	struct strata_node *n = mk(&fe, &env, &t);
	strata_timer_init(&t.t1, &t.base, 1, 0);
	strata_timer_init(&t.t2, &t.base, 2, 0);
	strata_timer_arm(n, &t.t2, 50);
	strata_timer_arm(n, &t.t1, 100);
	strata_timer_arm(n, &t.t1, 30); /* re-arming moves it */
	fe.now = 40;
	strata_node_tick(n);
	ck_assert_int_eq(t.n, 1);
	ck_assert_int_eq(t.order[0], 2001);
	ck_assert_uint_eq(fe.wake, 50);
	strata_timer_disarm(n, &t.t2);
	fe.now = 60;
	strata_node_tick(n);
	ck_assert_int_eq(t.n, 1); /* disarmed: nothing fires */
	strata_node_free(n);
}
END_TEST

START_TEST(test_failed_sync_sends_nothing_and_stops)
{
	struct fake_env fe = { 0 };
	struct strata_env env;
	struct tmod t;
	struct strata_node *n = mk(&fe, &env, &t);
	/* a hello toward node 2 would normally leave with this turn: with sync failing, nothing */
	fe.sync_rc = STRATA_EIO;
	struct strata_request r = { .id = 9, .op = STRATA_OP_WRITE };
	strata_node_request(n, "t", &r);
	ck_assert_int_eq(fe.sends, 0);
	ck_assert(strata_node_failed(n));
	ck_assert_int_eq(fe.events, 1);
	ck_assert_uint_eq(strata_node_counters(n)->store_errors, 1);
	/* later inputs are ignored; requests are refused with EIO */
	fe.sync_rc = 0;
	fe.now = 10000000;
	strata_node_tick(n);
	ck_assert_int_eq(fe.sends, 0);
	int before = fe.replies;
	strata_node_request(n, "t", &r);
	ck_assert_int_eq(fe.replies, before + 1);
	ck_assert_int_eq(fe.last_status, STRATA_EIO);
	strata_node_free(n);
}
END_TEST

START_TEST(test_ok_sync_sends)
{
	struct fake_env fe = { 0 };
	struct strata_env env;
	struct tmod t;
	struct strata_node *n = mk(&fe, &env, &t);
	struct strata_request r = { .id = 9, .op = STRATA_OP_WRITE };
	strata_node_request(n, "t", &r);
	ck_assert_int_gt(fe.sends, 0); /* the hello toward node 2 */
	strata_node_free(n);
}
END_TEST

START_TEST(test_turn_end_once_per_batch_before_release)
{
	struct fake_env fe = { 0 };
	struct strata_env env;
	struct tmod t;
	struct strata_node *n = mk(&fe, &env, &t);
	t.fe = &fe;
	struct strata_request r = { .id = 1, .op = STRATA_OP_BROADCAST };
	/* one explicit batch of three requests: one TURN_END, one sync, replies after it */
	strata_node_batch_begin(n);
	strata_node_request(n, "t", &r);
	r.id = 2;
	strata_node_request(n, "t", &r);
	r.id = 3;
	r.op = STRATA_OP_WRITE;
	strata_node_request(n, "t", &r);
	ck_assert_int_eq(fe.replies, 0); /* held: the batch is not durable yet */
	ck_assert_int_eq(fe.sends, 0);
	ck_assert_int_eq(t.turn_ends, 0);
	strata_node_batch_end(n);
	ck_assert_int_eq(t.turn_ends, 1);
	ck_assert_int_eq(t.replies_at_turn_end, 0);
	ck_assert_int_eq(t.order[t.n - 1], EV_D); /* raised at turn end, handled in the batch */
	ck_assert_int_eq(fe.syncs, 1);
	ck_assert_int_eq(fe.replies, 3);
	ck_assert_int_gt(fe.sends, 0);
	ck_assert_uint_eq(strata_node_counters(n)->batches, 1);
	ck_assert_uint_eq(strata_node_held_bytes(n), 0);
	/* a request outside brackets is its own batch; no TURN_END unless asked */
	strata_node_request(n, "t", &r);
	ck_assert_int_eq(t.turn_ends, 1);
	ck_assert_int_eq(fe.syncs, 2);
	ck_assert_int_eq(fe.replies, 4);
	strata_node_free(n);
}
END_TEST

START_TEST(test_async_sync_holds_until_synced)
{
	struct fake_env fe = { 0 };
	struct strata_env env;
	struct tmod t;
	struct strata_node *n = mk(&fe, &env, &t);
	env.sync = NULL;
	env.sync_async = f_sync_async;
	strata_node_free(n);
	/* rebuild with the async environment */
	struct strata_node_opts o = { .cfg = &cfg, .id = 1, .incarnation = 1, .secret_key = sk1,
				      .env = &env, .transport = &strata_links_transport };
	char err[128];
	n = strata_node_new(&o, err, sizeof(err));
	ck_assert(n != NULL);
	memset(&t, 0, sizeof(t));
	strata_node_add_module(n, &t.base, &tops, 230);
	struct strata_request r = { .id = 1, .op = STRATA_OP_WRITE };
	strata_node_request(n, "t", &r);
	uint64_t first = fe.async_ticket;
	r.id = 2;
	strata_node_request(n, "t", &r);
	ck_assert_int_eq(fe.replies, 0);
	ck_assert_int_eq(fe.sends, 0);
	ck_assert_uint_eq(strata_node_batches_unsynced(n), 2);
	ck_assert_uint_gt(strata_node_held_bytes(n), 0);
	strata_node_synced(n, first, 0); /* the first batch only */
	ck_assert_int_eq(fe.replies, 1);
	ck_assert_uint_eq(strata_node_batches_unsynced(n), 1);
	strata_node_synced(n, fe.async_ticket, 0);
	ck_assert_int_eq(fe.replies, 2);
	ck_assert_uint_eq(strata_node_held_bytes(n), 0);
	/* "durable at once": released in the same call */
	fe.async_rc = 1;
	r.id = 3;
	strata_node_request(n, "t", &r);
	ck_assert_int_eq(fe.replies, 3);
	/* a failed background sync releases nothing and stops the node */
	fe.async_rc = 0;
	int sends = fe.sends;
	r.id = 4;
	strata_node_request(n, "t", &r);
	strata_node_synced(n, fe.async_ticket, STRATA_EIO);
	ck_assert(strata_node_failed(n));
	ck_assert_int_eq(fe.replies, 3);
	ck_assert_int_eq(fe.sends, sends);
	ck_assert_int_eq(fe.events, 1);
	ck_assert_uint_eq(strata_node_held_bytes(n), 0);
	strata_node_free(n);
}
END_TEST

/* Held replies of many unsynced batches, of sizes from empty to over the outbox's chunked
 * bound (node.c, held_alloc: 16 KiB), leave intact and in order, part of them at a time
 * (chunks given back while later ones are still held, the current one carved again). */
static int h_next_id; /* the id of the reply expected next */
static int h_bad;     /* replies out of order or with altered bytes */
static size_t h_len(uint64_t id) { return id % 5 == 0 ? 0 : (size_t)((id * 7919) % 20000); }
static uint8_t h_byte(uint64_t id, size_t i) { return (uint8_t)(id * 31 + i * 7); }

static void h_output(void *c, const struct strata_output *o)
{
	(void)c;
	if (o->kind != STRATA_OUT_REPLY)
		return;
	size_t want = h_len(o->a);
	bool ok = o->a == (uint64_t)h_next_id && o->len == want;
	for (size_t i = 0; ok && i < want; i++)
		ok = o->data[i] == h_byte(o->a, i);
	h_bad += !ok;
	h_next_id++;
}

static int h_request(struct strata_module *m, const struct strata_request *r)
{
	size_t len = h_len(r->id);
	uint8_t *b = malloc(len ? len : 1);
	ck_assert_ptr_nonnull(b);
	for (size_t i = 0; i < len; i++)
		b[i] = h_byte(r->id, i);
	strata_node_reply(m->node, m, r->id, 0, 0, b, len, NULL);
	memset(b, 0xee, len); /* the node keeps its own copy */
	free(b);
	return 0;
}

static const struct strata_module_ops hops = {
	.name = "h", .handle = t_handle, .request = h_request, .destroy = t_destroy,
};

START_TEST(test_held_outputs_leave_intact)
{
	struct fake_env fe = { 0 };
	struct strata_env env;
	struct tmod t;
	struct strata_node *n = mk(&fe, &env, &t);
	strata_node_free(n);
	env.sync = NULL;
	env.sync_async = f_sync_async;
	env.output = h_output;
	struct strata_node_opts o = { .cfg = &cfg, .id = 1, .incarnation = 1, .secret_key = sk1,
				      .env = &env, .transport = &strata_links_transport };
	char err[128];
	n = strata_node_new(&o, err, sizeof(err));
	ck_assert(n != NULL);
	memset(&t, 0, sizeof(t));
	strata_node_add_module(n, &t.base, &hops, 231);
	h_next_id = 1;
	h_bad = 0;
	/* pushes and partial releases interleaved: new items carved while older ones (in older
	 * chunks and in the current one) are still held */
	uint64_t tickets[751];
	int pushed = 0;
	for (int s = 0; pushed < 750; s++) {
		int add = s % 3 == 0 ? 100 : 37;
		for (int i = 0; i < add && pushed < 750; i++) {
			struct strata_request r = { .id = (uint64_t)++pushed, .op = STRATA_OP_WRITE };
			strata_node_request(n, "h", &r);
			tickets[pushed] = fe.async_ticket;
		}
		int upto = pushed == 750 ? 750 : pushed - 3 - s % 5;
		ck_assert_uint_gt(strata_node_held_bytes(n), 0);
		strata_node_synced(n, tickets[upto], 0);
		ck_assert_int_eq(h_next_id, upto + 1);
	}
	ck_assert_int_eq(pushed, 750);
	ck_assert_uint_eq(strata_node_held_bytes(n), 0);
	ck_assert_int_eq(h_bad, 0);
	/* held ones discarded by a failed sync: nothing leaves, nothing leaks (valgrind) */
	for (int i = 0; i < 50; i++) {
		struct strata_request r = { .id = (uint64_t)(751 + i), .op = STRATA_OP_WRITE };
		strata_node_request(n, "h", &r);
	}
	strata_node_synced(n, fe.async_ticket, STRATA_EIO);
	ck_assert(strata_node_failed(n));
	ck_assert_int_eq(h_next_id, 751);
	ck_assert_uint_eq(strata_node_held_bytes(n), 0);
	strata_node_free(n);
}
END_TEST

int main(void)
{
	if (strata_crypto_init() != 0)
		return 1;
	Suite *s = suite_create("node");
	TCase *tc = tcase_create("core");
	/* A hang guard, not a speed bound: Check's 4 s default tripped under a heavily loaded
	 * machine (test_kv_sm, once). */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_fifo_run_to_completion);
	tcase_add_test(tc, test_timers_fire_in_deadline_order);
	tcase_add_test(tc, test_failed_sync_sends_nothing_and_stops);
	tcase_add_test(tc, test_ok_sync_sends);
	tcase_add_test(tc, test_turn_end_once_per_batch_before_release);
	tcase_add_test(tc, test_async_sync_holds_until_synced);
	tcase_add_test(tc, test_held_outputs_leave_intact);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
