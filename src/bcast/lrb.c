/* Regular reliable broadcast, book Alg. 3.2 "Lazy Reliable Broadcast" (module lrb).
 *
 * Specification (Module 3.2): RB1 validity, RB2 no duplication, RB3 no creation, RB4 agreement
 * (if a correct process delivers m, every correct process eventually delivers m).
 * Model: fail-stop. Uses: BestEffortBroadcast, instance beb (lrb's own beb instance,
 * bcast/bcast.h); PerfectFailureDetector, instance P (STRATA_ROLE_FD, STRATA_EV_CRASH); and,
 * for the garbage collection below, fair-loss links. Resilience: any f.
 * Cost: 1 step and N messages per broadcast when nobody crashes; when the origin crashes every
 * process that delivered its messages relays them: 2 steps, O(N^2) messages.
 *
 * Bounded implementation. The book keeps from[p] (every message received from p) forever, to
 * relay it if p crashes. We keep each delivered message, indexed by its origin, only until every
 * process not detected as crashed has delivered it (acknowledged garbage collection: delivered
 * watermarks are exchanged every heartbeat period over fair-loss links, common.h), and relay a
 * message when its origin has crashed (at detection, or at delivery if the origin is already
 * known crashed). Indexing by origin instead of by the relaying process is enough: any correct
 * process that delivers a message of a crashed origin beb-broadcasts it.
 * The store holds at most LRB_STORE_CAP messages: a local broadcast beyond that is refused with
 * STRATA_EFULL (back-pressure) until garbage collection catches up.
 * Restart: a restarted origin is a new process (new incarnation, seq from 1). */
#include <stdlib.h>
#include <string.h>

#include "bcast/bcast.h"
#include "bcast/common.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/stack.h"

#define LRB_STORE_CAP 8192

struct lrb_entry {
	uint32_t origin;
	uint64_t inc, seq;
	struct strata_msg *msg; /* the beb message it came in (one reference) */
	size_t off, len;        /* lrb's DATA within msg: relayed unchanged */
};

struct lrb {
	struct strata_module m;
	struct bcast_lower beb;
	uint64_t lsn;
	struct bc_origin *org; /* [n+1] */
	struct bc_acks acks;
	struct lrb_entry *store;
	size_t nstore;
	struct strata_timer tick;
};

static void lrb_gc(struct lrb *l)
{
	size_t k = 0;
	for (size_t i = 0; i < l->nstore; i++) {
		struct lrb_entry *e = &l->store[i];
		if (bc_acks_stable(&l->acks, e->origin, e->inc, e->seq))
			strata_msg_unref(e->msg);
		else
			l->store[k++] = *e;
	}
	l->nstore = k;
}

static void lrb_relay(struct lrb *l, const struct lrb_entry *e)
{
	int rc = bcast_broadcast(&l->beb, e->msg->data + e->off, e->len);
	if (rc)
		strata_trace(l->m.node, "lrb", "relay of %u/%llu failed (%s) -> lost", e->origin,
			     (unsigned long long)e->seq, strata_strerror(rc));
}

/* upon event <beb, Deliver | p, [DATA, s, m]> do
 *     if m not in delivered: delivered := delivered ∪ {m}; trigger <rb, Deliver | s, m>;
 *                            from[p] := from[p] ∪ {(s, m)};
 *                            if p ∉ correct: trigger <beb, Broadcast | [DATA, s, m]> */
static void lrb_beb_deliver(struct lrb *l, const struct strata_event *ev)
{
	struct strata_node *n = l->m.node;
	uint32_t self = strata_node_id(n);
	const struct strata_deliver *d = ev->body;
	struct bc_hdr h;
	const uint8_t *p;
	size_t len;
	if (bc_parse_data_bytes(d->data, d->len, strata_node_n(n), d->len, &h, &p, &len) != 0) {
		strata_node_bad_payload(n, &l->m, d->origin, "lrb: malformed DATA");
		return;
	}
	struct bc_origin *o = &l->org[h.origin];
	if (bc_origin_admit(o, h.inc) == BC_STALE || bc_win_has(&o->win, h.seq))
		return;
	bc_win_add(&o->win, h.seq);
	bc_acks_set_own(&l->acks, self, h.origin, h.inc, o->win.low);
	bc_out_deliver_msg(&l->m, ev->msg, h.origin, h.inc, h.seq, p, len);
	struct lrb_entry e = { h.origin, h.inc, h.seq, ev->msg,
			       (size_t)(d->data - ev->msg->data), d->len };
	if (l->acks.crashed[h.origin]) {
		strata_trace(n, "lrb", "delivered %u/%llu of crashed origin -> relay", h.origin,
			     (unsigned long long)h.seq);
		lrb_relay(l, &e);
	}
	if (l->nstore < LRB_STORE_CAP) {
		e.msg = strata_msg_ref(ev->msg);
		l->store[l->nstore++] = e;
	} else {
		strata_trace(n, "lrb", "store full -> %u/%llu not kept for relaying", h.origin,
			     (unsigned long long)h.seq);
	}
}

static void lrb_crash(struct lrb *l, uint32_t p)
{
	if (p < 1 || p > strata_node_n(l->m.node) || l->acks.crashed[p])
		return;
	l->acks.crashed[p] = true;
	size_t relayed = 0;
	/* upon event <P, Crash | p> do forall (s, m) ∈ from[p]: trigger <beb, Broadcast | [DATA, s, m]> */
	for (size_t i = 0; i < l->nstore; i++)
		if (l->store[i].origin == p) {
			lrb_relay(l, &l->store[i]);
			relayed++;
		}
	strata_trace(l->m.node, "lrb", "crash of %u detected -> relayed %zu messages", p, relayed);
	lrb_gc(l);
}

static void lrb_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct lrb *l = (struct lrb *)m;
	struct strata_node *n = m->node;
	if (bcast_is_deliver(&l->beb, ev)) {
		lrb_beb_deliver(l, ev);
		return;
	}
	switch (ev->type) {
	case STRATA_EV_INIT:
		strata_timer_arm_in(n, &l->tick, (uint64_t)strata_node_config(n)->heartbeat_ms * 1000);
		break;
	case STRATA_EV_TIMER:
		bc_acks_tick(&l->acks, m, l->nstore > 0);
		lrb_gc(l);
		strata_timer_arm_in(n, &l->tick, (uint64_t)strata_node_config(n)->heartbeat_ms * 1000);
		break;
	case STRATA_EV_CRASH:
		lrb_crash(l, ev->peer);
		break;
	case STRATA_EV_PL_DELIVER:
	case STRATA_EV_FLL_DELIVER: {
		if (!ev->msg)
			break;
		struct strata_rd r;
		strata_rd_init(&r, ev->msg->data, ev->msg->len);
		uint8_t type = strata_rd_u8(&r);
		if (type == BC_ACKS && ev->type == STRATA_EV_FLL_DELIVER) {
			if (bc_acks_recv(&l->acks, ev->peer, &r) != 0)
				strata_node_bad_payload(n, m, ev->peer, "lrb: malformed ACKS");
		} else
			strata_node_bad_payload(n, m, ev->peer, "lrb: unknown message");
		break;
	}
	default:
		break;
	}
}

static int lrb_request(struct strata_module *m, const struct strata_request *req)
{
	struct lrb *l = (struct lrb *)m;
	int rc = bc_check_request(req, bc_pl_payload_max(m->node, BC_HDR_MAX));
	if (rc)
		return rc;
	if (l->nstore >= LRB_STORE_CAP)
		return STRATA_EFULL;
	/* upon event <rb, Broadcast | m> do trigger <beb, Broadcast | [DATA, self, m]> */
	struct strata_node *n = m->node;
	struct bc_hdr h = { BC_DATA, strata_node_id(n), strata_node_incarnation(n), l->lsn + 1 };
	struct strata_wr w;
	rc = bc_encode_data_into(&w, &h, req->value, req->value_len);
	if (rc == 0)
		rc = bcast_broadcast(&l->beb, w.buf, w.len);
	strata_wr_free(&w);
	if (rc)
		return rc;
	l->lsn++;
	bc_out_bcast(m, l->lsn, req->value, req->value_len, NULL, 0);
	strata_node_reply(n, m, req->id, 0, 0, NULL, 0, NULL);
	return 0;
}

static void lrb_destroy(struct strata_module *m)
{
	struct lrb *l = (struct lrb *)m;
	strata_timer_disarm(m->node, &l->tick);
	for (size_t i = 0; i < l->nstore; i++)
		strata_msg_unref(l->store[i].msg);
	free(l->store);
	bc_acks_free(&l->acks);
	free(l->org);
	free(l);
}

static const struct strata_module_ops lrb_ops = {
	.name = "lrb", .handle = lrb_handle, .request = lrb_request, .destroy = lrb_destroy,
};

struct strata_module *bc_lrb_create(struct strata_node *n, char *err, size_t errlen)
{
	uint32_t nn = strata_node_n(n);
	struct lrb *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->org = calloc(nn + 1, sizeof(*l->org));
	l->store = calloc(LRB_STORE_CAP, sizeof(*l->store));
	if (!l->org || !l->store || bc_acks_init(&l->acks, nn) != 0) {
		free(l->org);
		free(l->store);
		free(l);
		return NULL;
	}
	strata_node_add_module(n, &l->m, &lrb_ops, strata_wire_id("lrb"));
	strata_timer_init(&l->tick, &l->m, 1, 0);
	if (bc_need_fd(&l->m, "lrb", err, errlen) != 0)
		return NULL; /* the node owns (and frees) the module */
	/* uses BestEffortBroadcast, instance beb */
	if (bcast_open(n, "beb", &l->m, 0, &l->beb, err, errlen) != 0)
		return NULL;
	return &l->m;
}
