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
 * non-bottom (instead of more than f): agreement must fail on some seed.
 *
 * Predictable coin against an adversarial scheduler (rbc-adversary-predictable-coin and
 * rbc-adversary-threshold-coin): N = 5, every node proposes, no faults, but the network is an
 * adversary. A test beb (registered as "beb" under rbc) holds every PHASE-1 and PHASE-2 message
 * at its receiver; once all five values of a phase are known to the adversary it lets each
 * receiver see exactly three chosen senders first (the others arrive 20 ms later, after the
 * receiver moved on). It knows the seeded coin (it computes it as the nodes do) and plays the
 * classic attack: in phase 1 one process sees a majority for the value opposite to this round's
 * coin, the others see mixes; in phase 2 it chooses how many processes see that value so that
 * the next round again has three processes opposite to the next coin. Against the predictable
 * coin no round can decide until the adversary stops (after ADV_ROUNDS rounds); against the
 * threshold coin it plays the same strategy with the same predictions, which are now wrong half
 * of the time, and a wrong guess makes every process adopt one value. The suite prints the mean
 * rounds to decide of both and fails if the predictable coin's runs do not take at least 3x the
 * threshold coin's (the comparison the issue asks for). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bcast/bcast.h"
#include "bcast/common.h"
#include "cons/cons.h"
#include "crypto/crypto.h"
#include "links/links.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/stack.h"
#include "lib/ld_harness.h"
#include "rt/sim/harness.h"
#include "rt/sim/sim.h"

#define MS LDH_MS
#define MAXN LDH_MAXN
#define LIVENESS_MS 3000ull
#define HIST 16 /* rounds 1..15, and 16+ */

struct spec {
	const char *algo;
	bool threshold;     /* the real threshold coin (else the seeded test coin) */
	int decide_min;     /* broken variant: decide on > decide_min equal values (-1: f) */
	unsigned hist;      /* which histogram this case fills */
	bool adversary;     /* the adversarial-scheduler scenario (N = 5, no faults) */
};

#define ADV_ROUNDS 40
#define ADV_HOLD_US (20 * MS)
#define ADV_TICK_US 200
#define ADV_HELD 512
#define ADV_MAXR (ADV_ROUNDS + 2)

/* Rounds to decide in the adversary cases: [0] predictable coin, [1] threshold coin. */
static uint64_t adv_runs[2], adv_rounds_sum[2], adv_rounds_max[2];

/* Histograms of rounds to decide, per case kind, over every seed the process ran. Test-only
 * state (the suite's own tally). */
static uint64_t hist[5][HIST + 1]; /* [4]: broken variants, not printed */
static const char *const hist_name[4] = { "rbc (seeded coin)", "rbc (threshold coin)",
					  "rcons (seeded coin)", "rcons (threshold coin)" };

struct adv_plan {
	bool valid;       /* computed */
	uint64_t fast[MAXN + 1]; /* [d]: senders d sees first (bit s) */
};

/* The adversary's knowledge: every PHASE-1/2 value sent (instance 1 only), and its plans. */
struct adversary {
	uint64_t seed;
	int val[ADV_MAXR + 1][2][MAXN + 1]; /* -1 unknown; 0, 1, 2 = bottom */
	struct adv_plan plan[ADV_MAXR + 1][2];
	uint32_t designated[ADV_MAXR + 1];  /* the phase-1 receiver shown the opposite majority */
	int coin[ADV_MAXR + 2];             /* the predicted coin of each round */
};

struct run {
	struct ldh h; /* the cluster, the coin, the simulation, the checker, the client requests */
	const struct spec *sp;
	struct adversary adv;
	uint64_t max_round;
};

/* ---- the adversarial scheduler (a test beb) ---- */

/* The coin the seeded test coin gives rbc's instance 1 in round r: the nodes' own computation
 * (src/cons/rbc.c, coin_release), which is what makes the coin predictable. */
static int predicted_coin(uint64_t seed, uint64_t round)
{
	uint8_t buf[64], h[STRATA_HASH_LEN];
	int k = snprintf((char *)buf, sizeof(buf), "rbc|%llu|", 1ull);
	size_t nl = (size_t)k;
	for (int b = 0; b < 8; b++)
		buf[nl++] = (uint8_t)(round >> (8 * b));
	for (int b = 0; b < 8; b++)
		buf[nl++] = (uint8_t)(seed >> (8 * b));
	strata_hash(h, buf, nl);
	return h[0] & 1u;
}

struct held {
	struct strata_msg *msg;
	struct strata_deliver d;
	uint32_t from;
	uint64_t round;
	int phase; /* 0 or 1 (PHASE-1, PHASE-2) */
	uint64_t since;
};

struct adv_beb {
	struct strata_module m;
	struct run *r;
	uint64_t lsn, inst;
	struct bc_subs up;
	struct strata_timer tick;
	struct held held[ADV_HELD];
	unsigned nheld;
};

/* Parses an rbc message inside a beb payload: [instance][type][round][v]. */
static bool adv_parse(const uint8_t *p, size_t len, uint64_t *inst, int *phase, uint64_t *round,
		      int *v)
{
	struct strata_rd rd;
	strata_rd_init(&rd, p, len);
	*inst = strata_rd_u64(&rd);
	uint8_t type = strata_rd_u8(&rd);
	*round = strata_rd_u64(&rd);
	if (type != 5 && type != 6) /* RB_PHASE1, RB_PHASE2 */
		return false;
	*v = strata_rd_u8(&rd);
	*phase = type - 5;
	return strata_rd_done(&rd) == 0;
}

static uint64_t pick(const int *vals, uint32_t n, int want, unsigned count, uint64_t avoid)
{
	uint64_t set = 0;
	for (uint32_t s = 1; s <= n && count; s++)
		if (vals[s] == want && !((avoid >> s) & 1u)) {
			set |= 1ull << s;
			count--;
		}
	return count ? 0 : set;
}

/* Plans phase `ph` of round r once all five values are known. */
static void adv_plan_phase(struct run *r, uint64_t round, int ph)
{
	struct adversary *a = &r->adv;
	struct adv_plan *pl = &a->plan[round][ph];
	const int *vals = a->val[round][ph];
	uint32_t n = r->h.n;
	for (uint32_t s = 1; s <= n; s++)
		if (vals[s] < 0)
			return;
	pl->valid = true;
	int c = a->coin[round];
	uint64_t all = ((1ull << (n + 1)) - 2);
	for (uint32_t d = 1; d <= n; d++)
		pl->fast[d] = all; /* no plan: everything at once */
	if (ph == 0) {
		/* one process sees three votes for !c, every other one a mix */
		unsigned k = 0;
		for (uint32_t s = 1; s <= n; s++)
			k += vals[s] == !c;
		if (k < 3 || k == n)
			return;
		uint32_t d0 = 1;
		a->designated[round] = d0;
		pl->fast[d0] = pick(vals, n, !c, 3, 0);
		uint64_t mix = pick(vals, n, !c, 2, 0) | pick(vals, n, c, 1, 0);
		for (uint32_t d = 2; d <= n; d++)
			pl->fast[d] = mix;
	} else {
		/* the processes that see the !c vote adopt it, the others the coin c */
		uint64_t w = pick(vals, n, !c, 1, 0), bot3 = pick(vals, n, 2, 3, 0);
		uint64_t bot2 = pick(vals, n, 2, 2, 0);
		if (!w || !bot3 || pick(vals, n, !c, 3, 0))
			return;
		int next = a->coin[round + 1];
		unsigned m = next == c ? 3 : 2; /* then 3 processes hold !next in round + 1 */
		for (uint32_t d = 1; d <= n; d++)
			pl->fast[d] = d <= m ? (w | bot2) : bot3;
	}
}

static void adv_deliver(struct adv_beb *b, struct held *h)
{
	bc_subs_indicate(&b->m, &b->up, b->inst, h->msg, &h->d);
	strata_msg_unref(h->msg);
}

static void adv_release(struct adv_beb *b)
{
	struct run *r = b->r;
	uint32_t me = strata_node_id(b->m.node);
	uint64_t now = strata_now_us(b->m.node);
	for (unsigned k = 0; k < b->nheld;) {
		struct held *h = &b->held[k];
		struct adv_plan *pl = &r->adv.plan[h->round][h->phase];
		if (!pl->valid)
			adv_plan_phase(r, h->round, h->phase);
		bool go = now >= h->since + ADV_HOLD_US ||
			  (pl->valid && ((pl->fast[me] >> h->from) & 1u));
		if (go) {
			struct held copy = *h;
			b->held[k] = b->held[--b->nheld];
			adv_deliver(b, &copy);
		} else {
			k++;
		}
	}
}

static void adv_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct adv_beb *b = (struct adv_beb *)m;
	struct strata_node *n = m->node;
	if (ev->type == STRATA_EV_INIT) {
		strata_timer_init(&b->tick, m, 1, 0);
		return;
	}
	if (ev->type == STRATA_EV_TIMER) {
		adv_release(b);
		if (b->nheld) /* the tick runs only while messages are held */
			strata_timer_arm_in(n, &b->tick, ADV_TICK_US);
		return;
	}
	if (ev->type != STRATA_EV_PL_DELIVER || !ev->msg || ev->instance != b->inst || !b->inst)
		return;
	struct bc_hdr h;
	const uint8_t *p;
	size_t len;
	if (bc_parse_data(ev->msg, strata_node_n(n), ev->msg->len, &h, &p, &len) != 0 ||
	    h.origin != ev->peer) {
		strata_node_bad_payload(n, m, ev->peer, "adversary beb: malformed DATA");
		return;
	}
	struct held x = { .msg = ev->msg, .from = h.origin, .since = strata_now_us(n),
			  .d = { .origin = h.origin, .inc = h.inc, .seq = h.seq, .data = p,
				 .len = len } };
	uint64_t inst;
	int v;
	if (adv_parse(p, len, &inst, &x.phase, &x.round, &v) && inst == 1 &&
	    x.round <= ADV_ROUNDS && b->nheld < ADV_HELD) {
		strata_msg_ref(ev->msg);
		b->held[b->nheld++] = x;
		adv_release(b);
		if (b->nheld && !strata_timer_armed(&b->tick))
			strata_timer_arm_in(n, &b->tick, ADV_TICK_US);
		return;
	}
	bc_subs_indicate(m, &b->up, b->inst, ev->msg, &x.d);
}

static int adv_open(struct strata_module *m, uint64_t inst, struct strata_module *upper)
{
	struct adv_beb *b = (struct adv_beb *)m;
	STRATA_ASSERT(inst != 0 && (b->inst == 0 || b->inst == inst));
	b->inst = inst;
	return bc_subs_add(&b->up, upper);
}

static int adv_broadcast(struct strata_module *m, uint64_t inst, const uint8_t *data, size_t len)
{
	struct adv_beb *b = (struct adv_beb *)m;
	struct strata_node *n = m->node;
	uint64_t i;
	int phase, v;
	uint64_t round;
	if (adv_parse(data, len, &i, &phase, &round, &v) && i == 1 && round <= ADV_MAXR)
		b->r->adv.val[round][phase][strata_node_id(n)] = v; /* the adversary sees it */
	struct bc_hdr h = { BC_DATA, strata_node_id(n), strata_node_incarnation(n), ++b->lsn };
	struct strata_msg *msg = bc_encode_data(&h, data, len);
	STRATA_ASSERT(msg);
	for (uint32_t q = 1; q <= strata_node_n(n); q++)
		(void)strata_pl_send(m, q, inst, msg);
	strata_msg_unref(msg);
	return 0;
}

static size_t adv_payload_max(const struct strata_module *m)
{
	return bc_pl_payload_max(m->node, 0);
}

static void adv_destroy(struct strata_module *m)
{
	struct adv_beb *b = (struct adv_beb *)m;
	for (unsigned k = 0; k < b->nheld; k++)
		strata_msg_unref(b->held[k].msg);
	free(b);
}

static const struct bcast_iface adv_iface = {
	.open = adv_open, .broadcast = adv_broadcast, .payload_max = adv_payload_max,
};

static const struct strata_module_ops adv_ops = {
	.name = "beb", .handle = adv_handle, .destroy = adv_destroy, .iface = &adv_iface,
};

static void build(struct sim *s, struct strata_node *n, void *arg)
{
	struct run *r = arg;
	char err[256];
	if (r->sp->adversary) {
		struct adv_beb *b = calloc(1, sizeof(*b));
		STRATA_ASSERT(b);
		b->r = r;
		strata_node_add_module(n, &b->m, &adv_ops, strata_wire_id("beb"));
	}
	struct strata_module *m = strata_algo_create(strata_algo_find(r->sp->algo), n, err,
						     sizeof(err));
	if (!m) {
		fprintf(stderr, "create %s: %s\n", r->sp->algo, err);
		abort();
	}
	if (!r->sp->threshold)
		cons_rb_test_seeded_coin(m, sim_seed(s));
	if (r->sp->decide_min >= 0)
		cons_rb_test_decide_min(m, (uint32_t)r->sp->decide_min);
}

static void on_output(struct sim *s, uint32_t node, const struct strata_output *o, void *arg)
{
	struct run *r = arg;
	(void)s;
	ldh_output(&r->h, node, o);
	if (o->kind == STRATA_OUT_DELIVER && o->module == strata_wire_id(r->sp->algo)) {
		hist[r->sp->hist][o->b < HIST ? o->b : HIST]++;
		if (o->b > r->max_round)
			r->max_round = o->b;
	}
}

/* ldh_phase_random's proposals: rbc a random bit, rcons a distinct string. */
static void propose(struct ldh *h, uint32_t node, uint64_t inst)
{
	const struct run *r = h->arg;
	if (strcmp(r->sp->algo, "rbc") != 0) {
		ldh_propose(h, node, inst, "v");
		return;
	}
	char val[2] = { (char)('0' + sim_random_below(h->s, 2)), 0 };
	ldh_propose_value(h, node, inst, val, 1);
}

/* Every node proposes on instance 1: three the value opposite to round 1's predicted coin,
 * two the coin's value (the adversary's starting point). */
static int phase_adversary(struct run *r)
{
	int c1 = r->adv.coin[1];
	for (uint32_t q = 1; q <= r->h.n; q++) {
		char val[2] = { (char)('0' + (q <= 3 ? !c1 : c1)), 0 };
		ldh_propose_value(&r->h, q, 1, val, 1);
	}
	return 0;
}

static int run_spec(const struct spec *sp, uint64_t seed, bool trace, char *why, size_t whylen)
{
	struct run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	struct ldh *h = &r->h;
	r->sp = sp;
	if (sp->adversary) {
		r->adv.seed = seed;
		memset(r->adv.val, 0xff, sizeof(r->adv.val)); /* -1: unknown */
		for (uint64_t k = 1; k <= ADV_MAXR + 1; k++)
			r->adv.coin[k] = predicted_coin(seed, k);
	}
	uint32_t n = sp->adversary ? 5 : 3 + (uint32_t)(seed % 3);
	static const struct sim_net quiet = { .delay_min_us = 200, .delay_max_us = 400 };
	const struct ldh_opts o = {
		.algo = sp->algo, .cluster_id = "sim-cons-rand", .model = STRATA_MODEL_RANDOMIZED,
		.port_base = 7400, .n = n, .f = (n - 1) / 2, .coin = true, .tail = 0.05,
		.tail_us = 40 * MS, .fixed_net = sp->adversary ? &quiet : NULL,
		.proposal = propose, .build = build, .output = on_output, .arg = r,
	};
	ldh_setup(h, &o, seed, trace);
	/* 30 chunks of 5 ms: proposals, partitions and one-way cuts that heal, up to f crashes. */
	static const struct ldh_phase mix = {
		.chunks = 30, .chunk_us = 5 * MS, .propose_p = 0.2, .part_p = 0.08, .crash_p = 0.05,
		.draw_crashes = true,
	};
	int rc = sp->adversary ? phase_adversary(r) : ldh_phase_random(h, &mix);
	if (!rc)
		rc = ldh_settle(h, LIVENESS_MS);
	rc = ldh_finish(h, rc, why, whylen);
	if (rc == 0 && sp->adversary) {
		unsigned k = sp->threshold ? 1 : 0;
		adv_runs[k]++;
		adv_rounds_sum[k] += r->max_round;
		if (r->max_round > adv_rounds_max[k])
			adv_rounds_max[k] = r->max_round;
	}
	free(r);
	return rc;
}

#define CASE(fn, algo_, thr, dmin, h, adv)                                                  \
	static int fn(uint64_t seed, bool trace, char *why, size_t whylen)                  \
	{                                                                                   \
		static const struct spec sp = { .algo = algo_, .threshold = thr,            \
						.decide_min = dmin, .hist = h,              \
						.adversary = adv };                         \
		return run_spec(&sp, seed, trace, why, whylen);                             \
	}

CASE(rbc_seeded, "rbc", false, -1, 0, false)
CASE(rbc_threshold, "rbc", true, -1, 1, false)
CASE(rcons_seeded, "rcons", false, -1, 2, false)
CASE(rcons_threshold, "rcons", true, -1, 3, false)
CASE(rbc_broken_one, "rbc", false, 0, 4, false)
CASE(rbc_adv_seeded, "rbc", false, -1, 4, true)
CASE(rbc_adv_threshold, "rbc", true, -1, 4, true)

static const struct sim_case cases[] = {
	{ "rbc-seeded", rbc_seeded, 1000, false },
	{ "rbc-threshold", rbc_threshold, 200, false },
	{ "rcons-seeded", rcons_seeded, 1000, false },
	{ "rcons-threshold", rcons_threshold, 200, false },
	/* Caught on about 1 % of seeds (first catch at offsets 3-500 from bases 1, 100000, ...,
	 * 700000): 2,000 seeds make a miss on a fresh base ~2e-9; it stops at the first catch. */
	{ "broken-rbc-decides-on-one-value", rbc_broken_one, 2000, true },
	{ "rbc-adversary-predictable-coin", rbc_adv_seeded, 50, false },
	{ "rbc-adversary-threshold-coin", rbc_adv_threshold, 50, false },
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

/* The predictable coin against the threshold coin under the same adversary: the mean rounds
 * to decide must be at least 3x larger with the predictable coin. */
static int print_adversary(void)
{
	if (!adv_runs[0] || !adv_runs[1])
		return 0;
	double m0 = (double)adv_rounds_sum[0] / (double)adv_runs[0];
	double m1 = (double)adv_rounds_sum[1] / (double)adv_runs[1];
	printf("adversarial scheduler (N = 5, adversary active for %d rounds):\n", ADV_ROUNDS);
	printf("  predictable coin: %llu runs, mean %.2f rounds to decide, max %llu\n",
	       (unsigned long long)adv_runs[0], m0, (unsigned long long)adv_rounds_max[0]);
	printf("  threshold coin:   %llu runs, mean %.2f rounds to decide, max %llu\n",
	       (unsigned long long)adv_runs[1], m1, (unsigned long long)adv_rounds_max[1]);
	if (m0 < 3.0 * m1) {
		printf("FAIL the predictable coin's runs are not scheduled into many more rounds\n");
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int rc = sim_main(argc, argv, "sim_cons_rand", cases, sizeof(cases) / sizeof(cases[0]));
	print_hist();
	if (print_adversary())
		rc = 1;
	return rc;
}
