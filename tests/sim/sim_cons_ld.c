/* Simulation suite for Leader-Driven Consensus (Alg. 5.7) composed of Leader-Based
 * Epoch-Change (5.5) over Omega and Read/Write Epoch Consensus (5.6): src/cons/ldc.c, ec.c,
 * ep.c, on the node's real <>P and Omega (src/fd/), many instances at once.
 *
 * Fail-noisy model: the network is asynchronous until a stabilisation time (GST). Before it:
 * loss 5-25 %, duplication, delays up to 5 ms with a heavy tail of up to 300 ms (longer than the
 * detector's timeout, so <>P suspects correct nodes and Omega changes its mind), partitions and
 * one-way cuts, and up to f = (N - 1) / 2 crashes (N > 2f). Proposals on 1-4 instances by random
 * subsets of nodes. After GST (the network heals: 2 % loss, delays up to 3 ms), every correct
 * node must decide every instance a correct node proposed within 5 s of virtual time (the bound
 * this suite states: <>P's timeouts settle, Omega converges, one epoch change and one epoch
 * consensus per instance).
 *
 * Checked after every step (tests/sim/lib/cons_check.h): validity, integrity, uniform agreement,
 * and that each client's reply carries its node's decision; at the end agreement and termination.
 *
 * Broken variant (expect_violation): the epoch consensus's quorums lowered from a majority to
 * N/2 (cons_ldc_test_quorum). With N = 4 or 5 split into {1, 2} and the rest before anyone
 * proposes, each side's Omega trusts its own leader, each side holds "N/2" processes, and each
 * decides its own side's value: the agreement checker must catch it. The same split runs on the
 * real algorithm as an ordinary case (ldc-split-heal): the minority side must not decide until
 * the partition heals, and then decides the majority's value. */
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
#include "rt/sim/harness.h"
#include "rt/sim/sim.h"

#define MS 1000ull
#define MAXN 5
#define MAXI 4
#define LIVENESS_MS 5000ull

enum scen { SC_RANDOM = 0, SC_SPLIT };

struct spec {
	enum scen scen;
	bool low_quorum;
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
	uint64_t req_inst[64];
	uint32_t req_node[64];
	bool bad_reply;
	char reply_why[200];
	struct {
		bool decided;
		char v[64];
		size_t len;
	} dec[MAXN + 1][MAXI + 1];
};

static void build(struct sim *s, struct strata_node *n, void *arg)
{
	struct run *r = arg;
	(void)s;
	char err[256];
	struct strata_module *m = NULL;
	if (strata_fd_build(n, err, sizeof(err)) != 0 || !(m = cons_ldc_create(n, err, sizeof(err)))) {
		fprintf(stderr, "build: %s\n", err);
		abort();
	}
	if (r->sp->low_quorum)
		cons_ldc_test_quorum(m, r->n / 2);
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
	if (o->module != strata_wire_id("ldc"))
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
	STRATA_ASSERT(r->reqid + 1 < 64);
	uint64_t id = ++r->reqid;
	r->req_inst[id] = inst;
	r->req_node[id] = node;
	struct strata_request req = {
		.id = id, .op = STRATA_OP_PROPOSE, .key = (const uint8_t *)key,
		.key_len = (size_t)klen, .value = (const uint8_t *)val, .value_len = (size_t)vlen,
	};
	sim_request(r->s, node, "ldc", &req);
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
	snprintf(r->cfg.cluster_id, sizeof(r->cfg.cluster_id), "sim-cons-ld");
	if (sp->scen == SC_SPLIT)
		r->n = seed % 2 ? 5 : 4;
	else
		r->n = seed % 4 == 3 ? 3 : 5;
	r->cfg.n = r->n;
	r->cfg.f = (r->n - 1) / 2;
	r->cfg.model = STRATA_MODEL_FAIL_NOISY;
	r->cfg.heartbeat_ms = 20;
	r->cfg.timeout_ms = 100;
	r->cfg.retransmit_min_ms = 10;
	r->cfg.retransmit_max_ms = 100;
	for (uint32_t i = 1; i <= r->n; i++) {
		r->cfg.nodes[i].id = i;
		snprintf(r->cfg.nodes[i].host, sizeof(r->cfg.nodes[i].host), "127.0.0.1");
		r->cfg.nodes[i].port = (uint16_t)(7400 + i);
	}
	r->ck = cck_new(r->n, true);
	struct sim_opts so = {
		.seed = seed, .cfg = &r->cfg, .build = build, .output = on_output, .arg = r,
		.trace = trace,
	};
	r->s = sim_new(&so);
	struct sim_net net = {
		.drop = sp->scen == SC_SPLIT ? 0.05 : 0.05 + sim_random_unit(r->s) * 0.2,
		.dup = sim_random_unit(r->s) * 0.1,
		.delay_min_us = 200,
		.delay_max_us = 200 + sim_random_below(r->s, 5 * MS),
		.tail = sp->scen == SC_SPLIT ? 0 : 0.03,
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
		if (r->ncrash < r->cfg.f && sim_random_unit(s) < 0.03) {
			uint32_t q = pick_up(r);
			if (q) {
				sim_crash(s, q);
				r->down[q] = true;
				r->ncrash++;
			}
		}
		int rc = sim_run_for(s, 10 * MS, step_check, r);
		if (rc)
			return rc;
	}
	return 0;
}

/* {1, 2} | {3, ..., N} for 1.5 s: each side proposes its own value on instance 1. */
static int phase_split(struct run *r)
{
	struct sim *s = r->s;
	int rc = sim_run_for(s, 100 * MS, step_check, r);
	if (rc)
		return rc;
	uint64_t a = (1ull << 1) | (1ull << 2);
	sim_partition(s, a, ((1ull << (r->n + 1)) - 2) & ~a);
	rc = sim_run_for(s, 300 * MS, step_check, r); /* both sides elect their leader */
	for (uint32_t q = 1; q <= r->n && !rc; q++)
		propose(r, q, 1, q <= 2 ? "a" : "b");
	if (!rc)
		rc = sim_run_for(s, 1500 * MS, step_check, r);
	return rc;
}

static int run_spec(const struct spec *sp, uint64_t seed, bool trace, char *why, size_t whylen)
{
	struct run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	setup(r, sp, seed, trace);
	int rc = sp->scen == SC_SPLIT ? phase_split(r) : phase_random(r);
	if (!rc) {
		sim_heal(r->s);
		struct sim_net calm = { .drop = 0.02, .delay_min_us = 200, .delay_max_us = 3 * MS };
		sim_set_net(r->s, &calm);
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

static int ldc_random(uint64_t seed, bool trace, char *why, size_t whylen)
{
	static const struct spec sp = { .scen = SC_RANDOM };
	return run_spec(&sp, seed, trace, why, whylen);
}

static int ldc_split(uint64_t seed, bool trace, char *why, size_t whylen)
{
	static const struct spec sp = { .scen = SC_SPLIT };
	return run_spec(&sp, seed, trace, why, whylen);
}

static int ldc_split_low_quorum(uint64_t seed, bool trace, char *why, size_t whylen)
{
	static const struct spec sp = { .scen = SC_SPLIT, .low_quorum = true };
	return run_spec(&sp, seed, trace, why, whylen);
}

static const struct sim_case cases[] = {
	{ "ldc-random-gst", ldc_random, 1000, false },
	{ "ldc-split-heal", ldc_split, 200, false },
	{ "broken-ldc-quorum-n-over-2", ldc_split_low_quorum, 50, true },
};

int main(int argc, char **argv)
{
	return sim_main(argc, argv, "sim_cons_ld", cases, sizeof(cases) / sizeof(cases[0]));
}
