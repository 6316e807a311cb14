/* Simulation suite of Byzantine total-order broadcast, Rotating Sender Byzantine Broadcast
 * (Alg. 6.2, src/cons/btob.c).
 *
 * Every run: a fail-arbitrary cluster, N = 4 and f = 1 (odd seeds) or N = 7 and f = 2 (even
 * seeds), btob over Byzantine leader-driven consensus (bldc, Alg. 5.19). f processes, drawn per
 * seed, are Byzantine, each with a behaviour drawn per seed: silent, equivocate (two signed
 * messages per sequence number), replay (proposes the round sender's delivered message again),
 * forge (proposes messages the round's sender never broadcast), badsig (corrupted signatures),
 * lie-state, complain (about correct leaders too), old-epoch, or twins (a second copy of the
 * identity), each acting in btob and in the consensus under it (bldc, bep, bcollect, bec, bld);
 * or forge, replay or equivocate in btob only while it runs bldc by the book, so that its
 * proposals, when it leads an epoch, are decided (weak validity) and btob's checks of decided
 * values and its complaints are what is exercised. Every process, the Byzantine ones included, broadcasts 6-15 messages in all at
 * random times, with loss, duplication, delay and reordering and a partition healed again. Then
 * the network heals (the stabilisation time) and the run goes on for LIVENESS_MS.
 *
 * Checked among the correct processes (the Byzantine ones' deliveries are not judged):
 *   no duplication   no (sender, seq) delivered twice by one process;
 *   integrity        a message delivered with a correct sender is the one it broadcast with
 *                    that sequence number;
 *   validity         every message a correct process broadcast is delivered by every correct
 *                    process (after healing);
 *   agreement and total order  every correct process delivered the same sequence of
 *                    messages (sender, seq, payload), the Byzantine sender's included.
 *
 * btob-overlap: the same runs (30 seeds) with 2 (N = 4) or 3 (N = 7) rounds with messages in
 * flight at once (cons_btob_set_overlap, the BFT KV's `[smr] bft_overlap`).
 *
 * Broken variant (expect_violation): broken-trust-decision, btob delivers a decided message as
 * the sender it names without checking its signature or that it is the round sender's; N = 4,
 * the Byzantine process is node 1 (bldc's first leader) and forges in btob only.
 * broken-sig-header-only, the same runs with signatures whose digest leaves the payload out
 * (BTOB_BROKEN_SIG_HEADER at every process): node 1's altered copies of genuine
 * messages (the sender's signature kept) verify and are delivered. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cons/cons.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/stack.h"
#include "fd/fd.h"
#include "rt/sim/harness.h"
#include "rt/sim/sim.h"

#include "lib/build.h"
#include "lib/faults.h"

#define MAXN 7
#define MS 1000ull
#define MAXD 96
#define MAXB 32
#define LIVENESS_MS 4000

struct dlv {
	uint32_t sender;
	uint64_t seq;
	char p[48];
};

struct run {
	struct sim *s;
	struct strata_config cfg;
	uint16_t wire;
	uint32_t n, f;
	bool byz[MAXN + 1]; /* Byzantine or a twin: not judged */
	enum strata_byz what[MAXN + 1];
	bool only[MAXN + 1]; /* the behaviour acts in btob only, the consensus runs correctly */
	uint32_t ref;       /* a correct process */
	uint64_t batch_rounds, batch_msgs; /* at ref: rounds that delivered, messages they did */
	bool trust;
	unsigned broken; /* BTOB_BROKEN_* at every process (a broken variant) */
	struct dlv d[MAXN + 1][MAXD];
	unsigned nd[MAXN + 1];
	char sent[MAXN + 1][MAXB][48]; /* payload broadcast with seq k + 1 */
	unsigned nsent[MAXN + 1];
	uint64_t reqid;
	unsigned nbcast;
	char why[256];
};

static void fail(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct run *r, const char *fmt, ...)
{
	if (r->why[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
}

static void copy_payload(char dst[48], const uint8_t *p, size_t len)
{
	size_t n = len < 47 ? len : 47;
	if (n)
		memcpy(dst, p, n);
	dst[n] = 0;
}

static void on_output(struct sim *s, uint32_t node, const struct strata_output *o, void *arg)
{
	struct run *r = arg;
	(void)s;
	if (o->module != r->wire)
		return;
	if (o->kind == STRATA_OUT_BCAST) {
		if (o->a >= 1 && o->a <= MAXB) {
			copy_payload(r->sent[node][o->a - 1], o->data, o->len);
			if (o->a > r->nsent[node])
				r->nsent[node] = (unsigned)o->a;
		}
		return;
	}
	if (o->kind == STRATA_OUT_REPLY && o->status != 0 && o->status != STRATA_EFULL) {
		fail(r, "node %u refused a broadcast: %s", node, strata_strerror(o->status));
		return;
	}
	if (o->kind != STRATA_OUT_DELIVER || r->byz[node])
		return;
	uint32_t snd = o->peer;
	for (unsigned k = 0; k < r->nd[node]; k++)
		if (r->d[node][k].sender == snd && r->d[node][k].seq == o->a)
			fail(r, "no duplication: node %u delivered %u/%llu twice", node, snd,
			     (unsigned long long)o->a);
	char p[48];
	copy_payload(p, o->data, o->len);
	if (snd >= 1 && snd <= r->n && !r->byz[snd]) {
		if (o->a < 1 || o->a > r->nsent[snd] || strcmp(r->sent[snd][o->a - 1], p) != 0)
			fail(r, "integrity: node %u delivered \"%s\" as %u/%llu, which %u never "
			     "broadcast", node, p, snd, (unsigned long long)o->a, snd);
	}
	if (r->nd[node] < MAXD) {
		struct dlv *x = &r->d[node][r->nd[node]++];
		x->sender = snd;
		x->seq = o->a;
		memcpy(x->p, p, sizeof(p));
	}
}

static int step_check(struct sim *s, void *arg)
{
	(void)s;
	return ((struct run *)arg)->why[0] ? 1 : 0;
}

static void build(struct sim *s, struct strata_node *n, void *arg)
{
	struct run *r = arg;
	(void)s;
	simb_fd(n);
	struct strata_module *m = simb_algo(n, "btob");
	uint32_t id = strata_node_id(n);
	if (r->only[id])
		cons_btob_test_byz(m, r->what[id]);
	else if (r->trust && !r->byz[id])
		cons_btob_test_trust(m);
	if (r->broken) /* every process: the signature format of the whole cluster */
		cons_btob_test_broken(m, r->broken);
}

/* Over every seed of the run (batching must happen somewhere: checked at the end). */
static uint64_t total_rounds, total_msgs;

static const enum strata_byz behaviours[] = {
	STRATA_BYZ_SILENT, STRATA_BYZ_EQUIVOCATE, STRATA_BYZ_REPLAY, STRATA_BYZ_FORGE,
	STRATA_BYZ_BADSIG, STRATA_BYZ_LIE_STATE, STRATA_BYZ_COMPLAIN, STRATA_BYZ_OLD_EPOCH,
	STRATA_BYZ_NONE /* = twins */,
	/* in btob only, the consensus correct (cons_btob_test_byz): its values can be decided */
	STRATA_BYZ_FORGE, STRATA_BYZ_REPLAY, STRATA_BYZ_EQUIVOCATE,
};
#define NBEHAVIOURS (sizeof(behaviours) / sizeof(behaviours[0]))
#define FIRST_ONLY 9u

static void broadcast(struct run *r, uint32_t q)
{
	char payload[48];
	int len = snprintf(payload, sizeof(payload), "m%u-%u-%llu", q, r->nbcast++,
			   (unsigned long long)sim_seed(r->s));
	struct strata_request req = { .id = ++r->reqid, .op = STRATA_OP_BROADCAST,
				      .value = (const uint8_t *)payload, .value_len = (size_t)len };
	sim_request(r->s, q, "btob", &req);
}

/* Validity, agreement and total order at the end: one sequence at every correct process. */
static int final_check(struct run *r, char *why, size_t wl)
{
	uint32_t ref = r->ref;
	for (uint32_t q = 1; q <= r->n; q++) {
		if (r->byz[q] || q == ref)
			continue;
		unsigned n = r->nd[q] < r->nd[ref] ? r->nd[q] : r->nd[ref];
		for (unsigned k = 0; k < n; k++) {
			const struct dlv *a = &r->d[ref][k], *b = &r->d[q][k];
			if (a->sender != b->sender || a->seq != b->seq || strcmp(a->p, b->p) != 0)
				return sim_fail(why, wl, "total order: delivery %u is %u/%llu \"%s\" at "
						"node %u but %u/%llu \"%s\" at node %u", k + 1,
						a->sender, (unsigned long long)a->seq, a->p, ref,
						b->sender, (unsigned long long)b->seq, b->p, q);
		}
		if (r->nd[q] != r->nd[ref])
			return sim_fail(why, wl, "agreement: node %u delivered %u messages, node %u %u",
					ref, r->nd[ref], q, r->nd[q]);
	}
	for (uint32_t snd = 1; snd <= r->n; snd++) {
		if (r->byz[snd])
			continue;
		for (unsigned k = 0; k < r->nsent[snd]; k++) {
			bool found = false;
			for (unsigned j = 0; j < r->nd[ref] && !found; j++)
				found = r->d[ref][j].sender == snd && r->d[ref][j].seq == k + 1;
			if (!found)
				return sim_fail(why, wl, "validity: %u/%u (\"%s\") of a correct sender "
						"was not delivered", snd, k + 1, r->sent[snd][k]);
		}
	}
	return 0;
}

static int run_case(uint64_t seed, bool trace, char *why, size_t wl, bool trust,
		    uint32_t overlap, unsigned broken)
{
	struct run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	r->trust = trust;
	r->broken = broken;
	/* a broken variant: node 1 forges in btob only, as for broken-trust-decision */
	trust = trust || broken;
	r->wire = strata_algo_find("btob")->wire_id;
	strata_config_defaults(&r->cfg);
	snprintf(r->cfg.cluster_id, sizeof(r->cfg.cluster_id), "sim-btob");
	r->n = trust || seed % 2 == 1 ? 4 : 7;
	r->f = (r->n - 1) / 3;
	r->cfg.n = r->n;
	r->cfg.f = r->f;
	r->cfg.model = STRATA_MODEL_FAIL_ARBITRARY;
	r->cfg.heartbeat_ms = 20;
	r->cfg.timeout_ms = 100;
	r->cfg.retransmit_min_ms = 10;
	r->cfg.retransmit_max_ms = 100;
	sim_config_loopback(&r->cfg, r->n, 7900);
	struct sim_opts so = { .seed = seed, .cfg = &r->cfg, .build = build, .output = on_output,
			       .arg = r, .trace = trace };
	r->s = sim_new(&so);
	struct sim *s = r->s;
	uint32_t twins[MAXN + 1], ntwins = 0;
	for (uint32_t k = 0; k < r->f; k++) {
		uint32_t p;
		do
			p = trust ? 1 : 1 + (uint32_t)sim_random_below(s, r->n);
		while (r->byz[p]);
		r->byz[p] = true;
		unsigned b = trust ? FIRST_ONLY : (unsigned)sim_random_below(s, NBEHAVIOURS);
		r->what[p] = behaviours[b];
		r->only[p] = b >= FIRST_ONLY;
		if (r->only[p])
			continue;
		if (r->what[p] == STRATA_BYZ_NONE)
			twins[ntwins++] = p;
		else
			sim_set_byz(s, p, r->what[p]);
	}
	for (r->ref = 1; r->byz[r->ref]; r->ref++)
		;
	struct sim_net net = {
		.drop = 0.05 + sim_random_unit(s) * 0.15, .dup = sim_random_unit(s) * 0.1,
		.delay_min_us = 200, .delay_max_us = 200 + sim_random_below(s, 5 * MS),
		.tail = 0.03, .tail_us = 100 * MS,
	};
	sim_set_net(s, &net);
	sim_start(s);
	for (uint32_t k = 0; k < ntwins; k++)
		sim_twin(s, twins[k]);
	if (overlap > 1) /* rounds with messages in flight at once (the BFT KV's bft_overlap) */
		for (uint32_t q = 1; q <= r->n; q++) {
			struct strata_module *bm = strata_node_module_by_name(sim_node(s, q), "btob");
			if (bm)
				cons_btob_set_overlap(bm, overlap);
		}
	sim_run_for(s, 1 * MS, NULL, NULL);
	unsigned max = 6 + (unsigned)sim_random_below(s, 10);
	bool parted = false;
	int rc = 0;
	for (int chunk = 0; chunk < 40 && !rc; chunk++) {
		if (r->nbcast < max && sim_random_unit(s) < 0.4)
			broadcast(r, 1 + (uint32_t)sim_random_below(s, r->n));
		simf_partition_step(s, r->n, &parted, trust ? 0 : 0.05, false);
		rc = sim_run_for(s, 10 * MS, step_check, r);
	}
	if (!rc) {
		sim_heal(s);
		struct sim_net calm = { .drop = 0.02, .delay_min_us = 200, .delay_max_us = 3 * MS };
		sim_set_net(s, &calm);
		rc = sim_run_for(s, LIVENESS_MS * MS, step_check, r);
	}
	if (rc || r->why[0])
		rc = sim_fail(why, wl, "t=%llums: %s", (unsigned long long)(sim_now(s) / MS), r->why);
	else
		rc = final_check(r, why, wl);
	uint64_t rounds = 0, msgs = 0;
	struct strata_module *bm = strata_node_module_by_name(sim_node(s, r->ref), "btob");
	if (bm)
		cons_btob_counts(bm, &rounds, &msgs);
	r->batch_rounds = rounds;
	r->batch_msgs = msgs;
	if (!trust && overlap <= 1) {
		total_rounds += rounds;
		total_msgs += msgs;
	}
	if (trace || getenv("SIM_BTOB_VERBOSE"))
	{
		fprintf(stderr, "seed %llu: N = %u, byzantine:", (unsigned long long)seed, r->n);
		for (uint32_t q = 1; q <= r->n; q++)
			if (r->byz[q])
				fprintf(stderr, " %u (%s%s)", q,
					r->what[q] ? strata_byz_name(r->what[q]) : "twins",
					r->only[q] ? " in btob only" : "");
		fprintf(stderr, "; %u broadcasts, node %u delivered %u in %llu rounds\n", r->nbcast,
			r->ref, r->nd[r->ref], (unsigned long long)r->batch_rounds);
	}
	sim_free(s);
	free(r);
	return rc;
}

static int run_btob(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, false, 1, 0);
}

/* The same with 2 (N = 4) or 3 (N = 7) rounds with messages in flight at once. */
static int run_overlap(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, false, seed % 2 == 1 ? 2 : 3, 0);
}

static int run_trust(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, true, 1, 0);
}

static int run_sig_header(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_case(seed, trace, why, wl, false, 1, BTOB_BROKEN_SIG_HEADER);
}

static const struct sim_case cases[] = {
	{ "btob-byzantine", run_btob, 100, false },
	{ "btob-overlap", run_overlap, 30, false },
	{ "broken-trust-decision", run_trust, 20, true },
	{ "broken-sig-header-only", run_sig_header, 20, true },
};

int main(int argc, char **argv)
{
	int rc = sim_main(argc, argv, "sim_btob", cases, sizeof(cases) / sizeof(cases[0]));
	if (total_rounds) {
		printf("sim_btob: batching: %llu messages in %llu rounds that delivered (%.2f per "
		       "round)\n", (unsigned long long)total_msgs, (unsigned long long)total_rounds,
		       (double)total_msgs / (double)total_rounds);
		if (total_msgs <= total_rounds) {
			printf("FAIL sim_btob: no round ever ordered more than one message (batching is "
			       "vacuous)\n");
			rc = 1;
		}
	}
	return rc;
}
