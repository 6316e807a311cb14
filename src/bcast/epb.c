/* Probabilistic broadcast, book Alg. 3.9 "Eager Probabilistic Broadcast" (module epb).
 *
 * Specification (Module 3.7, probabilistic broadcast):
 *   PB1 Probabilistic validity: there is a positive value e such that when a correct process
 *       broadcasts m, the probability that every correct process eventually delivers m is at
 *       least 1 - e.
 *   PB2 No duplication: no message is delivered more than once.
 *   PB3 No creation: if a process delivers m with sender s, then m was previously broadcast
 *       by s.
 * Model: randomized (crash-stop, fair-loss links, a random source). Resilience: any f.
 * Cost: at most R steps and at most k + k^2 + ... + k^R messages per broadcast (gossip with
 * fanout k for R rounds).
 *
 * Parameters: fanout k = [bcast] fanout (default 3) distinct random targets other than self,
 * chosen with the node's PRNG (strata_random), and R = [bcast] rounds (default 4) rounds, read
 * from the config when the module is created. A GOSSIP claiming more than R rounds left is
 * malformed (the cluster shares one config).
 * Bounded implementation: the delivered set is a window per origin (common.h).
 * Restart: a restarted origin is a new process (new incarnation, seq from 1). Payloads are
 * limited to one datagram's frame.
 *
 * Stackable (bcast/bcast.h), as the book stacks Lazy Probabilistic Broadcast on it (Alg. 3.10:
 * "uses ProbabilisticBroadcast, instance upb", the unreliable gossip lpb repairs): one instance
 * per user in an instance table of at most EPB_INST_CAP, each with its own sequence numbers and
 * delivered windows; GOSSIP frames carry the instance id, and every delivery goes up to the
 * instance's subscribers as a Deliver indication (instance 0, `--algo epb`, to the client
 * adapter). Memory: EPB_INST_CAP x (n+1) windows. Instances are never retired: one per upper
 * module, created by code (a peer's frame for an instance without an upper here is dropped and
 * counted, rej_module). */
#include <stdio.h>
#include <stdlib.h>

#include "bcast/bcast.h"
#include "bcast/common.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/itab.h"
#include "core/stack.h"
#include "links/links.h"

#define EPB_INST_CAP 16

struct epb_inst {
	struct bc_subs up;      /* who gets this instance's Deliver indications */
	uint64_t lsn;           /* this instance's last own sequence number */
	struct bc_origin org[]; /* [n+1] */
};

struct epb {
	struct strata_module m;
	struct bc_gossip g;
	struct strata_itab *inst;
};

static struct epb_inst *epb_inst(struct epb *e, uint64_t id, int *rc)
{
	bool created = false;
	struct epb_inst *i = strata_itab_get_id(e->inst, id, &created, rc);
	if (i && created && bc_subs_default(&e->m, id, &i->up) != 0) {
		/* Nobody here stands on this instance: a peer's frame for an upper we do not run. */
		strata_itab_del_id(e->inst, id);
		*rc = STRATA_ENOENT;
		return NULL;
	}
	return i;
}

/* upon event <fll, Deliver | p, [GOSSIP, s, sn, r, m]> do
 *     if (s, sn) not delivered: delivered U= {(s, sn)}; trigger <epb, Deliver | s, m>;
 *         if r > 1 then gossip([GOSSIP, s, sn, r - 1, m]) */
static void epb_recv(struct epb *e, const struct strata_event *ev)
{
	struct strata_node *n = e->m.node;
	struct bc_hdr h;
	uint64_t rounds;
	const uint8_t *p;
	size_t len;
	if (bc_parse_gossip(ev->msg, strata_node_n(n), e->g.rounds, &h, &rounds, &p, &len) != 0) {
		strata_node_bad_payload(n, &e->m, ev->peer, "epb: malformed GOSSIP");
		return;
	}
	int rc = 0;
	struct epb_inst *i = epb_inst(e, ev->instance, &rc);
	if (!i) {
		strata_node_counters(n)->rej_module++;
		strata_trace(n, "epb", "GOSSIP from %u for instance %llx: %s -> dropped", ev->peer,
			     (unsigned long long)ev->instance,
			     rc == STRATA_EFULL ? strata_itab_error(e->inst) : "no upper module here");
		return;
	}
	struct bc_origin *o = &i->org[h.origin];
	if (bc_origin_admit(o, h.inc) == BC_STALE || bc_win_has(&o->win, h.seq))
		return;
	bc_win_add(&o->win, h.seq);
	struct strata_deliver d = {
		.origin = h.origin, .inc = h.inc, .seq = h.seq, .data = p, .len = len,
	};
	bc_subs_indicate(&e->m, &i->up, ev->instance, ev->msg, &d);
	if (rounds > 1)
		bc_fll_gossip_data(&e->m, ev->instance, e->g.fanout, &h, rounds - 1, p, len);
}

static void epb_handle(struct strata_module *m, const struct strata_event *ev)
{
	if (ev->type == STRATA_EV_FLL_DELIVER && ev->msg)
		epb_recv((struct epb *)m, ev);
}

static size_t epb_payload_max(const struct strata_module *m)
{
	return bc_fll_payload_max(m->node, 10);
}

/* upon event <epb, Broadcast | m> do delivered U= {(self, sn)}; trigger <epb, Deliver | self, m>;
 *     gossip([GOSSIP, self, sn, R, m])  (the book delivers its own message at once) */
static int epb_send(struct epb *e, uint64_t id, const uint8_t *data, size_t len, uint64_t *seq)
{
	struct strata_node *n = e->m.node;
	if (len > epb_payload_max(&e->m))
		return STRATA_ETOOBIG;
	int rc = 0;
	struct epb_inst *i = epb_inst(e, id, &rc);
	if (!i)
		return rc;
	uint32_t self = strata_node_id(n);
	struct bc_hdr h = { BC_DATA, self, strata_node_incarnation(n), i->lsn + 1 };
	struct strata_msg *msg = bc_encode_gossip(&h, e->g.rounds, data, len);
	if (!msg)
		return STRATA_ENOMEM;
	i->lsn++;
	struct bc_origin *o = &i->org[self];
	bc_origin_admit(o, h.inc);
	bc_win_add(&o->win, h.seq);
	if (id == 0)
		bc_out_bcast(&e->m, h.seq, data, len, NULL, 0);
	const uint8_t *p;
	size_t plen;
	uint64_t rounds;
	STRATA_ASSERT(bc_parse_gossip(msg, strata_node_n(n), e->g.rounds, &h, &rounds, &p,
				      &plen) == 0);
	struct strata_deliver d = { .origin = self, .inc = h.inc, .seq = h.seq, .data = p,
				    .len = plen };
	bc_subs_indicate(&e->m, &i->up, id, msg, &d);
	bc_fll_gossip(&e->m, id, msg, e->g.fanout);
	strata_msg_unref(msg);
	if (seq)
		*seq = h.seq;
	return 0;
}

static int epb_request(struct strata_module *m, const struct strata_request *req)
{
	int rc = bc_check_request(req, epb_payload_max(m));
	if (rc)
		return rc;
	rc = epb_send((struct epb *)m, 0, req->value, req->value_len, NULL);
	if (rc)
		return rc;
	strata_node_reply(m->node, m, req->id, 0, 0, NULL, 0, NULL);
	return 0;
}

static int epb_open(struct strata_module *m, uint64_t id, struct strata_module *upper)
{
	int rc = 0;
	struct epb_inst *i = epb_inst((struct epb *)m, id, &rc);
	return i ? bc_subs_add(&i->up, upper) : rc;
}

static int epb_broadcast(struct strata_module *m, uint64_t id, const uint8_t *data, size_t len)
{
	return epb_send((struct epb *)m, id, data, len, NULL);
}

static void epb_destroy(struct strata_module *m)
{
	struct epb *e = (struct epb *)m;
	strata_itab_free(e->inst);
	free(e);
}

static const struct bcast_iface epb_iface = {
	.open = epb_open, .broadcast = epb_broadcast, .payload_max = epb_payload_max,
};

static const struct strata_module_ops epb_ops = {
	.name = "epb", .handle = epb_handle, .request = epb_request, .destroy = epb_destroy,
	.iface = &epb_iface,
};

struct strata_module *bc_epb_create(struct strata_node *n, char *err, size_t errlen)
{
	struct bc_gossip g;
	if (bc_gossip_from_config(n, &g, err, errlen) != 0)
		return NULL;
	struct epb *e = calloc(1, sizeof(*e));
	size_t ext = sizeof(struct epb_inst) + (strata_node_n(n) + 1) * sizeof(struct bc_origin);
	if (e)
		e->inst = strata_itab_new("epb instances", EPB_INST_CAP, ext, NULL, NULL);
	if (!e || !e->inst) {
		free(e);
		snprintf(err, errlen, "epb: out of memory");
		return NULL;
	}
	e->g = g;
	strata_node_add_module(n, &e->m, &epb_ops, strata_wire_id("epb"));
	return &e->m;
}
