/* Simulation suite for the crash-model broadcasts of chapter 3: beb, lrb, erb, urb_allack, urb
 * (Alg. 3.1-3.5), the fail-recovery sbeb, lbeb, lurb (3.6-3.8), the probabilistic epb, lpb
 * (3.9-3.11) and the ordered fifo, ncb, wcb (3.12-3.15).
 *
 * Every seed: N = 5 (or 3) nodes broadcast concurrently under loss, duplication, delay with a
 * heavy tail (reordering), partitions that heal, and crashes within the model: up to f
 * crash-stop crashes; under fail-recovery, crashes and restarts (at most f down at once, all
 * restarted before the end). Fail-stop algorithms get an oracle perfect failure detector (a
 * test module told of every crash by the driver: accurate and complete by construction, so the
 * suite tests the broadcast, not the detector's timing). Then the network heals and a liveness
 * phase runs.
 *
 * Checked after every simulation step (tests/sim/lib/bcast_check.h): no duplication, no
 * creation, FIFO (fifo, ncb, wcb), causal order (ncb, wcb), per-sender order (lpb); at the end:
 * validity, agreement (reliable ones), uniform agreement (urb_allack, urb, lurb). The
 * probabilistic algorithms only promise probabilistic validity: their "coverage" cases run many
 * inner simulations and require the delivered fraction to stay above a bound.
 *
 * Broken variants (expect_violation): the uniform checker must flag beb and erb when an
 * isolated sender delivers its own message and crashes; the causal checker must flag a run that
 * is FIFO but not causal (lpb's per-sender order over gossip, and a hand-made trace; the fifo
 * algorithm itself turned out causal here, see docs/broadcast.md); the agreement checker must
 * flag beb when its sender crashes mid-broadcast; and erb stacked on a beb that loses messages
 * (a test module put in beb's place) must lose agreement, so the composition is real.
 *
 * Sends the links refuse (beb.c): the *-backlog cases set `[links] backlog_bytes` = max_value =
 * BACKLOG_SMALL and cut one node off while the others broadcast more than its backlog holds, so
 * that the links refuse sends to it; beb owes them and sends them again once the partition
 * heals, and validity (agreement, for erb and urb) must hold at the end. A seed whose links
 * refused nothing is vacuous. broken_beb_backlog_no_owed (bc_beb_test_no_owed: a refusal is
 * lost, as before) must fail validity. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bcast/common.h"
#include "core/codec.h"
#include "lib/bcast_check.h"
#include "lib/lossy_beb.h"
#include "lib/faults.h"
#include "lib/oracle.h"
#include "links/links.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/stack.h"
#include "rt/sim/harness.h"
#include "rt/sim/sim.h"

#define MS 1000ull
#define MAXN 5

/* ---- scenarios ---- */

enum scen {
	SC_RANDOM = 0,     /* the general fault mix */
	SC_ISOLATED_CRASH, /* sender isolated, broadcasts (delivers to itself), crashes */
	SC_MIDCRASH,       /* sender crashes right after broadcasting, under heavy loss */
	SC_BACKLOG,        /* a small backlog; one node cut off while the others broadcast */
	SC_BACKLOG_NO_OWED, /* broken variant: the same, beb loses what the links refuse */
};

#define BACKLOG_SMALL 256 /* SC_BACKLOG: [links] backlog_bytes = max_value */
#define BACKLOG_BCASTS 80 /* SC_BACKLOG: broadcasts while the node is cut off */

/* Storage faults (fail-recovery algorithms): slow syncs, crash storms, and per kind: */
enum disk { D_NONE, D_LOST, D_TORN, D_FAIL, D_ACK_EARLY /* broken: acks before its sync */,
	    D_TORN_SENDER /* torn, and one node (r->spare) never crashes and broadcasts before
			   * every storm, so best-effort validity still has a sender to cover */ };

struct spec {
	const char *algo;
	unsigned props;
	enum scen scen;
	bool lossless; /* coverage runs: 2% loss, no partitions, no crashes */
	bool lossy_beb; /* replace beb under the algorithm with one that drops messages */
};

struct run {
	const struct spec *sp;
	enum disk disk;
	const struct strata_algo *algo;
	struct strata_config cfg;
	struct sim *s;
	struct bck *ck;
	uint32_t n;
	bool fail_stop, recovery;
	uint32_t spare; /* a node the faults never crash (D_TORN_SENDER), 0 = none */
	bool crashed_ever[MAXN + 1];
	bool down[MAXN + 1];
	uint64_t reqid;
	unsigned nbcast;
	bool bad_reply;
	char reply_why[128];
};

static void build(struct sim *s, struct strata_node *n, void *arg)
{
	struct run *r = arg;
	(void)s;
	char err[256];
	if (r->fail_stop)
		sim_oracle_add(n);
	if (r->sp && r->sp->lossy_beb) {
		sim_lossy_beb_add(n, r->algo->model == STRATA_MODEL_FAIL_RECOVERY);
	}
	if (!strata_algo_create(r->algo, n, err, sizeof(err))) {
		fprintf(stderr, "create %s: %s\n", r->algo->name, err);
		abort();
	}
	if (r->sp && r->sp->scen == SC_BACKLOG_NO_OWED)
		STRATA_ASSERT(bc_beb_test_no_owed(strata_node_module_by_name(n, "beb")) == 0);
}

static void on_output(struct sim *s, uint32_t node, const struct strata_output *o, void *arg)
{
	struct run *r = arg;
	(void)s;
	if (o->module != r->algo->wire_id)
		return;
	switch (o->kind) {
	case STRATA_OUT_BCAST:
		/* Likewise for an own broadcast announced again after a recovery. */
		if (o->replay && bck_broadcast_known(r->ck, node, o->a))
			break;
		bck_on_bcast(r->ck, node, o->a, o->data, o->len);
		break;
	case STRATA_OUT_DELIVER:
		/* A replay after a recovery counts only if the first announcement was lost. */
		if (o->replay && bck_delivered(r->ck, node, o->peer, o->a))
			break;
		bck_on_deliver(r->ck, node, o->peer, o->a, o->data, o->len);
		break;
	case STRATA_OUT_REPLY:
		if (o->status != 0 && !r->bad_reply) {
			r->bad_reply = true;
			snprintf(r->reply_why, sizeof(r->reply_why),
				 "node %u refused a broadcast: %s", node, strata_strerror(o->status));
		}
		break;
	default:
		break;
	}
}

static int step_check(struct sim *s, void *arg)
{
	struct run *r = arg;
	(void)s;
	return bck_violation(r->ck) || r->bad_reply ? 1 : 0;
}

static void broadcast(struct run *r, uint32_t node)
{
	char payload[48];
	int len = snprintf(payload, sizeof(payload), "m%u-%u-%llu", node, r->nbcast,
			   (unsigned long long)sim_seed(r->s));
	struct strata_request req = {
		.id = ++r->reqid, .op = STRATA_OP_BROADCAST, .value = (const uint8_t *)payload,
		.value_len = (size_t)len,
	};
	r->nbcast++;
	sim_request(r->s, node, r->algo->name, &req);
}

static uint64_t oracle_req(void *arg, uint32_t q)
{
	(void)q;
	return ++((struct run *)arg)->reqid;
}

/* Fail-stop: P, strong completeness and accuracy by construction (simf_crash). */
static void crash(struct run *r, uint32_t id)
{
	r->crashed_ever[id] = true;
	simf_crash(r->s, r->n, r->down, &id, 1, r->fail_stop ? oracle_req : NULL, r);
}

/* A random live node other than the spare (0 if none). */
static uint32_t pick_up_other(struct run *r)
{
	uint32_t up[MAXN], k = 0;
	for (uint32_t q = 1; q <= r->n; q++)
		if (!r->down[q] && q != r->spare)
			up[k++] = q;
	return k ? up[sim_random_below(r->s, k)] : 0;
}

static unsigned ndown(const struct run *r)
{
	unsigned d = 0;
	for (uint32_t q = 1; q <= r->n; q++)
		d += r->down[q];
	return d;
}

static unsigned ncrashed(const struct run *r)
{
	unsigned d = 0;
	for (uint32_t q = 1; q <= r->n; q++)
		d += r->crashed_ever[q];
	return d;
}

static void setup(struct run *r, const struct spec *sp, enum disk disk, uint64_t seed, bool trace)
{
	memset(r, 0, sizeof(*r));
	r->sp = sp;
	r->disk = disk;
	r->algo = strata_algo_find(sp->algo);
	STRATA_ASSERT(r->algo);
	r->fail_stop = r->algo->model == STRATA_MODEL_FAIL_STOP;
	r->recovery = r->algo->model == STRATA_MODEL_FAIL_RECOVERY;
	strata_config_defaults(&r->cfg);
	snprintf(r->cfg.cluster_id, sizeof(r->cfg.cluster_id), "sim-bcast");
	r->n = r->cfg.n = (seed % 5 == 4) ? 3 : 5;
	r->cfg.f = (r->n - 1) / 2;
	r->cfg.model = r->algo->model;
	r->cfg.heartbeat_ms = 20;
	r->cfg.timeout_ms = 100;
	r->cfg.retransmit_min_ms = 10;
	r->cfg.retransmit_max_ms = 100;
	if (sp->scen == SC_BACKLOG || sp->scen == SC_BACKLOG_NO_OWED)
		r->cfg.backlog_bytes = r->cfg.max_value = BACKLOG_SMALL;
	sim_config_loopback(&r->cfg, r->n, 7100);
	r->ck = bck_new(r->n, sp->props);
	STRATA_ASSERT(r->ck);
	struct sim_opts so = {
		.seed = seed, .cfg = &r->cfg, .build = build, .output = on_output, .arg = r,
		.trace = trace,
	};
	if (r->disk != D_NONE) {
		so.disk.sync_min_us = 1 * MS;
		so.disk.sync_max_us = 15 * MS;
		so.disk.torn = r->disk == D_TORN || r->disk == D_TORN_SENDER ? 1.0 : 0;
		so.disk.fail_sync_nr = r->disk == D_FAIL ? 1 + seed % 3 : 0;
		so.disk.sync_fail = r->disk == D_FAIL ? 0.003 : 0;
		so.disk.ack_before_sync = r->disk == D_ACK_EARLY;
	}
	r->s = sim_new(&so);
	if (r->disk == D_TORN_SENDER)
		r->spare = 1 + (uint32_t)(seed % r->n);
	struct sim_net net = {
		.drop = sp->lossless ? 0.02 : 0.05 + sim_random_unit(r->s) * 0.2,
		.dup = sp->lossless ? 0 : sim_random_unit(r->s) * 0.1,
		.delay_min_us = 200,
		.delay_max_us = 200 + sim_random_below(r->s, 5 * MS),
		.tail = sp->lossless ? 0 : 0.05,
		.tail_us = 40 * MS,
	};
	sim_set_net(r->s, &net);
	sim_start(r->s);
	/* Real clocks never read 0; the links treat time 0 as "never" (see the report). */
	sim_run_for(r->s, 1 * MS, NULL, NULL);
}

static void teardown(struct run *r)
{
	sim_free(r->s);
	bck_free(r->ck);
}

static int result(struct run *r, int rc, char *why, size_t whylen)
{
	if (rc == 0)
		return 0;
	if (r->bad_reply)
		return sim_fail(why, whylen, "%s", r->reply_why);
	return sim_fail(why, whylen, "t=%llums: %s", (unsigned long long)(sim_now(r->s) / MS),
			bck_violation(r->ck));
}

/* The general fault mix: 40 chunks of 10 ms with broadcasts, partitions, crashes, restarts. */
static int phase_faults(struct run *r)
{
	struct sim *s = r->s;
	bool parted = false;
	unsigned max_bcast = 6 + (unsigned)sim_random_below(s, 10);
	/* storage cases: two storms that crash every node while some write is unsynced */
	int storm[2] = { -1, -1 };
	if (r->disk != D_NONE)
		for (int k = 0; k < 2; k++)
			storm[k] = 2 + (int)sim_random_below(s, 30);
	if (r->disk != D_NONE)
		broadcast(r, simf_pick_up(r->s, r->n, r->down)); /* at least one store to sync */
	for (int chunk = 0; chunk < 40; chunk++) {
		if (r->disk != D_NONE) {
			bool unsynced = false;
			for (uint32_t q = 1; q <= r->n; q++) {
				if (!r->down[q] && strata_node_failed(sim_node(s, q)))
					crash(r, q); /* stopped on a failed sync */
				unsynced |= !r->down[q] && q != r->spare && sim_unsynced(s, q) > 0;
			}
			for (int k = 0; k < 2; k++) {
				if (storm[k] < 0 || chunk < storm[k])
					continue;
				/* a storm needs writes to lose: broadcast, wait for the store (with a
				 * spare: its broadcast first, so the writes lost are the others'
				 * logs of its message; if none came, one of theirs) */
				for (int round = r->spare ? 0 : 1; round < 2 && !unsynced; round++) {
					uint32_t q = round ? (r->spare ? pick_up_other(r) : simf_pick_up(r->s, r->n, r->down))
							   : r->spare;
					if (!q)
						continue;
					broadcast(r, q);
					for (int ms = 0; ms < (round ? 10 : 40) && !unsynced; ms++) {
						int rc = sim_run_for(s, 1 * MS, step_check, r);
						if (rc)
							return rc;
						for (uint32_t p = 1; p <= r->n; p++)
							unsynced |= !r->down[p] && p != r->spare &&
								    sim_unsynced(s, p) > 0;
					}
				}
				storm[k] = -1;
				for (uint32_t q = 1; q <= r->n; q++)
					if (!r->down[q] && q != r->spare)
						crash(r, q);
			}
		}
		if (r->nbcast < max_bcast && sim_random_unit(s) < 0.5) {
			uint32_t q = simf_pick_up(r->s, r->n, r->down);
			if (q)
				broadcast(r, q);
		}
		simf_partition_step(s, r->n, &parted, !r->sp->lossless ? 0.05 : 0, false);
		if (!r->sp->lossless && sim_random_unit(s) < 0.04) {
			uint32_t q = simf_pick_up(r->s, r->n, r->down);
			bool ok = r->recovery ? ndown(r) < r->cfg.f : ncrashed(r) < r->cfg.f;
			if (q && q != r->spare && ok)
				crash(r, q);
		}
		if (r->recovery && sim_random_unit(s) < 0.1) {
			for (uint32_t q = 1; q <= r->n; q++)
				if (r->down[q]) {
					sim_restart(s, q);
					r->down[q] = false;
					break;
				}
		}
		int rc = sim_run_for(s, 10 * MS, step_check, r);
		if (rc)
			return rc;
	}
	return 0;
}

/* The sender is cut off, broadcasts (and delivers to itself), then crashes. */
static int phase_isolated_crash(struct run *r)
{
	uint32_t v = 1 + (uint32_t)sim_random_below(r->s, r->n);
	uint64_t all = ((1ull << (r->n + 1)) - 2);
	sim_partition(r->s, 1ull << v, all & ~(1ull << v));
	int rc = sim_run_for(r->s, 5 * MS, step_check, r);
	if (!rc) {
		broadcast(r, v);
		rc = sim_run_for(r->s, 20 * MS, step_check, r);
	}
	if (!rc)
		crash(r, v);
	return rc;
}

/* The sender broadcasts while cut off from some of the others (one to all but one of them)
 * and crashes a moment later. */
static int phase_midcrash(struct run *r)
{
	uint32_t v = 1 + (uint32_t)sim_random_below(r->s, r->n);
	uint32_t cut = 1 + (uint32_t)sim_random_below(r->s, r->n - 2);
	for (uint32_t q = 1; q <= r->n && cut; q++)
		if (q != v) {
			sim_link(r->s, v, q, false);
			cut--;
		}
	broadcast(r, v);
	int rc = sim_run_for(r->s, 2 * MS, step_check, r);
	if (!rc)
		crash(r, v);
	return rc;
}

/* One node cut off while the others broadcast more than the links' backlog toward it holds. */
static int phase_backlog(struct run *r)
{
	uint32_t v = 1 + (uint32_t)sim_random_below(r->s, r->n);
	uint64_t all = ((1ull << (r->n + 1)) - 2);
	sim_partition(r->s, 1ull << v, all & ~(1ull << v));
	int rc = 0;
	for (unsigned k = 0; k < BACKLOG_BCASTS && !rc; k++) {
		uint32_t q = 1 + (uint32_t)sim_random_below(r->s, r->n - 1);
		broadcast(r, q >= v ? q + 1 : q);
		rc = sim_run_for(r->s, 2 * MS, step_check, r);
	}
	return rc;
}

/* The sends the links refused at every node (send_full); what beb dropped beyond its caps. */
static uint64_t sends_refused(struct run *r, uint64_t *dropped)
{
	uint64_t c = 0;
	*dropped = 0;
	for (uint32_t q = 1; q <= r->n; q++) {
		struct strata_node *nd = sim_node(r->s, q);
		struct strata_pl_owed_counts oc;
		if (!nd)
			continue;
		c += strata_node_counters(nd)->send_full;
		if (bc_beb_test_owed_counts(strata_node_module_by_name(nd, "beb"), &oc) == 0)
			*dropped += oc.dropped;
	}
	return c;
}

static int run_spec_disk(const struct spec *sp, enum disk disk, uint64_t seed, bool trace,
			 char *why, size_t whylen, uint64_t *expected, uint64_t *delivered);

static int run_spec(const struct spec *sp, uint64_t seed, bool trace, char *why, size_t whylen,
		    uint64_t *expected, uint64_t *delivered)
{
	return run_spec_disk(sp, D_NONE, seed, trace, why, whylen, expected, delivered);
}

static int run_spec_disk(const struct spec *sp, enum disk disk, uint64_t seed, bool trace,
			 char *why, size_t whylen, uint64_t *expected, uint64_t *delivered)
{
	struct run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	setup(r, sp, disk, seed, trace);
	int rc = 0;
	switch (sp->scen) {
	case SC_RANDOM:
		rc = phase_faults(r);
		break;
	case SC_ISOLATED_CRASH:
		rc = phase_isolated_crash(r);
		break;
	case SC_MIDCRASH:
		rc = phase_midcrash(r);
		break;
	case SC_BACKLOG:
	case SC_BACKLOG_NO_OWED:
		rc = phase_backlog(r);
		break;
	}
	if (rc) {
		rc = result(r, rc, why, whylen);
		teardown(r);
		free(r);
		return rc;
	}
	/* Liveness phase: heal, restart everything that is down (fail-recovery), run on. */
	sim_heal(r->s);
	struct sim_net calm = { .drop = 0.05, .delay_min_us = 200, .delay_max_us = 3 * MS };
	sim_set_net(r->s, &calm);
	if (r->disk != D_NONE) {
		struct sim_disk calm_disk = { .sync_min_us = 1 * MS, .sync_max_us = 15 * MS,
					      .ack_before_sync = r->disk == D_ACK_EARLY };
		sim_set_disk(r->s, &calm_disk); /* no more failing syncs: liveness needs a disk */
		for (uint32_t q = 1; q <= r->n; q++)
			if (!r->down[q] && strata_node_failed(sim_node(r->s, q)))
				crash(r, q);
	}
	if (r->recovery)
		for (uint32_t q = 1; q <= r->n; q++)
			if (r->down[q]) {
				sim_restart(r->s, q);
				r->down[q] = false;
			}
	rc = sim_run_for(r->s, 1500 * MS, step_check, r);
	if (rc) {
		rc = result(r, rc, why, whylen);
	} else {
		bool correct[MAXN + 1] = { false }, sender_ok[MAXN + 1] = { false };
		bool uniform_senders = !strcmp(sp->algo, "lurb");
		for (uint32_t q = 1; q <= r->n; q++) {
			correct[q] = !r->down[q];
			/* Stubborn/logged best-effort validity only covers senders that never
			 * crash; lurb logs its pending messages, so every correct sender counts. */
			sender_ok[q] = uniform_senders ? correct[q] : !r->crashed_ever[q];
		}
		if (expected)
			bck_coverage(r->ck, correct, sender_ok, expected, delivered);
		rc = bck_final(r->ck, correct, sender_ok, why, whylen);
	}
	uint64_t dropped = 0;
	if (!rc && (sp->scen == SC_BACKLOG || sp->scen == SC_BACKLOG_NO_OWED) &&
	    sends_refused(r, &dropped) == 0)
		rc = sim_vacuous(why, whylen, "the links refused no send");
	if (!rc && dropped > 0)
		rc = sim_fail(why, whylen, "bound: beb dropped %llu owed messages",
			      (unsigned long long)dropped);
	if (!rc && r->disk != D_NONE && r->disk != D_ACK_EARLY) {
		/* a run in which the disk fault never struck judges nothing: vacuous (counted, not failed;
		 * a case with too many such seeds fails, src/rt/sim/harness.h) */
		const struct sim_disk_stats *ds = sim_disk_stats(r->s);
		if (ds->writes_lost == 0)
			rc = sim_vacuous(why, whylen, "no unsynced write was lost to a crash");
		else if (r->disk == D_TORN && ds->torn_crashes == 0)
			rc = sim_vacuous(why, whylen, "no crash tore a write");
		else if (r->disk == D_FAIL && ds->sync_failures == 0)
			rc = sim_vacuous(why, whylen, "no sync failed (%llu syncs)", (unsigned long long)ds->syncs);
	}
	teardown(r);
	free(r);
	return rc;
}

/* ---- cases ---- */

#define SAFE (BCK_NODUP | BCK_NOCREATE)
#define RB (SAFE | BCK_VALIDITY | BCK_AGREEMENT)

static const struct spec sp_beb = { "beb", SAFE | BCK_VALIDITY, SC_RANDOM, false, false };
static const struct spec sp_lrb = { "lrb", RB, SC_RANDOM, false, false };
static const struct spec sp_erb = { "erb", RB, SC_RANDOM, false, false };
static const struct spec sp_beb_backlog = { "beb", SAFE | BCK_VALIDITY, SC_BACKLOG, false, false };
static const struct spec sp_erb_backlog = { "erb", RB, SC_BACKLOG, false, false };
static const struct spec sp_urb_backlog = { "urb", RB | BCK_UNIFORM, SC_BACKLOG, false, false };
static const struct spec sp_beb_backlog_no_owed = { "beb", SAFE | BCK_VALIDITY,
						    SC_BACKLOG_NO_OWED, false, false };
static const struct spec sp_urb_allack = { "urb_allack", RB | BCK_UNIFORM, SC_RANDOM, false, false };
static const struct spec sp_urb = { "urb", RB | BCK_UNIFORM, SC_RANDOM, false, false };
static const struct spec sp_sbeb = { "sbeb", BCK_NOCREATE | BCK_VALIDITY, SC_RANDOM, false, false };
static const struct spec sp_lbeb = { "lbeb", SAFE | BCK_VALIDITY, SC_RANDOM, false, false };
static const struct spec sp_lurb = { "lurb", RB | BCK_UNIFORM, SC_RANDOM, false, false };
static const struct spec sp_epb = { "epb", SAFE, SC_RANDOM, false, false };
static const struct spec sp_lpb = { "lpb", SAFE | BCK_MONOTONE, SC_RANDOM, false, false };
static const struct spec sp_fifo = { "fifo", RB | BCK_FIFO, SC_RANDOM, false, false };
static const struct spec sp_ncb = { "ncb", RB | BCK_FIFO | BCK_CAUSAL, SC_RANDOM, false, false };
static const struct spec sp_wcb = { "wcb", RB | BCK_FIFO | BCK_CAUSAL, SC_RANDOM, false, false };
/* The fifo algorithm under the causal checker: passes (see docs/broadcast.md). */
static const struct spec sp_fifo_causal = { "fifo", RB | BCK_CAUSAL, SC_RANDOM, false, false };
/* Uniform agreement kept under the isolated-sender crash. */
static const struct spec sp_urb_iso = { "urb", RB | BCK_UNIFORM, SC_ISOLATED_CRASH, false, false };
static const struct spec sp_allack_iso = { "urb_allack", RB | BCK_UNIFORM, SC_ISOLATED_CRASH,
					   false, false };
/* Broken variants. */
static const struct spec sp_beb_uniform = { "beb", SAFE | BCK_UNIFORM, SC_ISOLATED_CRASH, false, false };
static const struct spec sp_erb_uniform = { "erb", RB | BCK_UNIFORM, SC_ISOLATED_CRASH, false, false };
static const struct spec sp_beb_agree = { "beb", SAFE | BCK_AGREEMENT, SC_MIDCRASH, false, false };
static const struct spec sp_lpb_causal = { "lpb", SAFE | BCK_CAUSAL, SC_RANDOM, false, false };
/* erb over a beb that loses messages: agreement (and validity) must break. */
static const struct spec sp_erb_lossy_beb = { "erb", RB, SC_RANDOM, false, true };
/* lbeb over an sbeb that loses messages: validity must break. */
static const struct spec sp_lbeb_lossy_sbeb = { "lbeb", SAFE | BCK_VALIDITY, SC_RANDOM, false,
						true };
/* Coverage (probabilistic validity). */
static const struct spec sp_epb_cov = { "epb", SAFE, SC_RANDOM, true, false };
static const struct spec sp_lpb_cov = { "lpb", SAFE | BCK_MONOTONE, SC_RANDOM, true, false };


#define CASE(fn, spec)                                                                    \
	static int fn(uint64_t seed, bool trace, char *why, size_t whylen)                \
	{                                                                                 \
		return run_spec(&spec, seed, trace, why, whylen, NULL, NULL);             \
	}

CASE(run_beb, sp_beb)
CASE(run_lrb, sp_lrb)
CASE(run_erb, sp_erb)
CASE(run_beb_backlog, sp_beb_backlog)
CASE(run_erb_backlog, sp_erb_backlog)
CASE(run_urb_backlog, sp_urb_backlog)
CASE(run_beb_backlog_no_owed, sp_beb_backlog_no_owed)
CASE(run_urb_allack, sp_urb_allack)
CASE(run_urb, sp_urb)
CASE(run_sbeb, sp_sbeb)
CASE(run_lbeb, sp_lbeb)
CASE(run_lurb, sp_lurb)
CASE(run_epb, sp_epb)
CASE(run_lpb, sp_lpb)
CASE(run_fifo, sp_fifo)
CASE(run_ncb, sp_ncb)
CASE(run_wcb, sp_wcb)
CASE(run_fifo_causal, sp_fifo_causal)
CASE(run_urb_iso, sp_urb_iso)
CASE(run_allack_iso, sp_allack_iso)
CASE(run_beb_uniform, sp_beb_uniform)
CASE(run_erb_uniform, sp_erb_uniform)
CASE(run_beb_agree, sp_beb_agree)
CASE(run_lpb_causal, sp_lpb_causal)
CASE(run_erb_lossy_beb, sp_erb_lossy_beb)
CASE(run_lbeb_lossy_sbeb, sp_lbeb_lossy_sbeb)
/* Storage faults (and the broken runtime that acknowledges before its sync). */
#define DISK_CASE(fn, spec, disk)                                                         \
	static int fn(uint64_t seed, bool trace, char *why, size_t whylen)                \
	{                                                                                 \
		return run_spec_disk(&spec, disk, seed, trace, why, whylen, NULL, NULL);  \
	}
DISK_CASE(run_lurb_lost, sp_lurb, D_LOST)
DISK_CASE(run_lurb_fail, sp_lurb, D_FAIL)
DISK_CASE(run_lurb_torn, sp_lurb, D_TORN)
DISK_CASE(run_lurb_early, sp_lurb, D_ACK_EARLY)
DISK_CASE(run_lbeb_torn, sp_lbeb, D_TORN_SENDER)

/* Probabilistic validity: over 20 inner runs per seed (2% loss, no partitions or crashes),
 * the correct processes deliver at least 95% of the correct senders' messages. */
static int coverage(const struct spec *sp, uint64_t seed, bool trace, char *why, size_t whylen)
{
	uint64_t expected = 0, delivered = 0;
	for (uint64_t i = 0; i < 20; i++) {
		int rc = run_spec(sp, seed * 1000 + i, trace, why, whylen, &expected, &delivered);
		if (rc)
			return rc;
	}
	if (trace)
		fprintf(stderr, "%s coverage %llu / %llu\n", sp->algo, (unsigned long long)delivered,
			(unsigned long long)expected);
	if (expected && delivered * 100 < expected * 95)
		return sim_fail(why, whylen, "%s delivered %llu of %llu (< 95%%)", sp->algo,
				(unsigned long long)delivered, (unsigned long long)expected);
	return 0;
}

static int run_epb_cov(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return coverage(&sp_epb_cov, seed, trace, why, whylen);
}

static int run_lpb_cov(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return coverage(&sp_lpb_cov, seed, trace, why, whylen);
}

/* The checker itself on a hand-made FIFO-but-not-causal trace: 1 broadcasts a, 2 delivers a
 * and broadcasts b, 3 delivers b before a. FIFO holds (each sender's order is kept), causal
 * order does not. */
static int run_checker_fifo_not_causal(uint64_t seed, bool trace, char *why, size_t whylen)
{
	(void)seed;
	(void)trace;
	const uint8_t a[] = "a", b[] = "b";
	struct bck *f = bck_new(3, SAFE | BCK_FIFO);
	struct bck *c = bck_new(3, SAFE | BCK_FIFO | BCK_CAUSAL);
	struct bck *ks[2] = { f, c };
	for (int i = 0; i < 2; i++) {
		bck_on_bcast(ks[i], 1, 1, a, 1);
		bck_on_deliver(ks[i], 1, 1, 1, a, 1);
		bck_on_deliver(ks[i], 2, 1, 1, a, 1);
		bck_on_bcast(ks[i], 2, 1, b, 1);
		bck_on_deliver(ks[i], 3, 2, 1, b, 1);
		bck_on_deliver(ks[i], 3, 1, 1, a, 1);
	}
	int rc = 0;
	if (bck_violation(f))
		rc = sim_fail(why, whylen, "FIFO checker flagged a FIFO run: %s", bck_violation(f));
	else if (bck_violation(c))
		rc = sim_fail(why, whylen, "%s", bck_violation(c));
	bck_free(f);
	bck_free(c);
	return rc;
}


/* ---- Reordering: hand the ordered algorithms their messages out of order ----
 *
 * Over FIFO perfect links, eager relaying already receives messages in causal order (every
 * link carries a message's relay before anything its relayer broadcast later), so the random
 * runs above never exercise the ordering code of fifo, ncb and wcb. Here a test module injects
 * perfect-link deliveries straight into node 1's module, in a random order with duplicates:
 * the messages of a virtual causal history among nodes 2 and 3 (who are crashed, so node 1's
 * relays go nowhere), encoded in each algorithm's wire format. The checker sees the virtual
 * history (broadcasts and deliveries at 2 and 3) first, then node 1's deliveries. */

#define INJECT_WIRE 251
#define VMSG 12

struct inject {
	struct strata_module m;
};

static void inject_handle(struct strata_module *m, const struct strata_event *ev)
{
	(void)m;
	(void)ev;
}

/* value = the wire bytes, r = the claimed link-level sender, w = the target module's wire id,
 * value2 (8 bytes, optional) = the frame's instance (a lower broadcast's instance for an upper
 * module). */
static int inject_request(struct strata_module *m, const struct strata_request *req)
{
	struct strata_module *t = strata_node_module_by_wire(m->node, (uint16_t)req->w);
	struct strata_msg *msg = strata_msg_new(req->value, req->value_len);
	STRATA_ASSERT(t && msg);
	uint64_t instance = 0;
	if (req->value2_len == 8)
		memcpy(&instance, req->value2, 8);
	/* key, if given, names the link the delivery claims to come from. */
	uint16_t type = STRATA_EV_PL_DELIVER;
	if (req->key_len == 1 && req->key[0] == 'f')
		type = STRATA_EV_FLL_DELIVER;
	else if (req->key_len == 1 && req->key[0] == 's')
		type = STRATA_EV_SL_DELIVER;
	strata_raise(m->node, t, type, req->r, instance, 0, msg);
	strata_msg_unref(msg);
	strata_node_reply(m->node, m, req->id, 0, 0, NULL, 0, NULL);
	return 0;
}

static void inject_destroy(struct strata_module *m)
{
	free(m);
}

static const struct strata_module_ops inject_ops = {
	.name = "inject", .handle = inject_handle, .request = inject_request,
	.destroy = inject_destroy,
};

struct vmsg {
	uint32_t origin;
	uint64_t seq;
	char payload[24];
	uint64_t w[4];          /* wcb: vector timestamp (W[origin] = seq - 1) */
	int past[VMSG];         /* ncb: indexes of the causal past, in delivery order */
	int npast;
};

struct vhist {
	struct vmsg m[VMSG];
	int nm;
};

/* Builds a causal history among virtual nodes 2 and 3 and records it in the checker. */
static void vhist_build(struct vhist *h, struct sim *s, struct bck *ck)
{
	int dl[4][VMSG];   /* delivery order per virtual node */
	int ndl[4] = { 0 };
	uint64_t v[4][4] = { { 0 } };
	uint64_t lsn[4] = { 0 };
	memset(h, 0, sizeof(*h));
	while (h->nm < VMSG) {
		uint32_t p = 2 + (uint32_t)sim_random_below(s, 2), o = p == 2 ? 3 : 2;
		/* The other's next message p has not delivered yet (causal = FIFO here, since each
		 * virtual node delivers its peer's messages in order after its own past). */
		int next = -1;
		for (int i = 0; i < h->nm; i++)
			if (h->m[i].origin == o && h->m[i].seq == v[p][o] + 1)
				next = i;
		if (next >= 0 && sim_random_below(s, 2)) {
			struct vmsg *m = &h->m[next];
			bool ready = true;
			for (uint32_t k = 2; k <= 3; k++)
				if (k != o && m->w[k] > v[p][k])
					ready = false;
			if (!ready)
				continue;
			v[p][o]++;
			dl[p][ndl[p]++] = next;
			bck_on_deliver(ck, p, m->origin, m->seq, (const uint8_t *)m->payload,
				       strlen(m->payload));
			continue;
		}
		struct vmsg *m = &h->m[h->nm];
		m->origin = p;
		m->seq = ++lsn[p];
		snprintf(m->payload, sizeof(m->payload), "v%u-%llu", p, (unsigned long long)m->seq);
		for (uint32_t k = 1; k <= 3; k++)
			m->w[k] = v[p][k];
		m->w[p] = m->seq - 1;
		/* ncb past: everything p delivered or broadcast before, in order. */
		for (int i = 0; i < ndl[p]; i++)
			m->past[m->npast++] = dl[p][i];
		dl[p][ndl[p]++] = h->nm;
		v[p][p] = m->seq;
		bck_on_bcast(ck, p, m->seq, (const uint8_t *)m->payload, strlen(m->payload));
		bck_on_deliver(ck, p, p, m->seq, (const uint8_t *)m->payload, strlen(m->payload));
		h->nm++;
	}
}

/* Algorithms stacked on erb (which stands on beb): their messages reach node 1 inside an erb
 * DATA inside a beb DATA, under beb's wire id and the instance erb uses for them. */
static bool on_rb(const char *algo)
{
	return !strcmp(algo, "fifo") || !strcmp(algo, "wcb") || !strcmp(algo, "ncb");
}

static struct strata_msg *wrap_data(const struct bc_hdr *h, const struct strata_msg *inner)
{
	struct strata_msg *m = bc_encode_data(h, inner->data, inner->len);
	STRATA_ASSERT(m);
	return m;
}

/* [beb DATA origin, beb_seq [erb DATA origin, seq [inner]]] */
static struct strata_msg *wrap_rb(const struct strata_msg *inner, uint32_t origin, uint64_t seq,
				  uint64_t beb_seq)
{
	struct bc_hdr rh = { BC_DATA, origin, 1, seq }, bh = { BC_DATA, origin, 1, beb_seq };
	struct strata_msg *rb = wrap_data(&rh, inner);
	struct strata_msg *beb = wrap_data(&bh, rb);
	strata_msg_unref(rb);
	return beb;
}

static struct strata_msg *vencode(const struct vhist *h, int i, const char *algo, uint32_t n)
{
	const struct vmsg *m = &h->m[i];
	struct strata_wr w;
	strata_wr_init(&w, 4096);
	if (on_rb(algo)) {
		/* fifo: [sn][m] inside rb; wcb: [W[1..n]][m]; ncb: [past][m] */
		if (!strcmp(algo, "wcb")) {
			for (uint32_t k = 1; k <= n; k++)
				strata_wr_u64(&w, k <= 3 ? m->w[k] : 0);
		} else if (!strcmp(algo, "ncb")) {
			strata_wr_u64(&w, (uint64_t)m->npast);
			for (int j = 0; j < m->npast; j++) {
				const struct vmsg *e = &h->m[m->past[j]];
				strata_wr_u64(&w, e->origin);
				strata_wr_u64(&w, 1);
				strata_wr_u64(&w, e->seq);
				strata_wr_bytes(&w, e->payload, strlen(e->payload));
			}
		} else {
			strata_wr_u64(&w, m->seq);
		}
		strata_wr_bytes(&w, m->payload, strlen(m->payload));
		int err = 0;
		struct strata_msg *inner = strata_wr_take_msg(&w, &err);
		STRATA_ASSERT(inner);
		return inner;
	}
	struct bc_hdr hd = { BC_DATA, m->origin, 1, m->seq };
	bc_wr_hdr(&w, &hd);
	if (!strcmp(algo, "wcb")) {
		for (uint32_t k = 1; k <= n; k++)
			strata_wr_u64(&w, k <= 3 ? m->w[k] : 0);
	} else if (!strcmp(algo, "ncb")) {
		strata_wr_u64(&w, (uint64_t)m->npast);
		for (int j = 0; j < m->npast; j++) {
			const struct vmsg *e = &h->m[m->past[j]];
			struct bc_hdr eh = { BC_DATA, e->origin, 1, e->seq };
			strata_wr_u64(&w, eh.origin);
			strata_wr_u64(&w, eh.inc);
			strata_wr_u64(&w, eh.seq);
			strata_wr_bytes(&w, e->payload, strlen(e->payload));
		}
	}
	strata_wr_bytes(&w, m->payload, strlen(m->payload));
	int err = 0;
	struct strata_msg *msg = strata_wr_take_msg(&w, &err);
	STRATA_ASSERT(msg);
	return msg;
}

static void build_inject(struct sim *s, struct strata_node *n, void *arg)
{
	struct inject *in = calloc(1, sizeof(*in));
	STRATA_ASSERT(in);
	strata_node_add_module(n, &in->m, &inject_ops, INJECT_WIRE);
	build(s, n, arg);
}

static int run_reorder(const char *algo, bool causal, uint64_t seed, bool trace, char *why,
		       size_t whylen)
{
	struct run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	unsigned props = BCK_NODUP | BCK_NOCREATE | BCK_FIFO | BCK_VALIDITY;
	if (causal)
		props |= BCK_CAUSAL;
	r->algo = strata_algo_find(algo);
	r->fail_stop = r->algo->model == STRATA_MODEL_FAIL_STOP;
	strata_config_defaults(&r->cfg);
	snprintf(r->cfg.cluster_id, sizeof(r->cfg.cluster_id), "sim-bcast-reorder");
	r->n = r->cfg.n = 3;
	r->cfg.f = 2;
	r->cfg.model = r->algo->model;
	sim_config_loopback(&r->cfg, r->n, 7200);
	r->ck = bck_new(r->n, props);
	struct sim_opts so = {
		.seed = seed, .cfg = &r->cfg, .build = build_inject, .output = on_output, .arg = r,
		.trace = trace,
	};
	r->s = sim_new(&so);
	sim_start(r->s);
	sim_run_for(r->s, 1 * MS, NULL, NULL);
	sim_crash(r->s, 2);
	sim_crash(r->s, 3);
	struct vhist h;
	vhist_build(&h, r->s, r->ck);
	/* A random order with some duplicates. */
	int order[2 * VMSG], no = 0;
	for (int i = 0; i < h.nm; i++)
		order[no++] = i;
	for (int i = 0; i < h.nm / 3; i++)
		order[no++] = (int)sim_random_below(r->s, (uint64_t)h.nm);
	for (int i = no - 1; i > 0; i--) {
		int j = (int)sim_random_below(r->s, (uint64_t)i + 1), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	int rc = 0;
	uint64_t beb_seq[MAXN + 1] = { 0 };
	uint64_t inst =
		BCAST_INST(strata_wire_id("erb"), bc_lower_sub(BCAST_INST(r->algo->wire_id, 0)));
	for (int i = 0; i < no && !rc; i++) {
		struct strata_msg *msg = vencode(&h, order[i], algo, r->n);
		const struct vmsg *vm = &h.m[order[i]];
		struct strata_request req = { .id = ++r->reqid, .op = STRATA_OP_BROADCAST,
					      .r = vm->origin, .w = r->algo->wire_id };
		if (on_rb(algo)) {
			struct strata_msg *outer =
				wrap_rb(msg, vm->origin, vm->seq, ++beb_seq[vm->origin]);
			strata_msg_unref(msg);
			msg = outer;
			req.w = strata_wire_id("beb");
			req.value2 = (const uint8_t *)&inst;
			req.value2_len = sizeof(inst);
		}
		req.value = msg->data;
		req.value_len = msg->len;
		sim_request(r->s, 1, "inject", &req);
		strata_msg_unref(msg);
		rc = sim_run_for(r->s, 1 * MS, step_check, r);
	}
	if (rc) {
		rc = result(r, rc, why, whylen);
	} else {
		bool correct[MAXN + 1] = { false, true, false, false };
		bool sender_ok[MAXN + 1] = { false, true, true, true };
		rc = bck_final(r->ck, correct, sender_ok, why, whylen);
	}
	teardown(r);
	free(r);
	return rc;
}

static int run_reorder_fifo(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return run_reorder("fifo", false, seed, trace, why, whylen);
}

static int run_reorder_wcb(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return run_reorder("wcb", true, seed, trace, why, whylen);
}

static int run_reorder_ncb(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return run_reorder("ncb", true, seed, trace, why, whylen);
}

/* The fifo algorithm under the causal checker, fed out of order: FIFO but not causal. */
static int run_reorder_fifo_causal(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return run_reorder("fifo", true, seed, trace, why, whylen);
}

/* Malformed payloads: every algorithm gets random bytes and truncated valid messages over
 * every link type; none may crash or assert, and the garbage must be counted as rejected. */
static int run_malformed(uint64_t seed, bool trace, char *why, size_t whylen)
{
	int rc = 0;
	for (const struct strata_algo *a = strata_bcast_algos(); a->name && !rc; a++) {
		if (strcmp(a->family, "bcast") || a->model == STRATA_MODEL_FAIL_ARBITRARY)
			continue;
		struct run *r = calloc(1, sizeof(*r));
		STRATA_ASSERT(r);
		r->algo = a;
		r->fail_stop = a->model == STRATA_MODEL_FAIL_STOP;
		strata_config_defaults(&r->cfg);
		snprintf(r->cfg.cluster_id, sizeof(r->cfg.cluster_id), "sim-bcast-garbage");
		r->n = r->cfg.n = 3;
		r->cfg.f = 1;
		r->cfg.model = a->model;
		sim_config_loopback(&r->cfg, r->n, 7300);
		r->ck = bck_new(r->n, 0);
		struct sim_opts so = { .seed = seed, .cfg = &r->cfg, .build = build_inject,
				       .output = on_output, .arg = r, .trace = trace };
		r->s = sim_new(&so);
		sim_start(r->s);
		sim_run_for(r->s, 1 * MS, NULL, NULL);
		/* A valid message to truncate: node 2 broadcasts, node 1 records nothing. */
		uint8_t valid[64];
		struct bc_hdr h = { BC_DATA, 2, 1, 1 };
		struct strata_wr w;
		strata_wr_init(&w, sizeof(valid));
		bc_wr_hdr(&w, &h);
		for (uint32_t k = 0; k < 3; k++)
			strata_wr_u64(&w, 0);
		strata_wr_bytes(&w, "payload", 7);
		size_t vlen = w.len;
		memcpy(valid, w.buf, vlen);
		strata_wr_free(&w);
		static const char kinds[] = "pfs";
		for (int i = 0; i < 60; i++) {
			uint8_t buf[64];
			size_t len;
			if (i % 2) {
				len = (size_t)sim_random_below(r->s, vlen);
				memcpy(buf, valid, len);
			} else {
				len = (size_t)sim_random_below(r->s, sizeof(buf));
				for (size_t k = 0; k < len; k++)
					buf[k] = (uint8_t)sim_random(r->s);
				if (len)
					buf[0] = (uint8_t)(1 + sim_random_below(r->s, 5));
			}
			struct strata_request req = {
				.id = ++r->reqid, .op = STRATA_OP_BROADCAST, .value = buf,
				.value_len = len, .key = (const uint8_t *)&kinds[i % 3], .key_len = 1,
				.r = 2 + (uint32_t)sim_random_below(r->s, 2), .w = a->wire_id,
			};
			sim_request(r->s, 1, "inject", &req);
			sim_run_for(r->s, 1 * MS, NULL, NULL);
			/* An algorithm stacked on beb (sbeb) receives its messages inside beb's
			 * (sbeb's), under that wire id and the algorithm's instance: garbage there
			 * too. */
			bool fr = a->model == STRATA_MODEL_FAIL_RECOVERY;
			uint16_t lower = strata_wire_id(fr ? "sbeb" : "beb");
			if (strata_node_module_by_wire(sim_node(r->s, 1), lower) &&
			    a->wire_id != lower) {
				uint64_t inst = BCAST_INST(a->wire_id, 0);
				req.id = ++r->reqid;
				req.w = lower;
				req.value2 = (const uint8_t *)&inst;
				req.value2_len = sizeof(inst);
				sim_request(r->s, 1, "inject", &req);
				sim_run_for(r->s, 1 * MS, NULL, NULL);
			}
		}
		struct strata_node *n1 = sim_node(r->s, 1);
		if (strata_node_counters(n1)->rej_payload == 0)
			rc = sim_fail(why, whylen, "%s: 60 malformed payloads, none rejected", a->name);
		teardown(r);
		free(r);
	}
	return rc;
}

/* ---- two upper modules and clients sharing one beb ----
 * Two test modules (wire ids STK_WIRE and STK_WIRE + 1) each stack on their own beb instance
 * while clients use beb's instance 0. Nodes create the modules in different orders (odd nodes:
 * the uppers first, which creates beb lazily; even nodes: beb first, uppers in reverse order),
 * so instance addressing must not depend on creation order. Under loss, duplication and
 * reordering (no crashes: beb's validity needs correct senders), every upper must deliver
 * exactly the messages broadcast on its own instance, each once, and clients exactly theirs. */

#define STK_WIRE 241
#define STK_MSGS 6

struct stk {
	struct strata_module m;
	struct bcast_lower beb;
	unsigned got[MAXN + 1][STK_MSGS + 1]; /* deliveries per (origin, index) */
	bool wrong;                           /* delivered another instance's message */
	char tag;
};

static void stk_handle(struct strata_module *m, const struct strata_event *ev)
{
	struct stk *t = (struct stk *)m;
	if (!bcast_is_deliver(&t->beb, ev))
		return;
	const struct strata_deliver *d = ev->body;
	unsigned idx = 0;
	if (d->len != 3 || d->data[0] != (uint8_t)t->tag || d->origin > MAXN ||
	    (idx = (unsigned)(d->data[2] - '0')) > STK_MSGS || d->data[1] != (char)('0' + d->origin)) {
		t->wrong = true;
		return;
	}
	t->got[d->origin][idx]++;
}

static int stk_request(struct strata_module *m, const struct strata_request *req)
{
	struct stk *t = (struct stk *)m;
	int rc = bcast_broadcast(&t->beb, req->value, req->value_len);
	strata_node_reply(m->node, m, req->id, rc, 0, NULL, 0, NULL);
	return 0;
}

static void stk_destroy(struct strata_module *m)
{
	free(m);
}

static const struct strata_module_ops stk_ops[2] = {
	{ .name = "stk_a", .handle = stk_handle, .request = stk_request, .destroy = stk_destroy },
	{ .name = "stk_b", .handle = stk_handle, .request = stk_request, .destroy = stk_destroy },
};

struct stk_run {
	struct sim *s;
	unsigned client_got[MAXN + 1][MAXN + 1][STK_MSGS + 1];
	bool client_wrong;
};

static void stk_add(struct strata_node *n, int k)
{
	struct stk *t = calloc(1, sizeof(*t));
	STRATA_ASSERT(t);
	t->tag = k ? 'b' : 'a';
	strata_node_add_module(n, &t->m, &stk_ops[k], (uint16_t)(STK_WIRE + k));
	char err[256];
	if (bcast_open(n, "beb", &t->m, 0, &t->beb, err, sizeof(err)) != 0) {
		fprintf(stderr, "stk: %s\n", err);
		abort();
	}
}

static void stk_build(struct sim *s, struct strata_node *n, void *arg)
{
	(void)s;
	(void)arg;
	char err[256];
	if (strata_node_id(n) % 2) {
		stk_add(n, 0);
		stk_add(n, 1);
	} else {
		if (!bc_beb_create(n, err, sizeof(err)))
			abort();
		stk_add(n, 1);
		stk_add(n, 0);
	}
}

static void stk_output(struct sim *s, uint32_t node, const struct strata_output *o, void *arg)
{
	struct stk_run *r = arg;
	(void)s;
	if (o->kind != STRATA_OUT_DELIVER || o->module != strata_wire_id("beb"))
		return;
	if (o->len != 3 || o->data[0] != 'c' || o->peer > MAXN || o->data[2] < '0' ||
	    (unsigned)(o->data[2] - '0') > STK_MSGS) {
		r->client_wrong = true;
		return;
	}
	r->client_got[node][o->peer][o->data[2] - '0']++;
}

static int run_beb_two_uppers(uint64_t seed, bool trace, char *why, size_t whylen)
{
	struct stk_run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	struct strata_config cfg;
	strata_config_defaults(&cfg);
	snprintf(cfg.cluster_id, sizeof(cfg.cluster_id), "sim-bcast-stack");
	uint32_t n = cfg.n = 3 + (uint32_t)(seed % 3);
	cfg.f = (n - 1) / 2;
	cfg.model = STRATA_MODEL_FAIL_SILENT;
	cfg.retransmit_min_ms = 10;
	cfg.retransmit_max_ms = 100;
	sim_config_loopback(&cfg, n, 7400);
	struct sim_opts so = { .seed = seed, .cfg = &cfg, .build = stk_build,
			       .output = stk_output, .arg = r, .trace = trace };
	r->s = sim_new(&so);
	struct sim_net net = { .drop = 0.2, .dup = 0.05, .delay_min_us = 200,
			       .delay_max_us = 4 * MS, .tail = 0.05, .tail_us = 30 * MS };
	sim_set_net(r->s, &net);
	sim_start(r->s);
	sim_run_for(r->s, 1 * MS, NULL, NULL);
	static const char *const mods[3] = { "stk_a", "stk_b", "beb" };
	static const char tags[3] = { 'a', 'b', 'c' };
	uint64_t id = 0;
	for (unsigned i = 1; i <= STK_MSGS; i++)
		for (uint32_t q = 1; q <= n; q++) {
			unsigned k = (unsigned)sim_random_below(r->s, 3);
			for (unsigned j = 0; j < 3; j++) {
				unsigned w = (k + j) % 3;
				char p[3] = { tags[w], (char)('0' + q), (char)('0' + i) };
				struct strata_request req = { .id = ++id, .op = STRATA_OP_BROADCAST,
							      .value = (const uint8_t *)p,
							      .value_len = 3 };
				sim_request(r->s, q, mods[w], &req);
			}
			sim_run_for(r->s, sim_random_below(r->s, 3 * MS), NULL, NULL);
		}
	struct sim_net calm = { .drop = 0.02, .delay_min_us = 200, .delay_max_us = 2 * MS };
	sim_set_net(r->s, &calm);
	sim_run_for(r->s, 3000 * MS, NULL, NULL);
	int rc = 0;
	for (uint32_t q = 1; q <= n && !rc; q++) {
		for (int k = 0; k < 2 && !rc; k++) {
			struct stk *t =
				(struct stk *)strata_node_module_by_wire(sim_node(r->s, q), (uint16_t)(STK_WIRE + k));
			if (t->wrong)
				rc = sim_fail(why, whylen, "node %u: %s got another instance's message", q,
					      mods[k]);
			for (uint32_t o = 1; o <= n && !rc; o++)
				for (unsigned i = 1; i <= STK_MSGS && !rc; i++)
					if (t->got[o][i] != 1)
						rc = sim_fail(why, whylen,
							      "node %u: %s delivered %u/%u %u times (want 1)", q,
							      mods[k], o, i, t->got[o][i]);
		}
		for (uint32_t o = 1; o <= n && !rc; o++)
			for (unsigned i = 1; i <= STK_MSGS && !rc; i++)
				if (r->client_got[q][o][i] != 1)
					rc = sim_fail(why, whylen,
						      "node %u: clients got beb %u/%u %u times (want 1)", q, o,
						      i, r->client_got[q][o][i]);
	}
	if (!rc && r->client_wrong)
		rc = sim_fail(why, whylen, "clients got an upper instance's message");
	sim_free(r->s);
	free(r);
	return rc;
}

static const struct sim_case cases[] = {
	{ "beb", run_beb, 500, false },
	{ "beb_two_uppers", run_beb_two_uppers, 200, false },
	{ "lrb", run_lrb, 500, false },
	{ "erb", run_erb, 500, false },
	{ "urb_allack", run_urb_allack, 500, false },
	{ "urb", run_urb, 500, false },
	{ "sbeb", run_sbeb, 500, false },
	{ "lbeb", run_lbeb, 500, false },
	{ "lurb", run_lurb, 500, false },
	{ "lurb-disk-lost", run_lurb_lost, 200, false },
	{ "lurb-disk-fail", run_lurb_fail, 200, false },
	{ "lurb-disk-torn", run_lurb_torn, 200, false },
	{ "lbeb-disk-torn", run_lbeb_torn, 200, false },
	{ "lurb-ack-before-sync", run_lurb_early, 200, true },
	{ "epb", run_epb, 500, false },
	{ "lpb", run_lpb, 500, false },
	{ "fifo", run_fifo, 500, false },
	{ "ncb", run_ncb, 500, false },
	{ "wcb", run_wcb, 500, false },
	{ "fifo_causal", run_fifo_causal, 200, false },
	{ "urb_isolated_sender", run_urb_iso, 100, false },
	{ "urb_allack_isolated_sender", run_allack_iso, 100, false },
	{ "epb_coverage", run_epb_cov, 3, false },
	{ "lpb_coverage", run_lpb_cov, 3, false },
	{ "broken_beb_uniform", run_beb_uniform, 50, true },
	{ "broken_erb_uniform", run_erb_uniform, 50, true },
	{ "broken_beb_agreement", run_beb_agree, 200, true },
	{ "broken_lpb_causal", run_lpb_causal, 200, true },
	{ "broken_erb_over_lossy_beb", run_erb_lossy_beb, 200, true },
	{ "broken_lbeb_over_lossy_sbeb", run_lbeb_lossy_sbeb, 200, true },
	{ "beb-backlog", run_beb_backlog, 200, false },
	{ "erb-backlog", run_erb_backlog, 200, false },
	{ "urb-backlog", run_urb_backlog, 200, false },
	{ "broken_beb_backlog_no_owed", run_beb_backlog_no_owed, 50, true },
	{ "reorder_fifo", run_reorder_fifo, 500, false },
	{ "malformed_payloads", run_malformed, 20, false },
	{ "reorder_wcb", run_reorder_wcb, 500, false },
	{ "reorder_ncb", run_reorder_ncb, 500, false },
	{ "broken_fifo_causal", run_reorder_fifo_causal, 200, true },
	{ "broken_checker_fifo_not_causal", run_checker_fifo_not_causal, 1, true },
};

int main(int argc, char **argv)
{
	return sim_main(argc, argv, "sim_bcast", cases, STRATA_ARRAY_LEN(cases));
}
