/* The Byzantine run harness of the fail-arbitrary simulation suites (sim_fd_bld, sim_cons_byz,
 * sim_cons_sbc, sim_bcast_byz, sim_cons_brc, sim_reg_byz).
 *
 * A run is N processes on the simulator's authenticated links, f of them (or fewer) Byzantine,
 * each Byzantine one either a node misbehaviour of src/core/node.h (sim_set_byz) drawn per seed
 * from the suite's table, or twins (two correct copies of one identity, sim_twin). What it
 * gives a suite:
 *   - the cluster: byzh_config (fail-arbitrary model, loopback addresses, the suite's ports),
 *     and in byzh_sim_new the suite's threshold coin shares (coin_shares) if it has any;
 *   - the network: byzh_net_storm, before stabilisation (loss 5-20 %, duplication up to 10 %,
 *     delays up to 20 ms with a 5 % tail of up to 200 ms), byzh_net_calm after it (no loss,
 *     delays up to 5 ms);
 *   - the roles: byzh_pick (a correct process at random), byzh_make (make it Byzantine or a
 *     twin), byzh_draw (f of them, each with a behaviour from a table), byzh_start (the nodes,
 *     then the twins' second copies), byzh_correct, byzh_who (who was what, for a failure);
 *   - the leader detector's side (bld): byzh_on_trust records whom each process trusts,
 *     byzh_complain is the upper layer's premature timeout (a complaint about that leader);
 *   - the consensus suites' proposals (byzh_propose) and decisions (struct byzh_decs: record,
 *     agreement);
 *   - the verdict: byzh_fail keeps the first violation, byzh_check stops sim_run_for at it,
 *     byzh_settle runs after stabilisation until the suite's work is done (termination),
 *     byzh_finish returns the verdict and frees the simulation.
 * The suite owns its struct run (which holds a struct byzh), its build and output callbacks
 * and its checks. Random draws happen in a fixed order (the same as the suites made them
 * before they shared this), so a seed replays exactly.
 * Memory: the struct byzh and struct byzh_decs themselves (fixed arrays: BYZH_MAXN processes,
 * BYZH_MAXI instances, values of BYZH_VMAX bytes); nothing allocated. */
#ifndef STRATA_TESTS_SIM_BYZ_HARNESS_H
#define STRATA_TESTS_SIM_BYZ_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/node.h"
#include "rt/sim/sim.h"

#define BYZH_MAXN 11
#define BYZH_MS 1000ull
/* In a behaviour table: twins (no node misbehaviour, a second correct copy of the identity). */
#define BYZH_TWINS STRATA_BYZ_NONE

enum byzh_role { BYZH_CORRECT = 0, BYZH_BYZ, BYZH_TWIN };

struct byzh {
	struct strata_config cfg; /* the simulation keeps using it (public keys) */
	struct sim *s;
	uint32_t n, f;
	enum byzh_role role[BYZH_MAXN + 1];
	enum strata_byz beh[BYZH_MAXN + 1]; /* STRATA_BYZ_NONE for correct processes and twins */
	uint32_t twins[BYZH_MAXN + 1], ntwins;
	uint32_t trusted[BYZH_MAXN + 1]; /* the leader p's bld trusts; 0 before its first Trust */
	uint64_t reqid;                  /* request ids of the harness's and the suite's requests */
	/* Set by the suite before byzh_sim_new / byzh_pick (zero: none / 1): */
	const uint8_t (*coin_shares)[32]; /* the threshold coin's secret shares (sim_opts) */
	uint32_t pick_from; /* byzh_pick draws among pick_from..n (sim_reg_byz: the writer, 1, is correct) */
	bool failed;
	char why[512];
};

/* The cluster of n processes, f of them faulty at most: defaults, then cluster_id, the
 * fail-arbitrary model, node i at 127.0.0.1:port_base + i. The suite may change more after. */
void byzh_config(struct byzh *h, const char *cluster_id, uint32_t n, uint32_t f,
		 uint16_t port_base);
/* The simulation of h->cfg (h->s); net is its network until sim_set_net (NULL: none). The
 * nodes are built at byzh_start. */
struct sim *byzh_sim_new(struct byzh *h, uint64_t seed, bool trace, sim_build_fn build,
			 sim_output_fn output, void *arg, const struct sim_net *net);

/* Draws the network before stabilisation (three draws: loss, duplication, largest delay). */
struct sim_net byzh_net_storm(struct sim *s);
/* The network after stabilisation (no draws). */
struct sim_net byzh_net_calm(void);

static inline bool byzh_correct(const struct byzh *h, uint32_t p)
{
	return h->role[p] == BYZH_CORRECT;
}
/* A correct process drawn at random among pick_from..n (draws again until one is correct). */
uint32_t byzh_pick(struct byzh *h);
/* p becomes a twin (twin: its second copy starts at byzh_start) or Byzantine with behaviour b
 * (STRATA_BYZ_NONE: Byzantine with honest node code, e.g. a suite's hook misbehaves). */
void byzh_make(struct byzh *h, uint32_t p, enum strata_byz b, bool twin);
/* count processes made Byzantine: the first is `first` when nonzero, else each is byzh_pick'd;
 * each behaves as force, or when force is STRATA_BYZ_NONE as drawn from table (BYZH_TWINS in
 * it: twins). */
void byzh_draw(struct byzh *h, uint32_t count, uint32_t first, const enum strata_byz *table,
	       size_t len, enum strata_byz force);
/* sim_start, then every twin's second copy. */
void byzh_start(struct byzh *h);
/* " p:behaviour" for every process that is not correct, into buf. */
void byzh_who(const struct byzh *h, char *buf, size_t len);

/* An output of process node: if it is bld's Trust, records the leader and returns true. */
bool byzh_on_trust(struct byzh *h, uint32_t node, const struct strata_output *o);
/* <bld, Complain | leader> at p about the leader it trusts (none yet: nothing). */
void byzh_complain(struct byzh *h, uint32_t p);

/* The first violation is kept; later ones are ignored. */
void byzh_fail(struct byzh *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* sim_run_for's check: nonzero once the run failed (arg: the struct byzh). */
int byzh_check(struct sim *s, void *arg);

/* After stabilisation: switches to byzh_net_calm, then runs 100 ms at a time until no correct
 * process p has an instance i (1..ninst) with pending(arg, p, i), at most limit_us, then 200 ms
 * more; then fails termination for the first one still pending. Returns sim_run_for's
 * nonzero stop (a failure) or 0. */
int byzh_settle(struct byzh *h, unsigned ninst, bool (*pending)(void *arg, uint32_t p, uint64_t i),
		void *arg, uint64_t limit_us);

/* Consensus suites: <Propose | v> on instance inst (request key: its decimal number) to module
 * algo at node. */
void byzh_propose(struct byzh *h, uint32_t node, const char *algo, uint64_t inst, const char *v);

/* Consensus suites: the decisions of the correct processes, per process and instance. */
#define BYZH_MAXI 8
#define BYZH_VMAX 64
struct byzh_val {
	size_t len;
	char v[BYZH_VMAX];
};
struct byzh_decs {
	bool decided[BYZH_MAXN + 1][BYZH_MAXI + 1];
	struct byzh_val val[BYZH_MAXN + 1][BYZH_MAXI + 1];
	uint64_t b[BYZH_MAXN + 1][BYZH_MAXI + 1];  /* the output's b (fast-sbc: 1 = fast path) */
	uint64_t at[BYZH_MAXN + 1][BYZH_MAXI + 1]; /* virtual time of the decision */
};
/* Records node's decision on inst (1..BYZH_MAXI, not yet decided; len <= BYZH_VMAX). */
void byzh_decs_record(struct byzh *h, struct byzh_decs *d, uint32_t node, uint64_t inst,
		      const uint8_t *v, size_t len, uint64_t b);
/* Agreement: the first correct process other than node that decided inst otherwise than v, or
 * 0 when none did. */
uint32_t byzh_decs_other(const struct byzh *h, const struct byzh_decs *d, uint32_t node,
			 uint64_t inst, const uint8_t *v, size_t len);

/* The verdict (0, or sim_fail with h->why) after any failure already recorded; frees h->s. */
int byzh_finish(struct byzh *h, char *why, size_t whylen);

/* A case's run function (struct sim_case) fn: runner(its arguments..., seed, trace, why,
 * whylen). */
#define BYZH_CASE(fn, runner, ...)                                          \
	static int fn(uint64_t seed, bool trace, char *why, size_t whylen) \
	{                                                                  \
		return runner(__VA_ARGS__, seed, trace, why, whylen);      \
	}

#endif
