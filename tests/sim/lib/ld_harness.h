/* The run harness of the crash-tolerant consensus simulation suites: sim_cons (the fail-stop
 * algorithms, with an oracle P), sim_cons_ld (ldc, fail-noisy), sim_cons_lr (lldc,
 * fail-recovery) and sim_cons_rand (rbc, rcons: randomized, with the threshold coin).
 *
 * A run is N nodes (at most LDH_MAXN) running the suite's stack, proposals as client requests
 * on instances 1..LDH_MAXI, the consensus checker of lib/cons_check.h (validity, integrity,
 * uniform agreement - or, for the regular algorithms, agreement only at the end - after every
 * step; agreement and termination at the end) and a check of every client reply (it carries
 * its node's decision). What it gives a suite:
 *   - ldh_setup (struct ldh_opts): the cluster (the suite's model, ports and f; optionally
 *     fast detector timers and a dealt threshold coin), the simulation, the network before
 *     stabilisation (loss 5-25 % or a fixed loss, duplication up to 10 %, delays up to 5 ms
 *     with the suite's tail; or a fixed network with no draws), the nodes started;
 *   - ldh_output (from the suite's output callback), ldh_step_check (sim_run_for's check);
 *   - ldh_propose (a client's proposal "<prefix><node>-<inst>-<seed>"), ldh_propose_value (a
 *     given value), ldh_pick_up, ldh_crash (with the suite's crashed hook, e.g. telling an
 *     oracle P), ldh_restart;
 *   - ldh_phase_random (struct ldh_phase): chunks of proposals by random subsets, partitions
 *     and one-way cuts, crashes (at most f, or a number drawn in 0..f) and, in fail-recovery,
 *     recoveries;
 *   - ldh_heal: the network after stabilisation (2 % loss, delays up to 3 ms); ldh_settle:
 *     that, then a liveness period;
 *   - ldh_finish: the verdict (a failed step, else cck_final over the nodes up) and the frees.
 * Random draws happen in the order the suites drew them before they shared this, so a seed
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

struct ldh;

/* A run's set-up. Fields left zero take the default named. */
struct ldh_opts {
	const char *algo;       /* the consensus module under test ("ldc", "uflood", "rbc", ...) */
	const char *cluster_id;
	enum strata_model model;
	uint16_t port_base; /* node i at 127.0.0.1:port_base + i */
	uint32_t n, f;      /* f: the configured resilience, and ldh_phase_random's crash bound */
	bool regular;       /* the checker without uniform agreement (regular consensus) */
	bool fd_timers;     /* the node's detector fast: heartbeat 20 ms, timeout 100 ms */
	bool coin;          /* a threshold coin dealt for the cluster: f + 1 of n shares */
	uint32_t backlog_bytes; /* [links] backlog_bytes (0: the default) */
	/* The network before stabilisation: loss drop (0: drawn in 5-25 %), duplication drawn up
	 * to 10 %, delays from 200 us up to a draw below 5 ms, and a share tail of the datagrams
	 * delayed up to tail_us. With fixed_net: that network, and no draws. */
	double drop, tail;
	uint64_t tail_us;
	const struct sim_net *fixed_net;
	/* Hooks (NULL: none), called with the struct ldh (h->arg: the suite's arg). */
	void (*crashed)(struct ldh *h, uint32_t q); /* after ldh_crash crashed q */
	/* ldh_phase_random's proposal of node on inst (NULL: ldh_propose with prefix "v") */
	void (*proposal)(struct ldh *h, uint32_t node, uint64_t inst);
	sim_build_fn build;
	sim_output_fn output;
	void *arg;
};

/* ldh_phase_random: chunks of chunk_us; each chunk every pending proposal is made with
 * probability propose_p, a partition or cut with part_p (healed with 0.15 per chunk), a crash
 * with crash_p (0: none, no draw) while fewer than the bound are down: f, or with draw_crashes a
 * bound drawn in 0..f at the start; with recover each down node recovers with 0.1. */
struct ldh_phase {
	unsigned chunks;
	uint64_t chunk_us;
	double propose_p, part_p, crash_p;
	bool draw_crashes, recover;
};

struct ldh {
	struct strata_config cfg;
	struct sim *s;
	struct cck *ck;
	const char *algo; /* the consensus module under test */
	void *arg;        /* the suite's (ldh_opts.arg) */
	void (*crashed)(struct ldh *h, uint32_t q);
	void (*proposal)(struct ldh *h, uint32_t node, uint64_t inst);
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
	uint8_t coin_shares[LDH_MAXN][32];
};

/* Pieces of the set-up, also for suites with a harness of their own (sim_cons_brc); the
 * random phase's partitions and cuts are lib/faults.h's simf_partition_step. */
/* Deals a threshold coin of cfg->f + 1 of cfg->n shares (dealing seed: cfg->n and
 * "<cluster_id>-coin"): coin_threshold, every node's coin_key, the secret shares into shares. */
void ldh_coin_deal(struct strata_config *cfg, uint8_t (*shares)[32]);
/* The network before stabilisation, drawn (loss only when drop is 0), as in ldh_opts. */
struct sim_net ldh_net_storm(struct sim *s, double drop, double tail, uint64_t tail_us);

/* Zeroes h, then sets up and starts the run o describes. */
void ldh_setup(struct ldh *h, const struct ldh_opts *o, uint64_t seed, bool trace);
/* Every output of every node (client replies, the module's proposals and decisions). */
void ldh_output(struct ldh *h, uint32_t node, const struct strata_output *o);
/* sim_run_for's check (arg: the struct ldh): 1 at a checker violation or a bad reply. */
int ldh_step_check(struct sim *s, void *arg);
/* A client's proposal at node on inst: "<prefix><node>-<inst>-<seed>", or the value v. */
void ldh_propose(struct ldh *h, uint32_t node, uint64_t inst, const char *prefix);
void ldh_propose_value(struct ldh *h, uint32_t node, uint64_t inst, const char *v, size_t len);
/* A node that is up, drawn at random (0: none). */
uint32_t ldh_pick_up(struct ldh *h);
/* q (up) crashes; then the crashed hook. */
void ldh_crash(struct ldh *h, uint32_t q);
/* q (down) recovers: a new life for the checker. */
void ldh_restart(struct ldh *h, uint32_t q);
/* Before stabilisation: proposals on 1-LDH_MAXI instances by random subsets, faults as ph says. */
int ldh_phase_random(struct ldh *h, const struct ldh_phase *ph);
/* Stabilisation: heals partitions and cuts, then 2 % loss and delays up to 3 ms. */
void ldh_heal(struct ldh *h);
/* ldh_heal, then ms of virtual time with ldh_step_check (the liveness period). */
int ldh_settle(struct ldh *h, uint64_t ms);
/* The verdict: rc nonzero (a failed step) reports the bad reply or the checker's violation;
 * else cck_final with the nodes up as the correct ones. Frees the simulation and checker. */
int ldh_finish(struct ldh *h, int rc, char *why, size_t whylen);

#endif
