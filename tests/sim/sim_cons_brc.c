/* Simulation suite for Byzantine randomized binary consensus (module brcons, src/cons/brcons.c:
 * Mostefaoui-Moumen-Raynal's BV-broadcast, AUX, the CONF step, and the threshold coin).
 *
 * Every seed: N = 4 (f = 1) or N = 7 (f = 2), the coin dealt with threshold f + 1; f faulty
 * nodes drawn per seed, each with a behaviour drawn per seed among silent, equivocate, replay,
 * forge, badsig, lie-state, old-epoch (enum strata_byz, sim_set_byz) or a twin (sim_twin: two
 * correct copies of one identity, which to the others is one process saying two things). 1 to
 * 3 instances; on each the faulty nodes propose, and at random times either every correct
 * node (3 instances in 4; the same value in half of them, so that strong validity names the
 * decision) or f + 1 or more correct nodes with one value, the other correct nodes joining when
 * f + 1 round-1 estimates agree (the condition brcons states for termination). Network faults: loss (5-25 %), duplication, delays with a heavy
 * tail (reordering), one partition or one-way cut that heals; then stabilisation (calm: 2 %
 * loss, delays up to 3 ms) for LIVENESS_MS of virtual time.
 *
 * Checked after every step on the correct nodes' outputs only (tests/sim/lib/cons_check.h,
 * fed with the correct nodes' client proposals and decisions): validity in the Byzantine sense
 * (a decided value was proposed by a correct process; binary, so this is strong validity too),
 * integrity (no correct process decides twice), agreement (no two correct processes decide
 * differently). At the end: termination: every correct node decided every instance, and
 * within ROUND_BOUND rounds (the bound this suite states; the histogram of rounds to decide is
 * printed, docs/consensus-byzantine.md quotes it). The *-seeded cases use the test-only seeded
 * coin (cheap, for many schedules); the *-threshold cases the real threshold coin (shares with
 * proofs, verified, combined; badsig shares are rejected).
 *
 * Broken variants (each must be caught; the faulty nodes forge in both): broken-relay-on-one-
 * echo relays an EST on one echo instead of f + 1, so the forged value enters bin_values in
 * every round, vals never narrows to one value and no correct node decides (termination; a
 * forged value can also be decided: validity); broken-decides-on-one-decided decides on one
 * DECIDED message instead of f + 1 (adopt) and 2f + 1 (output), so a forged DECIDED of the
 * other value is decided (validity or agreement).
 *
 * Sends the links refuse (brcons.c, "Sends the links refuse"): brcons-backlog, `[links]
 * backlog_bytes` small, a calm network (no loss), the seeded coin, the f faulty nodes silent.
 * Every correct node proposes on instance 1 (the link sessions open, and it is decided); then the
 * links of a cycle through the correct nodes are cut (c1 -> c2, ..., ck -> c1, a random order)
 * and each ci's backlog toward its successor filled to the last byte (lib/filler.h: the node's
 * other traffic), and every correct node proposes one value on instance 2: each one's round-1
 * EST to its successor is refused, so every correct node holds N - f - 1 = 2f ESTs of the value,
 * short of the 2f + 1 that put it in bin_values, and no AUX is ever sent. Owed, and sent when the
 * links heal 200 ms later, they let every correct node decide: termination (and the usual
 * safety checks). A seed where no correct node owed a message is vacuous.
 * broken-brcons-backlog-no-owed (cons_brcons_test_no_owed: a refused message is lost) must fail
 * termination. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cons/cons.h"
#include "core/assert.h"
#include "core/stack.h"
#include "lib/byz_harness.h"
#include "lib/cons_check.h"
#include "lib/faults.h"
#include "lib/filler.h"
#include "lib/ld_harness.h"
#include "rt/sim/harness.h"
#include "rt/sim/sim.h"

#define MS BYZH_MS
#define MAXN 7
#define MAXI 3
#define LIVENESS_MS 4000ull
#define ROUND_BOUND 30
#define HIST 16

enum variant { V_OK = 0, V_RELAY_ONE, V_DECIDED_ONE, V_BACKLOG, V_BACKLOG_NO_OWED };

struct spec {
	bool threshold;
	enum variant variant;
	unsigned hist; /* which histogram: 0 seeded, 1 threshold, 2 not printed */
};

/* Rounds to decide over the seeds the process ran, [hist][N == 7][round]: the suite's tally. */
static uint64_t hist[3][2][HIST + 1];

static const enum strata_byz behaviours[] = {
	STRATA_BYZ_SILENT, STRATA_BYZ_EQUIVOCATE, STRATA_BYZ_REPLAY,    STRATA_BYZ_FORGE,
	STRATA_BYZ_BADSIG, STRATA_BYZ_LIE_STATE,  STRATA_BYZ_OLD_EPOCH, BYZH_TWINS,
};

struct run {
	struct byzh h; /* the cluster, roles and twins, the simulation */
	const struct spec *sp;
	uint8_t shares[MAXN][32];
	struct cck *ck;
	uint64_t max_round;
};

static void build(struct sim *s, struct strata_node *n, void *arg)
{
	struct run *r = arg;
	char err[256];
	const struct strata_algo *a = strata_algo_find("brcons");
	STRATA_ASSERT(a);
	struct strata_module *m = strata_algo_create(a, n, err, sizeof(err));
	if (!m) {
		fprintf(stderr, "create brcons: %s\n", err);
		abort();
	}
	if (!r->sp->threshold)
		cons_rb_test_seeded_coin(m, sim_seed(s));
	if (r->sp->variant == V_RELAY_ONE)
		cons_brcons_test_relay_at(m, 1);
	else if (r->sp->variant == V_DECIDED_ONE)
		cons_brcons_test_decided_at(m, 1);
	if (r->sp->variant == V_BACKLOG || r->sp->variant == V_BACKLOG_NO_OWED)
		sim_filler_add(n);
	if (r->sp->variant == V_BACKLOG_NO_OWED)
		cons_brcons_test_no_owed(m);
}

static void on_output(struct sim *s, uint32_t node, const struct strata_output *o, void *arg)
{
	struct run *r = arg;
	(void)s;
	if (node < 1 || node > r->h.n || !byzh_correct(&r->h, node) ||
	    o->module != strata_wire_id("brcons"))
		return; /* a faulty node's outputs prove nothing */
	if (o->kind == STRATA_OUT_BCAST) {
		cck_on_propose(r->ck, node, o->a, o->data, o->len);
	} else if (o->kind == STRATA_OUT_DELIVER) {
		cck_on_decide(r->ck, node, o->a, o->data, o->len);
		hist[r->sp->hist][r->h.n == 7][o->b < HIST ? o->b : HIST]++;
		if (o->b > r->max_round)
			r->max_round = o->b;
	}
}

static int step_check(struct sim *s, void *arg)
{
	struct run *r = arg;
	(void)s;
	return cck_violation(r->ck) ? 1 : 0;
}

static void propose(struct run *r, uint32_t node, uint64_t inst, int v)
{
	char key[24], val[2] = { (char)('0' + v), 0 };
	int klen = snprintf(key, sizeof(key), "%llu", (unsigned long long)inst);
	struct strata_request req = {
		.id = inst * 100 + node, .op = STRATA_OP_PROPOSE, .key = (const uint8_t *)key,
		.key_len = (size_t)klen, .value = (const uint8_t *)val, .value_len = 1,
	};
	sim_request(r->h.s, node, "brcons", &req);
}

/* The cluster of a seed (N = 4 or 7, the coin dealt, f behaviours drawn, `dflt` for a process
 * drawn with none); backlog_bytes 0 keeps the default. Not started: the caller sets the net. */
static struct sim *cluster_new(struct run *r, const struct spec *sp, uint64_t seed, bool trace,
			       uint32_t backlog_bytes, enum strata_byz dflt)
{
	r->sp = sp;
	struct byzh *h = &r->h;
	uint32_t n = seed % 2 ? 7 : 4;
	byzh_config(h, "sim-cons-brc", n, (n - 1) / 3, 7500);
	h->cfg.retransmit_min_ms = 10;
	h->cfg.retransmit_max_ms = 100;
	if (backlog_bytes)
		h->cfg.backlog_bytes = backlog_bytes;
	ldh_coin_deal(&h->cfg, r->shares);
	h->coin_shares = (const uint8_t(*)[32])r->shares;
	r->ck = cck_new(n, true);
	struct sim *s = byzh_sim_new(h, seed, trace, build, on_output, r, NULL);
	byzh_draw(h, h->f, 0, behaviours, sizeof(behaviours) / sizeof(behaviours[0]), dflt);
	return s;
}

static void setup(struct run *r, const struct spec *sp, uint64_t seed, bool trace)
{
	struct byzh *h = &r->h;
	struct sim *s = cluster_new(r, sp, seed, trace, 0,
				    sp->variant != V_OK ? STRATA_BYZ_FORGE : STRATA_BYZ_NONE);
	struct sim_net net = ldh_net_storm(s, 0, 0.05, 40 * MS);
	sim_set_net(s, &net);
	byzh_start(h);
	sim_run_for(s, 1 * MS, NULL, NULL);
}

/* 20 chunks of 5 ms: proposals at random times, one partition or one-way cut that heals. */
static int phase_random(struct run *r)
{
	struct sim *s = r->h.s;
	uint32_t n = r->h.n, f = r->h.f;
	uint64_t ninst = 1 + sim_random_below(s, MAXI);
	int val[MAXN + 1][MAXI + 1];
	bool todo[MAXN + 1][MAXI + 1] = { { false } };
	for (uint64_t i = 1; i <= ninst; i++) {
		/* at least f + 1 correct proposers (termination needs them), in random order */
		uint32_t correct[MAXN], nc = 0;
		for (uint32_t q = 1; q <= n; q++)
			if (byzh_correct(&r->h, q))
				correct[nc++] = q;
		for (uint32_t k = nc; k > 1; k--) {
			uint32_t j = (uint32_t)sim_random_below(s, k);
			uint32_t t = correct[k - 1];
			correct[k - 1] = correct[j];
			correct[j] = t;
		}
		/* every correct node proposes (3 instances in 4), or f + 1 or more propose one
		 * value and the others join with it */
		bool all = sim_random_below(s, 4) != 0;
		uint32_t np = all ? nc : f + 1 + (uint32_t)sim_random_below(s, nc - f);
		bool same = !all || r->sp->variant == V_RELAY_ONE || sim_random_below(s, 2);
		int common = (int)sim_random_below(s, 2);
		for (uint32_t k = 0; k < np; k++) {
			todo[correct[k]][i] = true;
			val[correct[k]][i] = same ? common : (int)sim_random_below(s, 2);
		}
		for (uint32_t q = 1; q <= n; q++)
			if (!byzh_correct(&r->h, q)) {
				todo[q][i] = true;
				val[q][i] = same ? !common : (int)sim_random_below(s, 2);
			}
	}
	bool parted = false;
	for (int chunk = 0; chunk < 20; chunk++) {
		for (uint32_t q = 1; q <= n; q++)
			for (uint64_t i = 1; i <= ninst; i++)
				if (todo[q][i] && sim_random_unit(s) < 0.25) {
					todo[q][i] = false;
					propose(r, q, i, val[q][i]);
				}
		simf_partition_step(s, n, &parted, 0.08, true);
		int rc = sim_run_for(s, 5 * MS, step_check, r);
		if (rc)
			return rc;
	}
	for (uint32_t q = 1; q <= n; q++) /* the proposals not made yet */
		for (uint64_t i = 1; i <= ninst; i++)
			if (todo[q][i])
				propose(r, q, i, val[q][i]);
	return 0;
}

static int run_spec(const struct spec *sp, uint64_t seed, bool trace, char *why, size_t whylen)
{
	struct run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	setup(r, sp, seed, trace);
	struct byzh *h = &r->h;
	int rc = phase_random(r);
	if (!rc) {
		sim_heal(h->s);
		struct sim_net calm = { .drop = 0.02, .delay_min_us = 200, .delay_max_us = 3 * MS };
		sim_set_net(h->s, &calm);
		rc = sim_run_for(h->s, LIVENESS_MS * MS, step_check, r);
	}
	char faults[160];
	byzh_who(h, faults, sizeof(faults));
	if (rc) {
		byzh_fail(h, "t=%llums: %s [n=%u f=%u%s]", (unsigned long long)(sim_now(h->s) / MS),
			  cck_violation(r->ck), h->n, h->f, faults);
	} else {
		bool correct[MAXN + 1] = { false };
		for (uint32_t q = 1; q <= h->n; q++)
			correct[q] = byzh_correct(h, q);
		char w[300];
		if (cck_final(r->ck, correct, w, sizeof(w)))
			byzh_fail(h, "%s [n=%u f=%u%s]", w, h->n, h->f, faults);
		else if (r->max_round > ROUND_BOUND)
			byzh_fail(h, "a correct node decided in round %llu > %d [n=%u f=%u%s]",
				  (unsigned long long)r->max_round, ROUND_BOUND, h->n, h->f, faults);
	}
	cck_free(r->ck);
	rc = byzh_finish(h, why, whylen);
	free(r);
	return rc;
}

/* brcons-backlog (see the top). */
static int backlog_spec(const struct spec *sp, uint64_t seed, bool trace, char *why,
			size_t whylen)
{
	struct run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	struct byzh *h = &r->h;
	struct sim *s = cluster_new(r, sp, seed, trace, 16384, STRATA_BYZ_SILENT);
	uint32_t n = h->cfg.n;
	struct sim_net net = { .delay_min_us = 200,
			       .delay_max_us = 300 + sim_random_below(s, 2 * MS) };
	sim_set_net(s, &net);
	byzh_start(h);
	sim_run_for(s, 1 * MS, NULL, NULL);
	uint32_t c[MAXN], k = 0;
	for (uint32_t q = 1; q <= n; q++)
		if (byzh_correct(h, q))
			c[k++] = q;
	for (uint32_t q = 1; q <= n; q++)
		propose(r, q, 1, (int)sim_random_below(s, 2));
	int rc = sim_run_for(s, 300 * MS, step_check, r);
	for (uint32_t j = k; j > 1 && !rc; j--) {
		uint32_t x = (uint32_t)sim_random_below(s, j);
		uint32_t t = c[j - 1];
		c[j - 1] = c[x];
		c[x] = t;
	}
	for (uint32_t j = 0; j < k && !rc; j++)
		sim_link(s, c[j], c[(j + 1) % k], false);
	/* the acknowledgements of what each sent before the cut arrive (the other way is up) */
	if (!rc)
		rc = sim_run_for(s, 10 * MS, step_check, r);
	for (uint32_t j = 0; j < k && !rc; j++)
		sim_filler_fill(s, c[j], 1000000 + j, c[(j + 1) % k]);
	if (!rc)
		rc = sim_run_for(s, 1 * MS, step_check, r);
	int v = (int)sim_random_below(s, 2);
	for (uint32_t q = 1; q <= n && !rc; q++)
		propose(r, q, 2, v);
	if (!rc)
		rc = sim_run_for(s, 200 * MS, step_check, r);
	sim_heal(s);
	if (!rc)
		rc = sim_run_for(s, LIVENESS_MS * MS, step_check, r);
	uint64_t owed = 0;
	for (uint32_t j = 0; j < k; j++)
		owed += cons_brcons_test_owed(
			strata_node_module_by_name(sim_node(s, c[j]), "brcons"));
	char faults[160];
	byzh_who(h, faults, sizeof(faults));
	if (rc) {
		byzh_fail(h, "t=%llums: %s [n=%u f=%u%s]", (unsigned long long)(sim_now(s) / MS),
			  cck_violation(r->ck), h->n, h->f, faults);
	} else {
		bool correct[MAXN + 1] = { false };
		for (uint32_t q = 1; q <= h->n; q++)
			correct[q] = byzh_correct(h, q);
		char w[300];
		if (cck_final(r->ck, correct, w, sizeof(w)))
			byzh_fail(h, "%s [n=%u f=%u%s; %llu messages owed]", w, h->n, h->f, faults,
				  (unsigned long long)owed);
	}
	cck_free(r->ck);
	rc = byzh_finish(h, why, whylen);
	free(r);
	if (rc == 0 && owed == 0 && sp->variant == V_BACKLOG)
		rc = sim_vacuous(why, whylen, "no correct node's links refused a message");
	return rc;
}

#define CASE(fn, thr, var, h)                                                                \
	static int fn(uint64_t seed, bool trace, char *why, size_t whylen)                   \
	{                                                                                    \
		static const struct spec sp = { .threshold = thr, .variant = var, .hist = h }; \
		return run_spec(&sp, seed, trace, why, whylen);                              \
	}

CASE(brc_seeded, false, V_OK, 0)
CASE(brc_threshold, true, V_OK, 1)
CASE(brc_relay_one, false, V_RELAY_ONE, 2)
CASE(brc_decided_one, false, V_DECIDED_ONE, 2)

static int brc_backlog(uint64_t seed, bool trace, char *why, size_t whylen)
{
	static const struct spec sp = { .variant = V_BACKLOG, .hist = 2 };
	return backlog_spec(&sp, seed, trace, why, whylen);
}

static int brc_backlog_no_owed(uint64_t seed, bool trace, char *why, size_t whylen)
{
	static const struct spec sp = { .variant = V_BACKLOG_NO_OWED, .hist = 2 };
	return backlog_spec(&sp, seed, trace, why, whylen);
}

static const struct sim_case cases[] = {
	{ "brcons-seeded", brc_seeded, 400, false },
	{ "brcons-threshold", brc_threshold, 40, false },
	{ "broken-relay-on-one-echo", brc_relay_one, 1000, true },
	{ "broken-decides-on-one-decided", brc_decided_one, 1000, true },
	{ "brcons-backlog", brc_backlog, 40, false },
	{ "broken-brcons-backlog-no-owed", brc_backlog_no_owed, 20, true },
};

static void print_hist(void)
{
	static const char *const name[2] = { "seeded coin", "threshold coin" };
	for (unsigned h = 0; h < 2; h++)
		for (unsigned big = 0; big < 2; big++) {
			uint64_t total = 0, sum = 0;
			for (unsigned k = 1; k <= HIST; k++) {
				total += hist[h][big][k];
				sum += hist[h][big][k] * k;
			}
			if (!total)
				continue;
			printf("rounds to decide, brcons N = %u (%s): %llu decisions, mean %.2f:",
			       big ? 7 : 4, name[h], (unsigned long long)total,
			       (double)sum / (double)total);
			for (unsigned k = 1; k <= HIST; k++)
				if (hist[h][big][k])
					printf(" %u%s:%llu", k, k == HIST ? "+" : "",
					       (unsigned long long)hist[h][big][k]);
			printf("\n");
		}
}

int main(int argc, char **argv)
{
	int rc = sim_main(argc, argv, "sim_cons_brc", cases, sizeof(cases) / sizeof(cases[0]));
	print_hist();
	return rc;
}
