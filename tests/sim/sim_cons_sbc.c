/* Simulation suite for strong Byzantine consensus (Alg. 5.20, src/cons/sbc.c, over bldc) and
 * fast Byzantine consensus (Alg. 6.5, fast-sbc in src/cons/fast.c, over sbc), on the
 * simulator's authenticated links.
 *
 * sbc cases: N = 4 (f = 1, odd seeds) or N = 7 (f = 2, even seeds). fast-sbc cases: N = 6
 * (f = 1) or, one seed in four, N = 11 (f = 2): N > 5f. 1-3 consensus instances; on each, every
 * process (correct and Byzantine) proposes at the same instant (so no correct process joins
 * with a value it heard: what it proposes is its client's value). In half of the instances
 * every correct process proposes the same value, in the others each picks one of three.
 * f processes are Byzantine, the behaviour drawn per seed among: silent, equivocate (sbc:
 * signed v to odd and z'v to even processes; fast-sbc: v and z'v, and z'v to sbc at once; bldc:
 * two signed STATEs as leader, WRITE/ACCEPT split), replay, forge (bldc: forged COLLECTED),
 * badsig, lie-state, complain, old-epoch (bldc's behaviours), sbc-forge (its sbc proposes to
 * bldc a made-up proposal set, its bldc honest and without sbc's validity predicate: as
 * leader it offers that set to the others), and twins. Byzantine values start with 'z'.
 *   - Before stabilisation (1.5 s): loss 5-20 %, duplication up to 10 %, delays up to 20 ms
 *     with a 5 % tail of up to 200 ms, premature complaints (1/100 per 10 ms per process).
 *   - After it: no loss, delays up to 5 ms.
 * Checked at every decision of a correct process:
 *   integrity        - no correct process decides an instance twice;
 *   agreement        - no two correct processes decide an instance differently;
 *   strong validity  - if every correct process proposed v on the instance, the decision is
 *                      v; otherwise it is a correct process's proposal there, or □ (empty);
 * and at the end, termination: every correct process decided every instance (8 s bound).
 *   fast-sbc-one-step: no fault and no Byzantine process; 2-4 instances, every process
 *     proposes the same value at once; every process decides it on the fast path no later than
 *     the largest one-way delay after the proposals (instance 1 opens the link sessions and is
 *     not timed), in every seed.
 * Broken variants (expect_violation):
 *   broken-sbc-trusts-unsigned-set  correct processes install no validity predicate on bldc
 *       and check no signature of the decided set; node 1 (bldc's leader in epoch 0) is an
 *       sbc-forger: its made-up set is decided, strong validity fails.
 *   broken-fast-over-bldc  fast-sbc stacked directly on bldc (weak validity), N = 6, f = 1,
 *       node 1 (bldc's first leader) equivocates in fast-sbc only, every correct process proposes
 *       the same v: the counterexample of docs/consensus-variants.md (odd processes decide v
 *       fast, even ones go to bldc with v, which decides the leader's z'v): agreement fails
 *       (checked before strong validity, which fails too).
 *   broken-fast-sbc-never-fast  the fast path never taken: the one-step check fails.
 *   broken-sbc-predicate-rejects-all  sbc installs a predicate no set passes: bldc never
 *       proposes, the termination check fails.
 * Sends the links refuse (fast.c): fast-sbc-backlog, `[links] backlog_bytes` small, a calm
 * network, the f Byzantine processes silent; every process proposes one value on instance 1
 * (the link sessions open), then the link from a correct p to a correct q is cut and p's backlog
 * toward q filled to the last byte (lib/filler.h: the node's other traffic), and every process
 * proposes on instance 2: p's PROPOSAL to q is refused, and q, short of N - f PROPOSALs, can
 * neither decide nor propose to sbc (which then waits at every process). Owed, and sent when the
 * link heals 200 ms later, it lets q decide: termination. A seed where p owed nothing is vacuous.
 * broken-fast-sbc-backlog-no-owed (var_fast_test_no_owed: a refused PROPOSAL is lost) must fail
 * termination.
 * Sends the links refuse (sbc.c): sbc-backlog, the same with sbc (N = 4, f = 1 or N = 7, f = 2)
 * except that before instance 2 the links of a cycle through the correct processes are cut
 * (c1 -> c2, c2 -> c3, ..., ck -> c1, in a random order) and each ci's backlog toward its
 * successor filled: every correct process is one PROPOSAL short of N - f, none proposes to bldc,
 * no leader has a value and the instance stops everywhere unless the refused PROPOSALs are owed
 * and sent when the links heal 200 ms later. A seed where no correct process owed a PROPOSAL is
 * vacuous. broken-sbc-backlog-no-owed (cons_sbc_test_no_owed: a refused PROPOSAL is lost) must
 * fail termination. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cons/cons.h"
#include "cons/variants.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"
#include "fd/fd.h"
#include "lib/byz_harness.h"
#include "lib/filler.h"
#include "rt/sim/harness.h"
#include "rt/sim/sim.h"

#define MS BYZH_MS
#define MAXN BYZH_MAXN
#define MAXI 4
#define VMAX BYZH_VMAX
#define TICK_US (10 * MS)
#define GST_US (1500 * MS)
#define LIVENESS_MS 8000ull

enum variant { V_SBC = 0, V_SBC_TRUST, V_FAST, V_FAST_OVER_BLDC, V_ONE_STEP, V_NEVER_FAST,
	       V_REJECT_ALL, V_BACKLOG, V_BACKLOG_NO_OWED, V_SBC_BACKLOG, V_SBC_BACKLOG_NO_OWED };
enum hook { H_NONE = 0, H_SBC_FORGE, H_FAST_EQUIVOCATE };

static struct {
	unsigned long long decisions, fast, slow, box, onestep, owed;
} totals;

struct run {
	struct byzh h; /* roles, the simulation, whom each process trusts, the first violation */
	enum variant var;
	bool fast;
	const char *algo;
	uint16_t wire;
	enum hook hook[MAXN + 1];
	unsigned ninst;
	struct byzh_val prop[MAXN + 1][MAXI + 1]; /* what each correct process proposed */
	bool same[MAXI + 1];                       /* every correct proposal on it is one value */
	struct byzh_decs d;                        /* the correct processes' decisions */
};

static void build(struct sim *s, struct strata_node *n, void *arg)
{
	struct run *r = arg;
	(void)s;
	char err[256];
	uint32_t id = strata_node_id(n);
	struct strata_module *m;
	if (r->var == V_FAST_OVER_BLDC)
		m = var_fast_sbc_test_over_bldc(n, err, sizeof(err));
	else if (r->fast)
		m = var_fast_sbc_create(n, err, sizeof(err));
	else
		m = cons_sbc_create(n, err, sizeof(err));
	if (!m) {
		fprintf(stderr, "%s: %s\n", r->algo, err);
		abort();
	}
	if (r->hook[id] == H_FAST_EQUIVOCATE && r->fast)
		var_fast_test_equivocate(m);
	if (r->hook[id] == H_SBC_FORGE) {
		struct strata_module *sbc = r->fast ? strata_node_module_by_name(n, "sbc") : m;
		if (sbc)
			cons_sbc_test_forge(sbc);
	}
	if (r->var == V_NEVER_FAST)
		var_fast_test_quorum(m, STRATA_MAX_NODES + 1);
	if (r->var == V_SBC_TRUST && r->hook[id] == H_NONE)
		cons_sbc_test_trust(m);
	if (r->var == V_REJECT_ALL)
		cons_sbc_test_reject_all(m);
	if (r->var == V_BACKLOG || r->var == V_BACKLOG_NO_OWED || r->var == V_SBC_BACKLOG ||
	    r->var == V_SBC_BACKLOG_NO_OWED)
		sim_filler_add(n);
	if (r->var == V_BACKLOG_NO_OWED)
		var_fast_test_no_owed(m);
	if (r->var == V_SBC_BACKLOG_NO_OWED)
		cons_sbc_test_no_owed(m);
}

static void on_decide(struct run *r, uint32_t node, uint64_t inst, const uint8_t *v, size_t len,
		      uint64_t b)
{
	struct byzh *h = &r->h;
	uint64_t t = sim_now(h->s) / MS;
	if (inst < 1 || inst > r->ninst || len > VMAX) {
		byzh_fail(h, "t=%llums: node %u decided instance %llu (%zu bytes), which nobody "
			     "proposed",
			  (unsigned long long)t, node, (unsigned long long)inst, len);
		return;
	}
	if (r->d.decided[node][inst]) {
		byzh_fail(h, "t=%llums: integrity: node %u decided instance %llu twice",
			  (unsigned long long)t, node, (unsigned long long)inst);
		return;
	}
	totals.decisions++;
	if (r->fast)
		b == 1 ? totals.fast++ : totals.slow++;
	if (len == 0)
		totals.box++;
	byzh_decs_record(h, &r->d, node, inst, v, len, b);
	/* agreement first: a broken run that breaks both is reported as the book's counterexample
	 * has it (two correct processes decide differently) */
	uint32_t q = byzh_decs_other(h, &r->d, node, inst, v, len);
	if (q) {
		byzh_fail(h, "t=%llums: agreement: on instance %llu node %u decided \"%.*s\"%s, node %u "
			     "\"%.*s\"%s",
			  (unsigned long long)t, (unsigned long long)inst, q,
			  (int)r->d.val[q][inst].len, r->d.val[q][inst].v,
			  r->fast && r->d.b[q][inst] == 1 ? " (fast path)" : "", node, (int)len,
			  (const char *)v, r->fast && b == 1 ? " (fast path)" : "");
		return;
	}
	uint32_t c1 = 0;
	bool proposed_by_correct = false;
	for (q = 1; q <= h->n; q++) {
		if (!byzh_correct(h, q))
			continue;
		if (!c1)
			c1 = q;
		if (r->prop[q][inst].len == len && memcmp(r->prop[q][inst].v, v, len) == 0)
			proposed_by_correct = true;
	}
	const struct byzh_val *pv = &r->prop[c1][inst];
	if (r->same[inst] && (len != pv->len || memcmp(v, pv->v, len) != 0)) {
		byzh_fail(h, "t=%llums: strong validity: every correct process proposed \"%.*s\" on "
			     "instance %llu, node %u decided \"%.*s\"%s",
			  (unsigned long long)t, (int)pv->len, pv->v, (unsigned long long)inst, node,
			  (int)len, (const char *)v, b == 1 ? " (fast path)" : "");
		return;
	}
	if (!r->same[inst] && len != 0 && !proposed_by_correct) {
		byzh_fail(h, "t=%llums: strong validity: node %u decided \"%.*s\" on instance %llu, "
			     "neither a correct process's proposal nor □",
			  (unsigned long long)t, node, (int)len, (const char *)v,
			  (unsigned long long)inst);
		return;
	}
}

static void on_output(struct sim *s, uint32_t node, const struct strata_output *o, void *arg)
{
	struct run *r = arg;
	(void)s;
	if (node < 1 || node > r->h.n || byzh_on_trust(&r->h, node, o))
		return;
	if (o->module != r->wire || !byzh_correct(&r->h, node) || o->kind != STRATA_OUT_DELIVER)
		return;
	on_decide(r, node, o->a, o->data, o->len, o->b);
}

static void propose(struct run *r, uint32_t node, uint64_t inst, const char *v)
{
	if (byzh_correct(&r->h, node)) {
		r->prop[node][inst].len = strlen(v);
		memcpy(r->prop[node][inst].v, v, r->prop[node][inst].len);
	}
	byzh_propose(&r->h, node, r->algo, inst, v);
}

/* Termination is owed on every instance (every process proposes on each). */
static bool pending(void *arg, uint32_t p, uint64_t i)
{
	return !((const struct run *)arg)->d.decided[p][i];
}

/* Drawn per Byzantine process: a node behaviour, or a hook with the node honest otherwise. */
struct behaviour {
	enum strata_byz byz;
	enum hook hook;
	bool twin;
};

static const struct behaviour behaviours[] = {
	{ STRATA_BYZ_SILENT, H_NONE, false },	  { STRATA_BYZ_EQUIVOCATE, H_NONE, false },
	{ STRATA_BYZ_REPLAY, H_NONE, false },	  { STRATA_BYZ_FORGE, H_NONE, false },
	{ STRATA_BYZ_BADSIG, H_NONE, false },	  { STRATA_BYZ_LIE_STATE, H_NONE, false },
	{ STRATA_BYZ_COMPLAIN, H_NONE, false },	  { STRATA_BYZ_OLD_EPOCH, H_NONE, false },
	{ STRATA_BYZ_NONE, H_SBC_FORGE, false },  { STRATA_BYZ_NONE, H_FAST_EQUIVOCATE, false },
	{ STRATA_BYZ_NONE, H_NONE, true },
};

static struct run *setup(enum variant var, uint64_t seed, bool trace)
{
	struct run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	r->var = var;
	r->fast = var != V_SBC && var != V_SBC_TRUST && var != V_REJECT_ALL &&
		  var != V_SBC_BACKLOG && var != V_SBC_BACKLOG_NO_OWED;
	r->algo = r->fast ? "fast-sbc" : "sbc";
	r->wire = r->fast ? strata_wire_id("fast-sbc") : strata_wire_id("sbc");
	uint32_t n;
	if (r->fast)
		n = var == V_FAST_OVER_BLDC || seed % 4 != 0 ? 6 : 11;
	else
		n = seed % 2 == 0 ? 7 : 4;
	byzh_config(&r->h, "sim-cons-sbc", n, r->fast ? (n - 1) / 5 : (n - 1) / 3, 7700);
	r->h.cfg.timeout_ms = 100;
	r->h.cfg.retransmit_min_ms = 10;
	r->h.cfg.retransmit_max_ms = 100;
	/* the nodes are built at byzh_start, once roles and hooks are drawn */
	byzh_sim_new(&r->h, seed, trace, build, on_output, r, NULL);
	return r;
}

static int finish(struct run *r, char *why, size_t whylen)
{
	int verdict = byzh_finish(&r->h, why, whylen);
	free(r);
	return verdict;
}

static int run_case(enum variant var, uint64_t seed, bool trace, char *why, size_t whylen)
{
	struct run *r = setup(var, seed, trace);
	struct byzh *h = &r->h;
	struct sim *s = h->s;
	struct sim_net net = byzh_net_storm(s);
	bool broken = var == V_SBC_TRUST || var == V_FAST_OVER_BLDC;
	if (broken) {
		/* The counterexamples need node 1, the leader of bldc's epoch 0, Byzantine. */
		byzh_make(h, 1, STRATA_BYZ_NONE, false);
		r->hook[1] = var == V_SBC_TRUST ? H_SBC_FORGE : H_FAST_EQUIVOCATE;
		net.drop = 0;
		net.tail = 0;
	}
	sim_set_net(s, &net);
	for (uint32_t k = 0; k < h->f && !broken; k++) {
		uint32_t p = byzh_pick(h);
		const struct behaviour *b =
			&behaviours[sim_random_below(s, sizeof(behaviours) / sizeof(behaviours[0]))];
		byzh_make(h, p, b->byz, b->twin);
		r->hook[p] = b->hook;
	}
	byzh_start(h);
	sim_run_for(s, 1 * MS, NULL, NULL);

	r->ninst = 1 + (unsigned)sim_random_below(s, 3);
	uint32_t when[MAXI + 1];
	char vals[MAXN + 1][MAXI + 1][VMAX];
	for (uint64_t i = 1; i <= r->ninst; i++) {
		when[i] = broken ? 0 : (uint32_t)sim_random_below(s, GST_US / TICK_US / 2);
		r->same[i] = broken || sim_random_below(s, 2) == 0;
		for (uint32_t p = 1; p <= h->n; p++) {
			/* the broken fast-over-bldc run: the Byzantine leader proposes v too, and
			 * equivocates v / z'v (the counterexample as docs/consensus-variants.md has it) */
			if (byzh_correct(h, p) || h->role[p] == BYZH_TWIN || var == V_FAST_OVER_BLDC)
				snprintf(vals[p][i], VMAX, "v%u-%llu-%llu",
					 r->same[i] ? 0 : 1 + (unsigned)sim_random_below(s, 3),
					 (unsigned long long)i, (unsigned long long)seed);
			else
				snprintf(vals[p][i], VMAX, "z%u-%llu", p, (unsigned long long)i);
		}
	}
	int rc = 0;
	uint32_t tick = 0;
	for (uint64_t t = 0; t < GST_US && rc == 0; t += TICK_US, tick++) {
		for (uint64_t i = 1; i <= r->ninst; i++)
			if (when[i] == tick)
				for (uint32_t p = 1; p <= h->n; p++)
					propose(r, p, i, vals[p][i]);
		for (uint32_t p = 1; p <= h->n && !broken; p++)
			if (byzh_correct(h, p) && sim_random_below(s, 100) < 1)
				byzh_complain(h, p);
		rc = sim_run_for(s, TICK_US, byzh_check, h);
	}
	if (rc == 0)
		byzh_settle(h, r->ninst, pending, r, LIVENESS_MS * MS);
	return finish(r, why, whylen);
}

/* Fault-free, no Byzantine process, every process proposes the same value at once. */
static int one_step_run(enum variant var, uint64_t seed, bool trace, char *why, size_t whylen)
{
	struct run *r = setup(var, seed, trace);
	struct byzh *h = &r->h;
	struct sim *s = h->s;
	uint64_t dmax = 300 + sim_random_below(s, 5 * MS);
	struct sim_net net = { .delay_min_us = 200, .delay_max_us = dmax };
	sim_set_net(s, &net);
	r->ninst = 2 + (unsigned)sim_random_below(s, 3);
	byzh_start(h);
	sim_run_for(s, 1 * MS, NULL, NULL);
	int rc = 0;
	for (uint64_t i = 1; i <= r->ninst && !rc && !h->failed; i++) {
		r->same[i] = true;
		char v[VMAX];
		snprintf(v, sizeof v, "a%llu-%llu", (unsigned long long)i, (unsigned long long)seed);
		uint64_t t0 = sim_now(s);
		for (uint32_t q = 1; q <= h->n; q++)
			propose(r, q, i, v);
		/* through sbc when the fast path is off: bldc needs its own steps (and, when the
		 * leader has not proposed, a VALUE); 2 s is ample without faults */
		bool all = false;
		for (uint64_t t = 0; t < 2000 * MS && !rc && !all; t += 10 * MS) {
			rc = sim_run_for(s, 10 * MS, byzh_check, h);
			all = true;
			for (uint32_t q = 1; q <= h->n; q++)
				all = all && r->d.decided[q][i];
		}
		for (uint32_t q = 1; q <= h->n && !rc && !h->failed; q++) {
			if (!r->d.decided[q][i])
				byzh_fail(h, "node %u did not decide instance %llu within 2 s (no fault)",
					  q, (unsigned long long)i);
			else if (r->d.b[q][i] != 1)
				byzh_fail(h, "node %u decided instance %llu through sbc although every "
					     "process proposed \"%s\" and nothing failed",
					  q, (unsigned long long)i, v);
			else if (i > 1 && r->d.at[q][i] - t0 > dmax)
				byzh_fail(h, "node %u decided instance %llu %llu us after the proposals, "
					     "more than one step (the largest delay is %llu us)",
					  q, (unsigned long long)i,
					  (unsigned long long)(r->d.at[q][i] - t0),
					  (unsigned long long)dmax);
		}
	}
	if (!rc && !h->failed)
		totals.onestep += r->ninst - 1;
	return finish(r, why, whylen);
}

/* sbc-backlog: cuts the links of a random cycle through the correct processes and fills each
 * one's backlog toward its successor (see the top); the cycle in c[0..k-1]. */
static int sbc_cut_cycle(struct run *r, uint32_t *c, uint32_t *k)
{
	struct byzh *h = &r->h;
	struct sim *s = h->s;
	*k = 0;
	for (uint32_t q = 1; q <= h->n; q++)
		if (byzh_correct(h, q))
			c[(*k)++] = q;
	for (uint32_t j = *k; j > 1; j--) {
		uint32_t x = (uint32_t)sim_random_below(s, j);
		uint32_t t = c[j - 1];
		c[j - 1] = c[x];
		c[x] = t;
	}
	for (uint32_t j = 0; j < *k; j++)
		sim_link(s, c[j], c[(j + 1) % *k], false);
	int rc = sim_run_for(s, 10 * MS, byzh_check, h);
	for (uint32_t j = 0; j < *k && !rc; j++)
		sim_filler_fill(s, c[j], ++h->reqid, c[(j + 1) % *k]);
	if (!rc)
		rc = sim_run_for(s, 1 * MS, byzh_check, h);
	return rc;
}

/* fast-sbc-backlog and sbc-backlog (see the top). */
static int backlog_run(enum variant var, uint64_t seed, bool trace, char *why, size_t whylen)
{
	struct run *r = setup(var, seed, trace);
	struct byzh *h = &r->h;
	struct sim *s = h->s;
	h->cfg.backlog_bytes = 16384; /* read when the nodes start */
	struct sim_net net = { .delay_min_us = 200,
			       .delay_max_us = 300 + sim_random_below(s, 2 * MS) };
	sim_set_net(s, &net);
	for (uint32_t k = 0; k < h->f; k++)
		byzh_make(h, byzh_pick(h), STRATA_BYZ_SILENT, false);
	byzh_start(h);
	sim_run_for(s, 1 * MS, NULL, NULL);
	r->ninst = 2;
	int rc = 0;
	uint32_t p = 0, q = 0, cyc[MAXN], ncyc = 0;
	for (uint64_t i = 1; i <= r->ninst && !rc; i++) {
		char v[VMAX];
		snprintf(v, sizeof v, "v-%llu-%llu", (unsigned long long)i, (unsigned long long)seed);
		r->same[i] = true;
		if (i == 2 && !r->fast) {
			rc = sbc_cut_cycle(r, cyc, &ncyc);
		} else if (i == 2) {
			p = byzh_pick(h);
			do
				q = byzh_pick(h);
			while (q == p);
			sim_link(s, p, q, false);
			/* The acknowledgements of what p sent before the cut arrive (q -> p is up)
			 * and free its backlog; then it is filled, and nothing from p reaches q. */
			rc = sim_run_for(s, 10 * MS, byzh_check, h);
			sim_filler_fill(s, p, ++h->reqid, q);
			if (!rc)
				rc = sim_run_for(s, 1 * MS, byzh_check, h);
		}
		for (uint32_t x = 1; x <= h->n && !rc; x++)
			propose(r, x, i, v);
		if (!rc)
			rc = sim_run_for(s, 200 * MS, byzh_check, h);
	}
	sim_heal(s);
	if (rc == 0)
		byzh_settle(h, r->ninst, pending, r, LIVENESS_MS * MS);
	uint64_t owed = p ? var_fast_test_owed(strata_node_module_by_name(sim_node(s, p),
									 "fast-sbc"))
			  : 0;
	for (uint32_t j = 0; j < ncyc; j++)
		owed += cons_sbc_test_owed(strata_node_module_by_name(sim_node(s, cyc[j]), "sbc"));
	if (owed)
		totals.owed++;
	int verdict = finish(r, why, whylen);
	if (verdict == 0 && owed == 0 && var == V_BACKLOG)
		verdict = sim_vacuous(why, whylen, "node %u's links refused no PROPOSAL to %u", p, q);
	if (verdict == 0 && owed == 0 && var == V_SBC_BACKLOG)
		verdict = sim_vacuous(why, whylen, "no correct process's links refused a PROPOSAL");
	return verdict;
}

BYZH_CASE(sbc_byzantine, run_case, V_SBC)
BYZH_CASE(sbc_trust, run_case, V_SBC_TRUST)
BYZH_CASE(fast_byzantine, run_case, V_FAST)
BYZH_CASE(fast_over_bldc, run_case, V_FAST_OVER_BLDC)
BYZH_CASE(fast_one_step, one_step_run, V_ONE_STEP)
BYZH_CASE(never_fast, one_step_run, V_NEVER_FAST)
BYZH_CASE(reject_all, run_case, V_REJECT_ALL)
BYZH_CASE(fast_backlog, backlog_run, V_BACKLOG)
BYZH_CASE(fast_backlog_no_owed, backlog_run, V_BACKLOG_NO_OWED)
BYZH_CASE(sbc_backlog, backlog_run, V_SBC_BACKLOG)
BYZH_CASE(sbc_backlog_no_owed, backlog_run, V_SBC_BACKLOG_NO_OWED)

static const struct sim_case cases[] = {
	{ "sbc-byzantine", sbc_byzantine, 100, false },
	{ "fast-sbc-one-step", fast_one_step, 60, false },
	{ "fast-sbc-byzantine", fast_byzantine, 80, false },
	{ "broken-sbc-trusts-unsigned-set", sbc_trust, 100, true },
	{ "broken-fast-over-bldc", fast_over_bldc, 100, true },
	{ "broken-fast-sbc-never-fast", never_fast, 20, true },
	{ "broken-sbc-predicate-rejects-all", reject_all, 20, true },
	{ "fast-sbc-backlog", fast_backlog, 40, false },
	{ "broken-fast-sbc-backlog-no-owed", fast_backlog_no_owed, 20, true },
	{ "sbc-backlog", sbc_backlog, 40, false },
	{ "broken-sbc-backlog-no-owed", sbc_backlog_no_owed, 20, true },
};

int main(int argc, char **argv)
{
	int rc = sim_main(argc, argv, "sim_cons_sbc", cases, sizeof(cases) / sizeof(cases[0]));
	printf("sim_cons_sbc totals: %llu decisions by correct nodes (%llu of them □); fast-sbc: %llu "
	       "on the fast path, %llu through sbc; %llu timed instances decided in one step; %llu "
	       "backlog runs with PROPOSALs owed\n",
	       totals.decisions, totals.box, totals.fast, totals.slow, totals.onestep, totals.owed);
	return rc;
}
