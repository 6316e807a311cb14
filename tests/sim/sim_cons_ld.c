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
#include "lib/ld_harness.h"
#include "rt/sim/harness.h"
#include "rt/sim/sim.h"

#define MS LDH_MS
#define LIVENESS_MS 5000ull

enum scen { SC_RANDOM = 0, SC_SPLIT };

struct spec {
	enum scen scen;
	bool low_quorum;
};

struct run {
	struct ldh h; /* the cluster, the simulation, the checker, the client requests */
	const struct spec *sp;
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
		cons_ldc_test_quorum(m, r->h.n / 2);
}

static void on_output(struct sim *s, uint32_t node, const struct strata_output *o, void *arg)
{
	(void)s;
	ldh_output(&((struct run *)arg)->h, node, o);
}

/* {1, 2} | {3, ..., N} for 1.5 s: each side proposes its own value on instance 1. */
static int phase_split(struct ldh *h)
{
	struct sim *s = h->s;
	int rc = sim_run_for(s, 100 * MS, ldh_step_check, h);
	if (rc)
		return rc;
	uint64_t a = (1ull << 1) | (1ull << 2);
	sim_partition(s, a, ((1ull << (h->n + 1)) - 2) & ~a);
	rc = sim_run_for(s, 300 * MS, ldh_step_check, h); /* both sides elect their leader */
	for (uint32_t q = 1; q <= h->n && !rc; q++)
		ldh_propose(h, q, 1, q <= 2 ? "a" : "b");
	if (!rc)
		rc = sim_run_for(s, 1500 * MS, ldh_step_check, h);
	return rc;
}

static int run_spec(const struct spec *sp, uint64_t seed, bool trace, char *why, size_t whylen)
{
	struct run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	struct ldh *h = &r->h;
	r->sp = sp;
	uint32_t n = sp->scen == SC_SPLIT ? (seed % 2 ? 5 : 4) : seed % 4 == 3 ? 3 : 5;
	bool quiet = sp->scen == SC_SPLIT; /* a fixed small loss and no tail */
	const struct ldh_opts o = {
		.algo = "ldc", .cluster_id = "sim-cons-ld", .model = STRATA_MODEL_FAIL_NOISY,
		.port_base = 7400, .n = n, .f = (n - 1) / 2, .fd_timers = true,
		.drop = quiet ? 0.05 : 0, .tail = quiet ? 0 : 0.03, .tail_us = 300 * MS,
		.build = build, .output = on_output, .arg = r,
	};
	ldh_setup(h, &o, seed, trace);
	static const struct ldh_phase gst = {
		.chunks = 40, .chunk_us = 10 * MS, .propose_p = 0.15, .part_p = 0.1, .crash_p = 0.03,
	};
	int rc = sp->scen == SC_SPLIT ? phase_split(h) : ldh_phase_random(h, &gst);
	if (!rc)
		rc = ldh_settle(h, LIVENESS_MS);
	rc = ldh_finish(h, rc, why, whylen);
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
