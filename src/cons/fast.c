/* Uniform fast consensus, book Alg. 6.4 "From Uniform Consensus to Uniform Fast Consensus"
 * (modules fast-uhier and fast-uflood: the same algorithm over uhier, Alg. 5.4, or uflood,
 * Alg. 5.3).
 *
 * Specification (Module 6.3, uniform fast consensus):
 *   Request:    <ufc, Propose | v>
 *   Indication: <ufc, Decide | v>
 *   UFC1 Fast termination: if all processes that propose a value propose the same value, then
 *        every correct process decides some value after one communication step. Otherwise,
 *        every correct process eventually decides some value.
 *   UFC2 Validity: if a process decides v, then v was proposed by some process.
 *   UFC3 Integrity: no process decides twice.
 *   UFC4 Uniform agreement: no two processes decide differently.
 *
 * Implementation (uses BestEffortBroadcast beb; UniformConsensus uc), f = ⌊(N - 1) / 3⌋:
 *   upon <ufc, Init> do proposal := ⊥; decision := ⊥; val := [⊥]^N;
 *   upon <ufc, Propose | v> do proposal := v; trigger <beb, Broadcast | [PROPOSAL, v]>;
 *   upon <beb, Deliver | p, [PROPOSAL, v]> do
 *       val[p] := v;
 *       if #(val) = N - f then
 *           if exists v such that #({p | val[p] = v}) = N - f then     (fast path)
 *               decision := v; trigger <ufc, Decide | v>;
 *               trigger <uc, Propose | v>;
 *           else
 *               if exists v such that #({p | val[p] = v}) >= N - 2f then proposal := v;
 *               trigger <uc, Propose | proposal>;
 *   upon <uc, Decide | v> do
 *       if decision = ⊥ then decision := v; trigger <ufc, Decide | v>;
 *
 * Why N > 3f. If p decides v on the fast path, N - f processes sent v; any other process q
 * that reaches N - f values shares at least N - 2f senders with p, so it sees v at least
 * N - 2f times, and at most f other values: no other value reaches N - 2f when N - 2f > f,
 * i.e. N > 3f. Every process that goes to uc then proposes v, uc's validity leaves only v, and
 * uniform agreement holds across the two paths. The fast path never waits for more than N - f
 * proposals, so at most f crashes keep termination.
 *
 * Departures and choices:
 *   - f is not configured: it is the largest the algorithm allows, ⌊(N - 1) / 3⌋ (N = 4, 5, 6:
 *     f = 1; N = 3: f = 0, every process must propose). More than f crashes can block an
 *     instance (fewer than N - f proposals arrive); they never break agreement or validity:
 *     the argument above counts messages, not crashes.
 *   - A process that decides on the fast path also proposes its decision to uc (the book's
 *     uc terminates only once every correct process proposes, and the processes on the slow
 *     path wait for uc). Its uc decision is then ignored: by agreement it is the same value.
 *   - The book takes the first N - f PROPOSAL messages and then empties val; here the check
 *     runs once, on the (N - f)-th distinct sender, and later PROPOSALs are counted only for
 *     joining.
 *   - Joining (cons.h): a process that hears a PROPOSAL for an instance no client proposed on
 *     at this node proposes the value it carries. A value that was proposed: validity is kept,
 *     and if one client proposes, every process proposes its value (and all decide fast).
 *   - A Decide that uc indicated before this module existed at the node is fetched from uc's
 *     decided cache when this module proposes there.
 *   - It serves clients (instance space 0) only: its own instances already map onto a space of
 *     uc, so an upper module (total-order broadcast) cannot stand on it; `[tob] consensus`
 *     refuses it and a Propose from an upper gets EINVAL.
 *
 * Instance i is consensus instance (CONS_SPACE_FAST << 48) | i of the node's uc, which owns
 * that instance space. Model and failure detector: those of uc (fail-stop, P). Faithful
 * otherwise. Memory: the instance table (cons.h: CONS_LIVE_MAX undecided, each with one value
 * index per process and at most N distinct values) plus uc's.
 * Wire: beb payload [varint instance][u8 PROPOSAL][bytes v].
 * Output on a decision (cons.h): STRATA_OUT_DELIVER, b = 1 when decided on the fast path, 0
 * when through uc; text "fast-path 1" / "fast-path 0". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bcast/bcast.h"
#include "cons/cons.h"
#include "cons/variants.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"

struct fast_inst {
	struct cons_inst c;
	uint8_t val[STRATA_MAX_NODES + 1]; /* val[p]: 1 + index in c.vals, 0 = ⊥ */
	uint32_t nrecv;                    /* #(val) */
	int prop;                          /* index of this process's proposal (once proposed) */
	bool checked;                      /* the #(val) = N - f step ran */
};

struct fast {
	struct cons_mod c; /* c.tab.beb is "beb"; the instance table */
	struct strata_module *uc;
	uint32_t n, f;
	uint32_t test_fast_quorum; /* TEST ONLY: decide fast on this many equal values (0: N - f) */
	uint64_t ndecided_fast, ndecided_uc, refused;
};

static uint64_t uc_inst(uint64_t id)
{
	return CONS_SPACE_FAST << CONS_SPACE_BITS | id;
}

/* trigger <ufc, Decide | v> (i is freed) */
static void fast_decide(struct fast *s, struct fast_inst *i, const uint8_t *v, size_t len,
			bool fast)
{
	if (fast)
		s->ndecided_fast++;
	else
		s->ndecided_uc++;
	cons_decide(&s->c.tab, &i->c, v, len, fast ? 1 : 0);
}

/* trigger <uc, Propose | v> for instance id. If uc decided that instance before this module
 * could hear it and i is still undecided here, i is decided now (and freed): returns true. */
static bool fast_uc_propose(struct fast *s, uint64_t id, struct fast_inst *i,
			    const struct strata_msg *v)
{
	struct strata_msg *got;
	int rc = cons_lower_propose_fetch(s->uc, uc_inst(id), v->data, v->len, &got);
	if (got) {
		bool done = i != NULL;
		if (i)
			fast_decide(s, i, got->data, got->len, false);
		strata_msg_unref(got);
		return done;
	}
	if (rc) {
		s->refused++;
		strata_trace(s->c.m.node, s->c.m.ops->name, "instance %llu: uc propose refused: %s",
			     (unsigned long long)id, strata_strerror(rc));
	}
	return false;
}

/* if #(val) = N - f then ... (once per instance). Frees i when it decides. */
static void fast_check(struct fast *s, struct fast_inst *i)
{
	if (i->checked || i->nrecv < s->n - s->f)
		return;
	i->checked = true;
	uint32_t count[CONS_VALS_MAX] = { 0 };
	for (uint32_t p = 1; p <= s->n; p++)
		if (i->val[p])
			count[i->val[p] - 1]++;
	uint32_t quorum = s->test_fast_quorum ? s->test_fast_quorum : s->n - s->f;
	int best = -1;
	for (uint32_t k = 0; k < i->c.nvals; k++)
		if (best < 0 || count[k] > count[best])
			best = (int)k;
	STRATA_ASSERT(best >= 0);
	uint64_t id = i->c.id;
	if (count[best] >= quorum) {
		/* Fast path: decision := v; <ufc, Decide | v>; <uc, Propose | v>. */
		struct strata_msg *v = strata_msg_ref(i->c.vals[best]);
		strata_trace(s->c.m.node, s->c.m.ops->name,
			     "instance %llu: %u of %u PROPOSALs equal -> decide on the fast path",
			     (unsigned long long)id, count[best], i->nrecv);
		fast_decide(s, i, v->data, v->len, true);
		fast_uc_propose(s, id, NULL, v);
		strata_msg_unref(v);
		return;
	}
	/* if exists v with #({p | val[p] = v}) >= N - 2f then proposal := v (unique: N > 3f) */
	if (count[best] >= s->n - 2 * s->f)
		i->prop = best;
	struct strata_msg *v = strata_msg_ref(i->c.vals[i->prop]);
	strata_trace(s->c.m.node, s->c.m.ops->name,
		     "instance %llu: at most %u of %u PROPOSALs equal -> uc propose",
		     (unsigned long long)id, count[best], i->nrecv);
	fast_uc_propose(s, id, i, v);
	strata_msg_unref(v);
}

/* upon <ufc, Propose | v> do proposal := v; trigger <beb, Broadcast | [PROPOSAL, v]> */
static int fast_propose(struct strata_module *m, struct cons_inst *c, const uint8_t *v,
			size_t len, bool by_client)
{
	struct fast *s = (struct fast *)m;
	struct fast_inst *i = (struct fast_inst *)c;
	if (c->id >> CONS_SPACE_BITS)
		return STRATA_EINVAL; /* an upper module's instance: see the header */
	int k = cons_val_index(c, v, len);
	if (k < 0)
		return STRATA_EFULL;
	struct strata_msg *msg = cons_enc_value(CONS_PROPOSAL, v, len);
	if (!msg)
		return STRATA_ENOMEM;
	i->prop = k;
	cons_out_propose(&s->c.tab, c, v, len, by_client);
	cons_beb_broadcast(&s->c.tab.beb, c->id, msg);
	strata_msg_unref(msg);
	return 0;
}

/* upon <beb, Deliver | p, [PROPOSAL, v]> do val[p] := v; ... */
static void fast_on_proposal(struct fast *s, uint32_t p, uint64_t id, struct strata_rd *r)
{
	const uint8_t *v;
	size_t len = strata_rd_bytes(r, &v, SIZE_MAX);
	if (!strata_rd_ok(r) || r->off != r->len) {
		strata_node_bad_payload(s->c.m.node, &s->c.m, p, "fast: malformed PROPOSAL");
		return;
	}
	struct fast_inst *i = (struct fast_inst *)cons_tab_get_peer(&s->c.tab, id, p);
	if (!i)
		return;
	if (!i->c.proposed) {
		strata_trace(s->c.m.node, s->c.m.ops->name,
			     "instance %llu first heard from %u -> join, proposing its value",
			     (unsigned long long)id, p);
		if (fast_propose(&s->c.m, &i->c, v, len, false) != 0)
			return;
	}
	if (i->val[p])
		return; /* a duplicate: one PROPOSAL per process */
	int k = cons_val_index(&i->c, v, len);
	if (k < 0) {
		strata_node_bad_payload(s->c.m.node, &s->c.m, p, "fast: more distinct values than processes");
		return;
	}
	i->val[p] = (uint8_t)(k + 1);
	i->nrecv++;
	fast_check(s, i);
}

/* upon <uc, Decide | v> do if decision = ⊥ then decision := v; trigger <ufc, Decide | v> */
static void fast_on_uc_decide(struct fast *s, const struct strata_event *ev)
{
	uint64_t id;
	const struct cons_decided *d = cons_upper_decided(ev, s->uc, CONS_SPACE_FAST, &id);
	struct cons_inst *c;
	if (!d || cons_tab_get(&s->c.tab, id, &c) != CONS_GOT)
		return; /* decided already (the fast path), or outside the window */
	fast_decide(s, (struct fast_inst *)c, d->value, d->len, false);
}

static void fast_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct fast *s = (struct fast *)m;
	struct strata_event d;
	if (cons_unwrap(m, &s->c.tab.beb, ev, &d)) {
		struct strata_rd r;
		strata_rd_init(&r, d.msg->data, d.msg->len);
		if (strata_rd_u8(&r) == CONS_PROPOSAL)
			fast_on_proposal(s, d.peer, d.instance, &r);
		else
			strata_node_bad_payload(m->node, m, d.peer, "fast: unknown message type");
		strata_msg_unref(d.msg);
		return;
	}
	fast_on_uc_decide(s, ev);
}

static int fast_request(struct strata_module *m, const struct strata_request *req)
{
	struct fast *s = (struct fast *)m;
	return cons_request(&s->c.tab, req, cons_value_max(m->node, s->n), fast_propose);
}

static void fast_destroy(struct strata_module *m)
{
	struct fast *s = (struct fast *)m;
	cons_tab_free(&s->c.tab);
	free(s);
}

static const struct strata_module_ops fast_uhier_ops = {
	.name = "fast-uhier", .handle = fast_handle, .request = fast_request, .destroy = fast_destroy,
};

static const struct strata_module_ops fast_uflood_ops = {
	.name = "fast-uflood", .handle = fast_handle, .request = fast_request,
	.destroy = fast_destroy,
};

static struct strata_module *fast_create(struct strata_node *n, const struct strata_module_ops *ops,
					 uint16_t wire, const char *uc, char *err, size_t errlen)
{
	struct fast *s = calloc(1, sizeof(*s));
	if (!s || cons_tab_init(&s->c.tab, &s->c.m, sizeof(struct fast_inst)) != 0) {
		free(s);
		snprintf(err, errlen, "%s: out of memory", ops->name);
		return NULL;
	}
	s->n = strata_node_n(n);
	s->f = (s->n - 1) / 3;
	s->c.tab.round_name = "fast-path";
	s->c.tab.propose = fast_propose;
	strata_node_add_module(n, &s->c.m, ops, wire);
	if (bcast_open(n, "beb", &s->c.m, 0, &s->c.tab.beb, err, errlen) != 0 ||
	    cons_lower_open_space(n, uc, CONS_SPACE_FAST, &s->c.m, &s->uc, err, errlen) != 0)
		return NULL; /* the node owns (and frees) the module */
	return &s->c.m;
}

struct strata_module *var_fast_uhier_create(struct strata_node *n, char *err, size_t errlen)
{
	return fast_create(n, &fast_uhier_ops, VAR_WIRE_FAST_UHIER, "uhier", err, errlen);
}

struct strata_module *var_fast_uflood_create(struct strata_node *n, char *err, size_t errlen)
{
	return fast_create(n, &fast_uflood_ops, VAR_WIRE_FAST_UFLOOD, "uflood", err, errlen);
}

void var_fast_test_quorum(struct strata_module *m, uint32_t quorum)
{
	((struct fast *)m)->test_fast_quorum = quorum;
}
