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
 * when through uc; text "fast-path 1" / "fast-path 0".
 *
 * ---- fast-sbc: book Alg. 6.5 "From Byzantine Consensus to Fast Byzantine Consensus" ----
 * The same structure over strong Byzantine consensus (sbc.c, Alg. 5.20, over bldc, Alg. 5.19).
 * Specification (Module 6.4, fast Byzantine consensus, instance fbc): fbc's Propose/Decide;
 *   FBC1 Fast termination: if all correct processes propose the same value, then every correct
 *        process decides some value after one communication step. Otherwise, every correct
 *        process eventually decides some value.
 *   FBC2 Strong validity: if all correct processes propose the same value v, then no correct
 *        process decides a value different from v; otherwise, a correct process may only
 *        decide a value that was proposed by some correct process or □.
 *   FBC3 Integrity: no correct process decides twice.
 *   FBC4 Agreement: no two correct processes decide differently.
 * Model fail-noisy-arbitrary (sbc's), f the cluster's, resilience N > 5f (the constructor
 * refuses N <= 5f and says why). The differences from Alg. 6.4:
 *   - PROPOSALs go over authenticated perfect links (al), not beb (a Byzantine process speaks
 *     only in its own name; nothing needs a signature at this layer);
 *   - the fallback: upon N - f PROPOSALs, all equal to v: decide v (fast) and propose v to sbc;
 *     else, if some v appears at least N - 3f times, propose v to sbc, else the own proposal.
 *   - the decision of sbc is the decision, □ (the empty value) included.
 * Why N > 5f and strong validity underneath. If a correct p decides v fast, N - f processes
 * sent v to p, at least N - 2f of them correct, and a correct process sends one value to all.
 * A correct q holds N - f PROPOSALs, missing at most f processes: at least N - 3f are v from
 * correct processes, and any other value comes from at most f Byzantine plus f correct
 * processes p did not count: at most 2f. N - 3f > 2f iff N > 5f, so v is the unique value held
 * N - 3f times (two values cannot both reach N - 3f among N - f when N > 5f) and every correct
 * process proposes v to sbc. Only strong validity then makes sbc decide v: over bldc (weak
 * validity) a Byzantine leader's value can be decided (docs/consensus-variants.md: N = 6,
 * f = 1; sim_cons_sbc's broken-fast-over-bldc shows it). One step: N - f correct processes
 * suffice, so the fast path survives f silent Byzantine processes.
 * Byzantine test behaviours: silent sends no PROPOSAL; equivocate sends v to odd processes and
 * "z'"v to even ones and proposes "z'"v to the consensus below at once.
 * Sends the links refuse (fast-sbc; fast-uhier and fast-uflood send over beb, which owes them):
 * a correct process's PROPOSAL the links refuse (the backlog toward q full) is one q never gets,
 * and nothing repeats it; with f processes silent besides, q never holds N - f PROPOSALs, never
 * decides nor proposes to sbc, and sbc, which waits for N - f processes' proposals, stops at
 * every process. It is owed to q and sent again, in order, when the backlog has room (links.h,
 * strata_pl_owed, queued): per peer at most FAST_OWED_MSGS PROPOSALs (one per instance, for the
 * CONS_LIVE_MAX undecided here and as many decided while owed) and FAST_OWED_BYTES of payload
 * (backlog_bytes if larger); one beyond is dropped (lost as before), counted and traced. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bcast/bcast.h"
#include "cons/cons.h"
#include "cons/variants.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"
#include "links/links.h"

#define FAST_OWED_MSGS (2 * CONS_LIVE_MAX)
#define FAST_OWED_BYTES (64u << 20)
#define FAST_TOK_OWED 1 /* the timer that sends owed PROPOSALs again */

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
	bool byz;        /* Alg. 6.5 over sbc: al instead of beb, adoption on N - 3f */
	uint32_t adopt;  /* the fallback adopts a value held this many times (N - 2f or N - 3f) */
	uint32_t test_fast_quorum;
	bool test_equivocate; /* TEST ONLY: fast-sbc's equivocation without the node's behaviour */ /* TEST ONLY: decide fast on this many equal values (0: N - f) */
	uint64_t ndecided_fast, ndecided_uc, refused;
	struct strata_pl_owed *owed; /* fast-sbc: PROPOSALs the links refused (see the top) */
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
	/* if exists v with #({p | val[p] = v}) >= N - 2f then proposal := v (unique: N > 3f);
	 * Alg. 6.5: N - 3f (unique: N > 5f) */
	if (count[best] >= s->adopt)
		i->prop = best;
	struct strata_msg *v = strata_msg_ref(i->c.vals[i->prop]);
	strata_trace(s->c.m.node, s->c.m.ops->name,
		     "instance %llu: at most %u of %u PROPOSALs equal -> uc propose",
		     (unsigned long long)id, count[best], i->nrecv);
	fast_uc_propose(s, id, i, v);
	strata_msg_unref(v);
}

/* Alg. 6.5: forall q do trigger <al, Send | q, [PROPOSAL, v]> (and the test behaviours). */
static void fast_al_send(struct fast *s, uint64_t id, struct strata_msg *msg)
{
	enum strata_byz byz = strata_node_byz(s->c.m.node);
	if (byz == STRATA_BYZ_SILENT)
		return;
	if (byz != STRATA_BYZ_EQUIVOCATE && !s->test_equivocate) {
		for (uint32_t q = 1; q <= s->n; q++) {
			if (!s->owed)
				(void)strata_pl_send(&s->c.m, q, id, msg); /* refused: lost */
			else
				(void)strata_pl_owed_send(s->owed, q, id, msg); /* refused: owed */
		}
		return;
	}
	/* TEST ONLY behaviour: v to odd processes, z'v to even ones, and z'v to the consensus */
	struct strata_rd r;
	const uint8_t *v;
	strata_rd_init(&r, msg->data, msg->len);
	(void)strata_rd_u8(&r);
	size_t len = strata_rd_bytes(&r, &v, SIZE_MAX);
	char alt[128];
	int al = snprintf(alt, sizeof alt, "z'%.*s", (int)(len > 100 ? 100 : len), (const char *)v);
	struct strata_msg *other = cons_enc_value(CONS_PROPOSAL, (const uint8_t *)alt, (size_t)al);
	struct strata_msg *own = strata_msg_new(alt, (size_t)al);
	for (uint32_t q = 1; q <= s->n; q++)
		if (q % 2 || other)
			(void)strata_pl_send(&s->c.m, q, id, q % 2 ? msg : other);
	if (own)
		fast_uc_propose(s, id, NULL, own);
	if (other)
		strata_msg_unref(other);
	if (own)
		strata_msg_unref(own);
}

/* upon <ufc, Propose | v> do proposal := v; trigger <beb, Broadcast | [PROPOSAL, v]> */
static int fast_propose(struct strata_module *m, struct cons_inst *c, const uint8_t *v,
			size_t len, bool by_client)
{
	struct fast *s = (struct fast *)m;
	struct fast_inst *i = (struct fast_inst *)c;
	if (c->id >> CONS_SPACE_BITS || (s->byz && len == 0))
		return STRATA_EINVAL; /* an upper module's instance: see the header; □ */
	int k = cons_val_index(c, v, len);
	if (k < 0)
		return STRATA_EFULL;
	struct strata_msg *msg = cons_enc_value(CONS_PROPOSAL, v, len);
	if (!msg)
		return STRATA_ENOMEM;
	i->prop = k;
	cons_out_propose(&s->c.tab, c, v, len, by_client);
	if (!s->byz)
		cons_beb_broadcast(&s->c.tab.beb, c->id, msg);
	else
		fast_al_send(s, c->id, msg);
	strata_msg_unref(msg);
	return 0;
}

/* The largest proposal: what one message carries, and for fast-sbc what sbc takes. */
static size_t fast_value_max(const struct fast *s)
{
	size_t max = cons_value_max(s->c.m.node, s->n);
	if (s->byz && !strcmp(s->uc->ops->name, "sbc") && cons_sbc_value_max(s->uc) < max)
		max = cons_sbc_value_max(s->uc);
	return max;
}

/* upon <beb, Deliver | p, [PROPOSAL, v]> do val[p] := v; ... */
static void fast_on_proposal(struct fast *s, uint32_t p, uint64_t id, struct strata_rd *r)
{
	const uint8_t *v;
	size_t len = strata_rd_bytes(r, &v, SIZE_MAX);
	if (!strata_rd_ok(r) || r->off != r->len ||
	    (s->byz && (len == 0 || len > fast_value_max(s)))) {
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
	if (ev->type == STRATA_EV_TIMER && ev->arg == FAST_TOK_OWED) {
		if (s->owed)
			strata_pl_owed_flush(s->owed);
		return;
	}
	if (s->byz && ev->type == STRATA_EV_PL_DELIVER && ev->msg) {
		struct strata_rd r;
		strata_rd_init(&r, ev->msg->data, ev->msg->len);
		if (ev->peer >= 1 && ev->peer <= s->n && strata_rd_u8(&r) == CONS_PROPOSAL &&
		    (ev->instance >> CONS_SPACE_BITS) == 0)
			fast_on_proposal(s, ev->peer, ev->instance, &r);
		else
			strata_node_bad_payload(m->node, m, ev->peer, "fast-sbc: malformed message");
		return;
	}
	if (!s->byz && cons_unwrap(m, &s->c.tab.beb, ev, &d)) {
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
	return cons_request(&s->c.tab, req, fast_value_max(s), fast_propose);
}

static void fast_destroy(struct strata_module *m)
{
	struct fast *s = (struct fast *)m;
	cons_tab_free(&s->c.tab);
	strata_pl_owed_free(s->owed);
	free(s);
}

static const struct strata_module_ops fast_uhier_ops = {
	.name = "fast-uhier", .handle = fast_handle, .request = fast_request, .destroy = fast_destroy,
};

static const struct strata_module_ops fast_uflood_ops = {
	.name = "fast-uflood", .handle = fast_handle, .request = fast_request,
	.destroy = fast_destroy,
};

static const struct strata_module_ops fast_sbc_ops = {
	.name = "fast-sbc", .handle = fast_handle, .request = fast_request, .destroy = fast_destroy,
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
	s->byz = ops == &fast_sbc_ops;
	uint64_t backlog = strata_node_config(n)->backlog_bytes;
	if (s->byz &&
	    !(s->owed = strata_pl_owed_new(n, &s->c.m, FAST_TOK_OWED, NULL, FAST_OWED_MSGS,
					   backlog > FAST_OWED_BYTES ? backlog : FAST_OWED_BYTES))) {
		cons_tab_free(&s->c.tab);
		free(s);
		snprintf(err, errlen, "%s: out of memory", ops->name);
		return NULL;
	}
	s->f = s->byz ? strata_node_config(n)->f : (s->n - 1) / 3;
	s->adopt = s->byz ? s->n - 3 * s->f : s->n - 2 * s->f;
	s->c.tab.round_name = "fast-path";
	s->c.tab.propose = fast_propose;
	strata_node_add_module(n, &s->c.m, ops, wire);
	if ((!s->byz && bcast_open(n, "beb", &s->c.m, 0, &s->c.tab.beb, err, errlen) != 0) ||
	    cons_lower_open_space(n, uc, CONS_SPACE_FAST, &s->c.m, &s->uc, err, errlen) != 0)
		return NULL; /* the node owns (and frees) the module */
	return &s->c.m;
}

static struct strata_module *fast_sbc_create(struct strata_node *n, const char *lower, char *err,
					     size_t errlen)
{
	uint32_t nn = strata_node_n(n), f = strata_node_config(n)->f;
	if (nn <= 5 * f) {
		snprintf(err, errlen,
			 "fast-sbc: needs N > 5f (N = %u, f = %u): a process that decides v in one "
			 "step must leave v held N - 3f times, and every other value at most 2f "
			 "times, at every correct process",
			 nn, f);
		return NULL;
	}
	return fast_create(n, &fast_sbc_ops, strata_wire_id("fast-sbc"), lower, err, errlen);
}

struct strata_module *var_fast_uhier_create(struct strata_node *n, char *err, size_t errlen)
{
	return fast_create(n, &fast_uhier_ops, strata_wire_id("fast-uhier"), "uhier", err, errlen);
}

struct strata_module *var_fast_uflood_create(struct strata_node *n, char *err, size_t errlen)
{
	return fast_create(n, &fast_uflood_ops, strata_wire_id("fast-uflood"), "uflood", err,
			   errlen);
}

void var_fast_test_quorum(struct strata_module *m, uint32_t quorum)
{
	((struct fast *)m)->test_fast_quorum = quorum;
}

struct strata_module *var_fast_sbc_create(struct strata_node *n, char *err, size_t errlen)
{
	return fast_sbc_create(n, "sbc", err, errlen);
}

struct strata_module *var_fast_sbc_test_over_bldc(struct strata_node *n, char *err, size_t errlen)
{
	return fast_sbc_create(n, "bldc", err, errlen);
}

void var_fast_test_no_owed(struct strata_module *m)
{
	if (((struct fast *)m)->owed)
		strata_pl_owed_test_lossy(((struct fast *)m)->owed);
}

uint64_t var_fast_test_owed(struct strata_module *m)
{
	struct strata_pl_owed_counts c = { 0 };
	if (((struct fast *)m)->owed)
		strata_pl_owed_counts(((struct fast *)m)->owed, &c);
	return c.refused;
}

void var_fast_test_equivocate(struct strata_module *m)
{
	((struct fast *)m)->test_equivocate = true;
}
