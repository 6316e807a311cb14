/* Regular consensus, book Alg. 5.2 "Hierarchical Consensus" (module hier).
 *
 * Specification (Module 5.1, regular consensus): C1 Termination, C2 Validity, C3 Integrity,
 * C4 Agreement (cons.h).
 * Model: fail-stop (P), over best-effort broadcast. Resilience: any f < N.
 * Cost: N rounds of one broadcast each (N messages per round, N^2 in all); a process decides in
 * the round that carries its rank, so process 1 decides after 0 steps, process N after N - 1.
 *
 * Faithful transcription, one instance per instance id (cons.h). rank(p) = p. Sets of ranks are
 * bitmasks; O(N) bits per instance plus the adopted proposal. Departure, for multi-instance use:
 * the book has every process propose; here a client proposes at one node, and the lower-ranked
 * processes would never hear of the instance (only a round's leader speaks). So a proposer
 * announces its value once with VALUE; a process that has not proposed takes the first VALUE
 * (or DECIDED) it receives as its own proposal (cons.h, "Joining"). That costs N messages per
 * proposing process and keeps validity: the value was proposed by some process. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cons/cons.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/stack.h"

struct hc_inst {
	struct cons_inst c;
	uint32_t round;        /* 1..N */
	uint32_t proposer;     /* rank whose proposal was adopted, 0 = own */
	uint64_t delivered;    /* delivered[r] (bit r-1) */
	int proposal;          /* index in c.vals, -1 = ⊥ */
	bool broadcast;
};

struct hier {
	struct strata_module m;
	struct cons_tab tab;
	uint32_t n, self; /* detectedranks is each instance's c.excluded */
};

static struct hc_inst *hc_init(struct hc_inst *i)
{
	if (i->round == 0) {
		i->round = 1;
		i->proposal = -1;
	}
	return i;
}

static void hc_send(struct hier *h, uint64_t id, uint8_t type, const struct strata_msg *v)
{
	struct strata_msg *msg = cons_enc_value(type, v->data, v->len);
	if (!msg)
		return;
	cons_beb_broadcast(&h->tab.beb, id, msg);
	strata_msg_unref(msg);
}

/* upon event <c, Propose | v> such that proposal = ⊥ do proposal := v;
 * (and, multi-instance: announce v with VALUE so lower ranks learn of the instance) */
static int hc_propose(struct strata_module *m, struct cons_inst *c, const uint8_t *v, size_t len,
		      bool by_client)
{
	struct hier *h = (struct hier *)m;
	struct hc_inst *i = hc_init((struct hc_inst *)c);
	int k = cons_val_index(c, v, len);
	if (k < 0)
		return STRATA_EFULL;
	cons_out_propose(&h->tab, c, v, len, by_client);
	if (i->proposal < 0)
		i->proposal = k;
	if (by_client)
		hc_send(h, c->id, CONS_VALUE, c->vals[k]);
	return 0;
}

/* upon round = rank(self) ∧ proposal ≠ ⊥ ∧ broadcast = FALSE do
 *     broadcast := TRUE;
 *     trigger <beb, Broadcast | [DECIDED, proposal]>;
 *     trigger <c, Decide | proposal>;
 * upon round ∈ detectedranks ∨ delivered[round] = TRUE do
 *     round := round + 1;
 * Returns true if it decided (i is then freed). */
static bool hc_try(struct hier *h, struct hc_inst *i)
{
	if (i->round == 0)
		return false;
	for (;;) {
		if (i->round == h->self) {
			if (i->proposal < 0 || i->broadcast)
				return false;
			i->broadcast = true;
			struct strata_msg *v = strata_msg_ref(i->c.vals[i->proposal]);
			hc_send(h, i->c.id, CONS_DECIDED, v);
			cons_decide(&h->tab, &i->c, v->data, v->len, i->round);
			strata_msg_unref(v);
			return true;
		}
		uint64_t b = cons_bit(i->round);
		if (!((i->c.excluded | i->delivered) & b) || i->round >= h->n)
			return false;
		i->round++;
	}
}

/* upon event <beb, Deliver | p, [DECIDED, v]> do
 *     r := rank(p);
 *     if r < rank(self) ∧ r > proposer then
 *         proposal := v;
 *         proposer := r;
 *     delivered[r] := TRUE; */
static void hc_on_decided(struct hier *h, struct hc_inst *i, uint32_t p, const uint8_t *v,
			  size_t len)
{
	if (p < h->self && p > i->proposer) {
		int k = cons_val_index(&i->c, v, len);
		if (k < 0) {
			strata_node_bad_payload(h->m.node, &h->m, p, "hier: too many values");
			return;
		}
		i->proposal = k;
		i->proposer = p;
		i->c.proposed = true;
	}
	i->delivered |= cons_bit(p);
}

static void hc_recv(struct hier *h, const struct strata_event *ev)
{
	struct strata_rd r;
	strata_rd_init(&r, ev->msg->data, ev->msg->len);
	uint8_t type = strata_rd_u8(&r);
	const uint8_t *v;
	size_t len = strata_rd_bytes(&r, &v, SIZE_MAX);
	if (strata_rd_done(&r) != 0 || (type != CONS_DECIDED && type != CONS_VALUE)) {
		strata_node_bad_payload(h->m.node, &h->m, ev->peer, "hier: malformed message");
		return;
	}
	struct hc_inst *i = (struct hc_inst *)cons_tab_get_peer(&h->tab, ev->instance, ev->peer);
	if (!i)
		return;
	hc_init(i);
	if (!i->c.proposed && hc_propose(&h->m, &i->c, v, len, false) != 0) {
		strata_node_bad_payload(h->m.node, &h->m, ev->peer, "hier: too many values");
		return;
	}
	if (type == CONS_DECIDED)
		hc_on_decided(h, i, ev->peer, v, len);
	hc_try(h, i);
}

/* upon event <P, Crash | p> do detectedranks := detectedranks U {rank(p)}; */
static void hc_on_crash(struct hier *h, uint32_t q)
{
	cons_tab_crash(&h->tab, q);
	for (size_t k = 0; k < h->tab.nlive;)
		if (!hc_try(h, (struct hc_inst *)h->tab.live[k]))
			k++;
}

static void hc_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct hier *h = (struct hier *)m;
	struct strata_event d;
	switch (ev->type) {
	case STRATA_EV_DELIVER:
		if (cons_unwrap(m, &h->tab.beb, ev, &d)) {
			hc_recv(h, &d);
			strata_msg_unref(d.msg);
		}
		break;
	case STRATA_EV_CRASH:
		if (ev->peer >= 1 && ev->peer <= h->n)
			hc_on_crash(h, ev->peer);
		break;
	case STRATA_EV_RESTORE:
		if (ev->peer >= 1 && ev->peer <= h->n)
			cons_tab_restore(&h->tab, ev->peer);
		break;
	default:
		break;
	}
}

static int hc_propose_req(struct strata_module *m, struct cons_inst *c, const uint8_t *v,
			  size_t len, bool by_client)
{
	int rc = hc_propose(m, c, v, len, by_client);
	if (rc == 0)
		hc_try((struct hier *)m, (struct hc_inst *)c);
	return rc;
}

static int hc_request(struct strata_module *m, const struct strata_request *req)
{
	struct hier *h = (struct hier *)m;
	return cons_request(&h->tab, req, cons_value_max(m->node, 1), hc_propose_req);
}

static void hc_destroy(struct strata_module *m)
{
	struct hier *h = (struct hier *)m;
	cons_tab_free(&h->tab);
	free(h);
}

static const struct strata_module_ops hc_ops = {
	.name = "hier", .handle = hc_handle, .request = hc_request, .destroy = hc_destroy,
};

struct strata_module *cons_hier_create(struct strata_node *n, char *err, size_t errlen)
{
	struct hier *h = calloc(1, sizeof(*h));
	if (!h || cons_tab_init(&h->tab, &h->m, sizeof(struct hc_inst)) != 0) {
		free(h);
		snprintf(err, errlen, "hier: out of memory");
		return NULL;
	}
	h->n = strata_node_n(n);
	h->tab.propose = hc_propose_req;
	h->self = strata_node_id(n);
	strata_node_add_module(n, &h->m, &hc_ops, strata_wire_id("hier"));
	if (cons_open_beb(n, &h->m, &h->tab.beb, false, err, errlen) != 0 ||
	    cons_need_fd(&h->m, "hier", err, errlen) != 0)
		return NULL;
	return &h->m;
}
