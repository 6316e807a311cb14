/* <>P, the eventually perfect failure detector: Increasing Timeout (the book's Alg. 2.7), model
 * fail-noisy.
 *
 * Specification (module <>P, instance "evp"):
 *   Indications: <<>P, Suspect | p> - process p is suspected to have crashed;
 *                <<>P, Restore | p> - process p is not suspected anymore.
 *   EPFD1 Strong completeness: eventually every process that crashes is permanently suspected by
 *         every correct process.
 *   EPFD2 Eventual strong accuracy: eventually, no correct process is suspected by any correct
 *         process.
 *
 * Assumption: partial synchrony. After some unknown time the arrival gap between two fresh
 * heartbeats of a correct peer is bounded (by H + dmax - dmin with period H = [fd] heartbeat_ms);
 * before it, delays, pauses and partitions may be arbitrary and cause false suspicions.
 *
 * Faithful in its properties, bounded in memory: O(n) state (one stream record, one timer and one
 * timeout per peer). Departures from the book:
 *   - Push heartbeats over fair-loss links instead of request/reply (N-1 messages per period per
 *     process instead of 2(N-1); late retransmissions prove nothing), as in fd/p.c.
 *   - Per-peer timeouts instead of the book's one global delay. Each peer p has its own timeout,
 *     starting at [fd] evp_timeout_ms; every time a suspicion of p turns out false (a fresh
 *     heartbeat of the same incarnation arrives while p is suspected) p's timeout grows by
 *     [fd] evp_increment_ms. One slow or paused peer therefore does not slow down the detection
 *     of every other peer. EPFD2 still holds: after the bound holds, each peer's timeout grows at
 *     most ceil(gap / increment) more times, then it exceeds every gap and stops growing.
 *     The timeout is capped at one hour (EVP_TIMEOUT_MAX_US) so it cannot overflow; a network
 *     slower than that is outside every model we run.
 *   - Per-peer deadlines: p is suspected exactly timeout(p) after its last fresh heartbeat, not at
 *     the next round boundary.
 *   - Restarts: a peer that comes back with a higher incarnation is a new process. If it was
 *     suspected, the suspicion was right (the old incarnation did crash), so it is restored
 *     without growing the timeout; if not, the view is re-announced with the new incarnation.
 *   - A deadline that fires more than a heartbeat period late means this process itself was not
 *     running: it is re-armed for a full timeout instead of suspecting (see fd/p.c).
 *   - An increment of 0 (not accepted by the config parser; settable in the struct) gives a
 *     detector that never adapts: the simulation suite uses it as its broken variant. */
#include <stdio.h>
#include <stdlib.h>

#include "core/assert.h"
#include "core/error.h"
#include "core/stack.h"
#include "fd/fd.h"

#define EVP_TIMEOUT_MAX_US (3600ull * 1000 * 1000)

enum { TOK_HEARTBEAT = 1, TOK_DEADLINE = 2 };

struct evp_peer {
	struct fd_stream s;
	struct strata_timer deadline;
	bool suspected;
	uint64_t timeout_us;
};

struct evp_mod {
	struct strata_module base;
	uint64_t period_us, increment_us;
	uint64_t seq;
	struct strata_timer hb;
	uint32_t n, self;
	struct evp_peer *peers; /* 1..n */
};

static void evp_heartbeat(struct evp_mod *e)
{
	fd_heartbeat_send_all(&e->base, ++e->seq);
	strata_timer_arm_in(e->base.node, &e->hb, e->period_us);
}

static void evp_suspect(struct evp_mod *e, uint32_t q)
{
	struct evp_peer *ep = &e->peers[q];
	ep->suspected = true;
	strata_trace(e->base.node, "evp", "no heartbeat from %u within %llu us -> suspect(%u)", q,
		     (unsigned long long)ep->timeout_us, q);
	strata_node_set_peer_state(e->base.node, &e->base, q, STRATA_PEER_SUSPECTED);
	strata_indicate(&e->base, STRATA_EV_SUSPECT, q, 0, ep->s.incarnation, NULL);
}

/* false_suspicion: the peer's same incarnation spoke again, so the timeout was too short. */
static void evp_restore(struct evp_mod *e, uint32_t q, bool false_suspicion)
{
	struct evp_peer *ep = &e->peers[q];
	ep->suspected = false;
	if (false_suspicion) {
		ep->timeout_us += e->increment_us;
		if (ep->timeout_us > EVP_TIMEOUT_MAX_US)
			ep->timeout_us = EVP_TIMEOUT_MAX_US;
	}
	strata_trace(e->base.node, "evp", "heard from suspected %u (%s) -> restore(%u), timeout %llu us",
		     q, false_suspicion ? "false suspicion" : "new incarnation", q,
		     (unsigned long long)ep->timeout_us);
	strata_node_set_peer_state(e->base.node, &e->base, q, STRATA_PEER_ALIVE);
	strata_indicate(&e->base, STRATA_EV_RESTORE, q, 0, ep->s.incarnation, NULL);
}

static void evp_new_process(struct evp_mod *e, uint32_t q, uint64_t inc, uint64_t seq)
{
	struct evp_peer *ep = &e->peers[q];
	ep->s.incarnation = inc;
	ep->s.seq = seq;
	if (ep->suspected)
		evp_restore(e, q, false);
	else
		fd_output_view(&e->base, q, STRATA_PEER_ALIVE, inc);
	strata_timer_arm_in(e->base.node, &ep->deadline, ep->timeout_us);
	fd_heartbeat_send(&e->base, q, ++e->seq); /* see fd_heartbeat_send() */
}

static void evp_on_heartbeat(struct evp_mod *e, const struct strata_event *ev)
{
	struct fd_heartbeat hb;
	if (fd_heartbeat_decode(&e->base, ev, &hb) != 0)
		return;
	uint32_t q = ev->peer;
	struct evp_peer *ep = &e->peers[q];
	switch (fd_stream_accept(&ep->s, &hb)) {
	case FD_HB_FRESH:
		if (ep->suspected)
			evp_restore(e, q, true);
		strata_timer_arm_in(e->base.node, &ep->deadline, ep->timeout_us);
		break;
	case FD_HB_NEW_INC:
	case FD_HB_FIRST:
		/* Suspecting a process we had never heard from, or whose earlier incarnation
		 * crashed, was no mistake: restored without growing the timeout. */
		evp_new_process(e, q, hb.incarnation, hb.seq);
		break;
	case FD_HB_STALE:
		break;
	}
}

static void evp_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct evp_mod *e = (struct evp_mod *)m;
	switch (ev->type) {
	case STRATA_EV_INIT:
		for (uint32_t q = 1; q <= e->n; q++)
			if (q != e->self)
				strata_timer_arm_in(m->node, &e->peers[q].deadline,
						    e->peers[q].timeout_us);
		evp_heartbeat(e);
		break;
	case STRATA_EV_TIMER:
		if (ev->arg == TOK_HEARTBEAT)
			evp_heartbeat(e);
		else if (ev->arg == TOK_DEADLINE && !e->peers[ev->instance].suspected &&
			 !fd_deadline_stalled(m, &e->peers[ev->instance].deadline, e->period_us,
					      e->peers[ev->instance].timeout_us))
			evp_suspect(e, (uint32_t)ev->instance);
		break;
	case STRATA_EV_FLL_DELIVER:
		evp_on_heartbeat(e, ev);
		break;
	case STRATA_EV_PEER_RESTART:
		if (ev->arg > e->peers[ev->peer].s.incarnation)
			evp_new_process(e, ev->peer, ev->arg, 0);
		break;
	case STRATA_EV_SL_DELIVER:
	case STRATA_EV_PL_DELIVER:
		strata_node_bad_payload(m->node, m, ev->peer, "<>P speaks only over fair-loss links");
		break;
	default:
		break;
	}
}

static void evp_destroy(struct strata_module *m)
{
	struct evp_mod *e = (struct evp_mod *)m;
	free(e->peers);
	free(e);
}

static const struct strata_module_ops evp_ops = {
	.name = "evp", .handle = evp_handle, .destroy = evp_destroy,
};

uint64_t strata_fd_evp_timeout_us(const struct strata_module *m, uint32_t peer)
{
	STRATA_ASSERT(m && m->ops == &evp_ops);
	const struct evp_mod *e = (const struct evp_mod *)m;
	STRATA_ASSERT(peer >= 1 && peer <= e->n);
	return e->peers[peer].timeout_us;
}

struct strata_module *strata_fd_evp_create(struct strata_node *n, char *err, size_t errlen)
{
	const struct strata_config *cfg = strata_node_config(n);
	struct evp_mod *e = calloc(1, sizeof(*e));
	struct evp_peer *peers = calloc(cfg->n + 1, sizeof(*peers));
	if (!e || !peers) {
		free(e);
		free(peers);
		snprintf(err, errlen, "<>P: out of memory");
		return NULL;
	}
	e->peers = peers;
	e->n = cfg->n;
	e->self = strata_node_id(n);
	e->period_us = (uint64_t)cfg->heartbeat_ms * 1000;
	e->increment_us = (uint64_t)cfg->evp_increment_ms * 1000;
	strata_node_add_module(n, &e->base, &evp_ops, strata_wire_id("evp"));
	strata_timer_init(&e->hb, &e->base, TOK_HEARTBEAT, 0);
	for (uint32_t q = 1; q <= e->n; q++) {
		strata_timer_init(&e->peers[q].deadline, &e->base, TOK_DEADLINE, q);
		e->peers[q].timeout_us = (uint64_t)cfg->evp_timeout_ms * 1000;
	}
	strata_node_set_role(n, STRATA_ROLE_FD, &e->base);
	return &e->base;
}
