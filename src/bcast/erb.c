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
 * Restart: a restarted origin is a new process (new incarnation, seq from 1).
 *
 * Stackable (bcast/bcast.h): erb keeps one rb instance per user (instance 0 for clients, one
 * per upper module such as fifo or wcb) in an instance table of at most ERB_INST_CAP, each
 * with its own sequence numbers, delivered windows and beb instance: rb instance
 * BCAST_INST(w, k) uses beb instance BCAST_INST(erb, w << 32 | k) (k < 2^32), so its frames
 * never mix with another instance's. Instances are created on first use and never retired
 * (one per upper module or sub-instance an upper opens). */
#include <stdlib.h>

#include "bcast/bcast.h"
#include "bcast/common.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/itab.h"
#include "core/stack.h"

#define ERB_INST_CAP 64

struct erb_inst {
	struct bc_subs up;       /* who gets this instance's rb Deliver indications */
	struct bcast_lower beb;  /* uses BestEffortBroadcast, instance beb */
	uint64_t lsn;
	struct bc_origin org[];  /* [n+1] */
};

struct erb {
	struct strata_module m;
	struct strata_module *beb; /* the node's beb module */
	struct strata_itab *inst;
};

static struct erb_inst *erb_inst(struct erb *e, uint64_t id, int *rc)
{
	bool created = false;
	struct erb_inst *i = strata_itab_get_id(e->inst, id, &created, rc);
	if (!i || !created)
		return i;
	char err[256];
	if (bc_subs_default(&e->m, id, &i->up) != 0 ||
	    bcast_open(e->m.node, "beb", &e->m, bc_lower_sub(id), &i->beb, err, sizeof(err)) != 0) {
		strata_itab_del_id(e->inst, id);
		*rc = STRATA_ENOENT;
		return NULL;
	}
	return i;
}

/* upon event <beb, Deliver | p, [DATA, s, m]> do
 *     if m not in delivered: delivered := delivered ∪ {m}; trigger <rb, Deliver | s, m>;
 *                            trigger <beb, Broadcast | [DATA, s, m]> */
static void erb_beb_deliver(struct erb *e, const struct strata_event *ev)
{
	struct strata_node *n = e->m.node;
	const struct strata_deliver *d = ev->body;
	uint64_t id = bc_upper_inst(ev->instance);
	int rc = 0;
	struct erb_inst *i = erb_inst(e, id, &rc);
	if (!i) {
		strata_node_counters(n)->rej_module++;
		strata_trace(n, "erb", "DATA from %u for instance %llx: %s -> dropped", d->origin,
			     (unsigned long long)id,
			     rc == STRATA_EFULL ? strata_itab_error(e->inst) : "no upper module here");
		return;
	}
	struct bc_hdr h;
	const uint8_t *p;
	size_t len;
	if (bc_parse_data_bytes(d->data, d->len, strata_node_n(n), d->len, &h, &p, &len) != 0) {
		strata_node_bad_payload(n, &e->m, d->origin, "erb: malformed DATA");
		return;
	}
	struct bc_origin *o = &i->org[h.origin];
	if (bc_origin_admit(o, h.inc) == BC_STALE || bc_win_has(&o->win, h.seq))
		return;
	if (bc_win_add(&o->win, h.seq))
		strata_trace(n, "erb", "window of origin %u slid -> holes given up", h.origin);
	struct strata_deliver rd = {
		.origin = h.origin, .inc = h.inc, .seq = h.seq, .data = p, .len = len,
	};
	bc_subs_indicate(&e->m, &i->up, id, ev->msg, &rd);
	if (h.origin == strata_node_id(n))
		return;
	rc = bcast_broadcast(&i->beb, d->data, d->len);
	if (rc)
		strata_trace(n, "erb", "relay of %u/%llu failed (%s) -> lost", h.origin,
			     (unsigned long long)h.seq, strata_strerror(rc));
}

static void erb_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct erb *e = (struct erb *)m;
	if (ev->type == STRATA_EV_DELIVER && ev->src == e->beb && ev->body)
		erb_beb_deliver(e, ev);
	else
		bc_reject_frame(m, ev); /* erb's messages travel in beb's */
}

/* upon event <rb, Broadcast | m> do trigger <beb, Broadcast | [DATA, self, m]> */
static int erb_send(struct erb *e, uint64_t id, const uint8_t *data, size_t len, uint64_t *seq)
{
	int rc = 0;
	struct erb_inst *i = erb_inst(e, id, &rc);
	if (!i)
		return rc;
	size_t max = bcast_payload_max(&i->beb);
	if (len + BC_HDR_MAX > max)
		return STRATA_ETOOBIG;
	struct strata_node *n = e->m.node;
	struct bc_hdr h = { BC_DATA, strata_node_id(n), strata_node_incarnation(n), i->lsn + 1 };
	struct strata_wr w;
	rc = bc_encode_data_into(&w, &h, data, len);
	if (rc == 0)
		rc = bcast_broadcast(&i->beb, w.buf, w.len);
	strata_wr_free(&w);
	if (rc)
		return rc;
	i->lsn++;
	if (seq)
		*seq = i->lsn;
	return 0;
}

static size_t erb_payload_max(const struct strata_module *m)
{
	size_t max = bc_pl_payload_max(m->node, 0);
	return max > BC_HDR_MAX ? max - BC_HDR_MAX : 0;
}

static int erb_request(struct strata_module *m, const struct strata_request *req)
{
	int rc = bc_check_request(req, erb_payload_max(m));
	if (rc)
		return rc;
	uint64_t seq = 0;
	rc = erb_send((struct erb *)m, 0, req->value, req->value_len, &seq);
	if (rc)
		return rc;
	bc_out_bcast(m, seq, req->value, req->value_len, NULL, 0);
	strata_node_reply(m->node, m, req->id, 0, 0, NULL, 0, NULL);
	return 0;
}

static int erb_open(struct strata_module *m, uint64_t id, struct strata_module *upper)
{
	int rc = 0;
	struct erb_inst *i = erb_inst((struct erb *)m, id, &rc);
	return i ? bc_subs_add(&i->up, upper) : rc;
}

static int erb_broadcast(struct strata_module *m, uint64_t id, const uint8_t *data, size_t len)
{
	return erb_send((struct erb *)m, id, data, len, NULL);
}

static void erb_destroy(struct strata_module *m)
{
	struct erb *e = (struct erb *)m;
	strata_itab_free(e->inst);
	free(e);
}

static const struct bcast_iface erb_iface = {
	.open = erb_open, .broadcast = erb_broadcast, .payload_max = erb_payload_max,
};

static const struct strata_module_ops erb_ops = {
	.name = "erb", .handle = erb_handle, .request = erb_request, .destroy = erb_destroy,
	.iface = &erb_iface,
};

struct strata_module *bc_erb_create(struct strata_node *n, char *err, size_t errlen)
{
	struct erb *e = calloc(1, sizeof(*e));
	size_t ext = sizeof(struct erb_inst) + (strata_node_n(n) + 1) * sizeof(struct bc_origin);
	if (e)
		e->inst = strata_itab_new("erb instances", ERB_INST_CAP, ext, NULL, NULL);
	if (!e || !e->inst) {
		free(e);
		snprintf(err, errlen, "erb: out of memory");
		return NULL;
	}
	strata_node_add_module(n, &e->m, &erb_ops, strata_wire_id("erb"));
	/* The client-facing instance, opened now so that beb exists and is known. */
	int rc = 0;
	struct erb_inst *i = erb_inst(e, 0, &rc);
	if (!i) {
		snprintf(err, errlen, "erb: cannot open its beb instance (%s)", strata_strerror(rc));
		return NULL; /* the node owns e now and frees it */
	}
	e->beb = i->beb.m;
	return &e->m;
}
