/* Causal-order reliable broadcast, book Alg. 3.13 "No-Waiting Causal Broadcast" with Alg. 3.14
 * "Garbage-Collection of Causal Past" (module ncb).
 *
 * Specification (Module 3.9, causal-order (regular) reliable broadcast): RB1 validity, RB2 no
 * duplication, RB3 no creation, RB4 agreement (Module 3.2), and
 *   CRB5 Causal delivery: for any message m1 that potentially caused a message m2 (m1 -> m2),
 *        no process delivers m2 unless it has already delivered m1.
 * Model: fail-stop (Alg. 3.14's garbage collection needs the perfect failure detector P).
 * Uses: ReliableBroadcast, instance rb (erb, Alg. 3.3: ncb's own erb instance, bcast/bcast.h);
 * PerfectFailureDetector, instance P; fair-loss links for the acknowledgements.
 * Resilience: any f.
 * Cost: as eager RB (1 step, O(N^2) messages) plus the causal past carried by every message,
 * plus the garbage-collection acknowledgements (watermarks every heartbeat period, N-1 per
 * process).
 *
 * No waiting: every message carries `past`, the ordered list of messages this process has
 * delivered (or broadcast) that are not yet known to be delivered everywhere; a receiver
 * delivers the past's missing messages, in list order, before the message itself.
 *
 * Bounded implementation. Causal delivery implies per-origin FIFO, so the delivered set is a
 * per-origin watermark dlv[s]. Alg. 3.14's acknowledgements are the delivered watermarks of
 * common.h's bc_acks: an entry leaves `past` once every process not detected as crashed has
 * delivered it. A local broadcast whose message (past included) would exceed cfg->max_value is
 * refused with STRATA_EFULL until garbage collection shrinks the past (back-pressure: while a
 * partition stops the acknowledgements, broadcasts stall instead of growing without bound).
 * The rb message is [past][m]: rb names the message's origin, incarnation and seq; each past
 * entry names its own. rb delivers every message once, also one already delivered here through
 * another message's past (then only its past can still matter).
 * Restart: a restarted origin is a new process (new incarnation): dlv[s] restarts at 0 and its
 * past entries are dropped (see wcb.c for what that means outside the crash-stop model). */
#include <stdlib.h>
#include <string.h>

#include "bcast/bcast.h"
#include "bcast/common.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/stack.h"

#define NCB_PAST_MAX_ENTRIES 65536u

struct ncb_past {
	uint32_t origin;
	uint64_t inc, seq;
	struct strata_msg *payload;
};

struct ncb {
	struct strata_module m;
	struct bcast_lower rb;
	uint64_t lsn;
	struct bc_origin *org; /* [n+1]: incarnations */
	uint64_t *dlv;         /* [n+1]: delivered watermark per origin */
	struct ncb_past *past;
	size_t npast, cap;
	size_t past_bytes;
	struct bc_acks acks;
	struct strata_timer tick;
};

static int past_append(struct ncb *c, uint32_t origin, uint64_t inc, uint64_t seq,
		       const uint8_t *p, size_t len)
{
	if (c->npast == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 64;
		if (ncap > NCB_PAST_MAX_ENTRIES)
			return STRATA_EFULL;
		struct ncb_past *np = realloc(c->past, ncap * sizeof(*np));
		if (!np)
			return STRATA_ENOMEM;
		c->past = np;
		c->cap = ncap;
	}
	struct strata_msg *pl = strata_msg_new(p, len);
	if (!pl)
		return STRATA_ENOMEM;
	c->past[c->npast++] = (struct ncb_past){ origin, inc, seq, pl };
	c->past_bytes += len + 24;
	return 0;
}

static void ncb_gc(struct ncb *c)
{
	size_t k = 0;
	for (size_t i = 0; i < c->npast; i++) {
		struct ncb_past *e = &c->past[i];
		if (bc_acks_stable(&c->acks, e->origin, e->inc, e->seq)) {
			c->past_bytes -= e->payload->len + 24;
			strata_msg_unref(e->payload);
		} else {
			c->past[k++] = *e;
		}
	}
	c->npast = k;
}

/* Delivers (s, inc, seq) if it is the next one of s; appends it to past unless it is ours
 * (own messages enter past when broadcast). */
static void ncb_deliver(struct ncb *c, uint32_t s, uint64_t inc, uint64_t seq, const uint8_t *p,
			size_t len)
{
	struct strata_node *n = c->m.node;
	enum bc_admit a = bc_origin_admit(&c->org[s], inc);
	if (a == BC_STALE)
		return;
	if (a == BC_NEWINC) {
		c->dlv[s] = 0;
		size_t k = 0;
		for (size_t i = 0; i < c->npast; i++) {
			if (c->past[i].origin == s) {
				c->past_bytes -= c->past[i].payload->len + 24;
				strata_msg_unref(c->past[i].payload);
			} else {
				c->past[k++] = c->past[i];
			}
		}
		c->npast = k;
	}
	if (seq <= c->dlv[s])
		return;
	if (seq != c->dlv[s] + 1) {
		/* Cannot happen in the model: a gap would mean a past entry was collected before
		 * this (live) process delivered it. */
		strata_trace(n, "ncb", "gap before %u/%llu (have %llu) -> not delivered", s,
			     (unsigned long long)seq, (unsigned long long)c->dlv[s]);
		return;
	}
	c->dlv[s] = seq;
	bc_acks_set_own(&c->acks, strata_node_id(n), s, inc, seq);
	bc_out_deliver(&c->m, s, inc, seq, p, len, NULL, 0);
	if (s != strata_node_id(n) && past_append(c, s, inc, seq, p, len) != 0)
		strata_trace(n, "ncb", "past full -> %u/%llu not carried", s, (unsigned long long)seq);
}

/* upon event <rb, Deliver | p, [DATA, mpast, m]> do
 *     if m ∉ delivered:
 *         forall (s, n) ∈ mpast do (in list order)
 *             if n ∉ delivered: trigger <crb, Deliver | s, n>; delivered ∪= {n}; past += (s, n)
 *         trigger <crb, Deliver | p, m>; delivered ∪= {m}; past += (p, m) */
static void ncb_rb_deliver(struct ncb *c, const struct strata_event *ev)
{
	struct strata_node *n = c->m.node;
	uint32_t nn = strata_node_n(n);
	size_t maxv = strata_node_config(n)->max_value;
	const struct strata_deliver *d = ev->body;
	struct strata_rd r;
	strata_rd_init(&r, d->data, d->len);
	uint64_t np = strata_rd_u64_max(&r, NCB_PAST_MAX_ENTRIES);
	size_t past_off = r.off;
	/* First pass validates the whole message before anything is delivered. */
	for (uint64_t i = 0; i < np && strata_rd_ok(&r); i++) {
		struct bc_hdr e;
		bc_rd_hdr(&r, &e, nn);
		const uint8_t *p;
		(void)strata_rd_bytes(&r, &p, maxv);
	}
	const uint8_t *payload = NULL;
	size_t len = strata_rd_bytes(&r, &payload, maxv);
	if (strata_rd_done(&r) != 0 || d->origin < 1 || d->origin > nn) {
		strata_node_bad_payload(n, &c->m, d->origin, "ncb: malformed DATA");
		return;
	}
	if (d->inc < c->org[d->origin].inc ||
	    (d->inc == c->org[d->origin].inc && d->seq <= c->dlv[d->origin]))
		return; /* already delivered (directly or through a past) */
	struct strata_rd pr;
	strata_rd_init(&pr, d->data, d->len);
	pr.off = past_off;
	for (uint64_t i = 0; i < np; i++) {
		struct bc_hdr e;
		bc_rd_hdr(&pr, &e, nn);
		const uint8_t *p;
		size_t plen = strata_rd_bytes(&pr, &p, maxv);
		ncb_deliver(c, e.origin, e.inc, e.seq, p, plen);
	}
	ncb_deliver(c, d->origin, d->inc, d->seq, payload, len);
}

static void ncb_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct ncb *c = (struct ncb *)m;
	struct strata_node *n = m->node;
	if (bcast_is_deliver(&c->rb, ev)) {
		ncb_rb_deliver(c, ev);
		return;
	}
	switch (ev->type) {
	case STRATA_EV_INIT:
		strata_timer_arm_in(n, &c->tick, (uint64_t)strata_node_config(n)->heartbeat_ms * 1000);
		break;
	case STRATA_EV_TIMER:
		bc_acks_tick(&c->acks, m, c->npast > 0);
		ncb_gc(c);
		strata_timer_arm_in(n, &c->tick, (uint64_t)strata_node_config(n)->heartbeat_ms * 1000);
		break;
	case STRATA_EV_CRASH:
		if (ev->peer >= 1 && ev->peer <= strata_node_n(n)) {
			c->acks.crashed[ev->peer] = true;
			ncb_gc(c);
		}
		break;
	case STRATA_EV_PL_DELIVER:
	case STRATA_EV_FLL_DELIVER: {
		if (!ev->msg)
			break;
		struct strata_rd r;
		strata_rd_init(&r, ev->msg->data, ev->msg->len);
		uint8_t type = strata_rd_u8(&r);
		if (type == BC_ACKS && ev->type == STRATA_EV_FLL_DELIVER) {
			if (bc_acks_recv(&c->acks, ev->peer, &r) != 0)
				strata_node_bad_payload(n, m, ev->peer, "ncb: malformed ACKS");
			else
				ncb_gc(c);
		} else
			strata_node_bad_payload(n, m, ev->peer, "ncb: unknown message");
		break;
	}
	default:
		break;
	}
}

/* upon event <crb, Broadcast | m> do
 *     trigger <rb, Broadcast | [DATA, past, m]>; past := past + (self, m) */
static int ncb_request(struct strata_module *m, const struct strata_request *req)
{
	struct ncb *c = (struct ncb *)m;
	struct strata_node *n = m->node;
	size_t max = bcast_payload_max(&c->rb);
	int rc = bc_check_request(req, max > 10 ? max - 10 : 0);
	if (rc)
		return rc;
	struct bc_hdr h = { BC_DATA, strata_node_id(n), strata_node_incarnation(n), c->lsn + 1 };
	struct strata_wr w;
	strata_wr_init(&w, max);
	strata_wr_u64(&w, c->npast);
	for (size_t i = 0; i < c->npast; i++) {
		struct ncb_past *e = &c->past[i];
		strata_wr_u64(&w, e->origin);
		strata_wr_u64(&w, e->inc);
		strata_wr_u64(&w, e->seq);
		strata_wr_bytes(&w, e->payload->data, e->payload->len);
	}
	strata_wr_bytes(&w, req->value, req->value_len);
	if (w.err) {
		rc = w.err == STRATA_ETOOBIG ? STRATA_EFULL : w.err;
		strata_wr_free(&w);
		return rc;
	}
	/* Our own message enters past now, so our next broadcast carries it even before we
	 * deliver it ourselves. rb numbers this instance's messages 1, 2, ... as we do. */
	rc = past_append(c, h.origin, h.inc, h.seq, req->value, req->value_len);
	if (rc == 0) {
		rc = bcast_broadcast(&c->rb, w.buf, w.len);
		if (rc) {
			c->npast--;
			c->past_bytes -= c->past[c->npast].payload->len + 24;
			strata_msg_unref(c->past[c->npast].payload);
		}
	}
	strata_wr_free(&w);
	if (rc)
		return rc == STRATA_ETOOBIG ? STRATA_EFULL : rc;
	c->lsn++;
	bc_out_bcast(m, c->lsn, req->value, req->value_len, NULL, 0);
	strata_node_reply(n, m, req->id, 0, 0, NULL, 0, NULL);
	return 0;
}

static void ncb_destroy(struct strata_module *m)
{
	struct ncb *c = (struct ncb *)m;
	strata_timer_disarm(m->node, &c->tick);
	for (size_t i = 0; i < c->npast; i++)
		strata_msg_unref(c->past[i].payload);
	free(c->past);
	bc_acks_free(&c->acks);
	free(c->dlv);
	free(c->org);
	free(c);
}

static const struct strata_module_ops ncb_ops = {
	.name = "ncb", .handle = ncb_handle, .request = ncb_request, .destroy = ncb_destroy,
};

struct strata_module *bc_ncb_create(struct strata_node *n, char *err, size_t errlen)
{
	uint32_t nn = strata_node_n(n);
	struct ncb *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->org = calloc(nn + 1, sizeof(*c->org));
	c->dlv = calloc(nn + 1, sizeof(*c->dlv));
	if (!c->org || !c->dlv || bc_acks_init(&c->acks, nn) != 0) {
		free(c->org);
		free(c->dlv);
		free(c);
		return NULL;
	}
	strata_node_add_module(n, &c->m, &ncb_ops, strata_wire_id("ncb"));
	strata_timer_init(&c->tick, &c->m, 1, 0);
	if (bc_need_fd(&c->m, "ncb", err, errlen) != 0)
		return NULL; /* the node owns (and frees) the module */
	/* uses ReliableBroadcast, instance rb */
	if (bcast_open(n, "erb", &c->m, 0, &c->rb, err, errlen) != 0)
		return NULL;
	return &c->m;
}
