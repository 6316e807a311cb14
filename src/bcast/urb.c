/* Uniform reliable broadcast, book Alg. 3.5 "Majority-Ack Uniform Reliable Broadcast" (module urb).
 *
 * Specification (Module 3.3, uniform reliable broadcast):
 *   URB1 Validity: if a correct process broadcasts m, every correct process eventually
 *        delivers m.
 *   URB2 No duplication: no message is delivered more than once.
 *   URB3 No creation: if a process delivers m with sender s, then m was previously broadcast
 *        by s.
 *   URB4 Uniform agreement: if a message m is delivered by some process (correct or faulty),
 *        then m is eventually delivered by every correct process.
 * Model: fail-silent, over perfect links. Resilience: N > 2f (a majority is correct).
 * Cost: 2 steps, O(N^2) messages per broadcast (every process relays once; the relay is the
 * acknowledgement).
 *
 * Bounded implementation. pending and ack[m] live in a table of at most URB_PENDING_CAP
 * messages; an entry is freed as soon as its message is delivered (later copies are recognised
 * by the delivered window and ignored), so the table only holds messages in flight. The ack
 * set is a bitmask (n <= 64). A local broadcast is refused with STRATA_EFULL when the table is
 * full; a relayed message that does not fit is dropped and traced (liveness then depends on
 * the table draining, which it does while a majority is reachable).
 * Restart: a restarted origin is a new process (new incarnation, seq from 1); its older
 * pending messages are dropped. */
#include <stdlib.h>

#include "bcast/common.h"
#include "core/assert.h"
#include "core/error.h"
#include "links/links.h"

#define URB_PENDING_CAP 4096

struct urb {
	struct strata_module m;
	uint64_t lsn;
	struct bc_origin *org; /* [n+1] */
	struct bc_ptab pending;
};

static void urb_try_deliver(struct urb *u, struct bc_pend *e)
{
	uint32_t n = strata_node_n(u->m.node);
	if ((uint32_t)__builtin_popcountll(e->ack) * 2 <= n)
		return;
	bc_ptab_deliver(&u->m, &u->pending, e, &u->org[e->origin].win);
}

static void urb_recv(struct urb *u, const struct strata_event *ev)
{
	struct strata_node *n = u->m.node;
	uint32_t self = strata_node_id(n);
	struct bc_hdr h;
	const uint8_t *p;
	size_t len;
	if (bc_parse_data(ev->msg, strata_node_n(n), strata_node_config(n)->max_value, &h, &p,
			  &len) != 0) {
		strata_node_bad_payload(n, &u->m, ev->peer, "urb: malformed DATA");
		return;
	}
	struct bc_pend *e = NULL;
	switch (bc_ptab_admit(&u->pending, &u->org[h.origin], &h, ev->msg, &e)) {
	case BC_PEND_DONE:
		return;
	case BC_PEND_FULL:
		strata_trace(n, "urb", "pending full -> %u/%llu dropped", h.origin,
			     (unsigned long long)h.seq);
		return;
	case BC_PEND_FIRST:
		e->ack |= bc_bit(self);
		/* Our relay is our acknowledgement: everyone but us needs it. The origin's own
		 * broadcast already went to all. */
		if (!(h.origin == self && ev->peer == self))
			bc_pl_relay(&u->m, ev->msg, 0, 0);
		break;
	case BC_PEND_AGAIN:
		break;
	}
	e->ack |= bc_bit(ev->peer);
	urb_try_deliver(u, e);
}

static void urb_handle(struct strata_module *m, const struct strata_event *ev)
{
	if (ev->type == STRATA_EV_PL_DELIVER && ev->msg)
		urb_recv((struct urb *)m, ev);
}

static int urb_request(struct strata_module *m, const struct strata_request *req)
{
	struct urb *u = (struct urb *)m;
	int rc = bc_check_request(req, bc_pl_payload_max(m->node, 0));
	if (rc)
		return rc;
	if (u->pending.len >= u->pending.cap)
		return STRATA_EFULL;
	return bc_pl_broadcast(m, &u->lsn, req);
}

static void urb_destroy(struct strata_module *m)
{
	struct urb *u = (struct urb *)m;
	bc_ptab_free(&u->pending);
	free(u->org);
	free(u);
}

static const struct strata_module_ops urb_ops = {
	.name = "urb", .handle = urb_handle, .request = urb_request, .destroy = urb_destroy,
};

struct strata_module *bc_urb_create(struct strata_node *n, char *err, size_t errlen)
{
	struct urb *u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->org = calloc(strata_node_n(n) + 1, sizeof(*u->org));
	if (!u->org || bc_ptab_init(&u->pending, URB_PENDING_CAP) != 0) {
		free(u->org);
		free(u);
		return NULL;
	}
	strata_node_add_module(n, &u->m, &urb_ops, BC_WIRE_URB);
	return &u->m;
}
