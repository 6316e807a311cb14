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
 * the partition heals, and then decides the majority's value.
 *
 * Sends the links refuse (ec.c): ldc-nack-backlog (N = 5, `[links] backlog_bytes` small) splits
 * {1, 2} | {3, 4, 5}; the majority starts the epoch of 3 and decides instance 1; then 3 crashes
 * and the network heals except the links from 4 and 5 to node 1, whose backlogs toward 1 are
 * full (lib/filler.h: the node's other traffic). 4 and 5 trust 1 again and tell it with a NACK
 * that their last epoch is not its own; the links refuse both NACKs. ec owes them and sends them
 * when the links heal: 1 starts a newer epoch and everybody decides instance 2, proposed after
 * the crash. Lost instead (broken-ldc-nack-backlog-no-owed, cons_ec_test_no_owed), 1 stays in
 * the epoch that 4 and 5 refuse, 4 and 5 in that of the crashed 3, and instance 2 never decides:
 * termination must fail. A seed where no NACK was refused is vacuous. */
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
#include "lib/filler.h"
#include "lib/ld_harness.h"
#include "rt/sim/harness.h"
#include "links/links.h"
#include "rt/sim/sim.h"

#define MS LDH_MS
#define LIVENESS_MS 5000ull
#define BACKLOG 1024 /* SC_NACK_BACKLOG: [links] backlog_bytes */

enum scen { SC_RANDOM = 0, SC_SPLIT, SC_NACK_BACKLOG };

struct spec {
	enum scen scen;
	bool low_quorum;
	bool no_owed; /* ec loses the NACKs the links refuse (broken variant) */
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
	if (r->sp->scen == SC_NACK_BACKLOG)
		sim_filler_add(n);
	if (r->sp->no_owed)
		cons_ec_test_no_owed(strata_node_module_by_name(n, "ec"));
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

/* {1, 2} | {3, 4, 5}: the majority decides instance 1 in the epoch of 3; 3 crashes; everything
 * heals but the links from 4 and 5 to 1, their backlogs toward 1 full; all propose instance 2. */
static int phase_nack_backlog(struct ldh *h)
{
	struct sim *s = h->s;
	int rc = phase_split(h);
	if (rc)
		return rc;
	ldh_crash(h, 3);
	sim_heal(s);
	for (uint32_t q = 4; q <= 5; q++) {
		sim_link(s, q, 1, false);
		STRATA_ASSERT(h->reqid + 1 < LDH_MAXREQ);
		sim_filler_fill(s, q, ++h->reqid, 1);
	}
	rc = sim_run_for(s, 1 * MS, ldh_step_check, h);
	for (uint32_t q = 1; q <= h->n && !rc; q++)
		if (!h->down[q])
			ldh_propose(h, q, 2, "c");
	if (!rc)
		rc = sim_run_for(s, 500 * MS, ldh_step_check, h);
	return rc;
}

/* The NACKs the links refused at nodes 4 and 5, owed by their ec. */
static uint64_t nacks_owed(struct ldh *h)
{
	uint64_t c = 0;
	for (uint32_t q = 4; q <= h->n; q++) {
		struct strata_node *nd = sim_node(h->s, q);
		struct strata_module *m = nd ? strata_node_module_by_name(nd, "ec") : NULL;
		struct strata_pl_owed_counts oc;
		if (!m)
			continue;
		cons_ec_test_owed_counts(m, &oc);
		c += oc.refused;
	}
	return c;
}

static int run_spec(const struct spec *sp, uint64_t seed, bool trace, char *why, size_t whylen)
{
	struct run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	struct ldh *h = &r->h;
	r->sp = sp;
	uint32_t n = sp->scen == SC_NACK_BACKLOG ? 5
		     : sp->scen == SC_SPLIT	  ? (seed % 2 ? 5 : 4)
		     : seed % 4 == 3		  ? 3
						  : 5;
	bool quiet = sp->scen != SC_RANDOM; /* a fixed small loss and no tail */
	const struct ldh_opts o = {
		.algo = "ldc", .cluster_id = "sim-cons-ld", .model = STRATA_MODEL_FAIL_NOISY,
		.port_base = 7400, .n = n, .f = (n - 1) / 2, .fd_timers = true,
		.drop = quiet ? 0.05 : 0, .tail = quiet ? 0 : 0.03, .tail_us = 300 * MS,
		.backlog_bytes = sp->scen == SC_NACK_BACKLOG ? BACKLOG : 0,
		.build = build, .output = on_output, .arg = r,
	};
	ldh_setup(h, &o, seed, trace);
	static const struct ldh_phase gst = {
		.chunks = 40, .chunk_us = 10 * MS, .propose_p = 0.15, .part_p = 0.1, .crash_p = 0.03,
	};
	int rc = sp->scen == SC_SPLIT	       ? phase_split(h)
		 : sp->scen == SC_NACK_BACKLOG ? phase_nack_backlog(h)
					       : ldh_phase_random(h, &gst);
	if (!rc)
		rc = ldh_settle(h, LIVENESS_MS);
	uint64_t owed = sp->scen == SC_NACK_BACKLOG ? nacks_owed(h) : 0;
	rc = ldh_finish(h, rc, why, whylen);
	if (!rc && sp->scen == SC_NACK_BACKLOG && owed == 0)
		rc = sim_vacuous(why, whylen, "the links refused no NACK");
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

static int ldc_nack_backlog(uint64_t seed, bool trace, char *why, size_t whylen)
{
	static const struct spec sp = { .scen = SC_NACK_BACKLOG };
	return run_spec(&sp, seed, trace, why, whylen);
}

static int ldc_nack_backlog_no_owed(uint64_t seed, bool trace, char *why, size_t whylen)
{
	static const struct spec sp = { .scen = SC_NACK_BACKLOG, .no_owed = true };
	return run_spec(&sp, seed, trace, why, whylen);
}

static const struct sim_case cases[] = {
	{ "ldc-random-gst", ldc_random, 1000, false },
	{ "ldc-split-heal", ldc_split, 200, false },
	{ "ldc-nack-backlog", ldc_nack_backlog, 200, false },
	{ "broken-ldc-quorum-n-over-2", ldc_split_low_quorum, 50, true },
	{ "broken-ldc-nack-backlog-no-owed", ldc_nack_backlog_no_owed, 50, true },
};

int main(int argc, char **argv)
{
	return sim_main(argc, argv, "sim_cons_ld", cases, sizeof(cases) / sizeof(cases[0]));
}
