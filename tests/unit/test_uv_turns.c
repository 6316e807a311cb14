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
#include "rt/uv/uv.h"

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

static uint16_t free_port(int type)
{
	int fd = socket(AF_INET, type, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	ck_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	ck_assert(getsockname(fd, (struct sockaddr *)&a, &l) == 0);
	close(fd);
	return ntohs(a.sin_port);
}

START_TEST(test_timer_turn_sends_before_next_poll)
{
	struct strata_config cfg;
	strata_config_defaults(&cfg);
	snprintf(cfg.cluster_id, sizeof(cfg.cluster_id), "uvturns");
	cfg.cluster_hash = 0x7e57;
	cfg.n = 2;
	cfg.f = 0;
	uint8_t sk[3][STRATA_SK_LEN];
	for (uint32_t i = 1; i <= 2; i++) {
		cfg.nodes[i].id = i;
		snprintf(cfg.nodes[i].host, sizeof(cfg.nodes[i].host), "127.0.0.1");
		cfg.nodes[i].port = free_port(SOCK_DGRAM);
		cfg.nodes[i].client_port = free_port(SOCK_STREAM);
		strata_keypair(cfg.nodes[i].public_key, sk[i]);
		cfg.nodes[i].has_public_key = true;
	}
	struct probe *p = calloc(1, sizeof(*p));
	ck_assert_ptr_nonnull(p);
	p->fd2 = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons(cfg.nodes[2].port) };
	ck_assert(p->fd2 >= 0 && bind(p->fd2, (struct sockaddr *)&a, sizeof(a)) == 0);

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

	ck_assert_int_eq(p->fired, 1);
	ck_assert_int_eq(p->checked, 1);
	/* The old runtime ended a timer's turn in the check phase, after the next poll: here the
	 * datagram was not sent yet when the prepare handle looked. */
	ck_assert_msg(p->seen == 1, "the timer turn's datagram had not left before the next poll");
	free(p);
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
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
