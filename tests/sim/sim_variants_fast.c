/* Simulation suite for uniform fast consensus (Alg. 6.4, src/cons/fast.c: fast-uhier and
 * fast-uflood), fail-stop, N = 4 (most seeds), 5 or 7, f = ⌊(N - 1) / 3⌋.
 *
 * P is the oracle test module told of every crash by the driver (as in sim_variants). Cases:
 *   fast-one-step: no fault at all (no loss, duplication, tail delay, partition or crash);
 *     2 to 4 instances one after the other, every node proposes the same value at the same
 *     instant t0 (instance 1 opens the links' sessions and is not timed). Checked:
 *     every node decides that value on the fast path (the decision's b = 1) no later than
 *     t0 + the network's largest one-way delay, i.e. after one communication step (UFC1's fast
 *     termination), in every seed.
 *   fast-random: loss 5-25 %, duplication, delays with a 3 % tail of up to 300 ms, partitions
 *     that heal, up to f crashes at random times; 1 to 4 instances; in half of them every
 *     proposal is the same value, in the others each proposer picks one of three. A node
 *     proposes on an instance at a random time (or joins when it hears of it first); at the end
 *     every node still up proposes. Checked as outputs happen: UFC2 validity (the decision was
 *     proposed by a client on that instance), UFC3 integrity, UFC4 uniform agreement (crashed
 *     nodes' decisions count); after the heal, termination (every correct node decided every
 *     instance within 3 s of virtual time). Both paths must be taken over the run (totals).
 * Broken variants (expect_violation), var_fast_test_quorum:
 *   broken-fast-on-n-minus-2f: decides on the fast path when N - 2f of the first N - f
 *     PROPOSALs are equal: uniform agreement must catch it (two processes each see N - 2f of
 *     different values).
 *   broken-never-fast: never takes the fast path (a quorum above N), on fast-one-step's runs:
 *     the one-step check must catch it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cons/cons.h"
#include "cons/variants.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"
#include "lib/build.h"
#include "lib/faults.h"
#include "lib/oracle.h"
#include "rt/sim/harness.h"
#include "rt/sim/sim.h"

#define MS 1000ull
#define MAXN 7
#define MAXI 4 /* instances per run */
#define MAXREQ 256
#define LIVENESS_MS 3000ull

static struct {
	unsigned long long fast, slow, onestep;
} totals;

struct run {
	const char *algo;
	uint32_t broken_quorum; /* 0 = correct */
	struct strata_config cfg;
	struct sim *s;
	uint32_t n, f;
	bool down[MAXN + 1];
	unsigned ncrash, max_crash;
	unsigned ninst;
	bool asked[MAXN + 1][MAXI + 1];
	bool same[MAXI + 1];                 /* every proposal on this instance is "v<i>" */
	uint8_t proposed[MAXI + 1];          /* bit k: value k was proposed by a client */
	int dec[MAXN + 1][MAXI + 1];         /* decided value + 1, 0 none */
	uint64_t dec_b[MAXN + 1][MAXI + 1];  /* the decision's b (1 = fast path) */
	uint64_t dec_at[MAXN + 1][MAXI + 1]; /* virtual time of the decision */
	int outcome[MAXI + 1];
	unsigned ndec, nfast, nslow;
	uint64_t reqid;
	bool is_prop[MAXREQ + 1]; /* request id -> a client's propose (not the oracle's) */
	char why[256];
};

static void failf(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void failf(struct run *r, const char *fmt, ...)
{
	if (r->why[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
}

/* Values are "a<i>", "b<i>", "c<i>" for instance i: index 0, 1, 2. */
static int value_index(uint64_t inst, const uint8_t *v, size_t len)
{
	char want[8];
	for (int k = 0; k < 3; k++) {
		int wl = snprintf(want, sizeof(want), "%c%llu", 'a' + k, (unsigned long long)inst);
		if ((size_t)wl == len && !memcmp(v, want, len))
			return k;
	}
	return -1;
}

static void on_output(struct sim *s, uint32_t node, const struct strata_output *o, void *arg)
{
	struct run *r = arg;
	if (o->kind == STRATA_OUT_REPLY) {
		if (o->status != 0 && o->a >= 1 && o->a <= r->reqid && r->is_prop[o->a])
			failf(r, "node %u refused a propose: %s", node, strata_strerror(o->status));
		return;
	}
	if (o->module != strata_wire_id("fast-uhier") && o->module != strata_wire_id("fast-uflood"))
		return;
	uint64_t inst = o->a;
	if (inst < 1 || inst > r->ninst) {
		failf(r, "node %u output on instance %llu, which no client named", node,
		      (unsigned long long)inst);
		return;
	}
	int k = value_index(inst, o->data, o->len);
	if (o->kind == STRATA_OUT_BCAST) {
		if (k < 0)
			failf(r, "node %u proposed a value no client gave it", node);
		else
			r->proposed[inst] |= (uint8_t)(1u << k);
		return;
	}
	if (o->kind != STRATA_OUT_DELIVER)
		return;
	if (k < 0 || !(r->proposed[inst] & (1u << k))) {
		failf(r, "validity: node %u decided %.*s on instance %llu, which no client proposed "
			 "there", node, (int)o->len, (const char *)o->data, (unsigned long long)inst);
		return;
	}
	if (r->dec[node][inst]) {
		failf(r, "integrity: node %u decided instance %llu twice", node,
		      (unsigned long long)inst);
		return;
	}
	r->dec[node][inst] = k + 1;
	r->dec_b[node][inst] = o->b;
	r->dec_at[node][inst] = sim_now(s);
	r->ndec++;
	if (o->b == 1)
		r->nfast++;
	else
		r->nslow++;
	if (r->outcome[inst] && r->outcome[inst] != k + 1) {
		failf(r, "uniform agreement: node %u decided %c%llu on instance %llu (%s path), "
			 "another node %c%llu", node, 'a' + k, (unsigned long long)inst,
		      (unsigned long long)inst, o->b == 1 ? "fast" : "uc",
		      'a' + r->outcome[inst] - 1, (unsigned long long)inst);
		return;
	}
	r->outcome[inst] = k + 1;
}

static int step_check(struct sim *s, void *arg)
{
	struct run *r = arg;
	(void)s;
	return r->why[0] ? 1 : 0;
}

static void build(struct sim *s, struct strata_node *n, void *arg)
{
	struct run *r = arg;
	(void)s;
	sim_oracle_add(n);
	struct strata_module *m = simb_algo(n, r->algo);
	if (r->broken_quorum)
		var_fast_test_quorum(m, r->broken_quorum);
}

static uint64_t new_req(struct run *r)
{
	STRATA_ASSERT(r->reqid < MAXREQ);
	return ++r->reqid;
}

static uint64_t oracle_req(void *arg, uint32_t q)
{
	(void)q;
	return new_req(arg);
}

static void crash(struct run *r, uint32_t id)
{
	simf_crash(r->s, r->n, r->down, &id, 1, oracle_req, r);
	r->ncrash++;
}

static void propose(struct run *r, uint32_t q, uint64_t inst)
{
	if (r->asked[q][inst] || r->down[q])
		return;
	r->asked[q][inst] = true;
	char key[24], val[24];
	int kl = snprintf(key, sizeof(key), "%llu", (unsigned long long)inst);
	int vl = snprintf(val, sizeof(val), "%c%llu",
			  'a' + (r->same[inst] ? 0 : (int)sim_random_below(r->s, 3)),
			  (unsigned long long)inst);
	uint64_t id = new_req(r);
	r->is_prop[id] = true;
	struct strata_request req = { .id = id, .op = STRATA_OP_PROPOSE,
				      .key = (const uint8_t *)key, .key_len = (size_t)kl,
				      .value = (const uint8_t *)val, .value_len = (size_t)vl };
	sim_request(r->s, q, r->algo, &req);
}

static struct run *setup(uint64_t seed, bool trace, uint32_t broken)
{
	struct run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	r->broken_quorum = broken;
	r->algo = seed % 2 ? "fast-uflood" : "fast-uhier";
	strata_config_defaults(&r->cfg);
	snprintf(r->cfg.cluster_id, sizeof(r->cfg.cluster_id), "sim-fast");
	r->n = r->cfg.n = broken ? 4 : seed % 7 == 5 ? 7 : seed % 7 == 6 ? 5 : 4;
	r->f = (r->n - 1) / 3;
	r->cfg.f = r->n - 1;
	r->cfg.model = STRATA_MODEL_FAIL_STOP;
	r->cfg.heartbeat_ms = 20;
	r->cfg.timeout_ms = 100;
	r->cfg.retransmit_min_ms = 10;
	r->cfg.retransmit_max_ms = 100;
	sim_config_loopback(&r->cfg, r->n, 7900);
	struct sim_opts so = { .seed = seed, .cfg = &r->cfg, .build = build, .output = on_output,
			       .arg = r, .trace = trace };
	r->s = sim_new(&so);
	return r;
}

static int finish(struct run *r, int rc, char *why, size_t whylen)
{
	if (rc || r->why[0])
		rc = sim_fail(why, whylen, "t=%llums: %s", (unsigned long long)(sim_now(r->s) / MS),
			      r->why[0] ? r->why : "a step check failed");
	sim_free(r->s);
	free(r);
	return rc;
}

/* Fault-free, every node proposes the same value at once: one step. */
static int one_step_run(uint32_t broken, uint64_t seed, bool trace, char *why, size_t whylen)
{
	struct run *r = setup(seed, trace, broken);
	struct sim *s = r->s;
	uint64_t dmax = 300 + sim_random_below(s, 5 * MS);
	struct sim_net net = { .delay_min_us = 200, .delay_max_us = dmax };
	sim_set_net(s, &net);
	/* Instance 1 warms the links up (the first datagram between two nodes opens a session:
	 * one round trip before any frame); instances 2.. are timed. */
	r->ninst = 2 + (unsigned)sim_random_below(s, 3);
	sim_start(s);
	sim_run_for(s, 1 * MS, NULL, NULL);
	int rc = 0;
	for (uint64_t i = 1; i <= r->ninst && !rc; i++) {
		r->same[i] = true;
		uint64_t t0 = sim_now(s);
		for (uint32_t q = 1; q <= r->n; q++)
			propose(r, q, i);
		rc = sim_run_for(s, 20 * MS, step_check, r);
		for (uint32_t q = 1; q <= r->n && !rc && !r->why[0]; q++) {
			if (!r->dec[q][i])
				failf(r, "node %u did not decide instance %llu within 20 ms (no fault)", q,
				      (unsigned long long)i);
			else if (r->dec_b[q][i] != 1)
				failf(r, "node %u decided instance %llu through uc although every "
					 "proposal was %c%llu and nothing failed", q,
				      (unsigned long long)i, 'a', (unsigned long long)i);
			else if (i > 1 && r->dec_at[q][i] - t0 > dmax)
				failf(r, "node %u decided instance %llu %llu us after the proposals, "
					 "more than one step (the largest delay is %llu us)", q,
				      (unsigned long long)i, (unsigned long long)(r->dec_at[q][i] - t0),
				      (unsigned long long)dmax);
		}
	}
	if (!rc && !r->why[0])
		totals.onestep += r->ninst - 1;
	return finish(r, rc, why, whylen);
}

static int fast_one_step(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return one_step_run(0, seed, trace, why, whylen);
}

static int broken_never_fast(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return one_step_run(STRATA_MAX_NODES + 1, seed, trace, why, whylen);
}

static int fast_run(uint32_t broken, uint64_t seed, bool trace, char *why, size_t whylen)
{
	struct run *r = setup(seed, trace, broken);
	struct sim *s = r->s;
	struct sim_net net = {
		.drop = 0.05 + sim_random_unit(s) * 0.2, .dup = sim_random_unit(s) * 0.1,
		.delay_min_us = 200, .delay_max_us = 200 + sim_random_below(s, 5 * MS),
		.tail = 0.03, .tail_us = 300 * MS,
	};
	sim_set_net(s, &net);
	r->max_crash = (unsigned)sim_random_below(s, r->f + 1);
	r->ninst = 1 + (unsigned)sim_random_below(s, MAXI);
	for (uint64_t i = 1; i <= r->ninst; i++)
		r->same[i] = !broken && sim_random_below(s, 2) == 0;
	sim_start(s);
	sim_run_for(s, 1 * MS, NULL, NULL);
	bool parted = false;
	int rc = 0;
	for (int chunk = 0; chunk < 30 && !rc; chunk++) {
		for (int k = 0; k < 3; k++)
			if (sim_random_unit(s) < 0.5) {
				uint32_t q = simf_pick_up(r->s, r->n, r->down);
				if (q)
					propose(r, q, 1 + sim_random_below(s, r->ninst));
			}
		simf_partition_step(s, r->n, &parted, 0.05, false);
		if (r->ncrash < r->max_crash && sim_random_unit(s) < 0.03) {
			uint32_t q = simf_pick_up(r->s, r->n, r->down);
			if (q)
				crash(r, q);
		}
		rc = sim_run_for(s, 10 * MS, step_check, r);
	}
	for (uint32_t q = 1; q <= r->n && !rc; q++)
		for (uint64_t i = 1; i <= r->ninst; i++)
			propose(r, q, i);
	if (!rc) {
		sim_heal(s);
		struct sim_net calm = { .drop = 0.02, .delay_min_us = 200, .delay_max_us = 3 * MS };
		sim_set_net(s, &calm);
		rc = sim_run_for(s, LIVENESS_MS * MS, step_check, r);
	}
	for (uint32_t q = 1; q <= r->n && !rc && !r->why[0]; q++)
		for (uint64_t i = 1; i <= r->ninst; i++)
			if (!r->down[q] && !r->dec[q][i]) {
				failf(r, "termination: correct node %u did not decide instance %llu within "
					 "%llu ms after the heal (%u crashes, f = %u)", q,
				      (unsigned long long)i, LIVENESS_MS, r->ncrash, r->f);
				break;
			}
	if (!rc && !r->why[0]) {
		totals.fast += r->nfast;
		totals.slow += r->nslow;
	}
	return finish(r, rc, why, whylen);
}

static int fast_random(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return fast_run(0, seed, trace, why, whylen);
}

static int broken_fast_quorum(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return fast_run(2, seed, trace, why, whylen); /* N - 2f at N = 4, f = 1 */
}

static const struct sim_case cases[] = {
	{ "fast-one-step", fast_one_step, 200, false },
	{ "fast-random", fast_random, 300, false },
	{ "broken-fast-on-n-minus-2f", broken_fast_quorum, 200, true },
	{ "broken-never-fast", broken_never_fast, 20, true },
};

int main(int argc, char **argv)
{
	int rc = sim_main(argc, argv, "sim_variants_fast", cases, sizeof(cases) / sizeof(cases[0]));
	printf("sim_variants_fast: in passing seeds, %llu instances decided in one step with no "
	       "fault; under faults %llu decisions on the fast path and %llu through uc\n",
	       totals.onestep, totals.fast, totals.slow);
	if (totals.fast + totals.slow >= 100 && (totals.fast == 0 || totals.slow == 0)) {
		printf("sim_variants_fast: non-vacuity: one of the two paths was never taken\n");
		return rc ? rc : 1;
	}
	return rc;
}
