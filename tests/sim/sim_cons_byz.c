/* Simulation suite for Byzantine Leader-Driven Consensus (Alg. 5.19, src/cons/bldc.c) and what
 * it stands on: Byzantine epoch change (5.15, bec.c) over the Byzantine leader detector (2.10,
 * src/fd/bld.c), Byzantine read/write epoch consensus (5.17-5.18, bep.c) over signed
 * conditional collect (5.16, bcollect.c), on the simulator's authenticated links.
 *
 * Every seed: N = 4 (f = 1, odd seeds) or N = 7 (f = 2, even seeds); 1-3 consensus instances.
 * One seed in eight has no Byzantine process (then every correct process proposes the same value
 * on instance 1: weak validity must decide it); the others have f Byzantine processes, each with a
 * behaviour drawn per seed: silent, equivocating (leader: two signed STATEs of its own and one
 * COLLECTED per half; everyone: WRITE and ACCEPT v to odd and v' to even processes), replay
 * (stale STATE (0, ⊥, ∅), previous epochs' WRITE and ACCEPT again, bld and bec replays),
 * lie-state (its STATE claims it accepted a value of its making), complain (about every leader,
 * correct ones included), old-epoch (all its messages of the previous epoch again), forge
 * (leader: others' STATEs replaced by forged ones with a fresh value; complaints about correct
 * leaders, NEWEPOCH ahead of time), badsig (corrupted signatures), or twins (two correct copies
 * of one identity). Byzantine processes propose values starting with 'z' and make up only such
 * values.
 *   - Before stabilisation (1.5 s of virtual time): loss 5-20 %, duplication up to 10 %, delays
 *     up to 20 ms with a 5 % tail of up to 200 ms; proposals at random times by random non-empty
 *     subsets of correct processes; every 10 ms each correct process complains about the leader
 *     its detector trusts with probability 1/100 (a premature timeout: correct leaders are
 *     deposed too, so epochs change while messages are in flight).
 *   - After it: no loss, delays up to 5 ms, complaints only from bldc's own timeouts.
 * Checked at every decision of a correct process:
 *   integrity  - no correct process decides an instance twice;
 *   agreement  - no two correct processes decide an instance differently;
 *   validity   - the decided value is a correct process's proposal on that instance or a value
 *                a Byzantine process made up (starts with 'z'); with no Byzantine process and
 *                one proposed value, it is that value (the book's weak validity, WBC2);
 * and at the end (LIVENESS_MS after stabilisation), termination: every correct process decided
 * every instance some correct process proposed.
 *
 * Broken variants (expect_violation):
 *   broken-bcc-no-sigcheck   correct processes' conditional collect verifies no signature; the
 *                            Byzantine processes forge. A forged COLLECTED that says "unbound"
 *                            overrides the lock-in of a value some correct process decided.
 *   broken-bep-digest-unchecked  WRITE and ACCEPT quorums (digests, bep.c) are acted on with
 *                            the process's own value without checking the digest; the
 *                            Byzantine processes forge, under the storm: a correct process
 *                            decides its value on a quorum that named another.
 *   broken-bep-crash-quorum  N = 7 only (at N = 4 a crash majority, 3, is the Byzantine quorum):
 *                            WRITE/ACCEPT quorums and sound() count N/2 + 1 = 4 instead of 5;
 *                            the two Byzantine processes equivocate: each half of the correct
 *                            processes can gather 4 of a different value.
 *   broken-epoch-bound-ignored  one conditional collect per epoch (bldc.c) with its bound
 *                            ignored: correct leaders propose directly, and correct processes
 *                            write a PROPOSE, on every instance; the Byzantine processes forge,
 *                            under the storm: a leader's PROPOSE overrides a lock-in.
 *   broken-epoch-state-omits correct processes' epoch STATEs omit every instance they wrote or
 *                            accepted in (hw = 0); forge, under the storm: likewise.
 *
 * Sends the links refuse (bldc.c, "Sends the links refuse"): bldc-backlog, N = 4 (f = 1) or 7
 * (f = 2), every process correct, `[links] backlog_bytes` small, a calm network. Every process
 * proposes on instance 1 (the link sessions open); then the links toward one process q (not
 * epoch 0's leader) are cut and every other process's backlog toward q filled to the last byte
 * (lib/filler.h: the node's other traffic), and one other process p alone proposes on instance 2:
 * the others decide without q (N - 1 processes are a Byzantine quorum) and, having heard 2f + 1
 * DECIDED, stop lingering, while q heard nothing of the instance. The links heal 200 ms later; q
 * must decide instance 2 (termination, as everywhere in this suite: every correct process decides
 * every instance a correct process proposed). A seed where nothing was owed to q is vacuous.
 * broken-bldc-backlog-no-owed (cons_bldc_test_no_owed: p's first VALUE and the DECIDED the links
 * refuse are lost) must fail termination. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cons/cons.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"
#include "fd/fd.h"
#include "lib/byz_harness.h"
#include "lib/filler.h"
#include "rt/sim/harness.h"
#include "rt/sim/sim.h"

#define MS BYZH_MS
#define MAXN 7
#define MAXI 8
#define STORM_INST 8
#define MAXP 8 /* proposals recorded per instance */
#define VMAX 48
#define TICK_US (10 * MS)
#define GST_US (1500 * MS)
#define LIVENESS_MS 8000ull

enum variant { V_OK = 0, V_STORM, V_NO_SIGCHECK, V_CRASH_QUORUM, V_NO_DIGEST, V_BOUND_IGNORED,
	       V_EPOCH_OMITS, V_BACKLOG, V_BACKLOG_NO_OWED };

struct val {
	size_t len;
	char v[VMAX];
};

struct run {
	struct byzh h; /* roles, the simulation, whom each process trusts, the first violation */
	enum variant var;
	bool allcorrect;
	unsigned ninst;
	struct val props[MAXI + 1][MAXP];
	unsigned nprops[MAXI + 1];
	bool proposed_correct[MAXI + 1];
	struct byzh_decs d; /* the correct processes' decisions */
	uint64_t decisions;
};

static void build(struct sim *s, struct strata_node *n, void *arg)
{
	struct run *r = arg;
	(void)s;
	char err[256];
	struct strata_module *m = cons_bldc_create(n, err, sizeof(err));
	if (!m) {
		fprintf(stderr, "bldc: %s\n", err);
		abort();
	}
	if (r->var == V_BACKLOG || r->var == V_BACKLOG_NO_OWED)
		sim_filler_add(n);
	if (r->var == V_BACKLOG_NO_OWED)
		cons_bldc_test_no_owed(m);
	if (strata_node_byz(n) != STRATA_BYZ_NONE)
		return;
	if (r->var == V_NO_SIGCHECK)
		cons_bldc_test_no_sigcheck(m);
	else if (r->var == V_CRASH_QUORUM)
		cons_bldc_test_quorum(m, r->h.n / 2 + 1);
	else if (r->var == V_NO_DIGEST)
		cons_bldc_test_no_digest(m);
	else if (r->var == V_BOUND_IGNORED)
		cons_bldc_test_bound_ignored(m);
	else if (r->var == V_EPOCH_OMITS)
		cons_bldc_test_epoch_state_omits(m);
}

static bool is_proposal(const struct run *r, uint64_t inst, const uint8_t *v, size_t len)
{
	for (unsigned k = 0; k < r->nprops[inst]; k++)
		if (r->props[inst][k].len == len && memcmp(r->props[inst][k].v, v, len) == 0)
			return true;
	return false;
}

static void on_decide(struct run *r, uint32_t node, uint64_t inst, const uint8_t *v, size_t len)
{
	struct byzh *h = &r->h;
	uint64_t t = sim_now(h->s) / MS;
	if (inst < 1 || inst > r->ninst) {
		byzh_fail(h, "t=%llums: node %u decided instance %llu, which nobody proposed",
			  (unsigned long long)t, node, (unsigned long long)inst);
		return;
	}
	if (len > VMAX) {
		byzh_fail(h, "t=%llums: node %u decided a %zu-byte value nobody proposed",
			  (unsigned long long)t, node, len);
		return;
	}
	if (r->d.decided[node][inst]) {
		byzh_fail(h, "t=%llums: integrity: node %u decided instance %llu twice",
			  (unsigned long long)t, node, (unsigned long long)inst);
		return;
	}
	r->decisions++;
	byzh_decs_record(h, &r->d, node, inst, v, len, 0);
	bool byz_value = len > 0 && v[0] == 'z';
	if (!is_proposal(r, inst, v, len) && !byz_value) {
		byzh_fail(h, "t=%llums: validity: node %u decided \"%.*s\" on instance %llu, proposed "
			     "by no correct process and made up by no Byzantine one",
			  (unsigned long long)t, node, (int)len, (const char *)v,
			  (unsigned long long)inst);
		return;
	}
	if (r->allcorrect && inst == 1 && r->nprops[1] >= 1 &&
	    (len != r->props[1][0].len || memcmp(v, r->props[1][0].v, len) != 0)) {
		byzh_fail(h, "t=%llums: weak validity: every process is correct and proposed \"%.*s\" "
			     "on instance 1, node %u decided \"%.*s\"",
			  (unsigned long long)t, (int)r->props[1][0].len, r->props[1][0].v, node,
			  (int)len, (const char *)v);
		return;
	}
	uint32_t q = byzh_decs_other(h, &r->d, node, inst, v, len);
	if (q)
		byzh_fail(h, "t=%llums: agreement: on instance %llu node %u decided \"%.*s\", node %u "
			     "\"%.*s\"",
			  (unsigned long long)t, (unsigned long long)inst, q,
			  (int)r->d.val[q][inst].len, r->d.val[q][inst].v, node, (int)len,
			  (const char *)v);
}

static void on_output(struct sim *s, uint32_t node, const struct strata_output *o, void *arg)
{
	struct run *r = arg;
	(void)s;
	if (node < 1 || node > r->h.n || byzh_on_trust(&r->h, node, o))
		return;
	if (o->module != strata_wire_id("bldc") || !byzh_correct(&r->h, node))
		return;
	if (o->kind == STRATA_OUT_DELIVER)
		on_decide(r, node, o->a, o->data, o->len);
}

static void propose(struct run *r, uint32_t node, uint64_t inst, const char *v)
{
	if (byzh_correct(&r->h, node) && r->nprops[inst] < MAXP) {
		struct val *p = &r->props[inst][r->nprops[inst]++];
		p->len = strlen(v);
		memcpy(p->v, v, p->len);
		r->proposed_correct[inst] = true;
	}
	byzh_propose(&r->h, node, "bldc", inst, v);
}

/* Termination is owed on the instances some correct process proposed. */
static bool pending(void *arg, uint32_t p, uint64_t i)
{
	const struct run *r = arg;
	return r->proposed_correct[i] && !r->d.decided[p][i];
}

static const enum strata_byz behaviours[] = {
	STRATA_BYZ_SILENT, STRATA_BYZ_EQUIVOCATE, STRATA_BYZ_REPLAY, STRATA_BYZ_FORGE,
	STRATA_BYZ_BADSIG, STRATA_BYZ_LIE_STATE, STRATA_BYZ_COMPLAIN, STRATA_BYZ_OLD_EPOCH,
	BYZH_TWINS,
};

static int run_case(enum variant var, uint64_t seed, bool trace, char *why, size_t whylen)
{
	struct run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	struct byzh *h = &r->h;
	r->var = var;
	uint32_t n = var == V_CRASH_QUORUM || seed % 2 == 0 ? 7 : 4;
	r->allcorrect = var == V_OK && seed % 8 == 3;
	byzh_config(h, "sim-cons-byz", n, (n - 1) / 3, 7600);
	h->cfg.timeout_ms = 100;
	h->cfg.retransmit_min_ms = 10;
	h->cfg.retransmit_max_ms = 100;
	struct sim *s = byzh_sim_new(h, seed, trace, build, on_output, r, NULL);
	struct sim_net net = byzh_net_storm(s);
	sim_set_net(s, &net);
	enum strata_byz force = STRATA_BYZ_NONE;
	if (var == V_NO_SIGCHECK || var == V_STORM || var == V_NO_DIGEST || var == V_BOUND_IGNORED ||
	    var == V_EPOCH_OMITS)
		force = STRATA_BYZ_FORGE;
	else if (var == V_CRASH_QUORUM)
		force = STRATA_BYZ_EQUIVOCATE;
	byzh_draw(h, r->allcorrect ? 0 : h->f, 0, behaviours,
		  sizeof(behaviours) / sizeof(behaviours[0]), force);
	byzh_start(h);
	sim_run_for(s, 1 * MS, NULL, NULL);

	/* Who proposes what, when (in 10 ms ticks before stabilisation). */
	bool stormy = var == V_STORM || var == V_NO_SIGCHECK || var == V_NO_DIGEST ||
		      var == V_BOUND_IGNORED || var == V_EPOCH_OMITS;
	r->ninst = stormy ? STORM_INST : 1 + (unsigned)sim_random_below(s, 3);
	uint32_t when[MAXN + 1][MAXI + 1];
	char vals[MAXN + 1][MAXI + 1][VMAX];
	for (uint64_t i = 1; i <= r->ninst; i++) {
		uint32_t first = 0;
		for (uint32_t p = 1; p <= n; p++) {
			when[p][i] = UINT32_MAX;
			if (byzh_correct(h, p)) {
				if (sim_random_below(s, 2) || (!first && p == n))
					when[p][i] = (uint32_t)sim_random_below(
						s, GST_US / TICK_US / (stormy ? 1 : 2));
				if (when[p][i] != UINT32_MAX && !first)
					first = p;
			}
			bool same = r->allcorrect && i == 1;
			snprintf(vals[p][i], VMAX, "%s%u-%llu-%llu", byzh_correct(h, p) ? "v" : "z",
				 same ? 0 : p, (unsigned long long)i, (unsigned long long)seed);
		}
		if (!first) /* every instance has a correct proposer */
			when[byzh_pick(h)][i] = 0;
		/* Byzantine processes propose with the first correct proposer. */
		uint32_t t0 = UINT32_MAX;
		for (uint32_t p = 1; p <= n; p++)
			if (byzh_correct(h, p) && when[p][i] < t0)
				t0 = when[p][i];
		for (uint32_t p = 1; p <= n; p++)
			if (!byzh_correct(h, p))
				when[p][i] = var == V_CRASH_QUORUM ? 0 : t0;
	}
	int rc = 0;
	uint32_t tick = 0;
	unsigned storm = stormy ? 10 : 1;
	for (uint64_t t = 0; t < GST_US && rc == 0; t += TICK_US, tick++) {
		for (uint32_t p = 1; p <= n; p++) {
			for (uint64_t i = 1; i <= r->ninst; i++)
				if (when[p][i] == tick)
					propose(r, p, i, vals[p][i]);
			if (byzh_correct(h, p) && sim_random_below(s, 100) < storm)
				byzh_complain(h, p);
		}
		rc = sim_run_for(s, TICK_US, byzh_check, h);
	}
	/* After: runs until every correct process decided every instance (then 200 ms more). */
	if (rc == 0)
		byzh_settle(h, r->ninst, pending, r, LIVENESS_MS * MS);
	int verdict = byzh_finish(h, why, whylen);
	free(r);
	return verdict;
}

/* bldc-backlog (see the top). */
static int backlog_run(enum variant var, uint64_t seed, bool trace, char *why, size_t whylen)
{
	struct run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	struct byzh *h = &r->h;
	r->var = var;
	uint32_t n = seed % 2 == 0 ? 7 : 4;
	byzh_config(h, "sim-cons-byz", n, (n - 1) / 3, 7600);
	h->cfg.timeout_ms = 100;
	h->cfg.retransmit_min_ms = 10;
	h->cfg.retransmit_max_ms = 100;
	h->cfg.backlog_bytes = 16384;
	struct sim *s = byzh_sim_new(h, seed, trace, build, on_output, r, NULL);
	struct sim_net net = { .delay_min_us = 200,
			       .delay_max_us = 300 + sim_random_below(s, 2 * MS) };
	sim_set_net(s, &net);
	byzh_start(h);
	sim_run_for(s, 1 * MS, NULL, NULL);
	r->ninst = 2;
	char v[VMAX];
	for (uint32_t p = 1; p <= n; p++) {
		snprintf(v, sizeof v, "v%u-1-%llu", p, (unsigned long long)seed);
		propose(r, p, 1, v);
	}
	int rc = sim_run_for(s, 300 * MS, byzh_check, h);
	uint32_t q = 2 + (uint32_t)sim_random_below(s, n - 1), p;
	do
		p = 1 + (uint32_t)sim_random_below(s, n);
	while (p == q);
	for (uint32_t x = 1; x <= n; x++)
		if (x != q)
			sim_link(s, x, q, false);
	/* The acknowledgements of what they sent before the cut arrive (q -> x is up) and free
	 * their backlogs; then they are filled, and nothing reaches q. */
	if (!rc)
		rc = sim_run_for(s, 10 * MS, byzh_check, h);
	for (uint32_t x = 1; x <= n && !rc; x++)
		if (x != q)
			sim_filler_fill(s, x, 1000000 + x, q);
	if (!rc)
		rc = sim_run_for(s, 1 * MS, byzh_check, h);
	snprintf(v, sizeof v, "v%u-2-%llu", p, (unsigned long long)seed);
	if (!rc)
		propose(r, p, 2, v);
	if (!rc)
		rc = sim_run_for(s, 200 * MS, byzh_check, h);
	sim_heal(s);
	if (rc == 0)
		byzh_settle(h, r->ninst, pending, r, LIVENESS_MS * MS);
	uint64_t owed = 0;
	for (uint32_t x = 1; x <= n; x++)
		owed += cons_bldc_test_owed(strata_node_module_by_name(sim_node(s, x), "bldc"));
	int verdict = byzh_finish(h, why, whylen);
	free(r);
	if (verdict == 0 && owed == 0 && var == V_BACKLOG)
		verdict = sim_vacuous(why, whylen, "nothing was owed to node %u", q);
	return verdict;
}

BYZH_CASE(bldc_byzantine, run_case, V_OK)
BYZH_CASE(bldc_storm, run_case, V_STORM)
BYZH_CASE(bldc_no_sigcheck, run_case, V_NO_SIGCHECK)
BYZH_CASE(bldc_crash_quorum, run_case, V_CRASH_QUORUM)
BYZH_CASE(bldc_no_digest, run_case, V_NO_DIGEST)
BYZH_CASE(bldc_bound_ignored, run_case, V_BOUND_IGNORED)
BYZH_CASE(bldc_epoch_omits, run_case, V_EPOCH_OMITS)
BYZH_CASE(bldc_backlog, backlog_run, V_BACKLOG)
BYZH_CASE(bldc_backlog_no_owed, backlog_run, V_BACKLOG_NO_OWED)

static const struct sim_case cases[] = {
	{ "bldc-byzantine", bldc_byzantine, 200, false },
	{ "bldc-forge-storm", bldc_storm, 50, false },
	{ "broken-bcc-no-sigcheck", bldc_no_sigcheck, 200, true },
	{ "broken-bep-crash-quorum", bldc_crash_quorum, 200, true },
	{ "broken-bep-digest-unchecked", bldc_no_digest, 1000, true },
	{ "broken-epoch-bound-ignored", bldc_bound_ignored, 1000, true },
	{ "broken-epoch-state-omits", bldc_epoch_omits, 1000, true },
	{ "bldc-backlog", bldc_backlog, 40, false },
	{ "broken-bldc-backlog-no-owed", bldc_backlog_no_owed, 20, true },
};

int main(int argc, char **argv)
{
	return sim_main(argc, argv, "sim_cons_byz", cases, sizeof(cases) / sizeof(cases[0]));
}
