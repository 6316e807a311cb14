/* Stubborn best-effort broadcast, book Alg. 3.6 "Basic Stubborn Broadcast" (module sbeb).
 *
 * Specification (Module 3.10, stubborn best-effort broadcast):
 *   SBEB1 Best-effort validity: if a process that never crashes broadcasts m, every correct
 *         process delivers m an infinite number of times.
 *   SBEB2 No creation: if a process delivers m with sender s, then m was previously broadcast
 *         by s.
 * (No duplication is not a property: every retransmission is delivered.)
 * Model: fail-recovery, over stubborn links. Resilience: any f.
 * Cost: 1 step, N messages per broadcast, then N per retransmission period (heartbeat_ms) for
 * as long as the stubborn links keep the message.
 *
 * Bounded implementation: "infinitely often" is "once per retransmission period for as long as
 * the message stays in the stubborn link's ring" (STRATA_SL_CAP messages per peer, the oldest
 * evicted, links.h). The ring is volatile: a broadcast by a process that then crashes may stop
 * being retransmitted, which the property allows (it only covers processes that never crash).
 * Restart: seq is kept on stable storage ("sbeb/lsn", persisted before the message leaves), so
 * (sender, seq) names one message for the node's whole life. A recovering node sends a HELLO
 * so that peers learn its new incarnation (the link layer drops datagrams addressed to an
 * earlier one until then). Payloads are limited to one datagram's frame. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bcast/common.h"
#include "core/assert.h"
#include "core/error.h"
#include "links/links.h"

struct sbeb {
	struct strata_module m;
	uint64_t lsn;
};

static void sbeb_init(struct sbeb *b, bool recovering)
{
	struct strata_node *n = b->m.node;
	if (!recovering)
		return;
	(void)bc_retrieve_u64(n, "sbeb/lsn", &b->lsn);
	bc_sl_hello(&b->m);
}

static void sbeb_recv(struct sbeb *b, const struct strata_event *ev)
{
	struct strata_node *n = b->m.node;
	if (bc_is_hello(ev->msg))
		return;
	struct bc_hdr h;
	const uint8_t *p;
	size_t len;
	if (bc_parse_data(ev->msg, strata_node_n(n), ev->msg->len, &h, &p, &len) != 0 ||
	    h.origin != ev->peer) {
		strata_node_bad_payload(n, &b->m, ev->peer, "sbeb: malformed DATA");
		return;
	}
	bc_out_deliver(&b->m, h.origin, 0, h.seq, p, len, NULL, 0);
}

static void sbeb_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct sbeb *b = (struct sbeb *)m;
	if (ev->type == STRATA_EV_INIT)
		sbeb_init(b, ev->arg == 1);
	else if (ev->type == STRATA_EV_SL_DELIVER && ev->msg)
		sbeb_recv(b, ev);
}

static int sbeb_request(struct strata_module *m, const struct strata_request *req)
{
	struct sbeb *b = (struct sbeb *)m;
	struct strata_node *n = m->node;
	int rc = bc_check_request(req, bc_fll_payload_max(n, 0));
	if (rc)
		return rc;
	return bc_sl_broadcast(m, &b->lsn, "sbeb/lsn", req);
}

static void sbeb_destroy(struct strata_module *m)
{
	free(m);
}

static const struct strata_module_ops sbeb_ops = {
	.name = "sbeb", .handle = sbeb_handle, .request = sbeb_request, .destroy = sbeb_destroy,
};

struct strata_module *bc_sbeb_create(struct strata_node *n, char *err, size_t errlen)
{
	struct sbeb *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	strata_node_add_module(n, &b->m, &sbeb_ops, BC_WIRE_SBEB);
	return &b->m;
}
