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
#include "cons/tcoin.h"
#include "crypto/crypto.h"
#include "links/links.h"
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
	const struct spec *sp;
	struct adversary adv;
	uint64_t max_round;
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
	for (uint32_t s = 1; s <= r->n; s++)
		if (vals[s] < 0)
			return;
	pl->valid = true;
	int c = a->coin[round];
	uint64_t all = ((1ull << (r->n + 1)) - 2);
	for (uint32_t d = 1; d <= r->n; d++)
		pl->fast[d] = all; /* no plan: everything at once */
	if (ph == 0) {
		/* one process sees three votes for !c, every other one a mix */
		unsigned k = 0;
		for (uint32_t s = 1; s <= r->n; s++)
			k += vals[s] == !c;
		if (k < 3 || k == r->n)
			return;
		uint32_t d0 = 1;
		a->designated[round] = d0;
		pl->fast[d0] = pick(vals, r->n, !c, 3, 0);
		uint64_t mix = pick(vals, r->n, !c, 2, 0) | pick(vals, r->n, c, 1, 0);
		for (uint32_t d = 2; d <= r->n; d++)
			pl->fast[d] = mix;
	} else {
		/* the processes that see the !c vote adopt it, the others the coin c */
		uint64_t w = pick(vals, r->n, !c, 1, 0), bot3 = pick(vals, r->n, 2, 3, 0);
		uint64_t bot2 = pick(vals, r->n, 2, 2, 0);
		if (!w || !bot3 || pick(vals, r->n, !c, 3, 0))
			return;
		int next = a->coin[round + 1];
		unsigned m = next == c ? 3 : 2; /* then 3 processes hold !next in round + 1 */
		for (uint32_t d = 1; d <= r->n; d++)
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
		if (o->b > r->max_round)
			r->max_round = o->b;
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
	r->n = r->cfg.n = sp->adversary ? 5 : 3 + (uint32_t)(seed % 3);
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
	if (sp->adversary) {
		r->adv.seed = seed;
		memset(r->adv.val, 0xff, sizeof(r->adv.val)); /* -1: unknown */
		for (uint64_t k = 1; k <= ADV_MAXR + 1; k++)
			r->adv.coin[k] = predicted_coin(seed, k);
	}
	r->s = sim_new(&so);
	if (sp->adversary) {
		struct sim_net quiet = { .delay_min_us = 200, .delay_max_us = 400 };
		sim_set_net(r->s, &quiet);
		sim_start(r->s);
		sim_run_for(r->s, 1 * MS, NULL, NULL);
		return;
	}
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

/* Every node proposes on instance 1: three the value opposite to round 1's predicted coin,
 * two the coin's value (the adversary's starting point). */
static int phase_adversary(struct run *r)
{
	int c1 = r->adv.coin[1];
	for (uint32_t q = 1; q <= r->n; q++) {
		char val[2] = { (char)('0' + (q <= 3 ? !c1 : c1)), 0 };
		STRATA_ASSERT(r->reqid + 1 < 256);
		uint64_t id = ++r->reqid;
		r->req_inst[id] = 1;
		r->req_node[id] = q;
		struct strata_request req = {
			.id = id, .op = STRATA_OP_PROPOSE, .key = (const uint8_t *)"1", .key_len = 1,
			.value = (const uint8_t *)val, .value_len = 1,
		};
		sim_request(r->s, q, "rbc", &req);
	}
	return 0;
}

static int run_spec(const struct spec *sp, uint64_t seed, bool trace, char *why, size_t whylen)
{
	struct run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	setup(r, sp, seed, trace);
	int rc = sp->adversary ? phase_adversary(r) : phase_random(r);
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
		if (rc == 0 && sp->adversary) {
			unsigned k = sp->threshold ? 1 : 0;
			adv_runs[k]++;
			adv_rounds_sum[k] += r->max_round;
			if (r->max_round > adv_rounds_max[k])
				adv_rounds_max[k] = r->max_round;
		}
	}
	sim_free(r->s);
	cck_free(r->ck);
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
