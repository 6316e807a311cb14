/* Simulation suite for Consensus-Based Total-Order Broadcast (Alg. 6.1, src/cons/tob.c) over
 * the node's erb and leader-driven consensus, on the real <>P and Omega.
 *
 * Every seed: N = 5 (or 3) nodes broadcast 6-15 messages at random times; before GST loss
 * 5-25 %, duplication, delays with a 3 % tail of up to 300 ms (<>P suspects correct nodes, Omega
 * changes its mind, epochs change), partitions and one-way cuts, up to f = (N - 1) / 2 crashes.
 * Then the network heals and every correct node must deliver, within 5 s of virtual time, every
 * message a correct node broadcast and every message any correct node delivered.
 *
 * Checked after every step (tests/sim/lib/bcast_check.h): no duplication, no creation, and
 * total order, here uniform (BCK_TOTAL): any two nodes (crashed ones included) that deliver two
 * messages deliver them in the same order, checked as each delivery happens against every other
 * node's delivery sequence. At the end: validity and agreement.
 *
 * The consensus under tob is the config's `[tob] consensus`: tob-random-gst runs the default,
 * ldc, on the real <>P and Omega; tob-over-uhier and tob-over-uflood run the fail-stop uniform
 * consensus algorithms and tob-over-flood and tob-over-hier the regular ones, on a fail-stop
 * cluster whose P is an oracle test module told of every crash by the driver (accurate and
 * complete by construction, as in sim_cons), with the same faults. Over uniform consensus the
 * total order is checked uniform as above; over regular consensus (the book's regular TOB: a
 * process that crashes may have delivered differently) it is checked at the end among the
 * correct nodes (every pair delivers their common messages in the same order).
 *
 * Broken variants (expect_violation): the eager reliable broadcast erb judged by the same total
 * order checker: reliable broadcast does not order concurrent messages, and the checker must
 * say so; and erb on the fail-stop cluster judged by the correct-pair check of the regular
 * cases, which must say so too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cons/cons.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/stack.h"
#include "fd/fd.h"
#include "lib/build.h"
#include "lib/bcast_check.h"
#include "lib/faults.h"
#include "lib/oracle.h"
#include "rt/sim/harness.h"
#include "rt/sim/sim.h"

#define MS 1000ull
#define MAXN 5
#define LIVENESS_MS 5000ull
#define SEQ_MAX 64

struct run {
	const char *algo;
	const char *cons;  /* [tob] consensus; "" = the default (ldc) on the real detectors */
	bool regular;      /* regular consensus: total order checked among the correct nodes */
	uint64_t oracle_reqs;
	struct {
		uint32_t sender;
		uint64_t seq;
	} dseq[MAXN + 1][SEQ_MAX];
	unsigned nd[MAXN + 1];
	struct strata_config cfg;
	struct sim *s;
	struct bck *ck;
	uint32_t n;
	uint16_t wire;
	bool down[MAXN + 1];
	unsigned ncrash, nbcast;
	uint64_t reqid;
	char why[256];
};

static void on_output(struct sim *s, uint32_t node, const struct strata_output *o, void *arg)
{
	struct run *r = arg;
	(void)s;
	if (o->module != r->wire)
		return;
	if (o->kind == STRATA_OUT_BCAST) {
		bck_on_bcast(r->ck, node, o->a, o->data, o->len);
	} else if (o->kind == STRATA_OUT_DELIVER) {
		bck_on_deliver(r->ck, node, o->peer, o->a, o->data, o->len);
		if (r->nd[node] < SEQ_MAX) {
			r->dseq[node][r->nd[node]].sender = o->peer;
			r->dseq[node][r->nd[node]++].seq = o->a;
		}
	} else if (o->kind == STRATA_OUT_REPLY && o->status != 0 && !r->why[0]) {
		snprintf(r->why, sizeof(r->why), "node %u refused a broadcast: %s", node,
			 strata_strerror(o->status));
	}
}

static int step_check(struct sim *s, void *arg)
{
	struct run *r = arg;
	(void)s;
	return bck_violation(r->ck) || r->why[0] ? 1 : 0;
}

static void build(struct sim *s, struct strata_node *n, void *arg)
{
	struct run *r = arg;
	(void)s;
	if (r->cons[0])
		sim_oracle_add(n);
	else
		simb_fd(n);
	simb_algo(n, r->algo);
}

static void broadcast(struct run *r, uint32_t q)
{
	char payload[48];
	int len = snprintf(payload, sizeof(payload), "m%u-%u-%llu", q, r->nbcast++,
			   (unsigned long long)sim_seed(r->s));
	struct strata_request req = { .id = ++r->reqid, .op = STRATA_OP_BROADCAST,
				      .value = (const uint8_t *)payload, .value_len = (size_t)len };
	sim_request(r->s, q, r->algo, &req);
}

/* Every correct pair delivers the messages both delivered in the same order (regular TOB5). */
static int total_order_correct(const struct run *r, char *why, size_t whylen)
{
	for (uint32_t p = 1; p <= r->n; p++)
		for (uint32_t q = p + 1; q <= r->n; q++) {
			if (r->down[p] || r->down[q])
				continue;
			unsigned last = 0;
			bool any = false;
			for (unsigned i = 0; i < r->nd[p]; i++)
				for (unsigned j = 0; j < r->nd[q]; j++) {
					if (r->dseq[p][i].sender != r->dseq[q][j].sender ||
					    r->dseq[p][i].seq != r->dseq[q][j].seq)
						continue;
					if (any && j < last)
						return sim_fail(why, whylen,
								"total order: nodes %u and %u deliver "
								"%u/%llu in different orders",
								p, q, r->dseq[p][i].sender,
								(unsigned long long)r->dseq[p][i].seq);
					last = j;
					any = true;
				}
		}
	return 0;
}

/* The oracle's request ids, apart from the broadcasts'. */
static uint64_t oracle_req(void *arg, uint32_t q)
{
	struct run *r = arg;
	(void)q;
	return (1ull << 40) + ++r->oracle_reqs;
}

/* P (over a consensus): the driver tells every live node's oracle of a crash (accurate and
 * complete). */
static void crash(struct run *r, uint32_t q)
{
	simf_crash(r->s, r->n, r->down, &q, 1, r->cons[0] ? oracle_req : NULL, r);
	r->ncrash++;
}

static int run_algo(const char *algo, const char *cons, uint64_t seed, bool trace, char *why,
		    size_t whylen)
{
	struct run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	r->algo = algo;
	r->cons = cons;
	r->regular = strcmp(cons, "flood") == 0 || strcmp(cons, "hier") == 0;
	r->wire = strata_algo_find(algo)->wire_id;
	strata_config_defaults(&r->cfg);
	snprintf(r->cfg.cluster_id, sizeof(r->cfg.cluster_id), "sim-tob");
	r->n = r->cfg.n = seed % 4 == 3 ? 3 : 5;
	r->cfg.f = (r->n - 1) / 2;
	r->cfg.model = cons[0] ? STRATA_MODEL_FAIL_STOP : STRATA_MODEL_FAIL_NOISY;
	snprintf(r->cfg.tob_consensus, sizeof(r->cfg.tob_consensus), "%s", cons);
	r->cfg.heartbeat_ms = 20;
	r->cfg.timeout_ms = 100;
	r->cfg.retransmit_min_ms = 10;
	r->cfg.retransmit_max_ms = 100;
	sim_config_loopback(&r->cfg, r->n, 7600);
	r->ck = bck_new(r->n, BCK_NODUP | BCK_NOCREATE | BCK_VALIDITY | BCK_AGREEMENT |
				      (r->regular ? 0u : BCK_TOTAL));
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
	sim_start(s);
	sim_run_for(s, 1 * MS, NULL, NULL);
	unsigned max = 6 + (unsigned)sim_random_below(s, 10);
	bool parted = false;
	int rc = 0;
	for (int chunk = 0; chunk < 40 && !rc; chunk++) {
		if (r->nbcast < max && sim_random_unit(s) < 0.4) {
			uint32_t q = simf_pick_up(r->s, r->n, r->down);
			if (q)
				broadcast(r, q);
		}
		simf_partition_step(s, r->n, &parted, 0.05, false);
		if (r->ncrash < r->cfg.f && sim_random_unit(s) < 0.03) {
			uint32_t q = simf_pick_up(r->s, r->n, r->down);
			if (q)
				crash(r, q);
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
			      r->why[0] ? r->why : bck_violation(r->ck));
	} else {
		bool correct[MAXN + 1] = { false }, sender_ok[MAXN + 1] = { false };
		for (uint32_t q = 1; q <= r->n; q++)
			correct[q] = sender_ok[q] = !r->down[q];
		rc = bck_final(r->ck, correct, sender_ok, why, whylen);
		if (!rc && r->regular)
			rc = total_order_correct(r, why, whylen);
	}
	sim_free(s);
	bck_free(r->ck);
	free(r);
	return rc;
}

static int tob_random(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return run_algo("tob", "", seed, trace, why, whylen);
}

static int tob_uhier(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return run_algo("tob", "uhier", seed, trace, why, whylen);
}

static int tob_uflood(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return run_algo("tob", "uflood", seed, trace, why, whylen);
}

static int tob_flood(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return run_algo("tob", "flood", seed, trace, why, whylen);
}

static int tob_hier(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return run_algo("tob", "hier", seed, trace, why, whylen);
}

static int erb_as_tob(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return run_algo("erb", "", seed, trace, why, whylen);
}

/* erb on the fail-stop cluster judged by the correct-pair total order check of the regular cases. */
static int erb_as_regular_tob(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return run_algo("erb", "flood", seed, trace, why, whylen);
}

/* ---- Logged uniform total-order broadcast (Alg. 6.12, src/cons/ltob.c) ----
 *
 * Fail-recovery: N = 5 (or 3) nodes on the real Omega under lldc, broadcasts at random times,
 * loss, duplication, delays, partitions, crashes and restarts (at most f down at once; every
 * node restarted before the end), slow syncs (1-15 ms) and, per case, the disk faults of
 * docs/architecture.md: none, every unsynced write lost at a crash, or a torn prefix of them
 * kept; two storms crash every node at once while writes are unsynced. Checked after every step:
 * no duplication, no creation, uniform total order over every node's whole delivery sequence
 * (all its lives); at the end, after a calm phase with every node up: validity for every sender
 * (lurb logs pending broadcasts: a sender that crashed and recovered counts) and uniform
 * agreement. A replay announced after a recovery counts only when its first announcement was
 * lost (the recorders' rule). Broken variant: ltob that delivers without logging its delivered
 * windows and round (a recovered node delivers again what it delivered before). */

enum ldisk { LD_NONE, LD_LOST, LD_TORN };

struct lrun {
	struct strata_config cfg;
	struct sim *s;
	struct bck *ck;
	uint32_t n;
	uint16_t wire;
	enum ldisk disk;
	bool unlogged;
	bool down[MAXN + 1];
	unsigned nbcast;
	uint64_t reqid;
	char why[256];
};

static void l_output(struct sim *s, uint32_t node, const struct strata_output *o, void *arg)
{
	struct lrun *r = arg;
	(void)s;
	if (o->module != r->wire)
		return;
	if (o->kind == STRATA_OUT_BCAST) {
		if (o->replay && bck_broadcast_known(r->ck, node, o->a))
			return;
		bck_on_bcast(r->ck, node, o->a, o->data, o->len);
	} else if (o->kind == STRATA_OUT_DELIVER) {
		if (o->replay && bck_delivered(r->ck, node, o->peer, o->a))
			return;
		bck_on_deliver(r->ck, node, o->peer, o->a, o->data, o->len);
	} else if (o->kind == STRATA_OUT_REPLY && o->status != 0 && !r->why[0]) {
		snprintf(r->why, sizeof(r->why), "node %u refused a broadcast: %s", node,
			 strata_strerror(o->status));
	}
}

static int l_check(struct sim *s, void *arg)
{
	struct lrun *r = arg;
	(void)s;
	return bck_violation(r->ck) || r->why[0] ? 1 : 0;
}

static void l_build(struct sim *s, struct strata_node *n, void *arg)
{
	struct lrun *r = arg;
	(void)s;
	simb_fd(n);
	struct strata_module *m = simb_algo(n, "ltob");
	if (r->unlogged)
		cons_ltob_test_unlogged(m);
}

static void l_broadcast(struct lrun *r, uint32_t q)
{
	if (!q)
		return;
	char payload[48];
	int len = snprintf(payload, sizeof(payload), "m%u-%u-%llu", q, r->nbcast++,
			   (unsigned long long)sim_seed(r->s));
	struct strata_request req = { .id = ++r->reqid, .op = STRATA_OP_BROADCAST,
				      .value = (const uint8_t *)payload, .value_len = (size_t)len };
	sim_request(r->s, q, "ltob", &req);
}

static unsigned l_ndown(const struct lrun *r)
{
	unsigned d = 0;
	for (uint32_t q = 1; q <= r->n; q++)
		d += r->down[q];
	return d;
}

static bool l_unsynced(struct lrun *r)
{
	for (uint32_t q = 1; q <= r->n; q++)
		if (!r->down[q] && sim_unsynced(r->s, q) > 0)
			return true;
	return false;
}

static int l_faults(struct lrun *r)
{
	struct sim *s = r->s;
	bool parted = false;
	unsigned max = 6 + (unsigned)sim_random_below(s, 10);
	int storm[2] = { -1, -1 };
	if (r->disk != LD_NONE)
		for (int k = 0; k < 2; k++)
			storm[k] = 2 + (int)sim_random_below(s, 30);
	l_broadcast(r, simf_pick_up(r->s, r->n, r->down));
	for (int chunk = 0; chunk < 40; chunk++) {
		for (int k = 0; k < 2; k++) {
			if (storm[k] < 0 || chunk < storm[k])
				continue;
			/* a storm needs writes to lose: broadcast, wait for the store */
			if (!l_unsynced(r)) {
				l_broadcast(r, simf_pick_up(r->s, r->n, r->down));
				for (int ms = 0; ms < 10 && !l_unsynced(r); ms++) {
					int rc = sim_run_for(s, 1 * MS, l_check, r);
					if (rc)
						return rc;
				}
			}
			storm[k] = -1;
			for (uint32_t q = 1; q <= r->n; q++)
				if (!r->down[q]) {
					sim_crash(s, q);
					r->down[q] = true;
				}
		}
		if (r->nbcast < max && sim_random_unit(s) < 0.5)
			l_broadcast(r, simf_pick_up(r->s, r->n, r->down));
		simf_partition_step(s, r->n, &parted, 0.05, false);
		if (sim_random_unit(s) < 0.04 && l_ndown(r) < r->cfg.f) {
			uint32_t q = simf_pick_up(r->s, r->n, r->down);
			if (q) {
				sim_crash(s, q);
				r->down[q] = true;
			}
		}
		/* restart one node (more often after a storm: a majority must come back) */
		if (sim_random_unit(s) < (l_ndown(r) > r->cfg.f ? 0.6 : 0.1))
			for (uint32_t q = 1; q <= r->n; q++)
				if (r->down[q]) {
					sim_restart(s, q);
					r->down[q] = false;
					break;
				}
		int rc = sim_run_for(s, 10 * MS, l_check, r);
		if (rc)
			return rc;
	}
	return 0;
}

static int run_ltob(enum ldisk disk, bool unlogged, uint64_t seed, bool trace, char *why,
		    size_t whylen)
{
	struct lrun *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	r->disk = disk;
	r->unlogged = unlogged;
	r->wire = strata_algo_find("ltob")->wire_id;
	strata_config_defaults(&r->cfg);
	snprintf(r->cfg.cluster_id, sizeof(r->cfg.cluster_id), "sim-ltob");
	r->n = r->cfg.n = seed % 4 == 3 ? 3 : 5;
	r->cfg.f = (r->n - 1) / 2;
	r->cfg.model = STRATA_MODEL_FAIL_RECOVERY;
	r->cfg.heartbeat_ms = 20;
	r->cfg.timeout_ms = 100;
	r->cfg.retransmit_min_ms = 10;
	r->cfg.retransmit_max_ms = 100;
	sim_config_loopback(&r->cfg, r->n, 7700);
	r->ck = bck_new(r->n, BCK_NODUP | BCK_NOCREATE | BCK_VALIDITY | BCK_AGREEMENT |
				      BCK_UNIFORM | BCK_TOTAL);
	struct sim_opts so = { .seed = seed, .cfg = &r->cfg, .build = l_build, .output = l_output,
			       .arg = r, .trace = trace };
	so.disk.sync_min_us = 1 * MS;
	so.disk.sync_max_us = 15 * MS;
	so.disk.torn = disk == LD_TORN ? 1.0 : 0;
	r->s = sim_new(&so);
	struct sim *s = r->s;
	struct sim_net net = {
		.drop = 0.05 + sim_random_unit(s) * 0.2, .dup = sim_random_unit(s) * 0.1,
		.delay_min_us = 200, .delay_max_us = 200 + sim_random_below(s, 5 * MS),
		.tail = 0.05, .tail_us = 40 * MS,
	};
	sim_set_net(s, &net);
	sim_start(s);
	sim_run_for(s, 1 * MS, NULL, NULL);
	int rc = l_faults(r);
	if (!rc) {
		sim_heal(s);
		struct sim_net calm = { .drop = 0.02, .delay_min_us = 200, .delay_max_us = 3 * MS };
		sim_set_net(s, &calm);
		for (uint32_t q = 1; q <= r->n; q++)
			if (r->down[q]) {
				sim_restart(s, q);
				r->down[q] = false;
			}
		rc = sim_run_for(s, LIVENESS_MS * MS, l_check, r);
	}
	if (rc) {
		rc = sim_fail(why, whylen, "t=%llums: %s", (unsigned long long)(sim_now(s) / MS),
			      r->why[0] ? r->why : bck_violation(r->ck));
	} else {
		bool correct[MAXN + 1] = { false };
		for (uint32_t q = 1; q <= r->n; q++)
			correct[q] = true;
		rc = bck_final(r->ck, correct, correct, why, whylen);
	}
	if (!rc && disk != LD_NONE) {
		const struct sim_disk_stats *ds = sim_disk_stats(s);
		if (ds->writes_lost == 0)
			rc = sim_vacuous(why, whylen, "no unsynced write was lost to a crash");
		else if (disk == LD_TORN && ds->torn_crashes == 0)
			rc = sim_vacuous(why, whylen, "no crash tore a write");
	}
	sim_free(s);
	bck_free(r->ck);
	free(r);
	return rc;
}

static int ltob_crash_recover(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return run_ltob(LD_NONE, false, seed, trace, why, whylen);
}

static int ltob_disk_lost(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return run_ltob(LD_LOST, false, seed, trace, why, whylen);
}

static int ltob_disk_torn(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return run_ltob(LD_TORN, false, seed, trace, why, whylen);
}

static int ltob_unlogged(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return run_ltob(LD_NONE, true, seed, trace, why, whylen);
}

static const struct sim_case cases[] = {
	{ "tob-random-gst", tob_random, 1000, false },
	{ "tob-over-uhier", tob_uhier, 100, false },
	{ "tob-over-uflood", tob_uflood, 100, false },
	{ "tob-over-flood", tob_flood, 100, false },
	{ "tob-over-hier", tob_hier, 100, false },
	{ "broken-erb-judged-total-order", erb_as_tob, 50, true },
	{ "broken-erb-judged-regular-total-order", erb_as_regular_tob, 50, true },
	{ "ltob-crash-recover", ltob_crash_recover, 50, false },
	{ "ltob-disk-lost", ltob_disk_lost, 50, false },
	{ "ltob-disk-torn", ltob_disk_torn, 50, false },
	{ "broken-ltob-unlogged-delivery", ltob_unlogged, 50, true },
};

int main(int argc, char **argv)
{
	return sim_main(argc, argv, "sim_tob", cases, sizeof(cases) / sizeof(cases[0]));
}
