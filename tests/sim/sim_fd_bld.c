/* Simulation suite for Rotating Byzantine Leader Detection (Alg. 2.10, src/fd/bld.c), the leader
 * detector of the fail-arbitrary model.
 *
 * Every seed: N = 4 (f = 1) or N = 7 (f = 2), f Byzantine processes, each with a behaviour drawn
 * per seed: silent, equivocating (complains to half the processes), replaying old rounds'
 * complaints, forging (complains about every leader, correct ones included, as soon as it is
 * trusted, and about the next rounds ahead of time), or twins (two correct copies of one
 * identity). The upper layer of every correct process is the driver:
 *   - before the stabilisation time (1.5 s of virtual time; loss 5-20 %, duplication, delays up
 *     to 20 ms with a heavy tail): every 10 ms a correct process complains about its current
 *     leader with probability 1/100 whoever that is (a premature timeout), and with probability
 *     3/10 when the leader is Byzantine (the timeout of a leader that makes no progress);
 *   - after it (no loss, delays up to 5 ms): every 10 ms each correct process complains about
 *     its leader if, and only if, that leader is Byzantine (a twin's identity included).
 * Checked after every step, among the correct processes:
 *   rounds move one at a time (Trust of round r + 1 follows Trust of round r), and
 *   BLD2 putsch resistance - a correct process trusts the leader of round r + 1 only if some
 *        correct process complained about the leader of round r while trusting it;
 * and at the end, 3 s after stabilisation:
 *   BLD1/BLD3 - every correct process is in the same round and trusts the same process, that
 *        process is correct (Byzantine leaders were complained away; correct ones were not
 *        deposed by the f Byzantine complaints), and nothing changed in the last second.
 *
 * broken-bld-obeys-one-complaint: correct processes move on after 1 complaint instead of 2f + 1
 * (strata_fd_bld_test_move_at), the Byzantine processes complain about every leader: putsch
 * resistance must be caught. broken-bld-never-moves: correct processes never move (65
 * complaints needed): eventual succession must be caught on a seed whose first leader is
 * Byzantine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/error.h"
#include "core/stack.h"
#include "fd/fd.h"
#include "lib/byz_harness.h"
#include "rt/sim/harness.h"
#include "rt/sim/sim.h"

#define MS BYZH_MS
#define MAXN 7
#define MAXR 1024 /* rounds the checker tracks; a run past them fails */
#define TICK_US (10 * MS)
#define GST_US (1500 * MS)
#define SETTLE_US (3000 * MS)
#define STABLE_US (1000 * MS)

struct run {
	struct byzh h; /* roles, the simulation, the first violation */
	bool broken;
	bool stuck; /* broken variant: the detector never moves */
	uint64_t round[MAXN + 1];   /* latest Trust round of each correct process */
	uint32_t leader[MAXN + 1];
	bool complained[MAXR + 1];  /* a correct process complained in round r */
	uint64_t last_change;       /* time of the last Trust of a correct process */
	unsigned moves;
};

static void build(struct sim *s, struct strata_node *n, void *arg)
{
	struct run *r = arg;
	(void)s;
	char err[256];
	struct strata_module *m = strata_fd_bld_create(n, err, sizeof(err));
	if (!m) {
		fprintf(stderr, "bld: %s\n", err);
		abort();
	}
	if (r->broken && strata_node_byz(n) == STRATA_BYZ_NONE)
		strata_fd_bld_test_move_at(m, 1); /* the correct processes' detector is broken */
	if (r->stuck && strata_node_byz(n) == STRATA_BYZ_NONE)
		strata_fd_bld_test_move_at(m, 65); /* more complaints than processes: never moves */
}

/* upon <Trust | p> of a correct process (STRATA_OUT_EVENT of bld: peer = p, a = round) */
static void on_output(struct sim *s, uint32_t node, const struct strata_output *o, void *arg)
{
	struct run *r = arg;
	struct byzh *h = &r->h;
	if (o->kind != STRATA_OUT_EVENT || o->module != strata_wire_id("bld") || node < 1 ||
	    node > h->n || !byzh_correct(h, node))
		return;
	uint64_t t = sim_now(s);
	if (o->a != r->round[node] + 1) {
		byzh_fail(h, "t=%llums: node %u went from round %llu to round %llu",
			  (unsigned long long)(t / MS), node, (unsigned long long)r->round[node],
			  (unsigned long long)o->a);
		return;
	}
	if (o->a > MAXR) {
		byzh_fail(h, "t=%llums: node %u reached round %llu, past the %u rounds tracked",
			  (unsigned long long)(t / MS), node, (unsigned long long)o->a, MAXR);
		return;
	}
	if (o->a > 1 && !r->complained[o->a - 1])
		byzh_fail(h, "t=%llums: putsch resistance: node %u trusts %u (round %llu) though no "
			     "correct process complained about %u (round %llu)",
			  (unsigned long long)(t / MS), node, o->peer, (unsigned long long)o->a,
			  r->leader[node], (unsigned long long)(o->a - 1));
	if (o->a > 1)
		r->moves++;
	r->round[node] = o->a;
	r->leader[node] = o->peer;
	r->last_change = t;
}

/* The upper layer of correct process p: <bld, Complain | leader>. */
static void complain(struct run *r, uint32_t p)
{
	uint64_t rd = r->round[p];
	if (rd == 0 || rd > MAXR)
		return;
	r->complained[rd] = true;
	struct strata_request req = { .id = ++r->h.reqid, .op = STRATA_OP_WRITE,
				      .r = r->leader[p] };
	sim_request(r->h.s, p, "bld", &req);
}

static const enum strata_byz behaviours[] = {
	STRATA_BYZ_SILENT, STRATA_BYZ_EQUIVOCATE, STRATA_BYZ_REPLAY, STRATA_BYZ_FORGE, BYZH_TWINS,
};
static const enum strata_byz complainers[] = {
	STRATA_BYZ_EQUIVOCATE, STRATA_BYZ_REPLAY, STRATA_BYZ_FORGE,
};

static int run_case(bool broken, bool stuck, uint64_t seed, bool trace, char *why, size_t whylen)
{
	struct run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	struct byzh *h = &r->h;
	r->broken = broken;
	r->stuck = stuck;
	uint32_t n = seed % 2 ? 4 : 7;
	byzh_config(h, "sim-fd-bld", n, (n - 1) / 3, 7000);
	struct sim *s = byzh_sim_new(h, seed, trace, build, on_output, r, NULL);
	struct sim_net net = byzh_net_storm(s);
	sim_set_net(s, &net);
	if (broken)
		byzh_draw(h, h->f, 0, complainers, sizeof(complainers) / sizeof(complainers[0]),
			  STRATA_BYZ_NONE);
	else
		byzh_draw(h, h->f, 0, behaviours, sizeof(behaviours) / sizeof(behaviours[0]),
			  STRATA_BYZ_NONE);
	byzh_start(h);

	int rc = 0;
	/* Before stabilisation: premature complaints, and timeouts of Byzantine leaders. */
	for (uint64_t t = 0; t < GST_US && rc == 0; t += TICK_US) {
		for (uint32_t p = 1; p <= h->n; p++) {
			if (!byzh_correct(h, p) || !r->leader[p])
				continue;
			bool bad = !byzh_correct(h, r->leader[p]);
			if (sim_random_below(s, 100) < (bad ? 30u : 1u))
				complain(r, p);
		}
		rc = sim_run_for(s, TICK_US, byzh_check, h);
	}
	/* After: no loss, bounded delays, complaints only about Byzantine leaders. */
	struct sim_net calm = byzh_net_calm();
	sim_set_net(s, &calm);
	uint64_t gst = sim_now(s);
	for (uint64_t t = 0; t < SETTLE_US && rc == 0; t += TICK_US) {
		for (uint32_t p = 1; p <= h->n; p++)
			if (byzh_correct(h, p) && r->leader[p] && !byzh_correct(h, r->leader[p]))
				complain(r, p);
		rc = sim_run_for(s, TICK_US, byzh_check, h);
	}
	if (!h->failed) {
		uint32_t first = 0;
		for (uint32_t p = 1; p <= h->n && !h->failed; p++) {
			if (!byzh_correct(h, p))
				continue;
			if (!first)
				first = p;
			else if (r->round[p] != r->round[first])
				byzh_fail(h, "eventual agreement: %llu ms after stabilisation node %u is "
					     "in round %llu (trusts %u), node %u in round %llu (trusts %u)",
					  (unsigned long long)((sim_now(s) - gst) / MS), first,
					  (unsigned long long)r->round[first], r->leader[first], p,
					  (unsigned long long)r->round[p], r->leader[p]);
		}
		if (!h->failed && !byzh_correct(h, r->leader[first]))
			byzh_fail(h, "eventual succession: %llu ms after stabilisation every correct "
				     "process still trusts Byzantine %u (round %llu)",
				  (unsigned long long)((sim_now(s) - gst) / MS), r->leader[first],
				  (unsigned long long)r->round[first]);
		if (!h->failed && sim_now(s) - r->last_change < STABLE_US)
			byzh_fail(h, "eventual agreement: the trusted leader still changed %llu ms "
				     "before the end",
				  (unsigned long long)((sim_now(s) - r->last_change) / MS));
	}
	int verdict = byzh_finish(h, why, whylen);
	free(r);
	return verdict;
}

BYZH_CASE(bld_byzantine, run_case, false, false)
BYZH_CASE(bld_broken, run_case, true, false)
BYZH_CASE(bld_stuck, run_case, false, true)

static const struct sim_case cases[] = {
	{ "bld-byzantine", bld_byzantine, 1000, false },
	{ "broken-bld-obeys-one-complaint", bld_broken, 20, true },
	{ "broken-bld-never-moves", bld_stuck, 60, true },
};

int main(int argc, char **argv)
{
	return sim_main(argc, argv, "sim_fd_bld", cases, sizeof(cases) / sizeof(cases[0]));
}
