/* Simulation suite for view-synchronous communication, fail-stop, N = 3, 4 or 5: consensus-based
 * uniform view synchrony (Alg. 6.10-6.11, src/cons/uvs.c, over beb, uhier and P; cases uvs-*)
 * and TRB-based view synchrony (Alg. 6.8-6.9, src/cons/vs.c, over gm, beb, uhier and P; vs-*).
 *
 * P is the oracle test module told of every crash by the driver (as in sim_variants). Faults
 * the model allows: loss 5-25 %, duplication, delays with a 3 % tail of up to 300 ms
 * (reordering), partitions that heal, and up to N - 1 crashes at random times (sometimes two at
 * once, told to each survivor in an order of its own). Nodes broadcast messages at random times
 * (up to 8 each). Then the network heals and every correct node must have installed the view of
 * the correct nodes within 3 s of virtual time.
 *
 * Checked as outputs happen:
 *   VS1 view inclusion: a message m from s delivered in view V was broadcast by s in V (the
 *       view s was in when it broadcast: the BCAST output names it), and the delivering node's
 *       installed view is V (same-view delivery follows: every node delivers m in the view it
 *       was broadcast in);
 *   no duplication, no creation;
 *   VS2 monotonicity (each node's views: id + 1 and a strict subset), VS3 uniform agreement
 *       (one member set per view id, crashed nodes' views included), VS5 accuracy (a view
 *       leaves out crashed nodes only).
 * At the end: VS4 completeness (every correct node's last view is the set of correct nodes),
 * agreement of deliveries (uvs, uniform: a message any node delivered in V, crashed ones
 * included, is delivered by every correct node, in V; vs: one a correct node delivered), and
 * validity (every message a correct node broadcast is delivered by every correct node). Every
 * run must deliver something.
 *
 * Broken variants (expect_violation): uvs, and vs, that deliver a DATA of an earlier view in
 * their current one (var_uvs_test_late, var_vs_test_late): view inclusion must catch them. And
 * vs-is-not-uniform: the correct vs checked for uvs's uniform agreement, which it does not
 * promise (a sender delivers its own message at once and may crash before anyone else has it):
 * the uniform agreement check must catch it. And broken-uvs-delivers-before-all-relays: uvs
 * itself with that flaw injected (var_uvs_test_early: a sender delivers its own message before
 * every member relayed it), caught by the uniform agreement check. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cons/cons.h"
#include "cons/variants.h"
#include "core/assert.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/stack.h"
#include "lib/build.h"
#include "lib/faults.h"
#include "lib/oracle.h"
#include "lib/view_check.h"
#include "rt/sim/harness.h"
#include "rt/sim/sim.h"

#define MS 1000ull
#define MAXN 5
#define MAXK 8 /* broadcasts per node */
#define MAXREQ 512
#define LIVENESS_MS 3000ull
#define BROKEN_LATE 1
#define BROKEN_EARLY 2

static struct {
	unsigned long long delivered, views, flushed;
} totals;

struct sent {
	bool bcast;
	uint64_t view; /* the view its sender broadcast it in */
	bool got[MAXN + 1];
	uint64_t got_view[MAXN + 1];
	bool any;      /* some node delivered it (uvs: crashed ones count) */
	uint64_t any_view;
};

struct run {
	const char *algo; /* "uvs" or "vs" */
	uint16_t wire;
	bool uniform;     /* uvs: a message delivered by a crashed node counts too */
	bool check_uniform; /* check uniform agreement (uvs; and vs in the non-vacuity case) */
	int broken; /* 0, BROKEN_LATE or BROKEN_EARLY */
	struct strata_config cfg;
	struct sim *s;
	uint32_t n;
	bool down[MAXN + 1];
	unsigned ncrash, max_crash;
	unsigned nsend[MAXN + 1];
	struct sent m[MAXN + 1][MAXK + 1]; /* [sender][k] */
	struct vck vc; /* the installed views */
	unsigned ndeliver;
	uint64_t reqid;
	bool is_send[MAXREQ + 1];
	char why[256];
};

static void failf(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void failf(struct run *r, const char *fmt, ...)
{
	if (r->why[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
}

/* "m<s>.<k>" -> s, k; false if not one of ours */
static bool parse_msg(const struct run *r, const uint8_t *d, size_t len, uint32_t *s, uint32_t *k)
{
	char buf[32];
	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, d, len);
	buf[len] = 0;
	unsigned a, b;
	char tail;
	if (sscanf(buf, "m%u.%u%c", &a, &b, &tail) != 2 || a < 1 || a > r->n || b < 1 || b > MAXK)
		return false;
	*s = a;
	*k = b;
	return true;
}

static void on_output(struct sim *s, uint32_t node, const struct strata_output *o, void *arg)
{
	struct run *r = arg;
	(void)s;
	if (o->kind == STRATA_OUT_REPLY) {
		if (o->status != 0 && o->a >= 1 && o->a <= r->reqid && r->is_send[o->a])
			failf(r, "node %u refused a vs send: %s", node, strata_strerror(o->status));
		return;
	}
	if (o->module != r->wire)
		return;
	if (o->kind == STRATA_OUT_DELIVER && o->text && !strcmp(o->text, "view")) {
		vck_on_view(&r->vc, node, o->a, o->b, r->down, r->why, sizeof(r->why));
		return;
	}
	uint32_t sd, k;
	if (!parse_msg(r, o->data, o->len, &sd, &k)) {
		failf(r, "no creation: node %u output a message no node broadcast: %.*s", node,
		      (int)o->len, (const char *)o->data);
		return;
	}
	struct sent *m = &r->m[sd][k];
	if (o->kind == STRATA_OUT_BCAST) {
		if (sd != node || m->bcast)
			failf(r, "node %u broadcast m%u.%u, not its own or twice", node, sd, k);
		if (!r->vc.has_view[node] || o->a != r->vc.view_id[node])
			failf(r, "node %u broadcast m%u.%u in view %llu, and its view is %llu", node, sd,
			      k, (unsigned long long)o->a, (unsigned long long)r->vc.view_id[node]);
		m->bcast = true;
		m->view = o->a;
		return;
	}
	if (o->kind != STRATA_OUT_DELIVER)
		return;
	if (o->peer != sd || !m->bcast) {
		failf(r, "no creation: node %u delivered m%u.%u from %u, never broadcast by %u", node,
		      sd, k, o->peer, sd);
		return;
	}
	if (o->a != m->view) {
		failf(r, "view inclusion: node %u delivered m%u.%u in view %llu; %u broadcast it in "
			 "view %llu", node, sd, k, (unsigned long long)o->a, sd,
		      (unsigned long long)m->view);
		return;
	}
	if (m->got[node]) {
		failf(r, "no duplication: node %u delivered m%u.%u twice (views %llu and %llu)", node,
		      sd, k, (unsigned long long)m->got_view[node], (unsigned long long)o->a);
		return;
	}
	if (!r->vc.has_view[node] || r->vc.view_id[node] != o->a) {
		failf(r, "view inclusion: node %u delivered m%u.%u tagged view %llu while its view "
			 "is %llu", node, sd, k, (unsigned long long)o->a,
		      (unsigned long long)r->vc.view_id[node]);
		return;
	}
	m->got[node] = true;
	m->got_view[node] = o->a;
	if (!m->any) {
		m->any = true;
		m->any_view = o->a;
	}
	r->ndeliver++;
}

static int step_check(struct sim *s, void *arg)
{
	struct run *r = arg;
	(void)s;
	return r->why[0] ? 1 : 0;
}

static void build(struct sim *s, struct strata_node *n, void *arg)
{
	struct run *r = arg;
	(void)s;
	sim_oracle_add(n);
	struct strata_module *m = simb_algo(n, r->algo);
	if (r->broken == BROKEN_EARLY)
		var_uvs_test_early(m);
	else if (r->broken && r->uniform)
		var_uvs_test_late(m);
	else if (r->broken)
		var_vs_test_late(m);
}

static uint64_t new_req(struct run *r)
{
	STRATA_ASSERT(r->reqid < MAXREQ);
	return ++r->reqid;
}

static uint64_t oracle_req(void *arg, uint32_t q)
{
	(void)q;
	return new_req(arg);
}

/* Crashes a, and b too unless it is 0 (simf_crash: P tells every live node). */
static void crash_some(struct run *r, uint32_t a, uint32_t b)
{
	const uint32_t ids[2] = {a, b};
	simf_crash(r->s, r->n, r->down, ids, b ? 2 : 1, oracle_req, r);
	r->ncrash += b ? 2 : 1;
}

static void vs_send(struct run *r, uint32_t q)
{
	if (r->down[q] || r->nsend[q] >= MAXK)
		return;
	char m[32];
	int len = snprintf(m, sizeof(m), "m%u.%u", q, ++r->nsend[q]);
	uint64_t id = new_req(r);
	r->is_send[id] = true;
	struct strata_request req = { .id = id, .op = STRATA_OP_BROADCAST,
				      .value = (const uint8_t *)m, .value_len = (size_t)len };
	sim_request(r->s, q, r->algo, &req);
}

static int vs_run(bool uniform, bool check_uniform, int broken, uint64_t seed, bool trace,
		  char *why, size_t whylen)
{
	struct run *r = calloc(1, sizeof(*r));
	STRATA_ASSERT(r);
	r->broken = broken;
	r->uniform = uniform;
	r->check_uniform = check_uniform;
	r->algo = uniform ? "uvs" : "vs";
	r->wire = strata_wire_id(uniform ? "uvs" : "vs");
	strata_config_defaults(&r->cfg);
	snprintf(r->cfg.cluster_id, sizeof(r->cfg.cluster_id), "sim-vs");
	r->n = r->cfg.n = seed % 5 == 3 ? 3 : seed % 5 == 4 ? 4 : 5;
	vck_init(&r->vc, r->n, true);
	r->cfg.f = r->n - 1;
	r->cfg.model = STRATA_MODEL_FAIL_STOP;
	r->cfg.heartbeat_ms = 20;
	r->cfg.timeout_ms = 100;
	r->cfg.retransmit_min_ms = 10;
	r->cfg.retransmit_max_ms = 100;
	sim_config_loopback(&r->cfg, r->n, 7900);
	struct sim_opts so = { .seed = seed, .cfg = &r->cfg, .build = build, .output = on_output,
			       .arg = r, .trace = trace };
	struct sim *s = r->s = sim_new(&so);
	struct sim_net net = {
		.drop = 0.05 + sim_random_unit(s) * 0.2, .dup = sim_random_unit(s) * 0.1,
		.delay_min_us = 200, .delay_max_us = 200 + sim_random_below(s, 5 * MS),
		.tail = 0.03, .tail_us = 300 * MS,
	};
	sim_set_net(s, &net);
	r->max_crash = 1 + (unsigned)sim_random_below(s, r->n - 1); /* 1 .. N-1 */
	sim_start(s);
	sim_run_for(s, 1 * MS, NULL, NULL);
	bool parted = false;
	int rc = 0;
	for (int chunk = 0; chunk < 30 && !rc; chunk++) {
		for (int k = 0; k < 2; k++)
			if (sim_random_unit(s) < 0.5) {
				uint32_t q = simf_pick_up(r->s, r->n, r->down);
				if (q)
					vs_send(r, q);
			}
		simf_partition_step(s, r->n, &parted, 0.05, false);
		if (r->ncrash < r->max_crash && sim_random_unit(s) < 0.05) {
			uint32_t a = simf_pick_up(r->s, r->n, r->down), b = 0;
			if (r->ncrash + 2 <= r->max_crash && sim_random_below(s, 3) == 0) {
				b = simf_pick_up(r->s, r->n, r->down);
				if (b == a)
					b = 0;
			}
			if (a)
				crash_some(r, a, b);
		}
		rc = sim_run_for(s, 10 * MS, step_check, r);
	}
	if (!rc && r->ncrash == 0)
		crash_some(r, simf_pick_up(r->s, r->n, r->down), 0);
	/* A few more sends around the last view change. */
	for (int k = 0; k < 2 && !rc; k++) {
		uint32_t q = simf_pick_up(r->s, r->n, r->down);
		if (q)
			vs_send(r, q);
	}
	if (!rc) {
		sim_heal(s);
		struct sim_net calm = { .drop = 0.02, .delay_min_us = 200, .delay_max_us = 3 * MS };
		sim_set_net(s, &calm);
		rc = sim_run_for(s, LIVENESS_MS * MS, step_check, r);
	}
	if (rc || r->why[0]) {
		rc = sim_fail(why, whylen, "t=%llums: %s", (unsigned long long)(sim_now(s) / MS),
			      r->why[0] ? r->why : "a step check failed");
		goto out;
	}
	rc = vck_complete(&r->vc, r->down, LIVENESS_MS, why, whylen);
	for (uint32_t sd = 1; sd <= r->n && !rc; sd++)
		for (uint32_t k = 1; k <= MAXK && !rc; k++) {
			const struct sent *m = &r->m[sd][k];
			/* uvs: uniform agreement; vs: agreement among the correct nodes. */
			bool by_correct = false;
			for (uint32_t q = 1; q <= r->n; q++)
				by_correct |= !r->down[q] && m->got[q];
			bool agreed = r->check_uniform ? m->any : by_correct;
			bool need = agreed || (m->bcast && !r->down[sd]);
			for (uint32_t q = 1; q <= r->n && !rc && need; q++) {
				if (r->down[q])
					continue;
				if (!m->got[q])
					rc = sim_fail(why, whylen, "%s: correct node %u did not deliver "
						      "m%u.%u (broadcast in view %llu%s)",
						      !agreed ? "validity" : r->check_uniform ? "uniform agreement"
										       : "agreement",
						      q, sd, k, (unsigned long long)m->view,
						      agreed ? ", delivered by another node" : "");
			}
		}
	if (!rc && r->ndeliver == 0)
		rc = sim_fail(why, whylen, "no delivery at all");
	if (!rc) {
		totals.delivered += r->ndeliver;
		totals.views += r->vc.nviews;
	}
out:
	sim_free(s);
	free(r);
	return rc;
}

static int uvs_random(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return vs_run(true, true, false, seed, trace, why, whylen);
}

static int broken_uvs_late(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return vs_run(true, true, BROKEN_LATE, seed, trace, why, whylen);
}

/* uvs whose sender delivers its own message at once: uniform agreement must catch it. */
static int broken_uvs_early(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return vs_run(true, true, BROKEN_EARLY, seed, trace, why, whylen);
}

static int vs_random(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return vs_run(false, false, false, seed, trace, why, whylen);
}

/* Non-vacuity of the uniform agreement check: vs is not uniform (a sender delivers its own
 * message at once, and may crash before anyone else has it). */
static int vs_not_uniform(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return vs_run(false, true, false, seed, trace, why, whylen);
}

static int broken_vs_late(uint64_t seed, bool trace, char *why, size_t whylen)
{
	return vs_run(false, false, BROKEN_LATE, seed, trace, why, whylen);
}

static const struct sim_case cases[] = {
	{ "uvs-random", uvs_random, 300, false },
	{ "broken-uvs-delivers-in-a-later-view", broken_uvs_late, 200, true },
	{ "vs-random", vs_random, 300, false },
	{ "broken-vs-delivers-in-a-later-view", broken_vs_late, 200, true },
	{ "vs-is-not-uniform", vs_not_uniform, 200, true },
	{ "broken-uvs-delivers-before-all-relays", broken_uvs_early, 200, true },
};

int main(int argc, char **argv)
{
	int rc = sim_main(argc, argv, "sim_variants_vs", cases, sizeof(cases) / sizeof(cases[0]));
	printf("sim_variants_vs: in passing seeds, uvs and vs delivered %llu messages and installed "
	       "%llu distinct views after view 0\n", totals.delivered, totals.views);
	return rc;
}
