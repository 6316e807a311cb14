/* Simulation suite of the KV over total-order broadcast, `[smr] log = tob` (src/smr/tob_log.c
 * over src/cons/tob.c), with the linearizability checker of sim_kv.
 *
 * Every run: n = 5 nodes, crash-stop (tob 6.1 is a crash-stop algorithm), six logical clients
 * with their own sessions issue gets, puts and cas on three keys, one operation at a time each,
 * each to a random live node, recording a Jepsen-shaped history in virtual time (as sim_kv
 * does: a put writes a unique value, a cas expects the last value its client saw; a failed
 * compare and a busy refusal are definite failures; a timeout or a request lost in a crash is
 * an unknown outcome). Faults at random times in a 1 s operation phase: loss, duplication,
 * delay and reordering; one partition (a node isolated, a 2|3 split or a one-way cut) healed
 * after 0.2-0.6 s; a node paused for 0.1-0.7 s; up to f = 2 nodes crashed for good (crash-stop:
 * they do not come back); clients' writes duplicated (the same session and sequence number sent
 * again to another node up to 50 ms later, as a retry would).
 *
 * Then the network heals: every operation must be answered within 5 s (liveness), every client
 * reads every key once more, the replicas that applied the same number of commands must hold
 * the same state (digest), and each key's history must be linearizable (src/check). A subset
 * of the nodes drawn from the seed has nobody watching (no watch event built there); the
 * others' watch events must agree on the change of each revision (kvh_watch). The clients,
 * history, partition and pause schedule and the checks are tests/sim/lib/kv_harness.
 *
 * Cases: tob-kv-ldc (the default consensus, on the real <>P and Omega, fail-noisy) and
 * tob-kv-uhier (Hierarchical Uniform Consensus under tob on a fail-stop cluster whose P is an
 * oracle told of every crash by the driver, as in sim_cons and sim_tob).
 * Broken variants (expect_violation):
 *   broken-read-local  linearizable gets answered from the replica's state at once instead of
 *                      at the read marker's place in the total order: a replica cut off from
 *                      the others returns stale values.
 *   broken-dup-apply   no session deduplication: a duplicated write is applied twice.
 *
 * quota: `[smr] quota_bytes` = 300 (about four keys), the quota workload (kvh.quota: puts of
 * eight keys and deletes) with every fault of tob-kv-ldc: the quota is decided at apply (a
 * write that would take the state past it is applied as the refusal's marker), so no replica's
 * state ever holds more than the quota (its high-water mark, checked every step and before a
 * crash), a refused write never takes effect, nor any duplicate of it (the checker), and
 * writes are refused (non-vacuous over the case). broken-quota-unchecked
 * (SMR_BROKEN_QUOTA_UNCHECKED: no check at apply) must outgrow the quota. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/stack.h"
#include "fd/fd.h"
#include "lib/build.h"
#include "lib/kv_harness.h"
#include "lib/oracle.h"
#include "rt/sim/harness.h"
#include "rt/sim/sim.h"
#include "smr/smr.h"

#define NCL 6
#define MS KVH_MS
#define ORACLE_BIT (1ull << 61)

enum { F_NET = 1, F_PART = 2, F_PAUSE = 4, F_CRASH = 8, F_DUPREQ = 16, F_ISOLATE = 32,
       F_QUOTA = 64 /* [smr] quota_bytes = QUOTA_SIM and the quota workload (kvh.quota) */ };
#define QUOTA_SIM 300u


struct run {
	struct sim *s;
	struct strata_config cfg;
	bool oracle;
	struct kvh h;
	unsigned broken;
	unsigned ncrash;
	uint64_t oracle_reqs;
	char quota_bad[200]; /* the first replica seen holding more than the quota */
};

static void build(struct sim *s, struct strata_node *n, void *arg)
{
	struct run *r = arg;
	(void)s;
	if (r->oracle)
		sim_oracle_add(n);
	else
		simb_fd(n);
	struct strata_module *m = simb_algo(n, "kv");
	smr_tobkv_set_broken(m, r->broken);
}

static struct strata_module *mod(struct run *r, uint32_t id)
{
	struct strata_node *n = sim_node(r->s, id);
	return n ? strata_node_module_by_name(n, "kv") : NULL;
}

static void on_output(struct sim *s, uint32_t node, const struct strata_output *o, void *arg)
{
	struct run *r = arg;
	(void)s;
	if (kvh_watch(&r->h, node, o))
		return;
	if (!(o->a & ORACLE_BIT))
		kvh_reply(&r->h, node, o);
}

/* Crash-stop: the node never returns; its clients' requests have unknown outcomes. With the
 * oracle, every live node's P learns of the crash (accurate and complete). */
static void check_quota(struct run *r, uint32_t id);
static void crash(struct run *r, uint32_t id)
{
	check_quota(r, id);
	sim_crash(r->s, id);
	r->ncrash++;
	kvh_crashed(&r->h, id);
	if (!r->oracle)
		return;
	for (uint32_t p = 1; p <= r->cfg.n; p++) {
		if (!sim_is_up(r->s, p))
			continue;
		sim_oracle_tell(r->s, p, ORACLE_BIT | ++r->oracle_reqs, id);
	}
}

/* SM1 on the state: replicas that applied the same number of commands hold the same state. */
static bool replica_state(void *arg, uint32_t id, uint64_t *applied, uint64_t *digest)
{
	struct run *r = arg;
	struct strata_module *m = sim_is_up(r->s, id) ? mod(r, id) : NULL;
	if (!m)
		return false;
	struct smr_status st;
	smr_tobkv_status(m, &st);
	*applied = st.applied_index;
	*digest = smr_kv_digest(smr_tobkv_state(m));
	return true;
}

/* Partitions cut a random node off; the pause takes a random live node. */
/* The space quota's promise: no replica's state ever held more than [smr] quota_bytes (its
 * high-water mark since it was created). */
static void check_quota(struct run *r, uint32_t id)
{
	struct strata_module *m = mod(r, id);
	if (!m || !r->h.quota)
		return;
	uint64_t peak = smr_kv_bytes_peak(smr_tobkv_state(m));
	if (peak > r->cfg.smr_quota_bytes && !r->quota_bad[0])
		snprintf(r->quota_bad, sizeof(r->quota_bad),
			 "quota: node %u's state held %llu bytes, over [smr] quota_bytes = %u", id,
			 (unsigned long long)peak, r->cfg.smr_quota_bytes);
}

static uint32_t random_node(void *arg)
{
	struct run *r = arg;
	return 1 + (uint32_t)sim_random_below(r->s, r->cfg.n);
}

static uint32_t random_up(void *arg)
{
	struct run *r = arg;
	return kvh_random_up(&r->h);
}

static int run_case(uint64_t seed, bool trace, char *why, size_t wl, const char *cons,
		    unsigned faults, unsigned broken)
{
	struct run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	strata_config_defaults(&r->cfg);
	snprintf(r->cfg.cluster_id, sizeof(r->cfg.cluster_id), "sim-tob-kv");
	r->cfg.n = 5;
	r->cfg.f = 2;
	r->oracle = cons[0] != 0;
	r->cfg.model = r->oracle ? STRATA_MODEL_FAIL_STOP : STRATA_MODEL_FAIL_NOISY;
	snprintf(r->cfg.smr_log, sizeof(r->cfg.smr_log), "tob");
	snprintf(r->cfg.tob_consensus, sizeof(r->cfg.tob_consensus), "%s", cons);
	r->cfg.heartbeat_ms = 20;
	r->cfg.timeout_ms = 100;
	r->cfg.retransmit_min_ms = 10;
	r->cfg.retransmit_max_ms = 100;
	r->cfg.smr_timeout_ms = 1500;
	sim_config_loopback(&r->cfg, r->cfg.n, 7700);
	r->broken = broken;
	kvh_init(&r->h, r->cfg.n, NCL);
	r->h.dup_writes = (faults & F_DUPREQ) != 0;
	r->h.cas_is_write = true;
	if (faults & F_QUOTA) {
		r->cfg.smr_quota_bytes = QUOTA_SIM;
		r->h.quota = true;
	}
	/* Nodes nobody watches (no watch event built there), a subset drawn from the seed. */
	r->h.unwatched = kvh_unwatched(seed, r->cfg.n);
	struct sim_opts so = { .seed = seed, .cfg = &r->cfg, .build = build, .output = on_output,
			       .arg = r, .trace = trace, .unwatched = r->h.unwatched };
	r->s = r->h.s = sim_new(&so);
	struct sim *s = r->s;
	struct sim_net calm = { .delay_min_us = 100, .delay_max_us = 1000 };
	sim_set_net(s, &calm);
	sim_start(s);
	sim_run_for(s, 300 * MS, NULL, NULL); /* the detectors settle */
	kvh_start(&r->h);
	if (faults & F_NET)
		kvh_net_faults(s);
	const uint64_t t0 = sim_now(s), t_ops = 1000 * MS;
	struct kvh_faults fs = {
		.part = (faults & F_PART) != 0, .pause = (faults & F_PAUSE) != 0,
		.isolate = (faults & F_ISOLATE) != 0, .part_node = random_node,
		.pause_node = random_up, .arg = r,
	};
	kvh_faults_init(&fs, s, t0, t_ops);
	uint64_t crash_at[2] = { t0 + sim_random_below(s, t_ops / 2),
				 t0 + t_ops / 2 + sim_random_below(s, t_ops / 2) };
	unsigned crashes = (faults & F_CRASH) ? 1 + (unsigned)sim_random_below(s, 2) : 0;
	/* The phase runs on, faults and all, while the workload is short (kvh_short). */
	uint64_t t = t0;
	for (; t < t0 + t_ops || (t < t0 + SIM_OPS_EXTEND * t_ops && kvh_short(&r->h)); t += MS) {
		sim_run_until(s, t, NULL, NULL);
		kvh_faults_step(&r->h, &fs, t);
		if (r->ncrash < crashes && t >= crash_at[r->ncrash]) {
			uint32_t id = kvh_random_up(&r->h);
			if (id)
				crash(r, id);
			else
				crashes--;
		}
		kvh_tick(&r->h, t);
		for (uint32_t id = 1; id <= r->cfg.n && r->h.quota; id++)
			check_quota(r, id);
	}
	r->h.phase_us = t - t0;
	r->h.phase_drawn_us = t_ops;
	sim_heal(s);
	for (uint32_t id = 1; id <= r->cfg.n; id++)
		if (sim_is_paused(s, id))
			sim_resume(s, id);
	sim_set_net(s, &calm);
	int rc = kvh_finish(&r->h, why, wl);
	bool violation = false;
	for (uint32_t id = 1; id <= r->cfg.n && r->h.quota; id++)
		check_quota(r, id);
	if (r->quota_bad[0]) {
		rc = sim_fail(why, wl, "%s", r->quota_bad);
		violation = true;
	}
	rc = kvh_quota_tally(&r->h, rc, why, wl); /* writes refused, deletes that made room */
	if (r->h.quota && (trace || getenv("SIM_KV_VERBOSE")))
		fprintf(stderr, "seed %llu: quota: %u writes refused, %u deletes\n",
			(unsigned long long)seed, r->h.quota_refused, r->h.dels_ok);
	if (!rc)
		rc = kvh_check_agreement(&r->h, why, wl, &violation, replica_state, r, "commands");
	if (!rc)
		rc = kvh_check_history(&r->h, why, wl, &violation);
	if (!rc)
		rc = kvh_check_watch(&r->h, why, wl, &violation);
	if (rc && broken && !violation) {
		fprintf(stderr, "sim_tob_kv: broken variant seed %llu failed for another reason: %s\n",
			(unsigned long long)seed, why);
		exit(1);
	}
	if (trace || getenv("SIM_KV_VERBOSE"))
		fprintf(stderr, "seed %llu: %u ok (%u writes, %u reads), %u info, %u dups, %u "
			"crashes\n", (unsigned long long)seed, r->h.ops_ok, r->h.writes_ok,
			r->h.reads_ok, r->h.info, r->h.dups_sent, r->ncrash);
	sim_free(s);
	kvh_fini(&r->h);
	free(r);
	return rc;
}

static int run_ldc(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, "", F_NET | F_PART | F_PAUSE | F_CRASH | F_DUPREQ, 0);
}

static int run_uhier(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, "uhier", F_NET | F_PART | F_CRASH | F_DUPREQ, 0);
}

static int run_broken_read(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, "", F_PART | F_ISOLATE, SMR_BROKEN_READ_NO_ROUND);
}

static int run_broken_dup(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, "", F_NET | F_DUPREQ, SMR_BROKEN_DUP_APPLY);
}

static int run_quota(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, "",
			F_NET | F_PART | F_PAUSE | F_CRASH | F_DUPREQ | F_QUOTA, 0);
}

static int run_broken_quota(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, "",
			F_NET | F_PART | F_PAUSE | F_CRASH | F_DUPREQ | F_QUOTA,
			SMR_BROKEN_QUOTA_UNCHECKED);
}

static const struct sim_case cases[] = {
	{ "tob-kv-ldc", run_ldc, 30, false },
	{ "tob-kv-uhier", run_uhier, 30, false },
	{ "quota", run_quota, 20, false },
	{ "broken-quota-unchecked", run_broken_quota, 20, true },
	{ "broken-read-local", run_broken_read, 20, true },
	{ "broken-dup-apply", run_broken_dup, 20, true },
};

int main(int argc, char **argv)
{
	return sim_main(argc, argv, "sim_tob_kv", cases, sizeof(cases) / sizeof(cases[0]));
}
