/* Unit tests of the libuv runtime's turns (src/rt/uv/runtime.c): a turn that a timer starts
 * ends, and its datagrams leave, before the loop polls again. Left open until the check phase,
 * the turn would end only after the next poll returns, which blocks until unrelated input (a
 * datagram, a client, another timer): a retransmission or an acknowledgement sent from a timer
 * would wait for it.
 *
 * One real node (rt/uv, node 1 of 2) on loopback; "node 2" is a plain UDP socket of the test.
 * A module arms a timer and sends a fair-loss frame to node 2 when it fires. A prepare handle
 * (run after the timers, before the poll, in the same loop iteration) looks, without blocking,
 * whether the datagram is in node 2's socket already. No clock is read by the assertions. */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "core/config.h"
#include "core/node.h"
#include "crypto/crypto.h"
#include "links/links.h"
#include "rt/uv/turntrace.h"
#include "rt/uv/uv.h"

#include "../lib/loopback_cluster.h"

#define TEST_WIRE 231

struct probe {
	struct strata_module base;
	struct strata_timer timer;
	int fired;      /* timer turns run */
	int checked;    /* prepare callbacks run after a timer turn */
	int seen;       /* of those, how many found the turn's datagram already sent */
	int stray;      /* datagrams that were in the socket before the timer fired */
	int fd2;        /* node 2's socket */
	struct strata_uv *rt;
	uv_prepare_t prep;
	uv_timer_t guard;
	bool done;
};

static void probe_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct probe *p = (struct probe *)m;
	if (ev->type == STRATA_EV_INIT) {
		strata_timer_init(&p->timer, m, 1, 0);
		strata_timer_arm_in(m->node, &p->timer, 20000);
	} else if (ev->type == STRATA_EV_TIMER) {
		struct strata_msg *msg = strata_msg_alloc(16);
		ck_assert_ptr_nonnull(msg);
		memset(msg->data, 0x5a, 16);
		ck_assert_int_eq(strata_fll_send(m, 2, 0, msg), 0);
		strata_msg_unref(msg);
		p->fired++;
	}
}

static void probe_destroy(struct strata_module *m)
{
	(void)m; /* owned by the test */
}

static const struct strata_module_ops probe_ops = {
	.name = "probe", .handle = probe_handle, .destroy = probe_destroy,
};

static int drain(int fd)
{
	uint8_t buf[65536];
	int k = 0;
	while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
		k++;
	return k;
}

static void finish(struct probe *p)
{
	if (p->done)
		return;
	p->done = true;
	uv_close((uv_handle_t *)&p->prep, NULL);
	uv_close((uv_handle_t *)&p->guard, NULL);
	strata_uv_close(p->rt);
}

/* After the timers of this iteration, before its poll. */
static void on_prepare(uv_prepare_t *h)
{
	struct probe *p = h->data;
	if (p->fired == 0) {
		p->stray += drain(p->fd2);
		return;
	}
	p->checked++;
	if (drain(p->fd2) > 0)
		p->seen++;
	finish(p);
}

static void on_guard(uv_timer_t *t)
{
	finish(t->data); /* the timer never fired: fails below */
}

/* One node whose module's timer sends a datagram to "node 2" (a socket of the test); runs the
 * loop until the prepare handle looked after the timer's turn. */
static struct probe *run_timer_probe(void)
{
	struct strata_config cfg;
	uint8_t sk[3][STRATA_SK_LEN];
	loopback_cluster(&cfg, "uvturns", 0x7e57, 2, sk);
	struct probe *p = calloc(1, sizeof(*p));
	ck_assert_ptr_nonnull(p);
	uint16_t port2 = cfg.nodes[2].port;
	p->fd2 = loopback_bind(SOCK_DGRAM, &port2);
	ck_assert(p->fd2 >= 0);

	uv_loop_t loop;
	ck_assert_int_eq(uv_loop_init(&loop), 0);
	char err[256];
	struct strata_uv_opts o = { .cfg = &cfg, .id = 1, .incarnation = 7, .secret_key = sk[1],
				    .log_level = STRATA_LOG_ERROR };
	p->rt = strata_uv_new(&loop, &o, err, sizeof(err));
	ck_assert_msg(p->rt != NULL, "%s", err);
	strata_node_add_module(strata_uv_node(p->rt), &p->base, &probe_ops, TEST_WIRE);
	ck_assert_int_eq(uv_prepare_init(&loop, &p->prep), 0);
	p->prep.data = p;
	ck_assert_int_eq(uv_prepare_start(&p->prep, on_prepare), 0);
	ck_assert_int_eq(uv_timer_init(&loop, &p->guard), 0);
	p->guard.data = p;
	ck_assert_int_eq(uv_timer_start(&p->guard, on_guard, 10000, 0), 0);
	ck_assert_msg(strata_uv_start(p->rt, false, err, sizeof(err)) == 0, "%s", err);
	uv_run(&loop, UV_RUN_DEFAULT);
	strata_uv_free(p->rt);
	ck_assert_int_eq(uv_loop_close(&loop), 0);
	close(p->fd2);
	return p;
}

START_TEST(test_timer_turn_sends_before_next_poll)
{
	struct probe *p = run_timer_probe();
	ck_assert_int_eq(p->fired, 1);
	ck_assert_int_eq(p->checked, 1);
	/* The old runtime ended a timer's turn in the check phase, after the next poll: here the
	 * datagram was not sent yet when the prepare handle looked. */
	ck_assert_msg(p->seen == 1, "the timer turn's datagram had not left before the next poll");
	free(p);
}
END_TEST

/* ---- the delayed ack and the early class ----
 * Two real nodes on one loop. Node 2 sends node 1 a perfect-link "ping"; node 1, in the turn
 * that delivers it, answers with an early "pong" (strata_pl_send_early), which leaves before
 * that turn's sync. The ack of the ping must not ride it: the ping was delivered in a batch
 * whose sync has not completed. So when node 2 delivers the pong, its ping is still
 * unacknowledged; the ack follows alone after ack_delay_us. With the check removed from
 * links/datagram.c (ack_synced), the ack rides the pong and this test fails. */
struct pair_node {
	struct strata_module base;
	struct strata_uv *rt;
	struct pair *pr;
};

struct pair {
	struct pair_node nd[3];
	uv_timer_t poll;
	int pongs;
	size_t pending_at_pong; /* node 2's unacknowledged frames to node 1 when the pong arrived */
	uint64_t acks_before;   /* node 1's acks_out when it delivered the ping */
	bool acked_later;
	bool done;
	int polls;
};

static void pair_finish(struct pair *pr)
{
	if (pr->done)
		return;
	pr->done = true;
	uv_close((uv_handle_t *)&pr->poll, NULL);
	strata_uv_close(pr->nd[1].rt);
	strata_uv_close(pr->nd[2].rt);
}

static void pair_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct pair_node *pn = (struct pair_node *)m;
	struct pair *pr = pn->pr;
	uint32_t self = strata_node_id(m->node);
	if (ev->type == STRATA_EV_INIT && self == 2) {
		struct strata_msg *msg = strata_msg_new("ping", 4);
		ck_assert_int_eq(strata_pl_send(m, 1, 0, msg), 0);
		strata_msg_unref(msg);
	} else if (ev->type == STRATA_EV_PL_DELIVER && self == 1) {
		pr->acks_before = strata_node_counters(m->node)->acks_out;
		struct strata_msg *msg = strata_msg_new("pong", 4);
		ck_assert_int_eq(strata_pl_send_early(m, 2, 0, msg), 0);
		strata_msg_unref(msg);
	} else if (ev->type == STRATA_EV_PL_DELIVER && self == 2) {
		pr->pongs++;
		pr->pending_at_pong = strata_links_pending(m->node, 1);
	}
}

static const struct strata_module_ops pair_ops = {
	.name = "pair", .handle = pair_handle, .destroy = probe_destroy,
};

static void pair_poll(uv_timer_t *t)
{
	struct pair *pr = t->data;
	if (pr->pongs && strata_links_pending(strata_uv_node(pr->nd[2].rt), 1) == 0) {
		pr->acked_later = true;
		pair_finish(pr);
	} else if (++pr->polls > 5000) {
		pair_finish(pr); /* 5 s: fails below */
	}
}

START_TEST(test_ack_of_unsynced_delivery_not_early)
{
	struct strata_config cfg;
	uint8_t sk[3][STRATA_SK_LEN];
	loopback_cluster(&cfg, "uvacks", 0xac4, 2, sk);
	cfg.ack_delay_us = 2000; /* lone acks wait (the default; set here so the test keeps it) */
	struct pair *pr = calloc(1, sizeof(*pr));
	ck_assert_ptr_nonnull(pr);
	uv_loop_t loop;
	ck_assert_int_eq(uv_loop_init(&loop), 0);
	char err[256];
	for (uint32_t i = 1; i <= 2; i++) {
		struct strata_uv_opts o = { .cfg = &cfg, .id = i, .incarnation = 100 + i,
					    .secret_key = sk[i], .log_level = STRATA_LOG_ERROR };
		pr->nd[i].rt = strata_uv_new(&loop, &o, err, sizeof(err));
		ck_assert_msg(pr->nd[i].rt != NULL, "%s", err);
		pr->nd[i].pr = pr;
		strata_node_add_module(strata_uv_node(pr->nd[i].rt), &pr->nd[i].base, &pair_ops,
				       TEST_WIRE);
	}
	ck_assert_int_eq(uv_timer_init(&loop, &pr->poll), 0);
	pr->poll.data = pr;
	ck_assert_int_eq(uv_timer_start(&pr->poll, pair_poll, 1, 1), 0);
	for (uint32_t i = 1; i <= 2; i++)
		ck_assert_msg(strata_uv_start(pr->nd[i].rt, false, err, sizeof(err)) == 0, "%s", err);
	uv_run(&loop, UV_RUN_DEFAULT);
	for (uint32_t i = 1; i <= 2; i++)
		strata_uv_free(pr->nd[i].rt);
	ck_assert_int_eq(uv_loop_close(&loop), 0);

	ck_assert_int_eq(pr->pongs, 1);
	ck_assert_msg(pr->pending_at_pong == 1,
		      "the early pong carried the ack of the ping delivered in its unsynced batch");
	ck_assert_msg(pr->acked_later, "the delayed ack of the ping never arrived");
	free(pr);
}
END_TEST

/* ---- the turn trace (src/rt/uv/turntrace.h) ----
 * With STRATA_TURN_TRACE set, the node writes DIR/node-1.tt when freed: the header, then its
 * records in time order, among them the timer's turn above in the order it ran: the timer, the
 * batch's end (a timer's batch), one sendmmsg of one datagram to peer 2 and its return, and a
 * poll after it. */
START_TEST(test_turn_trace_records_the_turn)
{
	char dir[] = "/tmp/strata-tt-test.XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(setenv("STRATA_TURN_TRACE", dir, 1), 0);
	struct probe *p = run_timer_probe();
	unsetenv("STRATA_TURN_TRACE");
	ck_assert_int_eq(p->fired, 1);
	free(p);

	char path[300];
	snprintf(path, sizeof path, "%s/node-1.tt", dir);
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "no turn trace written at %s", path);
	char magic[8];
	uint32_t hdr[2];
	ck_assert(fread(magic, 1, 8, f) == 8);
	ck_assert(memcmp(magic, "STRATATT", 8) == 0);
	ck_assert(fread(hdr, sizeof hdr, 1, f) == 1);
	ck_assert_int_eq(hdr[0], 1);
	ck_assert_int_eq(hdr[1], 1);
	struct uvrt_tt_rec r;
	uint64_t last_t = 0, n = 0;
	/* the timer's turn, step by step: 0 = the timer not seen yet, then its batch's end, its
	 * sendmmsg (one datagram, to peer 2), the call's return, the next poll */
	int step = 0;
	while (fread(&r, sizeof r, 1, f) == 1) {
		n++;
		ck_assert_msg(r.t_ns >= last_t, "record %llu goes back in time", (unsigned long long)n);
		last_t = r.t_ns;
		ck_assert(r.kind >= UVRT_TT_POLL && r.kind < UVRT_TT_KIND_MAX);
		if (step == 0 && r.kind == UVRT_TT_TIMER)
			step = 1;
		else if (step == 1 && r.kind == UVRT_TT_BATCH_END && r.b == 1)
			step = 2;
		else if (step == 2 && r.kind == UVRT_TT_TX && r.a == 1 && r.b == 1u << 1)
			step = 3;
		else if (step == 3 && r.kind == UVRT_TT_TX_DONE)
			step = 4;
		else if (step == 4 && r.kind == UVRT_TT_POLL)
			step = 5;
	}
	fclose(f);
	ck_assert_msg(step == 5, "the timer's turn not traced whole (%llu records, reached step %d)",
		      (unsigned long long)n, step);
	unlink(path);
	rmdir(dir);
}
END_TEST

int main(void)
{
	if (strata_crypto_init() != 0)
		return 1;
	Suite *s = suite_create("uv_turns");
	TCase *tc = tcase_create("turns");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_timer_turn_sends_before_next_poll);
	tcase_add_test(tc, test_ack_of_unsynced_delivery_not_early);
	tcase_add_test(tc, test_turn_trace_records_the_turn);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
