/* The eventual leader detector of the crash-recovery model, book Alg. 2.9 "Elect Lower Epoch"
 * (module ele), over fair-loss links and stable storage.
 *
 * Specification (module Omega, instance "ele"):
 *   Indication: <Omega, Trust | p> - p is trusted to be the leader.
 *   ELD1 Eventual accuracy: there is a time after which every correct process trusts some
 *        correct process.
 *   ELD2 Eventual agreement: there is a time after which no two correct processes trust
 *        different correct processes.
 * Model: fail-recovery (a correct process is one that eventually stays up; a process may crash
 * and recover any number of times before that). Every process keeps an epoch on stable storage,
 * incremented at every start and recovery (stored before any heartbeat leaves: the node releases
 * datagrams only after the turn's sync); it sends [HEARTBEAT, epoch] to all (itself included)
 * every `delay`, collects the (process, epoch) pairs heard in the period as candidates, and at
 * the end of each period trusts the candidate with the lowest epoch (ties: the lowest id, the
 * highest rank). A process that keeps crashing and recovering keeps raising its epoch and stops
 * being chosen; the correct ones stop raising theirs. When the leader changes, delay grows by Δ
 * (to hear everyone within one period eventually).
 *
 * Faithful transcription with these bounds: Δ = [fd] evp_timeout_ms, delay at most
 * ELE_DELAY_MAX_FACTOR * Δ (the book's grows without bound; past that, a slower network than
 * 64 Δ can make the leader oscillate); candidates are one epoch per process (n words). One
 * storage write per start/recovery (key "ele/epoch"). Messages: N heartbeats per period. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"
#include "fd/fd.h"
#include "links/links.h"

#define ELE_DELAY_MAX_FACTOR 64u
#define ELE_KEY "ele/epoch"

struct ele {
	struct strata_module m;
	uint32_t n;
	uint64_t epoch;
	uint32_t leader;
	uint64_t delta_us, delay_us;
	uint64_t *cand;        /* [q]: epoch heard from q this period, 0 = none */
	struct strata_timer timer;
	bool broken_self;      /* TEST ONLY: trusts itself whatever it hears */
};

static void ele_trust(struct ele *e, uint32_t leader)
{
	e->leader = leader;
	strata_node_set_leader(e->m.node, &e->m, leader);
	strata_indicate(&e->m, STRATA_EV_LEADER, leader, e->epoch, 0, NULL);
}

static void ele_heartbeat_all(struct ele *e)
{
	struct strata_wr w;
	strata_wr_init(&w, 12);
	strata_wr_u64(&w, e->epoch);
	int err;
	struct strata_msg *msg = strata_wr_take_msg(&w, &err);
	if (!msg)
		return;
	for (uint32_t q = 1; q <= e->n; q++) {
		if (q == strata_node_id(e->m.node)) {
			if (!e->cand[q] || e->cand[q] < e->epoch)
				e->cand[q] = e->epoch; /* our own heartbeat, delivered locally */
			continue;
		}
		(void)strata_fll_send(&e->m, q, 0, msg);
	}
	strata_msg_unref(msg);
}

/* upon event <Init> / <Recovery> do
 *     leader := maxrank(Π); trigger <Ω, Trust | leader>; delay := Δ;
 *     retrieve(epoch); epoch := epoch + 1; store(epoch);
 *     forall p ∈ Π do trigger <fll, Send | p, [HEARTBEAT, epoch]>;
 *     candidates := ∅; starttimer(delay); */
static void ele_start(struct ele *e)
{
	struct strata_node *n = e->m.node;
	ele_trust(e, 1);
	e->delay_us = e->delta_us;
	struct strata_msg *v = NULL;
	uint64_t stored = 0;
	int rc = strata_retrieve(n, ELE_KEY, &v);
	if (rc == 0) {
		struct strata_rd r;
		strata_rd_init(&r, v->data, v->len);
		stored = strata_rd_u64(&r);
		if (strata_rd_done(&r) != 0) {
			strata_trace(n, "ele", "stored epoch is damaged -> counting from 0");
			stored = 0;
		}
		strata_msg_unref(v);
	}
	e->epoch = stored + 1;
	struct strata_wr w;
	strata_wr_init(&w, 12);
	strata_wr_u64(&w, e->epoch);
	rc = w.err ? w.err : strata_store(n, ELE_KEY, w.buf, w.len);
	strata_wr_free(&w);
	if (rc)
		strata_trace(n, "ele", "storing epoch %llu failed: %s", (unsigned long long)e->epoch,
			     strata_strerror(rc));
	strata_trace(n, "ele", "start -> epoch %llu", (unsigned long long)e->epoch);
	memset(e->cand, 0, (e->n + 1) * sizeof(*e->cand));
	ele_heartbeat_all(e);
	strata_timer_arm_in(n, &e->timer, e->delay_us);
}

/* select: the candidate with the lowest epoch, ties broken by rank (lowest id). */
static uint32_t ele_select(const struct ele *e)
{
	uint32_t best = 0;
	for (uint32_t q = 1; q <= e->n; q++)
		if (e->cand[q] && (!best || e->cand[q] < e->cand[best]))
			best = q;
	return best;
}

/* upon event <Timeout> do
 *     newleader := select(candidates);
 *     if newleader ≠ leader then delay := delay + Δ; leader := newleader;
 *         trigger <Ω, Trust | leader>;
 *     forall p ∈ Π do trigger <fll, Send | p, [HEARTBEAT, epoch]>;
 *     candidates := ∅; starttimer(delay); */
static void ele_timeout(struct ele *e)
{
	uint32_t nl = e->broken_self ? strata_node_id(e->m.node) : ele_select(e);
	if (nl && nl != e->leader) {
		if (e->delay_us < ELE_DELAY_MAX_FACTOR * e->delta_us)
			e->delay_us += e->delta_us;
		strata_trace(e->m.node, "ele", "lowest epoch heard: %u (epoch %llu) -> trust it, delay %llu ms",
			     nl, (unsigned long long)e->cand[nl],
			     (unsigned long long)(e->delay_us / 1000));
		ele_trust(e, nl);
	}
	memset(e->cand, 0, (e->n + 1) * sizeof(*e->cand));
	ele_heartbeat_all(e);
	strata_timer_arm_in(e->m.node, &e->timer, e->delay_us);
}

/* upon event <fll, Deliver | q, [HEARTBEAT, ep]> do
 *     if exists (s, e) ∈ candidates such that s = q ∧ e < ep then
 *         candidates := candidates \ {(q, e)};
 *     candidates := candidates ∪ (q, ep); */
static void ele_heartbeat(struct ele *e, const struct strata_event *ev)
{
	struct strata_rd r;
	strata_rd_init(&r, ev->msg->data, ev->msg->len);
	uint64_t ep = strata_rd_u64(&r);
	if (strata_rd_done(&r) != 0 || ep == 0 || ev->peer < 1 || ev->peer > e->n) {
		strata_node_bad_payload(e->m.node, &e->m, ev->peer, "ele: malformed HEARTBEAT");
		return;
	}
	if (e->cand[ev->peer] < ep)
		e->cand[ev->peer] = ep;
}

static void ele_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct ele *e = (struct ele *)m;
	switch (ev->type) {
	case STRATA_EV_INIT:
		ele_start(e);
		break;
	case STRATA_EV_TIMER:
		ele_timeout(e);
		break;
	case STRATA_EV_FLL_DELIVER:
		if (ev->msg)
			ele_heartbeat(e, ev);
		break;
	default:
		break;
	}
}

static void ele_destroy(struct strata_module *m)
{
	struct ele *e = (struct ele *)m;
	free(e->cand);
	free(e);
}

static const struct strata_module_ops ele_ops = {
	.name = "ele", .handle = ele_handle, .destroy = ele_destroy,
};

struct strata_module *strata_fd_ele_create(struct strata_node *n, char *err, size_t errlen)
{
	struct ele *e = calloc(1, sizeof(*e));
	uint64_t *cand = calloc(strata_node_n(n) + 1, sizeof(*cand));
	if (!e || !cand) {
		free(e);
		free(cand);
		snprintf(err, errlen, "ele: out of memory");
		return NULL;
	}
	e->cand = cand;
	e->n = strata_node_n(n);
	e->delta_us = (uint64_t)strata_node_config(n)->evp_timeout_ms * 1000u;
	strata_node_add_module(n, &e->m, &ele_ops, strata_wire_id("ele"));
	strata_timer_init(&e->timer, &e->m, 1, 0);
	strata_node_set_role(n, STRATA_ROLE_LEADER, &e->m);
	return &e->m;
}

void strata_fd_ele_test_trust_self(struct strata_module *m)
{
	((struct ele *)m)->broken_self = true;
}
