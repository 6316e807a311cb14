/* The run harness of the leader-driven consensus simulation suites: sim_cons_ld (ldc,
 * fail-noisy) and sim_cons_lr (lldc, fail-recovery).
 *
 * A run is N nodes (at most LDH_MAXN) with the node's real <>P and Omega, proposals as client
 * requests on instances 1..LDH_MAXI, the consensus checker of lib/cons_check.h (validity,
 * integrity, uniform agreement after every step; agreement and termination at the end) and a
 * check of every client reply (it carries its node's decision). What it gives a suite:
 *   - ldh_setup: the cluster (the suite's model and ports, f = (N - 1) / 2, fast detector
 *     timers), the simulation, the network before stabilisation (loss 5-25 %, duplication up to
 *     10 %, delays up to 5 ms with a 3 % tail of up to 300 ms; or, for a quiet scenario, a fixed
 *     small loss and no tail), the nodes started;
 *   - ldh_output (from the suite's output callback), ldh_step_check (sim_run_for's check);
 *   - ldh_propose (a client's proposal "<prefix><node>-<inst>-<seed>"), ldh_pick_up, ldh_restart;
 *   - ldh_phase_random: 40 chunks of 10 ms with proposals by random subsets, partitions and
 *     one-way cuts, crashes (at most f) and, in fail-recovery, recoveries;
 *   - ldh_heal: the network after stabilisation (2 % loss, delays up to 3 ms);
 *   - ldh_finish: the verdict (a failed step, else cck_final over the nodes up) and the frees.
 * Random draws happen in the order the two suites drew them before they shared this, so a seed
 * replays exactly. Memory: the struct ldh (fixed arrays) plus the checker (cck_new). */
#ifndef STRATA_TESTS_SIM_LD_HARNESS_H
#define STRATA_TESTS_SIM_LD_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/node.h"
#include "rt/sim/sim.h"

#define LDH_MAXN 5
#define LDH_MAXI 4
#define LDH_MAXREQ 64 /* client requests per run (ids 1..63) */
#define LDH_MS 1000ull

struct ldh {
	struct strata_config cfg;
	struct sim *s;
	struct cck *ck;
	const char *algo; /* the consensus module under test ("ldc", "lldc") */
	bool cap_requests; /* past LDH_MAXREQ - 1 requests: none more (else an assertion fails) */
	uint32_t n;
	bool down[LDH_MAXN + 1];
	unsigned ncrash;
	uint64_t reqid;
	bool proposed_any[LDH_MAXI + 1];
	uint64_t req_inst[LDH_MAXREQ];
	uint32_t req_node[LDH_MAXREQ];
	bool bad_reply;
	char reply_why[200];
	struct {
		bool decided;
		char v[64];
		size_t len;
	} dec[LDH_MAXN + 1][LDH_MAXI + 1];
};

/* Zeroes h, then sets up and starts the run of algo on n nodes. quiet: the network before
 * stabilisation loses quiet_drop of the datagrams and has no tail (no draw for the loss). */
void ldh_setup(struct ldh *h, const char *algo, const char *cluster_id, enum strata_model model,
	       uint16_t port_base, uint32_t n, bool quiet, double quiet_drop, uint64_t seed,
	       bool trace, sim_build_fn build, sim_output_fn output, void *arg);
/* Every output of every node (client replies, the module's proposals and decisions). */
void ldh_output(struct ldh *h, uint32_t node, const struct strata_output *o);
/* sim_run_for's check (arg: the struct ldh): 1 at a checker violation or a bad reply. */
int ldh_step_check(struct sim *s, void *arg);
/* A client's proposal at node on inst. */
void ldh_propose(struct ldh *h, uint32_t node, uint64_t inst, const char *prefix);
/* A node that is up, drawn at random (0: none). */
uint32_t ldh_pick_up(struct ldh *h);
/* q (down) recovers: a new life for the checker. */
void ldh_restart(struct ldh *h, uint32_t q);
/* Before stabilisation: 40 chunks of 10 ms (proposals on 1-LDH_MAXI instances by random
 * subsets, one partition or cut at a time, crashes with probability crash_p per chunk while
 * fewer than f are down, and with recover each down node's recovery with probability 1/10). */
int ldh_phase_random(struct ldh *h, double crash_p, bool recover);
/* Stabilisation: heals partitions and cuts, then 2 % loss and delays up to 3 ms. */
void ldh_heal(struct ldh *h);
/* The verdict: rc nonzero (a failed step) reports the bad reply or the checker's violation;
 * else cck_final with the nodes up as the correct ones. Frees the simulation and checker. */
int ldh_finish(struct ldh *h, int rc, char *why, size_t whylen);

#endif
