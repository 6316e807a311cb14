/* Regular reliable broadcast, book Alg. 3.3 "Eager Reliable Broadcast" (module erb).
 *
 * Specification (Module 3.2, regular reliable broadcast):
 *   RB1 Validity: if a correct process broadcasts m, every correct process eventually delivers m.
 *   RB2 No duplication: no message is delivered more than once.
 *   RB3 No creation: if a process delivers m with sender s, then m was previously broadcast by s.
 *   RB4 Agreement: if a message m is delivered by some correct process, then m is eventually
 *       delivered by every correct process.
 * Model: fail-silent. Uses: BestEffortBroadcast, instance beb (bcast/bcast.h: erb's own beb
 * instance, BCAST_INST(erb wire id, 0)). Resilience: any f.
 * Cost: 1 step (the first delivery), O(N^2) messages: every process relays every message once.
 *
 * Bounded implementation of the book's algorithm as written: broadcast and relay are
 * beb-broadcasts of [DATA, s, m], and the book's `delivered` set is a delivered window per
 * origin (common.h). One departure: the origin does not relay its own broadcast on delivering
 * it (its beb-broadcast already reached everyone a relay would reach).
 * Restart: a restarted origin is a new process (new incarnation, seq from 1). */
#include <stdlib.h>

#include "bcast/bcast.h"
#include "bcast/common.h"
#include "core/assert.h"
#include "core/error.h"

struct erb {
	struct strata_module m;
	struct bcast_lower beb;
	uint64_t lsn;
	struct bc_origin *org; /* [n+1] */
};

/* upon event <beb, Deliver | p, [DATA, s, m]> do
 *     if m not in delivered: delivered := delivered ∪ {m}; trigger <rb, Deliver | s, m>;
 *                            trigger <beb, Broadcast | [DATA, s, m]> */
static void erb_beb_deliver(struct erb *e, const struct strata_event *ev)
{
	struct strata_node *n = e->m.node;
	const struct strata_deliver *d = ev->body;
	struct bc_hdr h;
	const uint8_t *p;
	size_t len;
	if (bc_parse_data_bytes(d->data, d->len, strata_node_n(n), d->len, &h, &p, &len) != 0) {
		strata_node_bad_payload(n, &e->m, d->origin, "erb: malformed DATA");
		return;
	}
	struct bc_origin *o = &e->org[h.origin];
	if (bc_origin_admit(o, h.inc) == BC_STALE || bc_win_has(&o->win, h.seq))
		return;
	if (bc_win_add(&o->win, h.seq))
		strata_trace(n, "erb", "window of origin %u slid -> holes given up", h.origin);
	bc_out_deliver_msg(&e->m, ev->msg, h.origin, h.inc, h.seq, p, len);
	if (h.origin == strata_node_id(n))
		return;
	int rc = bcast_broadcast(&e->beb, d->data, d->len);
	if (rc)
		strata_trace(n, "erb", "relay of %u/%llu failed (%s) -> lost", h.origin,
			     (unsigned long long)h.seq, strata_strerror(rc));
}

static void erb_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct erb *e = (struct erb *)m;
	if (bcast_is_deliver(&e->beb, ev))
		erb_beb_deliver(e, ev);
	else
		bc_reject_frame(m, ev); /* erb's messages travel in beb's */
}

/* upon event <rb, Broadcast | m> do trigger <beb, Broadcast | [DATA, self, m]> */
static int erb_request(struct strata_module *m, const struct strata_request *req)
{
	struct erb *e = (struct erb *)m;
	int rc = bc_check_request(req, bcast_payload_max(&e->beb) > BC_HDR_MAX
					       ? bcast_payload_max(&e->beb) - BC_HDR_MAX
					       : 0);
	if (rc)
		return rc;
	struct strata_node *n = m->node;
	struct bc_hdr h = { BC_DATA, strata_node_id(n), strata_node_incarnation(n), e->lsn + 1 };
	struct strata_wr w;
	rc = bc_encode_data_into(&w, &h, req->value, req->value_len);
	if (rc == 0)
		rc = bcast_broadcast(&e->beb, w.buf, w.len);
	strata_wr_free(&w);
	if (rc)
		return rc;
	e->lsn++;
	bc_out_bcast(m, e->lsn, req->value, req->value_len, NULL, 0);
	strata_node_reply(n, m, req->id, 0, 0, NULL, 0, NULL);
	return 0;
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
		snprintf(err, errlen, "erb: out of memory");
		return NULL;
	}
	strata_node_add_module(n, &e->m, &erb_ops, BC_WIRE_ERB);
	/* uses BestEffortBroadcast, instance beb */
	if (bcast_open(n, "beb", &e->m, 0, &e->beb, err, errlen) != 0)
		return NULL; /* the node owns e now and frees it */
	return &e->m;
}
