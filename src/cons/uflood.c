/* Uniform consensus, book Alg. 5.3 "Flooding Uniform Consensus" (module uflood).
 *
 * Specification (Module 5.2, uniform consensus): C1 Termination, C2 Validity, C3 Integrity as
 * regular consensus (cons.h), and
 *   UC4 Uniform agreement: no two processes decide differently.
 * Model: fail-stop (P), over best-effort broadcast. Resilience: any f < N.
 * Cost: always N rounds of N^2 messages (N communication steps) before anyone decides.
 *
 * Faithful transcription, one instance per instance id (cons.h). The book's handler for
 * [PROPOSAL, r, ps] waits until r = round; here a message of a later round is kept in that
 * round's slot (receivedfrom and proposal set per round, bitmasks) and taken in when the round
 * starts; a message of an earlier round is dropped (the book never handles it either). Rounds
 * are 1..N, so an instance's state is O(N) words plus at most N distinct values. A process that
 * has not proposed joins on the first PROPOSAL it receives (cons.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cons/cons.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/stack.h"

#define UF_ROUNDS (STRATA_MAX_NODES + 1)

struct uf_inst {
	struct cons_inst c;
	uint64_t round;           /* 0 until this process proposed */
	uint64_t proposalset;     /* values (bit k = c.vals[k]) */
	uint64_t recv[UF_ROUNDS]; /* receivedfrom, per round (later rounds buffered) */
	uint64_t sets[UF_ROUNDS]; /* values received in each round */
};

struct uflood {
	struct strata_module m;
	struct cons_tab tab;
	uint32_t n;
};

static void uf_broadcast(struct uflood *u, struct uf_inst *i)
{
	struct strata_msg *msg = cons_enc_set(CONS_PROPOSAL, i->round, &i->c, i->proposalset);
	if (!msg) {
		strata_trace(u->m.node, "uflood", "instance %llu: PROPOSAL does not encode -> not sent",
			     (unsigned long long)i->c.id);
		return;
	}
	cons_beb_broadcast(&u->tab.beb, i->c.id, msg);
	strata_msg_unref(msg);
}

/* upon event <uc, Propose | v> do
 *     proposalset := proposalset U {v};
 *     trigger <beb, Broadcast | [PROPOSAL, 1, proposalset]>; */
static int uf_propose(struct strata_module *m, struct cons_inst *c, const uint8_t *v, size_t len,
		      bool by_client)
{
	struct uflood *u = (struct uflood *)m;
	struct uf_inst *i = (struct uf_inst *)c;
	int k = cons_val_index(c, v, len);
	if (k < 0)
		return STRATA_EFULL;
	i->proposalset |= 1ull << k | i->sets[1];
	i->round = 1;
	cons_out_propose(&u->tab, c, v, len, by_client);
	uf_broadcast(u, i);
	return 0;
}

/* upon correct ⊆ receivedfrom ∧ decision = ⊥ do
 *     if round = N then
 *         decision := min(proposalset);
 *         trigger <uc, Decide | decision>;
 *     else
 *         round := round + 1;
 *         receivedfrom := ∅;
 *         trigger <beb, Broadcast | [PROPOSAL, round, proposalset]>;
 * (receivedfrom of the new round may be partly filled already: buffered messages). Returns
 * true if it decided (i is then freed). */
static bool uf_try(struct uflood *u, struct uf_inst *i)
{
	while (i->round > 0) {
		uint64_t correct = cons_all(u->n) & ~i->c.excluded;
		if (correct & ~i->recv[i->round])
			return false;
		if (i->round == u->n) {
			int k = cons_val_min(&i->c, i->proposalset);
			STRATA_ASSERT(k >= 0);
			struct strata_msg *v = strata_msg_ref(i->c.vals[k]);
			cons_decide(&u->tab, &i->c, v->data, v->len, i->round);
			strata_msg_unref(v);
			return true;
		}
		i->round++;
		i->proposalset |= i->sets[i->round];
		uf_broadcast(u, i);
	}
	return false;
}

/* upon event <beb, Deliver | p, [PROPOSAL, r, ps]> such that r = round do
 *     receivedfrom := receivedfrom U {p};
 *     proposalset := proposalset U ps; */
static void uf_on_proposal(struct uflood *u, const struct strata_event *ev, struct strata_rd *r)
{
	uint64_t round = strata_rd_u64(r);
	if (round < 1 || round > u->n) {
		strata_node_bad_payload(u->m.node, &u->m, ev->peer, "uflood: PROPOSAL round out of range");
		return;
	}
	struct uf_inst *i = (struct uf_inst *)cons_tab_get_peer(&u->tab, ev->instance, ev->peer);
	if (!i)
		return;
	uint64_t set;
	if (cons_dec_set(r, &i->c, &set) != 0 || set == 0) {
		strata_node_bad_payload(u->m.node, &u->m, ev->peer, "uflood: malformed PROPOSAL");
		return;
	}
	if (i->round && round < i->round)
		return; /* a round this process has left: never handled, as in the book */
	i->recv[round] |= cons_bit(ev->peer);
	i->sets[round] |= set;
	if (i->round == round)
		i->proposalset |= set;
	if (!i->c.proposed) {
		struct strata_msg *v = strata_msg_ref(i->c.vals[cons_val_min(&i->c, set)]);
		strata_trace(u->m.node, "uflood", "instance %llu first heard from %u -> join, proposing its smallest value",
			     (unsigned long long)i->c.id, ev->peer);
		uf_propose(&u->m, &i->c, v->data, v->len, false);
		strata_msg_unref(v);
	}
	uf_try(u, i);
}

/* upon event <P, Crash | p> do correct := correct \ {p}; */
static void uf_on_crash(struct uflood *u, uint32_t q)
{
	cons_tab_crash(&u->tab, q);
	for (size_t k = 0; k < u->tab.nlive;)
		if (!uf_try(u, (struct uf_inst *)u->tab.live[k]))
			k++;
}

static void uf_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct uflood *u = (struct uflood *)m;
	struct strata_event d;
	switch (ev->type) {
	case STRATA_EV_DELIVER:
		if (cons_unwrap(m, &u->tab.beb, ev, &d)) {
			struct strata_rd r;
			strata_rd_init(&r, d.msg->data, d.msg->len);
			if (strata_rd_u8(&r) == CONS_PROPOSAL)
				uf_on_proposal(u, &d, &r);
			else
				strata_node_bad_payload(m->node, m, d.peer, "uflood: unknown message type");
			strata_msg_unref(d.msg);
		}
		break;
	case STRATA_EV_CRASH:
		if (ev->peer >= 1 && ev->peer <= u->n)
			uf_on_crash(u, ev->peer);
		break;
	case STRATA_EV_RESTORE:
		if (ev->peer >= 1 && ev->peer <= u->n)
			cons_tab_restore(&u->tab, ev->peer);
		break;
	default:
		break;
	}
}

static int uf_request(struct strata_module *m, const struct strata_request *req)
{
	struct uflood *u = (struct uflood *)m;
	return cons_request(&u->tab, req, cons_value_max(m->node, u->n), uf_propose);
}

static void uf_destroy(struct strata_module *m)
{
	struct uflood *u = (struct uflood *)m;
	cons_tab_free(&u->tab);
	free(u);
}

static const struct strata_module_ops uf_ops = {
	.name = "uflood", .handle = uf_handle, .request = uf_request, .destroy = uf_destroy,
};

struct strata_module *cons_uflood_create(struct strata_node *n, char *err, size_t errlen)
{
	struct uflood *u = calloc(1, sizeof(*u));
	if (!u || cons_tab_init(&u->tab, &u->m, sizeof(struct uf_inst)) != 0) {
		free(u);
		snprintf(err, errlen, "uflood: out of memory");
		return NULL;
	}
	u->n = strata_node_n(n);
	u->tab.propose = uf_propose;
	strata_node_add_module(n, &u->m, &uf_ops, strata_wire_id("uflood"));
	if (cons_open_beb(n, &u->m, &u->tab.beb, false, err, errlen) != 0 ||
	    cons_need_fd(&u->m, "uflood", err, errlen) != 0)
		return NULL;
	return &u->m;
}
