/* Best-effort broadcast, book Alg. 3.1 "Basic Broadcast" (module beb).
 *
 * Specification (Module 3.1):
 *   BEB1 Validity: if a correct process broadcasts m, every correct process eventually
 *        delivers m.
 *   BEB2 No duplication: no message is delivered more than once.
 *   BEB3 No creation: if a process delivers m with sender s, then m was previously broadcast
 *        by s.
 * Model: fail-silent (crash-stop, no failure detector), over perfect links. Resilience: any f.
 * Cost: 1 communication step, N messages per broadcast.
 *
 * Faithful transcription: broadcast = pl-send to every process (self included). The only
 * state is a bounded delivered window per origin (common.h), which guards no-duplication
 * across an origin's restart; perfect links already deliver each frame once per session. A
 * frame whose claimed origin is not the link-level sender is malformed (no creation: links are
 * authenticated, a beb message is never relayed).
 * Restart: a restarted origin is a new process with a new incarnation, counting seq from 1. */
#include <stdlib.h>

#include "bcast/common.h"
#include "core/assert.h"
#include "core/error.h"
#include "links/links.h"

struct beb {
	struct strata_module m;
	uint64_t lsn;
	struct bc_origin *org; /* [n+1] */
};

static void beb_recv(struct beb *b, const struct strata_event *ev)
{
	struct strata_node *n = b->m.node;
	struct bc_hdr h;
	const uint8_t *p;
	size_t len;
	if (bc_parse_data(ev->msg, strata_node_n(n), strata_node_config(n)->max_value, &h, &p,
			  &len) != 0 ||
	    h.origin != ev->peer) {
		strata_node_bad_payload(n, &b->m, ev->peer, "beb: malformed DATA");
		return;
	}
	struct bc_origin *o = &b->org[h.origin];
	if (bc_origin_admit(o, h.inc) == BC_STALE || bc_win_has(&o->win, h.seq))
		return;
	bc_win_add(&o->win, h.seq);
	bc_out_deliver(&b->m, h.origin, h.inc, h.seq, p, len, NULL, 0);
}

static void beb_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct beb *b = (struct beb *)m;
	if (ev->type == STRATA_EV_PL_DELIVER && ev->msg)
		beb_recv(b, ev);
}

static int beb_request(struct strata_module *m, const struct strata_request *req)
{
	struct beb *b = (struct beb *)m;
	int rc = bc_check_request(req, bc_pl_payload_max(m->node, 0));
	if (rc)
		return rc;
	return bc_pl_broadcast(m, &b->lsn, req);
}

static void beb_destroy(struct strata_module *m)
{
	struct beb *b = (struct beb *)m;
	free(b->org);
	free(b);
}

static const struct strata_module_ops beb_ops = {
	.name = "beb", .handle = beb_handle, .request = beb_request, .destroy = beb_destroy,
};

struct strata_module *bc_beb_create(struct strata_node *n, char *err, size_t errlen)
{
	struct beb *b = calloc(1, sizeof(*b));
	if (b)
		b->org = calloc(strata_node_n(n) + 1, sizeof(*b->org));
	if (!b || !b->org) {
		free(b);
		return NULL;
	}
	strata_node_add_module(n, &b->m, &beb_ops, BC_WIRE_BEB);
	return &b->m;
}
