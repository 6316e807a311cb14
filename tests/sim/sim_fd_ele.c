/* Simulation suite for Elect Lower Epoch (Alg. 2.9, src/fd/ele.c), the eventual leader detector
 * of the crash-recovery model.
 *
 * ele-crash-recover: N = 3, 4 or 5, Δ = 20 ms. For 1.5 s of virtual time: loss 5-25 %,
 * duplication, delays with a heavy tail, partitions that heal, and nodes that crash and recover
 * (any number at once; a crash loses the writes not yet synced). Then every node is up, the
 * network is calm (no loss, delays up to 3 ms: ele sends one heartbeat per period, so a lost
 * heartbeat moves the leader for a period), and after 6 s (enough for delay to reach its
 * bound of 64 Δ after a burst of changes) the suite samples every node's trusted leader every
 * 50 ms for 1 s: ELD1/ELD2 - every node trusts the same node, which is up (every node is correct
 * from then on) - and the algorithm's choice: that node has the lowest stored epoch (ties: the
 * lowest id), read from stable storage.
 *
 * broken-ele-trusts-itself: every node trusts itself whatever it hears; eventual agreement must
 * fail (at the first seed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"
#include "fd/fd.h"
#include "rt/sim/harness.h"
#include "rt/sim/sim.h"

#include "lib/faults.h"

#define MS 1000ull
#define MAXN 5

struct run {
	struct strata_config cfg;
	struct sim *s;
	uint32_t n;
	bool broken;
	bool down[MAXN + 1];
};

static void build(struct sim *s, struct strata_node *n, void *arg)
{
	struct run *r = arg;
	(void)s;
	char err[256];
	struct strata_module *m = strata_fd_ele_create(n, err, sizeof(err));
	if (!m) {
		fprintf(stderr, "ele: %s\n", err);
		abort();
	}
	if (r->broken)
		strata_fd_ele_test_trust_self(m);
}

static uint64_t stored_epoch(struct run *r, uint32_t q)
{
	struct strata_msg *v = NULL;
	if (sim_durable_get(r->s, q, "ele/epoch", &v) != 0)
		return 0;
	struct strata_rd rd;
	strata_rd_init(&rd, v->data, v->len);
	uint64_t e = strata_rd_u64(&rd);
	strata_msg_unref(v);
	return e;
}

static int run_case(bool broken, uint64_t seed, bool trace, char *why, size_t whylen)
{
	struct run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	r->broken = broken;
	strata_config_defaults(&r->cfg);
	snprintf(r->cfg.cluster_id, sizeof(r->cfg.cluster_id), "sim-ele");
	r->n = r->cfg.n = 3 + (uint32_t)(seed % 3);
	r->cfg.f = (r->n - 1) / 2;
	r->cfg.model = STRATA_MODEL_FAIL_RECOVERY;
	r->cfg.evp_timeout_ms = 20;
	r->cfg.retransmit_min_ms = 10;
	r->cfg.retransmit_max_ms = 100;
	sim_config_loopback(&r->cfg, r->n, 7500);
	struct sim_opts so = { .seed = seed, .cfg = &r->cfg, .build = build, .arg = r,
			       .trace = trace };
	r->s = sim_new(&so);
	struct sim *s = r->s;
	struct sim_net net = {
		.drop = 0.05 + sim_random_unit(s) * 0.2,
		.dup = sim_random_unit(s) * 0.1,
		.delay_min_us = 200,
		.delay_max_us = 200 + sim_random_below(s, 5 * MS),
		.tail = 0.05,
		.tail_us = 40 * MS,
	};
	sim_set_net(s, &net);
	sim_start(s);
	bool parted = false;
	for (int chunk = 0; chunk < 30; chunk++) { /* 1.5 s */
		uint32_t q = 1 + (uint32_t)sim_random_below(s, r->n);
		if (!r->down[q] && sim_random_unit(s) < 0.15) {
			sim_crash(s, q);
			r->down[q] = true;
		} else if (r->down[q] && sim_random_unit(s) < 0.4) {
			sim_restart(s, q);
			r->down[q] = false;
		}
		simf_partition_step(s, r->n, &parted, 0.08, false);
		sim_run_for(s, 50 * MS, NULL, NULL);
	}
	/* Stabilisation: every node up for good, calm network. */
	sim_heal(s);
	for (uint32_t q = 1; q <= r->n; q++)
		if (r->down[q]) {
			sim_restart(s, q);
			r->down[q] = false;
		}
	/* Loss-free: ele sends one heartbeat per period, so one lost heartbeat drops its sender
	 * from that period's candidates and moves the leader for a period (fair-loss links give
	 * the eventual properties only once heartbeats stop being lost). */
	struct sim_net calm = { .drop = 0.0, .delay_min_us = 200, .delay_max_us = 3 * MS };
	sim_set_net(s, &calm);
	sim_run_for(s, 6000 * MS, NULL, NULL);
	/* The lowest stored epoch, ties by id: the node every node must trust. */
	uint32_t want = 0;
	uint64_t best = 0;
	for (uint32_t q = 1; q <= r->n; q++) {
		uint64_t e = stored_epoch(r, q);
		if (e && (!want || e < best)) {
			want = q;
			best = e;
		}
	}
	int rc = 0;
	for (int k = 0; k < 20 && rc == 0; k++) {
		sim_run_for(s, 50 * MS, NULL, NULL);
		for (uint32_t q = 1; q <= r->n && rc == 0; q++) {
			uint32_t l = strata_node_leader(sim_node(s, q));
			if (l != want)
				rc = sim_fail(why, whylen,
					      "t=%llums: node %u trusts %u, but node %u has the lowest "
					      "stored epoch (%llu): eventual agreement/accuracy",
					      (unsigned long long)(sim_now(s) / MS), q, l, want,
					      (unsigned long long)best);
		}
	}
	sim_free(s);
	free(r);
	return rc;
}

static int ele_crash_recover(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return run_case(false, seed, trace, why, whylen);
}

static int ele_broken(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return run_case(true, seed, trace, why, whylen);
}

static const struct sim_case cases[] = {
	{ "ele-crash-recover", ele_crash_recover, 300, false },
	{ "broken-ele-trusts-itself", ele_broken, 20, true },
};

int main(int argc, char **argv)
{
	return sim_main(argc, argv, "sim_fd_ele", cases, sizeof(cases) / sizeof(cases[0]));
}
