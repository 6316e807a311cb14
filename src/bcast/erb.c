/* Regular reliable broadcast, book Alg. 3.3 "Eager Reliable Broadcast" (module erb).
 *
 * Specification (Module 3.2, regular reliable broadcast):
 *   RB1 Validity: if a correct process broadcasts m, every correct process eventually delivers m.
 *   RB2 No duplication: no message is delivered more than once.
 *   RB3 No creation: if a process delivers m with sender s, then m was previously broadcast by s.
 *   RB4 Agreement: if a message m is delivered by some correct process, then m is eventually
 *       delivered by every correct process.
 * Model: fail-silent, over perfect links. Resilience: any f.
 * Cost: 1 step (the first delivery), O(N^2) messages: every process relays every message once.
 *
 * Bounded implementation: the book's `delivered` set is a delivered window per origin
 * (common.h). A relay goes to everyone except self, the origin and the process it came from,
 * which already have m; the origin itself does not relay its own broadcast (it sent it to all).
 * Restart: a restarted origin is a new process (new incarnation, seq from 1). */
#include <stdlib.h>

#include "bcast/common.h"
#include "core/assert.h"
#include "core/error.h"
#include "links/links.h"

struct erb {
	struct strata_module m;
	uint64_t lsn;
	struct bc_origin *org; /* [n+1] */
};

static void erb_recv(struct erb *e, const struct strata_event *ev)
{
	struct strata_node *n = e->m.node;
	struct bc_hdr h;
	const uint8_t *p;
	size_t len;
	if (bc_parse_data(ev->msg, strata_node_n(n), strata_node_config(n)->max_value, &h, &p,
			  &len) != 0) {
		strata_node_bad_payload(n, &e->m, ev->peer, "erb: malformed DATA");
		return;
	}
	struct bc_origin *o = &e->org[h.origin];
	if (bc_origin_admit(o, h.inc) == BC_STALE || bc_win_has(&o->win, h.seq))
		return;
	if (bc_win_add(&o->win, h.seq))
		strata_trace(n, "erb", "window of origin %u slid -> holes given up", h.origin);
	bc_out_deliver(&e->m, h.origin, h.inc, h.seq, p, len, NULL, 0);
	if (h.origin != strata_node_id(n))
		bc_pl_relay(&e->m, ev->msg, h.origin, ev->peer);
}

static void erb_handle(struct strata_module *m, const struct strata_event *ev)
{
	if (ev->type == STRATA_EV_PL_DELIVER && ev->msg)
		erb_recv((struct erb *)m, ev);
}

static int erb_request(struct strata_module *m, const struct strata_request *req)
{
	struct erb *e = (struct erb *)m;
	int rc = bc_check_request(req, bc_pl_payload_max(m->node, 0));
	if (rc)
		return rc;
	return bc_pl_broadcast(m, &e->lsn, req);
}

static void erb_destroy(struct strata_module *m)
{
	struct erb *e = (struct erb *)m;
	free(e->org);
	free(e);
}

static const struct strata_module_ops erb_ops = {
	.name = "erb", .handle = erb_handle, .request = erb_request, .destroy = erb_destroy,
};

struct strata_module *bc_erb_create(struct strata_node *n, char *err, size_t errlen)
{
	struct erb *e = calloc(1, sizeof(*e));
	if (e)
		e->org = calloc(strata_node_n(n) + 1, sizeof(*e->org));
	if (!e || !e->org) {
		free(e);
		return NULL;
	}
	strata_node_add_module(n, &e->m, &erb_ops, BC_WIRE_ERB);
	return &e->m;
}
