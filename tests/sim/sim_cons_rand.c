/* Simulation suite for the randomized consensus algorithms of chapter 5: Randomized Binary
 * Consensus (Alg. 5.12-5.13, module rbc) and Randomized Consensus with Large Domain (Alg.
 * 5.14, module rcons), src/cons/rbc.c and rcons.c, with the threshold common coin (tcoin.h).
 *
 * Every seed: N = 3, 4 or 5 nodes, f = (N - 1) / 2, the coin dealt with threshold f + 1; 1 to
 * 4 instances; on each a random non-empty subset of the nodes proposes (rbc: "0" or "1" at
 * random; rcons: distinct strings) at random times, the others join when they hear of it.
 * Faults of the fail-silent model: loss, duplication, delays with a heavy tail (reordering),
 * partitions and one-way cuts that heal, and up to f crashes. The *-seeded cases use the
 * test-only seeded coin (cheap, to explore many schedules); the *-threshold cases run the real
 * threshold coin (shares with proofs, verified, combined) on fewer seeds.
 *
 * Checked after every step (tests/sim/lib/cons_check.h): validity, integrity, agreement among
 * every process that decided (no node decides differently from another, crashed or not); the
 * client's reply carries the decision. At the end: termination: after the network heals (calm:
 * 2% loss, delays up to 3 ms) every correct node decides every instance a correct node proposed
 * within 3 s of virtual time (the bound this suite states and checks).
 *
 * Rounds to decide: every decision's round (rbc: the binary round; rcons: the binary instance
 * that decided 1, and the binary rounds of the engines) is counted; the histograms are printed
 * at the end of the run (docs/consensus.md quotes them).
 *
 * Broken variant: broken-rbc-decides-on-one-value decides when a single PHASE-2 value is
 * non-bottom (instead of more than f): agreement must fail on some seed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cons/cons.h"
#include "cons/tcoin.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"
#include "lib/cons_check.h"
#include "rt/sim/harness.h"
#include "rt/sim/sim.h"

#define MS 1000ull
#define MAXN 5
#define MAXI 4
#define LIVENESS_MS 3000ull
#define HIST 16 /* rounds 1..15, and 16+ */

struct spec {
	const char *algo;
	bool threshold;     /* the real threshold coin (else the seeded test coin) */
	int decide_min;     /* broken variant: decide on > decide_min equal values (-1: f) */
	unsigned hist;      /* which histogram this case fills */
};

/* Histograms of rounds to decide, per case kind, over every seed the process ran. Test-only
 * state (the suite's own tally). */
static uint64_t hist[5][HIST + 1]; /* [4]: broken variants, not printed */
static const char *const hist_name[4] = { "rbc (seeded coin)", "rbc (threshold coin)",
					  "rcons (seeded coin)", "rcons (threshold coin)" };

struct run {
	const struct spec *sp;
	const struct strata_algo *algo;
	struct strata_config cfg;
	uint8_t shares[MAXN][32];
	struct sim *s;
	struct cck *ck;
	uint32_t n;
	bool down[MAXN + 1];
	unsigned ncrash;
	uint64_t reqid;
	uint64_t req_inst[256];
	uint32_t req_node[256];
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
	char err[256];
	struct strata_module *m = strata_algo_create(r->algo, n, err, sizeof(err));
	if (!m) {
		fprintf(stderr, "create %s: %s\n", r->algo->name, err);
		abort();
	}
	if (!r->sp->threshold)
		cons_rb_test_seeded_coin(m, sim_seed(s));
	if (r->sp->decide_min >= 0)
		cons_rb_test_decide_min(m, (uint32_t)r->sp->decide_min);
}

static void reply_fail(struct run *r, const char *fmt, uint32_t node, uint64_t inst,
		       const char *detail)
{
	if (r->bad_reply)
		return;
	r->bad_reply = true;
	snprintf(r->reply_why, sizeof(r->reply_why), fmt, node, (unsigned long long)inst, detail);
}

static void on_reply(struct run *r, uint32_t node, const struct strata_output *o)
{
	if (o->a == 0 || o->a >= 256 || r->req_node[o->a] != node)
		return;
	uint64_t inst = r->req_inst[o->a];
	if (o->status != 0) {
		reply_fail(r, "node %u refused a proposal on instance %llu: %s", node, inst,
			   strata_strerror(o->status));
		return;
	}
	struct strata_rd rd;
	strata_rd_init(&rd, o->data, o->len);
	uint64_t got = strata_rd_u64(&rd);
	size_t vlen = o->len - rd.off;
	const uint8_t *v = o->data + rd.off;
	if (!strata_rd_ok(&rd) || got != inst || inst > MAXI || !r->dec[node][inst].decided ||
	    vlen != r->dec[node][inst].len || memcmp(v, r->dec[node][inst].v, vlen) != 0)
		reply_fail(r, "node %u answered its client on instance %llu with %s", node, inst,
			   "something other than its decision");
}

static void on_output(struct sim *s, uint32_t node, const struct strata_output *o, void *arg)
{
	struct run *r = arg;
	(void)s;
	if (o->kind == STRATA_OUT_REPLY) {
		on_reply(r, node, o);
		return;
	}
	if (o->module != r->algo->wire_id)
		return;
	if (o->kind == STRATA_OUT_BCAST) {
		cck_on_propose(r->ck, node, o->a, o->data, o->len);
	} else if (o->kind == STRATA_OUT_DELIVER) {
		cck_on_decide(r->ck, node, o->a, o->data, o->len);
		hist[r->sp->hist][o->b < HIST ? o->b : HIST]++;
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

static void propose(struct run *r, uint32_t node, uint64_t inst)
{
	char key[24], val[48];
	int klen = snprintf(key, sizeof(key), "%llu", (unsigned long long)inst);
	int vlen;
	if (strcmp(r->sp->algo, "rbc") == 0)
		vlen = snprintf(val, sizeof(val), "%u", (unsigned)sim_random_below(r->s, 2));
	else
		vlen = snprintf(val, sizeof(val), "v%u-%llu-%llu", node, (unsigned long long)inst,
				(unsigned long long)sim_seed(r->s));
	STRATA_ASSERT(r->reqid + 1 < 256);
	uint64_t id = ++r->reqid;
	r->req_inst[id] = inst;
	r->req_node[id] = node;
	struct strata_request req = {
		.id = id, .op = STRATA_OP_PROPOSE, .key = (const uint8_t *)key,
		.key_len = (size_t)klen, .value = (const uint8_t *)val, .value_len = (size_t)vlen,
	};
	sim_request(r->s, node, r->algo->name, &req);
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
	r->algo = strata_algo_find(sp->algo);
	STRATA_ASSERT(r->algo);
	strata_config_defaults(&r->cfg);
	snprintf(r->cfg.cluster_id, sizeof(r->cfg.cluster_id), "sim-cons-rand");
	r->n = r->cfg.n = 3 + (uint32_t)(seed % 3);
	r->cfg.f = (r->n - 1) / 2;
	r->cfg.model = STRATA_MODEL_RANDOMIZED;
	r->cfg.retransmit_min_ms = 10;
	r->cfg.retransmit_max_ms = 100;
	/* The coin: a dealing per cluster size (key generation is not what the suite explores). */
	uint8_t dseed[32] = { 0 };
	dseed[0] = (uint8_t)r->n;
	memcpy(dseed + 1, "sim-cons-rand-coin", 18);
	uint8_t vk[MAXN][32];
	r->cfg.coin_threshold = r->cfg.f + 1;
	STRATA_ASSERT(tcoin_deal(r->n, r->cfg.coin_threshold, dseed, r->shares, vk) == 0);
	for (uint32_t i = 1; i <= r->n; i++) {
		r->cfg.nodes[i].id = i;
		snprintf(r->cfg.nodes[i].host, sizeof(r->cfg.nodes[i].host), "127.0.0.1");
		r->cfg.nodes[i].port = (uint16_t)(7400 + i);
		memcpy(r->cfg.nodes[i].coin_key, vk[i - 1], 32);
		r->cfg.nodes[i].has_coin_key = true;
	}
	r->ck = cck_new(r->n, true);
	struct sim_opts so = {
		.seed = seed, .cfg = &r->cfg, .build = build, .output = on_output, .arg = r,
		.trace = trace, .coin_shares = (const uint8_t(*)[32])r->shares,
	};
	r->s = sim_new(&so);
	struct sim_net net = {
		.drop = 0.05 + sim_random_unit(r->s) * 0.2,
		.dup = sim_random_unit(r->s) * 0.1,
		.delay_min_us = 200,
		.delay_max_us = 200 + sim_random_below(r->s, 5 * MS),
		.tail = 0.05,
		.tail_us = 40 * MS,
	};
	sim_set_net(r->s, &net);
	sim_start(r->s);
	sim_run_for(r->s, 1 * MS, NULL, NULL);
}

/* 30 chunks of 5 ms: proposals, partitions and one-way cuts that heal, up to f crashes. */
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
	unsigned max_crash = (unsigned)sim_random_below(s, r->cfg.f + 1);
	bool parted = false;
	for (int chunk = 0; chunk < 30; chunk++) {
		for (uint32_t q = 1; q <= r->n; q++)
			for (uint64_t i = 1; i <= ninst; i++)
				if (todo[q][i] && !r->down[q] && sim_random_unit(s) < 0.2) {
					todo[q][i] = false;
					propose(r, q, i);
				}
		if (!parted && sim_random_unit(s) < 0.08) {
			if (sim_random_below(s, 2)) {
				uint64_t a = 0;
				for (uint32_t q = 1; q <= r->n; q++)
					if (sim_random_below(s, 2))
						a |= 1ull << q;
				uint64_t all = ((1ull << (r->n + 1)) - 2);
				sim_partition(s, a, all & ~a);
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
		if (r->ncrash < max_crash && sim_random_unit(s) < 0.05) {
			uint32_t q = pick_up(r);
			if (q) {
				sim_crash(s, q);
				r->down[q] = true;
				r->ncrash++;
			}
		}
		int rc = sim_run_for(s, 5 * MS, step_check, r);
		if (rc)
			return rc;
	}
	return 0;
}

static int run_spec(const struct spec *sp, uint64_t seed, bool trace, char *why, size_t whylen)
{
	struct run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	setup(r, sp, seed, trace);
	int rc = phase_random(r);
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

#define CASE(fn, algo_, thr, dmin, h)                                                       \
	static int fn(uint64_t seed, bool trace, char *why, size_t whylen)                  \
	{                                                                                   \
		static const struct spec sp = { .algo = algo_, .threshold = thr,            \
						.decide_min = dmin, .hist = h };            \
		return run_spec(&sp, seed, trace, why, whylen);                             \
	}

CASE(rbc_seeded, "rbc", false, -1, 0)
CASE(rbc_threshold, "rbc", true, -1, 1)
CASE(rcons_seeded, "rcons", false, -1, 2)
CASE(rcons_threshold, "rcons", true, -1, 3)
CASE(rbc_broken_one, "rbc", false, 0, 4)

static const struct sim_case cases[] = {
	{ "rbc-seeded", rbc_seeded, 1000, false },
	{ "rbc-threshold", rbc_threshold, 200, false },
	{ "rcons-seeded", rcons_seeded, 1000, false },
	{ "rcons-threshold", rcons_threshold, 200, false },
	{ "broken-rbc-decides-on-one-value", rbc_broken_one, 100, true },
};

static void print_hist(void)
{
	for (unsigned h = 0; h < 4; h++) {
		uint64_t total = 0, sum = 0;
		for (unsigned k = 1; k <= HIST; k++) {
			total += hist[h][k];
			sum += hist[h][k] * k;
		}
		if (!total)
			continue;
		printf("rounds to decide, %s: %llu decisions, mean %.2f\n", hist_name[h],
		       (unsigned long long)total, (double)sum / (double)total);
		for (unsigned k = 1; k <= HIST; k++)
			if (hist[h][k])
				printf("  %2u%s %8llu  %5.1f%%\n", k, k == HIST ? "+" : " ",
				       (unsigned long long)hist[h][k],
				       100.0 * (double)hist[h][k] / (double)total);
	}
}

int main(int argc, char **argv)
{
	int rc = sim_main(argc, argv, "sim_cons_rand", cases, sizeof(cases) / sizeof(cases[0]));
	print_hist();
	return rc;
}
