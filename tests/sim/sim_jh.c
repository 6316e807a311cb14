/* Simulation suite for the job handler family (seed 1.1.3-1.1.4, src/jh/): jh-sync, jh-async
 * and the layered module jt over jh-async.
 *
 * Every seed: N = 3 nodes, each a separate job handler (the module is local). For 1.5 s of
 * virtual time a driver submits jobs at random nodes (unique payloads, processing delays of
 * 0-20 ms) in bursts of up to 90 jobs, more than a handler holds (64), so full buffers and
 * refusals happen. Nodes crash at random moments (before, during and after confirmations: a
 * crash loses every unsynced write and every output not yet released) and restart later; half of
 * the seeds have slow syncs (1-8 ms), so a crash often hits a confirmation waiting for its
 * sync. Then every node is restarted and the run goes on for 5 s with no faults.
 *
 * What "eventually confirmed" means for a crashed node: a job counts as submitted for handling
 * at a correct process if its node did not crash between the submission and the answer; for
 * those, JH1 requires an answer (confirmation, or the EFULL refusal of a full handler). A job
 * whose node crashed before answering has an unknown outcome: no answer is required, but it may
 * be processed at most once.
 *
 * Checked as outputs happen: every processed job was submitted (no creation), no job is
 * processed twice, every refusal is EFULL, jh-sync (JH2) confirms a job only after announcing it
 * processed and with the right checksum (FNV-1a, computed here independently). At the end:
 * JH1 as above; jh-async and jt (JH3): every confirmed job was processed (its node crashed and
 * restarted in between or not); jt: every job jt confirmed was processed by jh-async in its
 * transformed form (upper case), which shows the request went down and the Confirm came up.
 *
 * Seeds: 500 per handler and 200 for jt by default (make test), 5,000 per case in make soak.
 *
 * Broken variants (expect_violation): jh-async that drops the oldest buffered job when full
 * (a confirmed job is never processed) and jh-async with the seed's volatile buffer (a crash
 * after Confirm loses the job). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"
#include "jh/jh.h"
#include "rt/sim/harness.h"
#include "rt/sim/sim.h"

#define MS 1000ull
#define NN 3
#define MAXJOBS 2048
#define LOAD_MS 1500ull
#define CALM_MS 5000ull

enum variant { V_OK, V_DROP_ON_FULL, V_VOLATILE };

struct job {
	uint32_t node;
	uint64_t req;
	char text[40];
	unsigned life;      /* the node's life (crash count) at submission */
	bool answered, confirmed, refused;
	unsigned processed; /* times announced processed */
	unsigned jt_processed; /* jt: times its upper-cased form was processed by jh-async */
};

struct run {
	const char *algo;
	enum variant v;
	struct strata_config cfg;
	struct sim *s;
	struct job *jobs;
	unsigned njobs;
	unsigned life[NN + 1];
	bool down[NN + 1];
	uint64_t reqid;
	unsigned confirmed, refused, processed, crashes, recovered;
	char why[256];
};

static uint64_t fnv(const uint8_t *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static struct job *find_text(struct run *r, const uint8_t *p, size_t len, bool upper)
{
	for (unsigned k = 0; k < r->njobs; k++) {
		struct job *j = &r->jobs[k];
		if (strlen(j->text) != len)
			continue;
		bool same = true;
		for (size_t i = 0; i < len && same; i++) {
			char c = j->text[i];
			if (upper && c >= 'a' && c <= 'z')
				c = (char)(c - 'a' + 'A');
			same = (uint8_t)c == p[i];
		}
		if (same)
			return j;
	}
	return NULL;
}

static void fail(struct run *r, const char *fmt, const char *a, uint32_t node)
{
	if (!r->why[0])
		snprintf(r->why, sizeof(r->why), fmt, a, node);
}

static void on_output(struct sim *s, uint32_t node, const struct strata_output *o, void *arg)
{
	struct run *r = arg;
	(void)s;
	if (o->kind == STRATA_OUT_REPLY) {
		struct job *j = NULL;
		for (unsigned k = 0; k < r->njobs && !j; k++)
			if (r->jobs[k].req == o->a)
				j = &r->jobs[k];
		if (!j || j->node != node) {
			fail(r, "reply to an unknown request (%s) at node %u", "?", node);
			return;
		}
		if (j->answered) {
			fail(r, "job %s answered twice at node %u", j->text, node);
			return;
		}
		j->answered = true;
		if (o->status == STRATA_EFULL) {
			j->refused = true;
			r->refused++;
			return;
		}
		if (o->status != 0) {
			fail(r, "job %s refused with an error other than EFULL at node %u", j->text,
			     node);
			return;
		}
		j->confirmed = true;
		r->confirmed++;
		struct strata_rd rd;
		strata_rd_init(&rd, o->data, o->len);
		(void)strata_rd_u64(&rd);
		uint64_t sum = strata_rd_u64(&rd);
		uint8_t processed = strata_rd_u8(&rd);
		if (strata_rd_done(&rd) != 0) {
			fail(r, "malformed confirmation of job %s at node %u", j->text, node);
			return;
		}
		if (strcmp(r->algo, "jh-sync") == 0) {
			/* JH2: processed before Confirm, with the job's checksum. */
			if (!processed || j->processed != 1)
				fail(r, "jh-sync confirmed job %s before processing it (node %u)",
				     j->text, node);
			else if (sum != fnv((const uint8_t *)j->text, strlen(j->text)))
				fail(r, "jh-sync confirmed job %s with a wrong checksum (node %u)",
				     j->text, node);
		} else if (processed) {
			fail(r, "%s: asynchronous confirmation claims processing (node %u)", j->text,
			     node);
		}
		return;
	}
	if (o->kind != STRATA_OUT_DELIVER || !o->text || strncmp(o->text, "processed", 9) != 0)
		return;
	bool via_jt = strcmp(r->algo, "jt") == 0;
	if (!o->module_name || strcmp(o->module_name, via_jt ? "jh-async" : r->algo) != 0) {
		fail(r, "processed event from module %s at node %u", o->module_name ? o->module_name : "?",
		     node);
		return;
	}
	struct job *j = find_text(r, o->data, o->len, via_jt);
	if (!j || j->node != node) {
		fail(r, "node %u processed a job nobody submitted there%s", "", node);
		return;
	}
	unsigned *count = via_jt ? &j->jt_processed : &j->processed;
	if (r->life[node] != j->life)
		r->recovered++; /* processed by a later life of its node */
	if (++*count > 1) {
		fail(r, "job %s processed twice (node %u)", j->text, node);
		return;
	}
	char want[40];
	snprintf(want, sizeof(want), "processed checksum=%016llx",
		 (unsigned long long)fnv(o->data, o->len));
	if (strcmp(o->text, want) != 0)
		fail(r, "job %s processed with a wrong checksum (node %u)", j->text, node);
	r->processed++;
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
	char err[256];
	const struct strata_algo *a = strata_algo_find(r->algo);
	struct strata_module *m = a ? strata_algo_create(a, n, err, sizeof(err)) : NULL;
	if (!m) {
		fprintf(stderr, "build: %s\n", a ? err : "unknown algorithm");
		abort();
	}
	if (r->v != V_OK)
		jh_async_test_break(m, r->v == V_DROP_ON_FULL, r->v == V_VOLATILE);
}

static void submit(struct run *r, uint32_t q)
{
	if (r->njobs == MAXJOBS)
		return;
	struct job *j = &r->jobs[r->njobs++];
	j->node = q;
	j->req = ++r->reqid;
	j->life = r->life[q];
	snprintf(j->text, sizeof(j->text), "job-%u-%u-%llu", q, r->njobs,
		 (unsigned long long)sim_seed(r->s));
	char delay[8];
	int dl = snprintf(delay, sizeof(delay), "%u", (unsigned)sim_random_below(r->s, 21));
	struct strata_request req = { .id = j->req, .op = STRATA_OP_WRITE,
				      .key = (const uint8_t *)delay, .key_len = (size_t)dl,
				      .value = (const uint8_t *)j->text, .value_len = strlen(j->text) };
	sim_request(r->s, q, r->algo, &req);
}

static int run_variant(const char *algo, enum variant v, uint64_t seed, bool trace, char *why,
		       size_t whylen)
{
	struct run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	r->jobs = calloc(MAXJOBS, sizeof(*r->jobs));
	STRATA_ASSERT(r->jobs);
	r->algo = algo;
	r->v = v;
	strata_config_defaults(&r->cfg);
	snprintf(r->cfg.cluster_id, sizeof(r->cfg.cluster_id), "sim-jh");
	r->cfg.n = NN;
	r->cfg.f = 1;
	r->cfg.model = STRATA_MODEL_FAIL_STOP;
	sim_config_loopback(&r->cfg, NN, 7700);
	struct sim_opts so = { .seed = seed, .cfg = &r->cfg, .build = build, .output = on_output,
			       .arg = r, .trace = trace };
	if (seed % 2)
		so.disk = (struct sim_disk){ .sync_min_us = 1 * MS, .sync_max_us = 8 * MS };
	r->s = sim_new(&so);
	struct sim *s = r->s;
	sim_start(s);
	int rc = 0;
	for (uint64_t t = 0; t < LOAD_MS && !rc; t += 10) {
		uint32_t q = 1 + (uint32_t)sim_random_below(s, NN);
		double u = sim_random_unit(s);
		if (!r->down[q] && u < 0.03) {
			unsigned burst = 20 + (unsigned)sim_random_below(s, 71);
			for (unsigned b = 0; b < burst; b++)
				submit(r, q);
		} else if (!r->down[q] && u < 0.5) {
			submit(r, q);
		}
		uint32_t c = 1 + (uint32_t)sim_random_below(s, NN);
		double w = sim_random_unit(s);
		if (!r->down[c] && w < 0.03) {
			sim_crash(s, c);
			r->down[c] = true;
			r->life[c]++;
			r->crashes++;
		} else if (r->down[c] && w < 0.2) {
			sim_restart(s, c);
			r->down[c] = false;
		}
		rc = sim_run_for(s, 10 * MS, step_check, r);
	}
	for (uint32_t q = 1; q <= NN && !rc; q++)
		if (r->down[q]) {
			sim_restart(s, q);
			r->down[q] = false;
		}
	if (!rc)
		rc = sim_run_for(s, CALM_MS * MS, step_check, r);
	if (rc) {
		rc = sim_fail(why, whylen, "t=%llums: %s", (unsigned long long)(sim_now(s) / MS),
			      r->why);
	} else {
		for (unsigned k = 0; k < r->njobs && !rc; k++) {
			struct job *j = &r->jobs[k];
			bool correct = r->life[j->node] == j->life; /* no crash since submission */
			unsigned done = strcmp(algo, "jt") == 0 ? j->jt_processed : j->processed;
			if (!j->answered && correct && !j->refused)
				rc = sim_fail(why, whylen, "JH1: job %s at node %u (which did not crash) "
					      "never confirmed", j->text, j->node);
			else if (j->confirmed && done != 1)
				rc = sim_fail(why, whylen, "%s: job %s confirmed at node %u but processed "
					      "%u times", strcmp(algo, "jh-sync") ? "JH3" : "JH2",
					      j->text, j->node, done);
		}
		if (!rc && trace)
			fprintf(stderr, "jobs %u confirmed %u refused %u processed %u (%u after a "
				"restart of their node) crashes %u\n", r->njobs, r->confirmed, r->refused,
				r->processed, r->recovered, r->crashes);
	}
	sim_free(s);
	free(r->jobs);
	free(r);
	return rc;
}

static int jh_sync_case(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return run_variant("jh-sync", V_OK, seed, trace, why, whylen);
}

static int jh_async_case(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return run_variant("jh-async", V_OK, seed, trace, why, whylen);
}

static int jt_case(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return run_variant("jt", V_OK, seed, trace, why, whylen);
}

static int broken_drop(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return run_variant("jh-async", V_DROP_ON_FULL, seed, trace, why, whylen);
}

static int broken_volatile(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return run_variant("jh-async", V_VOLATILE, seed, trace, why, whylen);
}

static const struct sim_case cases[] = {
	{ "jh-sync-crashes", jh_sync_case, 500, false },
	{ "jh-async-crashes", jh_async_case, 500, false },
	{ "jt-over-jh-async-crashes", jt_case, 200, false },
	{ "broken-jh-async-drops-on-full", broken_drop, 50, true },
	{ "broken-jh-async-volatile-buffer", broken_volatile, 50, true },
};

int main(int argc, char **argv)
{
	return sim_main(argc, argv, "sim_jh", cases, sizeof(cases) / sizeof(cases[0]));
}
