/* P, the perfect failure detector: Exclude on Timeout (the book's Alg. 2.5), model fail-stop.
 *
 * Specification (module P, instance "p"):
 *   Indication: <P, Crash | p>  - detects that process p has crashed.
 *   PFD1 Strong completeness: eventually every process that crashes is permanently detected by
 *        every correct process.
 *   PFD2 Strong accuracy: if a process p is detected by any process, then p has crashed.
 *
 * Assumption (the fail-stop model): synchrony. With heartbeat period H = [fd] heartbeat_ms,
 * detection timeout Delta = [fd] timeout_ms and one-way delays in [dmin, dmax], PFD2 holds iff
 * H + dmax - dmin < Delta (a sender's pauses count into dmax). A network that breaks the bound
 * breaks accuracy; docs/failure-detectors.md says how to pick Delta for a real network.
 *
 * Faithful in its properties, bounded in memory: O(n) state (one stream record and one timer per
 * peer), no allocation after creation. Departures from the book, each for a reason:
 *   - Push heartbeats instead of request/reply: every H each process sends HEARTBEAT(incarnation,
 *     seq) to every other. That is N-1 messages per period per process instead of the book's
 *     2(N-1), and the bound depends on one one-way delay instead of a round trip.
 *   - Per-peer deadlines instead of one global round: a peer is detected exactly Delta after its
 *     last fresh heartbeat (not at the next round boundary), so detection time is
 *     at most dmax + Delta after the crash, and one timer fires per detection, not per round.
 *   - Heartbeats travel over fair-loss links, not perfect links: a heartbeat retransmitted late
 *     proves nothing new (its information is its arrival time), and perfect links would keep a
 *     growing retransmission queue toward a crashed peer. Loss is part of the bound: each lost
 *     heartbeat adds H to the worst arrival gap, so Delta must also cover the consecutive losses
 *     the network can produce.
 *   - Restarts. The book's processes never recover. A peer that comes back with a higher
 *     incarnation (the link layer's STRATA_EV_PEER_RESTART, or a heartbeat carrying it) is a new
 *     process in the fail-stop reading: the old incarnation's crash is indicated first if it was
 *     not yet detected (PFD1 for the old process), then the new one is restored (STRATA_EV_RESTORE,
 *     view "alive" with the new incarnation). Crash of a given incarnation stays permanent: late
 *     heartbeats from a detected incarnation are ignored. A peer detected before it was ever heard
 *     from (it started more than Delta after us) counts as new when it first speaks.
 *   - Heartbeats carry a sequence number, so duplicates and reordered older copies do not extend
 *     a deadline.
 *   - A detector that was not running cannot judge silence: a deadline that fires more than one
 *     heartbeat period late (this process was stopped or starved, e.g. SIGSTOP; the runtime may
 *     run overdue timers before it reads the heartbeats queued meanwhile) is re-armed for a full
 *     timeout instead of detecting (fd_deadline_stalled). Completeness only waits longer, by
 *     the length of our own stall. */
#include <stdio.h>
#include <stdlib.h>

#include "core/assert.h"
#include "core/error.h"
#include "core/stack.h"
#include "fd/fd.h"

enum { TOK_HEARTBEAT = 1, TOK_DEADLINE = 2 };

struct p_peer {
	struct fd_stream s;
	struct strata_timer deadline;
	bool crashed;
	uint64_t detected_inc; /* incarnation known when detected (0 = never heard) */
};

struct p_mod {
	struct strata_module base;
	uint64_t period_us, timeout_us;
	uint64_t seq; /* last heartbeat sent */
	struct strata_timer hb;
	uint32_t n, self;
	struct p_peer *peers; /* 1..n */
};

static void p_heartbeat(struct p_mod *p)
{
	fd_heartbeat_send_all(&p->base, ++p->seq);
	strata_timer_arm_in(p->base.node, &p->hb, p->period_us);
}

static void p_detect(struct p_mod *p, uint32_t q, const char *why)
{
	struct p_peer *pp = &p->peers[q];
	pp->crashed = true;
	pp->detected_inc = pp->s.incarnation;
	strata_timer_disarm(p->base.node, &pp->deadline);
	strata_trace(p->base.node, "p", "%s -> crash(%u) incarnation %llu", why, q,
		     (unsigned long long)pp->detected_inc);
	strata_node_set_peer_state(p->base.node, &p->base, q, STRATA_PEER_CRASHED);
	strata_indicate(&p->base, STRATA_EV_CRASH, q, 0, pp->detected_inc, NULL);
}

/* Peer q is now a process with incarnation inc (heard up to seq) that we did not know:
 * had_old says whether an earlier incarnation existed (a restart; old_inc, 0 if we never heard
 * from it) or not (first contact). */
static void p_new_process(struct p_mod *p, uint32_t q, uint64_t inc, uint64_t seq, bool had_old,
			  uint64_t old_inc)
{
	struct strata_node *n = p->base.node;
	struct p_peer *pp = &p->peers[q];
	bool was_crashed = pp->crashed;
	if (!was_crashed && had_old) {
		/* The previous incarnation crashed before we noticed: say so first, so upper layers
		 * waiting on it (acks over a session the link layer has just reset) move on. The view
		 * does not pass through "crashed": it would be stamped with the new incarnation. */
		strata_trace(n, "p", "peer %u restarted before detection -> crash(%u) of incarnation %llu",
			     q, q, (unsigned long long)old_inc);
		strata_indicate(&p->base, STRATA_EV_CRASH, q, 0, old_inc, NULL);
	}
	pp->crashed = false;
	pp->s.incarnation = inc;
	pp->s.seq = seq;
	strata_trace(n, "p", "peer %u is a new process (incarnation %llu) -> %s", q,
		     (unsigned long long)inc, was_crashed || had_old ? "restore" : "alive");
	if (was_crashed)
		strata_node_set_peer_state(n, &p->base, q, STRATA_PEER_ALIVE);
	else
		fd_output_view(&p->base, q, STRATA_PEER_ALIVE, inc); /* announce the incarnation */
	if (was_crashed || had_old)
		strata_indicate(&p->base, STRATA_EV_RESTORE, q, 0, inc, NULL);
	strata_timer_arm_in(n, &pp->deadline, p->timeout_us);
	fd_heartbeat_send(&p->base, q, ++p->seq); /* see fd_heartbeat_send() */
}

static void p_on_heartbeat(struct p_mod *p, const struct strata_event *ev)
{
	struct fd_heartbeat hb;
	if (fd_heartbeat_decode(&p->base, ev, &hb) != 0)
		return;
	uint32_t q = ev->peer;
	struct p_peer *pp = &p->peers[q];
	if (pp->crashed) {
		if (hb.incarnation > pp->detected_inc) {
			p_new_process(p, q, hb.incarnation, hb.seq, pp->detected_inc != 0,
				      pp->detected_inc);
		} else {
			/* Only possible when the network broke the synchrony P assumes. */
			strata_trace(p->base.node, "p",
				     "heartbeat %llu from detected peer %u -> ignored (crash is permanent)",
				     (unsigned long long)hb.seq, q);
		}
		return;
	}
	uint64_t old_inc = pp->s.incarnation;
	switch (fd_stream_accept(&pp->s, &hb)) {
	case FD_HB_FRESH:
		strata_timer_arm_in(p->base.node, &pp->deadline, p->timeout_us);
		break;
	case FD_HB_NEW_INC:
		p_new_process(p, q, hb.incarnation, hb.seq, true, old_inc);
		break;
	case FD_HB_FIRST:
		p_new_process(p, q, hb.incarnation, hb.seq, false, 0);
		break;
	case FD_HB_STALE:
		break;
	}
}

static void p_on_restart(struct p_mod *p, uint32_t q, uint64_t inc)
{
	struct p_peer *pp = &p->peers[q];
	uint64_t known = pp->crashed ? pp->detected_inc : pp->s.incarnation;
	if (inc > known) /* the link layer knew an earlier incarnation */
		p_new_process(p, q, inc, 0, true, pp->s.incarnation);
}

static void p_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct p_mod *p = (struct p_mod *)m;
	switch (ev->type) {
	case STRATA_EV_INIT:
		for (uint32_t q = 1; q <= p->n; q++)
			if (q != p->self)
				strata_timer_arm_in(m->node, &p->peers[q].deadline, p->timeout_us);
		p_heartbeat(p);
		break;
	case STRATA_EV_TIMER:
		if (ev->arg == TOK_HEARTBEAT)
			p_heartbeat(p);
		else if (ev->arg == TOK_DEADLINE && !p->peers[ev->instance].crashed &&
			 !fd_deadline_stalled(m, &p->peers[ev->instance].deadline, p->period_us,
					      p->timeout_us))
			p_detect(p, (uint32_t)ev->instance, "no heartbeat within timeout");
		break;
	case STRATA_EV_FLL_DELIVER:
		p_on_heartbeat(p, ev);
		break;
	case STRATA_EV_PEER_RESTART:
		p_on_restart(p, ev->peer, ev->arg);
		break;
	case STRATA_EV_SL_DELIVER:
	case STRATA_EV_PL_DELIVER:
		strata_node_bad_payload(m->node, m, ev->peer, "P speaks only over fair-loss links");
		break;
	default:
		break;
	}
}

static void p_destroy(struct strata_module *m)
{
	struct p_mod *p = (struct p_mod *)m;
	free(p->peers);
	free(p);
}

static const struct strata_module_ops p_ops = {
	.name = "p", .handle = p_handle, .destroy = p_destroy,
};

struct strata_module *strata_fd_p_create(struct strata_node *n, char *err, size_t errlen)
{
	const struct strata_config *cfg = strata_node_config(n);
	if (cfg->heartbeat_ms >= cfg->timeout_ms) {
		snprintf(err, errlen,
			 "[fd] timeout_ms (%u) must exceed heartbeat_ms (%u): P would detect correct "
			 "nodes between two heartbeats",
			 cfg->timeout_ms, cfg->heartbeat_ms);
		return NULL;
	}
	struct p_mod *p = calloc(1, sizeof(*p));
	struct p_peer *peers = calloc(cfg->n + 1, sizeof(*peers));
	if (!p || !peers) {
		free(p);
		free(peers);
		snprintf(err, errlen, "P: out of memory");
		return NULL;
	}
	p->peers = peers;
	p->n = cfg->n;
	p->self = strata_node_id(n);
	p->period_us = (uint64_t)cfg->heartbeat_ms * 1000;
	p->timeout_us = (uint64_t)cfg->timeout_ms * 1000;
	strata_node_add_module(n, &p->base, &p_ops, strata_wire_id("p"));
	strata_timer_init(&p->hb, &p->base, TOK_HEARTBEAT, 0);
	for (uint32_t q = 1; q <= p->n; q++)
		strata_timer_init(&p->peers[q].deadline, &p->base, TOK_DEADLINE, q);
	strata_node_set_role(n, STRATA_ROLE_FD, &p->base);
	return &p->base;
}
