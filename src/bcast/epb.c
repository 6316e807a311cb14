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
 * limited to one datagram's frame. */
#include <stdlib.h>

#include "bcast/common.h"
#include "core/assert.h"
#include "core/error.h"
#include "links/links.h"

struct epb {
	struct strata_module m;
	struct bc_gossip g;
	uint64_t lsn;
	struct bc_origin *org; /* [n+1] */
};

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
	struct bc_origin *o = &e->org[h.origin];
	if (bc_origin_admit(o, h.inc) == BC_STALE || bc_win_has(&o->win, h.seq))
		return;
	bc_win_add(&o->win, h.seq);
	bc_out_deliver(&e->m, h.origin, h.inc, h.seq, p, len, NULL, 0);
	if (rounds > 1)
		bc_fll_gossip_data(&e->m, e->g.fanout, &h, rounds - 1, p, len);
}

static void epb_handle(struct strata_module *m, const struct strata_event *ev)
{
	if (ev->type == STRATA_EV_FLL_DELIVER && ev->msg)
		epb_recv((struct epb *)m, ev);
}

static int epb_request(struct strata_module *m, const struct strata_request *req)
{
	struct epb *e = (struct epb *)m;
	struct strata_node *n = m->node;
	int rc = bc_check_request(req, bc_fll_payload_max(n, 10));
	if (rc)
		return rc;
	uint32_t self = strata_node_id(n);
	struct bc_hdr h = { BC_DATA, self, strata_node_incarnation(n), e->lsn + 1 };
	e->lsn++;
	bc_out_bcast(m, h.seq, req->value, req->value_len, NULL, 0);
	/* The book delivers its own message at once, then gossips it. */
	struct bc_origin *o = &e->org[self];
	bc_origin_admit(o, h.inc);
	bc_win_add(&o->win, h.seq);
	bc_out_deliver(m, self, h.inc, h.seq, req->value, req->value_len, NULL, 0);
	bc_fll_gossip_data(m, e->g.fanout, &h, e->g.rounds, req->value, req->value_len);
	strata_node_reply(n, m, req->id, 0, 0, NULL, 0, NULL);
	return 0;
}

static void epb_destroy(struct strata_module *m)
{
	struct epb *e = (struct epb *)m;
	free(e->org);
	free(e);
}

static const struct strata_module_ops epb_ops = {
	.name = "epb", .handle = epb_handle, .request = epb_request, .destroy = epb_destroy,
};

struct strata_module *bc_epb_create(struct strata_node *n, char *err, size_t errlen)
{
	struct bc_gossip g;
	if (bc_gossip_from_config(n, &g, err, errlen) != 0)
		return NULL;
	struct epb *e = calloc(1, sizeof(*e));
	if (e)
		e->org = calloc(strata_node_n(n) + 1, sizeof(*e->org));
	if (!e || !e->org) {
		free(e);
		return NULL;
	}
	e->g = g;
	strata_node_add_module(n, &e->m, &epb_ops, BC_WIRE_EPB);
	return &e->m;
}
