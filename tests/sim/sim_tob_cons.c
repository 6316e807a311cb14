/* Simulation suite for consensus from total-order broadcast (seed 8.6, src/cons/tob_cons.c),
 * stacked on the node's tob (Alg. 6.1 over erb and leader-driven consensus) on the real <>P and
 * Omega, many instances at once.
 *
 * Every seed: N = 5 (or 3) nodes, 1 to 4 consensus instances; on each, a random subset of the
 * nodes (at least one) proposes distinct values at random times. Fail-noisy faults before GST
 * as in sim_tob: loss 5-25 %, duplication, delays with a 3 % tail of up to 300 ms (<>P suspects
 * correct nodes, Omega changes its mind), partitions, and up to f = (N - 1) / 2 crashes. Then
 * the network heals (2 % loss, delays up to 3 ms) and every correct node must decide, within 5 s
 * of virtual time, every instance a correct node proposed (the bound this suite states).
 *
 * Checked after every step (tests/sim/lib/cons_check.h): validity, integrity, uniform agreement
 * (every node delivers a prefix of one total order, so even a crashed node's decision agrees),
 * and that each client's reply carries its node's decision; at the end agreement and
 * termination.
 *
 * Broken variant (expect_violation): tob-consensus that decides its own proposal at once
 * (cons_tob_cons_test_own) instead of the first value tob delivers: two concurrent proposers
 * decide differently, and the agreement checker must say so. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cons/cons.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"
#include "fd/fd.h"
#include "lib/build.h"
#include "lib/cons_check.h"
#include "lib/faults.h"
#include "rt/sim/harness.h"
#include "rt/sim/sim.h"

#define MS 1000ull
#define MAXN 5
#define MAXI 4
#define LIVENESS_MS 5000ull

struct run {
	bool broken;
	struct strata_config cfg;
	struct sim *s;
	struct cck *ck;
	uint32_t n;
	bool down[MAXN + 1];
	unsigned ncrash, ninst, nprop;
	bool proposed[MAXN + 1][MAXI + 1];
	struct {
		bool decided;
		uint8_t v[48];
		size_t len;
	} dec[MAXN + 1][MAXI + 1];
	uint64_t reqid;
	struct {
		uint32_t node;
		uint64_t inst;
	} req[64];
	char why[256];
};

static void on_reply(struct run *r, uint32_t node, const struct strata_output *o)
{
	if (o->a == 0 || o->a > 64 || r->why[0])
		return;
	uint64_t inst = r->req[o->a - 1].inst;
	if (o->status != 0) {
		snprintf(r->why, sizeof(r->why), "node %u refused a proposal on instance %llu: %s",
			 node, (unsigned long long)inst, strata_strerror(o->status));
		return;
	}
	struct strata_rd rd;
	strata_rd_init(&rd, o->data, o->len);
	uint64_t got = strata_rd_u64(&rd);
	size_t vlen = o->len - rd.off;
	if (!strata_rd_ok(&rd) || got != inst || !r->dec[node][inst].decided ||
	    vlen != r->dec[node][inst].len || memcmp(o->data + rd.off, r->dec[node][inst].v, vlen))
		snprintf(r->why, sizeof(r->why),
			 "node %u answered its client on instance %llu with something other than its "
			 "decision", node, (unsigned long long)inst);
}

static void on_output(struct sim *s, uint32_t node, const struct strata_output *o, void *arg)
{
	struct run *r = arg;
	(void)s;
	if (o->kind == STRATA_OUT_REPLY) {
		on_reply(r, node, o);
		return;
	}
	if (o->module != strata_wire_id("tob-consensus"))
		return;
	if (o->kind == STRATA_OUT_BCAST) {
		cck_on_propose(r->ck, node, o->a, o->data, o->len);
	} else if (o->kind == STRATA_OUT_DELIVER) {
		cck_on_decide(r->ck, node, o->a, o->data, o->len);
		if (o->a >= 1 && o->a <= MAXI && o->len <= sizeof(r->dec[0][0].v)) {
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
	return cck_violation(r->ck) || r->why[0] ? 1 : 0;
}

static void build(struct sim *s, struct strata_node *n, void *arg)
{
	struct run *r = arg;
	(void)s;
	simb_fd(n);
	struct strata_module *m = simb_algo(n, "tob-consensus");
	if (r->broken)
		cons_tob_cons_test_own(m);
}

static void propose(struct run *r, uint32_t q, uint64_t inst)
{
	if (r->proposed[q][inst] || r->reqid == 64)
		return;
	r->proposed[q][inst] = true;
	char key[24], val[48];
	int kl = snprintf(key, sizeof(key), "%llu", (unsigned long long)inst);
	int vl = snprintf(val, sizeof(val), "v%u-i%llu-%u", q, (unsigned long long)inst, r->nprop++);
	r->req[r->reqid].node = q;
	r->req[r->reqid].inst = inst;
	struct strata_request req = { .id = ++r->reqid, .op = STRATA_OP_PROPOSE,
				      .key = (const uint8_t *)key, .key_len = (size_t)kl,
				      .value = (const uint8_t *)val, .value_len = (size_t)vl };
	sim_request(r->s, q, "tob-consensus", &req);
}

static int run_once(bool broken, uint64_t seed, bool trace, char *why, size_t whylen)
{
	struct run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	r->broken = broken;
	strata_config_defaults(&r->cfg);
	snprintf(r->cfg.cluster_id, sizeof(r->cfg.cluster_id), "sim-tob-cons");
	r->n = r->cfg.n = seed % 4 == 3 ? 3 : 5;
	r->cfg.f = (r->n - 1) / 2;
	r->cfg.model = STRATA_MODEL_FAIL_NOISY;
	r->cfg.heartbeat_ms = 20;
	r->cfg.timeout_ms = 100;
	r->cfg.retransmit_min_ms = 10;
	r->cfg.retransmit_max_ms = 100;
	sim_config_loopback(&r->cfg, r->n, 7800);
	r->ck = cck_new(r->n, true);
	struct sim_opts so = { .seed = seed, .cfg = &r->cfg, .build = build, .output = on_output,
			       .arg = r, .trace = trace };
	r->s = sim_new(&so);
	struct sim *s = r->s;
	struct sim_net net = {
		.drop = 0.05 + sim_random_unit(s) * 0.2, .dup = sim_random_unit(s) * 0.1,
		.delay_min_us = 200, .delay_max_us = 200 + sim_random_below(s, 5 * MS),
		.tail = 0.03, .tail_us = 300 * MS,
	};
	sim_set_net(s, &net);
	r->ninst = 1 + (unsigned)sim_random_below(s, MAXI);
	sim_start(s);
	sim_run_for(s, 1 * MS, NULL, NULL);
	bool parted = false;
	int rc = 0;
	/* Every instance gets at least one proposer, early, and more later at random. */
	for (uint64_t i = 1; i <= r->ninst; i++)
		propose(r, 1 + (uint32_t)sim_random_below(s, r->n), i);
	for (int chunk = 0; chunk < 30 && !rc; chunk++) {
		if (sim_random_unit(s) < 0.5) {
			uint32_t q = simf_pick_up(r->s, r->n, r->down);
			if (q)
				propose(r, q, 1 + sim_random_below(s, r->ninst));
		}
		simf_partition_step(s, r->n, &parted, 0.05, false);
		if (r->ncrash < r->cfg.f && sim_random_unit(s) < 0.03) {
			uint32_t q = simf_pick_up(r->s, r->n, r->down);
			if (q) {
				simf_crash(s, r->n, r->down, &q, 1, NULL, NULL);
				r->ncrash++;
			}
		}
		rc = sim_run_for(s, 10 * MS, step_check, r);
	}
	if (!rc) {
		sim_heal(s);
		struct sim_net calm = { .drop = 0.02, .delay_min_us = 200, .delay_max_us = 3 * MS };
		sim_set_net(s, &calm);
		rc = sim_run_for(s, LIVENESS_MS * MS, step_check, r);
	}
	if (rc) {
		rc = sim_fail(why, whylen, "t=%llums: %s", (unsigned long long)(sim_now(s) / MS),
			      r->why[0] ? r->why : cck_violation(r->ck));
	} else {
		bool correct[MAXN + 1] = { false };
		for (uint32_t q = 1; q <= r->n; q++)
			correct[q] = !r->down[q];
		rc = cck_final(r->ck, correct, why, whylen);
		if (!rc && cck_decisions(r->ck) == 0)
			rc = sim_fail(why, whylen, "no decision at all");
	}
	sim_free(s);
	cck_free(r->ck);
	free(r);
	return rc;
}

static int tob_cons_random(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return run_once(false, seed, trace, why, whylen);
}

static int broken_own_value(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return run_once(true, seed, trace, why, whylen);
}

static const struct sim_case cases[] = {
	{ "tob-consensus-random-gst", tob_cons_random, 300, false },
	{ "broken-tob-consensus-decides-own-value", broken_own_value, 50, true },
};

int main(int argc, char **argv)
{
	return sim_main(argc, argv, "sim_tob_cons", cases, sizeof(cases) / sizeof(cases[0]));
}
