/* Probabilistic broadcast, book Alg. 3.10-3.11 "Lazy Probabilistic Broadcast" (module lpb).
 *
 * Specification (Module 3.7, probabilistic broadcast): PB1 probabilistic validity, PB2 no
 * duplication, PB3 no creation (see epb.c). Deliveries of one sender are in increasing sequence
 * order: a gap is repaired from other processes' stores or, after a timeout, skipped.
 * Model: randomized (crash-stop, fair-loss links, a random source). Resilience: any f.
 * Cost: dissemination as epb (at most R steps, k + ... + k^R messages); each detected gap adds
 * k requests per missing message, forwarded for up to R-1 hops, plus one reply per store hit.
 *
 * Stacked as the book draws it: "uses FairLossPointToPointLinks, instance fll;
 * ProbabilisticBroadcast, instance upb". Part 1 (Alg. 3.10), data dissemination: lpb broadcasts
 * m on its own instance of epb (the unreliable gossip, fanout k = [bcast] fanout, R = [bcast]
 * rounds; epb.c), whose (sender, incarnation, seq) of that instance are the book's (s, sn): the
 * instance numbers only lpb's broadcasts. Upon an upb Deliver a process keeps a copy for
 * retransmission with probability [bcast] store_probability_pct / 100 (the book's alpha; the
 * sender always keeps its own). Part 2 (Alg. 3.11), recovery: a message beyond next[s] waits in pending and
 * every missing seq is requested from k random processes over fll; a request is answered (a
 * DATA over fll to the requester) by whoever stored the message, else forwarded with one hop
 * less. A DATA that comes back over fll is taken as an upb delivery. After LPB gap timeout (the [fd]
 * timeout_ms) the gap is given up: next[s] jumps to the lowest pending message.
 * Parameters are read from the config when the module is created (defaults k = 3, R = 4,
 * 50 %); requests claiming more than R rounds are malformed.
 *
 * Bounded implementation: the store is a ring of LPB_STORE_CAP messages (oldest evicted),
 * pending an instance table of the core (bc_ptab over core/itab) of LPB_PENDING_CAP messages
 * (a message arriving when it is full is dropped: the gap repair brings it again or skips it),
 * retired when delivered in order or when its origin's newer incarnation replaces the older one;
 * the delivered set is next[s]. A message's arrival requests at most LPB_REPAIR_MAX missing
 * messages, the nearest to next[s]: the book requests every one in [next[s], sn - 1], which
 * for an sn far ahead (a peer's bogus 2^60) looped for ever, gossiping requests until memory
 * ran out (found by fuzz_module); a longer gap's rest is requested by later arrivals as the
 * gap closes, or skipped at the timeout like any unrepaired message.
 * Restart: a restarted origin is a new process (new incarnation, next = 1 again). Payloads are
 * limited to one datagram's frame. */
#include <stdio.h>
#include <stdlib.h>

#include "bcast/bcast.h"
#include "bcast/common.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/stack.h"
#include "links/links.h"

#define LPB_STORE_CAP 256
#define LPB_PENDING_CAP 1024
#define LPB_REPAIR_MAX 64 /* requests one arrival may send (each goes to k processes) */

struct lpb_stored {
	uint32_t origin;
	uint64_t inc, seq;
	struct strata_msg *msg; /* [DATA, s, sn, m]: what a repair sends over fll */
};

struct lpb {
	struct strata_module m;
	struct bc_gossip g;
	struct bcast_lower upb;   /* our instance of epb */
	uint64_t lsn;
	struct bc_origin *org;    /* [n+1]: incarnations */
	uint64_t *next;           /* [n+1] */
	struct strata_timer *gap; /* [n+1]: per-origin gap timers (instance = origin) */
	struct bc_ptab pending;
	struct lpb_stored store[LPB_STORE_CAP];
	size_t store_head, store_len;
};

struct lpb_data {
	struct bc_hdr h;
	const uint8_t *p;
	size_t len;
};

/* lpb's own DATA (kept copies, pending messages, repairs over fll): [hdr][payload]. */
static int lpb_parse(const struct strata_node *n, const struct strata_msg *msg, struct lpb_data *d)
{
	return bc_parse_data(msg, strata_node_n(n), msg->len, &d->h, &d->p, &d->len);
}

static void lpb_keep(struct lpb *l, const struct bc_hdr *h, struct strata_msg *msg)
{
	if (l->store_len == LPB_STORE_CAP) {
		strata_msg_unref(l->store[l->store_head].msg);
		l->store_head = (l->store_head + 1) % LPB_STORE_CAP;
		l->store_len--;
	}
	l->store[(l->store_head + l->store_len) % LPB_STORE_CAP] =
		(struct lpb_stored){ h->origin, h->inc, h->seq, strata_msg_ref(msg) };
	l->store_len++;
}

static struct lpb_stored *lpb_stored_find(struct lpb *l, uint32_t s, uint64_t inc, uint64_t seq)
{
	for (size_t i = 0; i < l->store_len; i++) {
		struct lpb_stored *e = &l->store[(l->store_head + i) % LPB_STORE_CAP];
		if (e->origin == s && e->inc == inc && e->seq == seq)
			return e;
	}
	return NULL;
}

static void lpb_send_req(struct lpb *l, uint32_t requester, uint32_t s, uint64_t inc, uint64_t seq,
			 uint64_t rounds)
{
	struct strata_wr w;
	strata_wr_init(&w, BC_HDR_MAX + 20);
	struct bc_hdr h = { BC_REQ, s, inc, seq };
	bc_wr_hdr(&w, &h);
	strata_wr_u64(&w, requester);
	strata_wr_u64(&w, rounds);
	int err = 0;
	struct strata_msg *msg = strata_wr_take_msg(&w, &err);
	if (!msg)
		return;
	bc_fll_gossip(&l->m, 0, msg, l->g.fanout);
	strata_msg_unref(msg);
}

static void lpb_drain(struct lpb *l, uint32_t s)
{
	struct strata_node *n = l->m.node;
	for (;;) {
		struct bc_pend *e = bc_ptab_find(&l->pending, s, l->org[s].inc, l->next[s]);
		if (!e)
			break;
		struct lpb_data d;
		STRATA_ASSERT(lpb_parse(n, e->msg, &d) == 0);
		l->next[s]++;
		bc_out_deliver(&l->m, s, d.h.inc, d.h.seq, d.p, d.len, NULL, 0);
		bc_ptab_del(&l->pending, e);
	}
}

static bool lpb_has_pending(const struct lpb *l, uint32_t s, uint64_t *lowest)
{
	bool any = false;
	const struct bc_pend *e;
	for (size_t it = 0; (e = bc_ptab_next(&l->pending, &it));) {
		if (e->origin == s && (!any || e->seq < *lowest)) {
			*lowest = e->seq;
			any = true;
		}
	}
	return any;
}

static void lpb_gap_timeout(struct lpb *l, uint32_t s)
{
	uint64_t lowest = 0;
	if (!lpb_has_pending(l, s, &lowest))
		return;
	if (lowest > l->next[s]) {
		strata_trace(l->m.node, "lpb", "gap %u/%llu..%llu not repaired in time -> skipped", s,
			     (unsigned long long)l->next[s], (unsigned long long)(lowest - 1));
		l->next[s] = lowest;
	}
	lpb_drain(l, s);
	if (lpb_has_pending(l, s, &lowest))
		strata_timer_arm_in(l->m.node, &l->gap[s],
				    (uint64_t)strata_node_config(l->m.node)->timeout_ms * 1000);
}

/* upon event <upb, Deliver | p, [DATA, s, m, sn]> (and a repair's DATA over fll) do
 *     if random([0, 1]) > alpha then stored := stored U {[DATA, s, m, sn]};
 *     if sn = next[s] then next[s] := next[s] + 1; trigger <pb, Deliver | s, m>; (drain pending)
 *     else if sn > next[s] then pending U= {[DATA, s, m, sn]};
 *         forall missing in [next[s], sn - 1] not pending: gossip([REQUEST, self, s, missing, R-1]);
 *             (the nearest LPB_REPAIR_MAX of them: see the header)
 *         starttimer(delta, s, sn)
 * msg is [DATA, s, sn, m] (h, p, len parsed from it), or NULL to encode it when needed. */
static void lpb_data(struct lpb *l, const struct bc_hdr *h, const uint8_t *p, size_t len,
		     struct strata_msg *msg)
{
	struct strata_node *n = l->m.node;
	uint32_t s = h->origin;
	enum bc_admit a = bc_origin_admit(&l->org[s], h->inc);
	if (a == BC_STALE)
		return;
	if (a == BC_NEWINC) {
		l->next[s] = 1;
		bc_ptab_drop_origin(&l->pending, s);
	}
	if (h->seq < l->next[s] || bc_ptab_find(&l->pending, s, h->inc, h->seq))
		return;
	bool keep = s == strata_node_id(n) || strata_random_below(n, 100) < l->g.store_pct;
	bool in_order = h->seq == l->next[s];
	struct strata_msg *own = NULL;
	if ((keep || !in_order) && !msg) {
		struct bc_hdr d = { BC_DATA, s, h->inc, h->seq };
		own = msg = bc_encode_data(&d, p, len);
		if (!msg && !in_order)
			return; /* out of memory: the gap repair brings it again or skips it */
	}
	if (keep && msg)
		lpb_keep(l, h, msg);
	if (in_order) {
		l->next[s]++;
		bc_out_deliver(&l->m, s, h->inc, h->seq, p, len, NULL, 0);
		lpb_drain(l, s);
	} else if (bc_ptab_add(&l->pending, s, h->inc, h->seq, msg)) {
		unsigned sent = 0;
		for (uint64_t sn = l->next[s]; sn < h->seq && sent < LPB_REPAIR_MAX; sn++)
			if (!bc_ptab_find(&l->pending, s, h->inc, sn)) {
				lpb_send_req(l, strata_node_id(n), s, h->inc, sn, l->g.rounds - 1);
				sent++;
			}
		if (!strata_timer_armed(&l->gap[s]))
			strata_timer_arm_in(n, &l->gap[s],
					    (uint64_t)strata_node_config(n)->timeout_ms * 1000);
	}
	if (own)
		strata_msg_unref(own);
}

static void lpb_recv_repair(struct lpb *l, const struct strata_event *ev)
{
	struct lpb_data d;
	if (lpb_parse(l->m.node, ev->msg, &d) != 0) {
		strata_node_bad_payload(l->m.node, &l->m, ev->peer, "lpb: malformed DATA");
		return;
	}
	lpb_data(l, &d.h, d.p, d.len, ev->msg);
}

static void lpb_recv_req(struct lpb *l, const struct strata_event *ev, struct strata_rd *r)
{
	struct strata_node *n = l->m.node;
	struct bc_hdr h = { .type = BC_REQ };
	bc_rd_hdr(r, &h, strata_node_n(n));
	uint32_t requester = (uint32_t)strata_rd_u64_max(r, strata_node_n(n));
	uint64_t rounds = strata_rd_u64_max(r, l->g.rounds);
	if (strata_rd_done(r) != 0 || requester == 0) {
		strata_node_bad_payload(n, &l->m, ev->peer, "lpb: malformed REQUEST");
		return;
	}
	struct lpb_stored *e = lpb_stored_find(l, h.origin, h.inc, h.seq);
	if (e)
		(void)strata_fll_send(&l->m, requester, 0, e->msg); /* trigger <fll, Send | q, DATA> */
	else if (rounds > 0) {
		lpb_send_req(l, requester, h.origin, h.inc, h.seq, rounds - 1);
	}
}

static void lpb_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct lpb *l = (struct lpb *)m;
	if (ev->type == STRATA_EV_TIMER) {
		if (ev->instance >= 1 && ev->instance <= strata_node_n(m->node))
			lpb_gap_timeout(l, (uint32_t)ev->instance);
		return;
	}
	if (ev->type == STRATA_EV_DELIVER && bcast_is_deliver(&l->upb, ev)) {
		const struct strata_deliver *d = ev->body;
		struct bc_hdr h = { BC_DATA, d->origin, d->inc, d->seq };
		lpb_data(l, &h, d->data, d->len, NULL);
		return;
	}
	if (ev->type != STRATA_EV_FLL_DELIVER || !ev->msg || ev->msg->len == 0)
		return;
	if (ev->msg->data[0] == BC_DATA) {
		lpb_recv_repair(l, ev);
	} else if (ev->msg->data[0] == BC_REQ) {
		struct strata_rd r;
		strata_rd_init(&r, ev->msg->data + 1, ev->msg->len - 1);
		lpb_recv_req(l, ev, &r);
	} else {
		strata_node_bad_payload(m->node, m, ev->peer, "lpb: unknown message");
	}
}

/* upon event <pb, Broadcast | m> do lsn := lsn + 1; trigger <upb, Broadcast | [DATA, self, m, lsn]>
 * (epb delivers it here at once, as it does every own message: lpb_data keeps and delivers it) */
static int lpb_request(struct strata_module *m, const struct strata_request *req)
{
	struct lpb *l = (struct lpb *)m;
	int rc = bc_check_request(req, bcast_payload_max(&l->upb));
	if (rc)
		return rc;
	rc = bcast_broadcast(&l->upb, req->value, req->value_len);
	if (rc)
		return rc;
	l->lsn++; /* our instance of epb numbers our broadcasts only: its seq is this lsn */
	bc_out_bcast(m, l->lsn, req->value, req->value_len, NULL, 0);
	strata_node_reply(m->node, m, req->id, 0, 0, NULL, 0, NULL);
	return 0;
}

static void lpb_destroy(struct strata_module *m)
{
	struct lpb *l = (struct lpb *)m;
	for (uint32_t s = 1; s <= strata_node_n(m->node); s++)
		strata_timer_disarm(m->node, &l->gap[s]);
	for (size_t i = 0; i < l->store_len; i++)
		strata_msg_unref(l->store[(l->store_head + i) % LPB_STORE_CAP].msg);
	bc_ptab_free(&l->pending);
	free(l->gap);
	free(l->next);
	free(l->org);
	free(l);
}

static const struct strata_module_ops lpb_ops = {
	.name = "lpb", .handle = lpb_handle, .request = lpb_request, .destroy = lpb_destroy,
};

struct strata_module *bc_lpb_create(struct strata_node *n, char *err, size_t errlen)
{
	uint32_t nn = strata_node_n(n);
	struct bc_gossip g;
	if (bc_gossip_from_config(n, &g, err, errlen) != 0)
		return NULL;
	struct lpb *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->g = g;
	l->org = calloc(nn + 1, sizeof(*l->org));
	l->next = calloc(nn + 1, sizeof(*l->next));
	l->gap = calloc(nn + 1, sizeof(*l->gap));
	if (!l->org || !l->next || !l->gap ||
	    bc_ptab_init(&l->pending, "lpb pending", LPB_PENDING_CAP) != 0) {
		free(l->org);
		free(l->next);
		free(l->gap);
		free(l);
		return NULL;
	}
	strata_node_add_module(n, &l->m, &lpb_ops, strata_wire_id("lpb"));
	for (uint32_t s = 0; s <= nn; s++) {
		l->next[s] = 1;
		strata_timer_init(&l->gap[s], &l->m, 1, s);
	}
	/* uses ProbabilisticBroadcast, instance upb (the node frees l with the others on failure) */
	if (bcast_open(n, "epb", &l->m, 0, &l->upb, err, errlen) != 0)
		return NULL;
	return &l->m;
}
