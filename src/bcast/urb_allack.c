/* Uniform reliable broadcast, book Alg. 3.4 "All-Ack Uniform Reliable Broadcast" (module
 * urb_allack).
 *
 * Specification (Module 3.3, uniform reliable broadcast):
 *   URB1 Validity: if a correct process broadcasts m, every correct process eventually
 *        delivers m.
 *   URB2 No duplication: no message is delivered more than once.
 *   URB3 No creation: if a process delivers m with sender s, then m was previously broadcast
 *        by s.
 *   URB4 Uniform agreement: if a message m is delivered by some process (correct or faulty),
 *        then m is eventually delivered by every correct process.
 * Model: fail-stop: perfect links and the perfect failure detector P. Resilience: any f.
 * Cost: 2 steps, O(N^2) messages per broadcast; a process delivers m once every process it
 * has not detected as crashed has relayed m (candeliver(m) = correct is a subset of ack[m]).
 *
 * Bounded implementation: as urb.c (pending table of at most URB_PENDING_CAP messages, each
 * freed at delivery; ack sets and the crashed set are bitmasks, n <= 64). A detected crash
 * re-evaluates every pending message.
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
	uint64_t crashed; /* bitmask, from P */
	uint64_t lsn;
	struct bc_origin *org; /* [n+1] */
	struct bc_ptab pending;
};

static void urb_try_deliver(struct urb *u, struct bc_pend *e)
{
	uint32_t n = strata_node_n(u->m.node);
	if (((e->ack | u->crashed) & bc_all(n)) != bc_all(n))
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
		strata_node_bad_payload(n, &u->m, ev->peer, "urb_allack: malformed DATA");
		return;
	}
	struct bc_pend *e = NULL;
	switch (bc_ptab_admit(&u->pending, &u->org[h.origin], &h, ev->msg, &e)) {
	case BC_PEND_DONE:
		return;
	case BC_PEND_FULL:
		strata_trace(n, "urb_allack", "pending full -> %u/%llu dropped", h.origin,
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

static void urb_crash(struct urb *u, uint32_t p)
{
	if (p < 1 || p > strata_node_n(u->m.node) || (u->crashed & bc_bit(p)))
		return;
	u->crashed |= bc_bit(p);
	strata_trace(u->m.node, "urb_allack", "crash of %u detected -> re-check %zu pending", p,
		     u->pending.len);
	/* Delivering removes entries (swap with the last): walk backwards. */
	for (size_t i = u->pending.len; i-- > 0;)
		urb_try_deliver(u, &u->pending.e[i]);
}

static void urb_handle(struct strata_module *m, const struct strata_event *ev)
{
	if (ev->type == STRATA_EV_PL_DELIVER && ev->msg)
		urb_recv((struct urb *)m, ev);
	else if (ev->type == STRATA_EV_CRASH)
		urb_crash((struct urb *)m, ev->peer);
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
	.name = "urb_allack", .handle = urb_handle, .request = urb_request, .destroy = urb_destroy,
};

struct strata_module *bc_urb_allack_create(struct strata_node *n, char *err, size_t errlen)
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
	strata_node_add_module(n, &u->m, &urb_ops, BC_WIRE_URB_ALLACK);
	if (bc_need_fd(&u->m, "urb_allack", err, errlen) != 0)
		return NULL; /* the node owns (and frees) the module */
	return &u->m;
}
