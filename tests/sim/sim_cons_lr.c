/* Simulation suite for Logged Leader-Driven Consensus (Alg. 5.10-5.11) over the Logged
 * Leader-Based Epoch-Change (5.8) and Logged Read/Write Epoch Consensus (5.9): src/cons/ldc.c,
 * ec.c, ep.c as module lldc, fail-recovery model, on the node's <>P and Omega.
 *
 * lldc-crash-recover: N = 5 (or 3); proposals on 1-4 instances; loss, duplication, delays with a
 * tail, partitions and one-way cuts; nodes crash and recover (at most f = (N - 1) / 2 down at
 * once), and a crash loses every write the node had not synced. Then the network heals, every
 * node is up, and every node proposes again on every instance (a client retrying: the
 * recovered nodes restore their instances lazily from storage); every node must decide every
 * instance within 5 s of virtual time. Checked after every step: validity, integrity (per life),
 * uniform agreement across lives (a recovered node reports the same decision as before, and no
 * node ever decides differently from another), the client's reply carries the decision.
 *
 * lldc-amnesia: N = 3. Node 3 is cut off from node 1; node 1 leads with {1, 2}: node 2 accepts
 * node 1's value and node 1 decides it; at that very moment nodes 1 and 2 crash. Node 2 recovers
 * (node 1 stays down), so {2, 3} must decide again - and must decide node 1's value, which only
 * node 2's stored (valts, val) and promise remember. broken-lldc-forgets-promise runs the same
 * with a node that forgets its promise and accepted value on recovery (cons_ldc_test_forget):
 * {2, 3} decide another value, which the uniform-agreement checker must flag.
 *
 * lldc-recovery-reannounce: an upper module (a recorder standing where ltob stands, on lldc's
 * instance space CONS_SPACE_LTOB) has every node propose on UPK instances of its space; once
 * every node decided them (and synced), a random node crashes and recovers. Upon <Recovery>
 * lldc must indicate the decisions of the upper's space again (the book's logged consensus
 * does; ld_recover): the recovered node's new recorder must get a Decide for each of the UPK
 * instances, with the value decided before the crash. ltob itself does not need this (it also
 * reads decided rounds from lldc's log), so no other case can see it missing.
 * broken-lldc-no-reannounce runs it with an lldc that skips that step on recovery
 * (cons_ldc_test_no_reannounce): the recovered node's recorder must miss a decision.
 *
 * broken-lldc-over-lossy-beb runs lldc-crash-recover with a beb that loses messages (never
 * retried) under lldc and lec: lldc and lec stand on beb, so termination must fail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cons/cons.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"
#include "fd/fd.h"
#include "lib/cons_check.h"
#include "lib/ld_harness.h"
#include "lib/lossy_beb.h"
#include "rt/sim/harness.h"
#include "rt/sim/sim.h"

#define MS LDH_MS
#define MAXN LDH_MAXN
#define MAXI LDH_MAXI
#define LIVENESS_MS 5000ull

enum { SC_AMNESIA = 2, SC_REANNOUNCE = 3 };
#define UPK 6 /* upper instances of lldc-recovery-reannounce */
#define REC_WIRE 252

enum scen { SC_RANDOM = 0, SC_SPLIT_UNUSED };

struct spec {
	enum scen scen;
	bool forget, no_reannounce;
	int scen2;
	bool lossy; /* a beb that loses messages under lldc and lec (lib/lossy_beb.h) */
};

struct run {
	struct ldh h; /* the cluster, the simulation, the checker, the client requests */
	const struct spec *sp;
	/* lldc-recovery-reannounce: each node's upper Decides, per life */
	unsigned life[MAXN + 1];
	struct {
		unsigned got; /* Decides received in the node's current life */
		unsigned life;
		char v[64];
		size_t len;
	} up[MAXN + 1][UPK + 1];
};

/* The recorder: an upper module of lldc's instance space CONS_SPACE_LTOB. */
struct rec {
	struct strata_module m;
	struct run *r;
	struct strata_module *lc;
};

/* upon event <lc.k, Decide | v>: remembered per node and life. */
static void rec_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct rec *c = (struct rec *)m;
	const struct cons_decided *d = ev->type == CONS_EV_DECIDE && ev->msg ? ev->body : NULL;
	if (!d || ev->body_len != sizeof(*d))
		return;
	uint32_t q = strata_node_id(m->node);
	uint64_t k = d->instance & CONS_SPACE_MASK;
	if (q > MAXN || k < 1 || k > UPK || d->len > sizeof(c->r->up[q][k].v))
		return;
	struct run *r = c->r;
	if (r->up[q][k].life != r->life[q]) {
		r->up[q][k].life = r->life[q];
		r->up[q][k].got = 0;
	}
	if (r->up[q][k].got++ == 0) {
		r->up[q][k].len = d->len;
		memcpy(r->up[q][k].v, d->value, d->len);
	}
}

static void rec_destroy(struct strata_module *m)
{
	free(m);
}

static const struct strata_module_ops rec_ops = {
	.name = "rec", .handle = rec_handle, .destroy = rec_destroy,
};

static void rec_add(struct run *r, struct strata_node *n)
{
	struct rec *c = calloc(1, sizeof(*c));
	STRATA_ASSERT(c);
	c->r = r;
	strata_node_add_module(n, &c->m, &rec_ops, REC_WIRE);
	char err[256];
	if (cons_lower_open_space(n, "lldc", CONS_SPACE_LTOB, &c->m, &c->lc, err, sizeof(err))) {
		fprintf(stderr, "build: %s\n", err);
		abort();
	}
}

static void build(struct sim *s, struct strata_node *n, void *arg)
{
	struct run *r = arg;
	(void)s;
	char err[256];
	struct strata_module *m = NULL;
	if (r->sp->lossy)
		sim_lossy_beb_add(n, false);
	if (strata_fd_build(n, err, sizeof(err)) != 0 || !(m = cons_lldc_create(n, err, sizeof(err)))) {
		fprintf(stderr, "build: %s\n", err);
		abort();
	}
	if (r->sp->forget)
		cons_ldc_test_forget(m);
	if (r->sp->no_reannounce)
		cons_ldc_test_no_reannounce(m);
	if (r->sp->scen2 == SC_REANNOUNCE)
		rec_add(r, n);
}

static void on_output(struct sim *s, uint32_t node, const struct strata_output *o, void *arg)
{
	(void)s;
	ldh_output(&((struct run *)arg)->h, node, o);
}

static int decided_by(struct sim *s, void *arg)
{
	struct run *r = arg;
	(void)s;
	if (cck_violation(r->h.ck) || r->h.bad_reply)
		return 1;
	return r->h.dec[1][1].decided ? 2 : 0;
}

/* Node 3 cut off from node 1; node 1 leads with {1, 2} and decides; 1 and 2 crash at once; 2
 * recovers; {2, 3} decide again. */
static int phase_amnesia(struct run *r)
{
	struct sim *s = r->h.s;
	int rc = sim_run_for(s, 100 * MS, ldh_step_check, &r->h); /* sessions open, epoch of leader 1 */
	if (rc)
		return rc;
	sim_link(s, 1, 3, false);
	sim_link(s, 3, 1, false);
	ldh_propose(&r->h, 1, 1, "a");
	ldh_propose(&r->h, 2, 1, "b");
	ldh_propose(&r->h, 3, 1, "b");
	rc = sim_run_for(s, 2000 * MS, decided_by, r);
	if (rc == 1)
		return rc;
	if (rc != 2)
		return 0; /* node 1 did not decide first in this seed: nothing to test */
	sim_crash(s, 1);
	sim_crash(s, 2);
	r->h.down[1] = r->h.down[2] = true;
	rc = sim_run_for(s, 300 * MS, ldh_step_check, &r->h);
	if (rc)
		return rc;
	ldh_restart(&r->h, 2);
	r->h.ncrash = 1;
	rc = sim_run_for(s, 500 * MS, ldh_step_check, &r->h);
	ldh_propose(&r->h, 2, 1, "c"); /* a client retries at the recovered node */
	ldh_propose(&r->h, 3, 1, "c");
	if (!rc)
		rc = sim_run_for(s, 2000 * MS, ldh_step_check, &r->h);
	return rc;
}

static int upper_decided(struct sim *s, void *arg)
{
	struct run *r = arg;
	(void)s;
	if (cck_violation(r->h.ck) || r->h.bad_reply)
		return 1;
	for (uint32_t q = 1; q <= r->h.n; q++)
		for (unsigned k = 1; k <= UPK; k++)
			if (!r->up[q][k].got)
				return 0;
	return 2;
}

static int reannounce_fail(struct run *r, const char *fmt, uint32_t q, unsigned k)
{
	r->h.bad_reply = true;
	snprintf(r->h.reply_why, sizeof(r->h.reply_why), fmt, q, k);
	return 1;
}

/* Every node proposes on the upper's instances 1..UPK; all decide; one crashes and recovers,
 * and its new life must be told every decision again, the same. */
static int phase_reannounce(struct run *r)
{
	struct sim *s = r->h.s;
	int rc = sim_run_for(s, 100 * MS, ldh_step_check, &r->h);
	if (rc)
		return rc;
	for (uint32_t q = 1; q <= r->h.n; q++) {
		struct rec *c = (struct rec *)strata_node_module_by_name(sim_node(s, q), "rec");
		for (unsigned k = 1; k <= UPK; k++) {
			char v[32];
			int len = snprintf(v, sizeof(v), "u%u-%u", q, k);
			int prc = cons_lower_propose(c->lc, CONS_SPACE_LTOB << CONS_SPACE_BITS | k,
						     (const uint8_t *)v, (size_t)len);
			if (prc && prc != STRATA_ESTATE)
				return reannounce_fail(r, "node %u: propose on upper instance %u refused",
						       q, k);
		}
	}
	rc = sim_run_for(s, 3000 * MS, upper_decided, r);
	if (rc == 1)
		return rc;
	for (uint32_t q = 1; q <= r->h.n && rc != 2; q++)
		for (unsigned k = 1; k <= UPK; k++)
			if (!r->up[q][k].got)
				return reannounce_fail(r, "liveness: node %u had not decided upper "
						       "instance %u within 3 s", q, k);
	for (uint32_t q = 2; q <= r->h.n; q++)
		for (unsigned k = 1; k <= UPK; k++)
			if (r->up[q][k].len != r->up[1][k].len ||
			    memcmp(r->up[q][k].v, r->up[1][k].v, r->up[1][k].len) != 0)
				return reannounce_fail(r, "agreement: node %u decided upper instance "
						       "%u differently from node 1", q, k);
	rc = sim_run_for(s, 200 * MS, ldh_step_check, &r->h); /* every decision synced */
	if (rc)
		return rc;
	uint32_t q = ldh_pick_up(&r->h);
	ldh_crash(&r->h, q);
	rc = sim_run_for(s, 50 * MS, ldh_step_check, &r->h);
	if (rc)
		return rc;
	r->life[q]++;
	ldh_restart(&r->h, q);
	rc = sim_run_for(s, 100 * MS, ldh_step_check, &r->h);
	if (rc)
		return rc;
	for (unsigned k = 1; k <= UPK; k++) {
		if (r->up[q][k].life != r->life[q] || !r->up[q][k].got)
			return reannounce_fail(r, "recovery: node %u's lldc did not indicate its "
					       "decision of upper instance %u again", q, k);
		if (r->up[q][k].len != r->up[1][k].len ||
		    memcmp(r->up[q][k].v, r->up[1][k].v, r->up[1][k].len) != 0)
			return reannounce_fail(r, "recovery: node %u was told another decision of "
					       "upper instance %u than before its crash", q, k);
	}
	return 0;
}

static int run_spec(const struct spec *sp, uint64_t seed, bool trace, char *why, size_t whylen)
{
	struct run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	struct ldh *h = &r->h;
	r->sp = sp;
	uint32_t n = sp->scen2 == SC_AMNESIA ? 3 : seed % 4 == 3 ? 3 : 5;
	bool quiet = sp->scen2 == SC_AMNESIA; /* a fixed small loss and no tail */
	const struct ldh_opts o = {
		.algo = "lldc", .cluster_id = "sim-cons-lr", .model = STRATA_MODEL_FAIL_RECOVERY,
		.port_base = 7500, .n = n, .f = (n - 1) / 2, .fd_timers = true,
		.drop = quiet ? 0.02 : 0, .tail = quiet ? 0 : 0.03, .tail_us = 300 * MS,
		.build = build, .output = on_output, .arg = r,
	};
	ldh_setup(h, &o, seed, trace);
	h->cap_requests = true;
	static const struct ldh_phase gst = {
		.chunks = 40, .chunk_us = 10 * MS, .propose_p = 0.15, .part_p = 0.1, .crash_p = 0.05,
		.recover = true,
	};
	int rc = sp->scen2 == SC_AMNESIA ? phase_amnesia(r)
		 : sp->scen2 == SC_REANNOUNCE ? phase_reannounce(r)
					      : ldh_phase_random(h, &gst);
	if (!rc) {
		/* Liveness: heal, every node up, every node (a client retrying) proposes again on
		 * every instance. */
		ldh_heal(h);
		for (uint32_t q = 1; q <= h->n; q++)
			if (h->down[q])
				ldh_restart(h, q);
		rc = sim_run_for(h->s, 300 * MS, ldh_step_check, h);
		for (uint32_t q = 1; q <= h->n && !rc; q++)
			for (uint64_t i = 1; i <= MAXI; i++)
				if (h->proposed_any[i])
					ldh_propose(h, q, i, "r");
		if (!rc)
			rc = sim_run_for(h->s, LIVENESS_MS * MS, ldh_step_check, h);
	}
	rc = ldh_finish(h, rc, why, whylen);
	free(r);
	return rc;
}

static int lldc_random(uint64_t seed, bool trace, char *why, size_t whylen)
{
	static const struct spec sp = { .scen = SC_RANDOM };
	return run_spec(&sp, seed, trace, why, whylen);
}

static int lldc_amnesia(uint64_t seed, bool trace, char *why, size_t whylen)
{
	static const struct spec sp = { .scen2 = SC_AMNESIA };
	return run_spec(&sp, seed, trace, why, whylen);
}

static int lldc_amnesia_forget(uint64_t seed, bool trace, char *why, size_t whylen)
{
	static const struct spec sp = { .scen2 = SC_AMNESIA, .forget = true };
	return run_spec(&sp, seed, trace, why, whylen);
}

static int lldc_reannounce(uint64_t seed, bool trace, char *why, size_t whylen)
{
	static const struct spec sp = { .scen2 = SC_REANNOUNCE };
	return run_spec(&sp, seed, trace, why, whylen);
}

static int lldc_no_reannounce(uint64_t seed, bool trace, char *why, size_t whylen)
{
	static const struct spec sp = { .scen2 = SC_REANNOUNCE, .no_reannounce = true };
	return run_spec(&sp, seed, trace, why, whylen);
}

static int lldc_lossy_beb(uint64_t seed, bool trace, char *why, size_t whylen)
{
	static const struct spec sp = { .scen = SC_RANDOM, .lossy = true };
	return run_spec(&sp, seed, trace, why, whylen);
}

static const struct sim_case cases[] = {
	{ "lldc-crash-recover", lldc_random, 1000, false },
	{ "lldc-amnesia", lldc_amnesia, 200, false },
	{ "broken-lldc-forgets-promise", lldc_amnesia_forget, 50, true },
	{ "lldc-recovery-reannounce", lldc_reannounce, 40, false },
	{ "broken-lldc-no-reannounce", lldc_no_reannounce, 20, true },
	{ "broken-lldc-over-lossy-beb", lldc_lossy_beb, 50, true },
};

int main(int argc, char **argv)
{
	return sim_main(argc, argv, "sim_cons_lr", cases, sizeof(cases) / sizeof(cases[0]));
}
