/* Randomized consensus with a large domain, book Alg. 5.14 "Randomized Consensus with Large
 * Domain" (module rcons), over randomized binary consensus (rbc.h, Alg. 5.12-5.13, with the
 * threshold coin) and uniform reliable broadcast.
 *
 * Specification (Module 5.1, regular consensus, any value domain):
 *   C1' Termination: with probability 1, every correct process eventually decides some value.
 *   C2 Validity: if a process decides v, then v was proposed by some process.
 *   C3 Integrity: no process decides twice.
 *   C4 Agreement: no two correct processes decide differently.
 * Model: fail-silent with randomization; N > 2f. Uses: BestEffortBroadcast beb, for the binary
 * instances bc.1, bc.2, ... and for the proposals, which travel by Majority-Ack Uniform Reliable
 * Broadcast (Alg. 3.5) run inside this module on the same beb instance: on the first copy of
 * [PROPOSAL, q, v] a process relays it, and delivers proposals[q] once more than N/2
 * processes relayed it (the node's urb module does not offer the stackable interface yet).
 *
 * The algorithm: every process broadcasts its proposal; once it has delivered N - f
 * proposals it runs the binary instances in order. Binary instance bc.r is about the
 * proposal of process l(r) = ((r - 1) mod N) + 1: a process proposes 1 to bc.r if it has
 * delivered l(r)'s proposal, else 0. The first bc.r that decides 1 decides the instance:
 * every process decides l(r)'s proposal (waiting until it is delivered). If bc.r decides 0
 * the processes move to bc.r + 1.
 *   Validity: bc.r decides 1 only if some process proposed 1 to it (binary validity), that
 *   is, delivered l(r)'s proposal, which l(r) proposed.
 *   Agreement: every process sees the same sequence of binary decisions, so the same first 1.
 *   Waiting is safe: the proposal was delivered by some process, so uniform reliable
 *   broadcast delivers it to every correct process (this is why the proposals use urb: a
 *   process that voted 1 may crash right after).
 *   Termination: once the proposals of the correct processes are delivered everywhere (some
 *   finite time), every binary instance about a correct process has only 1 proposed by the
 *   processes still alive and decides 1; the instances cycle over all processes, so one such
 *   instance comes. With the N - f wait, bc.1 usually decides 1 already.
 * Stated choices: the book's text is followed for the structure (rb of proposals, binary
 * instances in rank order deciding whether to take process l(r)'s proposal); the proposal
 * broadcast is uniform, the instances cycle past N, and a process that hears of an instance
 * first from a peer joins by broadcasting the first proposal it delivered as its own
 * (cons.h). Bounds: binary instances up to RC_AHEAD - 1 beyond the current one are buffered
 * (each engine buffers RB_AHEAD rounds, rbc.h); messages further ahead are dropped and
 * counted. Per instance: RC_AHEAD engines + N proposal references. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cons/cons.h"
#include "cons/rbc.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/stack.h"

#define RC_AHEAD 4u

struct rc_inst {
	struct cons_inst c;
	uint64_t sub;                 /* the current binary instance r (0 = not started) */
	uint64_t have;                /* processes whose proposal was delivered (bit q-1) */
	uint8_t prop[STRATA_MAX_NODES]; /* [q-1]: index + 1 into c.vals of q's proposal */
	uint64_t relayed;             /* urb: origins whose PROPOSAL this process relayed */
	uint64_t ack[STRATA_MAX_NODES]; /* urb: [q-1]: processes that relayed q's PROPOSAL */
	bool waiting;                 /* bc.sub decided 1, l(sub)'s proposal not delivered yet */
	struct rb_eng eng[RC_AHEAD];  /* bc.r in eng[r % RC_AHEAD], r = sub .. sub + RC_AHEAD-1 */
};

struct rcons {
	struct rb_mod h;            /* m, tab (its beb carries the binary instances), coin */
	uint32_t n, f;
	uint64_t dropped_ahead;
};

struct rc_arg {
	struct rcons *rc;
	struct rc_inst *i;
	uint64_t r;
};

enum { RC_PROPOSAL = 1, RC_BINARY = 2 };

static void rc_send(void *arg, const struct strata_msg *body)
{
	struct rc_arg *a = arg;
	struct strata_wr w;
	strata_wr_init(&w, body->len + 12);
	strata_wr_u8(&w, RC_BINARY);
	strata_wr_u64(&w, a->r);
	strata_wr_raw(&w, body->data, body->len);
	int err;
	struct strata_msg *msg = strata_wr_take_msg(&w, &err);
	if (!msg)
		return;
	cons_beb_broadcast(&a->rc->h.tab.beb, a->i->c.id, msg);
	strata_msg_unref(msg);
}

static void rc_engine_decided(void *arg, int v, uint64_t round)
{
	/* recorded in the engine; rc_advance acts on it once the handler returns */
	(void)arg;
	(void)v;
	(void)round;
}

static void rc_ctx(struct rcons *rc, struct rc_inst *i, uint64_t r, struct rc_arg *a,
		   struct rb_ctx *c)
{
	*a = (struct rc_arg){ rc, i, r };
	*c = (struct rb_ctx){ .m = &rc->h.m, .coin = &rc->h.coin, .n = rc->n, .f = rc->f,
			      .send = rc_send, .decided = rc_engine_decided, .arg = a };
	int k = snprintf((char *)c->name, sizeof(c->name), "rcons|%llu|%llu|",
			 (unsigned long long)i->c.id, (unsigned long long)r);
	c->name_len = (size_t)k;
}

static uint32_t leader_of(const struct rcons *rc, uint64_t r)
{
	return (uint32_t)((r - 1) % rc->n) + 1;
}

static void rc_free_engines(struct rc_inst *i)
{
	for (unsigned k = 0; k < RC_AHEAD; k++)
		rb_free(&i->eng[k]);
}

/* Starts bc.r: propose 1 if l(r)'s proposal was delivered, else 0. */
static void rc_start(struct rcons *rc, struct rc_inst *i)
{
	uint64_t r = i->sub;
	uint32_t l = leader_of(rc, r);
	int v = (i->have >> (l - 1)) & 1u ? 1 : 0;
	struct rc_arg a;
	struct rb_ctx c;
	rc_ctx(rc, i, r, &a, &c);
	strata_trace(rc->h.m.node, "rcons", "instance %llu: bc.%llu about process %u -> propose %d",
		     (unsigned long long)i->c.id, (unsigned long long)r, l, v);
	rb_propose(&i->eng[r % RC_AHEAD], &c, v);
}

/* upon round >= 1 ∧ bc.round decided do ... (until no rule applies). Returns true when the
 * instance decided (it is freed). */
static bool rc_advance(struct rcons *rc, struct rc_inst *i)
{
	/* upon #(proposals) >= N - f ∧ round = 0 do round := 1; propose to bc.1 */
	if (i->sub == 0) {
		if (!i->c.proposed || (uint32_t)__builtin_popcountll(i->have) < rc->n - rc->f)
			return false;
		i->sub = 1;
		rc_start(rc, i);
	}
	for (;;) {
		struct rb_eng *e = &i->eng[i->sub % RC_AHEAD];
		if (!e->decided)
			return false;
		if (e->decision == 1) {
			/* upon <bc.round, Decide | 1> do wait for proposals[l(round)]; decide it */
			uint32_t l = leader_of(rc, i->sub);
			if (!((i->have >> (l - 1)) & 1u)) {
				i->waiting = true;
				return false;
			}
			struct strata_msg *v = strata_msg_ref(i->c.vals[i->prop[l - 1] - 1]);
			uint64_t r = i->sub;
			rc_free_engines(i);
			cons_decide(&rc->h.tab, &i->c, v->data, v->len, r);
			strata_msg_unref(v);
			return true;
		}
		/* upon <bc.round, Decide | 0> do round := round + 1; propose to bc.round */
		rb_free(e);
		rb_init(e); /* now bc.sub + RC_AHEAD's engine */
		i->sub++;
		i->waiting = false;
		rc_start(rc, i);
	}
}

/* urb (Alg. 3.5): trigger <beb, Broadcast | [PROPOSAL, q, v]> (a broadcast or a relay) */
static int rc_urb_send(struct rcons *rc, struct rc_inst *i, uint32_t q, const uint8_t *v,
		       size_t len)
{
	struct strata_wr w;
	strata_wr_init(&w, len + 24);
	strata_wr_u8(&w, RC_PROPOSAL);
	strata_wr_u64(&w, q);
	strata_wr_bytes(&w, v, len);
	int err;
	struct strata_msg *msg = strata_wr_take_msg(&w, &err);
	if (!msg)
		return STRATA_ENOMEM;
	i->relayed |= 1ull << (q - 1);
	cons_beb_broadcast(&rc->h.tab.beb, i->c.id, msg);
	strata_msg_unref(msg);
	return 0;
}

/* upon event <c, Propose | v> do trigger <urb, Broadcast | [PROPOSAL, v]>; */
static int rc_propose(struct strata_module *m, struct cons_inst *ci, const uint8_t *v, size_t len,
		      bool by_client)
{
	struct rcons *rc = (struct rcons *)m;
	struct rc_inst *i = (struct rc_inst *)ci;
	cons_out_propose(&rc->h.tab, &i->c, v, len, by_client);
	return rc_urb_send(rc, i, strata_node_id(m->node), v, len);
}

/* urb, Alg. 3.5: upon event <beb, Deliver | p, [PROPOSAL, q, v]> do
 *     ack[q] := ack[q] ∪ {p}; if q's message not yet relayed: relay it;
 * upon exists q such that candeliver (#ack[q] > N/2) ∧ not delivered do
 *     trigger <urb, Deliver | q, v>, that is:
 * upon event <urb, Deliver | q, [PROPOSAL, v]> do proposals[q] := v; */
static void rc_on_proposal(struct rcons *rc, struct rc_inst *i, uint32_t p, struct strata_rd *r)
{
	uint64_t q64 = strata_rd_u64(r);
	const uint8_t *v;
	size_t len = strata_rd_bytes(r, &v, SIZE_MAX);
	if (strata_rd_done(r) != 0 || q64 < 1 || q64 > rc->n) {
		strata_node_bad_payload(rc->h.m.node, &rc->h.m, p, "rcons: malformed PROPOSAL");
		return;
	}
	uint32_t q = (uint32_t)q64;
	if ((i->have >> (q - 1)) & 1u)
		return; /* delivered already */
	int k = cons_val_index(&i->c, v, len);
	if (k < 0) {
		strata_node_bad_payload(rc->h.m.node, &rc->h.m, p, "rcons: too many distinct values");
		return;
	}
	if (i->prop[q - 1] && i->prop[q - 1] != (uint8_t)(k + 1)) {
		strata_node_bad_payload(rc->h.m.node, &rc->h.m, p, "rcons: two proposals of one process");
		return;
	}
	i->prop[q - 1] = (uint8_t)(k + 1);
	i->ack[q - 1] |= 1ull << (p - 1);
	if (!((i->relayed >> (q - 1)) & 1u)) {
		struct strata_msg *val = strata_msg_ref(i->c.vals[k]);
		rc_urb_send(rc, i, q, val->data, val->len);
		strata_msg_unref(val);
	}
	if (2u * (uint32_t)__builtin_popcountll(i->ack[q - 1]) <= rc->n)
		return;
	i->have |= 1ull << (q - 1);
	if (!i->c.proposed) {
		strata_trace(rc->h.m.node, "rcons", "instance %llu first heard of %u's proposal -> join with it",
			     (unsigned long long)i->c.id, q);
		struct strata_msg *val = strata_msg_ref(i->c.vals[k]);
		rc_propose(&rc->h.m, &i->c, val->data, val->len, false);
		strata_msg_unref(val);
	}
	rc_advance(rc, i);
}

/* A binary instance's message: [r][engine message]. */
static void rc_on_binary(struct rcons *rc, struct rc_inst *i, const struct strata_event *ev,
			 struct strata_rd *rd)
{
	struct strata_rd r = *rd;
	uint64_t sub = strata_rd_u64(&r);
	if (!strata_rd_ok(&r) || sub == 0) {
		strata_node_bad_payload(rc->h.m.node, &rc->h.m, ev->peer, "rcons: malformed message");
		return;
	}
	uint64_t base = i->sub ? i->sub : 1;
	if (sub < base)
		return; /* a binary instance this process is done with */
	if (sub >= base + RC_AHEAD) {
		rc->dropped_ahead++;
		return;
	}
	struct rc_arg a;
	struct rb_ctx c;
	rc_ctx(rc, i, sub, &a, &c);
	rb_recv(&i->eng[sub % RC_AHEAD], &c, ev->peer, &r);
	rc_advance(rc, i);
}

static void rc_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct rcons *rc = (struct rcons *)m;
	struct strata_event d;
	if (ev->type != STRATA_EV_DELIVER || !cons_unwrap(m, &rc->h.tab.beb, ev, &d))
		return;
	struct rc_inst *i = (struct rc_inst *)cons_tab_get_peer(&rc->h.tab, d.instance, d.peer);
	if (i) {
		struct strata_rd r;
		strata_rd_init(&r, d.msg->data, d.msg->len);
		uint8_t kind = strata_rd_u8(&r);
		if (kind == RC_PROPOSAL)
			rc_on_proposal(rc, i, d.peer, &r);
		else if (kind == RC_BINARY)
			rc_on_binary(rc, i, &d, &r);
		else
			strata_node_bad_payload(m->node, m, d.peer, "rcons: unknown message kind");
	}
	strata_msg_unref(d.msg);
}

static int rc_request(struct strata_module *m, const struct strata_request *req)
{
	struct rcons *rc = (struct rcons *)m;
	return cons_request(&rc->h.tab, req, cons_value_max(m->node, 1), rc_propose);
}

static void rc_destroy(struct strata_module *m)
{
	struct rcons *rc = (struct rcons *)m;
	for (size_t k = 0; k < rc->h.tab.nlive; k++)
		rc_free_engines((struct rc_inst *)rc->h.tab.live[k]);
	cons_tab_free(&rc->h.tab);
	free(rc);
}

static const struct strata_module_ops rc_ops = {
	.name = "rcons", .handle = rc_handle, .request = rc_request, .destroy = rc_destroy,
};

struct strata_module *cons_rcons_create(struct strata_node *n, char *err, size_t errlen)
{
	struct rcons *rc = calloc(1, sizeof(*rc));
	if (!rc || cons_tab_init(&rc->h.tab, &rc->h.m, sizeof(struct rc_inst)) != 0) {
		free(rc);
		snprintf(err, errlen, "rcons: out of memory");
		return NULL;
	}
	rc->n = strata_node_n(n);
	rc->f = strata_node_config(n)->f;
	rc->h.tab.propose = rc_propose;
	int rc_ = rb_coin_init(&rc->h.coin, n, "rcons", err, errlen);
	if (rc_) {
		cons_tab_free(&rc->h.tab);
		free(rc);
		return NULL;
	}
	strata_node_add_module(n, &rc->h.m, &rc_ops, strata_wire_id("rcons"));
	if (cons_open_beb(n, &rc->h.m, &rc->h.tab.beb, false, err, errlen) != 0)
		return NULL; /* the node owns (and frees) the module */
	return &rc->h.m;
}
