/* Simulation suite for the consensus variants of chapter 6 (src/cons/variants.h): non-blocking
 * atomic commit (Alg. 6.6, nbac.c), over beb, uniform consensus (uhier, Alg. 5.4) and P.
 *
 * Every seed: N = 5 (or 3, or 4) nodes, fail-stop. P is an oracle test module told of every crash
 * by the driver (accurate and complete by construction, as in sim_cons: the suite tests the
 * algorithm, not the detector's timing). Faults the model allows: loss 5-25 %, duplication,
 * delays with a 3 % tail of up to 300 ms (reordering), partitions that heal, and up to N - 1
 * crashes at random times. Then the network heals (2 % loss, delays up to 3 ms) and the liveness
 * bound of this suite applies: every correct node decides within 3 s of virtual time.
 *
 * nbac: 1 to 4 transactions; some are begun (`nbac begin`) at a random node first; every node
 * votes on every transaction at a random time (in half of the transactions every vote is yes,
 * in the others each vote is no with probability 1/3), unless it crashed before. Checked as
 * outputs happen: NBAC2 abort-validity (an ABORT decision only after some node voted no or some
 * node crashed), NBAC3 commit-validity (a COMMIT only after every node voted yes), NBAC4
 * integrity, NBAC5 uniform agreement (crashed nodes' decisions count), and that every vote's
 * reply carries its node's decision; at the end NBAC1 termination (every correct node decided
 * every transaction). Each run must decide something.
 *
 * Broken variant (expect_violation): nbac that proposes COMMIT when a transaction has not
 * collected every vote 30 ms after this node first heard of it (var_nbac_test_commit_timeout):
 * the commit-validity checker must catch it. */
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
#include "lib/view_check.h"
#include "rt/sim/harness.h"
#include "rt/sim/sim.h"

#define MS 1000ull
#define MAXN 5
#define MAXT 4
#define MAXREQ 256
#define LIVENESS_MS 3000ull

/* Totals over the correct runs, printed at the end (non-vacuity: both outcomes happen). */
static struct {
	unsigned long long commits, aborts, trb_msg, trb_sf, views;
} totals;

/* ---- a run ---- */

enum req_kind { RQ_NONE, RQ_ORACLE, RQ_BEGIN, RQ_VOTE, RQ_SEND };

struct rq {
	enum req_kind kind;
	uint32_t node;
	uint64_t tx;
};

#define MAXK 6 /* trb instances per sender */

struct trb_val {
	uint8_t tag; /* 0 none yet, 1 message, 2 SF */
	uint8_t m[40];
	size_t len;
};

struct run {
	const char *algo;           /* the module under test */
	uint64_t broken_timeout_ms; /* nbac's broken variant, 0 = correct */
	bool broken_direct;         /* trb's broken variant */
	bool broken_local;          /* gm's broken variant */
	struct strata_config cfg;
	struct sim *s;
	uint32_t n;
	bool down[MAXN + 1];
	unsigned ncrash, max_crash;
	unsigned ntx;
	/* votes: 0 none, 1 yes, 2 no (as output by the voting node) */
	uint8_t vote[MAXN + 1][MAXT + 1];
	bool asked[MAXN + 1][MAXT + 1];
	bool all_yes[MAXT + 1];
	/* decisions: 0 none, 1 commit, 2 abort */
	uint8_t dec[MAXN + 1][MAXT + 1];
	uint8_t outcome[MAXT + 1];
	unsigned ndec, ncommit, nabort;
	uint64_t reqid;
	struct rq req[MAXREQ];
	/* trb: what each sender broadcast, the first delivery of each instance, who delivered */
	unsigned nsendreq[MAXN + 1];
	struct trb_val sent[MAXN + 1][MAXK + 1];
	struct trb_val first[MAXN + 1][MAXK + 3];
	bool got[MAXN + 1][MAXN + 1][MAXK + 3]; /* [node][sender][k] */
	bool got_sf[MAXN + 1][MAXN + 1];        /* [node][sender] */
	unsigned ntrb_msg, ntrb_sf;
	struct vck vc; /* gm: the installed views */
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

static uint8_t outcome_code(const uint8_t *v, size_t len)
{
	if (len == 6 && !memcmp(v, "commit", 6))
		return 1;
	if (len == 5 && !memcmp(v, "abort", 5))
		return 2;
	return 0;
}

static void on_reply(struct run *r, uint32_t node, const struct strata_output *o)
{
	if (o->a == 0 || o->a > r->reqid)
		return;
	const struct rq *q = &r->req[o->a - 1];
	if (q->kind == RQ_ORACLE || q->kind == RQ_NONE)
		return;
	if (q->kind == RQ_SEND) {
		if (o->status != 0)
			failf(r, "node %u refused a trb send: %s", node, strata_strerror(o->status));
		return;
	}
	if (o->status != 0) {
		failf(r, "node %u refused a %s on tx %llu: %s", node,
		      q->kind == RQ_BEGIN ? "begin" : "vote", (unsigned long long)q->tx,
		      strata_strerror(o->status));
		return;
	}
	struct strata_rd rd;
	strata_rd_init(&rd, o->data, o->len);
	uint64_t got = strata_rd_u64(&rd);
	if (!strata_rd_ok(&rd) || got != q->tx) {
		failf(r, "node %u answered a request on tx %llu with tx %llu", node,
		      (unsigned long long)q->tx, (unsigned long long)got);
		return;
	}
	if (q->kind == RQ_VOTE &&
	    (r->dec[node][q->tx] == 0 ||
	     outcome_code(o->data + rd.off, o->len - rd.off) != r->dec[node][q->tx]))
		failf(r, "node %u answered its vote on tx %llu with something other than its decision",
		      node, (unsigned long long)q->tx);
}

static void on_decide(struct run *r, uint32_t node, uint64_t tx, const uint8_t *v, size_t len)
{
	uint8_t d = outcome_code(v, len);
	if (tx < 1 || tx > r->ntx || d == 0) {
		failf(r, "node %u decided tx %llu: %.*s (no such transaction or outcome)", node,
		      (unsigned long long)tx, (int)len, (const char *)v);
		return;
	}
	if (r->dec[node][tx]) {
		failf(r, "integrity: node %u decided tx %llu twice", node, (unsigned long long)tx);
		return;
	}
	r->dec[node][tx] = d;
	r->ndec++;
	if (r->outcome[tx] && r->outcome[tx] != d) {
		failf(r, "uniform agreement: node %u decided %s on tx %llu, another node %s", node,
		      d == 1 ? "commit" : "abort", (unsigned long long)tx,
		      r->outcome[tx] == 1 ? "commit" : "abort");
		return;
	}
	r->outcome[tx] = d;
	if (d == 1) {
		r->ncommit++;
		for (uint32_t q = 1; q <= r->n; q++)
			if (r->vote[q][tx] != 1) {
				failf(r, "commit-validity: node %u decided commit on tx %llu, node %u %s",
				      node, (unsigned long long)tx, q,
				      r->vote[q][tx] == 2 ? "voted no" : "had not voted yes");
				return;
			}
	} else {
		r->nabort++;
		bool no = false;
		for (uint32_t q = 1; q <= r->n; q++)
			no |= r->vote[q][tx] == 2;
		if (!no && r->ncrash == 0)
			failf(r, "abort-validity: node %u decided abort on tx %llu, yet no node voted "
				 "no and none crashed", node, (unsigned long long)tx);
	}
}

static void trb_on_bcast(struct run *r, uint32_t node, const struct strata_output *o);
static void trb_on_deliver(struct run *r, uint32_t node, const struct strata_output *o);

static void on_output(struct sim *s, uint32_t node, const struct strata_output *o, void *arg)
{
	struct run *r = arg;
	(void)s;
	if (o->kind == STRATA_OUT_REPLY) {
		on_reply(r, node, o);
		return;
	}
	if (o->module == strata_wire_id("trb")) {
		if (o->kind == STRATA_OUT_BCAST)
			trb_on_bcast(r, node, o);
		else if (o->kind == STRATA_OUT_DELIVER)
			trb_on_deliver(r, node, o);
		return;
	}
	if (o->module == strata_wire_id("gm")) {
		if (o->kind == STRATA_OUT_DELIVER)
			vck_on_view(&r->vc, node, o->a, o->b, r->down, r->why, sizeof(r->why));
		return;
	}
	if (o->module != strata_wire_id("nbac"))
		return;
	if (o->kind == STRATA_OUT_BCAST) {
		if (o->a >= 1 && o->a <= r->ntx)
			r->vote[node][o->a] = o->len == 3 && !memcmp(o->data, "yes", 3) ? 1 : 2;
	} else if (o->kind == STRATA_OUT_DELIVER) {
		on_decide(r, node, o->a, o->data, o->len);
	}
}

/* ---- trb ---- */

static void trb_sk(const struct run *r, uint64_t id, uint32_t *s, uint64_t *k)
{
	*s = (uint32_t)((id - 1) % r->n) + 1;
	*k = (id - 1) / r->n + 1;
}

static void trb_on_bcast(struct run *r, uint32_t node, const struct strata_output *o)
{
	uint32_t s;
	uint64_t k;
	trb_sk(r, o->a, &s, &k);
	if (s != node || k < 1 || k > MAXK || o->len > sizeof(r->sent[0][0].m)) {
		failf(r, "node %u broadcast trb instance %llu, not one of its own", node,
		      (unsigned long long)o->a);
		return;
	}
	r->sent[s][k].tag = 1;
	r->sent[s][k].len = o->len;
	memcpy(r->sent[s][k].m, o->data, o->len);
}

static void trb_on_deliver(struct run *r, uint32_t node, const struct strata_output *o)
{
	struct strata_rd rd;
	strata_rd_init(&rd, o->data, o->len);
	uint8_t tag = strata_rd_u8(&rd);
	uint64_t vs = strata_rd_u64(&rd), k = strata_rd_u64(&rd);
	const uint8_t *m = o->data + rd.off;
	size_t len = o->len - rd.off;
	uint32_t s;
	uint64_t ks;
	trb_sk(r, o->a, &s, &ks);
	if (!strata_rd_ok(&rd) || tag > 1 || vs != s || k != ks || k > MAXK + 2 ||
	    len > sizeof(r->sent[0][0].m) || (tag == 0 && len != 0)) {
		failf(r, "node %u delivered a malformed trb value on instance %llu", node,
		      (unsigned long long)o->a);
		return;
	}
	if (r->got[node][s][k]) {
		failf(r, "integrity: node %u delivered (%u, %llu) twice", node, s,
		      (unsigned long long)k);
		return;
	}
	r->got[node][s][k] = true;
	struct trb_val *f = &r->first[s][k];
	uint8_t t2 = tag == 1 ? 1 : 2;
	if (f->tag && (f->tag != t2 || f->len != len || memcmp(f->m, m, len))) {
		failf(r, "uniform agreement: node %u delivered %s on (%u, %llu), another node %s", node,
		      t2 == 1 ? "a message" : "SF", s, (unsigned long long)k,
		      f->tag == 1 ? "a message" : "SF");
		return;
	}
	if (!f->tag) {
		f->tag = t2;
		f->len = len;
		memcpy(f->m, m, len);
	}
	if (t2 == 2) {
		r->ntrb_sf++;
		r->got_sf[node][s] = true;
		if (!r->down[s])
			failf(r, "SF only if the sender crashed: node %u delivered SF on (%u, %llu), "
				 "and node %u has not crashed", node, s, (unsigned long long)k, s);
	} else {
		r->ntrb_msg++;
		if (k > MAXK || r->sent[s][k].tag != 1 || r->sent[s][k].len != len ||
		    memcmp(r->sent[s][k].m, m, len))
			failf(r, "integrity: node %u delivered on (%u, %llu) a message %u did not "
				 "broadcast there", node, s, (unsigned long long)k, s);
	}
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
	if (r->broken_timeout_ms)
		var_nbac_test_commit_timeout(m, r->broken_timeout_ms);
	if (r->broken_direct)
		var_trb_test_direct(m);
	if (r->broken_local)
		var_gm_test_local(m);
}

static uint64_t new_req(struct run *r, enum req_kind kind, uint32_t node, uint64_t tx)
{
	STRATA_ASSERT(r->reqid < MAXREQ);
	r->req[r->reqid].kind = kind;
	r->req[r->reqid].node = node;
	r->req[r->reqid].tx = tx;
	return ++r->reqid;
}

static uint64_t oracle_req(void *arg, uint32_t q)
{
	return new_req(arg, RQ_ORACLE, q, 0);
}

/* P: strong completeness and accuracy, by construction (simf_crash). */
static void crash(struct run *r, uint32_t id)
{
	simf_crash(r->s, r->n, r->down, &id, 1, oracle_req, r);
	r->ncrash++;
}

static void vote(struct run *r, uint32_t q, uint64_t tx)
{
	if (r->asked[q][tx] || r->down[q])
		return;
	r->asked[q][tx] = true;
	bool yes = r->all_yes[tx] || sim_random_below(r->s, 3) != 0;
	char key[24];
	int kl = snprintf(key, sizeof(key), "%llu", (unsigned long long)tx);
	struct strata_request req = { .id = new_req(r, RQ_VOTE, q, tx), .op = STRATA_OP_PROPOSE,
				      .key = (const uint8_t *)key, .key_len = (size_t)kl,
				      .value = (const uint8_t *)(yes ? "yes" : "no"),
				      .value_len = yes ? 3 : 2 };
	sim_request(r->s, q, "nbac", &req);
}

static void begin(struct run *r, uint32_t q, uint64_t tx)
{
	char key[24];
	int kl = snprintf(key, sizeof(key), "%llu", (unsigned long long)tx);
	struct strata_request req = { .id = new_req(r, RQ_BEGIN, q, tx), .op = STRATA_OP_WRITE,
				      .key = (const uint8_t *)key, .key_len = (size_t)kl };
	sim_request(r->s, q, "nbac", &req);
}

static void setup(struct run *r, uint64_t seed, bool trace, const char *id)
{
	strata_config_defaults(&r->cfg);
	snprintf(r->cfg.cluster_id, sizeof(r->cfg.cluster_id), "%s", id);
	r->n = r->cfg.n = seed % 5 == 3 ? 3 : seed % 5 == 4 ? 4 : 5;
	vck_init(&r->vc, r->n, false);
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
	struct sim_net net = {
		.drop = 0.05 + sim_random_unit(r->s) * 0.2, .dup = sim_random_unit(r->s) * 0.1,
		.delay_min_us = 200, .delay_max_us = 200 + sim_random_below(r->s, 5 * MS),
		.tail = 0.03, .tail_us = 300 * MS,
	};
	sim_set_net(r->s, &net);
	r->max_crash = (unsigned)sim_random_below(r->s, r->n); /* 0 .. N-1 */
}

/* One chunk of faults: partitions that heal, crashes up to max_crash. */
static void faults(struct run *r, bool *parted)
{
	struct sim *s = r->s;
	simf_partition_step(s, r->n, parted, 0.05, false);
	if (r->ncrash < r->max_crash && sim_random_unit(s) < 0.03) {
		uint32_t q = simf_pick_up(r->s, r->n, r->down);
		if (q)
			crash(r, q);
	}
}

static int calm_and_finish(struct run *r, int rc)
{
	struct sim *s = r->s;
	if (!rc) {
		sim_heal(s);
		struct sim_net calm = { .drop = 0.02, .delay_min_us = 200, .delay_max_us = 3 * MS };
		sim_set_net(s, &calm);
		rc = sim_run_for(s, LIVENESS_MS * MS, step_check, r);
	}
	/* A request handled outside sim_run_for (the oracle's, a client's) may have produced the
	 * violating output with no simulation step after it. */
	return rc || r->why[0] ? 1 : 0;
}

static int nbac_run(uint64_t broken_ms, uint64_t seed, bool trace, char *why, size_t whylen)
{
	struct run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	r->broken_timeout_ms = broken_ms;
	r->algo = "nbac";
	setup(r, seed, trace, "sim-nbac");
	struct sim *s = r->s;
	r->ntx = 1 + (unsigned)sim_random_below(s, MAXT);
	for (uint64_t t = 1; t <= r->ntx; t++)
		r->all_yes[t] = sim_random_below(s, 2) == 0;
	sim_start(s);
	sim_run_for(s, 1 * MS, NULL, NULL);
	for (uint64_t t = 1; t <= r->ntx; t++)
		if (sim_random_below(s, 2))
			begin(r, 1 + (uint32_t)sim_random_below(s, r->n), t);
	bool parted = false;
	int rc = 0;
	for (int chunk = 0; chunk < 30 && !rc; chunk++) {
		for (int k = 0; k < 2; k++)
			if (sim_random_unit(s) < 0.5) {
				uint32_t q = simf_pick_up(r->s, r->n, r->down);
				if (q)
					vote(r, q, 1 + sim_random_below(s, r->ntx));
			}
		faults(r, &parted);
		rc = sim_run_for(s, 10 * MS, step_check, r);
	}
	/* Every node still up votes on every transaction. */
	for (uint32_t q = 1; q <= r->n && !rc; q++)
		for (uint64_t t = 1; t <= r->ntx; t++)
			vote(r, q, t);
	rc = calm_and_finish(r, rc);
	if (rc) {
		rc = sim_fail(why, whylen, "t=%llums: %s", (unsigned long long)(sim_now(s) / MS),
			      r->why);
	} else {
		for (uint32_t q = 1; q <= r->n && !rc; q++)
			for (uint64_t t = 1; t <= r->ntx && !rc; t++)
				if (!r->down[q] && !r->dec[q][t])
					rc = sim_fail(why, whylen,
						      "termination: correct node %u did not decide tx "
						      "%llu within %llu ms after the heal",
						      q, (unsigned long long)t, LIVENESS_MS);
		if (!rc && r->ndec == 0)
			rc = sim_fail(why, whylen, "no decision at all");
	}
	if (!rc) {
		totals.commits += r->ncommit;
		totals.aborts += r->nabort;
	}
	sim_free(s);
	free(r);
	return rc;
}

static int nbac_random(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return nbac_run(0, seed, trace, why, whylen);
}

static int broken_nbac_timeout(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return nbac_run(30, seed, trace, why, whylen);
}

static void trb_send(struct run *r, uint32_t q)
{
	if (r->down[q] || r->nsendreq[q] >= MAXK)
		return;
	char m[40];
	int len = snprintf(m, sizeof(m), "m%u.%u-%llu", q, ++r->nsendreq[q],
			   (unsigned long long)sim_seed(r->s));
	struct strata_request req = { .id = new_req(r, RQ_SEND, q, 0), .op = STRATA_OP_BROADCAST,
				      .value = (const uint8_t *)m, .value_len = (size_t)len };
	sim_request(r->s, q, "trb", &req);
}

static int trb_run(bool broken, uint64_t seed, bool trace, char *why, size_t whylen)
{
	struct run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	r->broken_direct = broken;
	r->algo = "trb";
	setup(r, seed, trace, "sim-trb");
	struct sim *s = r->s;
	sim_start(s);
	sim_run_for(s, 1 * MS, NULL, NULL);
	bool parted = false;
	int rc = 0;
	for (int chunk = 0; chunk < 30 && !rc; chunk++) {
		if (sim_random_unit(s) < 0.6) {
			uint32_t q = simf_pick_up(r->s, r->n, r->down);
			if (q) {
				trb_send(r, q);
				/* Sometimes the sender crashes while its beb is on the way. */
				if (r->ncrash < r->max_crash && sim_random_unit(s) < 0.15) {
					rc = sim_run_for(s, sim_random_below(s, 3 * MS), step_check, r);
					crash(r, q);
				}
			}
		}
		faults(r, &parted);
		if (!rc)
			rc = sim_run_for(s, 10 * MS, step_check, r);
	}
	rc = calm_and_finish(r, rc);
	if (rc) {
		rc = sim_fail(why, whylen, "t=%llums: %s", (unsigned long long)(sim_now(s) / MS),
			      r->why);
	}
	/* Termination: a correct sender's every message is delivered by every correct node; a
	 * crashed sender's sequence ends with SF at every correct node; everything any node
	 * delivered is delivered by every correct node (uniform agreement). */
	for (uint32_t q = 1; q <= r->n && !rc; q++) {
		if (r->down[q])
			continue;
		for (uint32_t snd = 1; snd <= r->n && !rc; snd++) {
			for (uint64_t k = 1; k <= MAXK + 2 && !rc; k++) {
				bool need = r->first[snd][k].tag != 0 ||
					    (!r->down[snd] && k <= MAXK && r->sent[snd][k].tag);
				if (need && !r->got[q][snd][k])
					rc = sim_fail(why, whylen, "termination: correct node %u did not "
						      "deliver (%u, %llu) within %llu ms after the heal",
						      q, snd, (unsigned long long)k, LIVENESS_MS);
			}
			if (!rc && r->down[snd] && !r->got_sf[q][snd])
				rc = sim_fail(why, whylen, "termination: correct node %u delivered no SF "
					      "for crashed sender %u", q, snd);
		}
	}
	if (!rc && r->ntrb_msg + r->ntrb_sf == 0)
		rc = sim_fail(why, whylen, "no delivery at all");
	if (!rc) {
		totals.trb_msg += r->ntrb_msg;
		totals.trb_sf += r->ntrb_sf;
	}
	sim_free(s);
	free(r);
	return rc;
}

static int trb_random(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return trb_run(false, seed, trace, why, whylen);
}

static int broken_trb_direct(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return trb_run(true, seed, trace, why, whylen);
}

/* Crashes a and b at once; each survivor is told of the two in an order of its own (P orders
 * nothing across processes). */
static void crash_two(struct run *r, uint32_t a, uint32_t b)
{
	const uint32_t ids[2] = {a, b};
	simf_crash(r->s, r->n, r->down, ids, 2, oracle_req, r);
	r->ncrash += 2;
}

static int gm_run(bool broken, uint64_t seed, bool trace, char *why, size_t whylen)
{
	struct run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	r->broken_local = broken;
	r->algo = "gm";
	setup(r, seed, trace, "sim-gm");
	struct sim *s = r->s;
	/* 1 .. N-1, and N-1 in half of the seeds, so that two crashes at once leave survivors. */
	r->max_crash = sim_random_below(s, 2) ? r->n - 1 : 1 + (unsigned)sim_random_below(s, r->n - 1);
	sim_start(s);
	sim_run_for(s, 1 * MS, NULL, NULL);
	bool parted = false;
	int rc = 0;
	for (int chunk = 0; chunk < 30 && !rc; chunk++) {
		if (r->ncrash + 2 <= r->max_crash && sim_random_unit(s) < 0.1) {
			uint32_t a = simf_pick_up(r->s, r->n, r->down), b = simf_pick_up(r->s, r->n, r->down);
			if (a && b && a != b)
				crash_two(r, a, b);
		}
		faults(r, &parted);
		rc = sim_run_for(s, 10 * MS, step_check, r);
	}
	if (!rc && r->ncrash == 0) {
		uint32_t q = simf_pick_up(r->s, r->n, r->down);
		crash(r, q);
	}
	rc = calm_and_finish(r, rc);
	if (rc) {
		rc = sim_fail(why, whylen, "t=%llums: %s", (unsigned long long)(sim_now(s) / MS),
			      r->why);
	}
	/* Completeness at the end: every correct node's view is the correct set. */
	if (!rc)
		rc = vck_complete(&r->vc, r->down, LIVENESS_MS, why, whylen);
	if (!rc)
		totals.views += r->vc.nviews;
	sim_free(s);
	free(r);
	return rc;
}

static int gm_random(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return gm_run(false, seed, trace, why, whylen);
}

static int broken_gm_local(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return gm_run(true, seed, trace, why, whylen);
}

static const struct sim_case cases[] = {
	{ "nbac-random", nbac_random, 300, false },
	{ "broken-nbac-commits-on-timeout", broken_nbac_timeout, 50, true },
	{ "trb-random", trb_random, 300, false },
	{ "broken-trb-without-consensus", broken_trb_direct, 200, true },
	{ "gm-random", gm_random, 300, false },
	{ "broken-gm-without-consensus", broken_gm_local, 200, true },
};

int main(int argc, char **argv)
{
	int rc = sim_main(argc, argv, "sim_variants", cases, sizeof(cases) / sizeof(cases[0]));
	printf("sim_variants: in passing seeds, nbac decided %llu commit and %llu abort; trb "
	       "delivered %llu messages and %llu SF; gm installed %llu distinct views after view 0\n",
	       totals.commits, totals.aborts, totals.trb_msg, totals.trb_sf, totals.views);
	return rc;
}
