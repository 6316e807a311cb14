/* Simulation suite for the fail-stop consensus algorithms of chapter 5: Flooding Consensus
 * (Alg. 5.1), Hierarchical Consensus (5.2), Flooding Uniform Consensus (5.3) and Hierarchical
 * Uniform Consensus (5.4), many instances at once (src/cons/).
 *
 * Every seed: N = 5 (or 3, or 4) nodes; 1 to 4 consensus instances; on each instance a random
 * subset of the nodes (at least one) proposes distinct values at random times, the others join
 * when they hear of it. Faults the fail-stop model allows: loss, duplication, delay with a heavy
 * tail (reordering), partitions and one-way cuts that heal, and up to N - 1 crashes (the
 * algorithms tolerate any f < N). P is an oracle test module told of every crash by the driver
 * (accurate and complete by construction: the suite tests consensus, not the detector's timing).
 *
 * Checked after every simulation step (tests/sim/lib/cons_check.h): validity, integrity, and
 * uniform agreement for uflood and uhier; the client's reply must carry the node's decision. At
 * the end: agreement among the correct nodes, and termination: after the network heals (calm:
 * 2% loss, delays up to 3 ms), every correct node decides every instance a correct node proposed
 * within 3 s of virtual time (the bound this suite states and checks).
 *
 * Broken variants (expect_violation): the regular algorithms (flood, hier) judged by the
 * uniform checker in the scenario that separates them from the uniform ones: a node whose
 * outgoing links are cut proposes the smallest value (flood) or is node 1 (hier), decides,
 * and crashes; the others decide something else, which is allowed for regular consensus and
 * must be flagged as a uniform-agreement violation. The same scenario runs on uflood and uhier
 * as ordinary cases: there it must pass. broken-flood-over-lossy-beb puts a beb that drops half
 * of every broadcast (never retried) under flood: termination or agreement must fail, which
 * shows the algorithms really stand on beb. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cons/cons.h"
#include "core/assert.h"
#include "core/stack.h"
#include "lib/ld_harness.h"
#include "lib/lossy_beb.h"
#include "lib/oracle.h"
#include "rt/sim/harness.h"
#include "rt/sim/sim.h"

#define MS LDH_MS
#define LIVENESS_MS 3000ull

/* ---- a run ---- */

enum scen {
	SC_RANDOM = 0, /* the general fault mix */
	SC_SPLIT,      /* a node with its outgoing links cut decides first, then crashes */
};

struct spec {
	const char *algo;
	enum scen scen;
	bool check_uniform;
	bool lossy_beb; /* replace beb under the algorithm with one that drops messages */
};

struct run {
	struct ldh h; /* the cluster, the simulation, the checker, the client requests */
	const struct spec *sp;
	const struct strata_algo *algo;
};

static void build(struct sim *s, struct strata_node *n, void *arg)
{
	struct run *r = arg;
	(void)s;
	char err[256];
	sim_oracle_add(n);
	if (r->sp->lossy_beb) {
		sim_lossy_beb_add(n, false);
	}
	if (!strata_algo_create(r->algo, n, err, sizeof(err))) {
		fprintf(stderr, "create %s: %s\n", r->algo->name, err);
		abort();
	}
}

static void on_output(struct sim *s, uint32_t node, const struct strata_output *o, void *arg)
{
	(void)s;
	ldh_output(&((struct run *)arg)->h, node, o); /* the oracle's replies are not proposals */
}

/* ldh_crash's hook. P: strong completeness and accuracy, by construction. */
static void tell_oracles(struct ldh *h, uint32_t id)
{
	for (uint32_t q = 1; q <= h->n; q++) {
		if (h->down[q])
			continue;
		STRATA_ASSERT(h->reqid + 1 < LDH_MAXREQ);
		sim_oracle_tell(h->s, q, ++h->reqid, id);
	}
}

/* One node (v) with its outgoing links cut proposes the smallest value; everyone proposes on
 * instance 1; v hears all and decides; then v crashes. For hier, v is node 1 (it decides at
 * once, in round 1). */
static int phase_split(struct run *r)
{
	struct ldh *h = &r->h;
	struct sim *s = h->s;
	uint32_t v = strcmp(r->sp->algo, "flood") == 0 || strcmp(r->sp->algo, "uflood") == 0
			     ? 1 + (uint32_t)sim_random_below(s, h->n)
			     : 1;
	/* Let the perfect links open their sessions first (one instance decided with every link
	 * up): a one-way cut before any traffic would keep v from hearing anyone, since a node
	 * sends perfect-link frames only to incarnations it has heard of. */
	ldh_propose(h, v, 2, "w");
	int rc = sim_run_for(s, 60 * MS, ldh_step_check, h);
	if (rc)
		return rc;
	for (uint32_t q = 1; q <= h->n; q++)
		if (q != v)
			sim_link(s, v, q, false);
	ldh_propose(h, v, 1, "a");
	for (uint32_t q = 1; q <= h->n; q++)
		if (q != v)
			ldh_propose(h, q, 1, "b");
	rc = sim_run_for(s, 60 * MS, ldh_step_check, h);
	if (!rc)
		ldh_crash(h, v);
	return rc;
}

static int run_spec(const struct spec *sp, uint64_t seed, bool trace, char *why, size_t whylen)
{
	struct run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	struct ldh *h = &r->h;
	r->sp = sp;
	r->algo = strata_algo_find(sp->algo);
	STRATA_ASSERT(r->algo);
	uint32_t n = seed % 5 == 3 ? 3 : seed % 5 == 4 ? 4 : 5;
	const struct ldh_opts o = {
		.algo = sp->algo, .cluster_id = "sim-cons", .model = r->algo->model,
		.port_base = 7300, .n = n, .f = n - 1, .regular = !sp->check_uniform,
		.fd_timers = true, .tail = 0.05, .tail_us = 40 * MS, .crashed = tell_oracles,
		.build = build, .output = on_output, .arg = r,
	};
	ldh_setup(h, &o, seed, trace);
	/* The general fault mix: 30 chunks of 5 ms; crashes: at most a number drawn in 0..N-1. */
	static const struct ldh_phase mix = {
		.chunks = 30, .chunk_us = 5 * MS, .propose_p = 0.2, .part_p = 0.08, .crash_p = 0.05,
		.draw_crashes = true,
	};
	int rc = sp->scen == SC_SPLIT ? phase_split(r) : ldh_phase_random(h, &mix);
	if (!rc)
		rc = ldh_settle(h, LIVENESS_MS); /* liveness: heal, calm network */
	rc = ldh_finish(h, rc, why, whylen);
	free(r);
	return rc;
}

/* ---- cases ---- */

#define CASE(fn, algo_, scen_, uni)                                                        \
	static int fn(uint64_t seed, bool trace, char *why, size_t whylen)                  \
	{                                                                                   \
		static const struct spec sp = { .algo = algo_, .scen = scen_,               \
						.check_uniform = uni };                     \
		return run_spec(&sp, seed, trace, why, whylen);                             \
	}

CASE(flood_random, "flood", SC_RANDOM, false)
CASE(hier_random, "hier", SC_RANDOM, false)
CASE(uflood_random, "uflood", SC_RANDOM, true)
CASE(uhier_random, "uhier", SC_RANDOM, true)
CASE(uflood_split, "uflood", SC_SPLIT, true)
CASE(uhier_split, "uhier", SC_SPLIT, true)
CASE(flood_split_as_uniform, "flood", SC_SPLIT, true)

static int flood_lossy(uint64_t seed, bool trace, char *why, size_t whylen)
{
	static const struct spec sp = { .algo = "flood", .scen = SC_RANDOM, .lossy_beb = true };
	return run_spec(&sp, seed, trace, why, whylen);
}
CASE(hier_split_as_uniform, "hier", SC_SPLIT, true)

static const struct sim_case cases[] = {
	{ "flood-random", flood_random, 1000, false },
	{ "hier-random", hier_random, 1000, false },
	{ "uflood-random", uflood_random, 1000, false },
	{ "uhier-random", uhier_random, 1000, false },
	{ "uflood-split-crash", uflood_split, 1000, false },
	{ "uhier-split-crash", uhier_split, 1000, false },
	{ "broken-flood-judged-uniform", flood_split_as_uniform, 50, true },
	{ "broken-hier-judged-uniform", hier_split_as_uniform, 50, true },
	{ "broken-flood-over-lossy-beb", flood_lossy, 50, true },
};

int main(int argc, char **argv)
{
	return sim_main(argc, argv, "sim_cons", cases, sizeof(cases) / sizeof(cases[0]));
}
