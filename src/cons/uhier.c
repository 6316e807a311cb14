/* Uniform consensus, book Alg. 5.4 "Hierarchical Uniform Consensus" (module uhier).
 *
 * Specification (Module 5.2, uniform consensus): C1 Termination, C2 Validity, C3 Integrity and
 * UC4 Uniform agreement (cons.h).
 * Model: fail-stop (P), over perfect links, best-effort broadcast and reliable broadcast.
 * Resilience: any f < N. Cost without crashes: 3 communication steps (PROPOSAL, ACK, DECIDED)
 * and O(N^2) messages (N + N + N^2 for the eager reliable broadcast of DECIDED); every crashed
 * leader adds a round of the same cost.
 *
 * Faithful transcription, one instance per instance id (cons.h). rank(p) = p; sets of ranks are
 * bitmasks; proposed[] holds value-table indexes: O(N) per instance plus at most N values.
 * It stands on the node's real lower modules: its own instance of beb (VALUE, PROPOSAL) and of
 * the eager reliable broadcast erb (DECIDED; bcast/bcast.h), and perfect links (ACK). A DECIDED
 * delivered after the decision is not handled (decision ≠ ⊥). Departure for multi-instance use, as in hier.c: a
 * proposer announces its value with VALUE, and a process that has not proposed takes the first
 * value it hears of as its proposal (cons.h, "Joining"). The book's conditions
 * "round = rank(self) ∧ proposal ≠ ⊥ ∧ decision = ⊥" and "detectedranks ∪ ackranks = Π" fire
 * once per instance here (flags sent and decided_sent).
 *
 * Sends the links refuse: the ACK is the one message not sent over beb or erb, and nothing
 * repeats it: the leader of the round waits for the ACK of every process it does not detect,
 * so one refused by the links (the backlog toward the leader full, STRATA_EFULL) would stop
 * that instance at a correct leader for good (termination). An ACK the links refuse is owed to
 * the leader and sent again, in order, when its backlog has room (links.h, strata_pl_owed,
 * queued): per peer at most UH_OWED_MAX ACKs of 1 byte. A peer is owed at most one ACK per
 * instance it leads a round of, and it waits only on instances undecided here (a decided one
 * is decided everywhere through rb): CONS_LIVE_MAX, twice over for those decided while their
 * ACK was still owed. One beyond is dropped (lost as before), counted and traced. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cons/cons.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/stack.h"
#include "links/links.h"

#define UH_OWED_MAX (2 * CONS_LIVE_MAX) /* ACKs owed to one peer, at most (see the top) */
#define UH_TOK_OWED 1                   /* the timer that sends owed ACKs again */

struct uh_inst {
	struct cons_inst c;
	uint32_t round;         /* 1..N */
	int proposal;           /* index in c.vals, -1 = ⊥ */
	int proposed[STRATA_MAX_NODES + 1]; /* proposed[rank]: index, -1 = ⊥ */
	uint64_t ackranks;
	bool sent, decided_sent;
};

struct uhier {
	struct strata_module m;
	struct cons_tab tab;   /* tab.beb: "uses BestEffortBroadcast, instance beb" */
	struct bcast_lower rb; /* "uses ReliableBroadcast, instance rb": the node's erb */
	uint32_t n, self;
	struct strata_pl_owed *owed; /* ACKs the links refused (see the top) */
};

static void uh_init(struct uh_inst *i)
{
	if (i->round)
		return;
	i->round = 1;
	i->proposal = -1;
	for (size_t k = 0; k < sizeof(i->proposed) / sizeof(i->proposed[0]); k++)
		i->proposed[k] = -1;
}

static void uh_broadcast(struct uhier *u, uint64_t id, uint8_t type, const struct strata_msg *v)
{
	struct strata_msg *msg = cons_enc_value(type, v->data, v->len);
	if (!msg)
		return;
	if (type == CONS_DECIDED)
		cons_beb_broadcast(&u->rb, id, msg); /* rb Broadcast */
	else
		cons_beb_broadcast(&u->tab.beb, id, msg);
	strata_msg_unref(msg);
}

/* upon event <uc, Propose | v> such that proposal = ⊥ do proposal := v;
 * (multi-instance: announce v with VALUE) */
static int uh_propose(struct strata_module *m, struct cons_inst *c, const uint8_t *v, size_t len,
		      bool by_client)
{
	struct uhier *u = (struct uhier *)m;
	struct uh_inst *i = (struct uh_inst *)c;
	uh_init(i);
	int k = cons_val_index(c, v, len);
	if (k < 0)
		return STRATA_EFULL;
	cons_out_propose(&u->tab, c, v, len, by_client);
	if (i->proposal < 0)
		i->proposal = k;
	if (by_client)
		uh_broadcast(u, c->id, CONS_VALUE, c->vals[k]);
	return 0;
}

/* upon round = rank(self) ∧ proposal ≠ ⊥ ∧ decision = ⊥ do
 *     trigger <beb, Broadcast | [PROPOSAL, proposal]>;
 * upon round ∈ detectedranks do
 *     if proposed[round] ≠ ⊥ then proposal := proposed[round];
 *     round := round + 1;
 * upon detectedranks ∪ ackranks = {1, ..., N} do
 *     ackranks := ∅;
 *     trigger <rb, Broadcast | [DECIDED, proposal]>; */
static void uh_try(struct uhier *u, struct uh_inst *i)
{
	if (i->round == 0)
		return;
	while (i->round <= u->n && (i->c.excluded & cons_bit(i->round))) {
		if (i->proposed[i->round] >= 0)
			i->proposal = i->proposed[i->round];
		i->round++;
	}
	if (i->round == u->self && i->proposal >= 0 && !i->sent) {
		i->sent = true;
		uh_broadcast(u, i->c.id, CONS_PROPOSAL, i->c.vals[i->proposal]);
	}
	if (i->sent && !i->decided_sent && ((i->c.excluded | i->ackranks) == cons_all(u->n))) {
		i->decided_sent = true;
		i->ackranks = 0;
		uh_broadcast(u, i->c.id, CONS_DECIDED, i->c.vals[i->proposal]);
	}
}

/* upon event <beb, Deliver | p, [PROPOSAL, v]> do
 *     proposed[rank(p)] := v;
 *     if rank(p) ≥ round then trigger <pl, Send | p, [ACK]>; */
static void uh_on_proposal(struct uhier *u, struct uh_inst *i, uint32_t p, int k)
{
	i->proposed[p] = k;
	if (p < i->round)
		return;
	struct strata_msg *ack = strata_msg_new((uint8_t[]){ CONS_ACK }, 1);
	if (!ack)
		return;
	(void)strata_pl_owed_send(u->owed, p, i->c.id, ack); /* refused: owed */
	strata_msg_unref(ack);
}

/* upon event <rb, Deliver | p, [DECIDED, v]> such that decision = ⊥ do
 *     decision := v;
 *     trigger <uc, Decide | decision>; */
static void uh_on_decided(struct uhier *u, struct uh_inst *i, const struct strata_event *ev)
{
	struct strata_rd r;
	strata_rd_init(&r, ev->msg->data, ev->msg->len);
	strata_rd_u8(&r);
	const uint8_t *v;
	size_t len = strata_rd_bytes(&r, &v, SIZE_MAX);
	cons_decide(&u->tab, &i->c, v, len, i->round);
}

/* How a message came: ACK over perfect links, VALUE and PROPOSAL over beb, DECIDED over rb. */
enum uh_via { UH_PL, UH_BEB, UH_RB };

static void uh_recv(struct uhier *u, const struct strata_event *ev, enum uh_via via)
{
	struct strata_node *n = u->m.node;
	struct strata_rd r;
	strata_rd_init(&r, ev->msg->data, ev->msg->len);
	uint8_t type = strata_rd_u8(&r);
	const uint8_t *v = NULL;
	size_t len = 0;
	if (type != CONS_ACK)
		len = strata_rd_bytes(&r, &v, SIZE_MAX);
	if (strata_rd_done(&r) != 0 || type < CONS_PROPOSAL || type > CONS_ACK ||
	    (type == CONS_ACK) != (via == UH_PL) || (type == CONS_DECIDED) != (via == UH_RB)) {
		strata_node_bad_payload(n, &u->m, ev->peer, "uhier: malformed message");
		return;
	}
	struct uh_inst *i = (struct uh_inst *)cons_tab_get_peer(&u->tab, ev->instance, ev->peer);
	if (!i)
		return;
	uh_init(i);
	if (type == CONS_ACK) {
		/* upon event <pl, Deliver | q, [ACK]> do ackranks := ackranks U {rank(q)}; */
		i->ackranks |= cons_bit(ev->peer);
		uh_try(u, i);
		return;
	}
	if (!i->c.proposed && uh_propose(&u->m, &i->c, v, len, false) != 0) {
		strata_node_bad_payload(n, &u->m, ev->peer, "uhier: too many values");
		return;
	}
	if (type == CONS_DECIDED) {
		uh_on_decided(u, i, ev);
		return;
	}
	if (type == CONS_PROPOSAL) {
		int k = cons_val_index(&i->c, v, len);
		if (k < 0) {
			strata_node_bad_payload(n, &u->m, ev->peer, "uhier: too many values");
			return;
		}
		uh_on_proposal(u, i, ev->peer, k);
	}
	uh_try(u, i);
}

/* upon event <P, Crash | p> do detectedranks := detectedranks U {rank(p)}; */
static void uh_on_crash(struct uhier *u, uint32_t q)
{
	cons_tab_crash(&u->tab, q);
	for (size_t k = 0; k < u->tab.nlive; k++)
		uh_try(u, (struct uh_inst *)u->tab.live[k]);
}

static void uh_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct uhier *u = (struct uhier *)m;
	struct strata_event d;
	switch (ev->type) {
	case STRATA_EV_PL_DELIVER: /* ACK */
		if (ev->msg)
			uh_recv(u, ev, UH_PL);
		break;
	case STRATA_EV_DELIVER: /* beb (VALUE, PROPOSAL) or rb (DECIDED) */
		if (cons_unwrap(m, &u->tab.beb, ev, &d) || cons_unwrap(m, &u->rb, ev, &d)) {
			uh_recv(u, &d, ev->src == u->rb.m ? UH_RB : UH_BEB);
			strata_msg_unref(d.msg);
		}
		break;
	case STRATA_EV_CRASH:
		if (ev->peer >= 1 && ev->peer <= u->n)
			uh_on_crash(u, ev->peer);
		break;
	case STRATA_EV_RESTORE:
		if (ev->peer >= 1 && ev->peer <= u->n)
			cons_tab_restore(&u->tab, ev->peer);
		break;
	case STRATA_EV_TIMER:
		if (ev->arg == UH_TOK_OWED)
			strata_pl_owed_flush(u->owed);
		break;
	default:
		break;
	}
}

static int uh_propose_req(struct strata_module *m, struct cons_inst *c, const uint8_t *v,
			  size_t len, bool by_client)
{
	int rc = uh_propose(m, c, v, len, by_client);
	if (rc == 0)
		uh_try((struct uhier *)m, (struct uh_inst *)c);
	return rc;
}

static int uh_request(struct strata_module *m, const struct strata_request *req)
{
	struct uhier *u = (struct uhier *)m;
	return cons_request(&u->tab, req, cons_value_max(m->node, 1), uh_propose_req);
}

static void uh_destroy(struct strata_module *m)
{
	struct uhier *u = (struct uhier *)m;
	cons_tab_free(&u->tab);
	strata_pl_owed_free(u->owed);
	free(u);
}

static const struct strata_module_ops uh_ops = {
	.name = "uhier", .handle = uh_handle, .request = uh_request, .destroy = uh_destroy,
};

struct strata_module *cons_uhier_create(struct strata_node *n, char *err, size_t errlen)
{
	struct uhier *u = calloc(1, sizeof(*u));
	if (u)
		u->owed = strata_pl_owed_new(n, &u->m, UH_TOK_OWED, NULL, UH_OWED_MAX, UH_OWED_MAX);
	if (!u || !u->owed || cons_tab_init(&u->tab, &u->m, sizeof(struct uh_inst)) != 0) {
		if (u)
			strata_pl_owed_free(u->owed);
		free(u);
		snprintf(err, errlen, "uhier: out of memory");
		return NULL;
	}
	u->n = strata_node_n(n);
	u->tab.propose = uh_propose_req;
	u->self = strata_node_id(n);
	strata_node_add_module(n, &u->m, &uh_ops, strata_wire_id("uhier"));
	if (cons_open_beb(n, &u->m, &u->tab.beb, false, err, errlen) != 0 ||
	    bcast_open(n, "erb", &u->m, 0, &u->rb, err, errlen) != 0 ||
	    cons_need_fd(&u->m, "uhier", err, errlen) != 0)
		return NULL;
	return &u->m;
}

void cons_uhier_test_no_owed(struct strata_module *m)
{
	STRATA_ASSERT(m && m->ops == &uh_ops);
	strata_pl_owed_test_lossy(((struct uhier *)m)->owed);
}

void cons_uhier_test_owed_counts(struct strata_module *m, struct strata_pl_owed_counts *c)
{
	STRATA_ASSERT(m && m->ops == &uh_ops);
	strata_pl_owed_counts(((struct uhier *)m)->owed, c);
}
