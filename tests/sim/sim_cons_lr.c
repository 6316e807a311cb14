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
#include "lib/lossy_beb.h"
#include "rt/sim/harness.h"
#include "rt/sim/sim.h"

#define MS 1000ull
#define MAXN 5
#define MAXI 4
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
	const struct spec *sp;
	struct strata_config cfg;
	struct sim *s;
	struct cck *ck;
	uint32_t n;
	bool down[MAXN + 1];
	unsigned ncrash;
	uint64_t reqid;
	bool proposed_any[MAXI + 1];
	uint64_t req_inst[64];
	uint32_t req_node[64];
	bool bad_reply;
	char reply_why[200];
	struct {
		bool decided;
		char v[64];
		size_t len;
	} dec[MAXN + 1][MAXI + 1];
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

static void on_reply(struct run *r, uint32_t node, const struct strata_output *o)
{
	if (o->a == 0 || o->a >= 64 || r->req_node[o->a] != node || r->bad_reply)
		return;
	uint64_t inst = r->req_inst[o->a];
	if (o->status != 0) {
		r->bad_reply = true;
		snprintf(r->reply_why, sizeof(r->reply_why),
			 "node %u refused a proposal on instance %llu: %s", node,
			 (unsigned long long)inst, strata_strerror(o->status));
		return;
	}
	struct strata_rd rd;
	strata_rd_init(&rd, o->data, o->len);
	uint64_t got = strata_rd_u64(&rd);
	size_t vlen = o->len - rd.off;
	if (!strata_rd_ok(&rd) || got != inst || inst > MAXI || !r->dec[node][inst].decided ||
	    vlen != r->dec[node][inst].len || memcmp(o->data + rd.off, r->dec[node][inst].v, vlen)) {
		r->bad_reply = true;
		snprintf(r->reply_why, sizeof(r->reply_why),
			 "node %u answered its client on instance %llu with something other than its "
			 "decision",
			 node, (unsigned long long)inst);
	}
}

static void on_output(struct sim *s, uint32_t node, const struct strata_output *o, void *arg)
{
	struct run *r = arg;
	(void)s;
	if (o->kind == STRATA_OUT_REPLY) {
		on_reply(r, node, o);
		return;
	}
	if (o->module != strata_wire_id("lldc"))
		return;
	if (o->kind == STRATA_OUT_BCAST) {
		cck_on_propose(r->ck, node, o->a, o->data, o->len);
	} else if (o->kind == STRATA_OUT_DELIVER) {
		cck_on_decide(r->ck, node, o->a, o->data, o->len);
		if (o->a <= MAXI && o->len <= sizeof(r->dec[0][0].v)) {
			r->dec[node][o->a].decided = true;
			r->dec[node][o->a].len = o->len;
			memcpy(r->dec[node][o->a].v, o->data, o->len);
		}
	}
}

static int step_check(struct sim *s, void *arg)
{
	struct run *r = arg;
	(void)s;
	return cck_violation(r->ck) || r->bad_reply ? 1 : 0;
}

static void propose(struct run *r, uint32_t node, uint64_t inst, const char *prefix)
{
	char key[24], val[48];
	int klen = snprintf(key, sizeof(key), "%llu", (unsigned long long)inst);
	int vlen = snprintf(val, sizeof(val), "%s%u-%llu-%llu", prefix, node,
			    (unsigned long long)inst, (unsigned long long)sim_seed(r->s));
	if (r->reqid + 1 >= 64)
		return; /* enough client requests for one run */
	uint64_t id = ++r->reqid;
	r->proposed_any[inst] = true;
	r->req_inst[id] = inst;
	r->req_node[id] = node;
	struct strata_request req = {
		.id = id, .op = STRATA_OP_PROPOSE, .key = (const uint8_t *)key,
		.key_len = (size_t)klen, .value = (const uint8_t *)val, .value_len = (size_t)vlen,
	};
	sim_request(r->s, node, "lldc", &req);
}

static void restart(struct run *r, uint32_t q)
{
	sim_restart(r->s, q);
	cck_on_restart(r->ck, q);
	r->down[q] = false;
	r->ncrash--;
}

static uint32_t pick_up(struct run *r)
{
	uint32_t up[MAXN], k = 0;
	for (uint32_t q = 1; q <= r->n; q++)
		if (!r->down[q])
			up[k++] = q;
	return k ? up[sim_random_below(r->s, k)] : 0;
}

static void setup(struct run *r, const struct spec *sp, uint64_t seed, bool trace)
{
	memset(r, 0, sizeof(*r));
	r->sp = sp;
	strata_config_defaults(&r->cfg);
	snprintf(r->cfg.cluster_id, sizeof(r->cfg.cluster_id), "sim-cons-lr");
	r->n = sp->scen2 == SC_AMNESIA ? 3 : seed % 4 == 3 ? 3 : 5;
	r->cfg.n = r->n;
	r->cfg.f = (r->n - 1) / 2;
	r->cfg.model = STRATA_MODEL_FAIL_RECOVERY;
	r->cfg.heartbeat_ms = 20;
	r->cfg.timeout_ms = 100;
	r->cfg.retransmit_min_ms = 10;
	r->cfg.retransmit_max_ms = 100;
	for (uint32_t i = 1; i <= r->n; i++) {
		r->cfg.nodes[i].id = i;
		snprintf(r->cfg.nodes[i].host, sizeof(r->cfg.nodes[i].host), "127.0.0.1");
		r->cfg.nodes[i].port = (uint16_t)(7500 + i);
	}
	r->ck = cck_new(r->n, true);
	struct sim_opts so = {
		.seed = seed, .cfg = &r->cfg, .build = build, .output = on_output, .arg = r,
		.trace = trace,
	};
	r->s = sim_new(&so);
	struct sim_net net = {
		.drop = sp->scen2 == SC_AMNESIA ? 0.02 : 0.05 + sim_random_unit(r->s) * 0.2,
		.dup = sim_random_unit(r->s) * 0.1,
		.delay_min_us = 200,
		.delay_max_us = 200 + sim_random_below(r->s, 5 * MS),
		.tail = sp->scen2 == SC_AMNESIA ? 0 : 0.03,
		.tail_us = 300 * MS,
	};
	sim_set_net(r->s, &net);
	sim_start(r->s);
	sim_run_for(r->s, 1 * MS, NULL, NULL); /* real clocks never read 0 */
}

/* Before GST: 40 chunks of 10 ms with proposals, partitions, cuts and crashes (at most f). */
static int phase_random(struct run *r)
{
	struct sim *s = r->s;
	uint64_t ninst = 1 + sim_random_below(s, MAXI);
	bool todo[MAXN + 1][MAXI + 1] = { { false } };
	for (uint64_t i = 1; i <= ninst; i++) {
		uint64_t mask = 1 + sim_random_below(s, (1ull << r->n) - 1);
		for (uint32_t q = 1; q <= r->n; q++)
			todo[q][i] = (mask >> (q - 1)) & 1u;
	}
	bool parted = false;
	for (int chunk = 0; chunk < 40; chunk++) {
		for (uint32_t q = 1; q <= r->n; q++)
			for (uint64_t i = 1; i <= ninst; i++)
				if (todo[q][i] && !r->down[q] && sim_random_unit(s) < 0.15) {
					todo[q][i] = false;
					propose(r, q, i, "v");
				}
		if (!parted && sim_random_unit(s) < 0.1) {
			if (sim_random_below(s, 2)) {
				uint64_t a = 0;
				for (uint32_t q = 1; q <= r->n; q++)
					if (sim_random_below(s, 2))
						a |= 1ull << q;
				sim_partition(s, a, ((1ull << (r->n + 1)) - 2) & ~a);
			} else {
				uint32_t a = 1 + (uint32_t)sim_random_below(s, r->n);
				uint32_t b = 1 + (uint32_t)sim_random_below(s, r->n);
				if (a != b)
					sim_link(s, a, b, false);
			}
			parted = true;
		} else if (parted && sim_random_unit(s) < 0.15) {
			sim_heal(s);
			parted = false;
		}
		if (r->ncrash < r->cfg.f && sim_random_unit(s) < 0.05) {
			uint32_t q = pick_up(r);
			if (q) {
				sim_crash(s, q);
				r->down[q] = true;
				r->ncrash++;
			}
		}
		for (uint32_t q = 1; q <= r->n; q++)
			if (r->down[q] && sim_random_unit(s) < 0.1)
				restart(r, q);
		int rc = sim_run_for(s, 10 * MS, step_check, r);
		if (rc)
			return rc;
	}
	return 0;
}

static int decided_by(struct sim *s, void *arg)
{
	struct run *r = arg;
	(void)s;
	if (cck_violation(r->ck) || r->bad_reply)
		return 1;
	return r->dec[1][1].decided ? 2 : 0;
}

/* Node 3 cut off from node 1; node 1 leads with {1, 2} and decides; 1 and 2 crash at once; 2
 * recovers; {2, 3} decide again. */
static int phase_amnesia(struct run *r)
{
	struct sim *s = r->s;
	int rc = sim_run_for(s, 100 * MS, step_check, r); /* sessions open, epoch of leader 1 */
	if (rc)
		return rc;
	sim_link(s, 1, 3, false);
	sim_link(s, 3, 1, false);
	propose(r, 1, 1, "a");
	propose(r, 2, 1, "b");
	propose(r, 3, 1, "b");
	rc = sim_run_for(s, 2000 * MS, decided_by, r);
	if (rc == 1)
		return rc;
	if (rc != 2)
		return 0; /* node 1 did not decide first in this seed: nothing to test */
	sim_crash(s, 1);
	sim_crash(s, 2);
	r->down[1] = r->down[2] = true;
	rc = sim_run_for(s, 300 * MS, step_check, r);
	if (rc)
		return rc;
	restart(r, 2);
	r->ncrash = 1;
	rc = sim_run_for(s, 500 * MS, step_check, r);
	propose(r, 2, 1, "c"); /* a client retries at the recovered node */
	propose(r, 3, 1, "c");
	if (!rc)
		rc = sim_run_for(s, 2000 * MS, step_check, r);
	return rc;
}

static int upper_decided(struct sim *s, void *arg)
{
	struct run *r = arg;
	(void)s;
	if (cck_violation(r->ck) || r->bad_reply)
		return 1;
	for (uint32_t q = 1; q <= r->n; q++)
		for (unsigned k = 1; k <= UPK; k++)
			if (!r->up[q][k].got)
				return 0;
	return 2;
}

static int reannounce_fail(struct run *r, const char *fmt, uint32_t q, unsigned k)
{
	r->bad_reply = true;
	snprintf(r->reply_why, sizeof(r->reply_why), fmt, q, k);
	return 1;
}

/* Every node proposes on the upper's instances 1..UPK; all decide; one crashes and recovers,
 * and its new life must be told every decision again, the same. */
static int phase_reannounce(struct run *r)
{
	struct sim *s = r->s;
	int rc = sim_run_for(s, 100 * MS, step_check, r);
	if (rc)
		return rc;
	for (uint32_t q = 1; q <= r->n; q++) {
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
	for (uint32_t q = 1; q <= r->n && rc != 2; q++)
		for (unsigned k = 1; k <= UPK; k++)
			if (!r->up[q][k].got)
				return reannounce_fail(r, "liveness: node %u had not decided upper "
						       "instance %u within 3 s", q, k);
	for (uint32_t q = 2; q <= r->n; q++)
		for (unsigned k = 1; k <= UPK; k++)
			if (r->up[q][k].len != r->up[1][k].len ||
			    memcmp(r->up[q][k].v, r->up[1][k].v, r->up[1][k].len) != 0)
				return reannounce_fail(r, "agreement: node %u decided upper instance "
						       "%u differently from node 1", q, k);
	rc = sim_run_for(s, 200 * MS, step_check, r); /* every decision synced */
	if (rc)
		return rc;
	uint32_t q = pick_up(r);
	sim_crash(s, q);
	r->down[q] = true;
	r->ncrash++;
	rc = sim_run_for(s, 50 * MS, step_check, r);
	if (rc)
		return rc;
	r->life[q]++;
	restart(r, q);
	rc = sim_run_for(s, 100 * MS, step_check, r);
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
	setup(r, sp, seed, trace);
	int rc = sp->scen2 == SC_AMNESIA ? phase_amnesia(r)
		 : sp->scen2 == SC_REANNOUNCE ? phase_reannounce(r) : phase_random(r);
	if (!rc) {
		/* Liveness: heal, every node up, every node (a client retrying) proposes again on
		 * every instance. */
		sim_heal(r->s);
		struct sim_net calm = { .drop = 0.02, .delay_min_us = 200, .delay_max_us = 3 * MS };
		sim_set_net(r->s, &calm);
		for (uint32_t q = 1; q <= r->n; q++)
			if (r->down[q])
				restart(r, q);
		rc = sim_run_for(r->s, 300 * MS, step_check, r);
		for (uint32_t q = 1; q <= r->n && !rc; q++)
			for (uint64_t i = 1; i <= MAXI; i++)
				if (r->proposed_any[i])
					propose(r, q, i, "r");
		if (!rc)
			rc = sim_run_for(r->s, LIVENESS_MS * MS, step_check, r);
	}
	if (rc) {
		if (r->bad_reply)
			rc = sim_fail(why, whylen, "%s", r->reply_why);
		else
			rc = sim_fail(why, whylen, "t=%llums: %s",
				      (unsigned long long)(sim_now(r->s) / MS), cck_violation(r->ck));
	} else {
		bool correct[MAXN + 1] = { false };
		for (uint32_t q = 1; q <= r->n; q++)
			correct[q] = !r->down[q];
		rc = cck_final(r->ck, correct, why, whylen);
	}
	sim_free(r->s);
	cck_free(r->ck);
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
