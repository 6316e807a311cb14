/* Regular consensus, book Alg. 5.1 "Flooding Consensus" (module flood).
 *
 * Specification (Module 5.1, regular consensus):
 *   C1 Termination: every correct process eventually decides some value.
 *   C2 Validity: if a process decides v, then v was proposed by some process.
 *   C3 Integrity: no process decides twice.
 *   C4 Agreement: no two correct processes decide differently.
 * Model: fail-stop (crash-stop with the perfect failure detector P), over best-effort broadcast.
 * Resilience: any f < N. Cost: 1 round (2 when a process crashes: at most N rounds), each round
 * N^2 messages; a decision costs N^2 more DECIDED messages.
 *
 * Faithful transcription, one instance per instance id (cons.h): rounds, receivedfrom[r] and
 * proposals[r] per instance, as the book. Sets of processes and of values are bitmasks (values
 * index the instance's value table, at most N distinct values in a correct run). Rounds never
 * exceed N + 1 (a round starts only after a crash), so an instance's state is O(N) words plus
 * its values; a message naming a round beyond N + 1 is malformed. Departures: the book's
 * "correct" is per instance (a crash is removed from every live instance; a peer's later
 * incarnation is a new process, counted only by instances created after its restore), and a
 * process that has not proposed joins on the first PROPOSAL it receives (cons.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cons/cons.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/stack.h"

#define FL_ROUNDS (STRATA_MAX_NODES + 2)

struct fl_inst {
	struct cons_inst c;
	uint64_t round;
	uint64_t recv[FL_ROUNDS];  /* receivedfrom[r]: processes (bit q-1) */
	uint64_t props[FL_ROUNDS]; /* proposals[r]: values (bit k = c.vals[k]) */
};

struct flood {
	struct strata_module m;
	struct cons_tab tab;
	uint32_t n;
};

static void fl_broadcast_proposal(struct flood *f, struct fl_inst *i, uint64_t r, uint64_t set)
{
	struct strata_msg *msg = cons_enc_set(CONS_PROPOSAL, r, &i->c, set);
	if (!msg) {
		strata_trace(f->m.node, "flood", "instance %llu: PROPOSAL does not encode -> not sent",
			     (unsigned long long)i->c.id);
		return;
	}
	cons_beb_broadcast(&f->tab.beb, i->c.id, msg);
	strata_msg_unref(msg);
}

/* upon event <c, Propose | v> do
 *     proposals[1] := proposals[1] U {v};
 *     trigger <beb, Broadcast | [PROPOSAL, 1, proposals[1]]>; */
static int fl_propose(struct flood *f, struct fl_inst *i, const uint8_t *v, size_t len,
		      bool by_client)
{
	int k = cons_val_index(&i->c, v, len);
	if (k < 0)
		return STRATA_EFULL;
	i->props[1] |= 1ull << k;
	if (i->round == 0) {
		i->round = 1;
		i->recv[0] = cons_all(f->n);
	}
	cons_out_propose(&f->tab, &i->c, v, len, by_client);
	fl_broadcast_proposal(f, i, 1, i->props[1]);
	return 0;
}

/* upon correct ⊆ receivedfrom[round] ∧ decision = ⊥ do
 *     if receivedfrom[round] = receivedfrom[round − 1] then
 *         decision := min(proposals[round]);
 *         trigger <beb, Broadcast | [DECIDED, decision]>;
 *         trigger <c, Decide | decision>;
 *     else
 *         round := round + 1;
 *         trigger <beb, Broadcast | [PROPOSAL, round, proposals[round − 1]]>;
 * (a loop: the next round's messages may all be here already). Returns true if it decided
 * (i is then freed). */
static bool fl_try(struct flood *f, struct fl_inst *i)
{
	while (i->round > 0) {
		uint64_t correct = cons_all(f->n) & ~i->c.excluded;
		uint64_t r = i->round;
		if (correct & ~i->recv[r])
			return false;
		if (i->recv[r] == i->recv[r - 1]) {
			int k = cons_val_min(&i->c, i->props[r]);
			STRATA_ASSERT(k >= 0); /* our own proposal is in every round's set */
			struct strata_msg *v = strata_msg_ref(i->c.vals[k]);
			struct strata_msg *msg = cons_enc_value(CONS_DECIDED, v->data, v->len);
			if (msg) {
				cons_beb_broadcast(&f->tab.beb, i->c.id, msg);
				strata_msg_unref(msg);
			}
			cons_decide(&f->tab, &i->c, v->data, v->len, r);
			strata_msg_unref(v);
			return true;
		}
		if (r + 1 >= FL_ROUNDS)
			return false; /* unreachable: a round starts only after a crash */
		i->round = r + 1;
		strata_trace(f->m.node, "flood", "instance %llu: receivedfrom changed in round %llu -> round %llu",
			     (unsigned long long)i->c.id, (unsigned long long)r,
			     (unsigned long long)i->round);
		fl_broadcast_proposal(f, i, i->round, i->props[r]);
	}
	return false;
}

/* upon event <beb, Deliver | p, [PROPOSAL, r, ps]> do
 *     receivedfrom[r] := receivedfrom[r] U {p};
 *     proposals[r] := proposals[r] U ps; */
static void fl_on_proposal(struct flood *f, const struct strata_event *ev, struct strata_rd *r)
{
	uint64_t round = strata_rd_u64(r);
	if (round < 1 || round >= FL_ROUNDS || round > (uint64_t)f->n + 1) {
		strata_node_bad_payload(f->m.node, &f->m, ev->peer, "flood: PROPOSAL round out of range");
		return;
	}
	struct fl_inst *i = (struct fl_inst *)cons_tab_get_peer(&f->tab, ev->instance, ev->peer);
	if (!i)
		return;
	uint64_t set;
	if (cons_dec_set(r, &i->c, &set) != 0 || set == 0) {
		strata_node_bad_payload(f->m.node, &f->m, ev->peer, "flood: malformed PROPOSAL");
		return;
	}
	if (!i->c.proposed) {
		int k = cons_val_min(&i->c, set);
		struct strata_msg *v = strata_msg_ref(i->c.vals[k]);
		strata_trace(f->m.node, "flood", "instance %llu first heard from %u -> join, proposing its smallest value",
			     (unsigned long long)i->c.id, ev->peer);
		fl_propose(f, i, v->data, v->len, false);
		strata_msg_unref(v);
	}
	i->recv[round] |= cons_bit(ev->peer);
	i->props[round] |= set;
	fl_try(f, i);
}

/* upon event <beb, Deliver | p, [DECIDED, v]> such that p ∈ correct ∧ decision = ⊥ do
 *     decision := v;
 *     trigger <beb, Broadcast | [DECIDED, decision]>;
 *     trigger <c, Decide | decision>; */
static void fl_on_decided(struct flood *f, const struct strata_event *ev, struct strata_rd *r)
{
	const uint8_t *v;
	size_t len = strata_rd_bytes(r, &v, SIZE_MAX);
	if (strata_rd_done(r) != 0) {
		strata_node_bad_payload(f->m.node, &f->m, ev->peer, "flood: malformed DECIDED");
		return;
	}
	if (cons_tab_retired(&f->tab, ev->instance))
		return;
	struct fl_inst *i = (struct fl_inst *)cons_tab_get_peer(&f->tab, ev->instance, ev->peer);
	if (!i || (i->c.excluded & cons_bit(ev->peer)))
		return;
	struct strata_msg *msg = cons_enc_value(CONS_DECIDED, v, len);
	if (msg) {
		cons_beb_broadcast(&f->tab.beb, i->c.id, msg);
		strata_msg_unref(msg);
	}
	cons_decide(&f->tab, &i->c, v, len, i->round);
}

static void fl_recv(struct flood *f, const struct strata_event *ev)
{
	struct strata_rd r;
	strata_rd_init(&r, ev->msg->data, ev->msg->len);
	uint8_t type = strata_rd_u8(&r);
	if (type == CONS_PROPOSAL)
		fl_on_proposal(f, ev, &r);
	else if (type == CONS_DECIDED)
		fl_on_decided(f, ev, &r);
	else
		strata_node_bad_payload(f->m.node, &f->m, ev->peer, "flood: unknown message type");
}

/* upon event <P, Crash | p> do correct := correct \ {p}; (then every live instance's
 * round condition is re-evaluated) */
static void fl_on_crash(struct flood *f, uint32_t q)
{
	cons_tab_crash(&f->tab, q);
	for (size_t k = 0; k < f->tab.nlive;) {
		struct fl_inst *i = (struct fl_inst *)f->tab.live[k];
		if (!fl_try(f, i))
			k++; /* a decided instance was swapped out of slot k: look at k again */
	}
}

static void fl_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct flood *f = (struct flood *)m;
	struct strata_event d;
	switch (ev->type) {
	case STRATA_EV_DELIVER:
		if (cons_unwrap(m, &f->tab.beb, ev, &d)) {
			fl_recv(f, &d);
			strata_msg_unref(d.msg);
		}
		break;
	case STRATA_EV_CRASH:
		if (ev->peer >= 1 && ev->peer <= f->n)
			fl_on_crash(f, ev->peer);
		break;
	case STRATA_EV_RESTORE:
		if (ev->peer >= 1 && ev->peer <= f->n)
			cons_tab_restore(&f->tab, ev->peer);
		break;
	default:
		break;
	}
}

static int fl_propose_fn(struct strata_module *m, struct cons_inst *i, const uint8_t *v,
			 size_t len, bool by_client)
{
	return fl_propose((struct flood *)m, (struct fl_inst *)i, v, len, by_client);
}

static int fl_request(struct strata_module *m, const struct strata_request *req)
{
	struct flood *f = (struct flood *)m;
	return cons_request(&f->tab, req, cons_value_max(m->node, f->n), fl_propose_fn);
}

static void fl_destroy(struct strata_module *m)
{
	struct flood *f = (struct flood *)m;
	cons_tab_free(&f->tab);
	free(f);
}

static const struct strata_module_ops fl_ops = {
	.name = "flood", .handle = fl_handle, .request = fl_request, .destroy = fl_destroy,
};

struct strata_module *cons_flood_create(struct strata_node *n, char *err, size_t errlen)
{
	struct flood *f = calloc(1, sizeof(*f));
	if (!f || cons_tab_init(&f->tab, &f->m, sizeof(struct fl_inst)) != 0) {
		free(f);
		snprintf(err, errlen, "flood: out of memory");
		return NULL;
	}
	f->n = strata_node_n(n);
	f->tab.propose = fl_propose_fn;
	strata_node_add_module(n, &f->m, &fl_ops, strata_wire_id("flood"));
	if (cons_open_beb(n, &f->m, &f->tab.beb, false, err, errlen) != 0 ||
	    cons_need_fd(&f->m, "flood", err, errlen) != 0)
		return NULL; /* the node owns (and frees) the module */
	return &f->m;
}
