/* Simulation suite of the Byzantine registers (src/reg/bmq.c, adbq.c, dwbq.c, bql.c).
 *
 * Every run: n = 5 for bmq (f = 1, N > 4f), n = 4 or 7 for the others (f = 1 or 2, N > 3f). The
 * writer (node 1) is correct; f other nodes are faulty: each is Byzantine with a behaviour drawn
 * per seed (silent, equivocate, replay, forge, badsig), or, in some seeds, a twin (two correct
 * copies of one identity answering independently). One client writes at the writer, four read
 * at correct nodes, on two keys, concurrently, one operation at a time each, recording a
 * Jepsen-shaped history (invoke / ok, virtual times). Meanwhile the network drops, duplicates,
 * delays and reorders datagrams, and one node is cut off for a while. Then the network heals and
 * every operation of a correct client must complete within 5 s (liveness); the 400 ms operation
 * phase runs on while fewer than 3 reads completed, up to 3 times its length (SIM_OPS_EXTEND),
 * and a run still short then fails. The history is judged
 * by src/check: bmq must be safe, adbq and dwbq regular, bql atomic (linearizable). Correct nodes
 * must also have rejected and counted the faulty node's detectable lies (bad signatures, bodies
 * that do not decode).
 *
 * Broken variants (expect_violation), to show the checks are not vacuous:
 *   bmq-below-resilience  bmq on n = 4, f = 1 (N > 4f does not hold; built through the
 *                         test-only knob skip_resilience) with a forging replica: safety fails;
 *   adbq-noverify-forge   adbq with signature verification off (test-only knob skip_verify)
 *                         and a forging replica: regularity fails;
 *   dwbq-judged-atomic    a regular Byzantine register produces non-atomic histories: the
 *                         atomic checker rejects one that the regular checker accepts (a run
 *                         whose history the regular checker rejects aborts the suite).
 * A broken variant counts as caught only by a checker's verdict: a vacuous run is skipped, and a
 * liveness failure or an error reply in one aborts the suite.
 *
 * Sends the links refuse (byz_algos.c, byz_send, and core.c, reg_send: owed): byz-backlog, the
 * register drawn per seed (bmq, adbq, dwbq, bql), `[links] backlog_bytes` small, a calm network,
 * the f faulty nodes silent. The writer (node 1) writes key x once (the link sessions open);
 * then the links from every other correct node to the writer are cut and their backlogs toward
 * it filled to the last byte (lib/filler.h: the node's other traffic), and the writer writes
 * again: every answer but its own is refused by the links, so it holds fewer than a quorum
 * (every quorum here needs a correct node besides the writer) and nothing repeats an answer.
 * Owed, and sent when the links heal 200 ms later, they let the write complete (within 3 s);
 * then a read at a correct node must return that value (a read after a completed write, with
 * no write concurrent: safe, regular and atomic registers alike). A seed where no node owed an
 * answer is vacuous. broken-byz-backlog-no-owed (reg_test_no_owed: a refused message is lost)
 * must not complete the write. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/check.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/stack.h"
#include "lib/byz_harness.h"
#include "lib/filler.h"
#include "reg/byz.h"
#include "rt/sim/harness.h"
#include "rt/sim/sim.h"

#include "lib/history_verdict.h"
#include "links/links.h"

#define NCL 5
#define MS 1000ull

enum variant { V_NORMAL, V_BELOW_RESILIENCE, V_NO_VERIFY, V_JUDGED_ATOMIC, V_BACKLOG,
	       V_BACKLOG_NO_OWED };
#define BK_REQ 0xb4c0000000000001ull /* byz-backlog: its write's and read's request id */

struct client {
	uint32_t node;
	int64_t proc;
	bool busy, writer;
	uint64_t req_id, seq, next_at;
	bool write;
	const char *key;
	char val[24];
};

struct run {
	struct byzh h; /* the cluster, roles and twins, the simulation */
	const char *algo;
	enum variant variant;
	struct client cl[NCL];
	FILE *hist;
	char *hbuf;
	size_t hlen;
	int error;
	char errtxt[256];
	unsigned ops_ok, reads_ok;
	bool bk_got, bk_found; /* byz-backlog: its request's reply came; the value was found */
	int bk_status;
	char bk_val[64];
};

static const char *keys[] = { "x", "y" };

static void build(struct sim *s, struct strata_node *n, void *arg)
{
	struct run *r = arg;
	char err[256];
	struct strata_module *m;
	/* TEST ONLY: the knobs of struct reg_byz_test, for the broken variants. */
	struct reg_byz_test t = { .skip_resilience = r->variant == V_BELOW_RESILIENCE,
				  .skip_verify = r->variant == V_NO_VERIFY };
	if (!strcmp(r->algo, "bmq"))
		m = reg_bmq_create_test(n, &t, err, sizeof(err));
	else if (!strcmp(r->algo, "adbq"))
		m = reg_adbq_create_test(n, &t, err, sizeof(err));
	else
		m = strata_algo_create(strata_algo_find(r->algo), n, err, sizeof(err));
	if (!m) {
		fprintf(stderr, "build: %s\n", err);
		abort();
	}
	if (r->variant == V_BACKLOG || r->variant == V_BACKLOG_NO_OWED)
		sim_filler_add(n);
	if (r->variant == V_BACKLOG_NO_OWED)
		reg_test_no_owed(m);
}

static void record(struct run *r, struct client *c, enum strata_hist_type t, const char *value)
{
	strata_history_append(r->hist, c->proc, t, c->write ? STRATA_HIST_WRITE : STRATA_HIST_READ,
			      c->key, value, NULL, sim_now(r->h.s) * 1000);
}

static void on_output(struct sim *s, uint32_t node, const struct strata_output *o, void *arg)
{
	struct run *r = arg;
	if (o->kind != STRATA_OUT_REPLY)
		return;
	if (o->a == BK_REQ) {
		r->bk_got = true;
		r->bk_status = o->status;
		r->bk_found = (o->b & STRATA_REPLY_FOUND) != 0;
		size_t len = o->len < sizeof(r->bk_val) - 1 ? o->len : sizeof(r->bk_val) - 1;
		if (len)
			memcpy(r->bk_val, o->data, len);
		r->bk_val[len] = 0;
		return;
	}
	for (unsigned k = 0; k < NCL; k++) {
		struct client *c = &r->cl[k];
		if (!c->busy || c->req_id != o->a || c->node != node)
			continue;
		c->busy = false;
		c->next_at = sim_now(s) + sim_random_below(s, (c->writer ? 25 : 8) * MS);
		if (o->status != 0) {
			if (!r->error) {
				r->error = 1;
				snprintf(r->errtxt, sizeof(r->errtxt), "node %u: error reply %d (%s)",
					 node, o->status, o->text ? o->text : "");
			}
			record(r, c, STRATA_HIST_FAIL, c->write ? c->val : NULL);
			return;
		}
		r->ops_ok++;
		if (c->write) {
			record(r, c, STRATA_HIST_OK, c->val);
			return;
		}
		r->reads_ok++;
		if (o->b & STRATA_REPLY_FOUND) {
			char v[64];
			size_t len = o->len < sizeof(v) - 1 ? o->len : sizeof(v) - 1;
			memcpy(v, o->data, len);
			v[len] = 0;
			record(r, c, STRATA_HIST_OK, v);
		} else {
			record(r, c, STRATA_HIST_OK, NULL);
		}
		return;
	}
}

static void issue(struct run *r, struct client *c)
{
	struct sim *s = r->h.s;
	c->write = c->writer;
	c->key = keys[sim_random_below(s, 2)];
	c->seq++;
	snprintf(c->val, sizeof(c->val), "%lld.%llu", (long long)c->proc, (unsigned long long)c->seq);
	c->req_id = ((uint64_t)(c - r->cl) << 32) | c->seq;
	c->busy = true;
	record(r, c, STRATA_HIST_INVOKE, c->write ? c->val : NULL);
	struct strata_request q = {
		.id = c->req_id,
		.op = c->write ? STRATA_OP_WRITE : STRATA_OP_READ,
		.key = (const uint8_t *)c->key,
		.key_len = strlen(c->key),
		.value = c->write ? (const uint8_t *)c->val : NULL,
		.value_len = c->write ? strlen(c->val) : 0,
	};
	sim_request(s, c->node, r->algo, &q);
}

static int all_idle(struct sim *s, void *arg)
{
	struct run *r = arg;
	for (unsigned k = 0; k < NCL; k++)
		if (r->cl[k].busy)
			return 0;
	return 1;
}

static int check_history(struct run *r, enum strata_check_model model, char *why, size_t wl)
{
	return simh_check_history(r->hist, &r->hbuf, &r->hlen, model, why, wl, NULL);
}

static const enum strata_byz behaviours[] = {
	STRATA_BYZ_SILENT, STRATA_BYZ_EQUIVOCATE, STRATA_BYZ_REPLAY, STRATA_BYZ_FORGE,
	STRATA_BYZ_BADSIG,
};

/* Faulty nodes: f of 2..n, each with a behaviour; in one seed out of five the first is a twin
 * instead. The broken variants use a forging replica. */
static void pick_faults(struct run *r, uint64_t seed)
{
	struct byzh *h = &r->h;
	h->pick_from = 2; /* the writer is correct */
	for (uint32_t k = 0; k < h->f; k++) {
		uint32_t id = byzh_pick(h);
		if (r->variant == V_BELOW_RESILIENCE || r->variant == V_NO_VERIFY)
			byzh_make(h, id, STRATA_BYZ_FORGE, false);
		else if (k == 0 && seed % 5 == 2)
			byzh_make(h, id, STRATA_BYZ_NONE, true);
		else
			byzh_make(h, id,
				  behaviours[sim_random_below(h->s, sizeof(behaviours) /
									sizeof(behaviours[0]))],
				  false);
	}
}

/* Whether correct nodes can see the faulty nodes' lies (and so must count some). */
static bool detectable(const struct run *r)
{
	for (uint32_t id = 1; id <= r->h.n; id++) {
		if (r->h.beh[id] == STRATA_BYZ_BADSIG)
			return true;
		/* A forger also sends WRITEs as if it were the writer. Equivocation lies only to
		 * even-numbered readers, which a seed may not have. */
		if (r->h.beh[id] == STRATA_BYZ_FORGE)
			return true;
	}
	return false;
}

static void describe(const struct run *r, char *out, size_t len)
{
	int o = snprintf(out, len, "n=%u f=%u", r->h.n, r->h.f);
	if (o > 0 && (size_t)o < len)
		byzh_who(&r->h, out + o, len - (size_t)o);
}

/* The non-vacuity minimum: completed reads. */
#define MIN_READS 3

static void run_free(struct run *r, struct sim *s)
{
	sim_free(s);
	fclose(r->hist);
	free(r->hbuf);
	free(r);
}

static int run_variant(const char *algo, enum variant variant, uint64_t seed, bool trace,
		       char *why, size_t wl)
{
	struct run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	struct byzh *h = &r->h;
	r->algo = algo;
	r->variant = variant;
	uint32_t n = strcmp(algo, "bmq") ? (seed % 2 ? 4 : 7) : variant == V_BELOW_RESILIENCE ? 4 : 5;
	byzh_config(h, "sim-reg-byz", n, n == 7 ? 2 : 1, 7000);
	h->cfg.writer = 1;
	r->hist = open_memstream(&r->hbuf, &r->hlen);
	struct sim *s = byzh_sim_new(h, seed, trace, build, on_output, r, NULL);
	struct sim_net net = {
		.drop = sim_random_unit(s) * 0.2,
		.dup = sim_random_unit(s) * 0.1,
		.delay_min_us = 100,
		.delay_max_us = 100 + sim_random_below(s, 3000),
		.tail = 0.05,
		.tail_us = 20 * MS,
	};
	sim_set_net(s, &net);
	pick_faults(r, seed);
	/* Clients: the writer at node 1, readers at correct nodes (the writer's included). */
	uint32_t correct[STRATA_MAX_NODES], nc = 0;
	for (uint32_t id = 1; id <= n; id++)
		if (byzh_correct(h, id))
			correct[nc++] = id;
	for (unsigned k = 0; k < NCL; k++) {
		struct client *c = &r->cl[k];
		c->proc = k + 1;
		c->writer = k == 0;
		c->node = k == 0 ? 1 : correct[sim_random_below(s, nc)];
		c->next_at = sim_random_below(s, 5 * MS);
	}
	byzh_start(h);

	const uint64_t t_ops = 400 * MS;
	uint64_t part_at = sim_random_below(s, t_ops), part_len = sim_random_below(s, 150 * MS);
	uint64_t part_mask = 1ull << (1 + sim_random_below(s, n));
	bool parted = false, healed = false;
	/* The phase runs on, faults and all, while fewer than MIN_READS reads completed, up to
	 * SIM_OPS_EXTEND times its length (docs/simulator.md, "A short operation phase runs on"). */
	for (uint64_t t = 0; t < t_ops || (t < SIM_OPS_EXTEND * t_ops && r->reads_ok < MIN_READS);
	     t += MS) {
		sim_run_until(s, t, NULL, NULL);
		if (!parted && t >= part_at) {
			uint64_t all = (1ull << (n + 1)) - 2;
			sim_partition(s, part_mask, all & ~part_mask);
			parted = true;
		}
		if (parted && !healed && t >= part_at + part_len) {
			sim_heal(s);
			healed = true;
		}
		for (unsigned k = 0; k < NCL; k++)
			if (!r->cl[k].busy && t >= r->cl[k].next_at)
				issue(r, &r->cl[k]);
	}
	uint64_t ops_end = sim_now(s);
	/* Liveness: heal, calm the network, every correct client's operation must complete. */
	sim_heal(s);
	struct sim_net calm = { .delay_min_us = 100, .delay_max_us = 2000 };
	sim_set_net(s, &calm);
	sim_run_until(s, sim_now(s) + 5000 * MS, all_idle, r);
	char faults[160];
	describe(r, faults, sizeof(faults));
	int rc = 0;
	for (unsigned k = 0; k < NCL && !rc; k++)
		if (r->cl[k].busy)
			rc = sim_fail(why, wl,
				      "liveness (%s): client %u's %s on node %u did not complete within "
				      "5 s after healing",
				      faults, k, r->cl[k].write ? "write" : "read", r->cl[k].node);
	if (!rc && r->error)
		rc = sim_fail(why, wl, "%s (%s)", r->errtxt, faults);
	if (!rc && r->reads_ok < MIN_READS)
		rc = sim_fail(why, wl, "only %u reads completed (%s) in a %llu ms operation phase "
			      "(%llu ms, run on while short): vacuous run", r->reads_ok, faults,
			      (unsigned long long)(ops_end / MS), (unsigned long long)(t_ops / MS));
	if (!rc && variant == V_NORMAL && detectable(r)) {
		uint64_t rej = 0;
		for (uint32_t id = 1; id <= n; id++)
			if (byzh_correct(h, id))
				rej += strata_node_counters(sim_node(s, id))->rej_payload;
		if (rej == 0)
			rc = sim_fail(why, wl, "correct nodes counted no bad payload (%s)", faults);
	}
	if (rc && variant != V_NORMAL) {
		/* A broken variant is caught only by a checker's verdict: a vacuous run proves
		 * nothing, and a liveness failure or an error reply is a bug of its own. */
		if (r->reads_ok < MIN_READS && !strstr(why, "liveness")) {
			rc = 0;
			goto out;
		}
		fprintf(stderr, "sim_reg_byz: broken variant of %s, seed %llu: %s\n", algo,
			(unsigned long long)seed, why);
		exit(1);
	}
	if (!rc) {
		enum strata_check_model model = !strcmp(algo, "bmq")	 ? STRATA_CHECK_SAFE
						: !strcmp(algo, "bql") ? STRATA_CHECK_ATOMIC
									 : STRATA_CHECK_REGULAR;
		if (variant == V_JUDGED_ATOMIC) {
			if (check_history(r, STRATA_CHECK_REGULAR, why, wl) != 0) {
				fprintf(stderr, "sim_reg_byz: %s seed %llu: the regular checker rejects "
						"the history (%s): %s\n",
					algo, (unsigned long long)seed, faults, why);
				exit(1);
			}
			model = STRATA_CHECK_ATOMIC;
		}
		rc = check_history(r, model, why, wl);
		if (rc) {
			size_t l = strlen(why);
			snprintf(why + l, wl - l, " [%s]", faults);
		}
	}
out:
	run_free(r, s);
	return rc;
}

/* byz-backlog: a write (v) or a read (v NULL) of key x at node, waiting up to 3 s for its
 * reply, the links healed heal_after_us into it (0: not); 1 when no reply came. */
static int bk_op(struct run *r, uint32_t node, const char *v, uint64_t heal_after_us)
{
	struct sim *s = r->h.s;
	struct strata_request q = {
		.id = BK_REQ, .op = v ? STRATA_OP_WRITE : STRATA_OP_READ,
		.key = (const uint8_t *)"x", .key_len = 1, .value = (const uint8_t *)v,
		.value_len = v ? strlen(v) : 0,
	};
	r->bk_got = false;
	sim_request(s, node, r->algo, &q);
	if (heal_after_us) {
		sim_run_until(s, sim_now(s) + heal_after_us, NULL, NULL);
		sim_heal(s);
	}
	for (unsigned k = 0; k < 3000 && !r->bk_got; k++)
		sim_run_until(s, sim_now(s) + MS, NULL, NULL);
	return r->bk_got ? r->bk_status : 1;
}

static uint64_t bk_owed(struct run *r, uint32_t q)
{
	struct strata_pl_owed_counts c;
	reg_test_owed_counts(strata_node_module_by_name(sim_node(r->h.s, q), r->algo), &c);
	return c.refused;
}

static int run_backlog(enum variant variant, uint64_t seed, bool trace, char *why, size_t wl)
{
	static const char *const algos[] = { "bmq", "adbq", "dwbq", "bql" };
	struct run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	struct byzh *h = &r->h;
	r->algo = algos[seed % 4];
	r->variant = variant;
	uint32_t n = strcmp(r->algo, "bmq") ? (seed / 4 % 2 ? 4 : 7) : 5;
	byzh_config(h, "sim-reg-byz", n, n == 7 ? 2 : 1, 7000);
	h->cfg.writer = 1;
	h->cfg.backlog_bytes = 16384;
	r->hist = open_memstream(&r->hbuf, &r->hlen);
	struct sim *s = byzh_sim_new(h, seed, trace, build, on_output, r, NULL);
	struct sim_net calm = { .delay_min_us = 100,
				.delay_max_us = 100 + sim_random_below(s, 2000) };
	sim_set_net(s, &calm);
	h->pick_from = 2; /* the writer is correct */
	for (uint32_t k = 0; k < h->f; k++)
		byzh_make(h, byzh_pick(h), STRATA_BYZ_SILENT, false);
	byzh_start(h);
	char faults[160];
	describe(r, faults, sizeof(faults));
	int rc = 0;
	int st = bk_op(r, 1, "v1", 0); /* the link sessions open */
	if (st != 0) {
		rc = sim_fail(why, wl, "%s: first write: status %d (%s)", r->algo, st, faults);
		goto out;
	}
	uint64_t owed0 = 0, owed1 = 0;
	for (uint32_t q = 2; q <= n; q++)
		if (byzh_correct(h, q)) {
			owed0 += bk_owed(r, q);
			sim_link(s, q, 1, false);
		}
	/* The acknowledgements of what they sent before the cut arrive (1 -> q is up) and free
	 * their backlogs; then they are filled, and nothing from them reaches the writer. */
	sim_run_until(s, sim_now(s) + 50 * MS, NULL, NULL);
	for (uint32_t q = 2; q <= n; q++)
		if (byzh_correct(h, q))
			sim_filler_fill(s, q, 1, 1);
	sim_run_until(s, sim_now(s) + 1 * MS, NULL, NULL);
	st = bk_op(r, 1, "v2", 200 * MS);
	for (uint32_t q = 2; q <= n; q++)
		if (byzh_correct(h, q))
			owed1 += bk_owed(r, q);
	if (st != 0) {
		rc = sim_fail(why, wl,
			      "%s: the writer's write with the others' answers refused by the "
			      "links: %s (%s)",
			      r->algo, st == 1 ? "no reply within 3 s" : strata_strerror(st),
			      faults);
		goto out;
	}
	uint32_t reader;
	do
		reader = 1 + (uint32_t)sim_random_below(s, n);
	while (!byzh_correct(h, reader));
	st = bk_op(r, reader, NULL, 0);
	if (st != 0)
		rc = sim_fail(why, wl, "%s: the read at node %u after the write: %s (%s)", r->algo,
			      reader, st == 1 ? "no reply within 3 s" : strata_strerror(st),
			      faults);
	else if (!r->bk_found || strcmp(r->bk_val, "v2"))
		rc = sim_fail(why, wl, "%s: the read at node %u after the write of v2 completed "
			      "returned %s%s%s (%s)", r->algo, reader, r->bk_found ? "\"" : "",
			      r->bk_found ? r->bk_val : "nothing", r->bk_found ? "\"" : "", faults);
	else if (owed1 == owed0 && variant == V_BACKLOG)
		rc = sim_vacuous(why, wl, "%s: no node's links refused an answer to the writer",
				 r->algo);
out:
	run_free(r, s);
	return rc;
}

static int run_byz_backlog(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_backlog(V_BACKLOG, seed, trace, why, wl);
}

static int run_byz_backlog_no_owed(uint64_t seed, bool trace, char *why, size_t wl)
{
	return run_backlog(V_BACKLOG_NO_OWED, seed, trace, why, wl);
}

#define CASE(name, algo, variant)                                                  \
	static int run_##name(uint64_t seed, bool trace, char *why, size_t wl)     \
	{                                                                          \
		return run_variant(algo, variant, seed, trace, why, wl);           \
	}
CASE(bmq, "bmq", V_NORMAL)
CASE(adbq, "adbq", V_NORMAL)
CASE(dwbq, "dwbq", V_NORMAL)
CASE(bql, "bql", V_NORMAL)
CASE(bmq_below, "bmq", V_BELOW_RESILIENCE)
CASE(adbq_noverify, "adbq", V_NO_VERIFY)
CASE(dwbq_atomic, "dwbq", V_JUDGED_ATOMIC)

static const struct sim_case cases[] = {
	{ "bmq", run_bmq, 500, false },
	{ "adbq", run_adbq, 500, false },
	{ "dwbq", run_dwbq, 500, false },
	{ "bql", run_bql, 500, false },
	{ "bmq-below-resilience", run_bmq_below, 500, true },
	{ "adbq-noverify-forge", run_adbq_noverify, 500, true },
	{ "dwbq-judged-atomic", run_dwbq_atomic, 500, true },
	{ "byz-backlog", run_byz_backlog, 40, false },
	{ "broken-byz-backlog-no-owed", run_byz_backlog_no_owed, 20, true },
};

int main(int argc, char **argv)
{
	return sim_main(argc, argv, "sim_reg_byz", cases, sizeof(cases) / sizeof(cases[0]));
}
