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

#include "bcast/bcast.h"
#include "bcast/common.h"
#include "cons/cons.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"
#include "lib/cons_check.h"
#include "lib/lossy_beb.h"
#include "lib/oracle.h"
#include "links/links.h"
#include "rt/sim/harness.h"
#include "rt/sim/sim.h"

#define MS 1000ull
#define MAXN 5
#define MAXI 4
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
	const struct spec *sp;
	const struct strata_algo *algo;
	struct strata_config cfg;
	struct sim *s;
	struct cck *ck;
	uint32_t n;
	bool down[MAXN + 1];
	unsigned ncrash;
	uint64_t reqid;
	uint64_t req_inst[256]; /* request id -> instance, for checking replies */
	uint32_t req_node[256];
	bool bad_reply;
	char reply_why[200];
	struct {
		bool decided;
		char v[64];
		size_t len;
	} dec[MAXN + 1][MAXI + 1];
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
		return; /* the oracle's replies */
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

static void propose(struct run *r, uint32_t node, uint64_t inst, const char *prefix)
{
	char key[24], val[48];
	int klen = snprintf(key, sizeof(key), "%llu", (unsigned long long)inst);
	int vlen = snprintf(val, sizeof(val), "%s%u-%llu-%llu", prefix, node,
			    (unsigned long long)inst, (unsigned long long)sim_seed(r->s));
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

static void crash(struct run *r, uint32_t id)
{
	sim_crash(r->s, id);
	r->down[id] = true;
	r->ncrash++;
	/* P: strong completeness and accuracy, by construction. */
	for (uint32_t q = 1; q <= r->n; q++) {
		if (r->down[q])
			continue;
		STRATA_ASSERT(r->reqid + 1 < 256);
		sim_oracle_tell(r->s, q, ++r->reqid, id);
	}
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
	snprintf(r->cfg.cluster_id, sizeof(r->cfg.cluster_id), "sim-cons");
	r->n = r->cfg.n = seed % 5 == 3 ? 3 : seed % 5 == 4 ? 4 : 5;
	r->cfg.f = r->n - 1;
	r->cfg.model = r->algo->model;
	r->cfg.heartbeat_ms = 20;
	r->cfg.timeout_ms = 100;
	r->cfg.retransmit_min_ms = 10;
	r->cfg.retransmit_max_ms = 100;
	for (uint32_t i = 1; i <= r->n; i++) {
		r->cfg.nodes[i].id = i;
		snprintf(r->cfg.nodes[i].host, sizeof(r->cfg.nodes[i].host), "127.0.0.1");
		r->cfg.nodes[i].port = (uint16_t)(7300 + i);
	}
	r->ck = cck_new(r->n, sp->check_uniform);
	struct sim_opts so = {
		.seed = seed, .cfg = &r->cfg, .build = build, .output = on_output, .arg = r,
		.trace = trace,
	};
	r->s = sim_new(&so);
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
	sim_run_for(r->s, 1 * MS, NULL, NULL); /* real clocks never read 0 */
}

/* The general fault mix: 30 chunks of 5 ms; proposals on 1..MAXI instances by random subsets,
 * partitions and one-way cuts that heal, crashes (at most N - 1 in all). */
static int phase_random(struct run *r)
{
	struct sim *s = r->s;
	uint64_t ninst = 1 + sim_random_below(s, MAXI);
	bool todo[MAXN + 1][MAXI + 1] = { { false } };
	for (uint64_t i = 1; i <= ninst; i++) {
		uint64_t mask = 1 + sim_random_below(s, (1ull << r->n) - 1); /* non-empty */
		for (uint32_t q = 1; q <= r->n; q++)
			todo[q][i] = (mask >> (q - 1)) & 1u;
	}
	unsigned max_crash = (unsigned)sim_random_below(s, r->n); /* 0 .. N-1 */
	bool parted = false;
	for (int chunk = 0; chunk < 30; chunk++) {
		for (uint32_t q = 1; q <= r->n; q++)
			for (uint64_t i = 1; i <= ninst; i++)
				if (todo[q][i] && !r->down[q] && sim_random_unit(s) < 0.2) {
					todo[q][i] = false;
					propose(r, q, i, "v");
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
			if (q)
				crash(r, q);
		}
		int rc = sim_run_for(s, 5 * MS, step_check, r);
		if (rc)
			return rc;
	}
	return 0;
}

/* One node (v) with its outgoing links cut proposes the smallest value; everyone proposes on
 * instance 1; v hears all and decides; then v crashes. For hier, v is node 1 (it decides at
 * once, in round 1). */
static int phase_split(struct run *r)
{
	struct sim *s = r->s;
	uint32_t v = strcmp(r->sp->algo, "flood") == 0 || strcmp(r->sp->algo, "uflood") == 0
			     ? 1 + (uint32_t)sim_random_below(s, r->n)
			     : 1;
	/* Let the perfect links open their sessions first (one instance decided with every link
	 * up): a one-way cut before any traffic would keep v from hearing anyone, since a node
	 * sends perfect-link frames only to incarnations it has heard of. */
	propose(r, v, 2, "w");
	int rc = sim_run_for(s, 60 * MS, step_check, r);
	if (rc)
		return rc;
	for (uint32_t q = 1; q <= r->n; q++)
		if (q != v)
			sim_link(s, v, q, false);
	propose(r, v, 1, "a");
	for (uint32_t q = 1; q <= r->n; q++)
		if (q != v)
			propose(r, q, 1, "b");
	rc = sim_run_for(s, 60 * MS, step_check, r);
	if (!rc)
		crash(r, v);
	return rc;
}

static int run_spec(const struct spec *sp, uint64_t seed, bool trace, char *why, size_t whylen)
{
	struct run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	setup(r, sp, seed, trace);
	int rc = sp->scen == SC_SPLIT ? phase_split(r) : phase_random(r);
	if (!rc) {
		/* Liveness: heal, calm network, LIVENESS_MS of virtual time. */
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
	}
	sim_free(r->s);
	cck_free(r->ck);
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
