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
 * shows the algorithms really stand on beb.
 *
 * Sends the links refuse (uhier.c): uhier-ack-backlog sets `[links] backlog_bytes` small, cuts
 * the link from one node q to node 1 (the leader of round 1) and fills q's backlog toward 1 to
 * its last byte (lib/filler.h: the node's other traffic), then node 1 proposes on two instances:
 * q's ACKs are refused by the links, uhier owes them and sends them once the link heals, and
 * node 1 (correct, never detected) must decide: termination. A seed where q's uhier owed no ACK
 * is vacuous. broken-uhier-ack-backlog-no-owed (cons_uhier_test_no_owed: a refused ACK is lost)
 * must fail termination. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cons/cons.h"
#include "core/assert.h"
#include "core/stack.h"
#include "lib/filler.h"
#include "lib/ld_harness.h"
#include "lib/lossy_beb.h"
#include "lib/oracle.h"
#include "links/links.h"
#include "rt/sim/harness.h"
#include "rt/sim/sim.h"

#define MS LDH_MS
#define LIVENESS_MS 3000ull
#define BACKLOG 1024 /* SC_BACKLOG: [links] backlog_bytes */

/* ---- a run ---- */

enum scen {
	SC_RANDOM = 0, /* the general fault mix */
	SC_SPLIT,      /* a node with its outgoing links cut decides first, then crashes */
	SC_BACKLOG,    /* a node's backlog toward the leader full when the leader proposes */
};

struct spec {
	const char *algo;
	enum scen scen;
	bool check_uniform;
	bool lossy_beb; /* replace beb under the algorithm with one that drops messages */
	bool no_owed;   /* uhier loses the ACKs the links refuse (broken variant) */
};

struct run {
	struct ldh h; /* the cluster, the simulation, the checker, the client requests */
	const struct spec *sp;
	const struct strata_algo *algo;
	uint32_t full; /* SC_BACKLOG: the node whose backlog toward node 1 was filled */
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
	if (r->sp->scen == SC_BACKLOG)
		sim_filler_add(n);
	struct strata_module *m = strata_algo_create(r->algo, n, err, sizeof(err));
	if (!m) {
		fprintf(stderr, "create %s: %s\n", r->algo->name, err);
		abort();
	}
	if (r->sp->no_owed)
		cons_uhier_test_no_owed(m);
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

/* Node q (not 1) with its link to node 1 cut and its backlog toward 1 full; then node 1, the
 * leader of round 1, proposes on instances 1 and 3: q's ACKs are refused by the links. */
static int phase_backlog(struct run *r)
{
	struct ldh *h = &r->h;
	struct sim *s = h->s;
	/* Sessions open first, as in phase_split: node 1 deciding instance 2 heard every node's
	 * ACK, so every link to and from node 1 has its session (a node sends perfect-link frames
	 * only to incarnations it has heard of). */
	ldh_propose(h, 1, 2, "w");
	int rc = 0;
	for (unsigned k = 0; k < 300 && !rc && !h->dec[1][2].decided; k++)
		rc = sim_run_for(s, 10 * MS, ldh_step_check, h);
	if (rc)
		return rc;
	r->full = 2 + (uint32_t)sim_random_below(s, h->n - 1);
	sim_link(s, r->full, 1, false);
	/* The acknowledgements of what q sent before the cut arrive (node 1 -> q is up) and free
	 * its backlog; then it is filled, and nothing from q reaches 1 to be acknowledged. */
	rc = sim_run_for(s, 100 * MS, ldh_step_check, h);
	if (rc)
		return rc;
	STRATA_ASSERT(h->reqid + 1 < LDH_MAXREQ);
	sim_filler_fill(s, r->full, ++h->reqid, 1);
	rc = sim_run_for(s, 1 * MS, ldh_step_check, h);
	if (rc)
		return rc;
	ldh_propose(h, 1, 1, "a");
	ldh_propose(h, 1, 3, "c");
	return sim_run_for(s, 300 * MS, ldh_step_check, h);
}

/* The ACKs the links refused at node q, owed by its uhier. */
static uint64_t acks_owed(struct run *r, uint32_t q)
{
	struct strata_node *nd = q ? sim_node(r->h.s, q) : NULL;
	struct strata_module *m = nd ? strata_node_module_by_name(nd, "uhier") : NULL;
	if (!m)
		return 0;
	struct strata_pl_owed_counts c;
	cons_uhier_test_owed_counts(m, &c);
	return c.refused;
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
		.backlog_bytes = sp->scen == SC_BACKLOG ? BACKLOG : 0,
		.build = build, .output = on_output, .arg = r,
	};
	ldh_setup(h, &o, seed, trace);
	/* The general fault mix: 30 chunks of 5 ms; crashes: at most a number drawn in 0..N-1. */
	static const struct ldh_phase mix = {
		.chunks = 30, .chunk_us = 5 * MS, .propose_p = 0.2, .part_p = 0.08, .crash_p = 0.05,
		.draw_crashes = true,
	};
	int rc = sp->scen == SC_SPLIT	  ? phase_split(r)
		 : sp->scen == SC_BACKLOG ? phase_backlog(r)
					  : ldh_phase_random(h, &mix);
	if (!rc)
		rc = ldh_settle(h, LIVENESS_MS); /* liveness: heal, calm network */
	uint64_t owed = sp->scen == SC_BACKLOG ? acks_owed(r, r->full) : 0;
	rc = ldh_finish(h, rc, why, whylen);
	if (!rc && sp->scen == SC_BACKLOG && owed == 0)
		rc = sim_vacuous(why, whylen, "node %u's links refused no ACK", r->full);
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
CASE(uhier_backlog, "uhier", SC_BACKLOG, true)

static int uhier_backlog_no_owed(uint64_t seed, bool trace, char *why, size_t whylen)
{
	static const struct spec sp = { .algo = "uhier", .scen = SC_BACKLOG, .check_uniform = true,
					.no_owed = true };
	return run_spec(&sp, seed, trace, why, whylen);
}

static const struct sim_case cases[] = {
	{ "flood-random", flood_random, 1000, false },
	{ "hier-random", hier_random, 1000, false },
	{ "uflood-random", uflood_random, 1000, false },
	{ "uhier-random", uhier_random, 1000, false },
	{ "uflood-split-crash", uflood_split, 1000, false },
	{ "uhier-split-crash", uhier_split, 1000, false },
	{ "uhier-ack-backlog", uhier_backlog, 200, false },
	{ "broken-flood-judged-uniform", flood_split_as_uniform, 50, true },
	{ "broken-hier-judged-uniform", hier_split_as_uniform, 50, true },
	{ "broken-flood-over-lossy-beb", flood_lossy, 50, true },
	{ "broken-uhier-ack-backlog-no-owed", uhier_backlog_no_owed, 50, true },
};

int main(int argc, char **argv)
{
	return sim_main(argc, argv, "sim_cons", cases, sizeof(cases) / sizeof(cases[0]));
}
